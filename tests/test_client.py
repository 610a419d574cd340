"""DriftClient and AsyncDriftClient: the same calls as qdrant-client, routed by the migration
state. Each behaviour is specified once and run against both shells (the ``shell`` fixture:
the async client is driven through a sync-looking face, see tests/shells.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import threading

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_client.http import models

from qdrant_drift import (
    AsyncDriftClient,
    DriftClient,
    DriftError,
    Phase,
    Plan,
    StateError,
    wrap,
)
from qdrant_drift.lifecycle.commands import aset_phase, cutover, finish, rollback, set_phase
from qdrant_drift.local import SerializedClient, is_local

from .conftest import BACKENDS, make_async_client, make_client
from .serving_fixtures import N, build_async_world, build_world
from .shells import unblocked


@pytest.fixture(params=[(layout, backend) for backend in BACKENDS
                        for layout in ("named", "collection")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def world(request, shell):
    layout, backend = request.param
    make = make_async_client if shell.is_async else make_client
    return build_world(layout, make(backend, request), shell)


def drift(world, **kw) -> DriftClient:
    """The wrapper of the world's shell, refreshed only when asked."""
    return world.wrapped(**kw)


def ids(response) -> list[int]:
    return [int(p.id) for p in response.points]


def test_adapted_plan_finds_what_a_full_re_embed_would(world):
    client = drift(world)
    assert client.plan is Plan.ADAPTED
    query = world.new[210]
    response = client.query_points("docs", query=query, using="new", limit=5)
    assert isinstance(response, models.QueryResponse)
    assert all(isinstance(p, models.ScoredPoint) for p in response.points)
    assert ids(response)[:3] == world.native_top(query, 3)


def test_hybrid_results_partition_the_collection_and_match_native_ranking(world):
    world.migrate(range(0, N, 2))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    client = drift(world)
    assert client.plan is Plan.HYBRID
    for row in (3, 50, 211):
        query = world.new[row]
        got = ids(client.query_points("docs", query=query.tolist(), using="new", limit=8))
        assert len(got) == len(set(got)) == 8
        assert got[:4] == world.native_top(query, 4)


def test_scores_are_on_the_native_scale_in_every_plan(world):
    query = world.new[7]
    adapted = drift(world).query_points("docs", query=query, using="new", limit=1)
    assert adapted.points[0].score == pytest.approx(1.0, abs=0.05)


def test_cutover_serves_native_and_rollback_is_instant(world):
    world.migrate(range(N))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    client = drift(world)
    cutover(world.client, "upgrade")
    assert client.refresh() is Plan.NATIVE
    query = world.new[5]
    native = world.client.query_points(world.spec.native_collection, query=query, using="new",
                                       limit=5)
    assert ids(client.query_points("docs", query=query, using="new", limit=5)) == ids(native)
    rollback(world.client, "upgrade")
    assert client.refresh() is Plan.ADAPTED


def test_a_replica_that_has_not_refreshed_since_finish_still_answers_every_query(world):
    """finish drops the legacy side a replica planned on up to refresh_interval ago: the
    query that finds it gone reads the state, and is planned again on the new one."""
    world.migrate(range(0, N, 2))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    client = drift(world)  # reads the state once: no refresh until asked
    assert client.plan is Plan.HYBRID
    world.migrate(range(N))
    cutover(world.client, "upgrade")
    finish(world.client, "upgrade")
    query = world.new[7]
    assert ids(client.query_points("docs", query=query, using="new", limit=5))[:3] == (
        world.native_top(query, 3))
    assert client.plan is Plan.NATIVE


def test_a_query_on_a_stale_plan_is_planned_again_in_batches_and_groups_too(world):
    world.migrate(range(0, N, 2))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    batch_client, groups_client = drift(world), drift(world)
    world.migrate(range(N))
    cutover(world.client, "upgrade")
    finish(world.client, "upgrade")
    batch = batch_client.query_batch_points("docs", [
        models.QueryRequest(query=world.new[i].tolist(), using="new", limit=2) for i in (4, 5)])
    assert [ids(r)[0] for r in batch] == [4, 5]
    groups = groups_client.query_points_groups("docs", "group", query=world.new[9],
                                               using="new", limit=2, group_size=2)
    assert groups.groups[0].hits[0].id == 9


def test_a_failing_query_on_a_current_plan_fails_as_it_would_without_the_wrapper(world):
    client = drift(world)
    with pytest.raises(Exception) as wrapped:
        client.query_points("docs", query=[0.1] * 3, using="new", limit=5)  # wrong dimension
    assert "dimension" in str(wrapped.value).lower() or "size" in str(wrapped.value).lower()
    assert client.plan is Plan.ADAPTED


