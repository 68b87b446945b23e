"""Figures of chapter 1 (the cost model). Each function computes through kinetics.cost and returns a Figure."""
from __future__ import annotations

import numpy as np

from kinetics.cost import (Attention, attention_to_parameter_ratio, length_for_cost, per_sample_cost_arrays)
from kinetics.hardware import get_hardware
from kinetics.models import get_model
from kinetics.plots import model_color, style

TERM_STYLE = {  # label, colour: blues for the parameter side, oranges for attention (neither a model's colour
    # nor an attention kind's)
    "params": ("parameter FLOPs", "#0072B2"),
    "weights": ("weight reads (x I)", "#56B4E9"),
    "attention": ("attention FLOPs", "#E69F00"),
    "kv": ("K/V reads (x I)", "#A6611A"),
}


def _color(name: str) -> str:
    return model_color(get_model(name).name)


def per_token_terms(model, hardware, prompt_tokens: int, lengths, attention: Attention = Attention.dense(),
                    convention: str = "exact", **options) -> dict[str, np.ndarray]:
    """Average eFLOPs per generated token of a generation `lengths` long, split into four terms."""
    lengths = np.asarray(lengths, float)
    a = per_sample_cost_arrays(model, hardware, prompt_tokens, lengths, attention, convention, **options)
    intensity = (a["eflops"] - a["flops"]) / a["memory_bytes"]
    return {"params": a["flops_params"] / lengths,
            "weights": intensity * a["bytes_weights"] / lengths,
            "attention": (a["flops_attention"] + a["flops_selection"]) / lengths,
            "kv": intensity * (a["bytes_kv"] + a["bytes_selection"] + a["bytes_kv_write"]) / lengths}


def per_token_breakdown(models, hardware, prompt_tokens: int, lengths, convention: str = "exact", **options):
    """One panel per model: what one generated token costs on average, term by term, against generation length."""
    import matplotlib.pyplot as plt

    style()
    hw = get_hardware(hardware)
    cols = min(3, len(models))
    rows = -(-len(models) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.9 * rows + 0.9), sharex=True, sharey=True,
                             squeeze=False)
    for ax, name in zip(axes.flat, models):
        terms = per_token_terms(name, hw, prompt_tokens, lengths, convention=convention, **options)
        for key, values in terms.items():
            if np.any(values > 0):
                label, color = TERM_STYLE[key]
                ax.loglog(lengths, values / 1e9, label=label, color=color, lw=2)
        ax.set_title(get_model(name).name)
    for ax in axes.flat[len(models):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("generation length (tokens)")
    for ax in axes[:, 0]:
        ax.set_ylabel("G eFLOP per token")
    fig.suptitle(f"Average cost of one generated token on {hw.name}\n({convention} convention, "
                 f"prompt {prompt_tokens} tokens; bytes priced at I = {_intensity(hw, convention):.0f} FLOP/byte)")
    fig.set_layout_engine(None)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    return fig


def _intensity(hw, convention: str) -> float:
    """The FLOP/byte the convention prices bytes at: the paper's FP8 intensity where the hardware has one."""
    return hw.intensity(hw.paper_dtype if convention == "paper" else "bf16")


def ratio_figure(models, hardware, prompt_tokens: int, lengths, marks=(1, 10, 100), **options):
    """Attention cost over parameter cost against generation length: exact (solid) and paper (dashed)."""
    import matplotlib.pyplot as plt

    style()
    hw = get_hardware(hardware)
    fig, ax = plt.subplots()
    for name in models:
        for convention, line in (("exact", "-"), ("paper", "--")):
            ratio = attention_to_parameter_ratio(name, hw, prompt_tokens, np.asarray(lengths, float),
                                                 convention=convention, **options)
            ax.loglog(lengths, ratio, line, color=_color(name), lw=2 if line == "-" else 1.2,
                      label=get_model(name).name if convention == "exact" else None)
    for mark in marks:
        ax.axhline(mark, color="black", lw=0.8, alpha=0.5)
    ax.plot([], [], "k-", label="exact convention (BF16 intensity, weight reads / batch)")
    ax.plot([], [], "k--", lw=1.2, label="paper convention (FP8 intensity, no weight reads)")
    ax.set_xlabel("generation length (tokens)")
    ax.set_ylabel("attention eFLOPs / parameter eFLOPs")
    ax.set_title(f"When attention takes over: eFLOPs on {hw.name}, prompt {prompt_tokens} tokens")
    fig.set_size_inches(7.5, 6.0)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False, fontsize=8.5)
    return fig


def iso_cost_figure(models, hardware, prompt_tokens: int, levels_flops, levels_eflops, convention: str = "exact",
                    max_tokens: int | None = None, **options):
    """Iso-cost lines over model size x generation length: prior-work FLOPs (2 P L) left, eFLOPs right. Each line
    joins, model by model, the generation length that one trial of that cost buys; lengths past `max_tokens`
    (the longest generation the traces hold) are left out, so every point drawn is a length one could sample."""
    import matplotlib.pyplot as plt

    style()
    hw = get_hardware(hardware)
    specs = [get_model(m) for m in models]
    sizes = np.array([s.params_active for s in specs], float) / 1e9
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.6), sharey=True)
    shades = plt.get_cmap("Greys")   # cost levels in greys: colour stays for models and attention kinds
    for ax, metric, levels, title, unit in ((axes[0], "flops", levels_flops, "FLOPs (2 x params x tokens)", "FLOP"),
                                            (axes[1], "eflops", levels_eflops, "eFLOPs", "eFLOP")):
        for i, level in enumerate(levels):
            lengths = np.array([float(length_for_cost(s, hw, level, metric, prompt_tokens, convention=convention,
                                                      **options)) for s in specs])
            if max_tokens is not None:
                lengths[lengths > max_tokens] = np.nan
            ax.loglog(sizes, lengths, "o-", color=shades(0.45 + 0.5 * i / max(1, len(levels) - 1)),
                      label=f"{level:.0e} {unit}".replace("e+", "e"))
        if max_tokens is not None:
            ax.axhline(max_tokens, color="black", ls=":", lw=1, label=f"length cap ({max_tokens:,})")
        ax.set_xticks(sizes, [s.name.removeprefix("qwen3-").upper() for s in specs], minor=False)
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_xlabel("model (placed at its parameter count, log scale)")
        ax.set_title(f"iso-{title}")
        ax.legend(title="cost of one trial", fontsize=8.5, loc="lower left")
    axes[0].set_ylabel("generation length (tokens)")
    if max_tokens is not None:
        axes[0].set_ylim(top=1.6 * max_tokens)
    fig.suptitle(f"Iso-cost contours on {hw.name} ({convention} convention, prompt {prompt_tokens} tokens)")
    return fig
