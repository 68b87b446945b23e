"""Replay recorded traces through the engine: the same prompts lengths and generation lengths, timed.

A trace table records, per problem, the prompt and how many tokens each sampled trial generated. Replay submits
every trial as a request whose prompt has the recorded length and whose output is forced to the recorded length
(SamplingParams.forced_length): the engine does exactly the work the original run did (prefill, then one decode
step per generated token, with continuous batching and preemption), whatever the weights are. With random weights
the tokens are meaningless, the time is not: it is the wall-clock cost of the workload the eFLOPs model prices.
`length_scale` shrinks every length by the same factor (for a quick run that keeps the shape of the distribution).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from kinetics.errors import InputError


@dataclass
class ReplayProblem:
    query_id: int
    prompt_tokens: int
    gen_tokens: list[int]


@dataclass
class ReplayWorkload:
    model: str
    task: str
    source: str                      # the trace table the lengths come from
    trials: int
    problems: list[ReplayProblem]
    length_scale: float = 1.0
    max_gen_tokens: int | None = None

    @property
    def generated_tokens(self) -> int:
        return sum(sum(p.gen_tokens) for p in self.problems)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, path: str | Path) -> ReplayWorkload:
        try:
            data = json.loads(Path(path).read_text())
            data["problems"] = [ReplayProblem(**p) for p in data["problems"]]
            return cls(**data)
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise InputError(f"{path}: not a replay workload file ({error})") from None


def load_workload(traces=None, model: str = "qwen3-8b", task: str = "aime24", trials: int = 8,
                  max_problems: int | None = None, lengths_from: str = "dense", length_scale: float = 1.0,
                  max_gen_tokens: int | None = None) -> ReplayWorkload:
    """The first `trials` samples of the first `max_problems` problems of one trace table.

    traces: a traces directory (see kinetics.paths.traces_dir) or a workload .json written by `save_workload`.
    lengths_from: "dense" (the dense run's table) or a trace label such as "blocktopk-1024-16" (block top-k,
    budget 1024, blocks of 16), to replay the lengths that setting produced.
    """
    if not (length_scale > 0) or not math.isfinite(length_scale):
        raise InputError(f"length scale must be a positive number, got {length_scale!r}")
    if trials < 1 or (max_problems is not None and max_problems < 1):
        raise InputError("trials and max problems must be >= 1")
    if traces is not None and Path(traces).is_file():
        workload = ReplayWorkload.from_json(traces)
        problems = workload.problems
        source = workload.source
    else:
        table, source = _trace_table(traces, model, task, lengths_from)
        problems = []
        for query_id, group in table.groupby("query_id", sort=True):
            group = group.sort_values("sample_id")
            problems.append(ReplayProblem(int(query_id), int(group["prompt_tokens"].iloc[0]),
                                          [int(g) for g in group["gen_tokens"]]))
    if not problems:
        raise InputError(f"no problems for model {model!r}, task {task!r} in {source}")
    available = min(len(p.gen_tokens) for p in problems)
    if trials > available:
        raise InputError(f"{trials} trials asked for, the traces hold {available} per problem")
    problems = problems[:max_problems] if max_problems else problems
    scaled = []
    for p in problems:
        lengths = np.maximum(1, np.round(np.asarray(p.gen_tokens[:trials]) * length_scale)).astype(int)
        if max_gen_tokens is not None:
            lengths = np.minimum(lengths, max_gen_tokens)
        scaled.append(ReplayProblem(p.query_id, p.prompt_tokens, [int(x) for x in lengths]))
    return ReplayWorkload(model, task, source, trials, scaled, length_scale, max_gen_tokens)


def _trace_table(traces, model: str, task: str, lengths_from: str):
    from kinetics import traces as tr
    from kinetics.models import canonical_name

    want = canonical_name(model)
    kind, budget, block = _parse_lengths_from(lengths_from)
    for path in tr.trace_files(traces):
        try:
            config = tr.parse_trace_name(path)
        except InputError:
            continue
        if (config.task == task and config.model == want and config.attention == kind
                and (kind == "dense" or (config.budget == budget and config.block_size == block))):
            return tr.read_trace_file(path), path.name
    raise InputError(f"no {lengths_from} trace table for model {want!r}, task {task!r} in "
                     f"{str(tr.trace_files(traces)[0].parent.parent)!r}")


def _parse_lengths_from(text: str):
    if text == "dense":
        return "dense", 0, 0
    parts = text.split("-")
    if len(parts) == 3 and parts[0] == "blocktopk" and parts[1].isdigit() and parts[2].isdigit():
        return "blocktopk", int(parts[1]), int(parts[2])
    raise InputError(f"lengths-from must be 'dense' or 'blocktopk-BUDGET-BLOCK', got {text!r}")


def synthetic_prompt(length: int, vocab: int, seed: int) -> list[int]:
    """A prompt of `length` token ids (random but seeded: replay needs the length, not the words)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab, size=length).tolist()


