"""Figures of chapter 6 (scaling out). Each function returns a matplotlib Figure."""
from __future__ import annotations

import numpy as np

from kinetics.plots import MODEL_COLORS, style


def tp_throughput(rows: list[dict]):
    """Decode tokens/s on one GPU and on N, one pair of bars per (model, attention, batch, context)."""
    import matplotlib.pyplot as plt

    style()
    fig, ax = plt.subplots(figsize=(9, 4.4))
    x = np.arange(len(rows))
    for i, r in enumerate(rows):
        color = MODEL_COLORS.get(r["model"], "#555555")
        hatch = "//" if r["attention"] == "blocktopk" else None
        ax.bar(i - 0.2, r["tokens_per_s_1"], 0.4, color=color, alpha=0.45, hatch=hatch, edgecolor="#333333")
        ax.bar(i + 0.2, r["tokens_per_s_n"], 0.4, color=color, hatch=hatch, edgecolor="#333333")
        ax.text(i + 0.2, r["tokens_per_s_n"], f"{r['speedup']:.2f}x", ha="center", va="bottom", fontsize=8)
    labels = [f"{r['model'].removeprefix('qwen3-')}\n{'top-k' if r['attention'] == 'blocktopk' else 'dense'}\n"
              f"b{r['batch_1']}" + ("" if r["batch_1"] == r["batch_n"] else f"/{r['batch_n']}") +
              f" {r['context'] // 1024}k" for r in rows]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("decode tokens / s")
    ranks = rows[0]["ranks"]
    ax.bar(0, 0, color="#999999", alpha=0.45, label="1 GPU (light)")
    ax.bar(0, 0, color="#999999", label=f"{ranks} GPUs, tensor parallel (dark)")
    ax.bar(0, 0, color="white", hatch="//", edgecolor="#333333", label="block top-k (hatched)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"Decode on 1 vs {ranks} GPUs (speedup above each pair; b12/40: each its largest batch at 16k)")
    return fig


def tp_prediction(table: list[dict]):
    """Predicted step time split into its terms for 1..N GPUs, with the measured steps as markers."""
    import matplotlib.pyplot as plt

    style()
    cases = sorted({(r["batch"], r["context"]) for r in table})
    fig, axes = plt.subplots(1, len(cases), figsize=(4.6 * len(cases), 4.2), sharey=True, squeeze=False)
    parts = [("split_ms", "bytes + FLOPs / N", "#4C72B0"), ("fixed_ms", "fixed cost per layer", "#DDDDDD"),
             ("comm_ms", "all-reduces + logits all-gather", "#C44E52")]
    for ax, case in zip(axes[0], cases):
        rows = [r for r in table if (r["batch"], r["context"]) == case]
        x = np.arange(len(rows))
        bottom = np.zeros(len(rows))
        for key, label, color in parts:
            values = np.array([r[key] for r in rows])
            ax.bar(x, values, 0.6, bottom=bottom, color=color, edgecolor="#555555", label=label)
            bottom += values
        measured = [(i, r["measured_ms"]) for i, r in enumerate(rows) if r.get("measured_ms") is not None]
        if measured:
            ax.scatter(*zip(*measured), marker="D", color="k", zorder=3, label="measured")
        ax.set_xticks(x, [f"{r['ranks']} GPU{'s' if r['ranks'] > 1 else ''}" for r in rows])
        ax.set_title(f"batch {case[0]}, context {case[1] // 1024}k")
    axes[0][0].set_ylabel("decode step (ms)")
    axes[0][0].legend(loc="upper right", fontsize=8)
    return fig
