"""The verdicts table: the strict cost ratio by hand, BCa over problem weights against scipy on the raw values,
the verdict rules, and the CLI on the real traces (every key, both conventions, missing models, bad input)."""
import json

import numpy as np
import pytest
from scipy import stats

from kinetics import frontier as F
from kinetics import verdicts as V
from kinetics.cli import main
from kinetics.traces import TraceConfig

REQUIRED = ["flops_vs_eflops_cost_ratio_max", "flops_vs_eflops_cost_ratio_max_without_smallest_model",
            "flops_vs_eflops_cost_ratio_median", "threshold_model", "oracle_topk_gain_low_cost",
            "oracle_topk_gain_high_cost", "blocktopk_gain_low_cost", "blocktopk_cost_saving",
            "growth_per_doubling_budget", "growth_per_doubling_tokens"]
WORDS = {V.HOLDS, V.CONDITIONAL, V.NOT_SUPPORTED, V.NOT_MEASURED}


def one_model(flops, eflops, acc):
    q, m = flops.shape
    return F.Choices(TraceConfig("aime24", "qwen3-8b"), "best-of-n", np.arange(1, m + 1), np.zeros(m, int),
                     np.ones((q, m)), {b: acc for b in F.BOUNDS}, {"flops": flops, "flops-attn": flops,
                                                                   "eflops": eflops})


def test_strict_ratio_prices_the_flops_configuration_as_is():
    # two problems, k = 1 or 2; FLOPs sees them alike, eFLOPs finds problem 0's second trial 5x dearer
    model = one_model(np.array([[1.0, 2.0], [1.0, 2.0]]), np.array([[10.0, 100.0], [10.0, 20.0]]),
                      np.array([[0.5, 1.0], [0.5, 1.0]]))
    level = np.array([0.75])
    both = np.ones((1, 2))
    # FLOPs reaches 75% only at cap 2 (k = 2 for both); eFLOPs reaches it at cap 20 (k = 2 for problem 1 only)
    assert F.ratio_curves([model], both, levels=level)[0][0, 0] == pytest.approx(1.0)
    assert F.ratio_curves([model], both, levels=level, strict=True)[0][0, 0] == pytest.approx(100 / 20)
    # a resample holding problem 1 twice: its k = 2 costs 20 either way
    only_second = np.array([[0.0, 2.0]])
    assert F.ratio_curves([model], only_second, levels=level, strict=True)[0][0, 0] == pytest.approx(1.0)
    assert F.cost_ratio([model], levels=level, n_boot=0, strict=True).ratio[0] == pytest.approx(5.0)


def test_bca_over_problem_weights_is_scipys_bca_of_the_values():
    values = np.random.default_rng(1).gamma(2.0, size=30)
    estimate, ci, method = V.bca(lambda w: w @ values / w.sum(axis=1), 30, 500, seed=3)
    direct = stats.bootstrap((values,), np.mean, n_resamples=500, method="BCa", random_state=3)
    assert method == "BCa" and estimate == pytest.approx(values.mean())
    assert ci == pytest.approx(list(direct.confidence_interval), rel=1e-9)


def test_verdict_rules():
    assert V._judge(3.3, [2.5, 5.7], 3.0) == V.HOLDS
    assert V._judge(6.6, [3.5, 11.7], 3.0) == V.CONDITIONAL
    assert V._judge(0.8, [0.6, 0.95], 3.0) == V.NOT_SUPPORTED
    assert V._judge(0.7, [0.61, 0.8], 0.6, lower_bound=True) == V.HOLDS
    assert V._judge(0.67, [0.57, 0.8], 0.6, lower_bound=True) == V.CONDITIONAL
    assert V._judge(0.04, [0.01, 0.1], 0.05, lower_bound=True) == V.NOT_SUPPORTED


def real_traces():
    """The authors' AIME24 numbers, as the package ships them (the CLI's default source on a fresh clone)."""
    from kinetics.traces import load_traces

    return load_traces("embedded")


