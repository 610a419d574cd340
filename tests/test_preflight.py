"""The pre-flight report predicts retrieval recovery from held-out pairs alone."""

from __future__ import annotations

import numpy as np

from qdrant_drift.adapters.maps import LinearMap
from qdrant_drift.adapters.quality import preflight_report

from .synthetic import drifted_pairs, random_orthogonal, unit


def test_a_perfect_adapter_is_predicted_to_keep_everything():
    new, old, true_map = drifted_pairs(300, 32, 32)
    exact = LinearMap(weight=true_map, bias=np.zeros(32, np.float32))
    report = preflight_report(exact, new, old)
    assert report["predicted_recall_recovery"] == 1.0
    assert report["predicted_mrr_recovery"] == 1.0
    assert report["drastic_drift"] is False


def test_a_wrong_adapter_is_predicted_to_lose_quality_and_flagged_as_drastic():
    new, old, _ = drifted_pairs(300, 32, 32)
    wrong = LinearMap(weight=random_orthogonal(np.random.default_rng(5), 32, 32),
                      bias=np.zeros(32, np.float32))
    report = preflight_report(wrong, new, old)
    assert report["predicted_recall_recovery"] < 0.3
    assert report["drastic_drift"] is True
    assert "old_query" in report["advice"]


def test_prediction_falls_as_the_map_degrades():
    new, old, true_map = drifted_pairs(400, 32, 32)
    rng = np.random.default_rng(1)
    predicted = []
    for noise in (0.0, 0.3, 1.0):
        weight = true_map + noise * rng.normal(size=true_map.shape).astype(np.float32) / 5.0
        predicted.append(preflight_report(
            LinearMap(weight=weight, bias=np.zeros(32, np.float32)), new, old
        )["predicted_recall_recovery"])
    assert predicted[0] > predicted[1] > predicted[2]


def test_self_match_never_counts():
    # identity "adapter" between identical spaces must still be judged on neighbours,
    # so the report equals 1 only because neighbours are preserved, not by self-retrieval
    new = unit(np.random.default_rng(2).normal(size=(200, 16)))
    identity = LinearMap(weight=np.eye(16, dtype=np.float32), bias=np.zeros(16, np.float32))
    assert preflight_report(identity, new, new)["predicted_recall_recovery"] == 1.0


def test_a_map_that_loses_item_identity_is_flagged_as_drastic():
    # the legacy model only saw 3 of 32 directions: documents stay "near their topic"
    # but can no longer be told apart, as with a lexical model replaced by a semantic one
    rng = np.random.default_rng(7)
    new = unit(rng.normal(size=(400, 32)))
    old = unit(new[:, :3] + 0.05 * rng.normal(size=(400, 3)))
    weight = np.zeros((32, 3), np.float32)
    weight[:3, :3] = np.eye(3)
    report = preflight_report(LinearMap(weight=weight, bias=np.zeros(3, np.float32)), new, old)
    assert report["identity_preservation"] < 0.9
    assert report["drastic_drift"] is True
