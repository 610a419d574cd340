"""The serving fleet follows what the operator stored, reports what it serves, and survives a
corrupt stored adapter."""

from __future__ import annotations

import pytest
from qdrant_client.http import models

from qdrant_drift import DriftClient, DriftError, Phase, Plan, StateError, fit
from qdrant_drift.lifecycle.commands import cutover, rollback, set_phase
from qdrant_drift.lifecycle.facade import progress_steps
from qdrant_drift.sansio import drive
from qdrant_drift.serving.router import ByCoverage, ByPhase, Router, RouterSettings
from qdrant_drift.store.adapters import store_adapter
from qdrant_drift.store.collection import STATE_COLLECTION, point_id
from qdrant_drift.store.fleet import save_settings_steps
from qdrant_drift.store.records import load_record

from .serving_fixtures import N, build_world


@pytest.fixture
def world():
    world = build_world("named")
    set_phase(world.client, "upgrade", Phase.BACKFILLING)
    world.migrate(range(0, N, 2))  # half the points have the new vector
    return world


def store(world, **settings) -> None:
    drive(save_settings_steps("upgrade", RouterSettings(**settings)), world.client)


def test_wrapped_clients_follow_the_router_settings_the_operator_stored(world):
    client = DriftClient(world.client, "upgrade", refresh_interval=0)
    assert client.plan is Plan.HYBRID  # defaults: hybrid as soon as points are migrated
    store(world, native_at=0.4, refresh_interval=7.0, shadow_rate=0.25)
    assert client.refresh() is Plan.NATIVE  # 50% >= native_at
    assert client._core.shadow.rate == 0.25
    follower = DriftClient(world.client, "upgrade")
    try:
        assert follower._interval == 7.0 and follower.plan is Plan.NATIVE
    finally:
        follower.close()


def test_what_an_app_pins_itself_wins_over_the_stored_settings(world):
    store(world, native_at=0.4, refresh_interval=7.0, shadow_rate=0.25)
    pinned = DriftClient(world.client, "upgrade", refresh_interval=0, shadow_rate=0.0,
                         router=Router([ByPhase(), ByCoverage(min_hybrid_coverage=0.9)]))
    assert pinned.plan is Plan.ADAPTED and pinned._interval == 0
    assert pinned._core.shadow.rate == 0.0


def test_status_shows_the_plan_the_fleet_follows_and_what_replicas_report(world):
    store(world, native_at=0.4)
    client = DriftClient(world.client, "upgrade", refresh_interval=0)
    drive(client._core.background_steps(), world.client)  # one tick of the refresh loop
    progress = drive(progress_steps("upgrade"), world.client)
    assert progress.plan == "native"
    assert progress.served == {"native": 1}
    assert progress.router_settings["native_at"] == 0.4


def corrupt_the_stored_adapter(world) -> None:
    record = drive(load_record("upgrade"), world.client)
    world.client.set_payload(STATE_COLLECTION, {"data": "AAAA"}, points=[
        point_id("adapter", "upgrade", record.adapter_digest, "0")])


def test_a_corrupt_stored_adapter_does_not_take_native_serving_down(world):
    world.migrate(range(N))
    cutover(world.client, "upgrade")
    corrupt_the_stored_adapter(world)
    client = DriftClient(world.client, "upgrade", refresh_interval=0)  # no error
    assert client.plan is Plan.NATIVE
    assert len(client.query_points("docs", query=world.new[3], using="new", limit=4).points) == 4


def test_before_cut_over_a_corrupt_adapter_is_one_clear_error_that_names_the_repair(world):
    corrupt_the_stored_adapter(world)
    client = DriftClient(world.client, "upgrade", refresh_interval=0)
    with pytest.raises(DriftError, match="stored adapter cannot be read.*qdrant-drift fit"):
        client.query_points("docs", query=world.new[3], using="new", limit=4)
    # queries that need no adapter still work
    assert client.count("docs").count == N


def test_a_replica_keeps_its_last_good_adapter_when_a_newly_stored_one_is_corrupt(world):
    client = DriftClient(world.client, "upgrade", refresh_interval=0)
    before = client.query_points("docs", query=world.new[3], using="new", limit=4)
    refitted = fit("procrustes", world.new[40:240], world.old[40:240], new_model="new-m",
                   old_model="old-m")
    drive(store_adapter("upgrade", refitted), world.client)
    corrupt_the_stored_adapter(world)
    client.refresh()
    after = client.query_points("docs", query=world.new[3], using="new", limit=4)
    assert [p.id for p in after.points] == [p.id for p in before.points]


def test_status_reports_a_corrupt_adapter_instead_of_refusing(world):
    corrupt_the_stored_adapter(world)
    progress = drive(progress_steps("upgrade"), world.client)
    assert progress.migrated == N // 2
    assert "qdrant-drift fit" in progress.adapter_problem
    assert progress.predicted_recovery is None


def test_rollback_to_a_corrupt_adapter_is_refused_until_a_new_one_is_stored(world):
    world.migrate(range(N))
    cutover(world.client, "upgrade")
    corrupt_the_stored_adapter(world)
    with pytest.raises(StateError, match="rollback refused.*run `qdrant-drift fit`"):
        rollback(world.client, "upgrade")
    assert drive(load_record("upgrade"), world.client).phase is Phase.CUT_OVER  # unchanged
    drive(store_adapter("upgrade", fit("procrustes", world.new[40:240], world.old[40:240],
                                       new_model="new-m", old_model="old-m")), world.client)
    assert rollback(world.client, "upgrade").phase is Phase.ROLLED_BACK


def test_settings_round_trip_and_ignore_unknown_keys():
    settings = RouterSettings(min_hybrid_coverage=0.1, native_at=0.9, refresh_interval=3.0,
                              shadow_rate=0.05)
    assert RouterSettings.from_dict({**settings.to_dict(), "future_key": 1}) == settings


def test_settings_reach_the_state_collection_as_one_record(world):
    store(world, native_at=0.4)
    store(world, native_at=0.6)
    records = world.client.scroll(STATE_COLLECTION, scroll_filter=models.Filter(must=[
        models.FieldCondition(key="record", match=models.MatchValue(value="router"))]))[0]
    assert [r.payload["settings"]["native_at"] for r in records] == [0.6]


def test_start_stores_the_files_router_settings_and_status_flags_a_file_that_differs(tmp_path):
    from qdrant_client import QdrantClient
    from qdrant_drift.cli.lifecycle import status_table
    from qdrant_drift.lifecycle.facade import Migration

    from .backfill_fixtures import build_legacy_collection
    from .test_lifecycle import migration_file

    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    path = migration_file(tmp_path, extra="[router]\nnative_at = 0.5\nrefresh_interval = 3.0\n")
    migration = Migration(client, path)
    migration.fit()
    migration.start()
    app_client = DriftClient(client, "docs-v2", refresh_interval=0)
    assert app_client._core.settings == migration.file.router.settings()
    changed = Migration(client, migration_file(tmp_path, name="docs-v2",
                                               extra="[router]\nnative_at = 0.8\n"))
    table = status_table(changed.progress(), changed.file.router.settings().to_dict())
    rendered = " ".join(str(cell) for column in table.columns for cell in column._cells)
    assert "run `qdrant-drift start` to apply it" in rendered
