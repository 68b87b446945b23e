"""Vectorised costs: one trial per element, and best-of-n over the sampled lengths of many problems."""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from kinetics.cost.base import Attention, BATCH_CONTEXT, COST_METRICS, _is_int, _lengths, _setup
from kinetics.cost.exact import _exact_once, _exact_per_trial, _exact_shared
from kinetics.cost.generation import _add, _finish
from kinetics.cost.paper import _paper
from kinetics.errors import InputError


# ---- vectorised: many samples, best-of-n -----------------------------------------------------------------------------------

def per_sample_cost_arrays(model, hardware, prompt_tokens, gen_tokens, attention: Attention = Attention.dense(),
                           convention: str = "exact", batch_size: float | None = None, kv_dtype_bytes: float = 2,
                           compute_dtype: str | None = None, overlap: str = "additive",
                           batch_context: int = BATCH_CONTEXT) -> dict[str, np.ndarray]:
    """Cost of ONE trial per element: arrays `prompt_tokens` and `gen_tokens` broadcast together. Returns a dict of
    arrays: flops, memory_bytes, eflops, seconds, compute_seconds, memory_seconds, flops_prior and every term of
    TERMS (each sample pays its own prompt reads and its own prefill). Same meanings as `generation_cost` (N = 1)."""
    s = _setup(model, hardware, attention, convention, batch_size, kv_dtype_bytes, compute_dtype, overlap,
               batch_context)
    ctx = _lengths(prompt_tokens, "prompt tokens")
    gen = _lengths(gen_tokens, "generated tokens")
    if convention == "paper":
        terms = _paper(s, ctx, gen, 1)
    else:
        terms = _add(_exact_per_trial(s, ctx, gen), _exact_shared(s, ctx, gen), _exact_once(s, ctx))
    return _finish(s, terms)


def max_order_weights(n_valid, n_max: int, k) -> np.ndarray:
    """w[p, i, j] = P(the largest of k[i] draws without replacement from row p's n_valid[p] sorted values is the j-th
    smallest) = C(j, k - 1) / C(n, k) (j = 0-based rank); 0 where j >= n or k > n. Shape (rows, len(k), n_max)."""
    n = np.asarray(n_valid, float)[:, None, None]
    k = np.asarray(k, float)[None, :, None]
    j = np.arange(n_max, dtype=float)[None, None, :]
    ok = (j >= k - 1) & (j < n) & (k <= n)
    jj, nn = np.where(ok, j, k - 1), np.where(ok, n, k)
    log_w = gammaln(jj + 1) - gammaln(k) - gammaln(jj - k + 2) - (gammaln(nn + 1) - gammaln(k + 1) - gammaln(nn - k + 1))
    return np.where(ok, np.exp(log_w), 0.0)


