"""Paged cache, continuous batching, preemption, sampling and bad input (tiny random models on CPU)."""
from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")

from kinetics.engine import LLM, AttentionConfig, SamplingParams  # noqa: E402
from kinetics.engine.block_manager import PageAllocator  # noqa: E402
from kinetics.engine.sampler import filter_logits  # noqa: E402
from kinetics.engine.scheduler import Scheduler  # noqa: E402
from kinetics.engine.sequence import Sequence  # noqa: E402
from kinetics.errors import InputError  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"architectures": ["Qwen3ForCausalLM"], "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
        "max_position_embeddings": 256, "initializer_range": 0.2, "eos_token_id": 0}


def _prompts(n, seed=0, longest=20):
    rng = random.Random(seed)
    return [[rng.randrange(1, 64) for _ in range(rng.randint(1, longest))] for _ in range(n)]


def test_allocator_grows_and_releases_pages():
    alloc = PageAllocator(num_pages=5, page_size=4)
    seq = Sequence(0, [1] * 9, SamplingParams(), seed=0, stop_ids=frozenset(), limit=4)
    assert alloc.can_hold(seq, 9) and not alloc.can_hold(seq, 21)
    alloc.grow(seq, 9)
    assert len(seq.pages) == 3 and alloc.num_free == 2
    alloc.grow(seq, 12)                     # still 3 pages
    assert len(seq.pages) == 3
    alloc.release(seq)
    assert alloc.num_free == 5 and seq.pages == [] and alloc.peak_used == 3


def test_scheduler_chunks_prefill_and_preempts_the_newest():
    alloc = PageAllocator(num_pages=4, page_size=4)
    sched = Scheduler(alloc, max_num_seqs=8, max_num_batched_tokens=6)
    a = Sequence(0, [1] * 7, SamplingParams(), 0, frozenset(), limit=50)
    b = Sequence(1, [2] * 8, SamplingParams(), 0, frozenset(), limit=50)
    sched.add(a)
    sched.add(b)
    first = sched.schedule()                # a's first chunk of 6; b waits for budget
    assert first.is_prefill and first.seqs == [a] and first.num_new == [6] and not first.samples(0)
    sched.postprocess(first)
    second = sched.schedule()               # b's first 6; a's one last prompt token waits for a decode step
    assert second.is_prefill and second.seqs == [b] and second.num_new == [6]
    sched.postprocess(second)
    third = sched.schedule()                # b's remaining 2 tokens, which sample b's first output
    assert third.seqs == [b] and third.num_new == [2] and third.samples(0)
    b.append(6)
    sched.postprocess(third)
    # a (7 tokens) fits its 2 pages; b (9 tokens) needs a 3rd page and none is free: b, the newest, is preempted
    decode = sched.schedule()
    assert not decode.is_prefill and decode.seqs == [a] and decode.samples(0)
    assert sched.stats.preemptions == 1 and b.num_cached == 0 and b.pages == [] and sched.waiting[0] is b


def test_every_request_completes_in_a_cache_far_too_small():
    """1000 requests through a cache that holds a few at a time: all finish, with the length asked for."""
    llm = LLM(TINY, attention=AttentionConfig(page_size=4), num_pages=24, max_num_seqs=32,
              max_num_batched_tokens=64)
    rng = random.Random(1)
    prompts = _prompts(1000, seed=2)
    params = [SamplingParams(temperature=0, forced_length=rng.randint(1, 30)) for _ in prompts]
    outputs = llm.generate(prompts, params)
    assert [len(o.token_ids) for o in outputs] == [p.forced_length for p in params]
    assert all(o.error is None and o.finish_reason == "length" for o in outputs)
    stats = llm.last_stats
    assert stats.preemptions > 0 and stats.peak_pages <= 24
    assert stats.generated_tokens == sum(p.forced_length for p in params)


def test_preemption_and_recompute_change_no_token():
    prompts = _prompts(24, seed=3)
    params = SamplingParams(temperature=0, max_tokens=40, stop_token_ids=())
    roomy = LLM(TINY, attention=AttentionConfig(page_size=4)).generate(prompts, params)
    tight = LLM(TINY, attention=AttentionConfig(page_size=4), num_pages=30, max_num_batched_tokens=16)
    squeezed = tight.generate(prompts, params)
    assert tight.last_stats.preemptions > 0
    assert [o.token_ids for o in squeezed] == [o.token_ids for o in roomy]


def test_blocktopk_survives_preemption_too():
    """Recomputed generated tokens are redone with block top-k (not dense prefill): same cache, same tokens."""
    prompts = _prompts(12, seed=4, longest=40)
    attention = AttentionConfig(kind="blocktopk", budget=12, page_size=4, sinks=4)
    params = SamplingParams(temperature=0, max_tokens=30, stop_token_ids=())
    roomy = LLM(TINY, attention=attention).generate(prompts, params)
    tight = LLM(TINY, attention=attention, num_pages=40)
    squeezed = tight.generate(prompts, params)
    assert tight.last_stats.preemptions > 0
    assert [o.token_ids for o in squeezed] == [o.token_ids for o in roomy]


