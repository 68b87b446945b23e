"""The cross-model envelope: the best frontier at each cost, who wins where, and the model-size threshold."""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import pandas as pd

from kinetics.frontier.allocation import Frontier


# ---- the cross-model envelope ---------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _size(model: str) -> int:
    from kinetics.models import get_model

    return get_model(model).params_total


def envelope(frontiers: Sequence[Frontier], grid: np.ndarray, bound: str = "estimate") -> pd.DataFrame:
    """Best accuracy over the frontiers at each grid cost and the setting that reaches it (ties: the smaller model).

    Each frontier is already non-decreasing in cost, so the envelope at C is the best accuracy at any cost <= C.
    """
    ordered = sorted(frontiers, key=lambda f: (_size(f.config.model), f.config.attention, f.config.budget))
    values = np.stack([f.at(grid, bound) for f in ordered])   # (F, grid)
    best = values.argmax(axis=0)
    accuracy = values[best, np.arange(grid.size)]
    def column(get):  # object dtype keeps None (no winner below the cheapest step) as None
        return pd.Series([get(ordered[i].config) if a > 0 else None for i, a in zip(best, accuracy)], dtype=object)

    return pd.DataFrame({"cost": grid, "accuracy": accuracy, "model": column(lambda c: c.model),
                         "attention": column(lambda c: c.attention), "budget": column(lambda c: int(c.budget)),
                         "setting": column(lambda c: c.label)})


def winner_spans(env: pd.DataFrame, column: str = "model") -> pd.DataFrame:
    """Consecutive grid ranges won by one model (or `column`: setting, budget): start, stop (cost), decades of cost
    won, accuracy at the stop. The winner's column is named "model" in the result."""
    rows = []
    current = None
    for cost, accuracy, model in zip(env["cost"], env["accuracy"], env[column]):
        if model is None:
            continue
        if current is None or current["model"] != model:
            current = {"model": model, "start": cost, "stop": cost, "accuracy": accuracy}
            rows.append(current)
        current["stop"], current["accuracy"] = cost, accuracy
    frame = pd.DataFrame(rows, columns=["model", "start", "stop", "accuracy"])
    frame["decades"] = np.log10(frame["stop"] / frame["start"]) if len(frame) else []
    return frame


def winners_by_part(env: pd.DataFrame, column: str = "model", parts: int = 3) -> list:
    """The winner (`column`: model or budget) over the most log-cost in each of `parts` equal slices of the range
    where the envelope rises (first positive accuracy to first reaching its best): low, middle, high cost."""
    accuracy = env["accuracy"].to_numpy()
    if not (accuracy > 0).any():
        return [None] * parts
    start = int(np.argmax(accuracy > 0))
    stop = int(np.argmax(accuracy >= accuracy.max() - 1e-12))
    part = env.iloc[start: stop + 1]
    log_cost = np.log10(part["cost"].to_numpy())
    widths = np.diff(log_cost, append=log_cost[-1])
    edges = np.linspace(log_cost[0], log_cost[-1], parts + 1)
    slot = np.clip(np.searchsorted(edges, log_cost, side="right") - 1, 0, parts - 1)
    frame = pd.DataFrame({"slot": slot, "winner": part[column].to_numpy(), "width": widths})
    out = []
    for i in range(parts):
        share = frame[frame["slot"] == i].groupby("winner", sort=False)["width"].sum()
        out.append(share.idxmax() if len(share) else None)
    return out


def threshold_model(env: pd.DataFrame, from_fraction: float = 0.5) -> tuple[str | None, pd.DataFrame]:
    """The model-size threshold: the model that wins the envelope over the widest span of log-cost once the
    envelope is past `from_fraction` of its best accuracy, up to the first cost where it reaches that best (past it
    more compute buys nothing). Below the threshold, each step up in cost is best spent on a bigger model; at it,
    on more trials or tokens. The lower cut keeps the near-zero-accuracy regime, where the smallest models are
    cheapest, from counting.

    Returns the model and the decades of cost each model wins in that range.
    """
    accuracy = env["accuracy"].to_numpy()
    if not (accuracy > 0).any():
        return None, pd.DataFrame(columns=["model", "decades"])
    best = accuracy.max()
    start = int(np.argmax(accuracy >= from_fraction * best))
    stop = int(np.argmax(accuracy >= best - 1e-12))
    part = env.iloc[start: stop + 1]
    log_cost = np.log10(part["cost"].to_numpy())
    widths = np.diff(log_cost, append=log_cost[-1])
    frame = pd.DataFrame({"model": part["model"].to_numpy(), "decades": widths}).dropna()
    per_model = frame.groupby("model", sort=False)["decades"].sum().reset_index()
    per_model = per_model.sort_values("model", key=lambda s: s.map(_size)).reset_index(drop=True)
    if per_model.empty or per_model["decades"].max() <= 0:
        return str(part["model"].iloc[-1]), per_model
    return str(per_model.loc[per_model["decades"].idxmax(), "model"]), per_model