class GoesDown:
    """The world's client until ``down``: then every call fails as an unreachable Qdrant's."""

    def __init__(self, client) -> None:
        self._client, self.down = client, False

    def __getattr__(self, name):
        target = getattr(self._client, name)
        if not callable(target):
            return target

        def call(*args, **kwargs):
            if self.down:
                try:
                    raise ConnectionRefusedError(111, "connection refused")
                except ConnectionRefusedError as cause:
                    raise RuntimeError(f"{name}: response handling failed") from cause
            return target(*args, **kwargs)
        return call


def test_a_query_that_fails_while_the_state_cannot_be_read_either_changes_nothing(world):
    """Qdrant down for a moment: the query's own error, cause and all, and the plan stays
    (a failed state read after a failed call must not degrade serving to the safe plan)."""
    world.migrate(range(0, N, 2))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    proxy = GoesDown(unblocked(world.client))
    client = drift(world, client=proxy)
    assert client.plan is Plan.HYBRID
    proxy.down = True
    with pytest.raises(RuntimeError, match="query_points|query_batch_points") as failed:
        client.query_points("docs", query=world.new[3], using="new", limit=5)
    assert isinstance(failed.value.__cause__, ConnectionRefusedError)
    proxy.down = False
    assert client.plan is Plan.HYBRID
    assert ids(client.query_points("docs", query=world.new[3], using="new", limit=5))[0] == 3


class CountsStateReads(GoesDown):
    """The world's client, counting the calls that read the state collection."""

    def __init__(self, client) -> None:
        super().__init__(client)
        self.state_reads = 0

    def __getattr__(self, name):
        call = super().__getattr__(name)
        if not callable(call):
            return call

        def counted(*args, **kwargs):
            if "qdrant_drift_state" in (list(args[:1]) + [kwargs.get("collection_name")]):
                self.state_reads += 1
            return call(*args, **kwargs)
        return counted


def test_a_flood_of_bad_queries_reads_the_state_once_not_once_each(world):
    proxy = CountsStateReads(unblocked(world.client))
    client = drift(world, client=proxy)
    before = proxy.state_reads
    for _ in range(20):
        with pytest.raises(Exception):
            client.query_points("docs", query=[0.1] * 3, using="new", limit=5)  # wrong size
    assert 0 < proxy.state_reads - before <= 6  # one read (a few calls), not twenty


def test_a_background_refresh_that_fails_inside_embedded_qdrant_says_what_likely_broke_it(
        caplog):
    from qdrant_drift.serving.client import _Core

    def said(embedded, exc):
        core = _Core("m", state_collection="s", router=None, adapter=None, embedded=embedded)
        caplog.clear()
        core.background_failed(exc)
        return caplog.text

    race = ValueError("operands could not be broadcast together with shapes (1763,) (1764,)")
    assert "not thread-safe" in said(True, race) and "SerializedClient" in said(True, race)
    assert "not thread-safe" not in said(False, race)  # a server: no such cause
    assert "not thread-safe" not in said(True, StateError("no migration named 'm'"))


def test_filter_offset_limit_threshold_payload_and_vectors_keep_their_meaning(world):
    world.migrate(range(0, N, 3))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    client = drift(world)
    query = world.new[17]
    only_group_1 = models.Filter(must=[models.FieldCondition(
        key="group", match=models.MatchValue(value=1))])
    page = client.query_points("docs", query=query, using="new", query_filter=only_group_1,
                               limit=4, offset=2, with_payload=["group"], with_vectors=False)
    full = client.query_points("docs", query=query, using="new", query_filter=only_group_1,
                               limit=6)
    assert ids(page) == ids(full)[2:6]
    assert all(p.payload == {"group": 1} for p in page.points)
    assert all(p.vector is None for p in page.points)
    threshold = full.points[2].score
    above = client.query_points("docs", query=query, using="new", limit=10,
                                score_threshold=threshold)
    assert all(p.score >= threshold for p in above.points)
    assert len(above.points) >= 3


def test_query_batch_points_routes_every_request(world):
    client = drift(world)
    requests = [models.QueryRequest(query=world.new[i].tolist(), using="new", limit=3)
                for i in (1, 2)]
    responses = client.query_batch_points("docs", requests)
    assert [ids(r)[0] for r in responses] == [1, 2]


class CountingCalls:
    """Pass-through that counts the query calls reaching Qdrant."""

    def __init__(self, client):
        self._client = client
        self.calls = []

    def __getattr__(self, name):
        target = getattr(self._client, name)
        if not name.startswith("query"):
            return target

        def counted(*args, **kwargs):
            self.calls.append(name)
            return target(*args, **kwargs)

        return counted


