"""kinetics generate: run the engine on token ids (a smoke test of a model directory, or of random weights)."""
from __future__ import annotations

import argparse
import json

from kinetics.cli.engine_options import add_attention_args, add_device_args, attention_config, engine_limits
from kinetics.errors import InputError


def register(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", help="model directory: config.json + *.safetensors")
    source.add_argument("--model", help="config.json or preset name (random weights)")
    parser.add_argument("--prompt-ids", required=True, help="comma-separated prompt token ids, e.g. 11,22,33")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--ignore-eos", action="store_true", help="do not stop on the model's EOS tokens")
    add_attention_args(parser)
    add_device_args(parser)
    parser.set_defaults(func=run)


def parse_ids(text: str) -> list[int]:
    try:
        ids = [int(t) for t in text.replace(" ", "").split(",") if t != ""]
    except ValueError:
        raise InputError(f"--prompt-ids must be comma-separated integers, got {text!r}") from None
    if not ids:
        raise InputError("--prompt-ids is empty")
    if min(ids) < 0:
        raise InputError(f"--prompt-ids must be token ids >= 0, got {min(ids)}")
    return ids


def run(args) -> int:
    from kinetics.engine import LLM, SamplingParams

    prompt = parse_ids(args.prompt_ids)
    params = SamplingParams(temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
                            max_tokens=args.max_new_tokens, seed=args.seed,
                            stop_token_ids=() if args.ignore_eos else None)
    llm = LLM(args.weights or args.model, weights=args.weights, device=args.device, dtype=args.dtype,
              attention=attention_config(args), seed=args.seed,
              **engine_limits(args, len(prompt) + args.max_new_tokens, 1))
    out = llm.generate([prompt], params)[0]
    if out.error:
        raise InputError(out.error)
    if args.json:
        print(json.dumps({"prompt_ids": prompt, "token_ids": out.token_ids, "finish_reason": out.finish_reason,
                          "stats": llm.last_stats.as_dict()}))
    else:
        print(",".join(map(str, out.token_ids)))
        print(f"# {len(out.token_ids)} tokens, finish: {out.finish_reason}, "
              f"{llm.last_stats.tokens_per_s:.1f} tok/s on {llm.device}")
    return 0
