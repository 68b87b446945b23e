"""`kinetics bench engine`: the engine on a GPU, timed, with provenance.

Four parts, each written to the result JSON as soon as it is done:

targets   the reference workload: Qwen3-0.6B shape (random weights), prompt 128, 512 forced new tokens, greedy,
          batch 64 and 256; Hugging Face `generate` on the same workload in the same run; the decode roofline
          (weights + KV read per step at the measured bandwidth) for comparison.
replay    AIME24 Qwen3-8B trace lengths (a workload JSON or the trace tables) replayed dense and block top-k.
validate  the cost model against the clock: one decode step (CUDA graph replay + logits + argmax) timed over a grid
          of model shapes, batch sizes and contexts (equal contexts, and unequal ones as a busy server runs),
          dense and block top-k, against kinetics.cost's prediction for the same step with the ceilings measured
          in this run; the step-time model is fitted on half the grid
          and scored on the other half (step_model.json beside the output: the calibration of this GPU).
saturated the steady state of a full KV cache: a snapshot of AIME24 Qwen3-8B requests caught at uniform points of
          their recorded generations, as many as fill the cache, decoded for --saturated-steps steps, block top-k
          (budget 1024, page 16) and dense on the same snapshot.
"""
from __future__ import annotations

import gc
import logging
import statistics
import time

from kinetics.bench.timing import time_ms

log = logging.getLogger(__name__)

PARTS = ("targets", "replay", "validate", "saturated")
VALIDATE_MODELS = ("qwen3-0.6b", "qwen3-8b", "qwen3-14b", "qwen3-32b")
VALIDATE_BATCHES = (1, 8, 32, 128, 256)
VALIDATE_CONTEXTS = (1024, 4096, 16384, 32768)
VALIDATE_RAGGED = (16, 32, 48, 64, 96, 128)   # batch sizes of the unequal-context steps


# ---- measurement helpers ------------------------------------------------------------------------------------------

def _release() -> None:
    """Give the memory of the objects the caller just deleted back to the GPU."""
    import torch

    gc.collect()
    torch.cuda.empty_cache()


def _weight_bytes(llm) -> int:
    return sum(p.numel() * p.element_size() for p in llm.runner.model.parameters())


# ---- (a) the reference workload ------------------------------------------------------------------------------------