@pytest.mark.parametrize("phase_path", [(), (Phase.BACKFILLING,), (Phase.BACKFILLING,
                                                                   Phase.CUT_OVER)],
                         ids=["adapted", "hybrid", "native"])
def test_a_batch_is_one_round_trip_per_collection_and_answers_like_single_queries(
        world, phase_path):
    world.migrate(range(0, N, 2))
    for phase in phase_path:  # cut over at half coverage on purpose
        set_phase(world.client, "upgrade", phase, force=True)
    counting = CountingCalls(unblocked(world.client))
    client = world.wrapped(counting)
    flt = models.Filter(must=[models.FieldCondition(key="group",
                                                    match=models.MatchValue(value=1))])
    requests = [models.QueryRequest(query=world.new[i].tolist(), using="new", limit=4,
                                    offset=1, filter=flt if i % 2 else None)
                for i in (1, 2, 5, 8, 9)]
    singles = [client.query_points("docs", **{
        "query": r.query, "using": r.using, "limit": r.limit, "offset": r.offset,
        "query_filter": r.filter}) for r in requests]
    counting.calls.clear()
    batch = client.query_batch_points("docs", requests)
    sides = 2 if world.spec.layout == "collection" and phase_path == (Phase.BACKFILLING,) else 1
    assert counting.calls == ["query_batch_points"] * sides
    assert [ids(r) for r in batch] == [ids(r) for r in singles]
    assert [p.score for r in batch for p in r.points] == pytest.approx(
        [p.score for r in singles for p in r.points])


def test_a_batch_request_qdrant_client_cannot_take_still_fails_as_it_would(world):
    client = drift(world)
    request = models.QueryRequest(query=world.new[1].tolist(), using="new", limit=4)
    with pytest.raises(Exception):
        client.query_batch_points("docs", [request], no_such_argument=1)
    with pytest.raises(TypeError, match="limit"):  # a request field, not a batch argument
        client.query_batch_points("docs", [request], limit=1)


def test_batch_requests_that_leave_payload_unset_get_none_as_from_qdrant(world):
    client = drift(world)
    unset = models.QueryRequest(query=world.old[1].tolist(), using="old", limit=3)
    plain = world.client.query_batch_points("docs", [unset])[0]
    assert plain.points and all(p.payload is None for p in plain.points)
    for request in (unset, models.QueryRequest(query=world.new[1].tolist(), using="new",
                                               limit=3)):  # passed through, and routed
        routed = client.query_batch_points("docs", [request])[0]
        assert len(routed.points) == 3 and all(p.payload is None for p in routed.points)


def test_query_points_groups(world):
    world.migrate(range(0, N, 2))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    client = drift(world)
    result = client.query_points_groups("docs", "group", query=world.new[9], using="new",
                                        limit=3, group_size=2)
    assert isinstance(result, models.GroupsResult)
    assert len(result.groups) == 3
    assert all(1 <= len(g.hits) <= 2 for g in result.groups)
    assert result.groups[0].hits[0].id == 9


def test_old_model_query_serves_the_legacy_side(world):
    client = drift(world)
    got = client.query_points("docs", query=world.new[33], using="new", limit=3,
                              old_query=world.old[33])
    assert ids(got)[0] == 33


def test_unrouted_calls_pass_through_unchanged(world):
    client = drift(world)
    assert client.count("docs").count == N
    assert client.retrieve("docs", [1])[0].payload["n"] == 1
    world.client.create_collection("other", vectors_config=models.VectorParams(
        size=3, distance=models.Distance.DOT))
    world.client.upsert("other", [models.PointStruct(id=1, vector=[1.0, 0.0, 0.0]),
                                  models.PointStruct(id=2, vector=[0.0, 1.0, 0.0])])
    direct = world.client.query_points("other", query=[0.0, 2.0, 0.0], limit=2)
    wrapped = client.query_points("other", query=[0.0, 2.0, 0.0], limit=2)
    assert wrapped == direct
    # qdrant-client's own argument checking still applies
    with pytest.raises(Exception, match="not_an_arg"):
        client.query_points("docs", query=world.new[0], using="new", limit=3, not_an_arg=True)


