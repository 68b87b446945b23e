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
# (ch-scale-out)=
# # Scaling out: one model on two GPUs
#
# The Kinetics authors run every model of their study tensor-parallel over eight GPUs. Our engine ran
# on one. One GPU is where the 32B model hurts first: its weights take 65 GB of bf16, and the 32k-token
# reasoning traces of {doc}`02_scaling_laws` need about 262 KB of KV cache per token, so one H200 holds only a handful of long
# requests. This chapter splits one model over several GPUs the way the authors' engine does, checks that the
# split changes no token, measures it on two H200s, and adds to the cost model of {doc}`01_cost_model` the one
# thing the split adds: communication.
#
# The `parameters` cell names the saved two-GPU results to show and the rank counts to predict; the engine itself
# is the one of {doc}`05_engine_on_traces`.

# %% tags=["parameters"]
quick = False                    # a smaller live check
results_device = "nvidia-h200"   # data/results/<device>/tensor_parallel_tp*.json
hardware = "h200"                # the cost model's ceilings (datasheet preset)
predict_ranks = (1, 2, 4, 8)     # GPUs to predict for (8: the paper's setting)
live_tokens = 24                 # greedy tokens of the live two-process check

# %% tags=["hide-input"]
# Check every parameter (names, types, ranges) before computing anything: a bad one
# stops here, named.
import kinetics.parameters

kinetics.parameters.check_parameters(
    globals(), "06_scale_out.py", positive=["predict_ranks", "live_tokens"]
)

# %% tags=["hide-input"]
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from kinetics import parallel_cost as pc
from kinetics.cost import Attention
from kinetics.engine.loader import save_random_checkpoint
from kinetics.engine.parallel import shard_config
from kinetics.hardware import get_hardware
from kinetics.models import get_model
from kinetics.plots import scale_out as splots
from kinetics.plots.tables import numbered_table

if quick:
    live_tokens = min(live_tokens, 12)

# %% [markdown]
# (sec-scale-split)=
# ## What each GPU holds
#
# `kinetics.engine.parallel` follows Megatron-LM's split ([Shoeybi et al. 2019](https://arxiv.org/abs/1909.08053)),
# as nano-vllm and the authors' engine do. Rank $r$ of $N$ owns a contiguous slice of every weight matrix:
#
# * **attention**: query heads $[rH_q/N, (r+1)H_q/N)$ and the KV heads they read. Each rank owns *whole* KV heads,
#   so its KV pages, its page summaries and its block top-k selection ({doc}`04_block_topk_kernels`) never
#   leave the GPU. q, k and v
#   are *column-parallel* (a slice of output rows); the output projection is *row-parallel* (a slice of input
#   columns), so each rank holds a partial sum of the attention output;
# * **MLP**: gate and up column-parallel, down row-parallel: again a partial sum;
# * **MoE experts**: tensor parallel *inside* each expert (a slice of every expert's intermediate size), with the
#   router replicated, so every rank picks the same experts. Expert parallelism (whole experts per rank) would
#   need an all-to-all each way and leaves ranks idle when a small decode batch picks few experts;
# * **embedding and LM head**: a slice of the vocabulary.
#
# The `--tp` of a model must divide its KV heads; the engine refuses anything else in one line.

# %%
rows = []
for name in ("qwen3-32b", "qwen3-30b-a3b"):
    spec = get_model(name)
    for ranks in (1, 2, 8):
        if spec.num_kv_heads % ranks:
            continue
        local = shard_config(spec, ranks)
        width = local.moe_intermediate_size if spec.is_moe else local.intermediate_size
        rows.append({
            "model": name, "GPUs": ranks, "query heads": local.num_heads,
            "KV heads": local.num_kv_heads, "MLP width": width,
            "vocabulary rows": local.vocab_size,
            "weights (GB)": round(spec.params_total * 2 / ranks / 1e9, 1),
            "KV per token (KB)": round(spec.kv_bytes_per_token() / ranks / 1e3, 1)})
display(numbered_table(pd.DataFrame(rows), "What one GPU holds when a model is split "
                       "over 1, 2 or 8 GPUs (bf16).", "tab-ch6-shards",
                       {"weights (GB)": "{:.1f}", "KV per token (KB)": "{:.1f}"},
                       index=False))

# %% [markdown]
# (sec-scale-traffic)=
# ## What crosses between GPUs
#
# Two partial sums per layer must be added up: one **all-reduce** after attention, one after the MLP, each of the
# $[B, \text{hidden}]$ activations in bf16. The logits leave each rank as a slice of the vocabulary and are
# **all-gathered**, so every rank holds all of them and draws the same token: sampling uses each request's own
# seed, never the rank's. Nothing else moves: no KV, no weights.

