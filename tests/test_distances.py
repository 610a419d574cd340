"""Euclid and Manhattan collections migrate like Cosine and Dot: the app sees what a plain
client shows (distances, ascending; ``score_threshold`` a maximum distance) in every plan."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_client.http import models

from qdrant_drift import AsyncDriftClient, DriftClient, MigrationSpec, Phase, Plan, fit
from qdrant_drift.adapters import Auto, load_adapter
from qdrant_drift.adapters.quality import answer_ranks, preflight_report
from qdrant_drift.errors import AdapterMismatchError, DriftError
from qdrant_drift.lifecycle.commands import (
    acreate, aset_phase, create, cutover, rollback, set_phase)
from qdrant_drift.scores import SIMILARITY, Orientation, distance_name, orientation, similarity
from qdrant_drift.migration.layouts import layout_of
from qdrant_drift.store.records import load_record
from qdrant_drift.sansio import drive

from .serving_fixtures import World

N, DIM = 240, 16
METRICS = {models.Distance.EUCLID: "euclid", models.Distance.MANHATTAN: "manhattan"}


# -- the orientation, as a truth table ------------------------------------------------------

@pytest.mark.parametrize("distance, ascending, shifted", [
    # +1 similarity: one unit nearer, held under the best score the distance can give (a
    # Cosine similarity of 1, a distance of 0; Dot has none)
    ("cosine", False, [1.0, 1.0]), ("dot", False, [1.5, 3.0]),
    ("euclid", True, [0.0, 1.0]), ("manhattan", True, [0.0, 1.0])])
def test_the_orientation_of_each_distance_is_a_truth_table(distance, ascending, shifted):
    scores = Orientation(distance)
    raw = np.array([0.5, 2.0])
    assert scores.ascending is ascending
    assert scores.to_similarity(raw).tolist() == ([-0.5, -2.0] if ascending else [0.5, 2.0])
    assert scores.from_similarity(scores.to_similarity(raw)).tolist() == raw.tolist()
    assert scores.threshold(1.0) == (-1.0 if ascending else 1.0)
    assert scores.threshold(None) is None
    assert scores.keeps(0.5, 1.0) is ascending and scores.keeps(2.0, 1.0) is not ascending
    assert scores.keeps(1.0, 1.0) and scores.keeps(7.0, None)
    assert scores.best_first([0.5, 2.0, 1.0], float) == ([0.5, 1.0, 2.0] if ascending
                                                         else [2.0, 1.0, 0.5])
    assert scores.on_scores(lambda s: s + 1.0)(raw).tolist() == shifted


def test_qdrant_distances_are_named_and_unknown_ones_refused():
    assert [distance_name(d) for d in models.Distance] == [
        d.value.lower() for d in models.Distance]
    assert orientation(models.Distance.EUCLID).ascending
    assert orientation(None) is SIMILARITY  # a record from before distances were kept
    with pytest.raises(DriftError, match="Hamming"):
        distance_name("Hamming")


def test_similarity_is_the_negated_metric_qdrant_ranks_by():
    rng = np.random.default_rng(0)
    q, d = rng.normal(size=(3, 5)), rng.normal(size=(70, 5)) * 4
    np.testing.assert_allclose(similarity(q, d, "euclid"),
                               -np.linalg.norm(q[:, None] - d[None], axis=2), atol=1e-9)
    np.testing.assert_allclose(similarity(q, d, "manhattan"),
                               -np.abs(q[:, None] - d[None]).sum(2), atol=1e-9)
    np.testing.assert_allclose(similarity(q, d, "dot"), q @ d.T)


# -- adapters and the pre-flight ------------------------------------------------------------

def _pairs(seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Unnormalised new vectors (norms from 0.5 to 5); the legacy ones a signed permutation
    of them, doubled, slightly noisy (a map that keeps both L2 and L1 ranks, a rotation keeps
    only L2's): distances on the two sides differ by a factor of two."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(N, DIM))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    new = (directions * rng.uniform(0.5, 5.0, size=(N, 1))).astype(np.float32)
    signed_permutation = np.eye(DIM)[rng.permutation(DIM)] * rng.choice([-1.0, 1.0], DIM)
    old = 2.0 * new @ signed_permutation + 0.01 * rng.normal(size=(N, DIM))
    return new, old.astype(np.float32)


def test_a_euclid_adapter_predicts_the_legacy_vector_norm_included(tmp_path):
    new, old = _pairs()
    adapter = fit("affine", new[:200], old[:200], distance="euclid")
    predicted = adapter.transform(new[200:])
    np.testing.assert_allclose(predicted, old[200:], atol=0.1)
    path = tmp_path / "a.safetensors"
    adapter.save(path)
    loaded = load_adapter(path)
    assert loaded.distance == "euclid"
    np.testing.assert_array_equal(loaded.transform(new[200:]), predicted)


def test_the_pre_flight_ranks_by_the_collections_metric():
    new, old = _pairs()
    adapter = fit("affine", new, old, distance="euclid")
    assert adapter.quality["predicted_recall_recovery"] > 0.95
    # the same vectors ranked by inner product would be another ranking altogether
    own = np.arange(len(new))
    by_l2 = answer_ranks(new, new, own, distance="euclid")
    by_ip = answer_ranks(new, new, own)
    assert (by_l2 == 1).all() and not (by_ip == 1).all()
    exact = preflight_report(lambda x: 2.0 * x, new, 2.0 * new, distance="manhattan")
    assert exact["predicted_recall_recovery"] == 1.0


def test_kinds_that_only_make_inner_product_queries_cannot_serve_a_distance():
    new, old = _pairs()
    with pytest.raises(ValueError, match="whitened"):
        fit("whitened", new, old, distance="euclid")
    assert "whitened" not in Auto().kinds("manhattan")
    assert "whitened" in Auto().kinds("cosine")


# -- serving a Euclid / Manhattan collection through the wrapper ----------------------------

def _spec(layout: str) -> MigrationSpec:
    if layout == "named":
        return MigrationSpec(name="upgrade", collection="docs", old_vector="old",
                             new_vector="new")
    return MigrationSpec(name="upgrade", collection="docs", old_vector="old", new_vector="new",
                         layout="collection", new_collection="docs_v2")


def _legacy(distance: models.Distance, old: np.ndarray) -> tuple[dict, list]:
    config = {"old": models.VectorParams(size=DIM, distance=distance)}
    points = [models.PointStruct(id=i, vector={"old": old[i].tolist()},
                                 payload={"group": i % 4}) for i in range(N)]
    return config, points


@pytest.fixture(params=[(d, layout) for d in METRICS for layout in ("named", "collection")],
                ids=lambda p: f"{METRICS[p[0]]}-{p[1]}")
def world(request) -> World:
    distance, layout = request.param
    new, old = _pairs()
    client = QdrantClient(":memory:")
    config, points = _legacy(distance, old)
    client.create_collection("docs", vectors_config=config)
    client.upsert("docs", points)
    adapter = fit("affine", new[:200], old[:200], distance=METRICS[distance])
    spec = _spec(layout)
    create(client, spec, adapter)
    return World(client=client, spec=spec, adapter=adapter, new=new, old=old)


def drift(world: World) -> DriftClient:
    return DriftClient(world.client, "upgrade", refresh_interval=0)


def nearest(world: World, query: np.ndarray, k: int) -> list[int]:
    """The genuinely nearest points by the new model, as the collection's metric ranks."""
    distance = _distance(world)
    return [int(i) for i in np.argsort(-similarity(query[None], world.new, distance)[0])[:k]]


