"""`kinetics bench engine` (or `python -m kinetics.engine.bench`): the engine on a GPU, timed, with provenance.

Three parts, each written to the result JSON as soon as it is done:

targets   TARGETS.md's workload: Qwen3-0.6B shape (random weights), prompt 128, 512 forced new tokens, greedy,
          batch 64 and 256; Hugging Face `generate` on the same workload in the same run; the decode roofline
          (weights + KV read per step at the measured bandwidth) for comparison.
replay    AIME24 Qwen3-8B trace lengths (a workload JSON or the trace tables) replayed dense and block top-k.
validate  the cost model against the clock: one decode step (CUDA graph replay + logits + argmax) timed over a grid
          of model shapes, batch sizes and contexts, dense and block top-k, against kinetics.cost's prediction for
          the same step with the ceilings measured in this run; the step-time model is fitted on half the grid
          and scored on the other half (step_model.json beside the output: the calibration of this GPU).
saturated the steady state of a full KV cache: a snapshot of AIME24 Qwen3-8B requests caught at uniform points of
          their recorded generations, as many as fill the cache, decoded for --saturated-steps steps, block top-k
          (budget 1024, page 16) and dense on the same snapshot.
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import statistics
import sys
import time
from pathlib import Path

from kinetics.kernels.bench import time_ms

log = logging.getLogger(__name__)

PARTS = ("targets", "replay", "validate", "saturated")
VALIDATE_MODELS = ("qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b")
VALIDATE_BATCHES = (1, 8, 32, 128, 256)
VALIDATE_CONTEXTS = (1024, 4096, 16384, 32768)


def register_engine(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--out", type=Path, default=None,
                        help="output JSON (default data/results/<device>/engine.json)")
    parser.add_argument("--workload", default=None,
                        help="replay: traces directory or workload JSON (default $KINETICS_TRACES)")
    parser.add_argument("--replay-problems", type=int, default=8)
    parser.add_argument("--replay-trials", type=int, default=8)
    parser.add_argument("--replay-scale", type=float, default=0.25, help="replay: length scale (default 0.25)")
    parser.add_argument("--hf-new-tokens", type=int, default=512, help="new tokens for the HF baseline")
    parser.add_argument("--validate-seconds", type=float, default=240,
                        help="validate: start no new model after this many seconds (default 240)")
    parser.add_argument("--validate-attention", default="dense,blocktopk", help="validate: which attention kinds")
    parser.add_argument("--saturated-steps", type=int, default=250,
                        help="saturated: decode steps in the measured window (default 250)")
    parser.add_argument("--saturated-fill", type=float, default=0.97,
                        help="saturated: share of the KV cache the snapshot fills at the end of the window")
    parser.add_argument("--saturated-model", default="qwen3-8b", help="saturated: model shape (default qwen3-8b)")
    parser.add_argument("--validate-models", default=",".join(VALIDATE_MODELS), help="validate: model shapes")
    parser.add_argument("--quick", action="store_true", help="a small version of every part (a smoke test)")
    parser.set_defaults(func=run)


# ---- measurement helpers ------------------------------------------------------------------------------------------

def measure_ceilings() -> dict:
    """Device-to-device copy bandwidth (bytes read + written) and bf16 matmul rate, on random data."""
    import torch

    n = 1 << 30  # 2 GiB of bf16
    src = torch.randn(n, dtype=torch.bfloat16, device="cuda")
    dst = torch.empty_like(src)
    copy_ms = time_ms(lambda: dst.copy_(src))["median_ms"]
    del src, dst
    a = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    b = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    mm_ms = time_ms(lambda: a @ b)["median_ms"]
    del a, b
    torch.cuda.empty_cache()
    return {"copy_tbps": 2 * n * 2 / (copy_ms * 1e-3) / 1e12, "copy_ms": copy_ms,
            "matmul_tflops": 2 * 8192 ** 3 / (mm_ms * 1e-3) / 1e12, "matmul_ms": mm_ms}


def _release() -> None:
    """Give the memory of the objects the caller just deleted back to the GPU."""
    import torch

    gc.collect()
    torch.cuda.empty_cache()


def _weight_bytes(llm) -> int:
    return sum(p.numel() * p.element_size() for p in llm.runner.model.parameters())


# ---- (a) the TARGETS.md workload ------------------------------------------------------------------------------------

def bench_targets(ceilings: dict, quick: bool, hf_new_tokens: int) -> list[dict]:
    import numpy as np
    import torch

    from kinetics.engine import LLM, SamplingParams
    from kinetics.models import get_model

    config = get_model("qwen3-0.6b").config
    prompt_len, new = 128, (64 if quick else 512)
    rows = []
    for batch in ((8, 256) if quick else (64, 256)):
        rng = np.random.default_rng(batch)
        prompts = rng.integers(0, config["vocab_size"], size=(batch, prompt_len)).tolist()
        llm = LLM(config, device="cuda", seed=0, max_num_seqs=batch, max_model_len=prompt_len + new + 16,
                  max_num_batched_tokens=max(8192, batch * prompt_len), graph_batch_sizes=[batch])
        params = SamplingParams(temperature=0, forced_length=new)
        llm.generate(prompts[:2], SamplingParams(temperature=0, forced_length=4))   # warm-up
        llm.generate(prompts, params)
        stats = llm.last_stats.as_dict()
        kv_token = llm.config.kv_bytes_per_token(2)
        weights = _weight_bytes(llm)
        # decode floor: each step reads all weights once and every cached token's K and V once
        step_bytes = [weights + batch * kv_token * (prompt_len + t) for t in range(1, new)]
        floor_s = sum(step_bytes) / (ceilings["copy_tbps"] * 1e12)
        roofline = batch * (new - 1) / floor_s
        decode_tps = batch * (new - 1) / _decode_seconds(llm, prompts, params)
        del llm
        _release()
        hf = bench_hf(config, prompts, min(hf_new_tokens, new))
        rows.append({
            "batch": batch, "prompt_tokens": prompt_len, "new_tokens": new, "engine": stats,
            "engine_tokens_per_s": stats["tokens_per_s"], "engine_decode_tokens_per_s": decode_tps,
            "hf": hf, "speedup_vs_hf": stats["tokens_per_s"] / hf["tokens_per_s"],
            "weight_bytes": weights, "kv_bytes_per_token": kv_token,
            "roofline_decode_tokens_per_s": roofline, "fraction_of_roofline": decode_tps / roofline,
        })
        log.info("targets batch %d: engine %.0f tok/s (decode %.0f, roofline %.0f = %.0f%%), HF %.0f tok/s, %.1fx",
                 batch, stats["tokens_per_s"], decode_tps, roofline, 100 * decode_tps / roofline,
                 hf["tokens_per_s"], rows[-1]["speedup_vs_hf"])
    return rows


def _decode_seconds(llm, prompts, params) -> float:
    """Time of the decode phase alone: the same run minus a run that stops after its first token."""
    from kinetics.engine import SamplingParams

    llm.generate(prompts, params)
    total = llm.last_stats.wall_s
    llm.generate(prompts, SamplingParams(temperature=0, forced_length=1))
    return total - llm.last_stats.wall_s


def bench_hf(config: dict, prompts: list[list[int]], new_tokens: int) -> dict:
    """Hugging Face transformers generate, greedy, forced length, random weights of the same shape."""
    import torch
    import transformers

    hf_config = transformers.Qwen3Config(**{k: v for k, v in config.items() if k != "architectures"})
    with torch.device("cuda"):
        model = transformers.Qwen3ForCausalLM(hf_config).to(torch.bfloat16).eval()
    ids = torch.tensor(prompts, device="cuda")
    mask = torch.ones_like(ids)
    kwargs = dict(do_sample=False, pad_token_id=0, eos_token_id=None)
    with torch.inference_mode():
        model.generate(ids[:2], attention_mask=mask[:2], max_new_tokens=4, min_new_tokens=4, **kwargs)
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = model.generate(ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                             **kwargs)
        torch.cuda.synchronize()
        wall = time.perf_counter() - start
    generated = (out.shape[1] - ids.shape[1]) * ids.shape[0]
    del model, out
    _release()
    return {"wall_s": wall, "generated_tokens": generated, "tokens_per_s": generated / wall,
            "new_tokens": new_tokens, "transformers": transformers.__version__}


# ---- (b) replay of the traces -------------------------------------------------------------------------------------

REPLAY_SETTINGS = (("dense", 1024, 16), ("blocktopk", 1024, 16), ("blocktopk", 1024, 64))


def bench_replay(ceilings: dict, workload_source, problems: int, trials: int, scale: float,
                 quick: bool) -> list[dict]:
    from kinetics.engine import LLM, AttentionConfig
    from kinetics.engine.replay import load_workload, replay
    from kinetics.hardware import hardware_from_numbers
    from kinetics.models import get_model

    model = "qwen3-0.6b" if quick else "qwen3-8b"
    workload = load_workload(workload_source, "qwen3-8b", "aime24", trials, problems, length_scale=scale)
    longest = max(p.prompt_tokens + max(p.gen_tokens) for p in workload.problems)
    hardware = hardware_from_numbers(ceilings["matmul_tflops"], ceilings["copy_tbps"], name="measured")
    rows = []
    for kind, budget, page in REPLAY_SETTINGS:
        attention = AttentionConfig(kind=kind, budget=budget, page_size=page)
        llm = LLM(get_model(model).config, device="cuda", seed=0, attention=attention,
                  max_model_len=longest + page, max_num_seqs=min(256, workload.trials * len(workload.problems)))
        result = replay(llm, workload, progress=False, hardware=hardware).as_dict()
        result["model"] = model
        rows.append(result)
        log.info("replay %s %s page %d: %.0f tok/s, %.1f s, peak pages %d, preemptions %d, predicted %.1f s",
                 model, kind, page, result["tokens_per_s"], result["wall_s"], result["stats"]["peak_pages"],
                 result["stats"]["preemptions"], result["predicted"].get("seconds", float("nan")))
        del llm
        _release()
    dense = rows[0]["tokens_per_s"]
    for row in rows:
        row["speedup_vs_dense"] = row["tokens_per_s"] / dense
    return rows


# ---- (b2) a saturated cache ----------------------------------------------------------------------------------------

def bench_saturated(workload_source, model: str, trials: int, steps: int, fill: float, quick: bool) -> list[dict]:
    """Block top-k (budget 1024, page 16) and dense on one snapshot of a full cache (kinetics.engine.replay)."""
    from kinetics.engine import LLM, AttentionConfig
    from kinetics.engine.replay import load_workload, saturated_replay, saturated_snapshot
    from kinetics.models import get_model

    model = "qwen3-0.6b" if quick else model
    workload = load_workload(workload_source, "qwen3-8b", "aime24", trials, None, length_scale=0.05 if quick else 1.0)
    longest = max(p.prompt_tokens + max(p.gen_tokens) for p in workload.problems)
    rows, snapshot, num_pages = [], None, None
    # block top-k first: its summaries take memory, so its page count bounds both runs (the same snapshot)
    for attention in (AttentionConfig(kind="blocktopk", budget=1024, page_size=16), AttentionConfig()):
        llm = LLM(get_model(model).config, device="cuda", seed=0, attention=attention,
                  max_model_len=longest + 2 * attention.page_size, num_pages=num_pages,
                  max_num_batched_tokens=2048)   # prefill chunks of long contexts: a bounded causal mask
        if snapshot is None:
            num_pages = llm.runner.num_pages
            snapshot = saturated_snapshot(workload, num_pages, attention.page_size, steps, fill,
                                          llm.engine_config.max_num_seqs)
        row = saturated_replay(llm, snapshot)
        row["model"] = model
        row["workload"] = {k: v for k, v in workload.__dict__.items() if k != "problems"}
        rows.append(row)
        st = row["steady"]
        log.info("saturated %s %s: %d requests, steady %.0f tok/s over %d steps (batch %.0f, occupancy %.2f-%.2f)",
                 model, attention.kind, row["requests"], st["tokens_per_s"], st["decode_steps"], st["mean_batch"],
                 st["occupancy_min"], st["occupancy_max"])
        del llm
        _release()
    dense = rows[-1]["steady"]["tokens_per_s"]
    for row in rows:
        row["steady_speedup_vs_dense"] = row["steady"]["tokens_per_s"] / dense
    return rows


# ---- (c) cost model vs clock --------------------------------------------------------------------------------------

def step_prediction(spec, hardware, attention, batch: int, context: int) -> dict:
    """kinetics.cost's time for one decode step of `batch` requests whose cache holds `context` tokens after it."""
    from kinetics.step_time import decode_step_terms

    return decode_step_terms(spec, hardware, attention, [context] * batch, bucket=1)


