"""The engine's GPU decode path (Triton kernels of kinetics.kernels) against its torch reference.

Runs on CUDA, or on the CPU under the Triton interpreter (TRITON_INTERPRET=1, as `make test` sets it).
"""
from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")

from kinetics.engine.attention import decode_blocktopk_torch, decode_dense_torch  # noqa: E402
from kinetics.engine.config import AttentionConfig  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
pytestmark = pytest.mark.skipif(DEVICE == "cpu" and os.environ.get("TRITON_INTERPRET") != "1",
                                reason="needs a GPU or TRITON_INTERPRET=1")


def _paged_inputs(seed, lens, page, hq=8, hkv=2, d=32, dtype=torch.float16):
    gen = torch.Generator().manual_seed(seed)
    pool = sum(-(-n // page) for n in lens) + 3
    kc = torch.randn(pool + 1, page, hkv, d, generator=gen).to(dtype)
    vc = torch.randn(pool + 1, page, hkv, d, generator=gen).to(dtype)
    width = max(-(-n // page) for n in lens) + 2
    table = torch.full((len(lens), width), pool)          # padding points at the scratch page, like the engine
    perm = torch.randperm(pool, generator=gen)
    used = 0
    for row, n in enumerate(lens):
        k = -(-n // page)
        table[row, :k] = perm[used:used + k]
        used += k
    ksum = torch.zeros(pool + 1, hkv, d)
    for row, n in enumerate(lens):
        for t in range(n):
            ksum[table[row, t // page]] += kc[table[row, t // page], t % page].float()
    q = torch.randn(len(lens), hq, d, generator=gen).to(dtype)
    to = lambda x: x.to(DEVICE)  # noqa: E731
    return to(q), to(kc), to(vc), to(ksum), to(table), to(torch.tensor(lens))


@pytest.mark.parametrize("seed", [0, 1])
def test_triton_decode_matches_the_torch_reference(seed):
    from kinetics.engine.gpu_attention import load

    triton_path = load()
    assert triton_path is not None
    q, kc, vc, ksum, table, lens = _paged_inputs(seed, [37, 5, 64, 1], page=4)
    scale = q.shape[-1] ** -0.5
    got = triton_path.decode(q, kc, vc, ksum, table, lens, scale, None)
    want = decode_dense_torch(q, kc, vc, table, lens, scale)
    torch.testing.assert_close(got.float(), want.float(), atol=2e-3, rtol=2e-3)
    sparse = AttentionConfig(kind="blocktopk", budget=20, page_size=4, sinks=4)
    got = triton_path.decode(q, kc, vc, ksum, table, lens, scale, sparse)
    want = decode_blocktopk_torch(q, kc, vc, ksum, table, lens, scale, sparse.pages_per_step, sparse.sink_pages)
    torch.testing.assert_close(got.float(), want.float(), atol=2e-3, rtol=2e-3)


def test_engine_with_triton_kernels_matches_the_torch_backend():
    """Whole engine, block top-k with a budget smaller than the context, chunked prefill and preemption: the
    Triton path (kernels for decode, selection and page summaries) gives the torch path's logits."""
    from kinetics.engine import LLM, AttentionConfig, SamplingParams

    config = {"architectures": ["Qwen3ForCausalLM"], "vocab_size": 128, "hidden_size": 64,
              "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "head_dim": 16, "max_position_embeddings": 512, "initializer_range": 0.1}
    attention = AttentionConfig(kind="blocktopk", budget=12, page_size=4, sinks=4, dense_layers=1)
    prompts = [list(range(3, 40)), list(range(50, 61)), [5] * 23]
    params = SamplingParams(temperature=0, max_tokens=12, stop_token_ids=(), return_logits=True)
    outputs = {}
    for backend in ("torch", "triton"):
        llm = LLM(config, device=DEVICE, dtype="fp16", attention=attention, num_pages=24,
                  max_num_batched_tokens=16, attention_backend=backend, cuda_graphs=False)
        outputs[backend] = llm.generate(prompts, params)
        assert llm.last_stats.preemptions > 0
    for a, b in zip(outputs["torch"], outputs["triton"]):
        assert a.token_ids == b.token_ids
        torch.testing.assert_close(torch.stack(b.logits), torch.stack(a.logits), atol=2e-2, rtol=2e-2)