def _distance(world: World) -> str:
    record = drive(load_record("upgrade"), world.client)
    return record.distance


def ids(response) -> list[int]:
    return [int(p.id) for p in response.points]


def scores(response) -> list[float]:
    return [p.score for p in response.points]


def plain_native(world: World, query: np.ndarray, **kw) -> models.QueryResponse:
    """What a plain client returns for the query on the new vector."""
    return world.client.query_points(world.spec.native_collection, query=query.tolist(),
                                     using="new", **kw)


def query(rng_row: int) -> np.ndarray:
    new, _ = _pairs()
    return (new[rng_row] + 0.05).astype(np.float32)


def test_the_record_keeps_the_legacy_distance_and_the_new_vector_gets_it_too(world):
    assert _distance(world) in METRICS.values()
    info = world.client.get_collection(world.spec.native_collection)
    assert METRICS[info.config.params.vectors["new"].distance] == _distance(world)


def test_adapted_plan_returns_distances_ascending_on_the_native_scale(world):
    client = drift(world)
    assert client.plan is Plan.ADAPTED
    q = query(210)
    response = client.query_points("docs", query=q, using="new", limit=8)
    assert scores(response) == sorted(scores(response))
    assert ids(response)[:3] == nearest(world, q, 3)
    world.migrate(range(N))  # only to read what the plain client would say natively
    native = plain_native(world, q, limit=8)
    # the legacy distances are twice the native ones: calibrated, they are on the native scale
    assert scores(response)[:3] == pytest.approx(scores(native)[:3], rel=0.15, abs=0.05)