# %%
spec32 = get_model("qwen3-32b")
traffic = []
for batch, context in ((4, 16384), (16, 4096)):
    weights = spec32.params_total * 2
    kv = batch * context * spec32.kv_bytes_per_token()
    traffic.append({
        "batch": batch, "context": context, "all-reduces": 2 * spec32.num_layers,
        "KB each": batch * spec32.hidden_size * 2 / 1e3,
        "logits gathered (KB)": batch * spec32.vocab_size * 4 / 1e3,
        "HBM GB each GPU reads": round((weights + kv) / 2 / 1e9, 1)})
traffic = pd.DataFrame(traffic)
display(numbered_table(traffic, "The 32B shape on two GPUs: what crosses between them "
                       "per decode step, beside what each reads from its own memory.",
                       "tab-ch6-traffic", {"KB each": "{:.0f}",
                                           "logits gathered (KB)": "{:,.0f}",
                                           "HBM GB each GPU reads": "{:.1f}"},
                       index=False))
first = traffic.iloc[0]
display(Markdown(
    f"At batch 4 each all-reduce carries {first['KB each']:.0f} KB, against "
    f"{first['HBM GB each GPU reads']} GB each GPU reads from its own memory in the "
    f"same step: the messages are far too small for bandwidth to matter. What they "
    f"cost is *latency*, paid {int(first['all-reduces'])} times per step."))

# %% [markdown]
# (sec-scale-check)=
# ## The same tokens from two processes
#
# `kinetics generate --tp 2` starts two processes the way `torchrun` does (across hosts, start the same command
# under `torchrun --nnodes 2 --nproc-per-node N --rdzv-backend c10d --rdzv-endpoint HOST:PORT`). On a CPU they
# talk through gloo, on GPUs through NCCL; each reads only its slices of the checkpoint's tensors. Below, a tiny
# random dense Qwen3 and a tiny MoE, greedy, on one process and on two. (The tests compare the logits of the
# prompt and of 16 decode steps, dense and block top-k, to 1e-5, and a request preempted under tensor parallel.)

# %%
tiny = {"architectures": ["Qwen3ForCausalLM"], "vocab_size": 256, "hidden_size": 64,
        "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 16, "max_position_embeddings": 256,
        "initializer_range": 0.3}
tiny_moe = {**tiny, "architectures": ["Qwen3MoeForCausalLM"], "num_experts": 8,
            "num_experts_per_tok": 2, "moe_intermediate_size": 32}


def generate(weights: Path, tp: int) -> list[int]:
    """Greedy tokens of `kinetics generate --tp TP` (the CLI starts the ranks)."""
    argv = ["generate", "--weights", str(weights), "--prompt-ids", "3,14,15,92,65",
            "--max-new-tokens", str(live_tokens), "--ignore-eos", "--page-size", "4",
            "--json", "--tp", str(tp)]
    run = subprocess.run([sys.executable, "-m", "kinetics.cli", *argv],
                         capture_output=True, text=True)
    if run.returncode:
        raise RuntimeError(run.stderr)
    return json.loads(run.stdout)["token_ids"]


live = []
models = (("Qwen3 (dense)", tiny), ("Qwen3-MoE", tiny_moe))[:1 if quick else 2]
with tempfile.TemporaryDirectory() as folder:
    for name, config in models:
        weights = save_random_checkpoint(config, Path(folder) / name[:5], seed=1)
        one, two = generate(weights, 1), generate(weights, 2)
        live.append({"model": name, "tokens": len(one), "1 process": one[:8],
                     "2 processes": two[:8], "identical": one == two})
display(numbered_table(pd.DataFrame(live), "Greedy tokens of a tiny random model in "
                       "one process and split over two: the first eight of each.",
                       "tab-ch6-identical", index=False))
assert all(row["identical"] for row in live), "tensor parallel changed a token"

# %% [markdown]
# (sec-scale-measured)=
# ## Measured on two H200s
#
# `python -m kinetics.bench.tensor_parallel` (under `torchrun` for two GPUs) times one decode step, a CUDA-graph
# replay of every layer with its all-reduces plus the LM head, the logits all-gather and the argmax, for the
# Qwen3-32B shape with random weights: batch 4 at 16k tokens and batch 16 at 4k (both fit one GPU), and the
# largest batch each setup can hold at 16k. The Qwen3-30B-A3B (MoE) and Qwen3-4B shapes run at the first two
# points, all with CUDA graphs.

