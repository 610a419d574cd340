"""Every query kind on the migrating vector is routed by the plan (or refused clearly)."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client.http import models

from qdrant_drift import DriftClient, Phase, Plan
from qdrant_drift.lifecycle.commands import cutover, set_phase

from .serving_fixtures import N, build_world

PLANS = ("adapted", "hybrid", "native")


@pytest.fixture(params=[(layout, plan) for layout in ("named", "collection") for plan in PLANS],
                ids=lambda p: f"{p[0]}-{p[1]}")
def served(request):
    """A wrapped client serving the given plan (half the points migrated from hybrid on)."""
    layout, plan = request.param
    world = build_world(layout)
    if plan != "adapted":
        world.migrate(range(0, N, 2) if plan == "hybrid" else range(N))
        set_phase(world.client, "upgrade", Phase.BACKFILLING)
    if plan == "native":
        cutover(world.client, "upgrade")
    client = DriftClient(world.client, "upgrade", refresh_interval=0)
    assert client.plan is Plan(plan)
    return world, client


def ids(response) -> list[int]:
    return [int(p.id) for p in response.points]


def test_mmr_is_served_in_every_plan_relevant_first_and_diverse(served):
    world, client = served
    query = world.new[33]
    mmr = models.NearestQuery(nearest=query.tolist(),
                              mmr=models.Mmr(diversity=0.6, candidates_limit=40))
    got = client.query_points("docs", query=mmr, using="new", limit=8)
    assert ids(got)[0] == 33 and len(set(ids(got))) == 8
    plain = client.query_points("docs", query=query, using="new", limit=8)
    assert ids(got) != ids(plain)  # diversity changed the list
    # scores are on the native scale, like a plain nearest query's
    assert abs(got.points[0].score - plain.points[0].score) < 0.05


def test_recommend_discover_and_context_by_vectors_and_by_ids(served):
    world, client = served
    by_vector = client.query_points("docs", query=models.RecommendQuery(
        recommend=models.RecommendInput(positive=[world.new[5].tolist()])), using="new",
        limit=3)
    assert ids(by_vector)[0] == 5
    by_id = client.query_points("docs", query=models.RecommendQuery(
        recommend=models.RecommendInput(positive=[5])), using="new", limit=3)
    assert 5 not in ids(by_id) and len(ids(by_id)) == 3
    assert ids(by_id)[0] == world.native_top(world.new[5], 2)[1]
    discover = client.query_points("docs", query=models.DiscoverQuery(
        discover=models.DiscoverInput(target=world.new[7].tolist(), context=[
            models.ContextPair(positive=world.new[7].tolist(),
                               negative=world.new[8].tolist())])), using="new", limit=2)
    assert ids(discover)[0] == 7
    context = client.query_points("docs", query=models.ContextQuery(context=[
        models.ContextPair(positive=world.new[9].tolist(), negative=world.new[10].tolist())]),
        using="new", limit=5)
    assert len(context.points) == 5


def test_nested_prefetch_fusion_formula_order_by_and_sample(served):
    world, client = served
    inner = models.Prefetch(query=world.new[12].tolist(), using="new", limit=30)
    nested = models.Prefetch(prefetch=[inner], query=models.RecommendQuery(
        recommend=models.RecommendInput(positive=[world.new[12].tolist()])), using="new",
        limit=10)
    fused = client.query_points("docs", prefetch=[nested, models.Prefetch(
        query=world.new[12].tolist(), using="new", limit=10)],
        query=models.FusionQuery(fusion=models.Fusion.RRF), limit=3)
    assert ids(fused)[0] == 12
    formula = client.query_points("docs", prefetch=inner, query=models.FormulaQuery(
        formula=models.SumExpression(sum=["$score", 0.0])), limit=2)
    assert ids(formula)[0] == 12
    ordered = client.query_points("docs", query=models.OrderByQuery(order_by="n"),
                                  using="new", limit=3)
    assert ids(ordered) == [0, 1, 2]
    sample = client.query_points("docs", query=models.SampleQuery(
        sample=models.Sample.RANDOM), using="new", limit=5)
    assert len(sample.points) == 5


def test_an_all_zero_query_scores_zero_everywhere_as_unwrapped(served):
    world, client = served
    got = client.query_points("docs", query=[0.0] * world.new.shape[1], using="new", limit=5)
    assert len(got.points) == 5 and all(p.score == 0.0 for p in got.points)
    groups = client.query_points_groups("docs", "group", query=np.zeros(world.new.shape[1]),
                                        using="new", limit=2, group_size=1)
    assert all(hit.score == 0.0 for g in groups.groups for hit in g.hits)


def test_payload_reads_see_every_point_in_every_plan(served):
    world, client = served
    assert client.count("docs").count == N
    assert len(client.scroll("docs", limit=N + 5)[0]) == N
    assert sum(hit.count for hit in client.facet("docs", "group").hits) == N
