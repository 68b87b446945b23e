"""kinetics replay: replay the recorded lengths of reasoning traces through the engine and time them."""
from __future__ import annotations

import argparse
import json
import logging

from kinetics.engine.cli_common import add_attention_args, add_device_args, attention_config, engine_limits

log = logging.getLogger(__name__)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="qwen3-8b", help="preset name or config.json (default qwen3-8b)")
    parser.add_argument("--weights", default=None, help="model directory with *.safetensors (default: random)")
    parser.add_argument("--traces", default=None,
                        help="traces directory (default $KINETICS_TRACES, then data/traces/) or a workload .json")
    parser.add_argument("--trace-model", default=None,
                        help="whose traces to replay (default: --model when it names a preset)")
    parser.add_argument("--task", default="aime24")
    parser.add_argument("--trials", type=int, default=8, help="samples replayed per problem (default 8)")
    parser.add_argument("--max-problems", type=int, default=None)
    parser.add_argument("--lengths-from", default="dense",
                        help="trace table whose lengths to replay: dense (default) or blocktopk-BUDGET-BLOCK")
    parser.add_argument("--length-scale", type=float, default=1.0,
                        help="multiply every recorded length by this (default 1: the real lengths)")
    parser.add_argument("--max-gen-tokens", type=int, default=None, help="cap every generation length")
    parser.add_argument("--save-workload", default=None, help="write the workload as JSON (replay it elsewhere)")
    parser.add_argument("--hardware", default=None,
                        help="hardware preset for the predicted time (default: guessed from the GPU; none on CPU)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="measured peak instead of a preset")
    parser.add_argument("--hbm-tbps", type=float, default=None, help="measured bandwidth instead of a preset")
    parser.add_argument("--no-progress", action="store_true")
    add_attention_args(parser)
    add_device_args(parser, data_parallel=True)
    parser.set_defaults(func=run)


def guess_hardware(device_name: str | None):
    from kinetics.hardware import get_hardware

    name = (device_name or "").lower()
    for key in ("h200", "h100", "b200", "a100"):
        if key in name:
            return get_hardware(key)
    return None


def run(args) -> int:
    from kinetics.engine import LLM
    from dataclasses import replace

    from kinetics.engine import parallel
    from kinetics.engine.model_runner import parse_device
    from kinetics.engine.replay import load_workload, merge_data_parallel, replay
    from kinetics.hardware import resolve_hardware

    from pathlib import Path

    from kinetics.errors import InputError

    trace_model = args.trace_model or args.model
    if trace_model.endswith(".json") or Path(trace_model).is_dir():
        raise InputError(f"--model {args.model!r} is a config, not a preset: say whose traces with --trace-model")
    workload = load_workload(args.traces, trace_model, args.task, args.trials, args.max_problems,
                             args.lengths_from, args.length_scale, args.max_gen_tokens)
    if args.save_workload and not parallel.is_helper_rank():
        with open(args.save_workload, "w") as f:
            f.write(workload.to_json())
    if args.dp > len(workload.problems):
        raise InputError(f"--dp {args.dp} is more engines than the {len(workload.problems)} problems to replay")
    limits = engine_limits(args, max(p.prompt_tokens + max(p.gen_tokens) for p in workload.problems),
                           workload.trials * len(workload.problems))
    rank, device = parallel.init_data_parallel(args.dp, parse_device(args.device))
    whole, workload = workload, replace(workload, problems=workload.problems[rank::args.dp])
    llm = LLM(args.weights or args.model, weights=args.weights, device=device, dtype=args.dtype,
              attention=attention_config(args), seed=args.seed, **limits)
    if args.peak_tflops is not None or args.hbm_tbps is not None or args.hardware:
        hardware = resolve_hardware(args.hardware, args.peak_tflops, args.hbm_tbps)
    elif llm.device.type == "cuda":
        import torch

        hardware = guess_hardware(torch.cuda.get_device_name(llm.device))
    else:
        hardware = None
    result = replay(llm, workload, progress=not args.no_progress and not args.json,
                    hardware=hardware if args.dp == 1 else None)
    results = parallel.gather_objects(result)
    if rank > 0:                 # rank 0 reports
        return 0
    result, workload = merge_data_parallel(results), whole
    if args.json:
        print(json.dumps(result.as_dict()))
        return 0
    s = result.stats
    print(f"replayed {result.problems} problems x {workload.trials} trials of {workload.model} "
          f"({workload.source}, length scale {workload.length_scale}) with {args.attention} attention "
          f"on {result.device}" + (f" ({args.dp} engines, problems split between them)" if args.dp > 1 else ""))
    print(f"  generated tokens  {result.generated_tokens:>12,}   prompt tokens {result.prompt_tokens:,}")
    print(f"  wall time         {result.wall_s:>12.2f} s  ({result.wall_per_problem_s:.2f} s per problem)")
    print(f"  throughput        {result.tokens_per_s:>12,.0f} tokens/s")
    print(f"  peak KV pages     {s['peak_pages']:>12,} of {s['num_pages']:,} (page {s['page_size']} tokens)")
    print(f"  preemptions       {s['preemptions']:>12,}   recomputed tokens {s['recomputed_tokens']:,}")
    print(f"  mean decode batch {s['mean_decode_batch']:>12.1f}   steps {s['steps']:,}")
    if result.predicted:
        p = result.predicted
        print(f"  cost model        {p['seconds']:>12.2f} s predicted on {p['hardware']} at batch "
              f"{p['batch_size']:.1f} (measured / predicted = {result.wall_s / p['seconds']:.2f})")
    return 0