def test_writes_through_the_wrapper_land_on_both_sides_stamped(world):
    client = drift(world)
    vector = world.new[0] * 0.5 + world.new[1] * 0.5
    client.upsert("docs", [models.PointStruct(id=9999, vector={"new": vector.tolist()},
                                              payload={"n": 9999})])
    legacy = world.client.retrieve("docs", [9999], with_vectors=True)[0]
    assert set(legacy.vector) >= {"old"}
    assert legacy.payload["_drift"]["new_vector_model"] == "new-m"
    native = world.client.retrieve(world.spec.native_collection, [9999], with_vectors=True)[0]
    assert "new" in native.vector
    # and the new point is found by routed search on either plan
    assert ids(client.query_points("docs", query=vector, using="new", limit=1)) == [9999]


def test_deletes_reach_both_sides(world):
    client = drift(world)
    world.migrate([5])
    client.delete(collection_name="docs", points_selector=[5])
    assert world.client.retrieve("docs", [5]) == []
    assert world.client.retrieve(world.spec.native_collection, [5]) == []
    world.migrate([6])
    client.delete("docs", [6])  # positional, as qdrant-client allows
    assert world.client.retrieve("docs", [6]) == []
    assert world.client.retrieve(world.spec.native_collection, [6]) == []
    client.set_payload("docs", {"tag": "x"}, [7])
    assert world.client.retrieve("docs", [7])[0].payload["tag"] == "x"


def test_missing_migration_is_a_clear_error(world):
    with pytest.raises(DriftError, match="no migration named 'nope'.*"
                                         r"\(migrations here: 'upgrade'\)"):
        world.wrapped(migration="nope")  # the async client: at its first call
    with pytest.raises(DriftError, match=r"no migration named 'upgarde'.*"
                                         r"\(did you mean 'upgrade'\?\)"):
        world.wrapped(migration="upgarde")  # a typo


def test_unreadable_state_degrades_to_the_adapted_plan(world):
    world.migrate(range(N))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    cutover(world.client, "upgrade")
    client = drift(world)
    assert client.plan is Plan.NATIVE
    world.client.delete_collection("qdrant_drift_state")
    with pytest.raises(DriftError):
        client.refresh()
    assert client.plan is Plan.ADAPTED
    assert len(client.query_points("docs", query=world.new[3], using="new", limit=4).points) == 4


def test_illegal_transitions_are_refused(world):
    with pytest.raises(StateError, match="cannot go from 'serving-adapted' to 'finished'"):
        set_phase(world.client, "upgrade", Phase.FINISHED)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", ["named", "collection"])
def test_async_client_routes_the_same_way(layout, backend, request):
    async_client = make_async_client(backend, request)

    async def scenario():
        raw, world = await build_async_world(layout, async_client)
        client = AsyncDriftClient(raw, "upgrade", refresh_interval=0)
        query = world.new[210]
        adapted = await client.query_points("docs", query=query, using="new", limit=5)
        assert client.plan is Plan.ADAPTED
        assert ids(adapted)[:3] == world.native_top(query, 3)
        # dual write, then hybrid
        await client.upsert("docs", [models.PointStruct(
            id=i, vector={"new": world.new[i].tolist()}, payload={"group": i % 4, "n": i})
            for i in range(0, N, 2)])
        await aset_phase(raw, "upgrade", Phase.BACKFILLING)
        assert await client.refresh() is Plan.HYBRID
        hybrid = await client.query_points("docs", query=query, using="new", limit=6)
        assert ids(hybrid)[:4] == world.native_top(query, 4)
        batch = await client.query_batch_points("docs", [
            models.QueryRequest(query=world.new[i].tolist(), using="new", limit=2)
            for i in (4, 5)])
        assert [ids(r)[0] for r in batch] == [4, 5]
        groups = await client.query_points_groups("docs", "group", query=world.new[9],
                                                  using="new", limit=2, group_size=2)
        assert groups.groups[0].hits[0].id == 9
        await client.delete(collection_name="docs", points_selector=[4])
        assert await raw.retrieve("docs", [4]) == []
        await client.close()

    asyncio.run(scenario())


def test_async_wrap_and_background_refresh():
    async def scenario():
        raw, _ = await build_async_world("named")
        client = wrap(raw, "upgrade", refresh_interval=0.05)
        assert isinstance(client, AsyncDriftClient)
        await client.query_points("docs", query=[0.1] * 16, using="new", limit=1)
        await aset_phase(raw, "upgrade", Phase.BACKFILLING)
        await aset_phase(raw, "upgrade", Phase.CUT_OVER, force=True)  # nothing migrated
        for _ in range(100):
            if client.plan is Plan.NATIVE:
                break
            await asyncio.sleep(0.02)
        assert client.plan is Plan.NATIVE
        await client.close()

    asyncio.run(scenario())


