"""Migration state, kept in Qdrant itself (a small state collection).

Every serving replica and worker reads the same record: the spec, the phase and the adapter
(its bytes split over a few points, verified by digest on load). All I/O is written once as
sans-I/O steps (see :mod:`qdrant_drift.sansio`); pure helpers decide transitions.

Checked writes. Every change to the record (phase, pause flag, adapter pointer) is a
compare-and-set on its ``revision``: read the record, apply the change (the rule is checked on
what was read), then ``upsert`` it with ``update_filter = revision is still the one read`` and
``update_mode = update_only``, then read it back. Two writers that read revision ``n`` both
send a write conditioned on ``n``; Qdrant applies the updates of a shard one at a time (each
request is checked against the point as it stands when it is applied), so the first moves the
record to ``n + 1`` and the second's filter no longer matches: it is dropped, not applied over
the first. Embedded (local) mode checks the filter and applies the point inside one call; it
is not thread-safe, so threads sharing one local client must serialise calls (the backfill's
``SerializedClient`` does), which gives the same one-request-at-a-time order. The write
returns no "matched" count, so the verifying read decides: each write appends history
entries carrying a fresh ``write`` id; if the record read back lists ours, the change is in
(even when another writer has moved the record on since); if not, it lost the race and is
re-applied to the fresh record, which re-checks the rule (a cut-over that lost to a rollback
is then refused as illegal, not replayed over it). After ``ATTEMPTS`` lost races the command
is refused with a clear error. Nothing is ever written back blind.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from qdrant_client.http import models

from ..errors import StateError, did_you_mean, there_are
from ..migration.phases import TERMINAL, Phase, check_transition
from ..serving.router import RoutingState
from ..sansio import Steps, call
from .collection import STATE_COLLECTION, point_id
from ..migration.layouts import coverage, layout_of
from ..migration.spec import MigrationSpec

ATTEMPTS = 50  # lost races before a change is refused


@dataclass
class MigrationRecord:
    """The migration as stored: spec, phase, adapter reference, history, revision, and the
    legacy vector's distance as read from the collection at create (the new vector gets the
    same; serving orients scores by it). None: a record from before it was kept, when only
    Cosine and Dot could be migrated (both similarities)."""

    spec: MigrationSpec
    phase: Phase
    adapter_digest: str | None = None
    adapter_chunks: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    backfill_paused: bool = False
    revision: int = 0
    distance: str | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "record": "migration",
            "name": self.spec.name,
            "collection": self.spec.collection,
            "spec": self.spec.to_dict(),
            "phase": self.phase.value,
            "adapter_digest": self.adapter_digest,
            "adapter_chunks": self.adapter_chunks,
            "history": self.history,
            "backfill_paused": self.backfill_paused,
            "revision": self.revision,
            "distance": self.distance,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "MigrationRecord":
        try:
            return cls(
                spec=MigrationSpec.from_dict(payload["spec"]),
                phase=Phase(payload["phase"]),
                adapter_digest=payload.get("adapter_digest"),
                adapter_chunks=int(payload.get("adapter_chunks") or 0),
                history=list(payload.get("history") or []),
                backfill_paused=bool(payload.get("backfill_paused", False)),
                revision=int(payload.get("revision") or 0),
                distance=payload.get("distance"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"migration record is malformed: {exc!r}") from exc

    def phase_changes(self) -> list[dict[str, Any]]:
        """The history entries that moved the phase, oldest first."""
        return [entry for entry in self.history if "to" in entry]


# A change mutates the fresh record it is given and returns the history entries that say
# what it did (none: nothing to write); it raises (a rule refused) to leave the record as is.
Change = Callable[[MigrationRecord], list[dict[str, Any]]]


def load_record(name: str, state_collection: str = STATE_COLLECTION) -> Steps[MigrationRecord | None]:
    exists = yield call("collection_exists", state_collection)
    if not exists:
        return None
    points = yield call("retrieve", state_collection, [point_id("migration", name)],
                        with_payload=True, with_vectors=False)
    if not points:
        return None
    return MigrationRecord.from_payload(points[0].payload or {})


def unknown_migration_note(name: str, state_collection: str = STATE_COLLECTION
                           ) -> Steps[str]:
    """For an error naming a migration that has no record: the closest name there is, else
    the migrations there are (a wrapper given a mistyped name says so at its first call)."""
    names: list[str] = []
    exists = yield call("collection_exists", state_collection)
    if exists:
        records, _ = yield call("scroll", state_collection, scroll_filter=models.Filter(must=[
            models.FieldCondition(key="record", match=models.MatchValue(value="migration"))]),
            limit=1000, with_payload=["name"], with_vectors=False)
        names = [str((r.payload or {}).get("name")) for r in records]
    return did_you_mean(name, names, show=repr) or there_are("migrations", names)


def require_record(name: str, state_collection: str = STATE_COLLECTION) -> Steps[MigrationRecord]:
    """The record, or the one-line error that says what to run first."""
    record = yield from load_record(name, state_collection)
    if record is None:
        raise StateError(f"migration {name!r} has not been fitted yet: run "
                         "`qdrant-drift fit` first")
    return record


def _at_revision(revision: int) -> models.Filter:
    field_ = "revision"
    if revision == 0:  # a record written before revisions existed has none
        return models.Filter(should=[
            models.IsEmptyCondition(is_empty=models.PayloadField(key=field_)),
            models.FieldCondition(key=field_, match=models.MatchValue(value=0)),
        ])
    return models.Filter(must=[models.FieldCondition(key=field_,
                                                     match=models.MatchValue(value=revision))])


def write_record(record: MigrationRecord, entries: list[dict[str, Any]], *,
                 expected: int | None, state_collection: str = STATE_COLLECTION) -> Steps[bool]:
    """One compare-and-set: write ``record`` (with ``entries`` appended to its history) only
    if the stored record is still at revision ``expected`` (``None``: only if there is no
    record yet). True when the verifying read shows the write went in."""
    write = uuid.uuid4().hex
    now = time.time()
    record.revision = (expected or 0) + 1
    record.history.extend({**entry, "at": now, "revision": record.revision, "write": write}
                          for entry in entries)
    point = models.PointStruct(id=point_id("migration", record.spec.name), vector={},
                               payload=record.payload())
    if expected is None:
        yield call("upsert", state_collection, [point],
                   update_mode=models.UpdateMode.INSERT_ONLY)
    else:
        yield call("upsert", state_collection, [point], update_filter=_at_revision(expected),
                   update_mode=models.UpdateMode.UPDATE_ONLY)
    stored = yield from load_record(record.spec.name, state_collection)
    return stored is not None and any(e.get("write") == write for e in stored.history)


def update_record(name: str, change: Change, state_collection: str = STATE_COLLECTION, *,
                  attempts: int = ATTEMPTS) -> Steps[MigrationRecord]:
    """Apply ``change`` to the stored record as a checked write, retried on a lost race."""
    for _ in range(attempts):
        record = yield from require_record(name, state_collection)
        expected = record.revision
        entries = change(record)
        if not entries:  # nothing to change
            return record
        won = yield from write_record(record, entries, expected=expected,
                                      state_collection=state_collection)
        if won:
            return record
    raise StateError(f"migration {name!r} kept changing while this command ran ({attempts} "
                     "attempts lost to other writers): run it again")


def phase_change(*targets: Phase) -> Change:
    """Move through ``targets`` in order, each a legal move from the one before."""
    def change(record: MigrationRecord) -> list[dict[str, Any]]:
        entries = []
        for target in targets:
            check_transition(record.phase, target)
            entries.append({"from": record.phase.value, "to": target.value})
            record.phase = target
        return entries

    return change


def abandon_steps(name: str, state_collection: str = STATE_COLLECTION, *,
                  why: str | None = None) -> Steps[MigrationRecord]:
    """End the migration without cut-over: the record says ``abandoned`` first (replicas
    stop routing, workers stop, a new migration of the collection may start), then the
    alias goes back to the legacy collection and the new side is dropped. A second run
    completes a first one that failed half-way; ``why`` is kept in the history."""
    record = yield from require_record(name, state_collection)
    if record.phase is not Phase.ABANDONED:
        def change(record: MigrationRecord) -> list[dict[str, Any]]:
            entries = phase_change(Phase.ABANDONED)(record)
            return [{**entries[0], "why": why}] if why else entries
        record = yield from update_record(name, change, state_collection)
    layout = layout_of(record.spec)
    yield from layout.alias_steps(serve_new=False)
    yield from layout.drop_new_steps()
    return record


def pause_change(paused: bool) -> Change:
    def change(record: MigrationRecord) -> list[dict[str, Any]]:
        record.backfill_paused = paused
        return [{"paused": paused}]

    return change


def transition(
    name: str, target: Phase, state_collection: str = STATE_COLLECTION
) -> Steps[MigrationRecord]:
    """Move the migration to ``target`` (illegal moves raise :class:`StateError`)."""
    return (yield from update_record(name, phase_change(target), state_collection))


def count_migrated(spec: MigrationSpec) -> Steps[tuple[int, int]]:
    """Exact (points with a new-model vector, all points), counted as the layout says."""
    return (yield from layout_of(spec).count_steps())


def read_coverage(spec: MigrationSpec) -> Steps[float]:
    """Exact share of points that have a new-model vector."""
    return coverage(*(yield from count_migrated(spec)))


def read_routing_state(
    name: str, state_collection: str = STATE_COLLECTION
) -> Steps[tuple[RoutingState, MigrationRecord | None]]:
    record = yield from load_record(name, state_collection)
    if record is None:
        return RoutingState(healthy=False), None
    if record.phase in TERMINAL:  # one side is gone (or going): nothing to count
        return RoutingState(phase=record.phase,
                            coverage=1.0 if record.phase is Phase.FINISHED else 0.0), record
    share = yield from read_coverage(record.spec)
    return RoutingState(phase=record.phase, coverage=share), record
