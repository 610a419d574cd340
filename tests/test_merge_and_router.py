"""Hybrid merging and plan routing are pure functions: specified here without a server."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client.http import models

from qdrant_drift.serving.merge import merge_partitioned, overlap_at_k
from qdrant_drift.migration.phases import Phase
from qdrant_drift.serving.router import (
    ByCoverage,
    ByPhase,
    Plan,
    Router,
    RoutingState,
)


def hits(*pairs):
    return [models.ScoredPoint(id=i, version=0, score=s) for i, s in pairs]


def test_merge_interleaves_by_calibrated_score():
    legacy = hits((1, 0.30), (2, 0.20))
    native = hits((3, 0.55), (4, 0.45))
    merged = merge_partitioned(legacy, native, calibrate=lambda s: 2 * s, limit=3)
    assert [p.id for p in merged] == [1, 3, 4]
    assert merged[0].score == pytest.approx(0.60)


def doubled(similarities):
    return 2 * similarities


def raised(similarities):
    return similarities + 0.5


@pytest.mark.parametrize("distance, calibrate, legacy_score, native_score, first, merged", [
    # Cosine tops out at 1: a legacy hit calibrated past it ties an exact native match,
    # which stays first (it outranked it at 1.1 before)
    ("cosine", doubled, 0.55, 1.0, 3, 1.0),
    # Dot has no top: the calibrated score stands
    ("dot", doubled, 0.55, 1.0, 1, 1.1),
    # Euclid scores are distances (best smallest), never below 0
    ("euclid", raised, 0.1, 0.0, 3, 0.0),
])
def test_a_calibrated_legacy_score_never_passes_the_best_score_the_distance_can_give(
        distance, calibrate, legacy_score, native_score, first, merged):
    from qdrant_drift.scores import Orientation

    result = merge_partitioned(hits((1, legacy_score)), hits((3, native_score)),
                               calibrate=calibrate, limit=2, scores=Orientation(distance))
    assert result[0].id == first
    assert [p.score for p in result if p.id == 1] == [pytest.approx(merged)]


def test_merge_applies_offset_limit_and_threshold_on_the_native_scale():
    legacy = hits((1, 0.4), (2, 0.1))
    native = hits((3, 0.5), (4, 0.3))
    merged = merge_partitioned(legacy, native, calibrate=lambda s: s, limit=2, offset=1,
                               score_threshold=0.2)
    assert [p.id for p in merged] == [1, 4]


def test_a_point_on_both_sides_is_returned_once_with_its_native_hit():
    merged = merge_partitioned(hits((7, 0.9)), hits((7, 0.5)), calibrate=lambda s: s,
                               limit=5)
    assert [(p.id, p.score) for p in merged] == [(7, 0.5)]


def test_merge_does_not_mutate_its_inputs():
    legacy = hits((1, 0.3))
    merge_partitioned(legacy, [], calibrate=lambda s: s + 1, limit=1)
    assert legacy[0].score == 0.3


def test_overlap_at_k():
    assert overlap_at_k(hits((1, 1), (2, 1)), hits((2, 1), (3, 1)), 2) == 0.5


@pytest.mark.parametrize(
    "state, plan",
    [
        (RoutingState(phase=Phase.PLANNED), Plan.ADAPTED),
        (RoutingState(phase=Phase.SERVING_ADAPTED), Plan.ADAPTED),
        (RoutingState(phase=Phase.BACKFILLING, coverage=0.0), Plan.ADAPTED),
        (RoutingState(phase=Phase.BACKFILLING, coverage=0.3), Plan.HYBRID),
        (RoutingState(phase=Phase.BACKFILLING, coverage=1.0), Plan.HYBRID),
        (RoutingState(phase=Phase.CUT_OVER, coverage=1.0), Plan.NATIVE),
        (RoutingState(phase=Phase.FINISHED), Plan.NATIVE),
        (RoutingState(phase=Phase.ROLLED_BACK, coverage=0.7), Plan.ADAPTED),
        (RoutingState(phase=Phase.CUT_OVER, healthy=False), Plan.ADAPTED),
    ],
)
def test_default_router(state, plan):
    assert Router().plan(state) is plan


def test_policies_compose_in_order():
    router = Router([ByPhase(), ByCoverage(min_hybrid_coverage=0.2, native_at=0.99)])
    assert router.plan(RoutingState(phase=Phase.BACKFILLING, coverage=0.1)) is Plan.ADAPTED
    assert router.plan(RoutingState(phase=Phase.BACKFILLING, coverage=0.5)) is Plan.HYBRID
    assert router.plan(RoutingState(phase=Phase.BACKFILLING, coverage=0.995)) is Plan.NATIVE


def test_router_falls_back_when_no_policy_answers():
    assert Router([], fallback=Plan.NATIVE).plan(RoutingState()) is Plan.NATIVE


def test_migrated_items_ranked_on_both_scales_correct_a_biased_calibration():
    from qdrant_drift.serving.merge import anchored

    def biased(s):  # a global calibration that runs 0.2 too high for this query
        return s + 0.3  # (the native side says +0.1)

    native = hits((1, 0.50), (2, 0.40))  # the new query's best migrated items
    # the adapted query's best migrated items: no id in common is needed, ranks are matched
    anchors = hits((7, 0.40), (8, 0.30))
    fixed = anchored(biased, anchors, native)
    assert fixed(np.array([0.4, 0.3])) == pytest.approx([0.5, 0.4])
    legacy = hits((3, 0.35))
    assert [p.id for p in merge_partitioned(legacy, native, calibrate=biased,
                                            limit=3)] == [3, 1, 2]
    merged = merge_partitioned(hits((3, 0.35)), native, calibrate=fixed, limit=3)
    assert [p.id for p in merged] == [1, 3, 2]


def test_the_median_gap_is_robust_to_one_outlying_rank():
    from qdrant_drift.serving.merge import anchored

    native = hits((1, 0.9), (2, 0.5), (3, 0.4), (4, 0.3))
    anchors = hits((5, 0.5), (6, 0.4), (7, 0.3), (8, 0.2))  # gaps 0.4, 0.1, 0.1, 0.1
    assert anchored(lambda s: s, anchors, native)(np.array([0.0]))[0] == pytest.approx(0.1)


def test_without_anchors_the_global_calibration_stands():
    from qdrant_drift.serving.merge import anchored

    def cal(s):
        return s * 2

    assert anchored(cal, [], hits((1, 0.7))) is cal  # no migrated item matches the filter
    assert anchored(cal, hits((9, 0.3)), []) is cal
