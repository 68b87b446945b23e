"""`kinetics eval` end to end on CPU: a tiny Qwen3 saved with save_pretrained, a tiny byte-level tokenizer with a
chat template, two fixture problems; the traces it writes are read back by kinetics.traces."""
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from kinetics import eval as kinetics_eval  # noqa: E402
from kinetics.cli import main  # noqa: E402
from kinetics.errors import InputError  # noqa: E402
from kinetics.traces import read_hf_jsonl  # noqa: E402

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# What the tiny model is wired to write after the generation prompt: an unboxed 9 while "thinking", then a box.
ANSWER_TEXT = "<think>9</think>\\boxed{7}"


def _byte_tokenizer():
    """Byte-level BPE without merges: one token per byte, plus Qwen's special tokens and <think>/</think>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokenizer = Tokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(alphabet)}, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tokenizer.add_tokens(["<think>", "</think>"])
    return tokenizer


def _save_tiny_model(directory: Path, text: str = ANSWER_TEXT, loop: bool = False) -> Path:
    """A 2-layer Qwen3 whose output is a fixed chain of tokens (a bigram table), saved the Hugging Face way.

    Attention and MLP outputs are zeroed, so the last hidden state is the current token's embedding; chain tokens
    embed as one-hot vectors and lm_head maps each to its successor with a logit gap of ~28 (47 after temperature
    0.6), so sampling with the authors' settings writes `text` and stops, whatever the seed; with `loop` the last
    character leads back to the first one instead of <|im_end|>, and the model writes `text` forever.
    """
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = _byte_tokenizer()
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
        "chat_template": CHAT_TEMPLATE}))
    eos = tokenizer.token_to_id("<|im_end|>")
    config = Qwen3Config(vocab_size=272, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=2048,
                         tie_word_embeddings=False, eos_token_id=eos, bos_token_id=None, pad_token_id=None,
                         rope_theta=10000.0)
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config).eval()
    # the chain starts at the template's last token ("\n" after "assistant") and ends with <|im_end|>
    body = tokenizer.encode(text).ids
    chain = [tokenizer.token_to_id("Ċ")] + body + [body[0] if loop else eos]
    assert len(set(chain[:-1])) == len(chain) - 1 and eos not in body and len(chain) <= config.hidden_size
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.lm_head.weight.zero_()
        for slot, (token, successor) in enumerate(zip(chain[:-1], chain[1:])):
            model.model.embed_tokens.weight[token] = torch.nn.functional.one_hot(
                torch.tensor(slot), config.hidden_size).float()
            model.lm_head.weight[successor, slot] = 5.0
    model.save_pretrained(str(directory))
    assert list(directory.glob("*.safetensors")), "save_pretrained wrote no safetensors file"
    return directory


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return _save_tiny_model(tmp_path_factory.mktemp("tiny-qwen3"))


@pytest.fixture
def problems_file(tmp_path) -> Path:
    path = tmp_path / "problems.jsonl"
    path.write_text(json.dumps({"id": 1, "problem": "Compute $3 + 4$.", "answer": "7"}) + "\n"
                    + json.dumps({"problem": "Compute $3 \\cdot 3$.", "answer": 9}) + "\n")
    return path


def test_end_to_end_eval_writes_traces_that_kinetics_traces_reads(tiny_model, problems_file, tmp_path, capsys):
    out = tmp_path / "traces" / "aime24_qwen3-0-6b_dense.jsonl"
    code = main(["eval", "--weights", str(tiny_model), "--task", "aime24", "--trials", "3",
                 "--problems", str(problems_file), "--out", str(out), "--max-new-tokens", "64",
                 "--device", "cpu", "--model", "qwen3-0.6b"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["samples"] == 6 and summary["pass@1"] == pytest.approx(50.0)

    lines = out.read_text().splitlines()
    metadata = json.loads(lines[0])
    assert metadata["task"] == "aime24" and metadata["model"] == "qwen3-0.6b" and metadata["attention"] == "dense"
    assert metadata["trials"] == 3 and metadata["pass@1"] == pytest.approx(50.0) and metadata["pass@3"] == 50.0
    assert metadata["sampling"] == {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "max_new_tokens": 64,
                                    "max_length": 32768, "seed": 0}
    assert metadata["budget"] == 0 and metadata["block_size"] == 0 and metadata["local_window"] == 0
    assert metadata["sinks"] == 0 and metadata["dense_layers"] == 0
    samples = [json.loads(line) for line in lines[1:]]
    assert [s["prediction"] for s in samples] == [[ANSWER_TEXT]] * 6
    assert [s["choices"] for s in samples] == [["7"]] * 3 + [["9"]] * 3
    # the boxed 7 is the answer: right for the first problem, wrong for the second despite the 9 in the thinking
    assert [s["score"] for s in samples] == [100.0] * 3 + [0.0] * 3

    table = read_hf_jsonl(out)
    assert len(table) == 6 and set(table["n_samples"]) == {3}
    assert table["correct"].tolist() == [True] * 3 + [False] * 3
    assert table.groupby("query_id")["num_correct"].first().tolist() == [3, 0]
    answer_tokens = len(_byte_tokenizer().encode(ANSWER_TEXT).ids) + 1  # + <|im_end|>
    assert set(table["gen_tokens"]) == {answer_tokens} and table["finished"].all()
    assert (table["prompt_tokens"] > 0).all()
    assert table["attention"].unique().tolist() == ["dense"] and table["model"].unique().tolist() == ["qwen3-0.6b"]


def test_blocktopk_run_is_named_and_described_as_such(tiny_model, problems_file, tmp_path):
    settings = kinetics_eval.EvalSettings(trials=1, max_new_tokens=32, attention="blocktopk", budget=64,
                                          page_size=16)
    problems = kinetics_eval.load_problems(problems_file)
    out = tmp_path / "not" / "yet"   # a directory that does not exist yet: made, and the file named in it
    result = kinetics_eval.run_eval(tiny_model, settings, problems, out=out, model="qwen3-0.6b")
    assert result.path == out / "aime24_qwen3-0-6b_local0_block16_blocktopk4.jsonl"
    table = read_hf_jsonl(result.path)
    assert table["attention"].unique().tolist() == ["blocktopk"]
    assert table["budget"].unique().tolist() == [64] and table["block_size"].unique().tolist() == [16]
    assert table["correct"].tolist() == [True, False] and result.pass_at_1 == pytest.approx(50.0)
    metadata = json.loads(result.path.read_text().splitlines()[0])
    assert (metadata["sinks"], metadata["dense_layers"], metadata["block_size"]) == (4, 1, 16)   # LiteSys's

    again = kinetics_eval.run_eval(tiny_model, settings, problems, out=out, model="qwen3-0.6b")
    assert again.path == out / "aime24_qwen3-0-6b_local0_block16_blocktopk4_1.jsonl"   # a second run, not over
    assert result.path.is_file() and read_hf_jsonl(again.path)["run"].unique().tolist() == [1]


def test_prompt_is_the_authors_turn_in_the_models_chat_template(tiny_model):
    tokenizer = kinetics_eval.load_tokenizer(tiny_model)
    prompt = kinetics_eval.build_prompt(tokenizer, "What is $1+1$?")
    assert prompt.startswith("<|im_start|>user\nSolve the following math problem efficiently and clearly.")
    assert prompt.endswith("What is $1+1$?<|im_end|>\n<|im_start|>assistant\n")
    assert "\\boxed{ANSWER}" in prompt
    ids = kinetics_eval.prompt_token_ids(tokenizer, "What is $1+1$?")
    assert tokenizer.decode(ids) == prompt
    assert kinetics_eval.stop_token_ids(tiny_model, tokenizer) == (tokenizer.convert_tokens_to_ids("<|im_end|>"),)


def test_sample_seeds_depend_on_problem_and_trial_only():
    a = kinetics_eval.sample_seed(0, "p", 0)
    assert a == kinetics_eval.sample_seed(0, "p", 0)
    assert len({a, kinetics_eval.sample_seed(0, "p", 1), kinetics_eval.sample_seed(0, "q", 0),
                kinetics_eval.sample_seed(1, "p", 0)}) == 4


# ---- problems ----------------------------------------------------------------------------------------------------

def test_problems_file_loads_problem_and_answer(problems_file):
    problems = kinetics_eval.load_problems(problems_file)
    assert [(p.problem, p.answer) for p in problems] == [("Compute $3 + 4$.", "7"), ("Compute $3 \\cdot 3$.", "9")]


@pytest.mark.parametrize("task", ["aime24", "aime25"])
def test_the_project_problem_sets_load_when_present(task):
    path = Path(__file__).resolve().parent.parent.parent / "shared" / "problems" / f"{task}.jsonl"
    if not path.is_file():
        pytest.skip("the project's AIME problem files are not on this machine")
    problems = kinetics_eval.problems_for(task, problems=path)
    assert len(problems) == 30 and len({p.problem for p in problems}) == 30
    assert all(p.answer.isdigit() and 0 <= int(p.answer) <= 999 for p in problems)   # AIME answers: 000..999


def test_dataset_without_the_datasets_package_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError("no datasets")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(InputError, match="needs the 'datasets' package"):
        kinetics_eval.problems_for("aime24", dataset="HuggingFaceH4/aime_2024")


def test_dataset_rows_become_problems(monkeypatch):
    import sys
    import types

    calls = []
    rows = {"train": [{"id": 60, "problem": "Find $x$.", "answer": "204", "url": "u"},
                      {"id": 61, "problem": "Find $y$.", "answer": "025"}]}
    stub = types.SimpleNamespace(load_dataset=lambda name: calls.append(name) or rows)
    monkeypatch.setitem(sys.modules, "datasets", stub)
    problems = kinetics_eval.problems_for("aime24", dataset="HuggingFaceH4/aime_2024")
    assert calls == ["HuggingFaceH4/aime_2024"]
    assert [(p.problem, p.answer) for p in problems] == [("Find $x$.", "204"), ("Find $y$.", "025")]
    with pytest.raises(InputError, match="no split 'test'"):
        kinetics_eval.problems_for("aime24", dataset="HuggingFaceH4/aime_2024", split="test")
    rows["train"].append({"question": "no problem field", "answer": "1"})
    with pytest.raises(InputError, match=r"row 2: missing field 'problem'"):
        kinetics_eval.problems_for("aime24", dataset="HuggingFaceH4/aime_2024")


def test_the_default_is_the_task_dataset_else_one_line_asking_for_a_file(monkeypatch):
    import importlib.util
    import sys
    import types

    calls = []
    stub = types.SimpleNamespace(load_dataset=lambda name: calls.append(name) or {"test": [
        {"problem": "Find $x$.", "answer": "204"}]})
    monkeypatch.setitem(sys.modules, "datasets", stub)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "datasets" else None)
    assert [p.answer for p in kinetics_eval.problems_for("aime25")] == ["204"]
    assert calls == ["math-ai/aime25"]

    def offline(name):
        raise ConnectionError("Couldn't reach 'math-ai/aime25' on the Hub (LocalEntryNotFoundError)")

    stub.load_dataset = offline
    with pytest.raises(InputError, match="cannot load dataset 'math-ai/aime25' .*give a local --problems FILE"):
        kinetics_eval.problems_for("aime25")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(InputError, match="no problems for task aime25: give --problems FILE"):
        kinetics_eval.problems_for("aime25")


# ---- bad input: one clear line each, exit code 2 -----------------------------------------------------------------

def _run(argv, capsys):
    code = main(["eval", *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("kinetics: error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_missing_weights_dir(tmp_path, problems_file, capsys):
    err = _run(["--weights", str(tmp_path / "nowhere"), "--problems", str(problems_file)], capsys)
    assert "nowhere" in err and "does not exist" in err


def test_missing_tokenizer(tiny_model, tmp_path, problems_file, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        (bare / name).symlink_to(tiny_model / name)
    err = _run(["--weights", str(bare), "--problems", str(problems_file), "--model", "qwen3-0.6b"], capsys)
    assert "no tokenizer" in err


def test_template_missing_from_tokenizer(tiny_model, tmp_path, problems_file, capsys):
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (plain / name).symlink_to(tiny_model / name)
    (plain / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast"}))
    err = _run(["--weights", str(plain), "--problems", str(problems_file), "--model", "qwen3-0.6b",
                "--max-new-tokens", "4"], capsys)
    assert "chat_template" in err


@pytest.mark.parametrize("line, field", [
    ({"problem": "What is 1+1?"}, "'answer'"),
    ({"answer": "2"}, "'problem'"),
    ({"problem": "What is 1+1?", "answer": "two apples and more"}, "'answer'"),
])
def test_problems_file_missing_a_field_names_file_line_and_field(tiny_model, tmp_path, line, field, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"problem": "ok", "answer": "1"}) + "\n" + json.dumps(line) + "\n")
    err = _run(["--weights", str(tiny_model), "--problems", str(path), "--model", "qwen3-0.6b"], capsys)
    assert str(path) in err and "line 2" in err and field in err


def test_problems_file_with_broken_json(tiny_model, tmp_path, capsys):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"problem": "x", "answer": 1\n')
    err = _run(["--weights", str(tiny_model), "--problems", str(path)], capsys)
    assert "line 1" in err and "not valid JSON" in err


@pytest.mark.parametrize("flags, message", [
    (["--trials", "0"], "--trials must be an integer >= 1"),
    (["--temperature", "-1"], "--temperature"),
    (["--temperature", "nan"], "--temperature"),
    (["--top-p", "0"], "--top-p must be in (0, 1]"),
    (["--top-p", "1.5"], "--top-p"),
    (["--top-k", "-3"], "--top-k"),
    (["--max-new-tokens", "0"], "--max-new-tokens"),
    (["--attention", "blocktopk", "--budget", "100", "--page-size", "16"], "multiple of --page-size"),
    (["--page-size", "12"], "power of two"),
    (["--limit", "0"], "--limit"),
])
def test_invalid_settings(tiny_model, problems_file, flags, message, capsys):
    err = _run(["--weights", str(tiny_model), "--problems", str(problems_file), *flags], capsys)
    assert message in err


def test_unknown_model_name_asks_for_model(tiny_model, problems_file, capsys):
    err = _run(["--weights", str(tiny_model), "--problems", str(problems_file), "--max-new-tokens", "4"], capsys)
    assert "--model" in err


def test_model_name_from_directory_name_or_config_shape(tmp_path):
    from kinetics.models import PRESET_CONFIGS

    named = tmp_path / "Qwen3-8B"
    named.mkdir()
    (named / "config.json").write_text("{}")
    assert kinetics_eval.model_name(named) == "qwen3-8b"
    snapshot = tmp_path / "3f1b2c0d"     # a Hugging Face cache snapshot: named by a commit hash
    snapshot.mkdir()
    (snapshot / "config.json").write_text(json.dumps(PRESET_CONFIGS["qwen3-1.7b"]))
    assert kinetics_eval.model_name(snapshot) == "qwen3-1.7b"
    assert kinetics_eval.model_name(snapshot, "Qwen/Qwen3-4B") == "qwen3-4b"
    (snapshot / "config.json").write_text(json.dumps({**PRESET_CONFIGS["qwen3-1.7b"], "num_hidden_layers": 3}))
    with pytest.raises(InputError, match="--model"):
        kinetics_eval.model_name(snapshot)


# ---- LiteSys's loop stop -----------------------------------------------------------------------------------------

def _litesys_cut(tokens, prompt_len, block, window, threshold):
    """LiteSys's rule step by step, as written in litesys/engine (recent_subseq_repeat_check), by brute force."""
    for k in range(1, len(tokens)):
        if prompt_len + k <= window:
            continue
        t = tokens[:k]
        start = max(0, k - window - block)
        searched = t[start:k - block]
        if k < block or len(searched) < block:
            continue
        recent = t[-block:]
        count = sum(searched[p:p + block] == recent for p in range(len(searched) - block + 1))
        if count >= threshold:
            return k - block
    return None


