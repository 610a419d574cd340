"""The backfill's records in the state collection (sans-I/O steps).

Leases (one per partition: owner, heartbeat, checkpoint), workers (heartbeat, what each did),
dead letters (items that cannot be embedded, with the reason) and progress samples (the
migrated count over time, for throughput, ETA and the report plot). All of it lives next to
the migration record, so every worker, replica and CLI reads the same numbers.
"""

from __future__ import annotations

import time
from typing import AbstractSet, Any, Iterable

from qdrant_client.http import models

from ..lifecycle.progress import Sample, WorkerStatus
from ..sansio import Steps, call
from .collection import STATE_COLLECTION, point_id
from ..backfill.partitions import Lease

MAX_SAMPLES = 2000  # per migration: about a day at one sample every 45 s


def _record(kind: str, name: str, pid: str, **payload: Any) -> models.PointStruct:
    return models.PointStruct(id=pid, vector={},
                              payload={"record": kind, "name": name, **payload})


def _selector(kind: str | tuple[str, ...], name: str) -> models.Filter:
    """The records of one migration of a kind (or of any of several kinds)."""
    match = (models.MatchValue(value=kind) if isinstance(kind, str)
             else models.MatchAny(any=list(kind)))
    return models.Filter(must=[
        models.FieldCondition(key="record", match=match),
        models.FieldCondition(key="name", match=models.MatchValue(value=name)),
    ])


def _scroll_all(state_collection: str, selector: models.Filter,
                page: int = 1000) -> Steps[list[models.Record]]:
    records: list[models.Record] = []
    offset = None
    while True:
        batch, offset = yield call("scroll", state_collection, scroll_filter=selector,
                                   limit=page, offset=offset, with_payload=True,
                                   with_vectors=False)
        records.extend(batch)
        if offset is None:
            return records


def lease_id(name: str, partition: int, partitions: int) -> str:
    return point_id("lease", name, f"{partition}/{partitions}")


def read_leases(name: str, partitions: int,
                state_collection: str = STATE_COLLECTION) -> Steps[dict[int, Lease]]:
    ids = [lease_id(name, k, partitions) for k in range(partitions)]
    found = yield call("retrieve", state_collection, ids, with_payload=True, with_vectors=False)
    leases = {k: Lease(partition=k) for k in range(partitions)}
    for record in found:
        lease = Lease.from_payload(record.payload or {})
        leases[lease.partition] = lease
    return leases


def write_leases(name: str, partitions: int, leases: Iterable[Lease],
                 state_collection: str = STATE_COLLECTION) -> Steps[None]:
    points = [_record("lease", name, lease_id(name, lease.partition, partitions),
                      partitions=partitions, **lease.to_payload()) for lease in leases]
    if points:
        yield call("upsert", state_collection, points)


def claim_leases(name: str, partitions: int, claims: Iterable[tuple[Lease, Lease]],
                 state_collection: str = STATE_COLLECTION) -> Steps[dict[int, Lease]]:
    """Compare-and-set each ``(as read, as claimed)`` pair: the claim is written only if the
    lease's owner and heartbeat are still as read (a lease never stored is created unowned
    first). Returns the leases as stored afterwards: the claims that won carry our owner."""
    pairs = list(claims)
    missing = [_record("lease", name, lease_id(name, seen.partition, partitions),
                       partitions=partitions, **seen.to_payload())
               for seen, _ in pairs if seen.owner is None and seen.heartbeat == 0.0]
    if missing:  # insert-only: never resets a lease another worker just claimed
        yield call("upsert", state_collection, missing, update_mode=models.UpdateMode.INSERT_ONLY)
    for seen, wanted in pairs:
        owner = (models.IsNullCondition(is_null=models.PayloadField(key="owner"))
                 if seen.owner is None else
                 models.FieldCondition(key="owner", match=models.MatchValue(value=seen.owner)))
        as_read = models.Filter(must=[
            models.HasIdCondition(has_id=[lease_id(name, seen.partition, partitions)]), owner,
            models.FieldCondition(key="heartbeat", range=models.Range(gte=seen.heartbeat,
                                                                      lte=seen.heartbeat))])
        yield call("set_payload", state_collection, payload=wanted.to_payload(),
                   points=models.FilterSelector(filter=as_read))
    return (yield from read_leases(name, partitions, state_collection))


def write_worker(name: str, status: WorkerStatus,
                 state_collection: str = STATE_COLLECTION) -> Steps[None]:
    yield call("upsert", state_collection, [_record(
        "worker", name, point_id("worker", name, status.worker), worker=status.worker,
        partitions=list(status.partitions), heartbeat=time.time(),
        processed=status.processed, state=status.state,
    )])


