"""The engine's host time per decode step on the CPU: a tiny model (2 layers, width 64), so a step is almost all
Python (scheduling, input arrays, sampling, stop checks) and torch dispatch, at batch 256.

    python benchmarks/engine_host_cpu.py [--rounds 3] [--out FILE.json] [--force]

Mean decode step = (wall of 64 forced tokens - wall of 1) / 63, median of 7 repeats; for the synchronous loop and,
where the engine has it, async scheduling (on a CPU nothing overlaps: it measures the bookkeeping's cost); the
modes take turns, once per round (a shared CPU drifts). Run it with PYTHONPATH at an older tree to compare.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys

import numpy as np
import torch

from kinetics.bench.provenance import provenance
from kinetics.engine import LLM, SamplingParams
from kinetics.engine.config import EngineConfig
from kinetics.errors import InputError
from kinetics.output import atomic_write, check_output

TINY = {"architectures": ["Qwen3ForCausalLM"], "vocab_size": 128, "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
        "max_position_embeddings": 512, "initializer_range": 0.1, "eos_token_id": 0}
BATCH, PROMPT, NEW, REPEATS = 256, 16, 64, 7


def step_ms(llm: LLM, prompts) -> float:
    walls = {}
    for new in (NEW, 1):
        runs = []
        for _ in range(REPEATS):
            llm.generate(prompts, SamplingParams(temperature=0, forced_length=new))
            runs.append(llm.last_stats.wall_s)
        walls[new] = statistics.median(runs)
    return 1e3 * (walls[NEW] - walls[1]) / (NEW - 1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=None)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:       # the output is checked before any work
        out = args.out and check_output(args.out, "--out", args.force, (".json",), create_parent=True)
    except InputError as error:
        print(f"kinetics: error: {error}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    prompts = np.random.default_rng(0).integers(1, 128, size=(BATCH, PROMPT)).tolist()
    modes = [False, True] if "async_scheduling" in EngineConfig.__dataclass_fields__ else [None]
    llms = {mode: LLM(TINY, max_num_seqs=BATCH, **({} if mode is None else {"async_scheduling": mode}))
            for mode in modes}
    for llm in llms.values():
        llm.generate(prompts, SamplingParams(temperature=0, forced_length=4))    # warm-up
    rows = []
    for round_ in range(args.rounds):
        for mode, llm in llms.items():
            rows.append({"round": round_, "async_scheduling": mode, "decode_step_ms": step_ms(llm, prompts)})
            print(f"round {round_} async_scheduling {mode}: {rows[-1]['decode_step_ms']:.3f} ms per decode step "
                  f"at batch {BATCH}")
    result = {"provenance": provenance("python benchmarks/engine_host_cpu.py " + " ".join(sys.argv[1:])),
              "batch": BATCH, "prompt_tokens": PROMPT, "new_tokens": NEW, "repeats": REPEATS, "threads": 1,
              "rows": rows}
    if out:
        atomic_write(out, json.dumps(result, indent=1))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
