"""Scoring and calibrating the cost model against measured decode steps (no GPU needed)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from kinetics.bench.validation import (calibrate, calibrated_replay_seconds, default_device, load_results,  # noqa
                                       mape, table, validation_points)
from kinetics.errors import InputError  # noqa: E402


def _points(overhead_us={"dense": 40.0, "blocktopk": 70.0}, noise=0.0):
    points = []
    for model, layers in (("qwen3-0.6b", 28), ("qwen3-8b", 36)):
        for kind, per_layer in overhead_us.items():
            for batch in (1, 8, 64):
                for context in (1024, 8192):
                    roof = 1e-3 * (1 + batch * context / 1e5)
                    measured = roof + layers * per_layer * 1e-6
                    points.append({"model": model, "attention": kind, "batch": batch, "context": context,
                                   "layers": layers, "predicted_s": roof,
                                   "measured_s": measured * (1 + noise * ((batch + context) % 3 - 1))})
    return points


def test_mape_is_the_mean_relative_error():
    assert mape([1.0, 2.0], [1.1, 1.0]) == pytest.approx((0.1 + 0.5) / 2)


def test_calibration_recovers_a_per_layer_overhead():
    cal = calibrate(_points())
    assert cal.per_layer_s["dense"] == pytest.approx(40e-6)
    assert cal.per_layer_s["blocktopk"] == pytest.approx(70e-6)
    assert cal.mape_raw_heldout > 0.01 and cal.mape_calibrated_heldout < 1e-12
    assert cal.fit_points == 8      # the batch-1 points only


def test_calibration_does_not_fit_what_it_scores():
    noisy = calibrate(_points(noise=0.05))
    assert 0 < noisy.mape_calibrated_heldout < noisy.mape_raw_heldout


def test_calibration_needs_batch_one_points():
    with pytest.raises(InputError, match="batch-1"):
        calibrate([p for p in _points() if p["batch"] != 1])


def test_committed_gpu_results_load_and_score():
    device = default_device()
    if device is None:
        pytest.skip("no engine results committed")
    results = load_results(device)
    points = validation_points(results)
    assert points and all(p["measured_s"] > 0 and p["predicted_s"] > 0 for p in points)
    assert {p["attention"] for p in points} == {"dense", "blocktopk"}
    cal = calibrate(points)
    assert cal.mape_calibrated_heldout < cal.mape_raw_heldout
    frame = table(points, cal)
    assert len(frame) == len(points) and "calibrated_error_pct" in frame
    for row in results.get("engine_replay", {}).get("replay", []):
        assert calibrated_replay_seconds(row, cal) > row["predicted"]["seconds"]


def test_figures_build(tmp_path):
    from kinetics.engine import LLM, AttentionConfig, SamplingParams
    from kinetics.plots.engine import scheduler_timeline, validation_figure

    points = _points(noise=0.02)
    fig = validation_figure(points, calibrate(points))
    assert len(fig.axes) == 2 and fig.axes[0].get_xlabel().startswith("measured")
    tiny = {"architectures": ["Qwen3ForCausalLM"], "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16}
    llm = LLM(tiny, num_pages=8, attention=AttentionConfig(page_size=4))
    llm.generate([[1, 2, 3]] * 6, SamplingParams(forced_length=9))
    fig = scheduler_timeline({"dense": llm.last_stats})
    assert fig.axes[1].get_ylabel() == "KV pages in use"
    device = default_device()
    if device is not None:
        from kinetics.plots.engine import replay_figure, targets_figure

        results = load_results(device)
        if "targets" in results.get("engine", {}):
            targets_figure(results["engine"]["targets"]).savefig(tmp_path / "t.png")
        if "replay" in results.get("engine_replay", {}):
            replay_figure(results["engine_replay"]["replay"]).savefig(tmp_path / "r.png")


def test_saturated_runs_are_gathered_from_every_results_file(tmp_path, monkeypatch):
    import json

    import kinetics.paths
    from kinetics.bench.validation import load_saturated

    monkeypatch.setattr(kinetics.paths, "RESULTS_DIR", tmp_path)
    gpu = tmp_path / "gpu-x"
    gpu.mkdir()

    def run(date, *rows):
        return {"provenance": {"date": date, "commit": date[-2:]}, "ceilings": {"copy_tbps": 4.0},
                "saturated": [{"model": m, "attention": {"kind": k}, "steady": {"tokens_per_s": t}}
                              for m, k, t in rows]}

    old = run("2026-01-01", ("8b", "dense", 1), ("8b", "blocktopk", 3))
    (gpu / "engine_saturated_8b.json").write_text(json.dumps(old))
    (gpu / "engine_saturated.json").write_text(json.dumps(run("2026-02-02", ("32b", "dense", 5), ("8b", "dense", 2))))
    (gpu / "engine.json").write_text(json.dumps({"provenance": {}, "validate": {}}))   # no saturated part: skipped
    rows = {(r["model"], r["attention"]["kind"]): r for r in load_saturated("gpu-x")}
    assert set(rows) == {("8b", "dense"), ("8b", "blocktopk"), ("32b", "dense")}
    assert rows["8b", "dense"]["steady"]["tokens_per_s"] == 2                  # the newer run of the same pair
    assert rows["8b", "dense"]["file"] == "engine_saturated.json"
    assert rows["8b", "blocktopk"]["provenance"]["commit"] == "01"
    with pytest.raises(InputError, match="no saturated run"):
        load_saturated("gpu-y")


def test_targets_come_from_the_newest_file_that_has_them(tmp_path, monkeypatch):
    import json

    import kinetics.paths
    from kinetics.bench.validation import load_targets

    monkeypatch.setattr(kinetics.paths, "RESULTS_DIR", tmp_path)
    gpu = tmp_path / "gpu-x"
    gpu.mkdir()
    for name, date, targets in (("engine.json", "2026-01-01", [{"batch": 256}]), ("engine_targets.json", "2026-02-02",
                                [{"batch": 64}]), ("engine_saturated.json", "2026-03-03", None)):
        (gpu / name).write_text(json.dumps({"provenance": {"date": date}, "targets": targets}))
    assert load_targets("gpu-x")["file"] == "engine_targets.json"
    assert load_targets("gpu-x")["targets"] == [{"batch": 64}]
    with pytest.raises(InputError, match="no targets run"):
        load_targets("gpu-y")