@dataclass
class ReplayResult:
    workload: dict
    attention: dict
    device: str
    problems: int
    requests: int
    generated_tokens: int
    prompt_tokens: int
    wall_s: float
    tokens_per_s: float
    wall_per_problem_s: float
    problem_latency_s: list[float]
    stats: dict
    predicted: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def replay(llm, workload: ReplayWorkload, progress: bool = False, hardware=None) -> ReplayResult:
    """Run the workload through `llm` (an LLM); returns timings, scheduler statistics and the cost model's view."""
    from kinetics.engine import SamplingParams

    prompts, params, owner = [], [], []
    for i, p in enumerate(workload.problems):
        prompt = synthetic_prompt(p.prompt_tokens, llm.config.vocab_size, seed=p.query_id)
        for length in p.gen_tokens:
            prompts.append(prompt)
            params.append(SamplingParams(temperature=0, forced_length=int(length)))
            owner.append(i)
    outputs = llm.generate(prompts, params, progress=progress)
    errors = [o.error for o in outputs if o.error]
    if errors:
        raise InputError(f"{len(errors)} replayed request(s) could not run, e.g.: {errors[0]}")
    stats = llm.last_stats
    latency = [0.0] * len(workload.problems)
    for i, out in zip(owner, outputs):
        latency[i] = max(latency[i], out.finished_at or 0.0)
    result = ReplayResult(
        workload={k: v for k, v in asdict(workload).items() if k != "problems"},
        attention=asdict(llm.attention), device=str(llm.device), problems=len(workload.problems),
        requests=len(prompts), generated_tokens=stats.generated_tokens, prompt_tokens=stats.prompt_tokens,
        wall_s=stats.wall_s, tokens_per_s=stats.tokens_per_s, wall_per_problem_s=stats.wall_s / len(latency),
        problem_latency_s=latency, stats=stats.as_dict())
    if hardware is not None:
        result.predicted = predicted_time(llm, workload, hardware, stats.mean_decode_batch)
    return result


def cost_attention(attention):
    """The cost model's Attention for the engine's AttentionConfig (budget counts every kept page)."""
    from kinetics.cost import Attention

    if attention.kind == "dense":
        return Attention.dense()
    return Attention.blocktopk(attention.budget - attention.budget % attention.page_size,
                               block_size=attention.page_size, dense_layers=attention.dense_layers)


def predicted_time(llm, workload: ReplayWorkload, hardware, batch_size: float) -> dict:
    """What kinetics.cost (exact convention) says the same work takes on `hardware` at the measured batch size."""
    from kinetics import cost
    from kinetics.models import ModelSpec

    spec = ModelSpec.from_config(_hf_config(llm), name=workload.model)
    attention = cost_attention(llm.attention)
    batch = max(batch_size, 1.0)
    seconds = flops = bytes_ = 0.0
    for p in workload.problems:
        c = cost.generation_cost(spec, hardware, p.prompt_tokens, p.gen_tokens, attention=attention,
                                 convention="exact", batch_size=batch)
        seconds += c.seconds
        flops += c.flops
        bytes_ += c.memory_bytes
    return {"seconds": seconds, "flops": flops, "memory_bytes": bytes_, "batch_size": batch,
            "hardware": getattr(hardware, "name", str(hardware)), "convention": "exact", "overlap": "additive",
            "attention": attention.describe()}


def _hf_config(llm) -> dict:
    c = llm.config
    out = {"architectures": [c.architecture], "model_type": "qwen3_moe" if c.is_moe else "qwen3",
           "vocab_size": c.vocab_size, "hidden_size": c.hidden_size, "intermediate_size": c.intermediate_size,
           "num_hidden_layers": c.num_hidden_layers, "num_attention_heads": c.num_attention_heads,
           "num_key_value_heads": c.num_key_value_heads, "head_dim": c.head_dim,
           "tie_word_embeddings": c.tie_word_embeddings}
    if c.is_moe:
        out.update(num_experts=c.num_experts, num_experts_per_tok=c.num_experts_per_tok,
                   moe_intermediate_size=c.moe_intermediate_size)
    return out


