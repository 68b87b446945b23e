"""Figures of chapter 5 (the engine on traces). Each function returns a matplotlib Figure."""
from __future__ import annotations

import numpy as np

from kinetics.plots import ATTENTION_COLORS, model_color, style

ATTENTION_MARKERS = {"dense": "o", "blocktopk": "s"}


def scheduler_timeline(runs: dict):
    """Requests decoded per step and KV pages in use, for each run {label: GenerationStats}."""
    import matplotlib.pyplot as plt

    style()
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7.5, 5.2))
    for i, (label, stats) in enumerate(runs.items()):
        batch = np.asarray(stats.timeline["decode_batch"])
        pages = np.asarray(stats.timeline["pages_used"])
        steps = np.arange(len(batch))
        dash = "-" if i == 0 else (0, (4, 3))   # runs that schedule alike overlap: dashes keep both visible
        line, = top.plot(steps, batch, lw=1.6 if i == 0 else 1.2, ls=dash,
                         label=f"{label} ({stats.preemptions} preemption{'' if stats.preemptions == 1 else 's'})")
        bottom.plot(steps, pages, lw=1.6 if i == 0 else 1.2, ls=dash, color=line.get_color(), label=label)
        prefill = steps[batch == 0]
        top.scatter(prefill, np.zeros_like(prefill), s=6, color=line.get_color(), alpha=0.5)
    any_stats = next(iter(runs.values()))
    bottom.axhline(any_stats.num_pages, color="k", ls="--", lw=0.8, label="cache size")
    top.set_ylabel("requests decoded\n(0 = prefill step)")
    bottom.set_ylabel("KV pages in use")
    bottom.set_xlabel("engine step")
    top.set_title("Continuous batching on a small cache: admission, preemption, drain")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))   # outside: the curves fill the whole axes
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def targets_figure(targets: list[dict]):
    """Engine vs Hugging Face generate vs the decode roofline on the reference workload (0.6B shape, batch 256)."""
    import matplotlib.pyplot as plt

    style()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    batches = [row["batch"] for row in targets]
    x = np.arange(len(batches))
    width = 0.26
    bars = [("Hugging Face generate", [r["hf"]["tokens_per_s"] for r in targets], "#8C8C8C"),
            ("engine, end to end", [r["engine_tokens_per_s"] for r in targets], "#4C72B0"),
            ("engine, decode phase", [r["engine_decode_tokens_per_s"] for r in targets], "#55A868"),
            ("decode roofline", [r["roofline_decode_tokens_per_s"] for r in targets], "#DDDDDD")]
    for i, (label, values, color) in enumerate(bars[:3]):
        ax.bar(x + (i - 1) * width, values, width, label=label, color=color)
        for xi, v in zip(x + (i - 1) * width, values):
            ax.text(xi, v, f"{v / 1e3:.1f}k", ha="center", va="bottom", fontsize=8)
    for xi, roof in zip(x, bars[3][1]):
        ax.hlines(roof, xi - 1.5 * width, xi + 1.5 * width, colors="k", linestyles="--", lw=1)
        ax.text(xi + 1.5 * width, roof, " roofline", va="center", fontsize=8)
    ax.set_xticks(x, [f"batch {b}" for b in batches])
    ax.set_ylabel("generated tokens / s")
    ax.set_title("Qwen3-0.6B shape, prompt 128, 512 forced tokens (random weights)")
    ax.legend(loc="upper left")
    return fig


def replay_figure(replay: list[dict]):
    """Measured vs predicted throughput of the trace replay, per attention setting."""
    import matplotlib.pyplot as plt

    style()
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    labels = [f"{r['attention']['kind']}\npage {r['attention']['page_size']}" +
              (f", budget {r['attention']['budget']}" if r["attention"]["kind"] != "dense" else "") for r in replay]
    measured = [r["tokens_per_s"] for r in replay]
    predicted = [r["generated_tokens"] / r["predicted"]["seconds"] for r in replay]
    x = np.arange(len(replay))
    ax.bar(x - 0.2, measured, 0.4, label="measured", color="#4C72B0")
    ax.bar(x + 0.2, predicted, 0.4, label="cost model (exact, measured ceilings)", color="#DDDDDD",
           edgecolor="#555555")
    for xi, v in zip(x - 0.2, measured):
        ax.text(xi, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, labels)
    ax.set_ylabel("generated tokens / s")
    w = replay[0]["workload"]
    ax.set_title(f"Replay: {replay[0]['problems']} AIME24 problems x {w['trials']} trials of {w['model']}, "
                 f"lengths x {w['length_scale']}")
    ax.set_ylim(0, 1.3 * max(max(measured), max(predicted)))
    ax.legend(loc="upper left", ncols=2)
    return fig


