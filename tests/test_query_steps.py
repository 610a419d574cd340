"""The routed query path with no Qdrant: the query steps of each plan and layout driven by
hand (each request they yield asserted, each answer written here), so what reaches Qdrant
and what comes back to the app are specified exactly.

The adapter (``by_hand.ADAPTER``) swaps the two coordinates of a 2-d vector, and its
calibration maps an adapted score ``s`` to ``0.1 + 0.8 s`` on the native scale: every number
below can be checked by hand.
"""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import numpy as np
import pytest
from qdrant_client.http import models
from qdrant_client.http.exceptions import UnexpectedResponse

from qdrant_drift.adapters import Adapter
from qdrant_drift.errors import DriftError, QdrantFault, classify
from qdrant_drift.migration.layouts import MIGRATED_MARKER, layout_of
from qdrant_drift.migration.spec import MigrationSpec
from qdrant_drift.serving.batching import batched_steps
from qdrant_drift.serving.queries import (
    QUERY_DEFAULTS,
    Serving,
    deep_hits_steps,
    groups_steps,
    query_steps,
)
from qdrant_drift.serving.router import Plan

from .by_hand import ADAPTED, ADAPTER, BLUE_GREEN, NAMED, QUERY, by_hand

SPECS = pytest.mark.parametrize("spec", [NAMED, BLUE_GREEN], ids=["named", "collection"])
GROUP_1 = models.Filter(must=[models.FieldCondition(key="group",
                                                    match=models.MatchValue(value=1))])


def serving(spec: MigrationSpec, plan: Plan, *, coverage: float = 0.5,
            adapter: Adapter | None = ADAPTER, **options) -> Serving:
    calibration = adapter.calibration if adapter is not None else ADAPTER.calibration
    return Serving(spec=spec, plan=plan, adapter=adapter, calibration=calibration,
                   old_calibration=ADAPTER.old_calibration, coverage=coverage, **options)


def kw(**arguments) -> dict:
    """A query_points call's arguments, defaults filled as the wrapper fills them."""
    return {**QUERY_DEFAULTS, "query": QUERY, "using": "new", **arguments}


def hit(pid: int, score: float, *, payload=None, vector=None) -> models.ScoredPoint:
    return models.ScoredPoint(id=pid, version=0, score=score, payload=payload, vector=vector)


def answer(*points: models.ScoredPoint) -> models.QueryResponse:
    return models.QueryResponse(points=list(points))


def ranked(response: models.QueryResponse) -> list[tuple[int, float]]:
    return [(p.id, round(p.score, 6)) for p in response.points]


def qdrant_error(status: int) -> UnexpectedResponse:
    return UnexpectedResponse(status, "Service Unavailable", b"{}", httpx.Headers())


# -- the adapted plan -----------------------------------------------------------------------

@SPECS
def test_the_adapted_plan_is_one_query_on_the_legacy_vector_with_the_adapted_query(spec):
    steps = query_steps(serving(spec, Plan.ADAPTED), "docs",
                        kw(limit=2, offset=1, query_filter=GROUP_1))
    [request], response = by_hand(steps, [
        ("query_points", answer(hit(1, 0.9), hit(2, 0.5), hit(3, 0.25)))])
    assert request.args == ("docs",)  # the legacy collection in either layout
    assert request.kwargs["using"] == "old"
    assert request.kwargs["query"] == pytest.approx(ADAPTED)
    assert request.kwargs["query_filter"] is GROUP_1
    # each side reads offset + limit, unthresholded; the ranking is paged afterwards
    assert (request.kwargs["limit"], request.kwargs["offset"]) == (3, None)
    assert request.kwargs["score_threshold"] is None
    assert ranked(response) == [(2, 0.5), (3, 0.3)]  # calibrated: 0.1 + 0.8 s


def test_a_score_threshold_is_applied_on_the_native_scale_not_sent_to_qdrant_raw():
    steps = query_steps(serving(NAMED, Plan.ADAPTED), "docs", kw(score_threshold=0.59))
    [request], response = by_hand(steps, [("query_points", answer(hit(1, 0.9), hit(2, 0.6)))])
    assert request.kwargs["score_threshold"] is None
    assert ranked(response) == [(1, 0.82)]  # 0.6 passes raw, but is 0.58 calibrated


