# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# (sec-findings)=
# # Findings: the paper's claims, recomputed
#
# The Kinetics paper {cite:p}`kinetics2025` makes a handful of
# headline claims about test-time scaling on AIME24. This page recomputes each of them
# from the authors' own per-problem tables, with this book's code, when the book is
# built. Each row gives the paper's number, ours in the paper's cost convention with a
# 95% interval from resampling the 30 problems, ours in the book's exact convention, the
# definition we used, what moves the number, and a verdict: **holds**, **holds under
# stated conditions**, or **not supported**. Each claim links to the section that
# defends it.
#
# Unless a row says otherwise: best-of-N, the paper's per-problem oracle allocation, a
# B200.

# %% tags=["parameters"]
hardware = "b200"   # preset (kinetics hardware list); the paper prices a B200
# traces dir or "embedded"; None: $KINETICS_TRACES, data/traces/, then the package
traces = None
n_boot = 1000       # bootstrap resamples of the problems
quick = False       # fewer resamples (CI)

# %% tags=["hide-input"]
# Check every parameter (names, types, ranges) before computing anything: a bad one
# stops here, named.
import kinetics.parameters

kinetics.parameters.check_parameters(globals(), "00_findings.py", positive=["n_boot"])

# %% tags=["hide-input"]
import html

import matplotlib.pyplot as plt
from IPython.display import HTML, Markdown, display

from kinetics import frontier as F
from kinetics import verdicts as V
from kinetics.plots import scaling as plots
from kinetics.traces import load_traces

if quick:
    n_boot = min(n_boot, 200)
table = load_traces(traces)
print(f"traces: {table.attrs['traces_source']}")
found = {conv: {v.claim: v for v in V.verdicts(table, conv, hardware, n_boot=n_boot)}
         for conv in ("paper", "exact")}

# %% [markdown]
# ## The two laws
#
# Left, the old law: cost counted as $2P$ FLOPs per generated token. Right, the Kinetics
# law: eFLOPs, FLOPs plus the bytes moved (mostly the KV cache) times the hardware's
# intensity. Each thin line is one Qwen3 model's best-of-N frontier; the thick band is
# the envelope, coloured by the model that wins at that cost.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The same traces under two prices. Under FLOPs the envelope climbs through the small models; under eFLOPs it jumps early to the large ones.", "name": "fig-findings-laws"}}
sweep = F.sweep(table, hardware, strategies=["best-of-n"], conventions=["paper"])
dense = sweep.per_model("best-of-n", "paper", "dense")
fig = plots.plot_laws(plots.law_panels(dense, "best-of-N"),
                      suptitle="AIME24, best-of-N, paper convention, oracle allocation")
display(fig)
plt.close(fig)

# %% [markdown]
# ## The claims

# %% tags=["hide-input"]
def link(verdict):
    """The claim's key, linked to the section that defends it, over its definition."""
    page, _, anchor = verdict.section.partition("#")
    href = f"{page}.html" + (f"#{anchor}" if anchor else "")
    key = html.escape(verdict.claim).replace("_", "_<wbr>")
    return (f'<a href="{href}"><code>{key}</code></a>'
            f"<br><small>{html.escape(verdict.definition)}</small>")


COLUMNS = {"claim and definition": "27%", "paper": "9%",
           "ours, paper convention": "11%", "ours, exact convention": "11%",
           "verdict (paper convention)": "10%", "sensitivity": "32%"}
cells = []
for key in V.ORDER:
    paper, exact = found["paper"][key], found["exact"][key]
    values = [link(paper), html.escape(paper.paper), html.escape(paper.ours_text()),
              html.escape(exact.ours_text()), f"<b>{html.escape(paper.verdict)}</b>",
              f"<small>{html.escape(paper.sensitivity)}</small>"]
    cells.append("<tr>" + "".join(f"<td>{v}</td>" for v in values) + "</tr>")
