"""Chapter 4 figures: the attention kernels' benchmark (`kinetics bench attention` JSON), one Figure per function."""
from __future__ import annotations

import json
from pathlib import Path

from kinetics.errors import InputError
from kinetics.paths import results_dir

from kinetics.plots import ATTENTION_COLORS

# ours is a block top-k kernel, FlashInfer's decode is dense: each takes its attention kind's colour
OURS, FLASHINFER, ANCHOR, FLOOR = ATTENTION_COLORS["blocktopk"], ATTENTION_COLORS["dense"], "#8172B3", "#555555"


def load_attention(device: str = "nvidia-h100-80gb-hbm3", path: str | Path | None = None) -> dict:
    """A saved `kinetics bench attention` result: data/results/<device>/attention.json (or `path`)."""
    path = Path(path) if path is not None else results_dir(device) / "attention.json"
    if not path.is_file():
        raise InputError(f"no attention benchmark at {path}; run `kinetics bench attention` on a GPU")
    result = json.loads(path.read_text())
    if "shapes" not in result or "provenance" not in result:
        raise InputError(f"{path} is not a `kinetics bench attention` result (no shapes/provenance)")
    return result


def _device(result: dict) -> str:
    return result["provenance"]["device"]


def _label(row: dict) -> str:
    order = "" if row.get("page_order", "shuffled") == "shuffled" else ", contiguous"
    return (f"{row['rows']} x {row['context'] // 1024}k\npage {row['page_size']}, {row['selected_pages']} p."
            f"{order.replace(', contiguous', chr(10) + 'contiguous')}")


def target_rows(result: dict) -> list[dict]:
    """The four reference shapes (group 4, top pages + current page), shuffled pages first."""
    targets = {(2048, 8192, 16, 65), (2048, 32768, 16, 65), (512, 32768, 16, 65), (2048, 32768, 64, 17)}
    rows = [r for r in result["shapes"]
            if (r["rows"], r["context"], r["page_size"], r["selected_pages"]) in targets and r["group"] == 4]
    return sorted(rows, key=lambda r: r.get("page_order", "shuffled") != "shuffled")


BASELINE_NAMES = {"torch": "torch selection", "torch_compiled": "torch.compile'd selection",
                  "flashinfer_topk": "FlashInfer's top-k"}


def baseline(row: dict) -> dict | None:
    """The row's strongest selection + FlashInfer contender (older results: the torch "anchor"), or None.

    {"name", "select_ms", "total_ms", "topk_vs": our block top-k's speedup over it}."""
    if "strongest" in row:
        name, fp8 = row["strongest"].removesuffix("+fp8"), row["strongest"].endswith("+fp8")
        c = (row["fp8"] if fp8 else row)["contenders"][name]
        return {"name": BASELINE_NAMES.get(name, name) + (" (fp8 summaries)" if fp8 else ""),
                "select_ms": c["select"]["median_ms"], "total_ms": row["strongest_ms"],
                "topk_vs": row["topk_vs_strongest"]}
    if "anchor_total" in row:
        return {"name": "torch anchor", "select_ms": row["anchor_select"]["median_ms"],
                "total_ms": row["anchor_total"]["median_ms"], "topk_vs": row["topk_vs_anchor"]}
    return None


def target_summary(result: dict) -> dict:
    """Ranges over the four reference shapes (shuffled pages): dense vs FlashInfer, top-k over floor, top-k vs the
    strongest contender, our sparse decode vs FlashInfer's over the same pages."""
    rows = [r for r in target_rows(result) if r.get("page_order", "shuffled") == "shuffled"]

    def span(values):
        values = [v for v in values if v is not None]
        return (min(values), max(values)) if values else (float("nan"), float("nan"))

    return {"dense_vs_flashinfer": span(r.get("dense_vs_flashinfer") for r in rows),
            "topk_over_floor": span(r["topk_over_floor"] for r in rows),
            "topk_vs_strongest": span((baseline(r) or {}).get("topk_vs") for r in rows),
            "select_share": span(r["select_share"] for r in rows),
            "sparse_attn_vs_flashinfer": span(r.get("sparse_attn_vs_flashinfer") for r in rows),
            "speedup_vs_flashinfer_dense": span(r.get("speedup_topk_vs_flashinfer_dense") for r in rows)}