def test_an_old_model_query_searches_the_legacy_side_as_given_with_its_own_calibration():
    steps = query_steps(serving(NAMED, Plan.ADAPTED), "docs", kw(), old_query=[0.0, 1.0])
    [request], response = by_hand(steps, [("query_points", answer(hit(1, 0.8)))])
    assert request.kwargs["query"].tolist() == [0.0, 1.0]
    assert ranked(response) == [(1, 0.4)]  # the old calibration: 0.5 s


def test_without_an_adapter_a_new_model_query_is_refused_before_any_call():
    with pytest.raises(DriftError, match="has no adapter"):
        next(query_steps(serving(NAMED, Plan.ADAPTED, adapter=None), "docs", kw()))
    unreadable = serving(NAMED, Plan.HYBRID, adapter=None, adapter_problem="digest mismatch")
    with pytest.raises(DriftError, match=r"cannot be read \(digest mismatch\).*fit"):
        next(query_steps(unreadable, "docs", kw()))


def test_queries_that_do_not_touch_the_migration_pass_through_untouched():
    elsewhere = kw(query=[1.0, 2.0, 3.0], using=None)
    [request], response = by_hand(query_steps(serving(NAMED, Plan.HYBRID), "other", elsewhere),
                                  [("query_points", answer(hit(7, 3.0)))])
    assert request.args == ("other",) and request.kwargs == elsewhere
    assert ranked(response) == [(7, 3.0)]  # not calibrated either
    other_vector = kw(using="title")
    [request], _ = by_hand(query_steps(serving(NAMED, Plan.HYBRID), "docs", other_vector),
                           [("query_points", answer())])
    assert request.kwargs == other_vector


# -- the native plan --------------------------------------------------------------------------

@SPECS
def test_the_native_plan_asks_the_new_vector_where_it_lives_and_returns_qdrants_answer(spec):
    native = answer(hit(4, 0.97))
    [request], response = by_hand(
        query_steps(serving(spec, Plan.NATIVE, coverage=1.0), "docs",
                    kw(using="old", limit=3, query_filter=GROUP_1)),  # either name
        [("query_points", native)])
    assert request.args == (spec.native_collection,)
    assert request.kwargs["using"] == "new" and request.kwargs["query"] == QUERY
    assert (request.kwargs["limit"], request.kwargs["query_filter"]) == (3, GROUP_1)
    assert response is native


# -- the hybrid plan --------------------------------------------------------------------------
# Native side: 10 (0.95) and 11 (0.7), both migrated. Legacy side, read deep and unfiltered by
# "migrated": 10 and 11 come back marked (the anchors), 20 and 21 unmarked (not migrated).
# Anchors 0.9 and 0.6 calibrate to 0.82 and 0.58; the native side has them at 0.95 and 0.7, a
# median gap of 0.125 for this query: 20 lands at 0.1 + 0.8 * 0.8 + 0.125 = 0.865.

def legacy_hits(marked: dict) -> list[models.ScoredPoint]:
    """The legacy side's hits, the migrated ones carrying ``marked`` (the layout's marker)."""
    return [hit(10, 0.9, **marked), hit(20, 0.8, payload={"title": "twenty"}, vector={}),
            hit(11, 0.6, **marked), hit(21, 0.3, payload={"title": "twenty-one"}, vector={})]


NATIVE_SIDE = answer(hit(10, 0.95), hit(11, 0.7))
NAMED_MARK = {"payload": {"title": "x"}, "vector": {"_drift_migrated_new": [1.0]}}
BLUE_GREEN_MARK = {"payload": {"title": "x", MIGRATED_MARKER: True}}


def test_a_named_hybrid_search_is_one_batch_of_the_native_and_the_marked_legacy_request():
    legacy_ids = []
    steps = query_steps(serving(NAMED, Plan.HYBRID), "docs",
                        kw(limit=2, query_filter=GROUP_1, timeout=5), on_legacy=legacy_ids.extend)
    [batch], response = by_hand(steps, [
        ("query_batch_points", [NATIVE_SIDE, answer(*legacy_hits(NAMED_MARK))])])
    assert batch.args[0] == "docs" and batch.kwargs == {"consistency": None, "timeout": 5}
    native, legacy = batch.args[1]
    assert (native.using, native.query, native.limit) == ("new", QUERY, 2)
    assert (legacy.using, legacy.query) == ("old", pytest.approx(ADAPTED))
    assert legacy.limit == 6  # 2 wanted at 50% coverage: over-fetched, see serving.overfetch
    assert legacy.with_vector == ["_drift_migrated_new"]  # only the one-float marker
    # the app's filter goes to both sides as it is: "migrated" is read off the marker
    assert native.filter == legacy.filter == GROUP_1
    assert ranked(response) == [(10, 0.95), (20, 0.865)]
    assert response.points[1].vector is None  # what the app asked for, not the marker
    assert legacy_ids == [20]  # served from the legacy side: counted for hot-first backfill