def test_background_refresh_follows_a_cutover(world):
    import time

    client = world.wrapped(refresh_interval=0.05)
    client.query_points("docs", query=world.new[1], using="new", limit=1)
    world.migrate(range(N))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    cutover(world.client, "upgrade")
    deadline = time.time() + 5
    while client.plan is not Plan.NATIVE and time.time() < deadline:
        world.shell.sleep(0.02)
    assert client.plan is Plan.NATIVE
    client.close()


def test_wrap_picks_the_client_flavour(world):
    wrapped = wrap(unblocked(world.client), "upgrade", refresh_interval=0)
    assert type(wrapped) is (AsyncDriftClient if world.shell.is_async else DriftClient)


def test_a_wrapped_client_passes_the_isinstance_checks_frameworks_make(world):
    wrapped = wrap(world.client, "upgrade", refresh_interval=0)
    assert isinstance(wrapped, QdrantClient) and isinstance(wrapped, DriftClient)
    assert not isinstance(wrapped, AsyncQdrantClient)
    assert type(wrapped) is DriftClient
    async_wrapped = wrap(AsyncQdrantClient(":memory:"), "upgrade")
    assert isinstance(async_wrapped, AsyncQdrantClient)
    assert isinstance(async_wrapped, AsyncDriftClient)
    assert not isinstance(async_wrapped, QdrantClient)


def test_legacy_hits_are_counted_and_flushed_for_hot_first_backfill(world):
    from qdrant_drift.serving.hits import read_hot_steps
    from qdrant_drift.sansio import drive as run

    world.migrate(range(0, N, 2))  # even ids are migrated: only odd ids can be legacy hits
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    client = drift(world)
    for _ in range(3):
        client.query_points("docs", query=world.new[11], using="new", limit=4)
    counts = client.legacy_hits.snapshot()
    assert counts[11] == 3
    assert all(int(pid) % 2 == 1 for pid in counts)
    assert client.flush_hits() == len(counts)
    assert client.flush_hits() == 0  # nothing new since
    stored = run(read_hot_steps("upgrade"), world.client)
    assert stored == counts


def test_shadow_sampling_records_agreement_between_plans(world):
    world.migrate(range(0, N, 2))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    client = drift(world, shadow_rate=1.0)
    for row in range(5):
        client.query_points("docs", query=world.new[row], using="new", limit=6)
    client.drain()
    agreement = client.shadow_stats.agreement()
    assert set(agreement) == {"hybrid->native"}
    assert client.shadow_stats.samples["hybrid->native"] == 5
    # native only sees the migrated half: it agrees with hybrid on about half the top-k
    assert 0.2 < agreement["hybrid->native"] < 0.9


def test_shadow_rate_is_validated(world):
    with pytest.raises(ValueError, match="shadow rate"):
        drift(world, shadow_rate=1.5)


def test_shadow_sampling_in_the_adapted_plan_compares_with_hybrid(world):
    client = drift(world, shadow_rate=1.0)
    for row in range(3):
        client.query_points("docs", query=world.new[row], using="new", limit=5)
    client.drain()
    stats = client.shadow_stats
    assert stats.samples == {"adapted->hybrid": 3}
    # no item is migrated: hybrid equals adapted
    assert stats.agreement()["adapted->hybrid"] == 1.0


@pytest.mark.parametrize("phase_path", [[], [Phase.BACKFILLING], [Phase.BACKFILLING,
                                                                     Phase.CUT_OVER]])
def test_prefetch_queries_keep_working_in_every_plan(world, phase_path):
    if phase_path:
        world.migrate(range(N))
    for phase in phase_path:
        set_phase(world.client, "upgrade", phase)
    client = drift(world)
    query = world.new[42]
    rescored = client.query_points(
        "docs", prefetch=models.Prefetch(query=query.tolist(), using="new", limit=20),
        query=query, using="new", limit=5)
    assert ids(rescored)[0] == 42
    fused = client.query_points(
        "docs", prefetch=[models.Prefetch(query=query.tolist(), using="new", limit=20),
                          models.Prefetch(query=world.new[43].tolist(), using="new", limit=20)],
        query=models.FusionQuery(fusion=models.Fusion.RRF), limit=5)
    assert {42, 43} <= set(ids(fused))


def refused_at_create(client, match, *, distance=models.Distance.COSINE,
                      spec_options=None, **collection_options):
    """Make a 4-d "docs" collection on ``client``, try to start a migration of it and
    expect a DriftError matching ``match``."""
    from qdrant_drift import MigrationSpec, fit
    from qdrant_drift.lifecycle.commands import create

    client.create_collection("docs", vectors_config={
        "old": models.VectorParams(size=4, distance=distance)}, **collection_options)
    rng = np.random.default_rng(0)
    adapter = fit("procrustes", rng.normal(size=(300, 4)), rng.normal(size=(300, 4)))
    spec = MigrationSpec(name="m", collection="docs", old_vector="old", new_vector="new",
                         **(spec_options or {}))
    with pytest.raises(DriftError, match=match):
        create(client, spec, adapter)


