"""The step-time model: NNLS recovers known coefficients, judges itself on held-out points, refuses other GPUs."""
from __future__ import annotations

import numpy as np
import pytest

from kinetics.errors import InputError
from kinetics.step_time import StepModel, decode_step_terms, fit_step_model, window_steps


def grid(coefficients: dict, noise: float = 0.0, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    points = []
    for kind, (a, b, c, d, e) in coefficients.items():
        for model, layers in (("s", 28), ("m", 36), ("l", 64)):
            for batch in (1, 8, 32, 128):
                for context in (1024, 4096, 16384):
                    for spread in (0.0, 3e-4 * layers / 28):   # equal contexts, then unequal ones
                        compute = 1e-6 * batch * layers
                        memory = 1e-3 * layers / 28 + 1e-8 * batch * context
                        t = (a * layers + b * layers * batch + c * (compute + memory) + d * max(compute, memory)
                             + e * spread)
                        points.append({"attention": kind, "model": model, "layers": layers, "batch": batch,
                                       "context": context, "ragged": spread > 0, "predicted_compute_s": compute,
                                       "predicted_memory_s": memory, "predicted_spread_s": spread,
                                       "predicted_s": compute + memory,
                                       "measured_s": t * (1 + noise * rng.standard_normal())})
    return points


TRUE = {"dense": (40e-6, 2e-7, 0.0, 1.05, 2.0), "blocktopk": (80e-6, 6e-7, 0.3, 0.8, 0.0)}


def test_fit_recovers_known_coefficients_and_scores_the_held_out_half():
    model = fit_step_model(grid(TRUE), "gpu-x")
    for kind, truth in TRUE.items():
        assert np.allclose(model.coefficients[kind], truth, rtol=1e-3, atol=1e-9)
        assert model.fit[kind]["mape_heldout"] < 1e-6
        assert model.fit[kind]["fit_points"] == model.fit[kind]["heldout_points"] == 36


def test_noise_shows_in_the_held_out_error():
    model = fit_step_model(grid(TRUE, noise=0.05), "gpu-x")
    assert 0.01 < model.fit["dense"]["mape_heldout"] < 0.1
    assert all(c >= 0 for cs in model.coefficients.values() for c in cs)


def test_calibration_is_saved_and_refuses_another_device(tmp_path):
    path = fit_step_model(grid(TRUE), "nvidia-h200", {"commit": "abc1234"}).save(tmp_path / "step_model.json")
    loaded = StepModel.load(path, device="nvidia-h200")
    assert loaded.provenance["commit"] == "abc1234"
    with pytest.raises(InputError, match="calibration for nvidia-h200, not for nvidia-b200"):
        StepModel.load(path, device="nvidia-b200")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="not a step-model calibration"):
        StepModel.load(tmp_path / "bad.json")
    with pytest.raises(InputError, match="no 'minmax' backend"):
        loaded.step_seconds("minmax", 36, 1, 0.0, 0.0)


def test_a_calibration_without_the_longest_row_term_still_predicts():
    old = StepModel({"dense": [1e-5, 0.0, 1.0, 0.0]}, "gpu-x")   # saved before the fifth coefficient existed
    assert old.step_seconds("dense", 10, 4, 1e-3, 2e-3, spread_s=5.0) == pytest.approx(1e-4 + 3e-3)


def test_too_few_points_is_a_clear_error():
    with pytest.raises(InputError, match="at least 5"):
        fit_step_model(grid(TRUE)[:5], "gpu-x")


def test_step_terms_are_the_sum_over_requests():
    from kinetics.cost import Attention
    from kinetics.hardware import hardware_from_numbers
    from kinetics.models import get_model

    spec, hw = get_model("qwen3-8b"), hardware_from_numbers(780, 4.3)
    one = decode_step_terms(spec, hw, Attention.dense(), [8192], bucket=1)
    four = decode_step_terms(spec, hw, Attention.dense(), [8192] * 4, bucket=1)
    mixed = decode_step_terms(spec, hw, Attention.dense(), [4096, 8192, 8192, 12288], bucket=1)
    assert four["memory_seconds"] < 4 * one["memory_seconds"]          # the weights are read once
    assert mixed["memory_seconds"] == pytest.approx(four["memory_seconds"], rel=1e-9)  # KV linear in context
    sparse = decode_step_terms(spec, hw, Attention.blocktopk(1024, 16), [32768] * 4, bucket=1)
    assert sparse["memory_seconds"] < four["memory_seconds"] * 4
    # the longest row's excess over the mean row: zero for equal contexts; here one row's KV of 4096 tokens
    assert four["spread_seconds"] == 0.0
    long_four = decode_step_terms(spec, hw, Attention.dense(), [12288] * 4, bucket=1)
    assert mixed["spread_seconds"] == pytest.approx((long_four["memory_seconds"] - four["memory_seconds"]) / 4)


def test_window_steps_follow_the_snapshot():
    steps = window_steps([{"context": 100, "decode": 3}, {"context": 50, "decode": 1}, {"context": 10, "decode": 4}],
                         decode_steps=3)
    assert [list(s) for s in steps] == [[102, 12], [103, 13], [14]]


def test_a_window_is_the_sum_of_its_steps():
    from kinetics.cost import Attention
    from kinetics.hardware import hardware_from_numbers
    from kinetics.models import get_model
    from kinetics.step_time import predict_window

    spec, hw = get_model("qwen3-0.6b"), hardware_from_numbers(780, 4.3)
    model = StepModel({"dense": [1e-5, 0.0, 1.0, 0.0]}, "gpu-x")
    snapshot = [{"context": 4000, "decode": 3}, {"context": 900, "decode": 2}]
    window = predict_window(model, spec, hw, Attention.dense(), "dense", snapshot, decode_steps=2)
    steps = [decode_step_terms(spec, hw, Attention.dense(), c) for c in window_steps(snapshot, 2)]
    assert window["roofline_seconds"] == pytest.approx(sum(s["seconds"] for s in steps))
    assert window["seconds"] == pytest.approx(window["roofline_seconds"] + 2 * spec.num_layers * 1e-5)


def test_the_validate_grid_fits_the_cache_and_has_unequal_steps():
    from kinetics.bench.engine import grid_steps

    steps = grid_steps(num_pages=3000, page=16, batches=(1, 8, 32), contexts=(1024, 16384), ragged_batches=(16, 64))
    equal = [s for s, ragged in steps if not ragged]
    unequal = [s for s, ragged in steps if ragged]
    assert [len(s) for s in equal] == [1, 1, 8, 32]     # 8 x 16k (8,192 pages) and 32 x 16k do not fit
    assert [len(s) for s in unequal] == [16, 64]
    for step in unequal:
        assert len(set(step)) > 1                                  # really unequal
        assert sum(-(-c // 16) for c in step) <= 3000              # and within the cache