def test_a_blue_green_hybrid_search_is_two_concurrent_batches_one_per_collection():
    steps = query_steps(serving(BLUE_GREEN, Plan.HYBRID), "docs",
                        kw(limit=2, with_payload=["title"]))
    [gather], response = by_hand(steps, [
        (("query_batch_points", "query_batch_points"),
         [[answer(*legacy_hits(BLUE_GREEN_MARK))], [NATIVE_SIDE]])])
    legacy_call, native_call = gather.calls
    assert legacy_call.args[0] == "docs" and native_call.args[0] == "docs_v2"
    [legacy], [native] = legacy_call.args[1], native_call.args[1]
    assert (legacy.using, legacy.limit, native.using, native.limit) == ("old", 6, "new", 2)
    assert legacy.with_payload == ["title", MIGRATED_MARKER]  # the marker rides the payload
    assert legacy.with_vector is False and native.with_payload == ["title"]
    assert ranked(response) == [(10, 0.95), (20, 0.865)]
    assert response.points[1].payload == {"title": "twenty"}


# -- an embedded client: the same requests, the vectors in the form it scores fastest --------

def test_for_an_embedded_client_the_adapted_query_goes_as_a_float32_array():
    steps = query_steps(serving(NAMED, Plan.ADAPTED, embedded=True), "docs", kw(limit=2))
    [request], response = by_hand(steps, [("query_points", answer(hit(1, 0.9)))])
    query = request.kwargs["query"]
    # a query model is taken as it is: no list for embedded Qdrant to copy and score in float64
    assert isinstance(query, models.NearestQuery) and query.nearest.dtype == np.float32
    assert query.nearest.tolist() == pytest.approx(ADAPTED)
    assert ranked(response) == [(1, 0.82)]


def test_for_an_embedded_client_both_sides_of_a_hybrid_search_go_as_float32_arrays():
    steps = query_steps(serving(NAMED, Plan.HYBRID, embedded=True), "docs", kw(limit=2))
    [batch], response = by_hand(steps, [
        ("query_batch_points", [NATIVE_SIDE, answer(*legacy_hits(NAMED_MARK))])])
    native, legacy = batch.args[1]
    # embedded Qdrant scores a float32 array in float32 (as a server does), a list in
    # float64 after copying it float by float: each side's scan costs ~3/4 as a float32 one
    assert native.query.nearest.dtype == legacy.query.nearest.dtype == np.float32
    assert native.query.nearest.tolist() == pytest.approx(QUERY)
    assert ranked(response) == [(10, 0.95), (20, 0.865)]


def test_for_a_server_the_native_side_is_the_apps_own_list():
    steps = query_steps(serving(NAMED, Plan.HYBRID), "docs", kw(limit=2))
    [batch], _ = by_hand(steps, [
        ("query_batch_points", [NATIVE_SIDE, answer(*legacy_hits(NAMED_MARK))])])
    assert batch.args[1][0].query == QUERY


@pytest.mark.parametrize("coverage, depth", [(0.5, 6), (0.25, 12), (0.75, 12), (0.0, 40),
                                             (0.97, 40)])
def test_the_legacy_side_reads_deeper_the_rarer_one_kind_of_point_is(coverage, depth):
    steps = query_steps(serving(NAMED, Plan.HYBRID, coverage=coverage), "docs", kw(limit=2))
    [batch], _ = by_hand(steps, [("query_batch_points", [answer(), answer()])])
    assert batch.args[1][1].limit == depth


def test_without_calibration_the_hybrid_merge_compares_raw_scores():
    steps = query_steps(serving(NAMED, Plan.HYBRID, calibrate=False), "docs", kw(limit=3))
    _, response = by_hand(steps, [
        ("query_batch_points", [NATIVE_SIDE, answer(*legacy_hits(NAMED_MARK))])])
    assert ranked(response) == [(10, 0.95), (20, 0.8), (11, 0.7)]