def validation_figure(points: list[dict], calibration=None, calibrated_label: str = "+ per-layer overhead"):
    """Predicted vs measured decode-step time (left) and the relative error by batch size (right).

    `calibration`: anything with .predict(point) -> seconds (validation.Calibration, step_time.StepModel)."""
    import matplotlib.pyplot as plt

    style()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.8))
    measured = np.array([p["measured_s"] for p in points]) * 1e3
    predicted = np.array([p["predicted_s"] for p in points]) * 1e3
    lo, hi = min(measured.min(), predicted.min()) * 0.8, max(measured.max(), predicted.max()) * 1.2
    left.plot([lo, hi], [lo, hi], color="k", lw=0.8, label="prediction = clock")
    for i, p in enumerate(points):
        color = model_color(p["model"])
        marker = ATTENTION_MARKERS.get(p["attention"], "^")
        left.scatter(measured[i], predicted[i], marker=marker, facecolors="none", edgecolors=color, s=28)
        if calibration is not None:
            left.scatter(measured[i], calibration.predict(p) * 1e3, marker=marker, color=color, s=18)
    for model in dict.fromkeys(p["model"] for p in points):
        left.scatter([], [], color=model_color(model), label=model, s=18)
    for kind, marker in ATTENTION_MARKERS.items():
        left.scatter([], [], marker=marker, facecolors="none", edgecolors="k", label=kind, s=28)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("measured decode step (ms)")
    left.set_ylabel("predicted decode step (ms)")
    title = "hollow: roofline (bytes + FLOPs)"
    if calibration is not None:
        title += f"\nfilled: {calibrated_label}"
    left.set_title(title)
    left.legend(fontsize=9, loc="upper left")

    batches = sorted({p["batch"] for p in points})
    for kind in ATTENTION_MARKERS:
        mine = [p for p in points if p["attention"] == kind]
        if not mine:
            continue
        jitter = -0.08 if kind == "dense" else 0.08
        for p in mine:
            err = 100 * (p["predicted_s"] - p["measured_s"]) / p["measured_s"]
            xi = batches.index(p["batch"]) + jitter
            right.scatter(xi, err, marker=ATTENTION_MARKERS[kind], facecolors="none",
                          edgecolors=ATTENTION_COLORS[kind], s=26)
            if calibration is not None:
                cal = 100 * (calibration.predict(p) - p["measured_s"]) / p["measured_s"]
                right.scatter(xi, cal, marker=ATTENTION_MARKERS[kind], color=ATTENTION_COLORS[kind], s=16)
        right.scatter([], [], marker=ATTENTION_MARKERS[kind], color=ATTENTION_COLORS[kind], label=kind)
    right.axhline(0, color="k", lw=0.8)
    right.axhspan(-5, 5, color="#55A868", alpha=0.12, label="within 5%")
    right.set_xticks(range(len(batches)), [str(b) for b in batches])
    right.set_xlabel("batch size (requests per step)")
    right.set_ylabel("prediction error (%)")
    right.set_title("Residuals: the roofline misses a fixed cost per step\n(hollow: roofline"
                    + ("; filled: calibrated on batch 1)" if calibration is not None else ")"))
    right.legend(fontsize=9, loc="lower right")
    return fig


def saturated_figure(rows: list[dict]):
    """A saturated window: KV-cache occupancy (top) and decode step time (bottom), per attention kind."""
    import matplotlib.pyplot as plt

    style()
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7.5, 5.2))
    for row in rows:
        kind = row["attention"]["kind"]
        timeline = row["timeline"]
        decode = [i for i, b in enumerate(timeline["decode_batch"]) if b > 0]
        steps = np.arange(len(row["steady"]["step_ms"]))
        color = ATTENTION_COLORS.get(kind, "#333333")
        top.plot(steps, [timeline["occupancy"][i] for i in decode[:len(steps)]], color=color, lw=1.4,
                 ls="-" if kind == "dense" else (0, (4, 3)), label=kind)
        bottom.plot(steps, row["steady"]["step_ms"], color=color, lw=1.0,
                    label=f"{kind}: {row['steady']['tokens_per_s']:,.0f} tok/s")
    top.axhline(0.9, color="k", ls=":", lw=0.8, label="90% of the cache")
    top.set_ylabel("KV cache occupancy")
    top.set_ylim(0.8, 1.0)
    bottom.set_ylabel("decode step (ms)")
    bottom.set_ylim(0, None)
    bottom.set_xlabel("decode step of the window")
    first = rows[0]
    top.set_title(f"A full cache, {first['model']} shape: {first['requests']} requests at uniform points of "
                  f"their recorded lengths")
    top.legend(loc="lower right", fontsize=9)
    bottom.legend(loc="center right", fontsize=9)
    return fig