# %%
saved = pc.load_scale_out(results_device)
for ranks, result in sorted(saved.items()):
    prov = result["provenance"]
    display(Markdown(
        f"TP={ranks}: **{prov['device']}** x {ranks}, torch "
        f"{prov['versions']['torch']}, triton {prov['versions']['triton']}, driver "
        f"{prov['gpu'].get('driver')}, {prov['date']}, commit `{prov['commit'][:12]}`; "
        f"command `{prov['command']}`; NVLink multicast off "
        f"(`NCCL_NVLS_ENABLE={result['env'].get('NCCL_NVLS_ENABLE')}`)."))
measured = pc.speedup_rows(saved)
table = pd.DataFrame([{
    "model": r["model"], "attention": r["attention"], "context": r["context"],
    "batch": f"{r['batch_1']} / {r['batch_n']}",
    "ms, 1 GPU": round(r["ms_1"], 2), "ms, 2 GPUs": round(r["ms_n"], 2),
    "tok/s, 1 GPU": round(r["tokens_per_s_1"]),
    "tok/s, 2 GPUs": round(r["tokens_per_s_n"]), "speedup": round(r["speedup"], 2)}
    for r in measured])
display(numbered_table(table, "Decode steps measured on one and on two H200s (batch: "
                       "one GPU / two GPUs).", "tab-ch6-measured",
                       {"ms, 1 GPU": "{:.2f}", "ms, 2 GPUs": "{:.2f}",
                        "tok/s, 1 GPU": "{:,.0f}", "tok/s, 2 GPUs": "{:,.0f}",
                        "speedup": "{:.2f}x"}, index=False))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Decode tokens/s on one H200 and on two; where the batch differs, each setup runs the largest batch its cache holds at 16k tokens.", "name": "fig-ch6-throughput"}}
splots.tp_throughput(measured);

# %% tags=["hide-input"]
def point(model, attention, context, same_batch=True):
    key = (model, attention, context)
    return next(r for r in measured if (r["model"], r["attention"], r["context"]) == key
                and (r["batch_1"] == r["batch_n"]) == same_batch)


dense4 = point("qwen3-32b", "dense", 16384)
big_dense = point("qwen3-32b", "dense", 16384, same_batch=False)
big_sparse = point("qwen3-32b", "blocktopk", 16384, same_batch=False)
moe_ratio = {c: point("qwen3-30b-a3b", "dense", c)["ms_1"]
             / point("qwen3-4b", "dense", c)["ms_1"] for c in (16384, 4096)}
TARGET_TP, TARGET_MOE = 1.7, 2.0


def verdict(ok: bool) -> str:
    return "met" if ok else "missed"


display(numbered_table(pd.DataFrame([
    {"target": f"32B dense, b4 at 16k: 2 GPUs >= {TARGET_TP}x one",
     "measured": f"{dense4['speedup']:.2f}x",
     "verdict": verdict(dense4["speedup"] >= TARGET_TP)},
    *({"target": f"30B-A3B step <= {TARGET_MOE:.0f}x the 4B's, b{b} at {c // 1024}k",
       "measured": f"{moe_ratio[c]:.2f}x",
       "verdict": verdict(moe_ratio[c] <= TARGET_MOE)}
      for b, c in ((4, 16384), (16, 4096))),
    ]), "The two scale-out targets and what was measured.", "tab-ch6-targets",
    index=False))

# %% [markdown]
# The largest gain is not speed but room. The 32B shape on two GPUs holds three times the requests at 16k tokens,
# and block top-k, which barely changes a step when weights dominate it, turns that room into the largest
# throughput of the table. At equal batch the split is well short of twice as fast; {ref}`sec-scale-cost`
# finds out why.
#
# The MoE shape reads only its routed experts, but at batch 16 the requests of a batch pick many different experts
# (with random weights the router spreads them evenly), so the bytes of its step approach those of a dense 30B
# model. The cost model prices both steps by their bytes:

# %% tags=["hide-input"]
h = get_hardware(hardware)
floor = {(name, c): pc.decode_step_seconds(get_model(name), h, Attention.dense(), b,
                                           c)["seconds"] * 1e3
         for name in ("qwen3-30b-a3b", "qwen3-4b") for b, c in ((4, 16384), (16, 4096))}
floor_ratio = {c: floor[("qwen3-30b-a3b", c)] / floor[("qwen3-4b", c)]
               for c in (16384, 4096)}