def speedup_vs_context(result: dict, rows: int = 512, page: int = 16):
    """Block top-k (selection included) and the strongest contender, as speedups over FlashInfer's dense decode."""
    import matplotlib.pyplot as plt

    points = sorted((r for r in result["shapes"] if r["rows"] == rows and r["page_size"] == page
                     and r["group"] == 4 and r.get("page_order", "shuffled") == "shuffled"
                     and r["selected_pages"] in (64, 65) and baseline(r)), key=lambda r: r["context"])
    if len(points) < 3:
        raise InputError(f"no context sweep at {rows} rows, page {page} in this result")
    ctx = [r["context"] for r in points]
    fig, ax = plt.subplots()
    ax.plot(ctx, [r["bytes_floor_ratio"] for r in points], "--", color=FLOOR, label="bytes ratio (ideal)")
    ax.plot(ctx, [r["speedup_topk_vs_flashinfer_dense"] for r in points], "o-", color=OURS,
            label="ours: selection kernel + sparse decode")
    ax.plot(ctx, [r["flashinfer_dense"]["median_ms"] / baseline(r)["total_ms"] for r in points], "s-",
            color=ANCHOR, label="strongest baseline: selection + FlashInfer")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ctx, [f"{c // 1024}k" for c in ctx])
    ax.set_xlabel("context (tokens per row)")
    ax.set_ylabel("speedup over FlashInfer dense decode (x)")
    ax.set_title(f"Block top-k, {rows} rows, page {page}, ~1k-token budget\n{_device(result)}")
    ax.legend()
    return fig


def bandwidth_vs_ceiling(result: dict):
    """Achieved TB/s of each kernel at the four reference shapes against the copy and FlashInfer ceilings."""
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [r for r in target_rows(result) if r.get("page_order", "shuffled") == "shuffled"]
    series = [("ours dense", "ours_dense", OURS, None), ("FlashInfer dense", "flashinfer_dense", FLASHINFER, None),
              ("ours selection", "ours_select", "#DD8452", "//"), ("ours sparse attention", "ours_sparse_attn",
                                                                  "#55A868", "//"),
              ("ours block top-k (all bytes)", "ours_topk", "#937860", None)]
    x = np.arange(len(rows))
    width = 0.16
    fig, ax = plt.subplots(figsize=(9, 5))
    for i, (name, key, color, hatch) in enumerate(series):
        values = [r[key]["tbps"] if key in r and "tbps" in r[key] else np.nan for r in rows]
        ax.bar(x + (i - 2) * width, values, width, label=name, color=color, hatch=hatch)
    ax.axhline(result["copy_tbps"], color="black", lw=1, label=f"device copy {result['copy_tbps']:.2f} TB/s")
    ax.axhline(result["ceiling_tbps"], color=FLOOR, ls="--", lw=1,
               label=f"ceiling ({result.get('ceiling_source', 'best dense decode').split(',')[0]}) "
                     f"{result['ceiling_tbps']:.2f} TB/s")
    ax.set_xticks(x, [_label(r) for r in rows], fontsize=9)
    ax.set_ylabel("achieved bandwidth (TB/s)")
    ax.set_ylim(0, 1.45 * max(result["ceiling_tbps"], result["copy_tbps"]))
    ax.set_title(f"Bytes each kernel must move / its time ({_device(result)})")
    ax.legend(fontsize=8.5, loc="upper center", ncol=3)
    return fig


