"""kinetics cost: FLOPs, bytes, eFLOPs and seconds of N trials of one problem."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from kinetics.cli.hardware import add_hardware_arguments, hardware_from_args
from kinetics.cost import CONVENTIONS, DTYPE_BYTES, KINDS, OVERLAPS, TERM_HELP, TERMS, Attention, generation_cost
from kinetics.errors import InputError
from kinetics.models import get_model


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="preset (qwen3-8b, Qwen/Qwen3-8B) or a config.json / model dir")
    add_hardware_arguments(parser)
    parser.add_argument("--prompt-tokens", type=int, required=True)
    parser.add_argument("--gen-tokens", required=True, help="one length, or a comma-separated list (one per trial)")
    parser.add_argument("--trials", type=int, help="number of trials (with one --gen-tokens length; default 1)")
    parser.add_argument("--attention", choices=KINDS, default="dense")
    parser.add_argument("--budget", type=int, help="tokens selected per step (top-k, block top-k)")
    parser.add_argument("--block-size", type=int, default=16, help="block top-k block size (default 16)")
    parser.add_argument("--local-window", type=int, default=0)
    parser.add_argument("--sink-tokens", type=int, default=0)
    parser.add_argument("--dense-layers", type=int, default=0, help="layers kept dense in sparse runs")
    parser.add_argument("--priced-search", action="store_true", help="top-k: charge the q.K the selection needs")
    parser.add_argument("--convention", choices=CONVENTIONS, default="exact")
    parser.add_argument("--batch-size", type=float, help="batch sharing weight reads (default: largest that fits)")
    parser.add_argument("--kv-bytes", type=float, default=2, help="bytes per K/V element (default 2, bf16)")
    parser.add_argument("--compute-dtype", choices=sorted(DTYPE_BYTES),
                        help="dtype of peak FLOP/s and weights (default bf16; paper: fp8)")
    parser.add_argument("--overlap", choices=OVERLAPS, default="additive")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _parse_lengths(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise InputError(f"--gen-tokens must be an integer or a comma-separated list of integers, got {text!r}") \
            from None


def run(args) -> int:
    hardware = hardware_from_args(args)
    if args.attention == "dense":
        attention = Attention.dense()
    elif args.budget is None:
        raise InputError(f"--attention {args.attention} needs --budget")
    elif args.attention == "topk":
        attention = Attention.topk(args.budget, args.local_window, args.sink_tokens, args.dense_layers,
                                   args.priced_search)
    else:
        attention = Attention.blocktopk(args.budget, args.block_size, args.local_window, args.sink_tokens,
                                        args.dense_layers)
    gens = _parse_lengths(args.gen_tokens)
    model = get_model(args.model)
    cost = generation_cost(model, hardware, args.prompt_tokens, gens if len(gens) > 1 else gens[0], attention,
                           args.convention, args.batch_size, args.kv_bytes, args.compute_dtype, args.overlap,
                           trials=args.trials)
    record = {"model": model.name, "hardware": hardware.name, "attention": asdict(attention),
              "prompt_tokens": args.prompt_tokens, "gen_tokens": gens, **cost.to_dict(),
              "tera_eflops": cost.eflops / 1e12}
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    print(f"{model.name} on {hardware.name}, {attention.describe()}, {args.convention} convention, prompt "
          f"{args.prompt_tokens} tokens, {len(gens) if len(gens) > 1 else (args.trials or 1)} trial(s)")
    for key in TERMS:
        if cost.breakdown[key]:
            unit = "FLOP" if key.startswith("flops") else "B"
            print(f"  {key:<16} {cost.breakdown[key]:12.4e} {unit:<4}  {TERM_HELP[key]}")
    print(f"  {'FLOPs':<16} {cost.flops:12.4e}")
    print(f"  {'bytes':<16} {cost.memory_bytes:12.4e}   x intensity {cost.intensity:.1f} FLOP/B"
          + (f", batch {cost.batch_size:.0f}" if cost.batch_size else ""))
    print(f"  {'eFLOPs':<16} {cost.eflops:12.4e}   = {cost.eflops / 1e12:,.1f} tera-eFLOPs")
    print(f"  {'seconds':<16} {cost.seconds:12.4e}   ({args.overlap}: compute {cost.compute_seconds:.3e} s, "
          f"memory {cost.memory_seconds:.3e} s)")
    return 0
