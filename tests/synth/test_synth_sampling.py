"""Hand-checkable cases of the vectorised samplers."""

from __future__ import annotations

import numpy as np

from cartreg.synth._sampling import categorical, months_to_days, piecewise_exponential


def test_piecewise_inversion_by_hand():
    # hazards 0.5 on [0, 1), 2.0 on [1, inf): cumulative hazard 0.5 at t = 1
    breaks = np.array([0.0, 1.0])
    haz = np.array([[0.5, 2.0]] * 3)
    e = np.array([0.25, 0.5, 1.5])
    t = piecewise_exponential(e, breaks, haz)
    # 0.25 / 0.5 = 0.5; exactly 1; 1 + (1.5 - 0.5) / 2 = 1.5
    np.testing.assert_allclose(t, [0.5, 1.0, 1.5], rtol=0, atol=1e-12)


def test_piecewise_zero_hazard_forever_is_infinite():
    t = piecewise_exponential(np.array([0.1, 2.0]), np.array([0.0, 1.0]), np.array([[1.0, 0.0], [1.0, 0.0]]))
    assert t[0] == 0.1 and np.isinf(t[1])


def test_piecewise_constant_hazard_survival():
    rng = np.random.Generator(np.random.PCG64(1))
    e = rng.standard_exponential(200_000)
    t = piecewise_exponential(e, np.array([0.0, 3.0, 6.0]), np.full((len(e), 3), 0.2))
    # S(6) = exp(-1.2) = 0.3012; binomial SE 0.001
    assert abs((t > 6).mean() - np.exp(-1.2)) < 0.005


def test_categorical_by_hand():
    u = np.array([0.0, 0.29, 0.3, 0.99])
    np.testing.assert_array_equal(categorical(u, np.array([0.3, 0.7])), [0, 0, 1, 1])
    rows = np.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(categorical(u, rows, np.array([0, 1, 0, 1])), [0, 1, 0, 1])


def test_months_to_days_ceiling():
    np.testing.assert_array_equal(months_to_days(np.array([0.0, 1.0, 2.0])), [1, 31, 61])