def test_a_server_without_create_vector_name_gets_a_clear_error():
    from qdrant_client import QdrantClient

    class OldServer:
        """A real local client, answering create_vector_name as a pre-1.18 server does."""

        def __init__(self) -> None:
            self._client = QdrantClient(":memory:")

        def create_vector_name(self, *args, **kwargs):
            raise RuntimeError("Unexpected Response: 404 (Not Found)")

        def __getattr__(self, name):
            return getattr(self._client, name)

    refused_at_create(OldServer(), "Qdrant >= 1.18.*layout='collection'")


def test_blue_green_cutover_switches_the_alias_atomically_and_rollback_switches_back():
    from qdrant_client import QdrantClient

    from qdrant_drift import MigrationSpec, fit
    from qdrant_drift.lifecycle.commands import create

    client = QdrantClient(":memory:")
    client.create_collection("docs_v1", vectors_config={
        "old": models.VectorParams(size=8, distance=models.Distance.COSINE)})
    client.update_collection_aliases(change_aliases_operations=[models.CreateAliasOperation(
        create_alias=models.CreateAlias(collection_name="docs_v1", alias_name="docs"))])
    rng = np.random.default_rng(0)
    adapter = fit("procrustes", rng.normal(size=(200, 8)), rng.normal(size=(200, 8)))
    spec = MigrationSpec(name="bg", collection="docs_v1", old_vector="old", new_vector="new",
                         layout="collection", new_collection="docs_v2", alias="docs")
    create(client, spec, adapter)

    def aliased() -> str:
        return {a.alias_name: a.collection_name
                for a in client.get_aliases().aliases}["docs"]

    assert aliased() == "docs_v1"
    set_phase(client, "bg", Phase.BACKFILLING)
    cutover(client, "bg")
    assert aliased() == "docs_v2"
    rollback(client, "bg")
    assert aliased() == "docs_v1"


def test_numpy_scalar_lists_are_adapted_not_sent_raw_to_the_legacy_vector(world):
    client = drift(world)
    query = world.new[17]
    as_numpy_items = list(query)  # elements are np.float32
    assert ids(client.query_points("docs", query=as_numpy_items, using="new", limit=3))[0] == 17


def test_queries_the_legacy_side_cannot_take_are_refused_clearly(world):
    client = drift(world)
    with pytest.raises(DriftError, match="multivector"):
        client.query_points("docs", query=[world.new[3].tolist()] * 2, using="new", limit=3)


def test_prefetch_on_the_migrating_vector_with_a_top_level_query_on_another_vector(shell):
    from qdrant_drift import MigrationSpec, fit
    from qdrant_drift.lifecycle.commands import create

    from .synthetic import drifted_pairs

    new, old, _ = drifted_pairs(120, 8, 8, noise=0.01, seed=2)
    titles = np.random.default_rng(3).normal(size=(120, 4)).astype(np.float32)
    client = shell.local_client()
    client.create_collection("docs", vectors_config={
        "old": models.VectorParams(size=8, distance=models.Distance.COSINE),
        "title": models.VectorParams(size=4, distance=models.Distance.COSINE)})
    client.upsert("docs", [models.PointStruct(
        id=i, vector={"old": old[i].tolist(), "title": titles[i].tolist()}) for i in range(120)])
    create(client, MigrationSpec(name="m", collection="docs", old_vector="old",
                                 new_vector="new"), fit("procrustes", new, old))
    wrapped = shell.wrap(client, "m", refresh_interval=0)
    got = wrapped.query_points(
        "docs", prefetch=models.Prefetch(query=new[5].tolist(), using="new", limit=20),
        query=titles[5].tolist(), using="title", limit=3)
    assert ids(got)[0] == 5  # the title query re-ranks the adapted candidates


def test_a_failed_flush_keeps_the_hits_for_the_next_one(world):
    client = drift(world)
    client.query_points("docs", query=world.new[11], using="new", limit=4)
    world.client.delete_collection("qdrant_drift_state")
    with pytest.raises(Exception):
        client.flush_hits()
    world.client.create_collection("qdrant_drift_state", vectors_config={})
    assert client.flush_hits() == 4


