"""Legacy hits: items a query was served from legacy vectors, counted for hot-first backfill.

Counting happens on the query path (a dict increment under a lock); writing the counts to
Qdrant happens off it, batched, from the state-refresh loop. Each serving replica writes its
own cumulative counts (no read-modify-write races between replicas); the backfill sums them.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any, Iterable

from qdrant_client.http import models

from ..sansio import Steps, call
from ..store.collection import STATE_COLLECTION, point_id

MAX_TRACKED = 10_000  # per replica: the hottest ids are what the backfill needs
PENDING_LIMIT = 10_000  # recorded ids held uncounted between flushes, at most


class HitCounter:
    """Thread-safe counts of legacy hits per point id, flushed to the state collection."""

    def __init__(self, migration: str, replica: str | None = None) -> None:
        self.migration = migration
        self.replica = replica or uuid.uuid4().hex[:12]
        self._lock = threading.Lock()
        self._counts: Counter[Any] = Counter()
        self._dirty: set[Any] = set()
        self._pending: list[Any] = []  # recorded, not yet counted

    def record(self, ids: Iterable[Any]) -> None:
        """On the query path: only an append; counting waits for the next read or flush."""
        with self._lock:
            self._pending.extend(ids)
            if len(self._pending) >= PENDING_LIMIT:
                self._count_pending()

    def _count_pending(self) -> None:  # under the lock
        if self._pending:
            self._counts.update(self._pending)
            self._dirty.update(self._pending)
            self._pending = []

    def snapshot(self) -> Counter[Any]:
        with self._lock:
            self._count_pending()
            return Counter(self._counts)

    def flush_steps(self, state_collection: str = STATE_COLLECTION) -> Steps[int]:
        """Write the changed counts (the hottest :data:`MAX_TRACKED`) to Qdrant."""
        with self._lock:
            self._count_pending()
            if not self._dirty:
                return 0
            hottest = {pid for pid, _ in self._counts.most_common(MAX_TRACKED)}
            self._dirty &= hottest  # ids that fell out of the hottest are not tracked
            changed = [(pid, self._counts[pid]) for pid in self._dirty]
        points = [
            models.PointStruct(
                id=point_id("hits", self.migration, self.replica, str(pid)), vector={},
                payload={"record": "hits", "name": self.migration, "replica": self.replica,
                         "point_id": pid, "hits": count},
            )
            for pid, count in changed
        ]
        for start in range(0, len(points), 256):
            yield call("upsert", state_collection, points[start : start + 256])
        with self._lock:  # written: clean, unless hit again meanwhile (then flush next time)
            for pid, count in changed:
                if self._counts[pid] == count:
                    self._dirty.discard(pid)
        return len(points)


def read_hot_steps(migration: str, state_collection: str = STATE_COLLECTION,
                   page: int = 1024) -> Steps[Counter[Any]]:
    """Total legacy hits per point id over all replicas (what hot-first backfill orders by)."""
    totals: Counter[Any] = Counter()
    selector = models.Filter(must=[
        models.FieldCondition(key="record", match=models.MatchValue(value="hits")),
        models.FieldCondition(key="name", match=models.MatchValue(value=migration)),
    ])
    offset = None
    while True:
        records, offset = yield call("scroll", state_collection, scroll_filter=selector,
                                     limit=page, offset=offset, with_payload=True,
                                     with_vectors=False)
        for rec in records:
            totals[rec.payload["point_id"]] += int(rec.payload["hits"])
        if offset is None:
            return totals