def bench_validate(ceilings: dict, quick: bool, deadline: float = float("inf"),
                   kinds: tuple[str, ...] = ("dense", "blocktopk"), models: tuple[str, ...] = VALIDATE_MODELS) -> dict:
    import torch

    from kinetics.engine import LLM, AttentionConfig
    from kinetics.engine.replay import cost_attention
    from kinetics.hardware import hardware_from_numbers
    from kinetics.models import get_model

    hardware = hardware_from_numbers(ceilings["matmul_tflops"], ceilings["copy_tbps"], name="measured")
    models = ("qwen3-0.6b",) if quick else models
    batches = (1, 8) if quick else VALIDATE_BATCHES
    contexts = (1024, 4096) if quick else VALIDATE_CONTEXTS
    points, skipped = [], []
    for name in models:
        spec = get_model(name)
        if time.perf_counter() > deadline:
            skipped.append(name)
            continue
        settings = {"dense": AttentionConfig(), "blocktopk": AttentionConfig(kind="blocktopk", budget=1024,
                                                                             page_size=16)}
        for attention in (settings[k] for k in kinds):
            llm = LLM(spec.config, device="cuda", seed=0, attention=attention, max_model_len=max(contexts) + 16,
                      max_num_seqs=max(batches), graph_batch_sizes=list(batches))
            runner = llm.runner
            page = attention.page_size
            for layer in range(spec.num_layers):     # random cache contents (never time zeros)
                runner.cache.k[layer].normal_()
                runner.cache.v[layer].normal_()
                if layer in runner.cache.ksum:
                    runner.cache.ksum[layer].normal_()
            for batch in batches:
                for context in contexts:
                    pages_each = -(-context // page)
                    if batch * pages_each > runner.num_pages:
                        continue
                    ms = _time_step(runner, batch, context, pages_each)
                    predicted = step_prediction(spec, hardware, cost_attention(attention), batch, context)
                    points.append({"model": name, "layers": spec.num_layers, "attention": attention.kind,
                                   "batch": batch, "context": context,
                                   "measured_s": ms * 1e-3, "predicted_s": predicted["seconds"],
                                   "predicted_compute_s": predicted["compute_seconds"],
                                   "predicted_memory_s": predicted["memory_seconds"]})
                    log.info("validate %s %s batch %d ctx %d: %.3f ms measured, %.3f ms predicted", name,
                             attention.kind, batch, context, ms, predicted["seconds"] * 1e3)
            del llm, runner
            _release()
    errors = [abs(p["measured_s"] - p["predicted_s"]) / p["measured_s"] for p in points]
    by_kind = {kind: [abs(p["measured_s"] - p["predicted_s"]) / p["measured_s"] for p in points
                      if p["attention"] == kind] for kind in ("dense", "blocktopk")}
    return {"points": points, "mape": statistics.mean(errors) if errors else None,
            "mape_by_attention": {k: statistics.mean(v) for k, v in by_kind.items() if v},
            "hardware": {"peak_tflops": ceilings["matmul_tflops"], "hbm_tbps": ceilings["copy_tbps"]},
            "convention": "exact", "overlap": "additive", "skipped_models": skipped}


def _time_step(runner, batch: int, context: int, pages_each: int) -> float:
    """Median time of one decode step (graph replay, logits, argmax) for `batch` rows of `context` tokens."""
    import torch

    size = min(s for s in runner.graphs if s >= batch)
    ids, positions, slots, table, lens = runner._static_inputs
    page = runner.attention_config.page_size
    perm = torch.randperm(runner.num_pages, device="cuda")[:batch * pages_each].view(batch, pages_each)
    table[:size].fill_(runner.cache.scratch_page)
    table[:batch, :pages_each] = perm
    lens[:size].fill_(1)
    lens[:batch] = context
    positions[:size].zero_()
    positions[:batch] = context - 1
    ids[:size].random_(0, runner.model_config.vocab_size)
    last = perm[:, (context - 1) // page]
    slots[:size].fill_(runner.cache.scratch_page * page)
    slots[:batch] = last * page + (context - 1) % page

    @torch.inference_mode()
    def step():
        runner.graphs[size].replay()
        runner.model.logits(runner._static_hidden[False, size][:batch]).argmax(-1)

    return time_ms(step, min_runs=10)["median_ms"]


# ---- driver ---------------------------------------------------------------------------------------------------------

def run(args) -> int:
    import torch

    from kinetics.errors import InputError
    from kinetics.paths import results_dir
    from kinetics.provenance import device_slug, provenance

    if not torch.cuda.is_available():
        raise InputError("kinetics bench engine needs a CUDA GPU")
    parts = [p for p in args.parts.split(",") if p]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise InputError(f"unknown part(s) {unknown}; choose from {', '.join(PARTS)}")
    out = args.out or results_dir(device_slug()) / "engine.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = provenance("kinetics bench engine " + " ".join(sys.argv[3:]))
    result = {"provenance": record,
              "quick": args.quick, "ceilings": measure_ceilings()}
    log.info("ceilings: copy %.2f TB/s, bf16 matmul %.0f TFLOP/s", result["ceilings"]["copy_tbps"],
             result["ceilings"]["matmul_tflops"])

    def save():
        out.write_text(json.dumps(result, indent=1))

    save()
    for part in parts:
        start = time.perf_counter()
        if part == "targets":
            result["targets"] = bench_targets(result["ceilings"], args.quick, args.hf_new_tokens)
        elif part == "replay":
            result["replay"] = bench_replay(result["ceilings"], args.workload, 2 if args.quick else
                                            args.replay_problems, args.replay_trials,
                                            0.02 if args.quick else args.replay_scale, args.quick)
        elif part == "saturated":
            result["saturated"] = bench_saturated(args.workload, args.saturated_model, args.replay_trials,
                                                  args.saturated_steps, args.saturated_fill, args.quick)
        else:
            result["validate"] = bench_validate(result["ceilings"], args.quick,
                                                deadline=time.perf_counter() + args.validate_seconds,
                                                kinds=tuple(args.validate_attention.split(",")),
                                                models=tuple(args.validate_models.split(",")))
        result.setdefault("part_seconds", {})[part] = time.perf_counter() - start
        save()
        if part == "validate" and result["validate"]["points"]:
            _calibrate(result, out.with_name("step_model.json"))
            save()
    _summary(result)
    print(f"wrote {out}")
    return 0


def _calibrate(result: dict, path: Path) -> None:
    """Fit this GPU's step model on half the grid, judge it on the other half, save it beside the results."""
    from kinetics.provenance import device_slug
    from kinetics.step_time import fit_step_model

    model = fit_step_model(result["validate"]["points"], device_slug(result["provenance"]["device"]),
                           {**result["provenance"], "ceilings": result["ceilings"]})
    model.save(path)
    result["validate"]["step_model"] = {"path": path.name, "coefficients": model.coefficients, "fit": model.fit}
    log.info("step model: %s", {k: f"held-out MAPE {100 * v['mape_heldout']:.1f}%" for k, v in model.fit.items()
                                if v["mape_heldout"] is not None})


def _summary(result: dict) -> None:
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
              f"{st['decode_steps']} steps ({row['steady_speedup_vs_dense']:.2f}x dense), batch {st['mean_batch']:.0f}, "
              f"occupancy {st['occupancy_min']:.2f}-{st['occupancy_max']:.2f}")
    v = result.get("validate")
    if v:
        print(f"validate {len(v['points'])} points: MAPE {100 * v['mape']:.1f}% "
              + ", ".join(f"{k} {100 * e:.1f}%" for k, e in v["mape_by_attention"].items()))


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(prog="python -m kinetics.engine.bench", description=__doc__.splitlines()[0])
    register_engine(parser)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
