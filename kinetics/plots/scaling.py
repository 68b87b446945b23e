"""Figures of chapters 2 and 3: frontiers, envelopes coloured by the winning model, iso-cost maps, cost ratios,
sparse-vs-dense envelopes and the growth of the optimal KV budget. Each function returns a matplotlib Figure."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from kinetics.plots import ATTENTION_COLORS, MODEL_COLORS, attention_color, attention_shades, model_color, style

ATTENTION_STYLES = {"dense": "-", "topk": "--", "blocktopk": ":"}
ATTENTION_NAMES = {"dense": "dense", "topk": "oracle top-k", "blocktopk": "block top-k"}
# Envelope curves by kind: attention (chapter 3) or allocation (chapter 2); none of these is a model colour.
CURVE_COLORS = {**ATTENTION_COLORS,
                "oracle": "#333333", "oracle-mean": "#E69F00", "deployable": "#0072B2"}
CURVE_STYLES = {**ATTENTION_STYLES, "oracle": "-", "oracle-mean": "--", "deployable": ":"}


def _figure(ncols: int = 1, width: float = 7.5, height: float = 4.5, nrows: int = 1):
    """A styled figure and its axes: a list (one row) or, with nrows > 1, a (rows, cols) array."""
    import matplotlib.pyplot as plt

    style()
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    return fig, (list(axes[0]) if nrows == 1 else axes)


def _model_color(model: str) -> str:
    return model_color(model)


def _cost_label(unit: str, per: str = "problem") -> str:
    return f"cost per {per} ({unit}, log scale)"


def draw_envelope(ax, env: pd.DataFrame, linewidth: float = 5.0, alpha: float = 0.35, label: bool = True) -> None:
    """The envelope as thick segments, each coloured by the model that wins there (legend: 'wins: MODEL')."""
    cost, accuracy, model = env["cost"].to_numpy(), env["accuracy"].to_numpy(), env["model"].to_numpy()
    seen, i, n = set(), 0, len(env)
    while i < n:
        j = i
        while j + 1 < n and model[j + 1] == model[i]:
            j += 1
        if model[i] is not None:
            stop = min(j + 1, n - 1)   # run on to the next point so the segments join
            name = f"wins: {model[i]}" if label and model[i] not in seen else None
            seen.add(model[i])
            ax.step(cost[i:stop + 1], 100 * accuracy[i:stop + 1], where="post", color=_model_color(model[i]),
                    linewidth=linewidth, alpha=alpha, solid_capstyle="butt", label=name)
        i = j + 1


def draw_frontiers(ax, frontiers, grid: np.ndarray, color_by: str = "model", bounds: bool = True) -> None:
    """One step line per setting; a shaded band between the long-CoT bounds where they differ."""
    budgets = sorted({f.config.budget for f in frontiers if f.config.attention != "dense"})
    for f in frontiers:
        config = f.config
        if color_by == "budget":   # a budget is a shade of its attention kind's colour
            shades = attention_shades(config.attention, len(budgets))
            color = shades[budgets.index(config.budget)] if config.attention != "dense" else \
                attention_color("dense")
            name = "dense" if config.attention == "dense" else f"B = {config.budget}"
        else:
            color = _model_color(config.model)
            name = config.model if config.attention == "dense" else config.label
        ax.step(grid, 100 * f.at(grid), where="post", color=color, linewidth=1.4,
                linestyle=ATTENTION_STYLES.get(config.attention, "-"), label=name)
        if bounds and f.steps["low"] is not f.steps["estimate"]:
            ax.fill_between(grid, 100 * f.at(grid, "low"), 100 * f.at(grid, "high"), step="post", color=color,
                            alpha=0.12, linewidth=0)


def plot_frontiers(frontiers, grid: np.ndarray, env: pd.DataFrame | None = None, title: str | None = None,
                   unit: str = "eFLOP", color_by: str = "model"):
    """Frontiers of several settings and, if given, their envelope coloured by the winning model."""
    fig, (ax,) = _figure()
    if env is not None:
        draw_envelope(ax, env)
    draw_frontiers(ax, frontiers, grid, color_by)
    ax.set_xscale("log")
    ax.set_xlabel(_cost_label(unit))
    ax.set_ylabel("accuracy on AIME24 (%)")
    ax.set_ylim(0, 100)
    if len(frontiers) > 12:   # many settings: the legend goes beside the axes
        fig.set_size_inches(11, 5.5)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), ncol=2, fontsize=7)
    else:
        ax.legend(loc="upper left", ncol=2, fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def _model_legend(fig, axes, ncol: int = 4) -> None:
    """One legend for the whole figure, under the panels: a line per model (frontier) and one entry explaining
    the envelope band, so no legend sits on the data and no entry repeats."""
    from matplotlib.lines import Line2D

    handles, labels = [], []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels and not label.startswith("wins: "):
                handles.append(handle)
                labels.append(label)
    handles.append(Line2D([], [], color="grey", linewidth=6, alpha=0.35))
    labels.append("envelope (best model at each cost; band coloured by the winner)")
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, fontsize=10,
               bbox_to_anchor=(0.5, 0.0))


LAW_NAMES = {"flops": "old law: FLOPs = 2 P x tokens", "eflops": "Kinetics law: eFLOPs"}
UNITS = {"flops": "FLOP", "flops-attn": "FLOP", "eflops": "eFLOP"}


def law_panels(per_model, label: str, allocation: str = "oracle", points: int = 200,
               metrics: Sequence[str] = ("flops", "eflops")) -> list[dict]:
    """The panels of `plot_laws` for one strategy: each model's frontier and the envelope under each metric."""
    from kinetics import frontier as F

    panels = []
    for metric in metrics:
        frontiers = [F.frontier(c, metric, allocation) for c in per_model]
        grid = F.cost_grid(frontiers, points)
        panels.append({"frontiers": frontiers, "grid": grid, "env": F.envelope(frontiers, grid),
                       "title": f"{label}, {LAW_NAMES.get(metric, metric)}", "unit": UNITS[metric],
                       "metric": metric})
    return panels


