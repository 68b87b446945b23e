"""Pick the next token of each request from its logits: greedy, or temperature + top-k + top-p sampling.

A request's randomness comes from its own seed and the index of the token being drawn, never from the batch it
happens to share: the same request gives the same tokens alone, in a batch of 1000, or after a preemption.
"""
from __future__ import annotations

import torch

from kinetics.engine.sequence import Sequence


def filter_logits(logits: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """Log-probabilities of one row after temperature, top-k and top-p (the removed tokens at -inf)."""
    logits = logits / temperature
    if 0 < top_k < logits.shape[-1]:
        kth = logits.topk(top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(descending=True)
        probs = sorted_logits.softmax(-1)
        # drop a token once the mass before it already reaches top_p (the first token always stays)
        drop = (probs.cumsum(-1) - probs) >= top_p
        logits = logits.masked_fill(drop.scatter(0, order, drop), float("-inf"))
    return logits.log_softmax(-1)


def sample(logits: torch.Tensor, seqs: list[Sequence]) -> torch.Tensor:
    """One token per row of logits [N, vocab] (float32), row i for seqs[i], as int64 [N] on the logits' device
    (nothing waits for the GPU)."""
    tokens = logits.argmax(-1)
    for i, seq in enumerate(seqs):
        params = seq.params
        if params.greedy:
            continue
        logprobs = filter_logits(logits[i], params.temperature, params.top_k, params.top_p)
        generator = torch.Generator(device=logits.device)
        generator.manual_seed((seq.seed * 1_000_003 + len(seq.output)) % (2 ** 63))
        # Gumbel-max through exponentials: argmax p / E with E ~ Exp(1) is a draw from p
        noise = torch.empty_like(logprobs).exponential_(generator=generator)
        tokens[i] = (logprobs - noise.log()).argmax()
    return tokens
