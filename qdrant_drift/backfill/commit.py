"""The write stage: conditional writes, then dead letters, then the checkpoint.

The checkpoint moves only after the batch is written, so a kill loses at most the batches in
flight. :func:`commit_steps` is sans-I/O and takes the worker's lock (``guard``) only around
the pure bookkeeping, never across a call.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from ..sansio import Steps
from ..store import backfill as store
from .leases import LeaseBook
from .ledger import Ledger
from .partitions import partition_of
from .selection import Batch
from .sweep import Sweeps
from .targets import Outcome, Target


@dataclass(frozen=True)
class Committed:
    outcome: Outcome
    dead: list[tuple[Any, str]] = field(default_factory=list)


def commit_steps(target: Target, batch: Batch, *, migration: str, state_collection: str,
                 ledger: Ledger, leases: LeaseBook, sweeps: Sweeps,
                 guard: AbstractContextManager[Any] | None = None) -> Steps[Committed]:
    guard = guard or nullcontext()
    outcome = Outcome()
    if batch.items:
        assert batch.vectors is not None
        outcome = yield from target.write_steps(batch.items, batch.vectors)
    with guard:
        dead = list(batch.poison) + ledger.settle(
            migrated=outcome.migrated, redo=outcome.redo, out_of_order=batch.out_of_order)
    if dead:
        yield from store.add_dead_letters(migration, dead, state_collection)
    p = leases.partitions
    with guard:
        ledger.bury(pid for pid, _ in dead)
        checkpoint = leases.checkpoint(
            migrated=outcome.migrated, partition=batch.partition, cursor=batch.cursor_after,
            ends_pass=batch.ends_pass, now=time.time(),
            redo_pending=lambda k: ledger.redo_pending(lambda pid: partition_of(pid, p) == k))
        if checkpoint.pass_ended is not None:
            sweeps.open(checkpoint.pass_ended)  # the next pass starts from the beginning
    if checkpoint.to_write:
        yield from store.write_leases(migration, p, checkpoint.to_write, state_collection)
    with guard:
        ledger.finish(batch.ids)
    return Committed(outcome, dead)


def release(batch: Batch, *, ledger: Ledger, leases: LeaseBook, sweeps: Sweeps) -> None:
    """Drop a batch unwritten: its items may be selected again, and its partition is swept
    again from the checkpoint (call under the worker's lock)."""
    ledger.finish(batch.ids)
    if batch.partition is not None:
        lease = leases.owned.get(batch.partition)
        if lease is None:
            sweeps.forget(batch.partition)
        else:
            sweeps.open(batch.partition, lease.cursor)
