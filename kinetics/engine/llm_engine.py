"""The engine's front door: LLM(...).generate(prompts, params) -> outputs, with statistics of the run."""
from __future__ import annotations

import functools
import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from kinetics.engine import parallel
from kinetics.engine.block_manager import PageAllocator
from kinetics.engine.config import AttentionConfig, EngineConfig, load_model_spec
from kinetics.engine.model_runner import ModelRunner, default_dtype, parse_device, parse_dtype
from kinetics.engine.sampler import sample
from kinetics.engine.scheduler import Scheduler
from kinetics.engine.sequence import PENDING, RequestOutput, SamplingParams, Sequence, Status
from kinetics.errors import InputError

log = logging.getLogger(__name__)


@dataclass
class GenerationStats:
    """What one generate() call did and how long it took."""

    wall_s: float
    requests: int
    rejected: int
    prompt_tokens: int
    generated_tokens: int
    tokens_per_s: float
    steps: int
    prefill_steps: int
    decode_steps: int
    mean_decode_batch: float
    peak_running: int
    preemptions: int
    recomputed_tokens: int
    peak_pages: int
    num_pages: int
    page_size: int
    # per step: requests decoded (0 for a prefill step), KV pages in use and the time the step ended (seconds
    # from the start); left out of as_dict()
    timeline: dict = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("timeline")
        return out


class LLM:
    """Qwen3 (dense or MoE) with a paged KV cache, continuous batching and dense or block top-k attention.

    LLM(model, weights=None, device="cpu", dtype=None, attention=AttentionConfig(), seed=0, **limits)
    model: a kinetics.models.ModelSpec, a config dict, a config.json, a model directory or a preset name.
    llm.config is the ModelSpec.
    weights: a directory of safetensors (None: random weights drawn from `seed`).
    limits: fields of EngineConfig (max_num_seqs, max_num_batched_tokens, max_model_len, num_pages, ...).
    """

    def __init__(self, model, weights=None, device="cpu", dtype=None,
                 attention: AttentionConfig | None = None, seed: int = 0, engine: EngineConfig | None = None,
                 **limits):
        self.config = load_model_spec(model)
        self.attention = attention or AttentionConfig()
        if engine is not None and limits:
            raise InputError("give either engine=EngineConfig(...) or its fields as keywords, not both")
        try:
            self.engine_config = engine or EngineConfig(**limits)
        except TypeError as error:
            raise InputError(f"unknown engine option: {error}") from None
        limit = self.engine_config.max_model_len
        if limit is not None and limit > self.config.max_position_embeddings:
            raise InputError(f"max_model_len {limit} (prompt + new tokens) exceeds the model's max_position_embeddings "
                             f"{self.config.max_position_embeddings} (its config.json): RoPE was not trained past it")
        parallel.shard_config(self.config, self.engine_config.tensor_parallel)   # --tp fits the model's shape
        self.device = parallel.init(self.engine_config.tensor_parallel, parse_device(device))
        self.dtype = parse_dtype(dtype) if dtype is not None else default_dtype(self.device)
        self.seed = seed
        self.runner = ModelRunner(self.config, self.attention, self.engine_config, self.device, self.dtype,
                                  weights=weights, seed=seed)
        self.max_model_len = self.runner.max_model_len
        # whether the host schedules step n + 1 while the device runs step n (tensor parallel stays synchronous)
        wanted = self.engine_config.async_scheduling
        self.async_scheduling = ((wanted if wanted is not None else self.device.type == "cuda")
                                 and self.engine_config.tensor_parallel == 1)
        self.last_stats: GenerationStats | None = None
        self._next_id = 0

    def generate(self, prompts: list[list[int]], params: SamplingParams | list[SamplingParams] | None = None,
                 progress: bool = False) -> list[RequestOutput]:
        """Run every prompt to completion; outputs come back in the order of `prompts`.

        A request that cannot run (empty prompt, token outside the vocabulary, longer than the context limit)
        comes back with .error set and no tokens; the others go on.
        """
        if isinstance(prompts, (str, bytes)) or not isinstance(prompts, (list, tuple)):
            raise InputError("prompts must be a list of token-id lists")
        params = params if params is not None else SamplingParams()
        per_request = list(params) if isinstance(params, (list, tuple)) else [params] * len(prompts)
        if len(per_request) != len(prompts):
            raise InputError(f"{len(per_request)} sampling params for {len(prompts)} prompts")
        allocator = PageAllocator(self.runner.num_pages, self.attention.page_size)
        scheduler = Scheduler(allocator, self.engine_config.max_num_seqs, self.engine_config.max_num_batched_tokens)
        seqs: list[Sequence] = []
        outputs: dict[int, RequestOutput] = {}
        for prompt, p in zip(prompts, per_request):
            if not isinstance(p, SamplingParams):
                raise InputError(f"sampling params must be SamplingParams, got {type(p).__name__}")
            seq = self._new_sequence(list(prompt) if isinstance(prompt, (list, tuple)) else prompt, p)
            seqs.append(seq)
            if seq.error is not None:
                log.warning("request %d rejected: %s", seq.seq_id, seq.error)
                seq.status, seq.finish_reason = Status.FINISHED, "error"
            else:
                scheduler.add(seq)
        total = sum(seq.limit for seq in seqs if seq.error is None)
        bar = _progress(total, progress)
        step_end: list[float] = []      # seconds since start when each step's tokens reached the host
        start = time.perf_counter()

        def finish(step: _InFlight) -> None:
            kept = step.resolve(scheduler, lambda: time.perf_counter() - start)
            step_end.append(time.perf_counter() - start)
            if bar is not None:
                bar.update(kept)

        pending: _InFlight | None = None
        while scheduler.has_work():
            batch = scheduler.schedule()
            if pending is not None and batch.is_prefill:   # a prefill step reads its tokens on the host
                finish(pending)
                pending = None
            step = self._launch(batch, pending)
            scheduler.postprocess(batch)
            if pending is not None:
                finish(pending)        # step n's tokens, read while step n + 1 runs
            pending = step
            if not self.async_scheduling:
                finish(pending)
                pending = None
        if pending is not None:
            finish(pending)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        wall = time.perf_counter() - start
        if bar is not None:
            bar.close()
        for seq in seqs:
            outputs[seq.seq_id] = RequestOutput(
                seq.seq_id, seq.prompt if isinstance(seq.prompt, list) else [], list(seq.output),
                seq.finish_reason, seq.error, seq.preemptions, seq.logits if seq.params.return_logits else None,
                seq.finished_at)
        self.last_stats = self._stats(seqs, scheduler, allocator, wall)
        self.last_stats.timeline["step_end_s"] = step_end
        return [outputs[seq.seq_id] for seq in seqs]

    def _launch(self, batch, previous: _InFlight | None) -> _InFlight:
        """Queue one step on the device: the forward pass, sampling, and the copy of the tokens to the host.
        Decoding requests whose last token `previous` is still sampling read it on the device. Each request
        that samples gets a PENDING token in its place until resolve() fills it."""
        feed = None
        if previous is not None and previous.seqs:
            feed = (previous.tokens, np.asarray([previous.row_of.get(seq.seq_id, -1) for seq in batch.seqs]))
        logits = self.runner.run(batch, feed)
        sampling = [seq for i, seq in enumerate(batch.seqs) if batch.samples(i)]
        index = []
        for seq in sampling:
            index.append(len(seq.output))
            seq.append(PENDING)
        return _InFlight(sampling, index, sample(logits, sampling),
                         logits if any(seq.params.return_logits for seq in sampling) else None)

    def _new_sequence(self, prompt, params: SamplingParams) -> Sequence:
        seq_id = self._next_id
        self._next_id += 1
        seed = params.seed if params.seed is not None else self.seed * 1_000_003 + seq_id
        stop = params.stop_token_ids if params.stop_token_ids is not None else self.config.eos_token_ids
        ok_prompt = prompt if isinstance(prompt, list) else []
        room = self.max_model_len - len(ok_prompt)
        seq = Sequence(seq_id, ok_prompt, params, seed, frozenset(stop), limit=max(min(params.length_limit, room), 1))
        if not isinstance(prompt, list):
            seq.error = f"prompt must be a list of token ids, got {type(prompt).__name__}"
        else:
            seq.error = self.runner.check_request(prompt)
            if seq.error is None and params.forced_length is not None and params.forced_length > room:
                seq.error = (f"prompt {len(prompt)} + forced length {params.forced_length} tokens exceeds the "
                             f"context limit of {self.max_model_len} tokens")
        return seq

    def _stats(self, seqs, scheduler: Scheduler, allocator: PageAllocator, wall: float) -> GenerationStats:
        ran = [s for s in seqs if s.error is None]
        generated = sum(len(s.output) for s in ran)
        prompt_tokens = sum(len(s.prompt) for s in ran)
        st = scheduler.stats
        return GenerationStats(
            wall_s=wall, requests=len(seqs), rejected=len(seqs) - len(ran), prompt_tokens=prompt_tokens,
            generated_tokens=generated, tokens_per_s=generated / wall if wall > 0 else 0.0,
            steps=st.steps, prefill_steps=st.prefill_steps, decode_steps=st.decode_steps,
            mean_decode_batch=(sum(st.batch_sizes) / len(st.batch_sizes)) if st.batch_sizes else 0.0,
            peak_running=st.peak_running, preemptions=st.preemptions,
            recomputed_tokens=st.prefill_tokens - prompt_tokens,
            peak_pages=allocator.peak_used, num_pages=allocator.num_pages, page_size=allocator.page_size,
            timeline={"decode_batch": st.step_batch, "pages_used": st.pages_used})