display(Markdown(
    f"On {h.name}'s datasheet bandwidth the cost model's floor for one step is "
    f"{floor[('qwen3-30b-a3b', 16384)]:.1f} ms (30B-A3B) against "
    f"{floor[('qwen3-4b', 16384)]:.1f} ms (4B) at batch 4 and 16k, a ratio of "
    f"{floor_ratio[16384]:.2f}; at batch 16 and 4k the ratio is "
    f"{floor_ratio[4096]:.2f}. The measured ratios ({moe_ratio[16384]:.2f} and "
    f"{moe_ratio[4096]:.2f}) sit above these floors: the MoE layer adds a routing "
    f"step, a sort and two grouped matrix products of tiny groups, each a few "
    f"microseconds of fixed cost per layer. At batch 16 the target is out of reach by "
    f"bytes alone; at batch 4 it is within reach of fewer, fused MoE kernels."))

# %% [markdown]
# (sec-scale-cache)=
# ## Why the 32B cache was so small
#
# Before this chapter the engine gave the 32B shape on one H200 a cache of about 79k tokens, although the weights
# leave twice that free. The engine loads q, k, v (and gate, up) as separate tensors and then concatenates them
# into one fused matrix each (fewer, larger products). The unfused tensors are freed into PyTorch's caching
# allocator, which keeps them for reuse; the driver's count of free memory, which sizes the cache, does not see
# them. The engine now hands them back (`torch.cuda.empty_cache()`) before counting. The benchmark records what
# was handed back:

# %%
mem_table = pd.DataFrame([pc.cache_sizing(r) for _, r in sorted(saved.items())])
display(numbered_table(mem_table, "Memory per GPU when the engine sizes its cache, "
                       "after the unfused weight tensors are handed back.",
                       "tab-ch6-memory",
                       {c: "{:,.1f}" if "GB" in c else "{:,}" for c in mem_table.columns
                        if c != "GPUs"}, index=False))
mem_table = mem_table.set_index("GPUs")
single = mem_table.loc[1].astype(int)
display(Markdown(
    f"Without the hand-back one H200 would have held "
    f"{single['pages without hand-back']:,} pages of 16 tokens; it now holds "
    f"{single['pages now']:,}, enough for {single['16k requests now']} requests of 16k "
    f"tokens. The reserve is 15% of the card (`gpu_memory_utilization=0.85`) plus room "
    f"for the largest prefill's activations."))

# %% [markdown]
# (sec-scale-cost)=
# ## The cost model with communication
#
# `kinetics.parallel_cost` prices one decode step on $N$ GPUs as
#
# $$ \begin{aligned} t_N &= \frac{t_1^{\text{bytes, FLOPs}}}{N} + n_L\, c
#   + 2 n_L\, t_{\text{all-reduce}}(B\,d\cdot 2, N) \\ &\quad + t_{\text{all-gather}}(4 B V, N), \\
#   t_{\text{coll}}(m, N) &= \alpha + k_N\, m / \beta \end{aligned} $$ (eq-ch6-tp)
#
# with $k_N = 2(N-1)/N$ for an all-reduce and $(N-1)/N$ for an all-gather. The first term is the step of
# {doc}`01_cost_model` split $N$ ways. The second is the fixed cost per layer $c$ of {doc}`05_engine_on_traces`
# (launches and small-kernel latency), which no split shrinks; we fit it to the one-GPU measurement. The link numbers, latency $\alpha$ and bus bandwidth
# $\beta$, come from the same run's NCCL measurements: large all-reduces timed alone, and the step's own 128
# small all-reduces captured in a CUDA graph and replayed alone. We measured two GPUs only: the prediction for
# more assumes $\alpha$ does not grow with $N$ (optimistic for a ring).

# %%
link = pc.link_from_results(saved[max(saved)])
steps = pc.measured_steps(saved, "qwen3-32b")
floor_4 = pc.decode_step_seconds(spec32, h, Attention.dense(), 4, 16384)["seconds"]
per_layer = (steps[(1, 4, 16384)] * 1e-3 - floor_4) / spec32.num_layers
prediction = pc.prediction_table(spec32, h, Attention.dense(), [(4, 16384), (16, 4096)],
                                 predict_ranks, link, per_layer, steps)
display(Markdown(
    f"Fitted link: latency {link.latency_s * 1e6:.1f} µs per collective, bus "
    f"bandwidth {link.bus_bandwidth / 1e9:.0f} GB/s. Fixed cost per layer from the "
    f"one-GPU step: {per_layer * 1e6:.0f} µs."))
