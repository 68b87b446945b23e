"""The engine against Hugging Face transformers: same weights, same logits, same greedy tokens (CPU, float32)."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from kinetics.engine import LLM, AttentionConfig, SamplingParams  # noqa: E402
from kinetics.engine.attention import decode_blocktopk_torch  # noqa: E402
from kinetics.errors import InputError  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, max_position_embeddings=512, initializer_range=0.1,
            eos_token_id=None, bos_token_id=None, pad_token_id=None)
PROMPTS = [[3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46], [26, 43], list(range(100, 131)), [7] * 5]
DECODE_STEPS = 36


def _save_hf(tmp_path, moe: bool, tie: bool = False, shard: str | None = None):
    torch.manual_seed(1234)
    if moe:
        cfg = transformers.Qwen3MoeConfig(**TINY, moe_intermediate_size=32, num_experts=8, num_experts_per_tok=2,
                                          norm_topk_prob=True, tie_word_embeddings=tie)
        model = transformers.Qwen3MoeForCausalLM(cfg)
    else:
        cfg = transformers.Qwen3Config(**TINY, tie_word_embeddings=tie)
        model = transformers.Qwen3ForCausalLM(cfg)
    model = model.float().eval()
    kwargs = {"max_shard_size": shard} if shard else {}
    model.save_pretrained(tmp_path, safe_serialization=True, **kwargs)
    return model


def _hf_logits(model, prompt, generated):
    with torch.no_grad():
        out = model(torch.tensor([prompt + generated])).logits[0]
    return out[len(prompt) - 1:-1]


def _check_against_hf(model, llm, prompts=PROMPTS):
    outputs = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=DECODE_STEPS, return_logits=True))
    for prompt, out in zip(prompts, outputs):
        assert out.error is None and len(out.token_ids) == DECODE_STEPS
        ref = _hf_logits(model, prompt, out.token_ids)
        mine = torch.stack(out.logits)
        assert mine.shape == ref.shape
        torch.testing.assert_close(mine, ref, atol=2e-5, rtol=1e-4)
        with torch.no_grad():
            hf_tokens = model.generate(torch.tensor([prompt]), max_new_tokens=DECODE_STEPS,
                                       min_new_tokens=DECODE_STEPS, do_sample=False)[0, len(prompt):].tolist()
        assert hf_tokens == out.token_ids
    return outputs


@pytest.mark.parametrize("moe", [False, True], ids=["dense", "moe"])
def test_logits_and_greedy_tokens_match_transformers(tmp_path, moe):
    model = _save_hf(tmp_path, moe, shard="60KB")
    assert (tmp_path / "model.safetensors.index.json").is_file()      # sharded, with an index
    assert len(json.loads((tmp_path / "model.safetensors.index.json").read_text())["weight_map"]) > 10
    # small pages and tiny prefill chunks: prompts span several pages and several prefill steps
    llm = LLM(tmp_path, weights=tmp_path, attention=AttentionConfig(page_size=4), max_num_batched_tokens=8)
    _check_against_hf(model, llm)
    assert llm.last_stats.prefill_steps > 1


def test_tied_embeddings_single_file(tmp_path):
    model = _save_hf(tmp_path, moe=False, tie=True)
    assert (tmp_path / "model.safetensors").is_file()
    llm = LLM(tmp_path / "config.json", weights=tmp_path, attention=AttentionConfig(page_size=8))
    _check_against_hf(model, llm, PROMPTS[:2])


def test_blocktopk_with_budget_covering_the_context_equals_dense(tmp_path):
    model = _save_hf(tmp_path, moe=False)
    longest = max(map(len, PROMPTS)) + DECODE_STEPS
    sparse = LLM(tmp_path, weights=tmp_path,
                 attention=AttentionConfig(kind="blocktopk", budget=4 * (longest // 4 + 1), page_size=4, sinks=4))
    _check_against_hf(model, sparse)


def test_blocktopk_small_budget_departs_from_dense(tmp_path):
    _save_hf(tmp_path, moe=False)
    params = SamplingParams(temperature=0, max_tokens=24, return_logits=True)
    prompt = [list(range(1, 80))]
    dense = LLM(tmp_path, weights=tmp_path, attention=AttentionConfig(page_size=4)).generate(prompt, params)[0]
    sparse = LLM(tmp_path, weights=tmp_path,
                 attention=AttentionConfig(kind="blocktopk", budget=16, page_size=4)).generate(prompt, params)[0]
    gap = (torch.stack(dense.logits) - torch.stack(sparse.logits)).abs().max().item()
    assert gap > 1e-3      # 4 pages out of 26: the sparse model really reads less


def _naive_blocktopk(q, kc, vc, ksum, table, lens, scale, n_select, sink_pages):
    """Loop-per-row-and-head version of block top-k decode, written independently of the engine's."""
    b, hq, d = q.shape
    page, hkv = kc.shape[1], kc.shape[2]
    g = hq // hkv
    out = torch.empty(b, hq, d, dtype=torch.float64)
    for row in range(b):
        n = int(lens[row])
        pages = -(-n // page)
        for h in range(hkv):
            qs = q[row, h * g:(h + 1) * g].double()
            scores = [float(qs.sum(0) @ ksum[table[row, p], h].double()) for p in range(pages)]
            forced = {p for p in range(pages) if p < sink_pages or p == pages - 1}
            rest = sorted((p for p in range(pages) if p not in forced), key=lambda p: -scores[p])
            chosen = sorted(forced | set(rest[:max(n_select - len(forced), 0)]))
            positions = [p * page + o for p in chosen for o in range(page) if p * page + o < n]
            keys = torch.stack([kc[table[row, t // page], t % page, h] for t in positions]).double()
            values = torch.stack([vc[table[row, t // page], t % page, h] for t in positions]).double()
            weights = ((qs @ keys.T) * scale).softmax(-1)
            out[row, h * g:(h + 1) * g] = weights @ values
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blocktopk_decode_matches_a_naive_loop(seed):
    gen = torch.Generator().manual_seed(seed)
    b, hq, hkv, d, page, pool = 3, 8, 2, 16, 4, 40
    kc = torch.randn(pool + 1, page, hkv, d, generator=gen)
    vc = torch.randn(pool + 1, page, hkv, d, generator=gen)
    lens = torch.tensor([37, 5, 64])
    table = torch.full((b, 16), pool)
    perm = torch.randperm(pool, generator=gen)
    used = 0
    for row in range(b):
        n = -(-int(lens[row]) // page)
        table[row, :n] = perm[used:used + n]
        used += n
    ksum = torch.zeros(pool + 1, hkv, d)
    for row in range(b):       # summaries of the filled slots only, as the cache keeps them
        for t in range(int(lens[row])):
            ksum[table[row, t // page]] += kc[table[row, t // page], t % page]
    q = torch.randn(b, hq, d, generator=gen)
    got = decode_blocktopk_torch(q, kc, vc, ksum, table, lens, d ** -0.5, num_select=5, sink_pages=1)
    want = _naive_blocktopk(q, kc, vc, ksum, table, lens, d ** -0.5, 5, 1)
    torch.testing.assert_close(got.double(), want, atol=1e-5, rtol=1e-5)


def test_unsupported_architecture_is_one_clear_error():
    with pytest.raises(InputError, match="unsupported architecture"):
        LLM({"architectures": ["LlamaForCausalLM"], "vocab_size": 10, "hidden_size": 8,
             "num_hidden_layers": 1, "num_attention_heads": 2})


def test_missing_and_mismatched_weights_are_clear_errors(tmp_path):
    _save_hf(tmp_path / "a", moe=False)
    with pytest.raises(InputError, match="no \\*.safetensors"):
        LLM(tmp_path / "a", weights=tmp_path)          # a directory without checkpoint files
    bigger = dict(json.loads((tmp_path / "a" / "config.json").read_text()), intermediate_size=160)
    with pytest.raises(InputError, match="has shape"):
        LLM(bigger, weights=tmp_path / "a")
    deeper = dict(bigger, intermediate_size=128, num_hidden_layers=4)
    with pytest.raises(InputError, match="lack"):
        LLM(deeper, weights=tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(InputError, match="pickle"):
        LLM(tmp_path / "a", weights=tmp_path / "b")
