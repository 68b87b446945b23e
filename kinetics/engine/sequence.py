"""A request's state as it moves through the engine: its tokens, its pages, how much of it the cache holds."""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from kinetics.errors import InputError


@dataclass(frozen=True)
class SamplingParams:
    """How to pick the next token and when to stop.

    temperature 0 is greedy. top_k 0 (or -1) and top_p 1 disable those filters. `seed` makes one request's samples
    reproducible whatever else is in the batch (None: derived from the engine's seed and the request's index).
    Stop on any of `stop_token_ids` (None: the model's EOS ids), or after `max_tokens`. `forced_length` replays a
    recorded trace: exactly that many tokens are generated and stop tokens are ignored.
    """

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int = 256
    seed: int | None = None
    forced_length: int | None = None
    stop_token_ids: tuple[int, ...] | None = None
    return_logits: bool = False

    def __post_init__(self):
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature)
                and self.temperature >= 0):
            raise InputError(f"temperature must be a finite number >= 0, got {self.temperature!r}")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise InputError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if not isinstance(self.top_k, int) or self.top_k < -1:
            raise InputError(f"top_k must be an integer >= 0 (0 or -1: off), got {self.top_k!r}")
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise InputError(f"max_tokens must be an integer >= 1, got {self.max_tokens!r}")
        if self.forced_length is not None and (not isinstance(self.forced_length, int) or self.forced_length < 1):
            raise InputError(f"forced_length must be an integer >= 1, got {self.forced_length!r}")
        if self.seed is not None and not isinstance(self.seed, int):
            raise InputError(f"seed must be an integer, got {self.seed!r}")
        if self.stop_token_ids is not None:
            object.__setattr__(self, "stop_token_ids", tuple(int(t) for t in self.stop_token_ids))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def length_limit(self) -> int:
        return self.forced_length if self.forced_length is not None else self.max_tokens


PENDING = -1   # an output token the GPU is still sampling (async scheduling); never a vocabulary id


class Status(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass
class Sequence:
    """One request. Its KV cache holds tokens[:num_cached]; the model next runs on tokens[num_cached:].

    A fresh request has num_cached = 0 (all of its prompt to prefill); a decoding one has exactly one uncached token
    (the last one sampled). Preemption frees the pages and sets num_cached back to 0: the request is recomputed
    (prompt and everything generated so far) when it is admitted again, so no work is lost but time.
    """

    seq_id: int
    prompt: list[int]
    params: SamplingParams
    seed: int
    stop_ids: frozenset[int]
    limit: int  # tokens to generate at most: the request's own limit, capped by the engine's max_model_len
    output: list[int] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)
    num_cached: int = 0
    status: Status = Status.WAITING
    finish_reason: str | None = None
    error: str | None = None
    preemptions: int = 0
    logits: list = field(default_factory=list)
    finished_at: float | None = None   # seconds after generate() started
    _page_array: object = field(default=None, repr=False)

    def page_array(self):
        """The pages as a numpy array, rebuilt only after the allocator changed them (once per page_size steps)."""
        import numpy as np

        if self._page_array is None:
            self._page_array = np.asarray(self.pages, dtype=np.int64)
        return self._page_array

    @property
    def tokens(self) -> list[int]:
        return self.prompt + self.output

    def __len__(self) -> int:
        return len(self.prompt) + len(self.output)

    @property
    def num_uncached(self) -> int:
        return len(self) - self.num_cached

    @property
    def is_decoding(self) -> bool:
        return self.status is Status.RUNNING and self.num_uncached == 1

    def append(self, token: int) -> None:
        """Add a sampled token (or PENDING, its place while the GPU samples it) and decide whether the request
        is done."""
        self.output.append(token)
        if self.params.forced_length is None and token in self.stop_ids:
            self.finish_reason = "stop"
        elif len(self.output) >= self.limit:
            self.finish_reason = "length"
        if self.finish_reason is not None:
            self.status = Status.FINISHED

    def resolve(self, index: int, token: int) -> bool:
        """Put a token sampled one step late in its place output[index]. A stop token ends the request there:
        whatever was generated past it is dropped. Returns whether this token stopped the request; a token in a
        place already dropped (generated past an earlier stop) is ignored."""
        if index >= len(self.output):
            return False
        self.output[index] = token
        if token not in self.stop_ids or self.params.forced_length is not None:
            return False
        del self.output[index + 1:]
        self.finish_reason, self.status = "stop", Status.FINISHED
        return True


@dataclass
class RequestOutput:
    """What generate() returns per request, in the order the prompts were given."""

    seq_id: int
    prompt_token_ids: list[int]
    token_ids: list[int]
    finish_reason: str | None
    error: str | None = None
    preemptions: int = 0
    logits: list | None = None
    finished_at: float | None = None   # seconds after generate() started
