"""Calibration puts adapted scores on the native scale, monotonically."""

from __future__ import annotations

import numpy as np
import pytest

from qdrant_drift import fit
from qdrant_drift.adapters.calibration import Calibration, fit_calibration

from .synthetic import drifted_pairs, unit


def test_empty_calibration_is_the_identity():
    assert Calibration()(0.37) == 0.37
    assert Calibration().is_identity


def test_calibration_is_monotone_and_extrapolates_linearly():
    cal = Calibration((0.2, 0.4, 0.6), (0.5, 0.7, 0.9))
    xs = np.linspace(0.0, 1.0, 101)
    ys = cal(xs)
    assert np.all(np.diff(ys) >= 0)
    assert cal(0.3) == pytest.approx(0.6)
    assert cal(0.8) == pytest.approx(1.1)
    assert cal(0.0) == pytest.approx(0.3)


def test_knots_must_be_ordered():
    with pytest.raises(ValueError):
        Calibration((0.5, 0.2), (0.1, 0.3))


def test_round_trip_through_a_dict():
    cal = Calibration((0.1, 0.2), (0.3, 0.5))
    assert Calibration.from_dict(cal.to_dict()) == cal
    assert Calibration.from_dict(None).is_identity


def test_fitted_calibration_undoes_a_known_score_distortion():
    rng = np.random.default_rng(0)
    new = unit(rng.normal(size=(300, 16)) + 2.0 * rng.normal(size=(1, 16)))
    same = fit_calibration(lambda x: x, new, new)
    assert same(0.5) == pytest.approx(0.5, abs=0.02)  # identical spaces: near identity

    old = new * 0.5  # the legacy side halves every score
    cal = fit_calibration(lambda x: x, new, old)
    native_top = float(np.sort((new @ new.T) - 2 * np.eye(300), axis=1)[:, -1].mean())
    adapted_top = float(np.sort((new @ old.T) - 2 * np.eye(300), axis=1)[:, -1].mean())
    assert cal(adapted_top) == pytest.approx(native_top, abs=0.05)


def test_every_fitted_adapter_carries_its_calibration():
    new, old, _ = drifted_pairs(600, 16, 16, noise=0.05)
    adapter = fit("procrustes", new, old)
    assert not adapter.calibration.is_identity
    assert adapter.calibration(0.9) > adapter.calibration(0.5)