def test_repetition_cut_matches_litesys_rule_on_random_loops():
    import random

    rng = random.Random(1)
    block, window = 4, 32
    threshold = max(window // block - 1, 2)
    fired = 0
    for _ in range(300):
        prefix = [rng.randrange(50) for _ in range(rng.randrange(0, 60))]
        period = rng.choice([1, 2, 3, 4, 5, 7, 8, 12])
        loop = [rng.randrange(50) for _ in range(period)] * rng.randrange(0, 40)
        tail = [rng.randrange(50) for _ in range(rng.randrange(0, 10))]
        tokens, prompt_len = prefix + loop + tail, rng.randrange(0, 40)
        expected = _litesys_cut(tokens, prompt_len, block, window, threshold)
        assert kinetics_eval.repetition_cut(tokens, prompt_len, block, window, threshold) == expected
        fired += expected is not None
    assert 50 < fired < 280   # both outcomes are exercised


def test_repetition_cut_with_litesys_sizes():
    loop = list(range(1000, 1064))                   # one 64-token block, repeated
    tokens = list(range(500)) + loop * 40 + [7]
    cut = kinetics_eval.repetition_cut(tokens, prompt_len=100)
    assert cut == _litesys_cut(tokens, 100, 64, 1024, 15)
    assert cut is not None and 500 + 15 * 64 <= cut < len(tokens) - 64
    assert kinetics_eval.repetition_cut(list(range(5000)), prompt_len=100) is None


def test_a_looping_sample_is_cut_where_litesys_would_stop_it(tmp_path):
    model = _save_tiny_model(tmp_path / "looping", text="abcdefghij", loop=True)
    # a long problem (prompt > 1024 tokens) so that LiteSys's check is on from the first token: a short run suffices
    problems = [kinetics_eval.Problem("Add up all the numbers below. " + "1 + 2 + 3 + 4 + 5, " * 50, "15")]
    tokenizer = kinetics_eval.load_tokenizer(model)
    assert len(kinetics_eval.prompt_token_ids(tokenizer, problems[0].problem)) > 1024
    settings = kinetics_eval.EvalSettings(trials=1, max_new_tokens=300)
    result = kinetics_eval.run_eval(model, settings, problems, out=tmp_path / "out", model="qwen3-0.6b")
    metadata, sample = [json.loads(line) for line in result.path.read_text().splitlines()]
    looped = "abcdefghij" * 30
    # after k tokens, the last 64 (from k - 64) recur at every start s = k - 64 (mod 10) in [0, k - 128]; there are
    # 15 such starts first at k = 274, where LiteSys stops and keeps k - 64 tokens
    assert sample["gen_tokens"] == 274 - 64 and sample["prediction"] == [looped[:274 - 64]]
    assert sample["finished"] is False and metadata["repetition_stops"] == 1
    assert metadata["generated_tokens"] == 300 and metadata["total_example"] == 1

    whole = kinetics_eval.run_eval(model, kinetics_eval.EvalSettings(trials=1, max_new_tokens=300,
                                                                     repetition_stop=False),
                                   problems, out=tmp_path / "whole", model="qwen3-0.6b")
    sample = json.loads(whole.path.read_text().splitlines()[1])
    assert sample["gen_tokens"] == 300 and sample["prediction"] == [looped] and sample["finished"] is False


def test_tokenizer_that_does_not_fit_the_model_fails_before_sampling(tiny_model, tmp_path, problems_file, capsys):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    small = tmp_path / "small-vocab"
    config = Qwen3Config(vocab_size=100, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=8, eos_token_id=99)
    Qwen3ForCausalLM(config).save_pretrained(str(small))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (small / name).symlink_to(tiny_model / name)
    capsys.readouterr()  # drop save_pretrained's progress bar
    err = _run(["--weights", str(small), "--problems", str(problems_file), "--model", "qwen3-0.6b"], capsys)
    assert "only 100 embeddings" in err and "do not belong together" in err


def test_default_output_is_our_own_folder_under_the_traces_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(kinetics_eval, "DEFAULT_TRACES", tmp_path / "traces")
    settings = kinetics_eval.EvalSettings(task="aime25")
    config = kinetics_eval.trace_config(settings, "qwen3-8b")
    path, config = kinetics_eval.output_file(None, settings, config)
    assert path == tmp_path / "traces" / "eval" / "aime25" / "dense" / "aime25_qwen3-8b_dense.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("")
    assert kinetics_eval.output_file(None, settings, config)[0].name == "aime25_qwen3-8b_dense_1.jsonl"
    assert kinetics_eval.output_file(tmp_path / "mine.jsonl", settings, config)[0] == tmp_path / "mine.jsonl"
    plain = tmp_path / "a-file"
    plain.write_text("")
    with pytest.raises(InputError, match="not \\*.jsonl"):
        kinetics_eval.output_file(plain, settings, config)


def test_a_crashed_chunked_run_resumes_where_it_stopped(tiny_model, problems_file, tmp_path, monkeypatch):
    from kinetics.engine import LLM

    calls, real_generate = [], LLM.generate

    def generate(self, prompts, params, progress=False):   # the real engine, with a crash on the second call
        calls.append(len(prompts))
        if len(calls) == 2:
            raise RuntimeError("power cut")
        return real_generate(self, prompts, params, progress=progress)

    monkeypatch.setattr(LLM, "generate", generate)
    settings = kinetics_eval.EvalSettings(trials=3, max_new_tokens=32)
    problems = kinetics_eval.load_problems(problems_file)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="power cut"):
        kinetics_eval.run_eval(tiny_model, settings, problems, out=out, model="qwen3-0.6b", chunk=2)
    partial = out / "aime24_qwen3-0-6b_dense.jsonl.partial"
    assert len(partial.read_text().splitlines()) == 1 + 2      # fingerprint + the first chunk

    result = kinetics_eval.run_eval(tiny_model, settings, problems, out=out, model="qwen3-0.6b", chunk=2)
    assert calls == [2, 2, 2, 2]                                 # only the 4 missing samples were generated
    assert result.path == out / "aime24_qwen3-0-6b_dense.jsonl" and not partial.exists()
    resumed = result.path.read_text().splitlines()
    assert json.loads(resumed[0])["resumed_samples"] == 2
    assert read_hf_jsonl(result.path)["correct"].tolist() == [True] * 3 + [False] * 3

    whole = kinetics_eval.run_eval(tiny_model, settings, problems, out=tmp_path / "whole.jsonl", model="qwen3-0.6b")
    assert whole.path.read_text().splitlines()[1:] == resumed[1:]   # the same samples as an uninterrupted run

    stale = kinetics_eval.Checkpoint(partial, {"settings": "other"})
    stale.append([((0, 0), {"score": 0.0})])
    with pytest.raises(InputError, match="another run"):
        kinetics_eval.run_eval(tiny_model, settings, problems, out=out / "aime24_qwen3-0-6b_dense.jsonl",
                               model="qwen3-0.6b", chunk=2, force=True)
