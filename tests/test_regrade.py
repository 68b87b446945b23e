"""Long CoT re-graded from the text: a sample that boxed its answer before the cut counts at that cut, where the
bounds from counts call every cut sample wrong."""
import numpy as np
import pytest

from kinetics import frontier as F
from kinetics.errors import InputError
from kinetics.regrade import regraded_accuracy, truncated_grades
from kinetics.traces import TraceConfig, group_arrays, read_hf_jsonl, write_hf_jsonl

FILLER = " and so we keep thinking about it" * 60   # ~420 tokens, no digits


def samples():
    early = "We find the value \\boxed{42} now." + FILLER          # answer before any cut
    late = "Let us see." + FILLER + " Therefore \\boxed{5}."          # answer only at the end
    return [{"query": "Find x.", "choices": ["42"], "prediction": early, "score": 100},
            {"query": "Find x.", "choices": ["42"], "prediction": "It is \\boxed{7}.", "score": 0},
            {"query": "Find y.", "choices": ["5"], "prediction": "Clearly \\boxed{5}.", "score": 100},
            {"query": "Find y.", "choices": ["5"], "prediction": late, "score": 100}]


def test_regrading_counts_answers_written_before_the_cut(tmp_path):
    path = write_hf_jsonl(tmp_path, TraceConfig("aime24", "qwen3-8b"), samples(), cap_tokens=4096)
    budgets = np.array([64, 2048])
    correct = truncated_grades(path, budgets)
    assert correct.shape == (2, 2, 2)
    assert correct[0, 0].tolist() == [True, True]      # boxed 42 within the first 64 tokens
    assert correct[1, 1].tolist() == [False, True]     # the answer comes after token 64
    regraded = regraded_accuracy(path, budgets)
    assert regraded.tolist() == [[0.5, 0.5], [0.5, 1.0]]
    # the bounds from the trace table count the long sample of problem 0 as wrong at G = 64
    data = group_arrays(read_hf_jsonl(path))[0]
    bounds = F.long_cot_accuracy(data, budgets)
    assert bounds["high"][0, 0] == 0.0 and regraded[0, 0] > bounds["high"][0, 0]
    assert np.allclose(bounds["estimate"][:, 1], regraded[:, 1])   # nothing is cut at G = 2048


def test_regrading_needs_the_text(tmp_path):
    path = write_hf_jsonl(tmp_path, TraceConfig("aime24", "qwen3-8b"), samples(), cap_tokens=4096)
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"choices": ["42"]', '"choices": []')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="line 2: re-grading needs"):
        truncated_grades(path, [64])
