"""The trace readers on small files the tests write: both formats, every malformed input, the summary CLI."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from kinetics import traces
from kinetics.cli import main
from kinetics.errors import InputError
from kinetics.traces import TraceConfig


def table_rows(lengths_per_query, correct_per_query, trials=(1, 2, 4), budget=None):
    rows = []
    for q, (lengths, c) in enumerate(zip(lengths_per_query, correct_per_query)):
        n = len(lengths)
        for k in trials:
            if k > n:
                continue
            row = {"query_id": q, "query": f"What is {q} + {q}?", "choices": str(2 * q),
                   "generation_length": json.dumps(lengths), "trial": k,
                   "coverage": 1 - math.comb(n - c, k) / math.comb(n, k),
                   "compute_cost": 1.0, "memory_cost": 1.0, "total_cost": 2.0}
            if budget is not None:
                row["budget"] = budget
            rows.append(row)
    return pd.DataFrame(rows)


LENGTHS = [[100, 2000, 30767, 500], [7000, 30766, 40, 1200], [10, 20, 30, 40]]
CORRECT = [2, 1, 0]


@pytest.fixture
def traces_dir(tmp_path):
    (tmp_path / "dense").mkdir()
    (tmp_path / "topk").mkdir()
    table_rows(LENGTHS, CORRECT).to_csv(tmp_path / "dense" / "aime24_qwen3-0-6b_dense_numTrials_tradeoff.csv",
                                        index=False)
    table_rows(LENGTHS, [1, 1, 1], budget=96).to_csv(
        tmp_path / "topk" / "aime24_qwen3-8b_local32_topk64_numTrials_tradeoff.csv", index=False)
    return tmp_path


def test_file_names_parse_to_settings():
    parse = traces.parse_trace_name
    assert parse("aime24_qwen3-0-6b_dense_numTrials_tradeoff.csv") == TraceConfig("aime24", "qwen3-0.6b")
    assert parse("x/aime24_qwen3-4b_local128_topk128_numTrials_tradeoff.csv") == TraceConfig(
        "aime24", "qwen3-4b", "topk", 256, 0, 128)
    assert parse("aime24_qwen3-4b_local0_topk32_1_numTrials_tradeoff.csv").run == 1
    assert parse("aime24_qwen3-8b_local0_block16_blocktopk64_tradeoff.csv") == TraceConfig(
        "aime24", "qwen3-8b", "blocktopk", 1024, 16, 0)
    assert parse("aime25_qwen3-14b_local0_topk512.jsonl").budget == 512
    for config in (TraceConfig("aime24", "qwen3-1.7b", "blocktopk", 1024 + 16, 64, 16, 1),
                   TraceConfig("aime25", "qwen3-0.6b", "topk", 160, 0, 32), TraceConfig("math", "qwen3-32b")):
        assert parse(traces.trace_file_name(config)) == config


def test_csv_table_becomes_tidy_rows(traces_dir):
    table = traces.read_table_csv(traces_dir / "dense" / "aime24_qwen3-0-6b_dense_numTrials_tradeoff.csv")
    assert list(table.columns) == traces.TIDY_COLUMNS
    assert len(table) == 12
    assert table["gen_tokens"].tolist() == sum(LENGTHS, [])
    assert table.groupby("query_id")["num_correct"].first().tolist() == CORRECT
    assert table["finished"].tolist() == [True, True, False, True, True, False, True, True] + [True] * 4
    assert table["correct"].isna().all()
    assert (table["model"] == "qwen3-0.6b").all() and (table["budget"] == 0).all()
    # the prompt is the templated problem, so it is longer than the bare problem text and differs per problem
    assert (table["prompt_tokens"] > 5).all()


def test_real_prompt_lengths_come_from_the_tokenizer(traces_dir):
    from kinetics.prompts import prompt_tokens

    table = traces.read_table_csv(traces_dir / "dense" / "aime24_qwen3-0-6b_dense_numTrials_tradeoff.csv")
    assert table.loc[0, "prompt_tokens"] == prompt_tokens("What is 0 + 0?")


def test_load_and_group_pool_runs(traces_dir):
    # a second run of the same setting is pooled: twice the samples, correct counts added
    table_rows(LENGTHS, [4, 0, 1]).to_csv(traces_dir / "dense" / "aime24_qwen3-0-6b_dense_1_numTrials_tradeoff.csv",
                                          index=False)
    table = traces.load_traces(traces_dir)
    groups = {g.config.label: g for g in traces.group_arrays(table)}
    dense = groups["qwen3-0.6b dense"]
    assert dense.gen_tokens.shape == (3, 8)
    assert dense.num_correct.tolist() == [6, 1, 1]
    assert dense.correct is None
    topk = groups["qwen3-8b topk B=96, local 32"]
    assert topk.config.budget == 96 and topk.config.local_window == 32


def test_summary_numbers(traces_dir):
    frame = traces.summary(traces.load_traces(traces_dir))
    dense = frame[frame["attention"] == "dense"].iloc[0]
    assert dense["problems"] == 3 and dense["samples"] == 12
    assert dense["pass@1"] == pytest.approx(np.mean([2 / 4, 1 / 4, 0]))
    assert dense["mean_tokens"] == pytest.approx(np.mean(sum(LENGTHS, [])))
    assert dense["p90_tokens"] == pytest.approx(np.percentile(sum(LENGTHS, []), 90))
    assert dense["at_cap"] == pytest.approx(2 / 12)
    assert frame["model"].tolist() == ["qwen3-0.6b", "qwen3-8b"]  # ordered by size


def test_summary_cli(traces_dir, capsys):
    assert main(["traces", "summary", "--traces", str(traces_dir), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in records} == {"qwen3-0.6b", "qwen3-8b"}
    assert main(["traces", "summary", "--traces", str(traces_dir)]) == 0
    assert "qwen3-8b" in capsys.readouterr().out


# ---- malformed inputs: one InputError naming file, row and field ---------------------------------------------

def write_bad(tmp_path, frame, name="aime24_qwen3-8b_dense_numTrials_tradeoff.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("mutate,words", [
    (lambda f: f.drop(columns=["coverage"]), ["missing column 'coverage'"]),
    (lambda f: f.assign(generation_length=f["generation_length"].where(f.index != 2, "[1, 2,")),
     ["row 3", "generation_length"]),
    (lambda f: f.assign(generation_length=f["generation_length"].where(f.index != 1, "[1, -2, 3, 4]")),
     ["row 2", "generation_length"]),
    (lambda f: f.assign(coverage=f["coverage"].where(f.index != 4, 1.5)), ["row 5", "coverage"]),
    (lambda f: f.assign(coverage=f["coverage"].where(f.index != 1, 0.3)), ["row 2", "coverage", "pass@2"]),
    (lambda f: f.assign(generation_length=f["generation_length"].where(f.index != 1, "[1, 2, 3]")),
     ["row 2", "inconsistent sample counts"]),
    (lambda f: f.assign(trial=f["trial"].where(f.index != 0, 9)), ["row 1", "trial"]),
    (lambda f: f[f["trial"] != 1], ["no trial=1 row", "query_id 0"]),
    (lambda f: f.assign(budget=512), ["row 1", "budget"]),
])
def test_malformed_csv_is_one_clear_error(tmp_path, mutate, words):
    path = write_bad(tmp_path, mutate(table_rows(LENGTHS, CORRECT)))
    with pytest.raises(InputError) as error:
        traces.read_table_csv(path)
    message = str(error.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_sample_counts_must_agree_between_problems(tmp_path):
    path = write_bad(tmp_path, table_rows([[1, 2, 3, 4], [1, 2]], [1, 1], trials=(1, 2)))
    with pytest.raises(InputError, match="inconsistent sample counts between problems"):
        traces.read_table_csv(path)


def test_unknown_model_and_bad_names(tmp_path):
    with pytest.raises(InputError, match="unknown model name 'llama-9b'.*field model"):
        traces.read_table_csv(write_bad(tmp_path, table_rows(LENGTHS, CORRECT), "aime24_llama-9b_dense.csv"))
    with pytest.raises(InputError, match="file name not understood"):
        traces.read_table_csv(write_bad(tmp_path, table_rows(LENGTHS, CORRECT), "results.csv"))


def test_empty_and_missing_directories(tmp_path):
    with pytest.raises(InputError, match="holds no trace files"):
        traces.load_traces(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        traces.load_traces(tmp_path / "nope")
    assert main(["traces", "summary", "--traces", str(tmp_path)]) == 2


# ---- the Hugging Face jsonl format --------------------------------------------------------------------------

def hf_samples(n=3):
    samples = []
    for q, answer in enumerate(["12", "7"]):
        for j in range(n):
            samples.append({"query": f"Problem {q}", "choices": [answer],
                            "prediction": ["<think>\nlet me think</think> The answer is $\\boxed{%s}$" % (
                                answer if j <= q else "0")],
                            "score": 100.0 if j <= q else 0.0})
    return samples


def test_hf_round_trip_with_tokenizer_lengths(tmp_path):
    config = TraceConfig("aime25", "qwen3-1.7b", "blocktopk", 256, 64, 0)
    path = traces.write_hf_jsonl(tmp_path, config, hf_samples())
    assert path.name == "aime25_qwen3-1-7b_local0_block64_blocktopk4.jsonl"
    metadata = json.loads(path.read_text().splitlines()[0])
    assert metadata["attn_block_size"] == 64 and metadata["attn_block_topk"] == 4
    table = traces.read_hf_jsonl(path)
    assert len(table) == 6
    assert table["correct"].tolist() == [True, False, False, True, True, False]
    assert table.groupby("query_id")["num_correct"].first().tolist() == [1, 2]
    expected = traces.count_tokens([s["prediction"][0] for s in hf_samples()])
    assert table["gen_tokens"].tolist() == expected.tolist()
    assert 10 < expected[0] < 40  # special tokens count once
    assert table["finished"].all()
    arrays = traces.group_arrays(table)[0]
    assert arrays.correct.tolist() == [[True, False, False], [True, True, False]]


def test_hf_exact_counts_win_over_retokenising(tmp_path):
    samples = hf_samples(2)
    for i, sample in enumerate(samples):
        sample.update(gen_tokens=1000 * (i + 1), finished=i != 3, prompt_tokens=77)
    path = traces.write_hf_jsonl(tmp_path / "a.jsonl", TraceConfig("aime24", "qwen3-8b"), samples)
    table = traces.read_hf_jsonl(path)  # name not understood: the metadata decides
    assert table["gen_tokens"].tolist() == [1000, 2000, 3000, 4000]
    assert table["finished"].tolist() == [True, True, True, False]
    assert (table["prompt_tokens"] == 77).all() and (table["model"] == "qwen3-8b").all()


@pytest.mark.parametrize("line,words", [
    ('{"query": "Problem 0", "choices": ["1"], "prediction": ["x"]}', ["line 3", "missing field 'score'"]),
    ('{"query": "Problem 0", "choices": ["1"], "prediction": ["x"], "score": 50}', ["line 3", "score"]),
    ('{"query": "Problem 0", "choices": ["1"], "prediction": 3, "score": 0}', ["line 3", "prediction"]),
    ('{"query": "Problem 0", "choices": ["1"], "prediction": ["x"], "score": 0, "gen_tokens": -1}',
     ["line 3", "gen_tokens"]),
    ('not json', ["line 3", "not valid JSON"]),
])
def test_malformed_hf_lines(tmp_path, line, words):
    path = traces.write_hf_jsonl(tmp_path, TraceConfig("aime24", "qwen3-8b"), hf_samples(1))
    lines = path.read_text().splitlines()
    lines[2] = line
    path.write_text("\n".join(lines))
    with pytest.raises(InputError) as error:
        traces.read_hf_jsonl(path)
    for word in [str(path)] + words:
        assert word in str(error.value)


def test_hf_metadata_must_agree_with_the_name_and_counts_must_agree(tmp_path):
    path = traces.write_hf_jsonl(tmp_path, TraceConfig("aime24", "qwen3-8b"), hf_samples())
    renamed = path.with_name("aime24_qwen3-4b_dense.jsonl")
    path.rename(renamed)
    with pytest.raises(InputError, match="field model"):
        traces.read_hf_jsonl(renamed)
    uneven = traces.write_hf_jsonl(tmp_path, TraceConfig("aime24", "qwen3-8b"), hf_samples()[:-1])
    with pytest.raises(InputError, match="inconsistent sample counts"):
        traces.read_hf_jsonl(uneven)
    empty = tmp_path / "aime24_qwen3-8b_dense.jsonl"
    empty.write_text('{"task": "aime24"}\n')
    with pytest.raises(InputError, match="no sample lines"):
        traces.read_hf_jsonl(empty)
    with pytest.raises(InputError, match="sample 1: missing field 'score'"):
        traces.write_hf_jsonl(tmp_path, TraceConfig("aime24", "qwen3-8b"), [{"query": "q", "choices": ["1"],
                                                                             "prediction": ["x"]}])


def test_the_embedded_aime24_numbers():
    frame = traces.summary(traces.load_traces("embedded"))
    dense = frame[(frame["attention"] == "dense") & (frame["task"] == "aime24")].set_index("model")
    # LiteSys reports AIME24 pass@1 of 75.2% for Qwen3-8B (the authors' README); the tables hold the same samples
    assert dense.loc["qwen3-8b", "pass@1"] == pytest.approx(0.752, abs=0.001)
    assert dense.loc["qwen3-8b", "samples"] == 960


def test_the_source_description_names_no_machine_path(traces_dir):
    """It travels into saved workloads, results files and rendered chapters: a directory outside the repository
    is named by its last component, one inside it relative to the repository's root."""
    from kinetics.paths import REPO_ROOT, portable_path

    source = traces.load_traces(traces_dir).attrs["traces_source"]
    assert str(traces_dir) not in source and repr(traces_dir.name) in source
    assert portable_path(REPO_ROOT / "data" / "traces") == "data/traces"
    assert portable_path("data/traces") == "data/traces"
