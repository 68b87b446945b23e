"""Nothing a user gives is lost: existing files kept, torn checkpoints resumed, interrupted runs resumed with no
loss and no duplicate, other weights refused on resume, a crash or Ctrl-C in the middle of a command leaves the old
results, and the silent wrong numbers of the hardening issue stay fixed."""
from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from kinetics.cli import main  # noqa: E402
from kinetics.errors import InputError  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from test_eval import _save_tiny_model  # noqa: E402
from test_traces import LENGTHS, CORRECT, table_rows  # noqa: E402

DENSE_CSV = "aime24_qwen3-0-6b_dense_numTrials_tradeoff.csv"
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return _save_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen3-0.6b")


@pytest.fixture
def traces(tmp_path):
    (tmp_path / "traces" / "dense").mkdir(parents=True)
    table_rows(LENGTHS, CORRECT).to_csv(tmp_path / "traces" / "dense" / DENSE_CSV, index=False)
    return tmp_path / "traces"


def one_error_line(capsys, prefix="kinetics: error: ") -> str:
    """The one line the command ended with (progress bars may come before it), and no traceback."""
    err = capsys.readouterr().err
    ours = [line for line in err.splitlines() if line.startswith("kinetics:")]
    assert len(ours) == 1 and ours[0].startswith(prefix) and err.rstrip().endswith(ours[0]), err
    assert "Traceback" not in err
    return ours[0]


# ---- existing files are kept; --force replaces atomically ---------------------------------------------------------

def test_existing_output_is_kept_without_force_and_replaced_whole_with_it(traces, tmp_path, capsys):
    out = tmp_path / "points.csv"
    out.write_text("mine\n")
    argv = ["frontier", "--traces", str(traces), "--points", "8", "--csv", str(out)]
    assert main(argv) == 2
    assert "--force" in one_error_line(capsys) and out.read_text() == "mine\n"
    assert main(argv + ["--force"]) == 0
    assert out.read_text().startswith("model,") or "," in out.read_text().splitlines()[0]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".points")] == []   # no temporary left


def test_a_full_disk_replaces_nothing(traces, tmp_path, capsys, monkeypatch):
    out = tmp_path / "points.csv"
    out.write_text("mine\n")

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    assert main(["frontier", "--traces", str(traces), "--points", "8", "--csv", str(out), "--force"]) == 2
    assert "No space left on device" in one_error_line(capsys)
    assert out.read_text() == "mine\n" and sorted(p.name for p in tmp_path.iterdir()) == ["points.csv", "traces"]


# ---- eval: interrupted, torn, resumed; other weights refused -------------------------------------------------------

def _eval_argv(weights, problems, out, *extra):
    return ["eval", "--weights", str(weights), "--problems", str(problems), "--model", "qwen3-0.6b", "--trials", "3",
            "--max-new-tokens", "32", "--chunk", "2", "--device", "cpu", "--out", str(out), *extra]


@pytest.fixture
def problems(tmp_path):
    path = tmp_path / "problems.jsonl"
    path.write_text(json.dumps({"problem": "Compute $3 + 4$.", "answer": "7"}) + "\n"
                    + json.dumps({"problem": "Compute $3 \\cdot 3$.", "answer": 9}) + "\n")
    return path


def _interrupt_second_call(monkeypatch):
    """The real engine; Ctrl-C arrives during its second generate() call."""
    from kinetics.engine import LLM

    calls, real = [], LLM.generate

    def generate(self, prompts, params, progress=False):
        calls.append(len(prompts))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, prompts, params, progress=progress)

    monkeypatch.setattr(LLM, "generate", generate)
    return calls


def _samples(path: Path) -> list[str]:
    return path.read_text().splitlines()[1:]


def test_interrupted_eval_says_what_it_saved_and_resumes_with_no_loss_and_no_duplicate(tiny, problems, tmp_path,
                                                                                        capsys, monkeypatch):
    whole = tmp_path / "whole.jsonl"
    assert main(_eval_argv(tiny, problems, whole)) == 0
    out = tmp_path / "run.jsonl"
    calls = _interrupt_second_call(monkeypatch)
    assert main(_eval_argv(tiny, problems, out)) == 130
    line = one_error_line(capsys, "kinetics: interrupted: ")
    assert "2 of 6 samples are saved in" in line and "run.jsonl.partial" in line and "rerun" in line
    assert not out.exists()
    monkeypatch.undo()
    assert main(_eval_argv(tiny, problems, out)) == 0
    assert calls == [2, 2]
    assert _samples(out) == _samples(whole)            # no sample lost, none twice, the same as one run
    assert json.loads(out.read_text().splitlines()[0])["resumed_samples"] == 2
    assert not Path(str(out) + ".partial").exists()


