"""Shadow sampling: a share of queries also runs another plan, off the query path, and the
agreement of the two rankings (overlap@k) is recorded for monitoring."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from .router import Plan

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