def test_blue_green_payload_overwrite_keeps_migrated_points_out_of_the_legacy_half(shell):
    world = build_world("collection", shell=shell)
    world.migrate([3, 4])
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    client = drift(world)
    client.overwrite_payload("docs", {"n": 3, "fresh": True}, [3, 5])
    client.clear_payload(collection_name="docs",
                         points_selector=models.FilterSelector(filter=models.Filter(
                             must=[models.HasIdCondition(has_id=[4])])))
    legacy = {p.id: p.payload for p in world.client.retrieve("docs", [3, 4, 5])}
    assert legacy[3] == {"n": 3, "fresh": True, "_drift_migrated": True}
    assert legacy[4] == {"_drift_migrated": True}
    assert "_drift_migrated" not in legacy[5]
    got = ids(client.query_points("docs", query=world.new[3], using="new", limit=5))
    assert got.count(3) == 1 and got[0] == 3


def test_serving_metrics_count_queries_per_plan_and_degraded_queries(world):
    from prometheus_client.parser import text_string_to_metric_families

    from qdrant_drift.observability.metrics import DriftMetrics

    metrics = DriftMetrics()
    client = drift(world, metrics=metrics)
    client.query_points("docs", query=world.new[1], using="new", limit=3)
    world.client.delete_collection("qdrant_drift_state")
    with pytest.raises(DriftError):
        client.refresh()
    client.query_points("docs", query=world.new[1], using="new", limit=3)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(metrics.exposition().decode())
               for s in f.samples}
    adapted = ("qdrant_drift_queries_total", (("migration", "upgrade"), ("plan", "adapted")))
    degraded = ("qdrant_drift_degraded_queries_total",
                (("migration", "upgrade"), ("reason", "state-unreadable")))
    errors = ("qdrant_drift_state_refresh_errors_total", (("migration", "upgrade"),))
    assert samples[adapted] == 2 and samples[degraded] == 1 and samples[errors] == 1


def test_shadow_agreement_reaches_the_state_for_status(world):
    from qdrant_drift.sansio import drive as run
    from qdrant_drift.serving.shadow import read_agreement_steps

    world.migrate(range(0, N, 2))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    client = drift(world, shadow_rate=1.0)
    for row in range(4):
        client.query_points("docs", query=world.new[row], using="new", limit=6)
    client.drain()
    run(client._core.background_steps(), world.client)
    stored = run(read_agreement_steps("upgrade"), world.client)
    assert stored == pytest.approx(client.shadow_stats.agreement())


def test_deep_hit_sampling_counts_the_best_unmigrated_items_off_the_query_path(world):
    world.migrate(range(0, N, 2))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    client = drift(world, hit_depth=30, hit_sample_rate=1.0)
    response = client.query_points("docs", query=world.new[1], using="new", limit=3)
    assert len(response.points) == 3
    client.drain()
    hits = client.legacy_hits.snapshot()
    assert len(hits) >= 30  # the returned legacy hits plus 30 from the deep sample
    assert all(int(pid) % 2 == 1 for pid in hits)  # only items lacking the new vector


@pytest.mark.parametrize("client_class", [DriftClient, AsyncDriftClient])
def test_routed_query_methods_name_every_argument_the_core_reads(client_class):
    """The core reads a query's arguments by name (QUERY_DEFAULTS): each one must be a
    parameter of query_points, as it is of qdrant-client's own."""

    from qdrant_client import QdrantClient

    from qdrant_drift.serving.queries import QUERY_DEFAULTS

    ours = inspect.signature(client_class.query_points).parameters
    theirs = inspect.signature(QdrantClient.query_points).parameters
    assert set(QUERY_DEFAULTS) <= set(ours)
    assert {name: ours[name].default for name in QUERY_DEFAULTS} == QUERY_DEFAULTS
    assert {name: theirs[name].default for name in QUERY_DEFAULTS} == QUERY_DEFAULTS


def kept(result, keep):
    """``result`` after ``keep(result)``; an awaitable's result, once awaited."""
    if not inspect.isawaitable(result):
        keep(result)
        return result

    async def awaited():
        answer = await result
        keep(answer)
        return answer

    return awaited()


@dataclasses.dataclass
class Answer:
    using: str
    points: list


