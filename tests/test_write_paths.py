"""Every write method of qdrant-client, through the wrapper, in both layouts, through both
shells (the ``shell`` fixture: sync, and async behind a sync-looking face): no point written
during a migration is one a legacy reader (a plain client searching the legacy vector) or a
wrapped reader cannot find, before and after a rollback."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client.http import models

from qdrant_drift import DriftClient, Phase
from qdrant_drift.errors import InvalidVectorsError
from qdrant_drift.sansio import call, drive

from .serving_fixtures import DIM, N, build_world
from .synthetic import drifted_pairs

FRESH = list(range(1000, 1006))
TRUE_MAP = drifted_pairs(N, DIM, DIM, noise=0.01, seed=11)[2]  # the world's new -> old map
LAYOUTS = ("named", "collection")


def fresh_vectors(world) -> np.ndarray:
    """New-model vectors of fresh items (mixes of existing ones: the adapter knows them)."""
    rng = np.random.default_rng(5)
    mixed = rng.dirichlet(np.ones(3), size=len(FRESH)) @ world.new[:3] + world.new[
        100:100 + len(FRESH)]
    return (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)


def _points(vectors: np.ndarray, name: str = "new") -> list[models.PointStruct]:
    return [models.PointStruct(id=i, vector={name: v.tolist()} if name is not None
                               else v.tolist(), payload={"tag": "fresh"})
            for i, v in zip(FRESH, vectors)]


# Each case: the method and its arguments, writing FRESH points with the given new vectors.
WRITE_CASES = {
    "upsert": lambda v: ("upsert", ("docs", _points(v)), {}),
    "upsert under the old name": lambda v: ("upsert", ("docs", _points(v, "old")), {}),
    "upsert a bare list": lambda v: ("upsert", ("docs", _points(v, None)), {}),
    "upsert a Batch": lambda v: ("upsert", ("docs", models.Batch(
        ids=FRESH, vectors={"new": v.tolist()}, payloads=[{"tag": "fresh"}] * len(FRESH))),
        {}),
    "upload_points in batches": lambda v: ("upload_points", ("docs", _points(v)),
                                           {"batch_size": 4, "wait": True}),
    "upload_points from a generator, parallel": lambda v: (
        "upload_points", ("docs", (p for p in _points(v))),
        {"batch_size": 2, "parallel": 2, "wait": True}),
    "upload_collection of numpy rows": lambda v: (
        "upload_collection", ("docs", v), {"ids": FRESH, "wait": True,
                                           "payload": [{"tag": "fresh"}] * len(FRESH)}),
    "upload_collection of named arrays": lambda v: (
        "upload_collection", ("docs", {"new": v}),
        {"ids": np.array(FRESH), "wait": True, "payload": [{"tag": "fresh"}] * len(FRESH)}),
    "upload_collection from a generator of dicts": lambda v: (
        "upload_collection", ("docs", ({"old": row.tolist()} for row in v)),
        {"ids": iter(FRESH), "batch_size": 4, "wait": True,
         "payload": iter([{"tag": "fresh"}] * len(FRESH))}),
    "upload_collection without ids": lambda v: (
        "upload_collection", ("docs", [row.tolist() for row in v]),
        {"wait": True, "payload": [{"tag": "fresh"}] * len(FRESH)}),
    "batch_update_points upserts": lambda v: ("batch_update_points", ("docs", [
        models.UpsertOperation(upsert=models.PointsList(points=_points(v)[:3])),
        models.UpsertOperation(upsert=models.PointsBatch(batch=models.Batch(
            ids=FRESH[3:], vectors={"new": v[3:].tolist()},
            payloads=[{"tag": "fresh"}] * 3))),
    ]), {}),
    "upsert with the app's old-model vectors": lambda v: (
        "upsert", ("docs", _points(v)), {"old_vectors": [row + 0.001 for row in v @ TRUE_MAP]}),
}


def _legacy_only(ids) -> list[models.PointStruct]:
    """Points as the legacy app writes them (then given new vectors by the app)."""
    return [models.PointStruct(id=i, vector={"old": np.eye(DIM)[k % DIM].tolist()},
                               payload={"tag": "fresh"}) for k, i in enumerate(ids)]


# update cases: the FRESH points exist as legacy-only points first (written unwrapped)
UPDATE_CASES = {
    "update_vectors": lambda v: ("update_vectors", ("docs", [
        models.PointVectors(id=i, vector={"new": row.tolist()}) for i, row in zip(FRESH, v)]),
        {}),
    "batch_update_points update_vectors": lambda v: ("batch_update_points", ("docs", [
        models.UpdateVectorsOperation(update_vectors=models.UpdateVectors(points=[
            models.PointVectors(id=i, vector={"old": row.tolist()})
            for i, row in zip(FRESH, v)]))]), {}),
}


def found_steps(spec, wrapped, vectors: np.ndarray):
    """Which FRESH points a legacy reader and a wrapped reader each miss (ids), sans-I/O:
    ``wrapped`` is the name of the call target the wrapped reads go to."""
    page, _ = yield call("scroll", spec.collection, scroll_filter=models.Filter(must=[
        models.FieldCondition(key="tag", match=models.MatchValue(value="fresh"))]),
        limit=100, with_vectors=True)
    by_id = {p.id: p for p in page}
    missed_by_legacy, missed_by_wrapped = [], []
    for point in by_id.values():
        legacy = point.vector.get("old") if isinstance(point.vector, dict) else None
        if legacy is None:
            missed_by_legacy.append(point.id)
            continue
        hit = yield call("query_points", spec.collection, query=legacy, using="old", limit=1)
        if [p.id for p in hit.points] != [point.id]:
            missed_by_legacy.append(point.id)
    # the wrapped reader searches with each new-model vector
    for row in vectors:
        hit = yield call(wrapped, "docs", query=row, using="new", limit=1)
        if not hit.points or hit.points[0].id not in by_id:
            missed_by_wrapped.append(row[:2].tolist())
    return len(by_id), missed_by_legacy, missed_by_wrapped


class _Reads:
    """The wrapped client seen by found_steps: ``wrapped_query`` is its query_points."""

    def __init__(self, raw, wrapped) -> None:
        self.raw, self.wrapped = raw, wrapped

    def __getattr__(self, name):
        return self.wrapped.query_points if name == "wrapped_query" else getattr(self.raw,
                                                                                 name)


def _check(world, client: DriftClient, vectors: np.ndarray) -> None:
    reads = _Reads(world.client, client)
    for phase in (Phase.BACKFILLING, Phase.ROLLED_BACK):
        from qdrant_drift.lifecycle.commands import set_phase

        set_phase(world.client, "upgrade", phase)
        client.refresh()
        found, legacy_missed, wrapped_missed = drive(
            found_steps(world.spec, "wrapped_query", vectors), reads)
        assert (found, legacy_missed, wrapped_missed) == (len(FRESH), [], []), phase


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", list(WRITE_CASES) + list(UPDATE_CASES))
def test_every_write_method_leaves_no_point_a_legacy_or_wrapped_reader_cannot_find(
        layout, case, shell):
    world = build_world(layout, shell=shell)
    client = world.wrapped()
    vectors = fresh_vectors(world)
    if case in UPDATE_CASES:
        world.client.upsert("docs", _legacy_only(FRESH))
    method, args, kwargs = {**WRITE_CASES, **UPDATE_CASES}[case](vectors)
    getattr(client, method)(*args, **kwargs)
    _check(world, client, vectors)


def _native_ids(world) -> set[int]:
    spec = world.spec
    page, _ = world.client.scroll(spec.native_collection, limit=1000, with_vectors=True)
    return {int(p.id) for p in page if isinstance(p.vector, dict) and "new" in p.vector}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_batch_update_points_mirrors_deletes_payload_edits_and_vector_deletes(layout, shell):
    world = build_world(layout, shell=shell)
    world.migrate(range(10))
    client = world.wrapped()
    sel = models.PointIdsList(points=[1])
    client.batch_update_points("docs", [
        models.DeleteOperation(delete=sel),
        models.SetPayloadOperation(set_payload=models.SetPayload(payload={"x": 1},
                                                                 points=[2, 3])),
        models.OverwritePayloadOperation(overwrite_payload=models.SetPayload(
            payload={"only": True}, points=[4])),
        models.DeletePayloadOperation(delete_payload=models.DeletePayload(keys=["n"],
                                                                         points=[5])),
        models.ClearPayloadOperation(clear_payload=models.PointIdsList(points=[6])),
        models.DeleteVectorsOperation(delete_vectors=models.DeleteVectors(
            points=[7], vector=["new"])),
    ])
    for collection in {world.spec.collection, world.spec.native_collection}:
        got = {int(p.id): p.payload for p in world.client.retrieve(collection, list(range(8)))}
        assert 1 not in got
        assert got[2]["x"] == got[3]["x"] == 1
        assert got[4]["only"] is True and "group" not in got[4]
        assert "n" not in got[5]
        assert "group" not in got[6]
    legacy7 = world.client.retrieve("docs", [7], with_vectors=True)[0].vector
    assert "old" not in legacy7  # the migrating vector is one vector: both copies went
    assert 7 not in _native_ids(world)
    # the migrated marker is kept where the payload was replaced (blue-green)
    if layout == "collection":
        for i in (4, 6):
            assert world.client.retrieve("docs", [i])[0].payload["_drift_migrated"] is True


def test_a_vector_of_the_wrong_dimension_names_the_vector_and_writes_nothing(shell):
    world = build_world("collection", shell=shell)
    client = world.wrapped()
    good = fresh_vectors(world)
    points = _points(good)
    points[3] = models.PointStruct(id=FRESH[3], vector={"old": [0.1] * (DIM + 2)})
    with pytest.raises(InvalidVectorsError,
                       match=rf"vector 'old': expected dimension {DIM}, got {DIM + 2}: during a "
                             r"migration the wrapper takes the migrating vector.*as a NEW-model "
                             r"vector .*pass an old-model vector as old_vectors="):
        client.upsert("docs", points)
    with pytest.raises(InvalidVectorsError, match=r"old_vectors \('old'\): expected dim"):
        client.upsert("docs", _points(good), old_vectors=[[0.5] * 3] * len(FRESH))
    with pytest.raises(InvalidVectorsError, match="'new': expected dimension"):
        client.batch_update_points("docs", [
            models.UpsertOperation(upsert=models.PointsList(points=_points(good))),
            models.UpdateVectorsOperation(update_vectors=models.UpdateVectors(points=[
                models.PointVectors(id=1, vector={"new": [1.0]})]))])
    assert world.client.retrieve("docs", FRESH) == []
    assert world.client.retrieve("docs_v2", FRESH) == []


def test_the_same_vector_under_both_names_is_one_vector_and_two_different_ones_are_refused(
        shell):
    world = build_world("named", shell=shell)
    client = world.wrapped()
    v = fresh_vectors(world)
    client.upsert("docs", [models.PointStruct(id=FRESH[0], vector={
        "old": v[0].tolist(), "new": v[0].tolist()})])
    stored = world.client.retrieve("docs", [FRESH[0]], with_vectors=True)[0].vector
    assert np.allclose(stored["new"], v[0], atol=1e-6)
    assert np.allclose(stored["old"], world.adapter.transform(v[0]), atol=1e-5)
    with pytest.raises(InvalidVectorsError, match="'old' and 'new' are both"):
        client.upsert("docs", [models.PointStruct(id=FRESH[1], vector={
            "old": v[0].tolist(), "new": v[1].tolist()})])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", ["upsert under the old name", "upload_collection without ids",
                                  "batch_update_points upserts"])
def test_after_finish_writes_land_on_the_new_side_under_the_app_s_names(layout, case, shell):
    from qdrant_drift.lifecycle.commands import set_phase

    world = build_world(layout, shell=shell)
    world.migrate(range(N))
    for phase in (Phase.BACKFILLING, Phase.CUT_OVER, Phase.FINISHED):
        set_phase(world.client, "upgrade", phase)
    if layout == "named":  # what finish does
        world.client.delete_vector_name("docs", "old")
    else:
        world.client.delete_collection("docs")
    client = world.wrapped()
    vectors = fresh_vectors(world)
    method, args, kwargs = WRITE_CASES[case](vectors)
    getattr(client, method)(*args, **kwargs)
    for row in vectors:
        hit = client.query_points("docs", query=row, using="old", limit=1).points[0]
        assert hit.payload["tag"] == "fresh" and hit.score > 0.999


@pytest.mark.parametrize("case", ["upload_points in batches", "upload_collection of named arrays"])
def test_an_async_upload_called_without_await_as_qdrant_client_allows_still_writes_both_sides(
        case):
    """``AsyncQdrantClient.upload_points`` / ``upload_collection`` are plain methods: apps
    call them without ``await``. The wrapped ones start the mirrored write at once."""
    from .shells import Shell, unblocked

    shell = Shell("async")
    world = build_world("named", shell=shell)
    client = world.wrapped()
    vectors = fresh_vectors(world)
    method, args, kwargs = WRITE_CASES[case](vectors)

    async def app() -> None:
        getattr(unblocked(client), method)(*args, **kwargs)  # no await
        await unblocked(client).drain()

    try:
        shell.loop.run_until_complete(app())
        _check(world, client, vectors)
    finally:
        shell.close()
