"""One rank of a tensor-parallel test run (tests/test_engine_tp.py starts N of these, as torchrun would).

argv: a JSON file with {"tp": N, "cases": [{"name", "weights", "attention", "limits", "prompts", "max_tokens"}]} and the output path; rank 0 saves {name: (token ids, logits, preemptions)} there with torch.save.
"""
import json
import sys

import torch

from kinetics.engine import LLM, AttentionConfig, SamplingParams
from kinetics.engine.parallel import rank


def main(spec_path: str, out_path: str) -> None:
    torch.set_num_threads(1)
    spec = json.loads(open(spec_path).read())
    results = {}
    for case in spec["cases"]:
        llm = LLM(case["weights"], weights=case["weights"], attention=AttentionConfig(**case["attention"]),
                  tensor_parallel=spec["tp"], **case["limits"])
        params = SamplingParams(temperature=0, max_tokens=case["max_tokens"], stop_token_ids=(),
                                return_logits=True)
        outputs = llm.generate(case["prompts"], params)
        results[case["name"]] = ([o.token_ids for o in outputs], [torch.stack(o.logits) for o in outputs],
                                 llm.last_stats.preemptions)
    if rank() == 0:
        torch.save(results, out_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
