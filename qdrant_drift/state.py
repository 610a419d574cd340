"""Migration state, kept in Qdrant itself (a small state collection).

Every serving replica and worker reads the same record: the spec, the phase and the adapter
(its bytes split over a few points, verified by digest on load). All I/O is written once as
sans-I/O steps (see :mod:`qdrant_drift.sansio`); pure helpers decide transitions.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from qdrant_client.http import models

from .adapters import Adapter, adapter_from_bytes, adapter_to_bytes
from .errors import DriftError
from .router import Phase, RoutingState
from .sansio import Gather, Steps, call
from .spec import MigrationSpec

STATE_COLLECTION = "qdrant_drift_state"
CHUNK_BYTES = 1 << 20  # adapter bytes per state point (base64 adds a third)
_NAMESPACE = uuid.UUID("5b0f6a3e-2f7c-4d0e-9a53-8d2f0c1e7a10")

ALLOWED: dict[Phase, frozenset[Phase]] = {
    Phase.PLANNED: frozenset({Phase.FITTED, Phase.ROLLED_BACK}),
    Phase.FITTED: frozenset({Phase.SERVING_ADAPTED, Phase.ROLLED_BACK}),
    Phase.SERVING_ADAPTED: frozenset({Phase.BACKFILLING, Phase.ROLLED_BACK}),
    Phase.BACKFILLING: frozenset({Phase.CUT_OVER, Phase.ROLLED_BACK}),
    Phase.CUT_OVER: frozenset({Phase.FINISHED, Phase.BACKFILLING, Phase.ROLLED_BACK}),
    Phase.ROLLED_BACK: frozenset({Phase.SERVING_ADAPTED, Phase.BACKFILLING}),
    Phase.FINISHED: frozenset(),
}
ACTIVE = frozenset(Phase) - {Phase.FINISHED, Phase.ROLLED_BACK}


class StateError(DriftError):
    """The migration state is missing, inconsistent, or a transition is not allowed."""


def check_transition(current: Phase, target: Phase) -> None:
    if target not in ALLOWED[current]:
        allowed = ", ".join(sorted(p.value for p in ALLOWED[current])) or "nothing"
        raise StateError(
            f"cannot go from {current.value!r} to {target.value!r}; allowed: {allowed}"
        )


def point_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join(parts)))


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


def ensure_state_collection(state_collection: str = STATE_COLLECTION) -> Steps[None]:
    exists = yield call("collection_exists", state_collection)
    if not exists:
        yield call("create_collection", state_collection, vectors_config={})


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


def store_adapter(
    record: MigrationRecord, adapter: Adapter, state_collection: str = STATE_COLLECTION
) -> Steps[None]:
    """Write the adapter's bytes in chunks, then point the record at them (in that order, so a
    reader never sees a record whose adapter is half written)."""
    data = adapter_to_bytes(adapter)
    digest = hashlib.sha256(data).hexdigest()
    chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
    points = [
        models.PointStruct(
            id=point_id("adapter", record.spec.name, digest, str(i)), vector={},
            payload={"record": "adapter_chunk", "name": record.spec.name, "digest": digest,
                     "index": i, "data": base64.b64encode(chunk).decode("ascii")},
        )
        for i, chunk in enumerate(chunks)
    ]
    for start in range(0, len(points), 8):
        yield call("upsert", state_collection, points[start : start + 8])
    record.adapter_digest, record.adapter_chunks = digest, len(chunks)
    yield from save_record(record, state_collection)


def load_stored_adapter(
    record: MigrationRecord, state_collection: str = STATE_COLLECTION
) -> Steps[Adapter]:
    if not record.adapter_digest:
        raise StateError(f"migration {record.spec.name!r} has no adapter yet")
    ids = [point_id("adapter", record.spec.name, record.adapter_digest, str(i))
           for i in range(record.adapter_chunks)]
    points = yield call("retrieve", state_collection, ids, with_payload=True, with_vectors=False)
    by_index = {p.payload["index"]: p.payload["data"] for p in points if p.payload}
    if len(by_index) != record.adapter_chunks:
        raise StateError(
            f"adapter of {record.spec.name!r}: {len(by_index)} of {record.adapter_chunks} "
            "chunks found in the state collection"
        )
    data = b"".join(base64.b64decode(by_index[i]) for i in range(record.adapter_chunks))
    if hashlib.sha256(data).hexdigest() != record.adapter_digest:
        raise StateError(f"adapter of {record.spec.name!r} fails its digest: state is corrupt")
    return adapter_from_bytes(data)


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