@pytest.mark.parametrize("convention", ["paper", "exact"])
def test_cli_json_gives_every_key_with_a_definition_and_a_verdict(convention, capsys):
    real_traces()
    assert main(["verdicts", "--convention", convention, "--json", "--n-boot", "40"]) == 0
    rows = {r["claim"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(REQUIRED) <= set(rows)
    assert {key + "_strict" for key in REQUIRED[:3]} <= set(rows)
    for key, row in rows.items():
        assert row["verdict"] in WORDS, key
        assert row["definition"] and row["sensitivity"] and row["section"], key
        assert row["ci"] is None or len(row["ci"]) == 2, key
        assert row["convention"] in (convention, "measured"), key
    for key in REQUIRED:
        assert rows[key]["ours"] is not None, key
    assert rows["threshold_model"]["ci"] is None and "80%" in rows["threshold_model"]["sensitivity"]
    ratio = rows["flops_vs_eflops_cost_ratio_max"]
    assert ratio["descriptive"] and ratio["ci"][0] <= ratio["ours"] <= ratio["ci"][1]
    assert rows["flops_vs_eflops_cost_ratio_max_strict"]["ours"] >= ratio["ours"] - 1e-9
    assert rows["flops_vs_eflops_cost_ratio_median"]["ci_method"] in ("BCa", "percentile")


def test_a_missing_model_blocks_only_the_claims_that_need_it(monkeypatch, capsys):
    table = real_traces()
    smaller = table[table["model"] != "qwen3-32b"]
    rows = {v.claim: v for v in V.verdicts(smaller, "paper", n_boot=0)}
    assert not rows["flops_vs_eflops_cost_ratio_max"].computed
    assert "dense traces of qwen3-32b" in rows["flops_vs_eflops_cost_ratio_max"].sensitivity
    assert rows["blocktopk_cost_saving"].computed       # needs 1.7B, 4B, 8B only
    monkeypatch.setattr("kinetics.traces.load_traces", lambda directory=None: smaller)
    assert main(["verdicts", "--n-boot", "0", "--claim", "threshold_model"]) == 1
    assert "threshold_model cannot be computed" in capsys.readouterr().err
    assert main(["verdicts", "--n-boot", "0", "--claim", "blocktopk_cost_saving"]) == 0


def test_bad_input_is_one_line_and_exit_2(capsys):
    assert main(["verdicts", "--claim", "five_x_faster"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kinetics: error: claim 'five_x_faster' is unknown") and err.count("\n") == 1
    assert main(["verdicts", "--convention", "roughly"]) == 2     # argparse's errors too: one line, exit 2
    err = capsys.readouterr().err
    assert err.startswith("kinetics: error: argument --convention") and err.count("\n") == 1
    assert main(["verdicts", "--hardware", "abacus"]) == 2
    assert main(["verdicts", "--n-boot", "-1"]) == 2


def two_models():
    """A small model winning the low costs with KV budget 64, a large one the high costs with budget 256; within
    each model the budget never changes and more cost buys twice the tokens."""
    def model(name, budget, cost, acc):
        q = 2
        return F.Choices(TraceConfig("aime24", name, "topk", -1), "best-of-n", np.array([1, 2]),
                         np.array([budget, budget]), np.tile([1000.0, 2000.0], (q, 1)),
                         {b: np.tile(acc, (q, 1)) for b in F.BOUNDS}, {m: np.tile(cost, (q, 1)) for m in F.METRICS})
    return [model("qwen3-0.6b", 64, [1.0, 2.0], [0.3, 0.4]), model("qwen3-14b", 256, [4.0, 8.0], [0.8, 0.9])]


def test_growth_along_the_envelope_can_reverse_the_per_model_growth():
    small, large = two_models()
    for c in (small, large):
        grid, budgets, tokens = F.growth_curves(c)
        assert F.per_doubling(grid, budgets.mean(axis=0))[0] == pytest.approx(1.0)   # one budget per model
        assert F.per_doubling(grid, tokens.mean(axis=0))[0] > 1.0
    budget, tokens, grid = F.envelope_growth([small, large], np.ones((3, 2)))
    assert budget.shape == (3,) and np.allclose(budget, budget[0])
    assert budget[0] > 1.2 and budget[0] > tokens[0]     # the winner's change carries the budget up


def test_optimal_allocation_names_the_winner_and_its_mean_k():
    choices = two_models()
    frontiers = [F.frontier(c) for c in choices]
    env = F.envelope(frontiers, np.array([1.5, 2.5, 5.0, 9.0]))
    table = F.optimal_allocation(frontiers, env)
    assert table["model"].tolist() == ["qwen3-0.6b", "qwen3-0.6b", "qwen3-14b", "qwen3-14b"]
    assert table["knob"].tolist() == [1.0, 2.0, 1.0, 2.0]
    assert table["tokens"].tolist() == [1000.0, 2000.0, 1000.0, 2000.0]


def test_tensor_parallel_grows_the_batch_that_shares_weight_reads():
    from kinetics.cost import default_batch_size
    from kinetics.hardware import get_hardware

    b200 = get_hardware("b200")
    tp8 = V.tensor_parallel(b200, 8)
    assert tp8.memory_bytes == 8 * b200.memory_bytes and tp8.intensity("bf16") == b200.intensity("bf16")
    assert default_batch_size("qwen3-32b", tp8) > 8 * default_batch_size("qwen3-32b", b200)
    assert V.tensor_parallel(b200, 1) is b200


def _saturated_row(model, kind, steady_tps, whole_tps):
    return {"model": model, "attention": {"kind": kind}, "requests": 80,
            "steady": {"tokens_per_s": steady_tps, "occupancy_min": 0.92, "occupancy_max": 0.94, "decode_steps": 250},
            "whole": {"tokens_per_s": whole_tps, "prefill_s": 30.0, "wall_s": 40.0}}


def test_the_engine_claim_is_the_saturated_steady_state_of_the_traces_model(tmp_path, monkeypatch):
    import kinetics.paths

    monkeypatch.setattr(kinetics.paths, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(V, "RESULTS_DIR", tmp_path)
    claim = lambda: V._engine_claim(None)[0]  # noqa: E731 (reads only the results folder)
    assert claim().verdict == V.NOT_MEASURED
    folder = tmp_path / "nvidia-h200"
    folder.mkdir()
    meta = {"provenance": {"date": "2026-11-29T20:00:00", "device": "NVIDIA H200"}, "ceilings": {}}
    (folder / "engine_a.json").write_text(json.dumps({**meta, "saturated": [
        _saturated_row("qwen3-8b", "blocktopk", 6000.0, 300.0), _saturated_row("qwen3-8b", "dense", 2000.0, 500.0),
        _saturated_row("qwen3-14b", "blocktopk", 4000.0, 250.0)]}))
    (folder / "engine_b.json").write_text(json.dumps({**meta, "saturated": [
        _saturated_row("qwen3-32b", "blocktopk", 900.0, 100.0), _saturated_row("qwen3-32b", "dense", 1000.0, 120.0)]}))
    v = claim()
    assert v.ours == pytest.approx(3.0) and v.verdict == V.CONDITIONAL   # 8B, not the larger shapes
    assert "qwen3-32b 0.90x" in v.sensitivity and "qwen3-8b 0.60x" in v.sensitivity
    assert "qwen3-14b" not in v.sensitivity   # no dense run to compare with
    (folder / "engine_a.json").unlink()
    assert claim().ours == pytest.approx(0.9) and claim().verdict == V.NOT_SUPPORTED
