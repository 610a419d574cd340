"""Where backfilled vectors go, per layout, written so that they never clobber or resurrect.

Named layout: ``update_vectors`` on the collection with an ``update_filter`` that is a
compare-and-set per point: the point must still lack the new vector (else the app wrote a
fresher one) and its version must still be the one that was embedded (else the content
changed: re-embed). ``update_vectors`` never creates points, so a delete racing the backfill
stays deleted.

Collection layout (blue-green): an upsert into the new collection whose ``update_filter``
inserts a missing point and replaces only a copy the backfill made itself (stamped
``by backfill``), never one the app wrote through the wrapper; then a read of the legacy
point: gone -> remove our copy (the app deleted it meanwhile; its delete reaches the legacy
collection first), changed -> remove our copy and re-embed, unchanged -> mark the legacy
point migrated. Replacing our own copies is what keeps an app that is not wrapped right: its
plain upsert of a changed point drops the legacy point's marker, so the point is swept again
and the stale copy is replaced (an insert-only write would keep the stale copy and mark the
point migrated). Its plain deletes and payload edits reach the legacy collection only:
:meth:`tidy_steps` removes the copies whose legacy point is gone and unmarks the points whose
payload no longer matches their copy's (to be copied again), each time the backfill runs out
of work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from qdrant_client.http import models

from ..migration.layouts import (
    BACKFILL_COPIES,
    BY_BACKFILL,
    MIGRATED_MARKER,
    STAMP_KEY,
    BlueGreenLayout,
    Layout,
    NamedLayout,
    copied_content,
    layout_of,
    marker,
    stamp,
)
from ..errors import QdrantFault, classify
from ..sansio import Steps, call
from ..migration.spec import MigrationSpec
from .content import ContentSource, Item


@dataclass
class Outcome:
    """Per batch: which ids now have the new vector, which must be re-embedded, which vanished."""

    migrated: list[Any] = field(default_factory=list)
    redo: list[Any] = field(default_factory=list)
    gone: list[Any] = field(default_factory=list)


def _ids(ids: Sequence[Any]) -> models.HasIdCondition:
    return models.HasIdCondition(has_id=list(ids))


def _same_version(source: ContentSource, item: Item) -> list[models.Condition]:
    key = source.version_key
    if key is None or item.version is None:
        return [_ids([item.id])]
    return [_ids([item.id]), models.FieldCondition(
        key=key, match=models.MatchValue(value=item.version))]


EMBEDDED_REQUEST_POINTS = 16
"""Points per compare-and-set request on embedded Qdrant. It checks each point of a request
against each of the filter's per-point clauses, and keeps the id lists of only its last 32
``has_id`` conditions ready: a request of more than 32 points rebuilds them for every check.
Measured (2,000 points, batches of 64): 0.31 s for the compare-and-sets in requests of 64,
0.21 s of 32, 0.13 s of 16, 0.12 s of 8. A server indexes ids: one request per batch there."""


class Target:
    """How the backfill writes one layout (the layout says what "migrated" means).
    ``request_points``: the most points a compare-and-set request carries (None: no limit;
    :func:`target_for` sets it for embedded Qdrant)."""

    def __init__(self, layout: Layout, source: ContentSource, *,
                 request_points: int | None = None) -> None:
        self.layout, self.spec, self.source = layout, layout.spec, source
        self.request_points = request_points

    def _request_size(self, items: Sequence[Any], chunk: int | None) -> int:
        """Points per compare-and-set request: ``chunk`` and :attr:`request_points`, the
        smaller one, else all of them."""
        return min([n for n in (chunk, self.request_points) if n] or [max(1, len(items))])

    def unmigrated(self) -> models.Filter:
        return self.layout.unmigrated_filter()

    def payload_selector(self) -> Any:
        raise NotImplementedError

    def write_steps(self, items: Sequence[Item], vectors: np.ndarray, *,
                    chunk: int | None = None) -> Steps[Outcome]:
        """Write ``items`` (rows of ``vectors``) conditionally; what landed, what to redo.

        ``chunk``: the compare-and-set goes out in requests of at most that many points (None:
        one request). A write of several batches (the Ray driver's write group) keeps each
        request's filter one batch long: a point's condition is one clause of that filter,
        and the filter is checked per point, so a request of k points costs k x k clause
        checks (embedded Qdrant: 15 ms for 64 points, 200 ms for 256, measured); g requests
        of one batch cost what g separate writes' requests do. The checks of what landed and
        the stamp stay one request for the whole write, which is what a bigger write saves
        (each scans the collection in embedded Qdrant)."""
        raise NotImplementedError

    def fetch_steps(self, ids: Sequence[Any]) -> Steps[list[models.Record]]:
        """The given points that still lack the new vector, with what the source needs.
        (``retrieve`` by id, not a filtered scroll: it does not scan the collection.)"""
        if not ids:
            return []
        records = yield call("retrieve", self.spec.collection, list(ids),
                             with_payload=self.fetch_payload(),
                             with_vectors=self.fetch_vectors())
        return [r for r in records if not self.is_migrated(r)]

    def fetch_payload(self) -> Any:
        return self.payload_selector()

    def fetch_vectors(self) -> Any:
        return self.layout.record_vectors()

    def is_migrated(self, record: models.Record) -> bool:
        return self.layout.is_migrated(record)

    def tidy_steps(self, *, payloads: bool = True) -> Steps[int]:
        """Catch up what the backfill copied with a plain client's deletes and payload edits
        since (how many points; see the layout's ``tidy_steps``)."""
        return (yield from self.layout.tidy_steps(payloads=payloads))


class NamedTarget(Target):
    def payload_selector(self) -> Any:
        return self.source.payload_keys() or False

    def write_steps(self, items: Sequence[Item], vectors: np.ndarray, *,
                    chunk: int | None = None) -> Steps[Outcome]:
        spec = self.spec
        ids = [item.id for item in items]
        step = self._request_size(items, chunk)
        for first in range(0, len(items), step):  # a compare-and-set per point, per chunk
            yield from self._compare_and_set(items[first:first + step],
                                             vectors[first:first + step])
        now = yield call("retrieve", spec.collection, ids, with_payload=False,
                         with_vectors=self.layout.record_vectors())
        present = {r.id for r in now}
        migrated = {r.id for r in now if self.is_migrated(r)}
        if migrated:
            yield call("set_payload", spec.collection,
                       payload={STAMP_KEY: stamp(spec, spec.old_model, BY_BACKFILL)},
                       points=models.FilterSelector(filter=models.Filter(must=[
                           _ids(list(migrated)),
                           models.IsEmptyCondition(is_empty=models.PayloadField(key=STAMP_KEY)),
                       ])))
        return Outcome(migrated=[i for i in ids if i in migrated],
                       redo=[i for i in ids if i in present and i not in migrated],
                       gone=[i for i in ids if i not in present])

    def _compare_and_set(self, items: Sequence[Item], vectors: np.ndarray) -> Steps[None]:
        """One ``update_vectors`` whose filter admits a point only while it still lacks the
        new vector and still holds the version that was embedded."""
        compare_and_set = models.Filter(
            must_not=[self.layout.migrated_condition()],
            should=[models.Filter(must=_same_version(self.source, item)) for item in items],
        )
        points = [models.PointVectors(id=item.id, vector=self.layout.new_vectors(row.tolist()))
                  for item, row in zip(items, vectors)]
        try:
            yield call("update_vectors", self.spec.collection, points,
                       update_filter=compare_and_set)
        except Exception as exc:  # a point deleted meanwhile: the others were written
            if classify(exc) is not QdrantFault.NOT_FOUND:
                raise


class CollectionTarget(Target):
    def payload_selector(self) -> Any:
        return True  # the whole payload is copied to the new collection

    def write_steps(self, items: Sequence[Item], vectors: np.ndarray, *,
                    chunk: int | None = None) -> Steps[Outcome]:
        # one request whatever ``chunk``: the upsert's filter is the same for every point
        spec = self.spec
        ids = [item.id for item in items]
        copies = [models.PointStruct(id=item.id, vector=self.layout.new_vectors(row.tolist()),
                                     payload={**copied_content(item.payload),
                                              STAMP_KEY: stamp(spec, spec.old_model,
                                                               BY_BACKFILL)})
                  for item, row in zip(items, vectors)]
        yield call("upsert", spec.native_collection, copies, update_filter=BACKFILL_COPIES)
        legacy = yield call("retrieve", spec.collection, ids, with_payload=True,
                            with_vectors=False)
        now = {r.id: r for r in legacy}
        outcome = Outcome()
        for item in items:
            if item.id not in now:
                outcome.gone.append(item.id)
            elif self.is_migrated(now[item.id]) or (
                    copied_content(now[item.id].payload) == copied_content(item.payload)):
                outcome.migrated.append(item.id)
            else:
                outcome.redo.append(item.id)
        # deleted meanwhile (our copy must not resurrect it) or changed meanwhile (our copy
        # is stale: re-embed): remove our copies, never a point the app wrote itself
        if outcome.gone or outcome.redo:
            yield call("delete", spec.native_collection,
                       points_selector=models.FilterSelector(filter=models.Filter(must=[
                           _ids(outcome.gone + outcome.redo), *BACKFILL_COPIES.must])))
        if outcome.migrated:
            yield call("set_payload", spec.collection, payload=marker(),
                       points=models.FilterSelector(filter=models.Filter(
                           must=[_ids(outcome.migrated)])))
        return outcome




_TARGETS: dict[type[Layout], type[Target]] = {NamedLayout: NamedTarget,
                                              BlueGreenLayout: CollectionTarget}


def target_for(spec: MigrationSpec, source: ContentSource, *,
               embedded: bool = False) -> Target:
    """How a backfill writes ``spec``'s layout; ``embedded``: to embedded Qdrant (its
    compare-and-set requests are kept to :data:`EMBEDDED_REQUEST_POINTS` points)."""
    layout = layout_of(spec)
    return _TARGETS[type(layout)](layout, source,
                                  request_points=EMBEDDED_REQUEST_POINTS if embedded else None)


@dataclass
class TidySchedule:
    """When a backfill that ran out of work looks for copies to tidy (:meth:`Target.tidy_
    steps`, a scan of the new collection). A backfill about to exit tidies at each such
    moment (it comes once, or once per pass), payloads compared; one that keeps running
    recounts every few seconds, so it tidies at most every ``interval_s`` and by ids only: a
    delete behind it is caught up a few minutes late, a payload edit at cut-over or finish
    (their own tidy compares payloads, refuses, and this backfill then copies the point
    again), and the scan is neither repeated on every recount of a large collection nor
    made of every payload, twice, every few minutes."""

    interval_s: float
    every_time: bool  # the backfill exits when done
    _next: float = 0.0

    @classmethod
    def for_backfill(cls, options: Any) -> "TidySchedule":
        """Every ten heartbeat timeouts (five minutes by default) when it keeps running."""
        return cls(10 * options.heartbeat_timeout, every_time=options.exit_when_done)

    @property
    def payloads(self) -> bool:
        """Whether this backfill's tidies compare payloads (see the class docstring)."""
        return self.every_time

    def due(self, now: float) -> bool:
        if not self.every_time and now < self._next:
            return False
        self._next = now + self.interval_s
        return True