head = "".join(f'<th style="width:{w}">{name}</th>' for name, w in COLUMNS.items())
display(HTML('<table style="table-layout:fixed;width:100%;font-size:0.85em">'
             f"<thead><tr>{head}</tr></thead><tbody>{''.join(cells)}</tbody></table>"))

# %% [markdown]
# Intervals are paired bootstraps: both arms of a comparison see the same resample of
# the problems. A maximum over a curve (the `_max` ratios and the low-cost gains) gets a
# percentile interval and is descriptive only; the others get BCa intervals, or
# percentile ones where BCa is undefined (some resamples never reach the accuracy
# compared); `kinetics verdicts --json` names the method of each row (`ci_method`). The
# GPU rows are read from the project's saved benchmark results, with their device and
# date.

# %% tags=["hide-input"]
p, e = found["paper"], found["exact"]
ours = {key: v.ours_text() for key, v in p.items()}
exact = {key: v.ours_text() for key, v in e.items()}
RATIO = "flops_vs_eflops_cost_ratio"
without = p[f"{RATIO}_max_without_smallest_model"]
threshold = p["threshold_model"]
budget, tokens = p["growth_per_doubling_budget"], p["growth_per_doubling_tokens"]
three = "inside" if without.verdict == V.HOLDS else "outside"
band = threshold.sensitivity.split(";")[0]
per_model = budget.sensitivity.split(";")[1].strip()
direction = "reverses" if budget.ours > tokens.ours else "holds"
engine = p["engine_end_to_end_speedup"]
display(Markdown(f"""## What we found

* **"Up to 3x."** Following the FLOPs law costs up to {ours[f"{RATIO}_max"]} the
  eFLOPs of the eFLOPs-optimal choice. That maximum sits where the FLOPs law picks
  the smallest model and only a few problems are solved. Without that model it is
  {ours[f"{RATIO}_max_without_smallest_model"]}, an interval with the paper's 3x
  {three} it. The median over accuracy is {ours[f"{RATIO}_median"]}. Pricing the
  FLOPs-optimal configuration as it is, rather than re-optimised, gives up to
  {ours[f"{RATIO}_max_strict"]}.
* **The 14B threshold**, verdict *{threshold.verdict}*: {threshold.ours} wins when
  the envelope is measured from half of its best accuracy; {band}.
* **Sparse attention.** Oracle top-k gains {ours["oracle_topk_gain_low_cost"]} at
  low cost and {ours["oracle_topk_gain_high_cost"]} at high cost. Block top-k gains
  {ours["blocktopk_gain_low_cost"]} and needs {ours["blocktopk_cost_saving"]} less
  cost at dense's best accuracy. Where each gain is read matters: see the
  sensitivity column.
* **Spend on tokens, not on attention.** Along the cross-model envelope the KV
  budget grows {budget.ours_text()} per doubling of cost and the tokens
  {tokens.ours_text()}, so the paper's ordering {direction} there; {per_model}.
* **On the clock.** In this book's engine on one H200, block top-k decodes
  {engine.ours_text()} the tokens per second of dense attention when the KV cache is
  kept full with the traces' lengths (*{engine.verdict}*): the saving needs long
  contexts and many requests, and part of it is our dense kernel's, which waits for
  the longest request of a batch; at light load, or counting the prefill, it shrinks
  or reverses (sensitivity column).
* **Exact convention.** The largest ratio is {exact[f"{RATIO}_max"]}, the median
  {exact[f"{RATIO}_median"]}, and the threshold is {e["threshold_model"].ours}
  (*{e["threshold_model"].verdict}*).
"""))

# %% [markdown]
# ## Try it
#
# * Rerun this page for another accelerator:
#   `make chapter CH=00 PARAMS="-f parameters/h100.yaml"` (see {doc}`appendix_rerun`).
#   A lower intensity (FLOP/s over bandwidth) prices bytes less, so expect the cost
#   ratios to shrink towards 1.
# * The same table as data: `kinetics verdicts --json` (add `--convention exact`, or
#   `--claim threshold_model` for one row).