def bench_targets(ceilings: dict, quick: bool, hf_new_tokens: int, batches: tuple[int, ...] = (64, 256),
                  save=None) -> list[dict]:
    """The reference workload at each batch size; `save(rows)` after each one (a time limit keeps them)."""
    import numpy as np
    import torch

    from kinetics.engine import LLM, SamplingParams
    from kinetics.models import get_model

    spec = get_model("qwen3-0.6b")
    prompt_len, new = 128, (64 if quick else 512)
    rows = []
    for batch in ((8, 256) if quick else batches):
        rng = np.random.default_rng(batch)
        prompts = rng.integers(0, spec.vocab_size, size=(batch, prompt_len)).tolist()
        llm = LLM(spec, device="cuda", seed=0, max_num_seqs=batch, max_model_len=prompt_len + new + 16,
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
        decode_s = _decode_seconds(llm, prompts, params)
        decode_tps = batch * (new - 1) / decode_s
        overlap, llm.async_scheduling = llm.async_scheduling, False     # the same engine, host and GPU in turn
        sync_s = _decode_seconds(llm, prompts, params)
        llm.async_scheduling = overlap
        # where a decode step goes: the GPU's work alone (graph replay + logits + argmax, mid-generation context)
        # against the engine's mean step, which adds the host's scheduling, input building and sampling
        gpu_step_ms = _time_step(llm.runner, [prompt_len + new // 2] * batch)
        del llm
        _release()
        hf = bench_hf(spec.config, prompts, min(hf_new_tokens, new))
        rows.append({
            "batch": batch, "prompt_tokens": prompt_len, "new_tokens": new, "engine": stats,
            "engine_tokens_per_s": stats["tokens_per_s"], "engine_decode_tokens_per_s": decode_tps,
            "hf": hf, "speedup_vs_hf": stats["tokens_per_s"] / hf["tokens_per_s"],
            "weight_bytes": weights, "kv_bytes_per_token": kv_token,
            "roofline_decode_tokens_per_s": roofline, "fraction_of_roofline": decode_tps / roofline,
            "engine_decode_step_ms": 1e3 * decode_s / (new - 1), "gpu_step_ms": gpu_step_ms,
            "async_scheduling": overlap, "sync_decode_step_ms": 1e3 * sync_s / (new - 1),
        })
        if save is not None:
            save(rows)
        log.info("targets batch %d: engine %.0f tok/s (decode %.0f, roofline %.0f = %.0f%%), HF %.0f tok/s, %.1fx; "
                 "decode step %.3f ms (async %s; synchronous %.3f ms), GPU alone %.3f ms", batch, stats["tokens_per_s"], decode_tps, roofline,
                 100 * decode_tps / roofline, hf["tokens_per_s"], rows[-1]["speedup_vs_hf"],
                 rows[-1]["engine_decode_step_ms"], overlap, rows[-1]["sync_decode_step_ms"], gpu_step_ms)
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
        llm = LLM(get_model(model), device="cuda", seed=0, attention=attention,
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

def bench_saturated(workload_source, models: tuple[str, ...], trials: int, steps: int, fill: float,
                    quick: bool, save=lambda rows: None) -> list[dict]:
    """Block top-k (budget 1024, page 16) and dense on one snapshot of a full cache (kinetics.engine.replay),
    for each model shape in turn; save(rows) after each run (a time limit keeps what was measured)."""
    from kinetics.engine.replay import load_workload

    workload = load_workload(workload_source, "qwen3-8b", "aime24", trials, None, length_scale=0.05 if quick else 1.0)
    rows: list[dict] = []
    for model in (("qwen3-0.6b",) if quick else models):
        _saturated_model(workload, model, steps, fill, rows, save)
    return rows


def _saturated_model(workload, model: str, steps: int, fill: float, rows: list[dict], save) -> None:
    from kinetics.engine import LLM, AttentionConfig, SamplingParams
    from kinetics.engine.replay import saturated_replay, saturated_snapshot
    from kinetics.models import get_model

    longest = max(p.prompt_tokens + max(p.gen_tokens) for p in workload.problems)
    snapshot, num_pages, mine = None, None, []
    # block top-k first: its summaries take memory, so its page count bounds both runs (the same snapshot)
    for attention in (AttentionConfig(kind="blocktopk", budget=1024, page_size=16), AttentionConfig()):
        llm = LLM(get_model(model), device="cuda", seed=0, attention=attention,
                  max_model_len=longest + 2 * attention.page_size, num_pages=num_pages,
                  max_num_batched_tokens=2048)   # prefill chunks of long contexts: a bounded causal mask
        # warm-up: compile the prefill's and the decode's kernels before the clock starts (a long prompt in
        # two chunks, then a few decode steps)
        llm.generate([[1] * min(3000, llm.max_model_len - 8)], SamplingParams(temperature=0, forced_length=4))
        if snapshot is None:
            num_pages = llm.runner.num_pages
            snapshot = saturated_snapshot(workload, num_pages, attention.page_size, steps, fill,
                                          llm.engine_config.max_num_seqs)
        row = saturated_replay(llm, snapshot)
        row["model"] = model
        row["workload"] = {k: v for k, v in workload.__dict__.items() if k != "problems"}
        mine.append(row)
        rows.append(row)
        st = row["steady"]
        log.info("saturated %s %s: %d requests, steady %.0f tok/s over %d steps (batch %.0f, occupancy %.2f-%.2f); "
                 "whole (prefill + window) %.0f tok/s", model, attention.kind, row["requests"], st["tokens_per_s"],
                 st["decode_steps"], st["mean_batch"], st["occupancy_min"], st["occupancy_max"],
                 row["whole"]["tokens_per_s"])
        if attention.kind == "dense":
            for done in mine:
                done["steady_speedup_vs_dense"] = done["steady"]["tokens_per_s"] / st["tokens_per_s"]
                done["whole_speedup_vs_dense"] = done["whole"]["tokens_per_s"] / row["whole"]["tokens_per_s"]
        save(rows)
        del llm
        _release()


# ---- (c) cost model vs clock --------------------------------------------------------------------------------------

def ragged_contexts(batch: int, longest: int, num_pages: int, page: int, seed: int) -> list[int]:
    """Unequal contexts of one step, as a busy server's running requests have: uniform in [1k, longest] tokens,
    scaled down together when they would fill more than 90% of the cache (a saturated window's occupancy)."""
    import numpy as np

    contexts = np.random.default_rng(seed).integers(1024, longest + 1, size=batch)
    room = 0.9 * num_pages * page
    if contexts.sum() > room:
        contexts = np.maximum(page, contexts * room / contexts.sum()).astype(int)
    return sorted(int(c) for c in contexts)


def grid_steps(num_pages: int, page: int, batches, contexts, ragged_batches) -> list[tuple[list[int], bool]]:
    """The steps a model is timed at: every (batch, context) of equal contexts that fits the cache, then one
    step of unequal contexts per ragged batch size."""
    steps = [([context] * batch, False) for batch in batches for context in contexts
             if batch * -(-context // page) <= num_pages]
    steps += [(ragged_contexts(batch, max(contexts), num_pages, page, seed=batch), True) for batch in ragged_batches]
    return steps


def bench_validate(ceilings: dict, quick: bool, deadline: float = float("inf"),
                   kinds: tuple[str, ...] = ("dense", "blocktopk"), models: tuple[str, ...] = VALIDATE_MODELS) -> dict:
    from kinetics.engine import LLM, AttentionConfig
    from kinetics.engine.replay import cost_attention
    from kinetics.hardware import hardware_from_numbers
    from kinetics.models import get_model
    from kinetics.step_time import decode_step_terms

    hardware = hardware_from_numbers(ceilings["matmul_tflops"], ceilings["copy_tbps"], name="measured")
    models = ("qwen3-0.6b",) if quick else models
    batches = (1, 8) if quick else VALIDATE_BATCHES
    contexts = (1024, 4096) if quick else VALIDATE_CONTEXTS
    ragged = (8,) if quick else VALIDATE_RAGGED
    settings = {"dense": AttentionConfig(), "blocktopk": AttentionConfig(kind="blocktopk", budget=1024,
                                                                         page_size=16)}
    points, skipped = [], []
    for name in models:
        spec = get_model(name)
        for attention in (settings[k] for k in kinds):
            if time.perf_counter() > deadline:     # the time guard: say what was not measured
                skipped.append(f"{name} {attention.kind}")
                continue
            llm = LLM(spec, device="cuda", seed=0, attention=attention, max_model_len=max(contexts) + 16,
                      max_num_seqs=max(batches + ragged), graph_batch_sizes=sorted(set(batches + ragged)))
            runner = llm.runner
            page = attention.page_size
            for layer in range(spec.num_layers):     # random cache contents (never time zeros)
                runner.cache.k[layer].normal_()
                runner.cache.v[layer].normal_()
                if layer in runner.cache.ksum:
                    runner.cache.ksum[layer].normal_()
            memo: dict = {}
            for step, is_ragged in grid_steps(runner.num_pages, page, batches, contexts, ragged):
                if is_ragged and sum(-(-c // page) for c in step) > runner.num_pages:
                    continue
                ms = _time_step(runner, step)
                terms = decode_step_terms(spec, hardware, cost_attention(attention), step, bucket=1, memo=memo)
                points.append({"model": name, "layers": spec.num_layers, "attention": attention.kind,
                               "batch": len(step), "context": round(sum(step) / len(step)), "ragged": is_ragged,
                               "contexts": step if is_ragged else None,
                               "measured_s": ms * 1e-3, "predicted_s": terms["seconds"],
                               "predicted_compute_s": terms["compute_seconds"],
                               "predicted_memory_s": terms["memory_seconds"],
                               "predicted_spread_s": terms["spread_seconds"]})
                log.info("validate %s %s batch %d ctx %d%s: %.3f ms measured, %.3f ms predicted", name,
                         attention.kind, len(step), points[-1]["context"], " (ragged)" if is_ragged else "", ms,
                         terms["seconds"] * 1e3)
            del llm, runner
            _release()
    if skipped:
        log.warning("validate: the time guard skipped %s", ", ".join(skipped))
    errors = [abs(p["measured_s"] - p["predicted_s"]) / p["measured_s"] for p in points]
    by_kind = {kind: [abs(p["measured_s"] - p["predicted_s"]) / p["measured_s"] for p in points
                      if p["attention"] == kind] for kind in ("dense", "blocktopk")}
    return {"points": points, "mape": statistics.mean(errors) if errors else None,
            "mape_by_attention": {k: statistics.mean(v) for k, v in by_kind.items() if v},
            "hardware": {"peak_tflops": ceilings["matmul_tflops"], "hbm_tbps": ceilings["copy_tbps"]},
            "convention": "exact", "overlap": "additive", "skipped": skipped}


def _time_step(runner, contexts: list[int]) -> float:
    """Median time of one decode step (graph replay, logits, argmax) of len(contexts) rows, row i's cache holding
    contexts[i] tokens after the step, its pages drawn at random from the whole cache."""
    import numpy as np
    import torch

    batch = len(contexts)
    size = min(s for s in runner.graphs if s >= batch)
    ids, positions, slots, table, lens = runner._static_inputs
    page = runner.attention_config.page_size
    lengths = torch.tensor(contexts, dtype=torch.int64, device="cuda")
    pages_each = [-(-c // page) for c in contexts]
    perm = torch.randperm(runner.num_pages, device="cuda")[:sum(pages_each)]
    table[:size].fill_(runner.cache.scratch_page)
    starts = np.concatenate([[0], np.cumsum(pages_each)])
    for row, (start, count) in enumerate(zip(starts, pages_each)):
        table[row, :count] = perm[start:start + count]
    lens[:size].fill_(1)
    lens[:batch] = lengths
    positions[:size].zero_()
    positions[:batch] = lengths - 1
    ids[:size].random_(0, runner.model_config.vocab_size)
    rows = torch.arange(batch, device="cuda")
    last = table[rows, (lengths - 1) // page]
    slots[:size].fill_(runner.cache.scratch_page * page)
    slots[:batch] = last * page + (lengths - 1) % page

    @torch.inference_mode()
    def step():
        runner.graphs[size].replay()
        runner.model.logits(runner._static_hidden[False, size][:batch]).argmax(-1)

    return time_ms(step, min_runs=10)["median_ms"]


def calibrate(result: dict, path) -> None:
    """Fit this GPU's step model on half the grid, judge it on the other half, save it beside the results."""
    from kinetics.bench.provenance import device_slug
    from kinetics.step_time import fit_step_model

    model = fit_step_model(result["validate"]["points"], device_slug(result["provenance"]["device"]),
                           {**result["provenance"], "ceilings": result["ceilings"]})
    model.save(path)
    result["validate"]["step_model"] = {"path": path.name, "coefficients": model.coefficients, "fit": model.fit}
    log.info("step model: %s", {k: f"held-out MAPE {100 * v['mape_heldout']:.1f}%" for k, v in model.fit.items()
                                if v["mape_heldout"] is not None})
