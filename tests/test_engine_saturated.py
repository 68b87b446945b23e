"""A saturated cache: the snapshot fills the cache without preempting, the window counts every decode token."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from kinetics.engine import LLM, AttentionConfig  # noqa: E402
from kinetics.engine.replay import ReplayProblem, ReplayWorkload, saturated_replay, saturated_snapshot  # noqa: E402
from kinetics.errors import InputError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"architectures": ["Qwen3ForCausalLM"], "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
        "max_position_embeddings": 512, "initializer_range": 0.2, "eos_token_id": 0}
WORKLOAD = ReplayWorkload("tiny", "aime24", "test", 3, [ReplayProblem(0, 12, [90, 40, 150]),
                                                         ReplayProblem(1, 20, [60, 200, 30])])


def test_snapshot_fills_the_cache_and_never_exceeds_it():
    snapshot = saturated_snapshot(WORKLOAD, num_pages=400, page_size=4, decode_steps=10, fill=0.95, seed=1)
    end_pages = sum(-(-(r.context + r.decode) // 4) for r in snapshot)
    assert end_pages <= 0.95 * 400
    assert all(1 <= r.decode <= 10 and r.context >= 12 for r in snapshot)
    # one more request of any recorded length would not have fitted, or max_seqs was reached
    assert len(snapshot) == 256 or end_pages + (12 + 1) / 4 > 0.95 * 400 - 60


def test_cache_too_small_for_one_sequence_is_one_clear_error():
    with pytest.raises(InputError, match="cache is too small"):
        saturated_snapshot(WORKLOAD, num_pages=2, page_size=4, decode_steps=10)


@pytest.mark.parametrize("kind", ["dense", "blocktopk"])
def test_saturated_replay_counts_the_window(kind):
    attention = AttentionConfig(kind=kind, budget=16, page_size=4)
    llm = LLM(TINY, attention=attention, num_pages=120, max_model_len=300, max_num_batched_tokens=64)
    snapshot = saturated_snapshot(WORKLOAD, llm.runner.num_pages, 4, decode_steps=6, fill=0.9, seed=2)
    result = saturated_replay(llm, snapshot)
    steady = result["steady"]
    # a request's first token comes from its prefill, unless its last prompt token was left to a decode step
    assert sum(r.decode - 1 for r in snapshot) <= steady["tokens"] <= sum(r.decode for r in snapshot)
    assert max(r.decode for r in snapshot) - 1 <= steady["decode_steps"] <= max(r.decode for r in snapshot)
    assert result["whole"]["preemptions"] == 0
    assert 0 < steady["occupancy_min"] <= steady["occupancy_max"] <= 0.9 + 1e-9
    assert len(steady["step_ms"]) == steady["decode_steps"]


def test_dense_fallback_below_the_crossover_equals_dense():
    """Block top-k with dense_below past every context decodes exactly as dense; below it, it does not."""
    from kinetics.engine import SamplingParams

    prompts = [[(7 * i + j) % 63 + 1 for j in range(40 + 9 * i)] for i in range(3)]
    params = SamplingParams(temperature=0, forced_length=12, return_logits=True)

    def run(**attention):
        llm = LLM(TINY, attention=AttentionConfig(page_size=4, **attention), num_pages=200, seed=3)
        return torch.stack([torch.stack(o.logits) for o in llm.generate(prompts, params)])

    dense = run()
    fallback = run(kind="blocktopk", budget=8, dense_below=1000)
    sparse = run(kind="blocktopk", budget=8)
    assert torch.equal(fallback, dense)
    assert not torch.allclose(sparse, dense)