class _InFlight:
    """A step whose sampled tokens are on their way to the host: row i of `tokens` goes to seqs[i].output[index[i]]."""

    def __init__(self, seqs: list[Sequence], index: list[int], tokens: torch.Tensor, logits: torch.Tensor | None):
        self.seqs, self.index, self.tokens, self.logits = seqs, index, tokens, logits
        self.event = None
        self.host = tokens
        if tokens.is_cuda:       # a non-blocking copy into pinned memory; the event says when it has landed
            self.host = torch.empty(tokens.shape, dtype=tokens.dtype, pin_memory=True)
            self.host.copy_(tokens, non_blocking=True)
            self.event = torch.cuda.Event()
            self.event.record()

    @functools.cached_property
    def row_of(self) -> dict[int, int]:
        """Row of each request's token in `tokens` (only the next step, when it overlaps, asks)."""
        return {seq.seq_id: row for row, seq in enumerate(self.seqs)}

    def resolve(self, scheduler: Scheduler, clock) -> int:
        """Wait for the tokens, put them in place, end the requests they stop; returns how many were kept."""
        if self.event is not None:
            self.event.synchronize()
        kept, finished = 0, Status.FINISHED
        for row, seq, index, token in zip(range(len(self.seqs)), self.seqs, self.index, self.host.tolist()):
            if index >= len(seq.output):
                continue                       # generated past a stop read one step late: dropped
            kept += 1
            if seq.resolve(index, token):
                scheduler.retire(seq)
            if self.logits is not None and seq.params.return_logits:
                seq.logits.append(self.logits[row].cpu())
            if seq.status is finished and seq.finished_at is None:
                seq.finished_at = clock()
        return kept


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="tok", desc="generate", smoothing=0.1)
