"""kinetics eval: sample a model on AIME with real weights, grade, write Hugging Face traces."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from kinetics.cli.engine_options import add_parallel_args
from kinetics.errors import InputError
from kinetics.eval import (MAX_LENGTH, MAX_NEW_TOKENS, TASKS, TEMPERATURE, TOP_K, TOP_P, EvalSettings,
                           _check_weights_dir, problems_for, run_eval)


EXAMPLES = """examples:
  kinetics eval --weights ~/models/Qwen3-1.7B --task aime24 --trials 8
  kinetics eval --weights ~/models/Qwen3-8B --trials 32 --attention blocktopk --budget 1024 --page-size 16
  kinetics eval --weights ~/models/Qwen3-0.6B --dataset math-ai/aime25 --task aime25 --limit 5 --device cpu
  kinetics traces summary          # the runs written under data/traces/, next to the authors' tables"""


def register(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    parser.add_argument("--weights", required=True, metavar="DIR",
                        help="model directory: config.json, *.safetensors, tokenizer.json, tokenizer_config.json")
    parser.add_argument("--task", choices=TASKS, default="aime24")
    parser.add_argument("--trials", type=int, default=1, help="samples per problem (default 1)")
    parser.add_argument("--problems", metavar="FILE", help="jsonl with problem and answer per line "
                        "(default: the task's Hugging Face dataset, when the datasets package is installed)")
    parser.add_argument("--dataset", metavar="HF_ID", help="a Hugging Face dataset instead, e.g. "
                        "HuggingFaceH4/aime_2024 (needs the datasets package)")
    parser.add_argument("--split", help="dataset split (default: test, else train)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N problems")
    parser.add_argument("--out", metavar="FILE.jsonl", help="trace file (*.jsonl), or a directory where it gets the "
                        "authors' name and a new run number (default data/traces/eval/TASK/ATTENTION/)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out FILE.jsonl")
    parser.add_argument("--model", metavar="NAME", help="model name in the traces (default: the directory name)")
    parser.add_argument("--attention", choices=("dense", "blocktopk"), default="dense")
    parser.add_argument("--budget", type=int, default=1024, help="block top-k: KV tokens per step (default 1024)")
    parser.add_argument("--page-size", type=int, default=16, help="KV page = block of block top-k (default 16)")
    parser.add_argument("--sinks", type=int, default=4, help="block top-k: first tokens always kept (default 4, "
                        "as LiteSys)")
    parser.add_argument("--dense-layers", type=int, default=1, help="block top-k: first layers kept dense "
                        "(default 1, as LiteSys)")
    parser.add_argument("--max-new-tokens", type=int, default=MAX_NEW_TOKENS)
    parser.add_argument("--max-length", type=int, default=MAX_LENGTH, help="prompt + generation cap")
    parser.add_argument("--temperature", type=float, default=TEMPERATURE)
    parser.add_argument("--top-p", type=float, default=TOP_P)
    parser.add_argument("--top-k", type=int, default=TOP_K)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    parser.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), help="default: fp32 on CPU, bf16 on CUDA")
    parser.add_argument("--max-num-seqs", type=int, help="engine: requests decoded together")
    add_parallel_args(parser, data_parallel=True)
    parser.add_argument("--skip-finite-check", action="store_true",
                        help="load weights without checking that every value is finite (faster, unsafe)")
    parser.add_argument("--chunk", type=int, default=0, metavar="N",
                        help="generate N samples per engine call and checkpoint after each (FILE.jsonl.partial); "
                        "a rerun with the same settings resumes (default 0: all in one call, no checkpoint)")
    parser.add_argument("--no-repetition-stop", action="store_true",
                        help="keep looping samples whole (LiteSys cuts them; see kinetics.eval.repetition_cut)")
    parser.set_defaults(func=run)


def run(args) -> int:
    settings = EvalSettings(
        task=args.task, trials=args.trials, temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
        max_new_tokens=args.max_new_tokens, max_length=args.max_length, seed=args.seed, attention=args.attention,
        budget=args.budget, page_size=args.page_size, sinks=args.sinks, dense_layers=args.dense_layers,
        repetition_stop=not args.no_repetition_stop)
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be >= 1, got {args.limit}")
    _check_weights_dir(args.weights)
    problems = problems_for(args.task, args.problems, args.dataset, args.split)[:args.limit]
    device = args.device
    if device is None:
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
    limits = {"check_finite": not args.skip_finite_check,
              **({"max_num_seqs": args.max_num_seqs} if args.max_num_seqs is not None else {})}
    if args.chunk < 0:
        raise InputError(f"--chunk must be >= 0, got {args.chunk}")
    limits["tensor_parallel"] = args.tp
    result = run_eval(args.weights, settings, problems, args.out, args.model, device, args.dtype,
                      progress=True, engine_limits=limits, chunk=args.chunk, data_parallel=args.dp, force=args.force)
    if result is None:       # a helper rank of --dp: rank 0 reports
        return 0
    print(json.dumps({"out": str(result.path), "pass@1": round(result.pass_at_1, 2),
                      f"pass@{settings.trials}": round(result.pass_at_trials, 2), "samples": result.samples,
                      "generated_tokens": result.generated_tokens, "wall_s": round(result.wall_s, 2),
                      "settings": asdict(settings)}, indent=2))
    return 0