def test_hybrid_merge_picks_the_genuinely_nearest_points(world):
    world.migrate(range(0, N, 2))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    client = drift(world)
    assert client.plan is Plan.HYBRID
    for row in (3, 50, 211):
        q = query(row)
        response = client.query_points("docs", query=q, using="new", limit=8)
        got = ids(response)
        assert len(got) == len(set(got)) == 8
        assert got[:4] == nearest(world, q, 4)
        assert scores(response) == sorted(scores(response))
        native = {p.id: p.score for p in plain_native(world, q, limit=N).points}
        for point in response.points:  # migrated hits carry Qdrant's own distance (scored
            if point.id in native:         # in float32, as a server scores every query)
                assert point.score == pytest.approx(native[point.id], rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("phases", [(), (Phase.BACKFILLING,), (Phase.BACKFILLING,
                                                               Phase.CUT_OVER)],
                         ids=["adapted", "hybrid", "native"])
def test_score_threshold_keeps_only_hits_within_the_distance(world, phases):
    world.migrate(range(0, N, 2))
    for phase in phases:
        set_phase(world.client, "upgrade", phase, force=True)
    client = drift(world)
    q = query(17)
    full = client.query_points("docs", query=q, using="new", limit=30)
    limit = (scores(full)[5] + scores(full)[6]) / 2  # between two hits (Qdrant's local mode
    # drops a hit exactly at the threshold, the merge keeps it; neither is tested here)
    within = client.query_points("docs", query=q, using="new", limit=30,
                                 score_threshold=limit)
    assert ids(within) == [p.id for p in full.points if p.score <= limit]
    assert len(within.points) >= 6
    if phases and phases[-1] is Phase.CUT_OVER:
        plain = plain_native(world, q, limit=30, score_threshold=limit)
        assert (ids(within), scores(within)) == (ids(plain), scores(plain))


def test_native_plan_scores_equal_a_plain_client_and_rollback_returns_to_adapted(world):
    world.migrate(range(N))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    client = drift(world)
    cutover(world.client, "upgrade")
    assert client.refresh() is Plan.NATIVE
    q = query(5)
    routed = client.query_points("docs", query=q, using="new", limit=6)
    plain = plain_native(world, q, limit=6)
    assert (ids(routed), scores(routed)) == (ids(plain), scores(plain))
    rollback(world.client, "upgrade")
    assert client.refresh() is Plan.ADAPTED
    back = client.query_points("docs", query=q, using="new", limit=6)
    assert scores(back) == sorted(scores(back))
    assert ids(back)[:3] == ids(plain)[:3]


def test_groups_are_ordered_by_their_nearest_hit(world):
    world.migrate(range(0, N, 2))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    result = drift(world).query_points_groups("docs", "group", query=query(9), using="new",
                                              limit=3, group_size=2)
    best = [g.hits[0].score for g in result.groups]
    assert best == sorted(best)
    assert all([p.score for p in g.hits] == sorted(p.score for p in g.hits)
               for g in result.groups)
    assert result.groups[0].hits[0].id == nearest(world, query(9), 1)[0]


def test_an_adapter_fitted_for_another_distance_is_refused():
    new, old = _pairs()
    client = QdrantClient(":memory:")
    config, points = _legacy(models.Distance.EUCLID, old)
    client.create_collection("docs", vectors_config=config)
    client.upsert("docs", points)
    cosine = fit("affine", new[:200], old[:200])
    with pytest.raises(AdapterMismatchError, match="euclid"):
        create(client, _spec("named"), cosine)


def test_the_async_client_serves_distances_the_same_way():
    async def run() -> None:
        new, old = _pairs()
        raw = AsyncQdrantClient(":memory:")
        config, points = _legacy(models.Distance.EUCLID, old)
        await raw.create_collection("docs", vectors_config=config)
        await raw.upsert("docs", points)
        adapter = fit("affine", new[:200], old[:200], distance="euclid")
        spec = _spec("named")
        await acreate(raw, spec, adapter)
        await raw.update_vectors("docs", [
            models.PointVectors(id=i, vector=layout_of(spec).new_vectors(new[i].tolist()))
            for i in range(0, N, 2)])
        await aset_phase(raw, "upgrade", Phase.BACKFILLING)
        client = AsyncDriftClient(raw, "upgrade", refresh_interval=0)
        assert await client.refresh() is Plan.HYBRID
        q = query(50)
        response = await client.query_points("docs", query=q, using="new", limit=8)
        assert scores(response) == sorted(scores(response))
        want = np.argsort(np.linalg.norm(new - q, axis=1))[:4]
        assert ids(response)[:4] == [int(i) for i in want]
        await client.close()

    asyncio.run(run())