display(numbered_table(pd.DataFrame(prediction), "The 32B decode step predicted on 1 "
                       "to 8 GPUs, in its terms, beside the measured step (ms).",
                       "tab-ch6-prediction",
                       {c: "{:.2f}" for c in ("predicted_ms", "split_ms", "fixed_ms",
                                             "comm_ms", "speedup", "measured_ms")},
                       index=False))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The 32B decode step predicted on 1 to 8 GPUs, split into its terms, with the measured steps as black diamonds.", "name": "fig-ch6-prediction"}}
splots.tp_prediction(prediction);

# %% tags=["hide-input"]
two = next(r for r in prediction if r["ranks"] == 2 and r["batch"] == 4)
eight = next(r for r in prediction if r["ranks"] == 8 and r["batch"] == 4)
runs = saved[max(saved)]
alone = {p["all_reduce"]: p["ms"] for p in runs["nccl"]["per_step"]
         if (p["model"], p["batch"]) == ("qwen3-32b", 4)}
in_step = {kind: pc.measured_steps({2: runs}, "qwen3-32b", all_reduce=kind)
           .get((2, 4, 16384)) for kind in alone}
hidden = two["split_ms"] + two["fixed_ms"]
eight_low = eight["split_ms"] + eight["fixed_ms"]
one_gpu = steps[(1, 4, 16384)]
swap = ""
if in_step.get("one_shot"):
    swap = (f" A second all-reduce, one kernel over memory both GPUs can address "
            f"(PyTorch's symmetric memory), halves the all-reduces timed alone "
            f"({alone['nccl']:.2f} to {alone['one_shot']:.2f} ms per step) and leaves "
            f"the step where it was ({in_step['nccl']:.2f} ms with NCCL, "
            f"{in_step['one_shot']:.2f} ms with it).")
display(Markdown(
    f"At batch 4 and 16k on two GPUs the model predicts {two['predicted_ms']:.1f} ms, "
    f"of which {two['comm_ms']:.1f} ms is communication; the clock says "
    f"{two['measured_ms']:.1f} ms, closer to the {hidden:.1f} ms of the split and the "
    f"fixed cost alone. Timed alone, the step's all-reduces take "
    f"{alone['nccl']:.2f} ms, yet inside the step they cost little more than "
    f"nothing.{swap} So the additive communication term is an upper bound here, and "
    f"the missing speedup is the fixed cost per layer: {two['fixed_ms']:.1f} ms that "
    f"two GPUs pay as fully as one. The same model puts eight GPUs at "
    f"{eight_low:.1f}-{eight['predicted_ms']:.1f} ms per step "
    f"({one_gpu / eight['predicted_ms']:.1f}x-{one_gpu / eight_low:.1f}x the one-GPU "
    f"step): at the paper's eight-way split a 32B model decoding at small batch is "
    f"set by latency, not by bytes, which eFLOPs cannot see."))

# %% [markdown]
# (sec-scale-found)=
# ## What we found

# %% tags=["hide-input"]
display(Markdown(
    f"Split over two H200s by KV-head groups, the 32B shape gives the same tokens as "
    f"on one (tested to 1e-5 in fp32 on CPU) and decodes {dense4['speedup']:.2f}x "
    f"faster at batch 4 and 16k, short of the {TARGET_TP}x we aimed for. The cause is "
    f"not communication, which the step hides almost entirely, but a fixed cost of "
    f"about {per_layer * 1e6:.0f} µs per layer that no split divides. The split pays "
    f"in room: two GPUs hold {big_dense['batch_n']} requests of 16k against "
    f"{big_dense['batch_1']}, for {big_dense['speedup']:.1f}x the tokens/s dense and "
    f"{big_sparse['speedup']:.1f}x with block top-k. Fixing how the engine sized its "
    f"cache took one GPU from {single['pages without hand-back']:,} to "
    f"{single['pages now']:,} pages. The MoE shape now runs in CUDA graphs; its step "
    f"is {moe_ratio[16384]:.2f}x the 4B's at batch 4 and 16k."))

# %% [markdown]
# (sec-scale-try)=
# ## Try it
#
# * `make chapter CH=06 PARAMS='-p predict_ranks "[1, 2, 4, 8, 16]"'`: the split term keeps halving,
#   the fixed cost does not; predict where the speedup flattens before you run it.
# * `-p hardware b200`: a faster memory shrinks the split term, so the fixed cost weighs more and the predicted
#   speedup of eight GPUs drops.
# * On a machine with two GPUs: `bash benchmarks/tp_gpu.sh`, then rerun with `-p results_device <your device>`
#   to see your own measurement in place of ours.
