"""Backfill order policies: how much of each batch goes to hot items.

Like tenacity's strategies, each policy is a small callable; the worker asks it once per batch
``policy(batch_size, hot_available) -> number of hot ids to take`` and fills the rest of the
batch from the sweep (points lacking the new vector, in cursor order). Hot ids are the points
serving replicas most often answered from legacy vectors (see :mod:`qdrant_drift.serving.hits`):
migrating them first moves the queries people actually run onto native vectors soonest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

OrderPolicy = Callable[[int, int], int]


@dataclass(frozen=True)
class Sweep:
    """Cursor order only: predictable, and the fastest way to full coverage."""

    def __call__(self, batch_size: int, hot_available: int) -> int:
        return 0


@dataclass(frozen=True)
class HotFirst:
    """Every hot item before any cold one."""

    def __call__(self, batch_size: int, hot_available: int) -> int:
        return min(batch_size, hot_available)


@dataclass(frozen=True)
class Mixed:
    """At most ``hot_share`` of each batch from hot items, so the sweep never starves."""

    hot_share: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.hot_share <= 1.0:
            raise ValueError(f"hot_share must be in [0, 1], got {self.hot_share}")

    def __call__(self, batch_size: int, hot_available: int) -> int:
        return min(hot_available, math.ceil(self.hot_share * batch_size))


def order_policy(name: str, *, hot_share: float = 0.5) -> OrderPolicy:
    """The policy a migration file names: ``sweep``, ``hot-first`` or ``mixed``."""
    policies: dict[str, OrderPolicy] = {
        "sweep": Sweep(), "hot-first": HotFirst(), "mixed": Mixed(hot_share),
    }
    if name not in policies:
        raise ValueError(f"backfill order must be one of {sorted(policies)}, got {name!r}")
    return policies[name]
