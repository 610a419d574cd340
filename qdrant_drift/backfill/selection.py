"""The select stage: what the next batch is (redo first, then hot ids, then the sweep).

:func:`select_steps` is sans-I/O: it yields the fetches and scrolls it needs and takes the
worker's lock (``guard``) only around the pure bookkeeping, never across a call.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..sansio import Steps
from .content import ContentSource, Item, no_content_reason
from .leases import LeaseBook
from .ledger import Ledger
from .ordering import OrderPolicy
from .sweep import Sweeps
from .targets import Target


@dataclass
class Batch:
    items: list[Item]
    poison: list[tuple[Any, str]] = field(default_factory=list)
    partition: int | None = None  # the sweep partition whose cursor this batch moves
    cursor_after: Any = None
    ends_pass: bool = False
    vectors: np.ndarray | None = None
    embed_seconds: float = 0.0
    other_seconds: float = 0.0  # selecting and writing it (what overlap could hide it behind)
    out_of_order: set[Any] = field(default_factory=set)  # hot / redo ids, not from the sweep

    @property
    def ids(self) -> list[Any]:
        return [item.id for item in self.items] + [pid for pid, _ in self.poison]


def select_steps(target: Target, source: ContentSource, *, size: int, order: OrderPolicy,
                 ledger: Ledger, sweeps: Sweeps, leases: LeaseBook,
                 guard: AbstractContextManager[Any] | None = None) -> Steps[Batch | None]:
    """The next batch, its items marked in flight; None when there is nothing to do now."""
    guard = guard or nullcontext()
    with guard:
        priority = ledger.take_redo(size)
        priority += ledger.take_hot(order(size - len(priority), len(ledger.hot)))
    records = list((yield from target.fetch_steps(priority)))
    batch = Batch(items=[], out_of_order={r.id for r in records})
    with guard:
        k = sweeps.next_partition(leases.open_partitions()) if len(records) < size else None
    if k is not None:
        taken = {r.id for r in records}
        swept = yield from sweeps.take_steps(
            k, target, size - len(records),
            lambda pid: pid not in taken and ledger.sweepable(pid))
        records += swept.records
        batch.partition, batch.cursor_after, batch.ends_pass = k, swept.cursor, swept.ends_pass
    if not records and batch.partition is None:
        return None
    items = source.items(records)
    with guard:
        ledger.start(item.id for item in items)
    batch.items = [item for item in items if item.text is not None]
    batch.poison = [(item.id, no_content_reason(source, item)) for item in items
                    if item.text is None]
    return batch
