import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from kinetics.errors import InputError
from kinetics.metrics import (bootstrap, bootstrap_mean, bootstrap_weights, pass_at_k, percentile_interval)


def exact_pass_at_k(n, c, k):
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 1000).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_matches_exact_rationals(nck):
    n, c, k = nck
    exact = exact_pass_at_k(n, c, k)
    got = float(pass_at_k(n, c, k))
    # relative precision, also where pass@k is tiny (c = 1, k = 1, n = 1000 gives 1e-3)
    assert got == pytest.approx(exact, rel=1e-9, abs=1e-300)


def test_pass_at_k_edge_cases_and_vectorised():
    assert pass_at_k(32, 0, 5) == 0.0
    assert pass_at_k(32, 32, 1) == 1.0
    assert pass_at_k(32, 1, 32) == 1.0          # every sample drawn
    assert float(pass_at_k(32, 8, 1)) == pytest.approx(0.25)
    n = np.array([32, 16, 8])
    c = np.array([[3], [7]])
    out = pass_at_k(n, c, 4)
    assert out.shape == (2, 3)
    assert out[1, 2] == pytest.approx(exact_pass_at_k(8, 7, 4))
    assert out[0, 0] == pytest.approx(exact_pass_at_k(32, 3, 4))
    assert np.all(np.diff(pass_at_k(32, 5, np.arange(1, 33))) >= 0)  # pass@k grows with k


def test_pass_at_k_large_n_is_finite():
    value = float(pass_at_k(1000, 1, 1))
    assert value == pytest.approx(1e-3, rel=1e-12)
    assert float(pass_at_k(1000, 500, 1000)) == 1.0


@pytest.mark.parametrize("n,c,k", [(8, 9, 1), (8, 2, 9), (8, 2, 0), (0, 0, 1), (8, -1, 1)])
def test_pass_at_k_rejects_impossible_arguments(n, c, k):
    with pytest.raises(InputError):
        pass_at_k(n, c, k)


def test_bootstrap_weights_are_resamples_and_seeded():
    w = bootstrap_weights(30, 500, seed=3)
    assert w.shape == (500, 30)
    assert np.all(w.sum(axis=1) == 30)
    assert np.array_equal(w, bootstrap_weights(30, 500, seed=3))
    assert not np.array_equal(w, bootstrap_weights(30, 500, seed=4))


def test_bootstrap_mean_covers_the_truth_at_its_nominal_rate():
    rng = np.random.default_rng(0)
    hits = 0
    for trial in range(200):
        sample = rng.normal(1.0, 2.0, size=40)
        interval = bootstrap_mean(sample, n_boot=400, seed=trial)
        assert interval.low <= interval.estimate <= interval.high
        hits += interval.low <= 1.0 <= interval.high
    assert 0.88 <= hits / 200 <= 0.99


def test_bootstrap_vectorized_equals_loop():
    values = np.arange(10.0) ** 2
    loop = bootstrap(lambda w: float(w @ values / w.sum()), 10, n_boot=300, seed=1)
    vec = bootstrap(lambda w: w @ values / w.sum(axis=-1), 10, n_boot=300, seed=1, vectorized=True)
    assert vec.estimate == pytest.approx(values.mean())
    assert loop.estimate == pytest.approx(values.mean())
    assert (loop.low, loop.high) == pytest.approx((vec.low, vec.high))
    with pytest.raises(ValueError):
        bootstrap(lambda w: np.zeros(3) if w.ndim == 2 else 0.0, 10, n_boot=300, vectorized=True)


def test_percentile_interval_drops_unreached_replicates():
    interval = percentile_interval(2.0, [1.0, np.nan, 3.0, np.inf])
    assert interval.low >= 1.0 and interval.high <= 3.0
    assert math.isnan(percentile_interval(1.0, [np.nan]).low)