def test_offset_and_limit_page_the_merged_ranking():
    steps = query_steps(serving(NAMED, Plan.HYBRID), "docs", kw(limit=2, offset=1))
    [batch], response = by_hand(steps, [
        ("query_batch_points", [NATIVE_SIDE, answer(*legacy_hits(NAMED_MARK))])])
    assert batch.args[1][0].limit == 3 and batch.args[1][0].offset is None
    assert [p.id for p in response.points] == [20, 11]


# -- queries routed whole to the legacy side -------------------------------------------------

def test_a_prefetch_on_the_migrating_vector_is_adapted_and_served_on_the_legacy_vector():
    prefetch = models.Prefetch(query=QUERY, using="new", limit=20, filter=GROUP_1)
    steps = query_steps(serving(NAMED, Plan.HYBRID), "docs", kw(prefetch=prefetch, limit=2))
    [request], response = by_hand(steps, [("query_points", answer(hit(3, 0.25)))])
    rewritten = request.kwargs["prefetch"]
    assert (rewritten.using, rewritten.filter) == ("old", GROUP_1)
    assert rewritten.query == pytest.approx(ADAPTED)
    assert request.kwargs["using"] == "old"
    assert ranked(response) == [(3, 0.3)]  # on the adapted scale: calibrated

    fusion = models.FusionQuery(fusion=models.Fusion.RRF)
    steps = query_steps(serving(NAMED, Plan.ADAPTED), "docs",
                        kw(query=fusion, using=None, prefetch=[prefetch, models.Prefetch(
                            query=[1.0, 0.0, 0.0], using="title")]))
    [request], _ = by_hand(steps, [("query_points", answer())])
    adapted, untouched = request.kwargs["prefetch"]
    assert adapted.using == "old" and untouched.using == "title"
    assert untouched.query == [1.0, 0.0, 0.0] and request.kwargs["query"] is fusion


def test_a_recommend_query_by_vectors_runs_on_the_legacy_side_its_examples_adapted():
    recommend = models.RecommendQuery(recommend=models.RecommendInput(positive=[QUERY, 7]))
    steps = query_steps(serving(NAMED, Plan.HYBRID), "docs", kw(query=recommend))
    [request], _ = by_hand(steps, [("query_points", answer())])
    vector, point_id = request.kwargs["query"].recommend.positive
    assert vector == pytest.approx(ADAPTED) and point_id == 7
    assert request.kwargs["using"] == "old"


def test_a_multivector_query_is_refused_before_any_call():
    with pytest.raises(DriftError, match="multivector"):
        next(query_steps(serving(NAMED, Plan.HYBRID), "docs", kw(query=[QUERY, QUERY])))


# -- Qdrant's errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("plan", [Plan.ADAPTED, Plan.HYBRID, Plan.NATIVE])
@SPECS
def test_an_error_from_qdrant_reaches_the_app_as_qdrant_raised_it(spec, plan):
    """The query path does not wrap or retry Qdrant's errors: the app sees qdrant-client's
    own exception, which ``errors.classify`` reads as it reads any other."""
    steps = query_steps(serving(spec, plan), "docs", kw())
    next(steps)
    unavailable = qdrant_error(503)
    with pytest.raises(UnexpectedResponse) as raised:
        steps.throw(unavailable)
    assert raised.value is unavailable and classify(raised.value) is QdrantFault.TRANSIENT


def test_a_failed_target_creation_becomes_one_error_that_names_the_server_it_needs():
    info = SimpleNamespace(config=SimpleNamespace(params=SimpleNamespace(vectors={"old": None})))
    steps = layout_of(NAMED).create_target_steps(
        info, models.VectorParams(size=2, distance=models.Distance.COSINE))
    assert next(steps).method == "create_vector_name"
    with pytest.raises(DriftError, match=r"needs Qdrant >= 1\.18.*layout='collection'") as raised:
        steps.throw(qdrant_error(404))
    assert isinstance(raised.value.__cause__, UnexpectedResponse)


# -- grouped and sampled searches: the user's filter and "migrated" composed ----------------