def plot_laws(panels: Sequence[Mapping], suptitle: str | None = None):
    """Side-by-side frontier panels (e.g. the old law under FLOPs, the Kinetics law under eFLOPs).

    Each panel: {"frontiers", "grid", "env", "title", "unit"}. One legend under the panels: the frontier of each
    model in its book colour, and the envelope, drawn as a translucent band in the colour of the winning model.
    """
    fig, axes = _figure(len(panels), width=5.0 * len(panels), height=5.0)
    for ax, panel in zip(axes, panels):
        draw_envelope(ax, panel["env"])
        draw_frontiers(ax, panel["frontiers"], panel["grid"], panel.get("color_by", "model"))
        ax.set_xscale("log")
        ax.set_xlabel(_cost_label(panel.get("unit", "eFLOP")))
        ax.set_ylabel("accuracy on AIME24 (%)")
        ax.set_ylim(0, 100)
        ax.set_title(panel.get("title", ""), fontsize=10.5)
    fig.set_layout_engine(None)
    fig.tight_layout(rect=(0, 0.13, 1, 0.95 if suptitle else 1))
    _model_legend(fig, axes)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_iso_cost(table: pd.DataFrame, knob: str, knob_label: str, metrics: Sequence[str] = ("flops", "eflops"),
                  titles: Sequence[str] | None = None, units: Sequence[str] = ("FLOP", "eFLOP")):
    """Accuracy over model size x knob (trials or length budget), with iso-cost marks of each metric.

    `table`: columns model, params, `knob`, accuracy, and one column per metric (mean cost per problem). The model
    axis is categorical, so an iso-cost level is marked inside each model's column (where that model's cost crosses
    it, interpolated along the knob) and never joined across models. Marks low in a column: that model reaches the
    level with few trials or tokens; a level absent from a column: the model is dearer than it at every knob.
    """
    from matplotlib import cm, colors

    fig, axes = _figure(len(metrics), width=6.6 * len(metrics), height=4.6)
    fig.set_layout_engine("constrained")
    models = table.sort_values("params")["model"].unique().tolist()
    knobs = sorted(table[knob].unique())
    acc = table.pivot_table(index=knob, columns="model", values="accuracy").reindex(index=knobs, columns=models)
    x, y = np.arange(len(models)), np.arange(len(knobs))
    for i, (ax, metric) in enumerate(zip(axes, metrics)):
        mesh = ax.pcolormesh(x, y, 100 * acc.to_numpy(), shading="nearest", cmap="Greys", vmin=0, vmax=100)
        cost = table.pivot_table(index=knob, columns="model", values=metric).reindex(index=knobs, columns=models)
        logs = np.log10(cost.to_numpy())
        finite = logs[np.isfinite(logs)]
        levels = np.arange(np.floor(finite.min() * 2) / 2, np.ceil(finite.max() * 2) / 2 + 0.01, 0.5)
        norm = colors.Normalize(levels.min(), levels.max())
        for column in range(len(models)):
            ok = np.isfinite(logs[:, column])
            if ok.sum() < 2:
                continue
            for level in levels:
                if logs[ok, column].min() <= level <= logs[ok, column].max():
                    row = np.interp(level, logs[ok, column], y[ok])
                    ax.plot([column - 0.42, column + 0.42], [row, row], color=cm.plasma(norm(level)), linewidth=2.0)
        ax.set_xticks(x, [m.replace("qwen3-", "") for m in models])
        ax.set_yticks(y, [f"{k:g}" for k in knobs])
        if len(knobs) > 12:
            for label in ax.get_yticklabels()[1::2]:
                label.set_visible(False)
        ax.set_xlabel("Qwen3 model size")
        ax.set_ylabel(knob_label)
        ax.grid(False)
        title = titles[i] if titles else f"iso-{metric} marks ({units[i]}, log10)"
        ax.set_title(title)
        fig.colorbar(mesh, ax=ax, label="accuracy (%)", fraction=0.05)
        fig.colorbar(cm.ScalarMappable(norm=norm, cmap="plasma"), ax=ax, label=f"log10 {units[i]} per problem",
                     fraction=0.05)
    return fig