def time_breakdown(result: dict):
    """Selection vs attention time: ours against the strongest contender (a selection + FlashInfer), with the
    bytes floor.

    The four reference shapes with shuffled pages (the chapter tabulates their contiguous copies)."""
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [r for r in target_rows(result) if r.get("page_order", "shuffled") == "shuffled"]
    x = np.arange(len(rows))
    width = 0.35
    fig, ax = plt.subplots(figsize=(9, 5.2))
    sel = [r["ours_select"]["median_ms"] for r in rows]
    total = [r["ours_topk"]["median_ms"] for r in rows]
    ax.bar(x - width / 2, sel, width, color="#DD8452", label="ours: selection (scores + radix top-k)")
    ax.bar(x - width / 2, np.subtract(total, sel), width, bottom=sel, color=OURS,
           label="ours: sparse attention (rest of the measured total)")
    base = [baseline(r) for r in rows]
    if all(base):
        a_sel = [b["select_ms"] for b in base]
        a_tot = [b["total_ms"] for b in base]
        ax.bar(x + width / 2, a_sel, width, color="#CCB974", label="strongest baseline: its selection")
        ax.bar(x + width / 2, np.subtract(a_tot, a_sel), width, bottom=a_sel, color=FLASHINFER,
               label="strongest baseline: FlashInfer sparse decode")
    for i, r in enumerate(rows):
        ax.plot([i - 0.45, i + 0.45], [r["floor_topk_ms"]] * 2, color="black", lw=1.5,
                label="bytes floor" if i == 0 else None)
        top = max(total[i], (base[i] or {}).get("total_ms", 0))   # above both bars: no overlap
        ax.text(i, top, f"{r['topk_over_floor']:.2f}x floor\n{100 * r['select_share']:.0f}% select",
                ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, [_label(r) for r in rows], fontsize=9.5)
    ax.set_ylabel("time per decode step (ms)")
    ax.set_ylim(0, max(max(total), max((b or {}).get("total_ms", 0) for b in base)) * 1.25)
    ax.set_title(f"Block top-k decode: where the time goes ({_device(result)})")
    ax.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)  # below: the bars stay clear
    return fig


def layer_throughput(result: dict):
    """One Qwen3-8B decoder layer split per KV head, decode tokens/s per GPU in the authors' metric."""
    import matplotlib.pyplot as plt
    import numpy as np

    rows = result.get("layer") or []
    if not rows:
        raise InputError("this result has no layer benchmark (it was run with --no-layer)")
    x = np.arange(len(rows))
    fig, ax = plt.subplots()
    ax.bar(x - 0.2, [r["dense_tokens_per_s"] for r in rows], 0.4, color=FLASHINFER, label="dense (ours)")
    ax.bar(x + 0.2, [r["block_topk_tokens_per_s"] for r in rows], 0.4, color=OURS,
           label=f"block top-k, {rows[0]['budget_tokens']} tokens")
    for i, r in enumerate(rows):
        ax.text(i + 0.2, r["block_topk_tokens_per_s"], f"{r['speedup']:.1f}x", ha="center", va="bottom")
    ax.set_xticks(x, [f"batch {r['batch']}\n{r['context'] // 1024}k ctx" for r in rows])
    ax.set_ylim(0, 1.15 * max(max(r["block_topk_tokens_per_s"], r["dense_tokens_per_s"]) for r in rows))
    ax.set_ylabel("decode tokens/s per GPU (authors' metric)")
    ax.set_title(f"Qwen3-8B layer / 8 GPUs, dense vs block top-k ({_device(result)})")
    ax.legend()
    return fig


def page_size_tradeoff(page_sizes, traffic: list[dict], recall: dict[str, list[float]]):
    """Left: bytes per row (selected KV + metadata) vs page size; right: attention mass kept vs page size."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    left.bar([str(p) for p in page_sizes], [t["selected_kv"] / 2**20 for t in traffic], color=OURS,
             label="K and V of the selected pages")
    left.bar([str(p) for p in page_sizes], [t["metadata"] / 2**20 for t in traffic],
             bottom=[t["selected_kv"] / 2**20 for t in traffic], color="#DD8452", label="one mean key per page")
    left.set_xlabel("page size (tokens)")
    left.set_ylabel("bytes read per row and step (MiB)")
    left.set_title("Metadata shrinks with the page")
    left.legend(fontsize=9)
    for kind, values in recall.items():
        right.plot(page_sizes, values, "o-", label=f"{kind} selector")
    right.set_xscale("log", base=2)
    right.set_xticks(page_sizes, [str(p) for p in page_sizes])
    right.set_xlabel("page size (tokens)")
    right.set_ylabel("attention mass kept (share)")
    right.set_title("Precision falls with the page")
    right.legend(fontsize=9)
    return fig