def group(gid: int, *hits: models.ScoredPoint) -> models.PointGroup:
    return models.PointGroup(id=gid, hits=list(hits))


@SPECS
def test_a_hybrid_grouped_search_composes_the_users_filter_with_migrated_and_not_migrated(spec):
    layout = layout_of(spec)
    steps = groups_steps(serving(spec, Plan.HYBRID), "docs", "group",
                         kw(limit=2, group_size=2, query_filter=GROUP_1))
    [gather], result = by_hand(steps, [(
        ("query_points_groups", "query_points_groups", "query_points", "query_points"),
        [models.GroupsResult(groups=[group(1, hit(20, 0.8), hit(21, 0.3))]),
         models.GroupsResult(groups=[group(1, hit(10, 0.95)), group(2, hit(11, 0.7))]),
         answer(hit(10, 0.9), hit(11, 0.6)), answer(hit(10, 0.95), hit(11, 0.7))])])
    legacy, native, legacy_anchors, native_anchors = gather.calls
    assert (legacy.args, legacy.kwargs["using"]) == (("docs", "group"), "old")
    assert legacy.kwargs["query_filter"] == layout.unmigrated_filter(GROUP_1)
    assert (native.args, native.kwargs["using"]) == ((spec.native_collection, "group"), "new")
    assert native.kwargs["query_filter"] == GROUP_1
    assert legacy_anchors.kwargs["query_filter"] == layout.migrated_filter(GROUP_1)
    assert native_anchors.args == (spec.native_collection,)
    assert native_anchors.kwargs["query_filter"] == GROUP_1
    assert legacy_anchors.kwargs["limit"] == native_anchors.kwargs["limit"] == 4
    assert [(g.id, [p.id for p in g.hits]) for g in result.groups] == [(1, [10, 20]),
                                                                       (2, [11])]
    assert result.groups[0].hits[1].score == pytest.approx(0.865)


def test_a_deep_hit_sample_asks_for_ids_of_not_migrated_points_within_the_users_filter():
    steps = deep_hits_steps(serving(BLUE_GREEN, Plan.HYBRID), "docs",
                            kw(query_filter=GROUP_1), None, depth=30)
    [request], found = by_hand(steps, [("query_points", answer(hit(20, 0.8), hit(21, 0.3)))])
    assert request.kwargs["query_filter"] == layout_of(BLUE_GREEN).unmigrated_filter(GROUP_1)
    assert (request.kwargs["limit"], request.kwargs["with_payload"]) == (30, False)
    assert found == [20, 21]
    native = deep_hits_steps(serving(BLUE_GREEN, Plan.NATIVE), "docs", kw(), None, depth=30)
    assert by_hand(native, []) == ([], [])  # nothing is legacy after cut-over


# -- a batch of routed queries -----------------------------------------------------------------

def test_a_batch_of_hybrid_queries_is_one_request_per_collection_each_answered_its_share():
    queries = [query_steps(serving(BLUE_GREEN, Plan.HYBRID), "docs", kw(limit=2))
               for _ in range(2)]
    other = answer(hit(21, 0.3, payload={}))
    [gather], (first, second) = by_hand(batched_steps(queries), [(
        ("query_batch_points", "query_batch_points"),
        [[answer(*legacy_hits(BLUE_GREEN_MARK)), other], [NATIVE_SIDE, answer()]])])
    assert [(c.args[0], len(c.args[1])) for c in gather.calls] == [("docs", 2), ("docs_v2", 2)]
    assert ranked(first) == [(10, 0.95), (20, 0.865)]
    assert ranked(second) == [(21, 0.34)]  # no anchors: the global calibration alone


def test_a_batch_of_adapted_queries_becomes_one_query_batch_points_on_the_legacy_vector():
    queries = [query_steps(serving(NAMED, Plan.ADAPTED), "docs", kw(limit=1, query=q))
               for q in (QUERY, [1.0, 0.0])]
    [gather], results = by_hand(batched_steps(queries), [(
        ("query_batch_points",), [[answer(hit(1, 0.5)), answer(hit(2, 1.0))]])])
    [batch] = gather.calls
    assert [(r.using, r.query) for r in batch.args[1]] == [
        ("old", pytest.approx(ADAPTED)), ("old", pytest.approx([0.0, 1.0]))]
    assert [ranked(r) for r in results] == [[(1, 0.5)], [(2, 0.9)]]