def plot_optimal_choice(panels: Mapping[str, tuple], knob_label: str, title: str | None = None):
    """The paper's Fig. 3 (b, d): along each envelope, the optimal model size and the mean k or G its oracle picks,
    against the budget. `panels`: law name -> (optimal_allocation table, cost unit); one row of two axes each."""
    from matplotlib.ticker import NullFormatter

    fig, axes = _figure(2, width=10.0, height=3.3 * len(panels), nrows=len(panels))
    axes = np.atleast_2d(axes)
    for row, (name, (table, unit)) in zip(axes, panels.items()):
        for ax, column, label in ((row[0], "params", "optimal model (parameters)"), (row[1], "knob", knob_label)):
            for model, part in table.groupby("model", sort=False):
                ax.scatter(part["cost"], part[column], s=9, color=_model_color(model), label=model, zorder=3)
            ax.step(table["cost"], table[column], where="post", color="#999999", linewidth=0.8)
            ax.set_xscale("log")
            ax.set_xlabel(_cost_label(unit))
            ax.set_ylabel(label)
            ax.set_title(name, fontsize=10.5)
        row[0].set_yscale("log")
        sizes = sorted(table["params"].dropna().unique())
        row[0].set_yticks(sizes, [f"{v / 1e9:.1f}B" for v in sizes])
        row[0].yaxis.set_minor_formatter(NullFormatter())
    handles = {}
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    handles = dict(sorted(handles.items(), key=lambda item: list(MODEL_COLORS).index(item[0])
                          if item[0] in MODEL_COLORS else 99))
    fig.set_layout_engine(None)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95 if title else 1))
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=6, frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def plot_kv_vs_params(models: Sequence, kv_dtype_bytes: float = 2):
    """KV bytes per token against parameters, log-log, with the fitted growth per doubling of parameters."""
    fig, (ax,) = _figure(height=4.2)
    params = np.array([m.params_total for m in models], dtype=float)
    kv = np.array([m.kv_bytes_per_token(kv_dtype_bytes) for m in models], dtype=float)
    slope = np.polyfit(np.log2(params), np.log2(kv), 1)
    for m, p, k in zip(models, params, kv):
        ax.scatter(p, k / 1024, s=40, color=_model_color(m.name), label=m.name, zorder=3)
    ax.plot(params, 2 ** np.polyval(slope, np.log2(params)) / 1024, color="#777777", linestyle="--",
            label=f"fit: x{2 ** slope[0]:.2f} per doubling of parameters")
    ax.plot(params, kv[0] * params / params[0] / 1024, color="#BBBBBB", linestyle=":", label="proportional to P")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel(f"KV cache per token (KiB, {kv_dtype_bytes:g} bytes/element)")
    ax.legend(loc="upper left", fontsize=8.5, frameon=False)
    return fig