def read_workers(name: str, *, timeout: float, state_collection: str = STATE_COLLECTION,
                 running_here: AbstractSet[str] | None = None) -> Steps[list[WorkerStatus]]:
    """Every worker's last report; alive = running and heard from within ``timeout``, and,
    on embedded Qdrant, one of the engines this process runs (``running_here``: see
    :func:`qdrant_drift.backfill.control.engines_running_here`)."""
    now = time.time()
    records = yield from _scroll_all(state_collection, _selector("worker", name))
    statuses = []
    for record in records:
        p = record.payload or {}
        age = max(0.0, now - float(p.get("heartbeat", 0.0)))
        statuses.append(WorkerStatus(
            worker=p["worker"], partitions=tuple(p.get("partitions") or ()),
            alive=(p.get("state") in ("starting", "running", "paused") and age <= timeout
                   and (running_here is None or p["worker"] in running_here)),
            heartbeat_age_s=age, processed=int(p.get("processed") or 0),
            state=p.get("state", "running"),
        ))
    return sorted(statuses, key=lambda s: s.worker)


def add_dead_letters(name: str, items: Iterable[tuple[Any, str]],
                     state_collection: str = STATE_COLLECTION) -> Steps[int]:
    now = time.time()
    points = [_record("dead_letter", name, point_id("dead", name, str(pid)),
                      point_id=pid, reason=reason, at=now) for pid, reason in items]
    if points:
        yield call("upsert", state_collection, points)
    return len(points)


def read_dead_letters(name: str, state_collection: str = STATE_COLLECTION
                      ) -> Steps[list[dict[str, Any]]]:
    records = yield from _scroll_all(state_collection, _selector("dead_letter", name))
    return [{"point_id": r.payload["point_id"], "reason": r.payload.get("reason"),
             "at": r.payload.get("at")} for r in records if r.payload]


def requeue_dead_letters(name: str, state_collection: str = STATE_COLLECTION) -> Steps[int]:
    """Forget the dead letters and reopen every partition, so workers try those items again."""
    dead = yield from _scroll_all(state_collection, _selector("dead_letter", name))
    if dead:
        yield call("delete", state_collection,
                   points_selector=models.PointIdsList(points=[r.id for r in dead]))
    leases = yield from _scroll_all(state_collection, _selector("lease", name))
    reopened = []
    for record in leases:
        payload = dict(record.payload or {})
        if payload.get("done"):
            payload.update(done=False, cursor=None)
            reopened.append(models.PointStruct(id=record.id, vector={}, payload=payload))
    if reopened:
        yield call("upsert", state_collection, reopened)
    return len(dead)


# what one run of the backfill leaves behind, none of it meaningful once its new side is gone
RUN_RECORDS = ("lease", "worker", "dead_letter", "sample")


def forget_run_steps(name: str, state_collection: str = STATE_COLLECTION) -> Steps[None]:
    """Delete an abandoned run's leases, workers, dead letters and progress samples, so a
    migration fitted again under the same name starts clean: an old dead letter would keep
    its point from ever being tried again, an old lease's checkpoint would skip points, and
    status would count both. (The hot items stay: what queries hit is still hot.)"""
    yield call("delete", state_collection,
               points_selector=models.FilterSelector(filter=_selector(RUN_RECORDS, name)))


def write_sample(name: str, worker: str, sample: Sample,
                 state_collection: str = STATE_COLLECTION) -> Steps[None]:
    yield call("upsert", state_collection, [_record(
        "sample", name, point_id("sample", name, worker, f"{sample.at:.3f}"),
        at=sample.at, migrated=sample.migrated, total=sample.total,
        writes_begin=sample.writes_begin,
    )])


def read_samples(name: str, state_collection: str = STATE_COLLECTION) -> Steps[list[Sample]]:
    records = yield from _scroll_all(state_collection, _selector("sample", name))
    samples = sorted((Sample(at=float(r.payload["at"]), migrated=int(r.payload["migrated"]),
                             total=int(r.payload["total"]),
                             writes_begin=bool(r.payload.get("writes_begin", False)))
                      for r in records if r.payload), key=lambda s: s.at)
    if len(samples) > MAX_SAMPLES:  # prune the oldest so the state stays small
        stale = sorted(records, key=lambda r: float(r.payload["at"]))[: len(samples) - MAX_SAMPLES]
        yield call("delete", state_collection,
                   points_selector=models.PointIdsList(points=[r.id for r in stale]))
        samples = samples[-MAX_SAMPLES:]
    return samples