def test_stop_on_eos_and_on_max_tokens():
    llm = LLM(TINY, seed=5)
    free = llm.generate([[1, 2, 3]], SamplingParams(temperature=0, max_tokens=30, stop_token_ids=()))[0]
    assert len(free.token_ids) == 30 and free.finish_reason == "length"
    stop = free.token_ids[4]
    out = llm.generate([[1, 2, 3]], SamplingParams(temperature=0, max_tokens=30, stop_token_ids=(stop,)))[0]
    first = free.token_ids.index(stop)
    assert out.token_ids == free.token_ids[:first + 1] and out.finish_reason == "stop"
    forced = llm.generate([[1, 2, 3]], SamplingParams(temperature=0, forced_length=12, stop_token_ids=(stop,)))[0]
    assert len(forced.token_ids) == 12            # replay ignores stop tokens


def test_seeded_sampling_does_not_depend_on_the_batch():
    llm = LLM(TINY, seed=0)
    params = SamplingParams(temperature=0.8, top_p=0.9, top_k=20, max_tokens=25, seed=77, stop_token_ids=())
    alone = llm.generate([[5, 6, 7]], params)[0].token_ids
    others = SamplingParams(temperature=1.0, max_tokens=25, stop_token_ids=())
    crowd = llm.generate(_prompts(9, seed=5) + [[5, 6, 7]], [others] * 9 + [params])[-1].token_ids
    assert alone == crowd
    other_seed = llm.generate([[5, 6, 7]], SamplingParams(temperature=0.8, top_p=0.9, top_k=20, max_tokens=25,
                                                          seed=78, stop_token_ids=()))[0].token_ids
    assert other_seed != alone
    greedy = llm.generate([[5, 6, 7]], SamplingParams(temperature=0, max_tokens=25, stop_token_ids=()))[0]
    top1 = llm.generate([[5, 6, 7]], SamplingParams(temperature=1.0, top_k=1, max_tokens=25, seed=3,
                                                    stop_token_ids=()))[0]
    assert top1.token_ids == greedy.token_ids


def test_filters_keep_the_right_tokens():
    logits = torch.log(torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05]))
    kept = filter_logits(logits, 1.0, 0, 0.7).isfinite()
    assert kept.tolist() == [True, True, False, False, False]      # 0.5 + 0.2 reaches 0.7
    kept = filter_logits(logits, 1.0, 3, 1.0).isfinite()
    assert kept.tolist() == [True, True, True, False, False]
    probs = filter_logits(logits, 0.5, 0, 1.0).exp()
    assert torch.allclose(probs, torch.softmax(logits / 0.5, -1))


def test_sampling_follows_the_distribution():
    """Seeded draws over many requests land near the softmax probabilities (a chi-square-sized check)."""
    llm = LLM(TINY, seed=0)
    prompt = [9, 10, 11]
    ref = llm.generate([prompt], SamplingParams(temperature=0, max_tokens=1, return_logits=True))[0].logits[0]
    probs = filter_logits(ref, 1.0, 5, 1.0).exp()
    n = 600
    outs = llm.generate([prompt] * n, SamplingParams(temperature=1.0, top_k=5, max_tokens=1))
    counts = torch.bincount(torch.tensor([o.token_ids[0] for o in outs]), minlength=64).float()
    assert counts[probs == 0].sum() == 0
    expected = probs * n
    top = expected > 20
    assert ((counts[top] - expected[top]).abs() < 5 * expected[top].sqrt() + 3).all()


def test_too_long_prompt_is_rejected_while_others_complete():
    llm = LLM(TINY, max_model_len=32)
    outs = llm.generate([[1, 2], list(range(1, 40)), [3, 4, 5], []],
                        SamplingParams(temperature=0, max_tokens=8, stop_token_ids=()))
    assert len(outs[0].token_ids) == 8 and len(outs[2].token_ids) == 8
    assert outs[1].finish_reason == "error" and "context limit" in outs[1].error and outs[1].token_ids == []
    assert outs[3].error == "empty prompt"
    capped = llm.generate([list(range(1, 30))], SamplingParams(temperature=0, max_tokens=8, stop_token_ids=()))
    assert len(capped[0].token_ids) == 3 and capped[0].finish_reason == "length"
    bad = llm.generate([[1, 999]], SamplingParams(max_tokens=2))[0]
    assert "outside the vocabulary" in bad.error


@pytest.mark.parametrize("kwargs", [dict(temperature=-1), dict(top_p=0), dict(top_p=1.5), dict(top_k=-3),
                                    dict(max_tokens=0), dict(forced_length=0), dict(temperature=float("nan"))])
def test_invalid_sampling_parameters_raise_input_error(kwargs):
    with pytest.raises(InputError):
        SamplingParams(**kwargs)


def test_invalid_attention_and_engine_options_raise_input_error():
    with pytest.raises(InputError):
        AttentionConfig(kind="oracle")
    with pytest.raises(InputError):
        AttentionConfig(kind="blocktopk", budget=8, page_size=16)
    with pytest.raises(InputError):
        AttentionConfig(page_size=12)
    with pytest.raises(InputError):
        LLM(TINY, no_such_option=1)
    with pytest.raises(InputError):
        LLM(TINY, device="tpu")
    with pytest.raises(InputError):
        LLM(dict(TINY, num_attention_heads=3))