def plot_gain_curves(curves: Mapping[str, tuple], marks: Mapping[str, float] | None = None, unit: str = "eFLOP",
                     title: str | None = None):
    """Accuracy gain of sparse over dense (points) against cost per problem, one line per case; `marks`: the
    paper's numbers as horizontal lines (label -> points)."""
    fig, (ax,) = _figure(height=4.6)
    for i, (name, (grid, gain, kind)) in enumerate(curves.items()):
        ax.plot(grid, 100 * gain, color=CURVE_COLORS.get(kind, f"C{i}"), linestyle=["-", "--", ":", "-."][i % 4],
                linewidth=1.6, label=name)
    for i, (label, points) in enumerate((marks or {}).items()):
        ax.axhline(points, color="#999999", linewidth=0.9, linestyle=[(0, (4, 2)), (0, (1, 2)), "-."][i % 3],
                   label=label)
    ax.axhline(0, color="black", linewidth=0.7)
    ax.set_xscale("log")
    ax.set_xlabel(_cost_label(unit))
    ax.set_ylabel("accuracy gain over dense (points)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False, fontsize=8.5)
    if title:
        ax.set_title(title)
    return fig


RATIO_STYLE = {"best-of-N": "#222222", "long CoT": "#0072B2"}   # strategy -> colour (not a model colour)


def plot_cost_ratio(ratios: Mapping[str, object], title: str | None = None):
    """Cost of the FLOPs-optimal choice over the eFLOPs-optimal one, per accuracy level, one line per case.

    Case names "STRATEGY, ALLOCATION" take the strategy's colour and a solid (oracle) or dotted (deployable) line;
    the legend sits under the axes."""
    from matplotlib.ticker import FormatStrFormatter

    fig, (ax,) = _figure(height=5.0)
    for i, (name, ratio) in enumerate(ratios.items()):
        strategy, _, allocation = name.partition(", ")
        ax.plot(100 * ratio.levels, ratio.ratio, marker=".", markersize=3, linewidth=1.4,
                color=RATIO_STYLE.get(strategy, f"C{i}"), linestyle=":" if allocation == "deployable" else "-",
                label=f"{name}: max {ratio.max_ratio.estimate:.2f}x")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(3.0, color="black", linewidth=1.0, linestyle="--", label="paper (Fig. 1): up to 3x")
    ax.set_xlabel("accuracy level (%)")
    ax.set_ylabel("eFLOPs of FLOPs-optimal choice\n/ least eFLOPs (log scale)")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%gx"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%gx"))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    if title:
        ax.set_title(title)
    return fig


