"""The page allocator: the KV cache is cut into fixed-size pages, and each request holds a list of them.

A request of n tokens holds ceil(n / page_size) pages; its token at position t lives in page pages[t // page_size]
at offset t % page_size. No page is shared (no prefix caching), so freeing a request frees all of its pages.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from kinetics.engine.sequence import Sequence


def pages_for(num_tokens: int, page_size: int) -> int:
    return -(-num_tokens // page_size)


@dataclass
class PageAllocator:
    num_pages: int
    page_size: int

    def __post_init__(self):
        self.free: deque[int] = deque(range(self.num_pages))
        self.peak_used = 0

    @property
    def num_free(self) -> int:
        return len(self.free)

    @property
    def num_used(self) -> int:
        return self.num_pages - len(self.free)

    def can_hold(self, seq: Sequence, num_tokens: int) -> bool:
        """Whether `seq` can grow to num_tokens tokens with the pages that are free now."""
        return pages_for(num_tokens, self.page_size) - len(seq.pages) <= len(self.free)

    def grow(self, seq: Sequence, num_tokens: int) -> None:
        """Give `seq` enough pages for num_tokens tokens (the caller checked can_hold)."""
        need = pages_for(num_tokens, self.page_size) - len(seq.pages)
        if need > len(self.free):
            raise RuntimeError(f"page allocator: {need} pages wanted, {len(self.free)} free")
        for _ in range(max(need, 0)):
            seq.pages.append(self.free.popleft())
        if need > 0:
            seq._page_array = None
        self.peak_used = max(self.peak_used, self.num_used)

    def release(self, seq: Sequence) -> None:
        self.free.extend(seq.pages)
        seq.pages = []
        seq._page_array = None
        seq.num_cached = 0