def test_a_torn_last_checkpoint_line_is_generated_again(tiny, problems, tmp_path, capsys, monkeypatch):
    whole = tmp_path / "whole.jsonl"
    assert main(_eval_argv(tiny, problems, whole)) == 0
    out = tmp_path / "run.jsonl"
    _interrupt_second_call(monkeypatch)
    assert main(_eval_argv(tiny, problems, out)) == 130
    monkeypatch.undo()
    partial = Path(str(out) + ".partial")
    lines = partial.read_text().splitlines()
    partial.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])   # the crash tore it
    assert main(_eval_argv(tiny, problems, out)) == 0
    assert _samples(out) == _samples(whole)
    assert json.loads(out.read_text().splitlines()[0])["resumed_samples"] == 1


def test_other_weights_in_the_same_directory_are_refused_on_resume(tiny, problems, tmp_path, capsys, monkeypatch):
    weights = tmp_path / "qwen3-0.6b"
    shutil.copytree(tiny, weights)
    out = tmp_path / "run.jsonl"
    _interrupt_second_call(monkeypatch)
    assert main(_eval_argv(weights, problems, out)) == 130
    monkeypatch.undo()
    capsys.readouterr()
    other = _save_tiny_model(tmp_path / "other", text="<think>1</think>\\boxed{2}")   # same shapes, other values
    shutil.copy(other / "model.safetensors", weights / "model.safetensors")
    assert main(_eval_argv(weights, problems, out)) == 2
    assert "another run (other weights" in one_error_line(capsys)


def test_eval_checks_its_output_before_sampling(tiny, problems, tmp_path, capsys, monkeypatch):
    from kinetics.engine import LLM

    monkeypatch.setattr(LLM, "generate", lambda *a, **k: pytest.fail("sampled before checking --out"))
    out = tmp_path / "run.jsonl"
    out.write_text("an earlier run\n")
    assert main(_eval_argv(tiny, problems, out)) == 2
    assert "--force" in one_error_line(capsys) and out.read_text() == "an earlier run\n"


# ---- replay and bench: Ctrl-C and crashes keep what was there ------------------------------------------------------

def test_ctrl_c_in_replay_says_what_was_saved(traces, tmp_path, capsys, monkeypatch):
    import kinetics.engine.replay as engine_replay

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine_replay, "replay", interrupted)
    saved = tmp_path / "w.json"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"architectures": ["Qwen3ForCausalLM"], "vocab_size": 64, "hidden_size": 16,
                                  "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                  "num_key_value_heads": 1, "head_dim": 8, "max_position_embeddings": 4096}))
    assert main(["replay", "--model", str(config), "--trace-model", "qwen3-0.6b", "--traces", str(traces),
                 "--trials", "2", "--max-problems", "1", "--length-scale", "0.01", "--save-workload",
                 str(saved)]) == 130
    line = one_error_line(capsys, "kinetics: interrupted: ")
    assert f"rerun with --traces {saved}" in line and json.loads(saved.read_text())["trials"] == 2


@pytest.mark.parametrize("fault, code, words", [(RuntimeError("GPU fell off the bus"), 1, "internal error"),
                                                (KeyboardInterrupt(), 130, "is as it was")])
def test_a_crash_in_the_middle_of_bench_leaves_the_old_results(tmp_path, capsys, monkeypatch, fault, code, words):
    import kinetics.cli.bench as bench_cli

    def crash(*args, **kwargs):
        raise fault

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(bench_cli, "provenance", lambda command: {"command": command})
    monkeypatch.setattr(bench_cli, "measure_ceilings", lambda: {"copy_tbps": 1.0, "matmul_tflops": 1.0})
    monkeypatch.setattr(bench_cli, "bench_targets", crash)
    out = tmp_path / "engine.json"
    out.write_text('{"old": "results"}')
    assert main(["bench", "engine", "--parts", "targets", "--out", str(out), "--force"]) == code
    assert words in capsys.readouterr().err
    assert out.read_text() == '{"old": "results"}' and [p.name for p in tmp_path.iterdir()] == ["engine.json"]


