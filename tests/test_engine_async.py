"""Async scheduling (step n + 1 scheduled while step n runs, stop checks one step late) gives the same tokens as the
synchronous loop and as Hugging Face transformers: stops mid-batch, arrivals, preemption, sampling, logits."""
from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from kinetics.engine import LLM, AttentionConfig, SamplingParams  # noqa: E402
from kinetics.errors import InputError  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=8, max_position_embeddings=256, initializer_range=0.2,
            eos_token_id=None, bos_token_id=None, pad_token_id=None)
PROMPTS = [[3, 14, 15, 92, 65, 35, 89], [26, 43], list(range(40, 71)), [7] * 5, [11, 12, 13], [90, 1, 2, 3, 4, 5]]
NEW = 24


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_qwen3")
    torch.manual_seed(99)
    model = transformers.Qwen3ForCausalLM(transformers.Qwen3Config(**TINY)).float().eval()
    model.save_pretrained(path, safe_serialization=True)
    return path, model


def _llm(path, overlap, device="cpu", attention=AttentionConfig(page_size=4), **limits):
    return LLM(path, weights=path, device=device, attention=attention, async_scheduling=overlap, **limits)


def _stop_token(path):
    """A token that request 0 produces mid-way (greedy), so it stops there while the others go on."""
    free = _llm(path, False).generate(PROMPTS[:1], SamplingParams(temperature=0, max_tokens=NEW))[0].token_ids
    return next(t for i, t in enumerate(free) if 3 <= i < NEW - 3 and t not in free[:i])


def _hf_greedy(model, prompt, stop):
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt]), max_new_tokens=NEW, do_sample=False, eos_token_id=stop,
                             pad_token_id=stop)[0, len(prompt):].tolist()
    return out[:out.index(stop) + 1] if stop in out else out


# a cache of 14 pages of 4 tokens, 2 requests at a time and prefill chunks of 8 tokens: requests arrive as others
# finish, long prompts prefill over several steps, and decoding requests get preempted and recomputed
TIGHT = dict(num_pages=14, max_num_seqs=2, max_num_batched_tokens=8)


@pytest.mark.parametrize("limits", [{}, TIGHT], ids=["roomy", "arrivals+preemption"])
def test_async_equals_sync_and_transformers_with_a_stop_mid_batch(hf_dir, limits):
    path, model = hf_dir
    stop = _stop_token(path)
    params = SamplingParams(temperature=0, max_tokens=NEW, stop_token_ids=(stop,), return_logits=True)
    runs = {}
    for overlap in (False, True):
        llm = _llm(path, overlap, **limits)
        runs[overlap] = llm.generate(PROMPTS, params)
        if limits:
            assert llm.last_stats.preemptions > 0 and llm.last_stats.prefill_steps > len(PROMPTS)
    sync, overlapped = runs[False], runs[True]
    assert [o.token_ids for o in overlapped] == [o.token_ids for o in sync]
    assert [o.finish_reason for o in overlapped] == [o.finish_reason for o in sync]
    assert sync[0].finish_reason == "stop" and sync[0].token_ids[-1] == stop and len(sync[0].token_ids) < NEW
    assert any(o.finish_reason == "length" for o in sync)         # the others ran past request 0's stop
    for prompt, out, ref in zip(PROMPTS, overlapped, sync):
        assert out.token_ids == _hf_greedy(model, prompt, stop)
        assert len(out.logits) == len(out.token_ids)             # no logits of a token dropped past a stop
        torch.testing.assert_close(torch.stack(out.logits), torch.stack(ref.logits))


def test_async_seeded_sampling_forced_lengths_and_blocktopk_equal_sync(hf_dir):
    path, _ = hf_dir
    sparse = AttentionConfig(kind="blocktopk", budget=8, page_size=4)
    params = [SamplingParams(temperature=0.9, top_k=20, top_p=0.95, max_tokens=NEW, seed=i, stop_token_ids=(5, 6))
              for i in range(4)] + [SamplingParams(temperature=0, forced_length=n) for n in (1, 9)]
    runs = [_llm(path, overlap, attention=sparse, **TIGHT).generate(PROMPTS, params) for overlap in (False, True)]
    assert [o.token_ids for o in runs[1]] == [o.token_ids for o in runs[0]]
    assert [len(o.token_ids) for o in runs[1][4:]] == [1, 9]


def test_async_switch_defaults_and_bad_value(hf_dir):
    path, _ = hf_dir
    assert not _llm(path, None).async_scheduling                 # CPU: synchronous unless asked
    assert _llm(path, True).async_scheduling
    with pytest.raises(InputError, match="async_scheduling"):
        _llm(path, "yes")


DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.skipif(DEVICE == "cpu" and os.environ.get("TRITON_INTERPRET") != "1",
                    reason="needs a GPU or TRITON_INTERPRET=1")
@pytest.mark.parametrize("kind", ["dense", "blocktopk"] if DEVICE == "cuda" else ["dense"])   # the interpreter is slow
def test_async_with_triton_kernels_and_cuda_graphs_equals_sync(kind):
    """The device path: Triton kernels, CUDA graphs on a GPU (default on there: async on, pinned copies, events),
    a stop mid-batch, arrivals into a running batch, preemption (the four running prompts alone fill the 20
    pages, whatever the tokens)."""
    config = {"architectures": ["Qwen3ForCausalLM"], "vocab_size": 128, "hidden_size": 64,
              "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "head_dim": 16, "max_position_embeddings": 512, "initializer_range": 0.1}
    attention = AttentionConfig(kind=kind, budget=12, page_size=4, sinks=4)
    prompts = [list(range(3, 40)), list(range(50, 61)), [5] * 23, [9, 8, 7], list(range(60, 80))]

    def run(overlap, stop=()):
        llm = LLM(config, device=DEVICE, dtype="fp16", attention=attention, num_pages=20, max_num_seqs=4,
                  max_num_batched_tokens=16, attention_backend="triton", graph_batch_sizes=[1, 2, 4],
                  async_scheduling=overlap)
        assert llm.async_scheduling is (overlap is not False)
        assert bool(llm.runner.graphs) is (DEVICE == "cuda")
        outputs = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=20, stop_token_ids=stop))
        return outputs, llm.last_stats

    free, _ = run(False)
    stop = next(t for i, t in enumerate(free[0].token_ids) if 3 <= i < 16 and t not in free[0].token_ids[:i])
    (sync, _), (overlapped, stats) = run(False, (stop,)), run(None if DEVICE == "cuda" else True, (stop,))
    assert [o.token_ids for o in overlapped] == [o.token_ids for o in sync]
    assert sync[0].finish_reason == "stop" and any(o.finish_reason == "length" for o in sync)
    assert stats.preemptions > 0