def draw_envelopes(ax, curves: Mapping[str, tuple], unit: str = "eFLOP", marks: Sequence[tuple] = ()) -> None:
    """Envelope curves on one axes. curves: label -> (grid, accuracy, kind); kind "dense", "topk" or "blocktopk"
    sets the book's colour and line style for that attention, anything else takes the next colour.
    marks: (cost, accuracy, text) annotations, or (cost, lower, upper, text) for a gap."""
    for label, (grid, accuracy, kind) in curves.items():
        ax.step(grid, 100 * np.asarray(accuracy), where="post", linewidth=2.0, color=CURVE_COLORS.get(kind, None),
                linestyle=CURVE_STYLES.get(kind, "-"), label=label)
    for mark in marks:
        if len(mark) == 4:   # (cost, lower accuracy, upper accuracy, text): a gap drawn as a vertical arrow
            cost, low, high, text = mark
            ax.annotate("", xy=(cost, 100 * high), xytext=(cost, 100 * low),
                        arrowprops={"arrowstyle": "<->", "color": "grey", "linewidth": 1.2})
            ax.annotate(text, (cost, 50 * (low + high)), xytext=(6, 0), textcoords="offset points", fontsize=9,
                        va="center")
        else:
            cost, accuracy, text = mark
            ax.annotate(text, (cost, 100 * accuracy), xytext=(8, -14), textcoords="offset points", fontsize=8,
                        arrowprops={"arrowstyle": "-", "color": "grey"})
    ax.set_xscale("log")
    ax.set_xlabel(_cost_label(unit))
    ax.set_ylabel("accuracy on AIME24 (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="upper left", fontsize=8.5)


def plot_envelopes(curves: Mapping[str, tuple], unit: str = "eFLOP", title: str | None = None,
                   marks: Sequence[tuple] = ()):
    """Envelopes (over models) on one axes (`draw_envelopes`)."""
    fig, (ax,) = _figure()
    draw_envelopes(ax, curves, unit, marks)
    if title:
        ax.set_title(title)
    return fig


def plot_envelope_panels(panels: Mapping[str, Mapping[str, tuple]], unit: str = "eFLOP"):
    """Envelopes side by side, one panel per title (e.g. best-of-N next to long CoT)."""
    fig, axes = _figure(len(panels), width=5.2 * len(panels), height=4.6)
    for ax, (title, curves) in zip(axes, panels.items()):
        draw_envelopes(ax, curves, unit)
        ax.set_title(title, fontsize=10.5)
    return fig


def plot_growth(growths: Mapping[str, object], unit: str = "eFLOP", title: str | None = None):
    """Mean KV budget and generated tokens the oracle picks, against cost, per model (log-log, with the fits).
    One legend under both panels: a model per colour, solid the oracle's choice, dashed its log-log fit."""
    from matplotlib.lines import Line2D

    fig, axes = _figure(2, width=10.0, height=4.8)
    for model, growth in growths.items():
        color = _model_color(model)
        for ax, values in ((axes[0], growth.budget), (axes[1], growth.tokens)):
            ax.plot(growth.grid, values, color=color, linewidth=1.6, label=model)
            fit = np.polyfit(np.log2(growth.grid), np.log2(values), 1)
            ax.plot(growth.grid, 2 ** np.polyval(fit, np.log2(growth.grid)), color=color, linewidth=0.9,
                    linestyle="--")
    for ax, label in ((axes[0], "mean KV budget chosen (keys)"),
                      (axes[1], "mean generated tokens per problem\n(all trials)")):
        ax.set_xscale("log")
        ax.set_yscale("log", base=2)
        ax.set_xlabel(_cost_label(unit))
        ax.set_ylabel(label)
    axes[0].set_title("KV budget")
    axes[1].set_title("generated tokens")
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], color="grey", linestyle="--", linewidth=0.9))
    labels.append("log-log fit")
    fig.set_layout_engine(None)
    fig.tight_layout(rect=(0, 0.14, 1, 0.95 if title else 1))
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), frameon=False, fontsize=10)
    if title:
        fig.suptitle(title)
    return fig