def test_a_crash_after_a_part_keeps_that_part_beside_the_old_results(tmp_path, capsys, monkeypatch):
    import kinetics.cli.bench as bench_cli

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(bench_cli, "provenance", lambda command: {"command": command})
    monkeypatch.setattr(bench_cli, "measure_ceilings", lambda: {"copy_tbps": 1.0, "matmul_tflops": 1.0})
    monkeypatch.setattr(bench_cli, "bench_targets", lambda *a, **k: [{"batch": 64}])
    monkeypatch.setattr(bench_cli, "bench_saturated", crash)
    out = tmp_path / "engine.json"
    out.write_text('{"old": "results"}')
    assert main(["bench", "engine", "--parts", "targets,saturated", "--out", str(out), "--force"]) == 130
    assert "engine.json.partial" in capsys.readouterr().err
    assert out.read_text() == '{"old": "results"}'
    partial = json.loads((tmp_path / "engine.json.partial").read_text())
    assert partial["parts_done"] == ["targets"] and partial["targets"] == [{"batch": 64}]


# ---- internal errors: one line, the traceback only under --debug ---------------------------------------------------

def test_an_internal_error_is_one_line_and_its_traceback_is_behind_debug(capsys, monkeypatch):
    import kinetics.cli.hardware as hardware_cli

    def bug(name):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(hardware_cli, "get_hardware", bug)
    assert main(["hardware", "show", "b200"]) == 1
    assert "internal error: ZeroDivisionError" in one_error_line(capsys, "kinetics: internal error: ")
    assert main(["--debug", "hardware", "show", "b200"]) == 1
    assert "Traceback" in capsys.readouterr().err


# ---- the silent wrong numbers stay fixed --------------------------------------------------------------------------

def test_paper_convention_prices_an_moe_by_its_active_parameters():
    from kinetics.cost import generation_cost, paper_params
    from kinetics.hardware import get_hardware
    from kinetics.models import get_model

    moe = get_model("qwen3-30b-a3b")
    assert paper_params(moe) == moe.params_active < moe.params_total / 5
    cost = generation_cost(moe, get_hardware("b200"), 100, 1000, convention="paper")
    assert cost.breakdown["flops_params"] == pytest.approx(2 * moe.params_active * 1000, rel=1e-9)


def test_memory_gb_sets_the_memory_of_a_preset(capsys):
    base = ["cost", "--model", "qwen3-8b", "--prompt-tokens", "100", "--gen-tokens", "1000", "--json"]
    assert main(base) == 0
    preset = json.loads(capsys.readouterr().out)
    assert main(base + ["--memory-gb", "40"]) == 0
    smaller = json.loads(capsys.readouterr().out)
    assert smaller["hardware"] == "b200 with 40 GB" and smaller["batch_size"] < preset["batch_size"]


def test_frontier_plot_under_flops_is_labelled_flop(traces, tmp_path, monkeypatch):
    import kinetics.plots.scaling as scaling

    units, real = [], scaling.plot_frontiers

    def spy(*args, **kwargs):
        units.append(kwargs.get("unit"))
        return real(*args, **kwargs)

    monkeypatch.setattr(scaling, "plot_frontiers", spy)
    assert main(["frontier", "--traces", str(traces), "--points", "8", "--cost", "flops", "--plot",
                 str(tmp_path / "f.png")]) == 0
    assert units == ["FLOP"] and (tmp_path / "f.png").stat().st_size > 0


def test_pooling_duplicates_is_asked_for_and_counts_each_run_once(traces, capsys):
    from kinetics.traces import load_traces, summary

    alone = summary(load_traces(traces))
    (traces / "copy").mkdir()
    shutil.copy(traces / "dense" / DENSE_CSV, traces / "copy" / DENSE_CSV)
    with pytest.raises(InputError, match="copy/" + DENSE_CSV):
        load_traces(traces)
    pooled = summary(load_traces(traces, pool=True))
    assert pooled["pass@1"].tolist() == alone["pass@1"].tolist()          # not halved
    assert pooled["samples"].tolist() == [2 * n for n in alone["samples"]]


def test_csv_and_jsonl_of_one_setting_are_never_pooled(traces):
    from kinetics.traces import load_traces

    lines = [{"model": "qwen3-0.6b", "task": "aime24", "attention": "dense"}] + [
        {"query": "q", "choices": ["1"], "prediction": ["x"], "score": 0, "gen_tokens": 5}] * 4
    (traces / "aime24_qwen3-0-6b_dense.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n")
    for pool in (False, True):
        with pytest.raises(InputError, match="two formats"):
            load_traces(traces, pool=pool)


def test_a_finite_check_can_be_skipped(tiny, tmp_path):
    from safetensors.torch import load_file, save_file

    from kinetics.engine import LLM

    weights = tmp_path / "w"
    shutil.copytree(tiny, weights)
    tensors = load_file(str(weights / "model.safetensors"))
    tensors["model.norm.weight"][0] = float("inf")
    save_file(tensors, str(weights / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(InputError, match="not finite"):
        LLM(weights, weights=weights)
    LLM(weights, weights=weights, check_finite=False)
