"""Continuous batching: which requests run in the next forward pass, and with how many tokens each.

Each step is either a prefill step (chunks of prompts, at most max_num_batched_tokens tokens in all) or a decode
step (one token for every running request). Prefill goes first, so new requests join the running batch as soon as
pages allow; a long prompt is cut into chunks spread over several steps. Admission needs free pages for the whole
current length of the request. When a decoding request needs a new page and none is free, the most recently
admitted request is preempted: its pages are freed and it goes back to the front of the queue, to be recomputed
later. Nothing is ever dropped.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from kinetics.engine.block_manager import PageAllocator
from kinetics.engine.sequence import Sequence, Status


@dataclass
class ScheduledBatch:
    seqs: list[Sequence]
    num_new: list[int]          # tokens each request runs this step (a prefill chunk, or 1 at decode)
    is_prefill: bool

    def samples(self, i: int) -> bool:
        """Whether request i reaches its last token this step (and so samples the next one)."""
        seq = self.seqs[i]
        return seq.num_cached + self.num_new[i] == len(seq)


@dataclass
class SchedulerStats:
    steps: int = 0
    prefill_steps: int = 0
    decode_steps: int = 0
    preemptions: int = 0
    peak_running: int = 0
    prefill_tokens: int = 0
    decode_tokens: int = 0
    batch_sizes: list[int] = field(default_factory=list)   # requests in each decode step
    pages_used: list[int] = field(default_factory=list)    # KV pages held after each step's scheduling
    step_batch: list[int] = field(default_factory=list)    # requests decoded in each step (0: a prefill step)


class Scheduler:
    def __init__(self, allocator: PageAllocator, max_num_seqs: int, max_num_batched_tokens: int):
        self.allocator = allocator
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []   # in admission order: the last one is preempted first
        self.stats = SchedulerStats()

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def schedule(self) -> ScheduledBatch | None:
        batch = self._schedule_prefill() or self._schedule_decode()
        if batch is not None:
            self.stats.steps += 1
            self.stats.peak_running = max(self.stats.peak_running, len(self.running))
            self.stats.pages_used.append(self.allocator.num_used)
            self.stats.step_batch.append(0 if batch.is_prefill else len(batch.seqs))
            if batch.is_prefill:
                self.stats.prefill_steps += 1
                self.stats.prefill_tokens += sum(batch.num_new)
            else:
                self.stats.decode_steps += 1
                self.stats.decode_tokens += len(batch.seqs)
                self.stats.batch_sizes.append(len(batch.seqs))
        return batch

    def _schedule_prefill(self) -> ScheduledBatch | None:
        budget = self.max_num_batched_tokens
        seqs, num_new = [], []
        for seq in self.running:                       # unfinished chunked prefills first
            if seq.num_uncached > 1 and budget > 0:
                take = min(seq.num_uncached, budget)
                seqs.append(seq)
                num_new.append(take)
                budget -= take
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs:
            seq = self.waiting[0]
            if not self.allocator.can_hold(seq, len(seq)):
                break
            self.waiting.popleft()
            self.allocator.grow(seq, len(seq))
            seq.status = Status.RUNNING
            self.running.append(seq)
            take = min(seq.num_uncached, budget)
            seqs.append(seq)
            num_new.append(take)
            budget -= take
        if not seqs:
            return None
        return ScheduledBatch(seqs, num_new, is_prefill=True)

    def _schedule_decode(self) -> ScheduledBatch | None:
        if not self.running and self.waiting:
            seq = self.waiting[0]
            raise RuntimeError(f"request {seq.seq_id} of {len(seq)} tokens can never fit in "
                               f"{self.allocator.num_pages} pages")
        seqs: list[Sequence] = []
        i = 0
        while i < len(self.running):
            seq = self.running[i]
            while not self.allocator.can_hold(seq, len(seq)):
                victim = self.running[-1]
                self._preempt(victim)
                if victim is seq:
                    break
            else:
                self.allocator.grow(seq, len(seq))
                seqs.append(seq)
                i += 1
                continue
            break  # seq itself was preempted: it was the last one, so the loop is done
        if not seqs:
            return None
        return ScheduledBatch(seqs, [1] * len(seqs), is_prefill=False)

    def _preempt(self, seq: Sequence) -> None:
        self.running.remove(seq)
        self.allocator.release(seq)
        seq.status = Status.WAITING
        seq.preemptions += 1
        self.stats.preemptions += 1
        self.waiting.appendleft(seq)

    def retire(self, seq: Sequence) -> None:
        """Free what a request holds once a stop token, read one step late, has ended it (it may be running,
        preempted back into the queue, or already retired by its length limit)."""
        if seq in self.running:
            self.running.remove(seq)
            self.allocator.release(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)

    def postprocess(self, batch: ScheduledBatch) -> list[Sequence]:
        """After the forward pass: advance the cached counts, retire finished requests; returns the finished."""
        finished = []
        for seq, n in zip(batch.seqs, batch.num_new):
            seq.num_cached += n
            if seq.status is Status.FINISHED:
                self.running.remove(seq)
                self.allocator.release(seq)
                finished.append(seq)
        return finished