def best_of_n_cost_arrays(model, hardware, prompt_tokens, lengths, k, attention: Attention = Attention.dense(),
                          convention: str = "exact", batch_size: float | None = None, kv_dtype_bytes: float = 2,
                          compute_dtype: str | None = None, overlap: str = "additive",
                          batch_context: int = BATCH_CONTEXT) -> dict[str, np.ndarray]:
    """Expected cost of k trials drawn without replacement from each problem's n sampled lengths.

    prompt_tokens: shape (problems,); lengths: (problems, n) with NaN padding for rows with fewer samples, or a list
    of per-problem sequences; k: an int or a sequence of ints. Returns a dict of arrays of shape (problems, len(k))
    (or (problems,) for an int k), keys as `per_sample_cost_arrays`; NaN where k > n for that problem.

    exact: per-trial terms are linear in the draws, so they are k x mean over samples; the shared prompt reads are
    paid once per step while any trial is alive, so their expectation is over the max of the k draws, exact from the
    order statistics (`max_order_weights`); the prefill is paid once.
    paper: their expected_cost(fn, lengths, N=k) = the mean over sampled lengths L of fn(gen=L, N=k).
    """
    s = _setup(model, hardware, attention, convention, batch_size, kv_dtype_bytes, compute_dtype, overlap,
               batch_context)
    ctx = np.atleast_1d(_lengths(prompt_tokens, "prompt tokens"))
    table = _length_table(lengths, ctx.size)
    scalar_k = np.ndim(k) == 0
    ks = np.atleast_1d(np.asarray(k))
    if ks.ndim != 1 or not all(_is_int(v) or (isinstance(v, float) and v.is_integer()) for v in ks.tolist()) \
            or (ks < 1).any():
        raise InputError(f"trials k must be integers >= 1, got {k!r}")
    ks = ks.astype(float)
    n_valid = (~np.isnan(table)).sum(axis=1)
    too_many = ks[None, :] > n_valid[:, None]
    if convention == "paper":
        with np.errstate(invalid="ignore"):
            terms = _paper(s, ctx[:, None, None], table[:, None, :], ks[None, :, None])
        terms = {key: _nanmean_last(np.broadcast_to(v, (ctx.size, ks.size, table.shape[1])), table)
                 for key, v in terms.items()}
    else:
        per_trial = _exact_per_trial(s, ctx[:, None], np.nan_to_num(table, nan=1.0))
        per_trial = {key: ks[None, :] * _masked_mean(v, table)[:, None] for key, v in per_trial.items()}
        order = np.sort(table, axis=1)  # NaN last
        weights = max_order_weights(n_valid, table.shape[1], ks)
        shared = _exact_shared(s, ctx[:, None], np.nan_to_num(order, nan=1.0))
        shared = {key: np.einsum("pkj,pj->pk", weights, np.broadcast_to(v, order.shape)) for key, v in shared.items()}
        once = {key: np.broadcast_to(v[:, None], (ctx.size, ks.size)) for key, v in _exact_once(s, ctx).items()}
        terms = _add(per_trial, shared, once)
    out = _finish(s, terms)
    out = {key: np.where(too_many, np.nan, v) for key, v in out.items()}
    return {key: v[:, 0] for key, v in out.items()} if scalar_k else out


def _length_table(lengths, rows: int) -> np.ndarray:
    if isinstance(lengths, np.ndarray) and lengths.ndim == 2:
        table = lengths.astype(float)
    else:
        seqs = [np.atleast_1d(np.asarray(row, float)) for row in lengths]
        width = max((len(r) for r in seqs), default=0)
        table = np.full((len(seqs), max(width, 1)), np.nan)
        for i, r in enumerate(seqs):
            table[i, :len(r)] = r
    if table.shape[0] != rows:
        raise InputError(f"{table.shape[0]} rows of lengths for {rows} prompts")
    return _lengths(table, "generated tokens", allow_nan=True)


def _masked_mean(values, table):
    mask = ~np.isnan(table)
    values = np.broadcast_to(values, table.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mask, values, 0.0).sum(axis=1) / mask.sum(axis=1)


def _nanmean_last(values, table):
    mask = ~np.isnan(table)[:, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mask, values, 0.0).sum(axis=2) / mask.sum(axis=2)


def metric_of(arrays: dict, metric: str = "eflops"):
    """One cost from a result dict: "flops" (prior work: 2 x params x generated tokens), "flops-attn" (every FLOP of
    the convention: parameters, attention, selection, prefill), "eflops", "seconds" or "bytes"."""
    keys = {"flops": "flops_prior", "flops-attn": "flops", "eflops": "eflops", "seconds": "seconds",
            "bytes": "memory_bytes"}
    if metric not in keys:
        raise InputError(f"cost metric {metric!r} is unknown; known: {', '.join(COST_METRICS)}")
    return arrays[keys[metric]]


def best_of_n_expected_cost(model, hardware, prompt_tokens, lengths, k, attention: Attention = Attention.dense(),
                            convention: str = "exact", cost_metric: str = "eflops", **options) -> np.ndarray:
    """`best_of_n_cost_arrays` reduced to one metric (see `metric_of`): shape (problems, len(k)) or (problems,)."""
    if cost_metric not in COST_METRICS:
        raise InputError(f"cost metric {cost_metric!r} is unknown; known: {', '.join(COST_METRICS)}")
    arrays = best_of_n_cost_arrays(model, hardware, prompt_tokens, lengths, k, attention, convention, **options)
    return metric_of(arrays, cost_metric)
