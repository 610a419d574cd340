"""Shadow sampling: a share of queries also runs another plan, off the query path, and the
agreement of the two rankings (overlap@k) is recorded for monitoring."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from qdrant_client.http import models

from .router import Plan
from ..sansio import Steps, call
from ..store.collection import STATE_COLLECTION, point_id

# What each plan is compared with: the plan the migration would move to next (or back to).
SHADOW_OF: dict[Plan, Plan] = {
    Plan.ADAPTED: Plan.HYBRID,
    Plan.HYBRID: Plan.NATIVE,
    Plan.NATIVE: Plan.HYBRID,
}


@dataclass
class ShadowStats:
    """Running agreement per (served plan, shadow plan)."""

    samples: dict[str, int] = field(default_factory=dict)
    overlap_sum: dict[str, float] = field(default_factory=dict)
    errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, served: Plan, shadow: Plan, overlap: float) -> None:
        key = f"{served.value}->{shadow.value}"
        with self._lock:
            self.samples[key] = self.samples.get(key, 0) + 1
            self.overlap_sum[key] = self.overlap_sum.get(key, 0.0) + overlap

    def record_error(self) -> None:
        with self._lock:
            self.errors += 1

    def agreement(self) -> dict[str, float]:
        """Mean overlap@k per plan pair."""
        with self._lock:
            return {k: self.overlap_sum[k] / n for k, n in self.samples.items() if n}


@dataclass
class ShadowSampler:
    """Decides which queries are shadowed (``rate`` in [0, 1])."""

    rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"shadow rate must be in [0, 1], got {self.rate}")
        self._random = random.Random(self.seed)

    def pick(self) -> bool:
        return self.rate > 0 and self._random.random() < self.rate


def flush_agreement_steps(stats: ShadowStats, migration: str, replica: str,
                          state_collection: str = STATE_COLLECTION) -> Steps[None]:
    """Write this replica's cumulative agreement to the state (``status`` sums replicas)."""
    with stats._lock:
        samples, sums = dict(stats.samples), dict(stats.overlap_sum)
    if not samples:
        return
    yield call("upsert", state_collection, [models.PointStruct(
        id=point_id("shadow", migration, replica), vector={},
        payload={"record": "shadow", "name": migration, "replica": replica,
                 "samples": samples, "overlap_sum": sums})])


def read_agreement_steps(migration: str, state_collection: str = STATE_COLLECTION
                         ) -> Steps[dict[str, float]]:
    """Mean overlap@k per plan pair over every serving replica."""
    selector = models.Filter(must=[
        models.FieldCondition(key="record", match=models.MatchValue(value="shadow")),
        models.FieldCondition(key="name", match=models.MatchValue(value=migration)),
    ])
    records, _ = yield call("scroll", state_collection, scroll_filter=selector, limit=1000,
                            with_payload=True, with_vectors=False)
    samples: dict[str, int] = {}
    sums: dict[str, float] = {}
    for record in records:
        payload = record.payload or {}
        for key, n in (payload.get("samples") or {}).items():
            samples[key] = samples.get(key, 0) + int(n)
            sums[key] = sums.get(key, 0.0) + float(payload["overlap_sum"].get(key, 0.0))
    return {key: sums[key] / n for key, n in samples.items() if n}
