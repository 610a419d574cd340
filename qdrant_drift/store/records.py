"""Migration state, kept in Qdrant itself (a small state collection).

Every serving replica and worker reads the same record: the spec, the phase and the adapter
(its bytes split over a few points, verified by digest on load). All I/O is written once as
sans-I/O steps (see :mod:`qdrant_drift.sansio`); pure helpers decide transitions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from qdrant_client.http import models

from ..errors import StateError
from ..migration.phases import Phase, check_transition
from ..serving.router import RoutingState
from ..sansio import Gather, Steps, call
from .collection import STATE_COLLECTION, point_id
from ..migration.spec import MigrationSpec


@dataclass
class MigrationRecord:
    """The migration as stored: spec, phase, adapter reference, history."""

    spec: MigrationSpec
    phase: Phase
    adapter_digest: str | None = None
    adapter_chunks: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    backfill_paused: bool = False

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
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"migration record is malformed: {exc!r}") from exc


def load_record(name: str, state_collection: str = STATE_COLLECTION) -> Steps[MigrationRecord | None]:
    exists = yield call("collection_exists", state_collection)
    if not exists:
        return None
    points = yield call("retrieve", state_collection, [point_id("migration", name)],
                        with_payload=True, with_vectors=False)
    if not points:
        return None
    return MigrationRecord.from_payload(points[0].payload or {})


def save_record(record: MigrationRecord, state_collection: str = STATE_COLLECTION) -> Steps[None]:
    yield call("upsert", state_collection, [
        models.PointStruct(id=point_id("migration", record.spec.name), vector={},
                           payload=record.payload())
    ])


def transition(
    name: str, target: Phase, state_collection: str = STATE_COLLECTION
) -> Steps[MigrationRecord]:
    record = yield from load_record(name, state_collection)
    if record is None:
        raise StateError(f"no migration named {name!r} in {state_collection!r}")
    check_transition(record.phase, target)
    record.history.append({"from": record.phase.value, "to": target.value, "at": time.time()})
    record.phase = target
    yield from save_record(record, state_collection)
    return record


def migrated_filter(spec: MigrationSpec) -> models.Filter:
    """Points that already have the new vector (named layout)."""
    return models.Filter(must=[models.HasVectorCondition(has_vector=spec.new_vector)])


def count_migrated(spec: MigrationSpec) -> Steps[tuple[int, int]]:
    """Exact (points with a new-model vector, all points)."""
    if spec.layout == "named":
        migrated, total = yield Gather((
            call("count", spec.collection, count_filter=migrated_filter(spec), exact=True),
            call("count", spec.collection, exact=True),
        ))
    else:
        migrated, total = yield Gather((
            call("count", spec.native_collection, exact=True),
            call("count", spec.collection, exact=True),
        ))
    return migrated.count, total.count


def read_coverage(spec: MigrationSpec) -> Steps[float]:
    """Exact share of points that have a new-model vector."""
    migrated, total = yield from count_migrated(spec)
    return min(1.0, migrated / total) if total else 1.0


def read_routing_state(
    name: str, state_collection: str = STATE_COLLECTION
) -> Steps[tuple[RoutingState, MigrationRecord | None]]:
    record = yield from load_record(name, state_collection)
    if record is None:
        return RoutingState(healthy=False), None
    coverage = yield from read_coverage(record.spec)
    return RoutingState(phase=record.phase, coverage=coverage), record