class Recording:
    """Pass-through that keeps what each query_points call returned (of either client)."""

    def __init__(self, client):
        self._client = client
        self.answers = []
        self.batched = []

    def query_points(self, *args, **kwargs):
        return kept(self._client.query_points(*args, **kwargs),
                    lambda answer: self.answers.append((kwargs.get("using"), answer)))

    def query_batch_points(self, collection, requests, **kwargs):
        return kept(self._client.query_batch_points(collection, requests, **kwargs),
                    lambda answers: self.batched.extend(
                        Answer(r.using, a.points) for r, a in zip(requests, answers)))

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_hybrid_groups_anchor_their_calibration_on_migrated_points_of_both_sides(world):
    world.migrate(range(0, N, 2))
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    recording = Recording(unblocked(world.client))
    client = world.wrapped(recording)
    client.query_points_groups("docs", "group", query=world.new[9], using="new", limit=3,
                               group_size=2)
    assert recording.answers == []  # the anchors travel together, in one batch
    counting = CountingCalls(unblocked(world.client))
    world.wrapped(counting).query_points_groups(
        "docs", "group", query=world.new[9], using="new", limit=3, group_size=2)
    batches = 1 if world.spec.layout == "named" else 2  # one per collection
    assert sorted(counting.calls) == sorted(["query_points_groups"] * 2
                                            + ["query_batch_points"] * batches)
    anchors = {r.using: r for r in recording.batched}
    assert set(anchors) == {"old", "new"}  # the adapted and the native side
    for answer in anchors.values():
        assert len(answer.points) == 6  # limit x group_size
        assert all(int(p.id) % 2 == 0 for p in answer.points)  # migrated points only


def test_blue_green_refuses_a_collection_with_other_vectors_it_would_not_carry_over():
    from qdrant_client import QdrantClient

    client = QdrantClient(":memory:")
    refused_at_create(client, r"other vectors.*\['keywords'\].*layout='named'",
                      spec_options={"layout": "collection", "new_collection": "docs_v2"},
                      sparse_vectors_config={"keywords": models.SparseVectorParams()})
    assert not client.collection_exists("docs_v2")
    assert not client.collection_exists("qdrant_drift_state")  # refused before any write


def test_blue_green_upsert_without_the_new_vector_drops_the_stale_copy(shell):
    world = build_world("collection", shell=shell)
    world.migrate([4, 5])
    client = drift(world)
    client.upsert("docs", [models.PointStruct(id=4, vector={}, payload={"edited": True})])
    assert [p.id for p in world.client.retrieve("docs_v2", [4, 5])] == [5]
    assert world.client.retrieve("docs", [4], with_payload=True)[0].payload["edited"] is True


def test_embedded_qdrant_is_recognised_through_proxies_and_a_server_client_is_not():
    # the query path hands embedded Qdrant its vectors as arrays (see queries.wire_vector);
    # apps and tools put proxies around the client (locks, timers, fault injectors)
    class Proxy:
        def __init__(self, client):
            self._client = client

    class Injector:
        def __init__(self, client):
            self.client = client

    class Forwarding:  # keeps it under another name, forwards attribute access to it
        def __init__(self, client):
            self._inner = client

        def __getattr__(self, name):
            return getattr(self._inner, name)

    embedded = QdrantClient(":memory:")
    assert is_local(embedded) and is_local(SerializedClient(embedded))
    assert is_local(Proxy(Injector(embedded))) and is_local(AsyncQdrantClient(":memory:"))
    assert is_local(Forwarding(embedded))
    assert not is_local(QdrantClient(url="http://localhost:1", check_compatibility=False)) and not is_local(object())


def test_a_background_refresh_that_keeps_failing_is_logged_once_not_every_tick(caplog):
    # a client closed under its wrapper fails the same way at every tick: one line says it
    import time

    world = build_world()
    client = DriftClient(world.client, "upgrade", refresh_interval=0.02)
    with caplog.at_level("WARNING", logger="qdrant_drift"):
        world.client.close()
        time.sleep(0.4)  # about 20 ticks
    said = [r.getMessage() for r in caplog.records if "state refresh failed" in r.getMessage()]
    assert len(said) == 1 and "logged again only if the error changes" in said[0]
    assert client._core.refresh_errors > 5  # every failure still counts
    client._stop.set()


def test_a_wrapped_embedded_client_takes_the_lock_a_backfill_on_it_takes():
    # embedded Qdrant is not thread-safe; the wrapper calls it from its own refresh thread
    # and shadow pool besides the app's threads, and a backfill's threads share the client
    raw = QdrantClient(":memory:")
    world = build_world(client=raw)
    client = DriftClient(world.client, "upgrade", refresh_interval=0)
    backfill_side = SerializedClient(raw)
    with backfill_side.lock:  # a backfill call in progress
        done = []
        caller = threading.Thread(target=lambda: done.append(client.count("docs").count))
        caller.start()
        caller.join(timeout=0.3)
        assert done == []  # the wrapped call waits for it
    caller.join(timeout=5)
    assert done == [N]
    assert client.unwrapped is raw  # the escape hatch is the app's own client
