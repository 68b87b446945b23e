"""The cost of N trials of one problem (`generation_cost`), in either convention."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from kinetics.cost.base import (BATCH_CONTEXT, BYTE_TERMS, FLOP_TERMS, MAX_TOKENS, MAX_TRIALS, TERMS, Attention, Cost,
                                _Setup, _is_int, _lengths, _setup)
from kinetics.cost.exact import _exact_once, _exact_per_trial, _exact_shared
from kinetics.cost.paper import _paper
from kinetics.errors import InputError


# ---- totals --------------------------------------------------------------------------------------------------------------

def _finish(s: _Setup, terms: dict) -> dict:
    out = dict(terms)
    out["flops"] = sum(terms[k] for k in FLOP_TERMS)
    out["memory_bytes"] = sum(terms[k] for k in BYTE_TERMS)
    out["eflops"] = out["flops"] + s.intensity * out["memory_bytes"]
    out["compute_seconds"] = out["flops"] / s.hardware.peak(s.compute_dtype)
    out["memory_seconds"] = out["memory_bytes"] / s.hardware.hbm_bandwidth
    if s.overlap == "additive":
        out["seconds"] = out["compute_seconds"] + out["memory_seconds"]
    else:
        out["seconds"] = np.maximum(out["compute_seconds"], out["memory_seconds"])
    return out


def _add(*dicts) -> dict:
    return {key: sum(d[key] for d in dicts) for key in dicts[0]}


def generation_cost(model, hardware, prompt_tokens: int, gen_tokens: int | Sequence[int],
                    attention: Attention = Attention.dense(), convention: str = "exact",
                    batch_size: float | None = None, kv_dtype_bytes: float = 2, compute_dtype: str | None = None,
                    overlap: str = "additive", trials: int | None = None,
                    batch_context: int = BATCH_CONTEXT) -> Cost:
    """Cost of N trials of one problem sharing a `prompt_tokens`-token prompt, totals in SI units.

    gen_tokens: one length (with `trials` = N, default 1) or one length per trial (N = len).
    batch_size: sequences decoded together, over which weight reads are shared (exact only; WEIGHTS_FREE: an
    unbounded batch, the weights read for free as the paper assumes). Default: the largest
    batch of `batch_context`-token sequences (32,768, the traces' max_len) whose KV fits the hardware's memory next
    to the weights (`default_batch_size`).
    compute_dtype: sets the peak and the intensity I; default bf16 (exact) or fp8 when the hardware has it (paper).
    Paper convention with several lengths: the mean over lengths L of their cost of N trials all L long (their
    `expected_cost`); with one length, exactly their formula.
    """
    s = _setup(model, hardware, attention, convention, batch_size, kv_dtype_bytes, compute_dtype, overlap,
               batch_context)
    ctx = _lengths(prompt_tokens, "prompt tokens")
    if ctx.ndim != 0:
        raise InputError(f"prompt tokens must be one integer, got {prompt_tokens!r}")
    gens = np.atleast_1d(_lengths(gen_tokens, "generated tokens"))
    if gens.ndim != 1:
        raise InputError("generated tokens must be one integer or a list of integers (one per trial)")
    if gens.max() > MAX_TOKENS or ctx > MAX_TOKENS:
        raise InputError(f"prompt tokens {int(ctx)} / generated tokens up to {int(gens.max())}: above the cap of "
                         f"{MAX_TOKENS:,} tokens")
    if trials is not None:
        if not _is_int(trials) or not 1 <= trials <= MAX_TRIALS:
            raise InputError(f"trials must be an integer >= 1 and at most {MAX_TRIALS:,}, got {trials!r}")
        if gens.size == 1:
            gens = np.repeat(gens, trials)
        elif gens.size != trials:
            raise InputError(f"{gens.size} generation lengths given for {trials} trials")
    if convention == "paper":
        terms = {k: float(np.mean(v)) for k, v in _paper(s, ctx, gens, gens.size).items()}
    else:
        per_trial = {k: float(np.sum(v)) for k, v in _exact_per_trial(s, ctx, gens).items()}
        terms = _add(per_trial, _exact_shared(s, ctx, gens.max()), _exact_once(s, ctx))
    out = {k: float(v) for k, v in _finish(s, terms).items()}
    breakdown = {k: out[k] for k in TERMS + ("flops_prior",)}
    return Cost(out["flops"], out["memory_bytes"], out["eflops"], out["seconds"], breakdown,
                out["compute_seconds"], out["memory_seconds"], s.intensity, s.batch, convention, overlap)
