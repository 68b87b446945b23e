"""kinetics bench attention|engine: the GPU benchmarks of kinetics.bench, run from the command line.

Other benchmarks plug in as sub-subcommands: add a line to SUBCOMMANDS naming a module and the function that
registers its argparse sub-parser.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from pathlib import Path

from kinetics.bench.attention import measure, sweep_shapes, tune
from kinetics.bench.engine import (PARTS, VALIDATE_MODELS, bench_replay, bench_saturated, bench_targets,
                                   bench_validate, calibrate)
from kinetics.bench.provenance import device_slug, provenance
from kinetics.bench.timing import measure_ceilings
from kinetics.errors import InputError
from kinetics.output import atomic_write, check_output, on_interrupt
from kinetics.paths import results_dir

log = logging.getLogger(__name__)

# name -> (module, function(parser) that adds the arguments and sets `func`, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "attention": ("kinetics.cli.bench", "register_attention",
                  "our Triton paged decode kernels (dense, block top-k) vs FlashInfer"),
    "engine": ("kinetics.cli.bench", "register_engine",
               "the engine end to end: reference workload vs HF, trace replay, cost model vs clock"),
}


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="BENCH")
    for name, (module, function, help_) in SUBCOMMANDS.items():
        child = sub.add_parser(name, help=help_, description=help_)
        getattr(importlib.import_module(module), function)(child)


def register_attention(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="only the four reference shapes")
    parser.add_argument("--out", type=Path, default=None,
                        help="output JSON (default data/results/<device>/attention.json)")
    parser.add_argument("--no-layer", action="store_true", help="skip the Qwen3-8B layer benchmark")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    parser.add_argument("--no-flashinfer", action="store_true", help="time our kernels only")
    parser.add_argument("--tune", action="store_true",
                        help="time launch-parameter variants of our kernels at the four reference shapes (tune.json)")
    parser.set_defaults(func=run_attention)


def run_attention(args) -> int:
    import torch

    if not torch.cuda.is_available():
        raise InputError("kinetics bench attention needs a CUDA GPU; the saved results are in data/results/")
    flashinfer_on = not args.no_flashinfer
    if flashinfer_on:
        try:
            importlib.import_module("flashinfer")
        except ImportError as error:
            raise InputError(f"flashinfer is not importable ({error}); install flashinfer-python or pass "
                             "--no-flashinfer") from error
    out = args.out or results_dir(device_slug()) / "attention.json"
    out = check_output(out.with_name("tune.json") if args.tune else out, "--out", args.force, (".json",),
                       create_parent=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.tune:
        tune(out, "kinetics bench attention --tune")
        return 0
    command = "kinetics bench attention" + (" --quick" if args.quick else "") + (" --no-layer" if args.no_layer else "")
    runs = 50
    layer_shapes = [] if args.no_layer else ([(256, 8192), (256, 32768)] if args.quick else
                                             [(256, 8192), (256, 16384), (256, 32768), (1024, 8192), (1024, 32768)])
    with on_interrupt(lambda: f"nothing was written; {out} is as it was; rerun to measure"):
        result = measure(sweep_shapes(args.quick), flashinfer_on, runs, layer_shapes, command)
    atomic_write(out, json.dumps(result, indent=1))
    print_table(result, sys.stdout)
    log.info("wrote %s", out)
    return 0


def print_table(result: dict, stream) -> None:
    nan = float("nan")
    print(f"ceiling {result['ceiling_tbps']:.2f} TB/s ({result['ceiling_source']}); copy {result['copy_tbps']:.2f}",
          file=stream)
    print(" rows   ctx pg sel | dense   FI ms ours/FI | topk ms  sel  attn FIattn floor x | strongest      ms  "
          "ours/strongest | err", file=stream)
    for r in result["shapes"]:
        fi = r.get("flashinfer_dense", {}).get("median_ms", nan)
        print(f"{r['rows']:5d} {r['context']:5d} {r['page_size']:2d} {r['selected_pages']:3d}"
              f"{'c' if r['page_order'] == 'contiguous' else ' '}| {r['ours_dense']['median_ms']:6.3f} {fi:6.3f} "
              f"{r.get('dense_vs_flashinfer', nan):6.2f} | {r['ours_topk']['median_ms']:6.3f} "
              f"{r['ours_select']['median_ms']:5.3f} {r['ours_sparse_attn']['median_ms']:5.3f} "
              f"{r.get('flashinfer_sparse_attn', {}).get('median_ms', nan):5.3f} {r['topk_over_floor']:6.2f} | "
              f"{r.get('strongest', '-'):15s} {r.get('strongest_ms', nan):5.3f} {r.get('topk_vs_strongest', nan):6.2f}"
              f" | {max(r['rel_err_dense_vs_torch'], r['rel_err_topk_vs_torch']):.1e}", file=stream)
    for r in result["layer"]:
        print(f"layer B {r['batch']} ctx {r['context']}: dense {r['dense_tokens_per_s']:.0f} tok/s/GPU, "
              f"block top-k {r['block_topk_tokens_per_s']:.0f} ({r['speedup']:.2f}x)", file=stream)


# ---- kinetics bench engine --------------------------------------------------------------------------------------

def register_engine(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--out", type=Path, default=None,
                        help="output JSON (default data/results/<device>/engine.json)")
    parser.add_argument("--workload", default=None,
                        help="replay: workload JSON, or traces directory (default: as for "
                             "`kinetics traces summary`)")
    parser.add_argument("--replay-problems", type=int, default=8)
    parser.add_argument("--replay-trials", type=int, default=8)
    parser.add_argument("--replay-scale", type=float, default=0.25, help="replay: length scale (default 0.25)")
    parser.add_argument("--hf-new-tokens", type=int, default=512, help="new tokens for the HF baseline")
    parser.add_argument("--targets-batches", default="64,256", help="targets: batch sizes (default 64,256)")
    parser.add_argument("--validate-seconds", type=float, default=240,
                        help="validate: start no new model after this many seconds (default 240)")
    parser.add_argument("--validate-attention", default="dense,blocktopk", help="validate: which attention kinds")
    parser.add_argument("--validate-models", default=",".join(VALIDATE_MODELS), help="validate: model shapes")
    parser.add_argument("--saturated-steps", type=int, default=250,
                        help="saturated: decode steps in the measured window (default 250)")
    parser.add_argument("--saturated-fill", type=float, default=0.97,
                        help="saturated: share of the KV cache the snapshot fills at the end of the window")
    parser.add_argument("--saturated-models", default="qwen3-8b",
                        help="saturated: comma-separated model shapes (default qwen3-8b)")
    parser.add_argument("--quick", action="store_true", help="a small version of every part (a smoke test)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    parser.set_defaults(func=run_engine)


def run_engine(args) -> int:
    import torch

    parts = [p for p in args.parts.split(",") if p]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise InputError(f"--parts: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    args.targets_batches = _batches(args.targets_batches)
    if not torch.cuda.is_available():
        raise InputError("kinetics bench engine needs a CUDA GPU")
    out = check_output(args.out or results_dir(device_slug()) / "engine.json", "--out", args.force, (".json",),
                       create_parent=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")   # the parts measured so far, until all are done

    def interrupted() -> str:
        kept = f"; the parts finished so far are in {partial} (its 'parts_done')" if partial.exists() else ""
        return f"{out} is as it was{kept}; rerun to measure"

    with on_interrupt(interrupted):
        result = _bench_engine(args, parts, partial)
        if "validate" in result and result["validate"]["points"]:
            calibrate(result, out.with_name("step_model.json"))   # this GPU's step-time model
    atomic_write(out, json.dumps(result, indent=1))
    partial.unlink(missing_ok=True)
    _engine_summary(result)
    print(f"wrote {out}")
    return 0


def _bench_engine(args, parts: list[str], partial: Path) -> dict:
    """Every asked-for part; `partial` is rewritten (atomically) after each, so a crash or a time limit keeps
    the parts already measured ('parts_done' lists them) while the results file stays as it was."""
    result = {"provenance": provenance("kinetics bench engine " + " ".join(sys.argv[3:])),
              "quick": args.quick, "ceilings": measure_ceilings(), "parts_done": []}
    log.info("ceilings: copy %.2f TB/s, bf16 matmul %.0f TFLOP/s", result["ceilings"]["copy_tbps"],
             result["ceilings"]["matmul_tflops"])
    for part in parts:
        start = time.perf_counter()

        def save(rows, part=part):
            atomic_write(partial, json.dumps({**result, part: rows}, indent=1))

        if part == "targets":
            result["targets"] = bench_targets(result["ceilings"], args.quick, args.hf_new_tokens,
                                              args.targets_batches, save)
        elif part == "replay":
            result["replay"] = bench_replay(result["ceilings"], args.workload, 2 if args.quick else
                                            args.replay_problems, args.replay_trials,
                                            0.02 if args.quick else args.replay_scale, args.quick)
        elif part == "saturated":
            result["saturated"] = bench_saturated(args.workload, tuple(args.saturated_models.split(",")),
                                                  args.replay_trials, args.saturated_steps, args.saturated_fill,
                                                  args.quick, save)
        else:
            result["validate"] = bench_validate(result["ceilings"], args.quick,
                                                deadline=time.perf_counter() + args.validate_seconds,
                                                kinds=tuple(args.validate_attention.split(",")),
                                                models=tuple(args.validate_models.split(",")))
        result.setdefault("part_seconds", {})[part] = time.perf_counter() - start
        result["parts_done"].append(part)
        atomic_write(partial, json.dumps(result, indent=1))
    return result


def _batches(text: str) -> tuple[int, ...]:
    try:
        batches = tuple(int(b) for b in text.split(","))
    except ValueError:
        batches = ()
    if not batches or min(batches) < 1:
        raise InputError(f"--targets-batches must be comma-separated integers >= 1, got {text!r}")
    return batches


def _engine_summary(result: dict) -> None:
    for row in result.get("targets", []):
        print(f"targets  batch {row['batch']:>3}: engine {row['engine_tokens_per_s']:>9,.0f} tok/s "
              f"(decode {row['engine_decode_tokens_per_s']:,.0f} = {100 * row['fraction_of_roofline']:.0f}% of "
              f"roofline {row['roofline_decode_tokens_per_s']:,.0f}), HF {row['hf']['tokens_per_s']:,.0f} tok/s, "
              f"{row['speedup_vs_hf']:.1f}x")
    for row in result.get("replay", []):
        a = row["attention"]
        print(f"replay   {row['model']} {a['kind']:<9} page {a['page_size']:>2}: {row['tokens_per_s']:>9,.0f} tok/s, "
              f"{row['wall_s']:.1f} s, {row['speedup_vs_dense']:.2f}x dense, peak pages {row['stats']['peak_pages']}, "
              f"preemptions {row['stats']['preemptions']}, predicted {row['predicted'].get('seconds', 0):.1f} s")
    for row in result.get("saturated", []):
        st = row["steady"]
        print(f"saturated {row['model']} {row['attention']['kind']:<9}: {st['tokens_per_s']:>9,.0f} tok/s steady over "
              f"{st['decode_steps']} steps ({row.get('steady_speedup_vs_dense', float('nan')):.2f}x dense), "
              f"batch {st['mean_batch']:.0f}, "
              f"occupancy {st['occupancy_min']:.2f}-{st['occupancy_max']:.2f}")
    v = result.get("validate")
    if v:
        print(f"validate {len(v['points'])} points: MAPE {100 * v['mape']:.1f}% "
              + ", ".join(f"{k} {100 * e:.1f}%" for k, e in v["mape_by_attention"].items()))