# ---- a saturated cache: the steady state of a server that is never short of requests -------------------------------

@dataclass
class SnapshotRequest:
    context: int          # tokens already in the cache when the window starts (prompt + tokens generated so far)
    decode: int           # tokens it generates in the window (fewer when its recorded generation ends first)
    query_id: int
    recorded_gen: int     # its recorded generation length


def saturated_snapshot(workload: ReplayWorkload, num_pages: int, page_size: int, decode_steps: int,
                       fill: float = 0.97, max_seqs: int = 256, seed: int = 0) -> list[SnapshotRequest]:
    """The requests a full KV cache holds in steady state, drawn from the workload's recorded lengths.

    A server that always has requests waiting keeps its cache full of sequences caught at every stage of their
    generation: each draw takes a recorded (prompt, generation) pair and a uniform point of its generation,
    so the request enters with prompt + done tokens cached and decodes what is left, at most `decode_steps`.
    Requests are added while their pages at the end of the window fit in `fill` of the cache (so the window
    never preempts) and at most `max_seqs` run.
    """
    if not 0 < fill <= 1:
        raise InputError(f"fill must be in (0, 1], got {fill!r}")
    pool = [(p.query_id, p.prompt_tokens, g) for p in workload.problems for g in p.gen_tokens]
    rng = np.random.default_rng(seed)
    chosen, pages, room = [], 0, int(fill * num_pages)
    for _ in range(max_seqs):
        query_id, prompt, gen = pool[int(rng.integers(len(pool)))]
        done = int(rng.integers(0, gen))
        request = SnapshotRequest(prompt + done, min(gen - done, decode_steps), query_id, gen)
        need = -(-(request.context + request.decode) // page_size)
        if pages + need > room:
            break
        chosen.append(request)
        pages += need
    if not chosen:
        raise InputError(f"no sequence of the workload fits the KV cache ({num_pages} pages of {page_size} "
                         f"tokens, {fill:.0%} usable): the cache is too small for this model and trace")
    return chosen


def saturated_replay(llm, snapshot: list[SnapshotRequest], seed: int = 0) -> dict:
    """Prefill the snapshot, then decode it: steady-state tokens/s over the decode window and the occupancy.

    Every request is admitted at once (the snapshot fits), its cached context is prefilled (dense, as any
    prefill), then all decode together; the window is every decode step after the last prefill step."""
    from kinetics.engine import SamplingParams

    vocab = llm.config.vocab_size
    prompts = [synthetic_prompt(r.context, vocab, seed=seed * 100_003 + i) for i, r in enumerate(snapshot)]
    params = [SamplingParams(temperature=0, forced_length=r.decode) for r in snapshot]
    outputs = llm.generate(prompts, params)
    errors = [o.error for o in outputs if o.error]
    if errors:
        raise InputError(f"{len(errors)} request(s) of the snapshot could not run, e.g.: {errors[0]}")
    stats = llm.last_stats
    timeline = stats.timeline
    batch, pages, ends = timeline["decode_batch"], timeline["pages_used"], timeline["step_end_s"]
    last_prefill = max(i for i, b in enumerate(batch) if b == 0)
    window = range(last_prefill + 1, len(batch))
    seconds = ends[-1] - ends[last_prefill]
    tokens = sum(batch[i] for i in window)
    occupancy = [pages[i] / stats.num_pages for i in window]
    return {
        "attention": asdict(llm.attention), "requests": len(snapshot), "num_pages": stats.num_pages,
        "page_size": stats.page_size, "snapshot_context_tokens": sum(r.context for r in snapshot),
        "steady": {"decode_steps": len(window), "tokens": tokens, "seconds": seconds,
                   "tokens_per_s": tokens / seconds, "mean_batch": tokens / max(len(window), 1),
                   "occupancy_min": min(occupancy), "occupancy_mean": float(np.mean(occupancy)),
                   "occupancy_max": max(occupancy), "step_ms": list(np.diff(ends[last_prefill:]) * 1e3)},
        "whole": {"wall_s": stats.wall_s, "tokens_per_s": stats.tokens_per_s, "prefill_steps": stats.prefill_steps,
                  "prefill_s": ends[last_prefill], "preemptions": stats.preemptions},
        "timeline": {"decode_batch": batch, "occupancy": [p / stats.num_pages for p in pages],
                     "step_end_s": ends},
        "snapshot": [asdict(r) for r in snapshot],
    }
