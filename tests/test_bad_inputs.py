"""Bad inputs get a clear error or a warned-about repair, never a silent garbage map."""

from __future__ import annotations

import numpy as np
import pytest

from qdrant_drift import InvalidVectorsError, fit

from .synthetic import drifted_pairs


@pytest.fixture(scope="module")
def data():
    new, old, _ = drifted_pairs(400, 16, 16, noise=0.01)
    return new, old


def test_nan_or_inf_in_training_pairs(data):
    new, old = data
    for bad in (np.nan, np.inf):
        broken = new.copy()
        broken[3, 2] = bad
        with pytest.raises(InvalidVectorsError, match="NaN or inf"):
            fit("procrustes", broken, old)


def test_row_count_mismatch(data):
    new, old = data
    with pytest.raises(InvalidVectorsError, match="same item"):
        fit("procrustes", new, old[:-1])


def test_wrong_shape(data):
    new, old = data
    with pytest.raises(InvalidVectorsError, match="2-D"):
        fit("procrustes", new[None], old)


def test_too_few_pairs_for_the_kind(data):
    new, old = data
    with pytest.raises(InvalidVectorsError, match="at least 100 pairs"):
        fit("residual_mlp", new[:60], old[:60])


def test_fewer_pairs_than_dimensions_warns(data):
    new, old = data
    with pytest.warns(UserWarning, match="underdetermined"):
        fit("procrustes", new[:10], old[:10], holdout=0)


def test_all_zero_rows_are_dropped_with_a_warning(data):
    new, old = data
    new = new.copy()
    new[:5] = 0.0
    with pytest.warns(UserWarning, match="dropping 5 pair"):
        adapter = fit("procrustes", new, old)
    assert adapter.info["pairs"] == len(new) - 5


def test_unknown_kind_and_bad_options(data):
    new, old = data
    with pytest.raises(ValueError, match="unknown adapter kind 'rotation'"):
        fit("rotation", new, old)
    with pytest.raises(ValueError, match="bad options"):
        fit("procrustes", new, old, rank=3)
    with pytest.raises(ValueError, match="distance"):
        fit("procrustes", new, old, distance="hamming")


def test_transform_rejects_wrong_dimension_and_non_finite_queries(data):
    new, old = data
    adapter = fit("procrustes", new, old)
    with pytest.raises(InvalidVectorsError, match="dimension 16, got 8"):
        adapter.transform(np.ones(8, np.float32))
    with pytest.raises(InvalidVectorsError, match="dimension 16, got 8"):
        adapter.transform(np.ones((2, 8), np.float32))
    query = new[0].copy()
    query[0] = np.nan
    with pytest.raises(InvalidVectorsError, match="NaN or inf"):
        adapter.transform(query)
    with pytest.raises(InvalidVectorsError, match="NaN or inf"):
        adapter.transform(query[None, :])
