"""A worker's leases: which partitions it owns, their checkpoints, and passes.

:class:`LeaseBook` is pure: given what the state collection holds (a :class:`LeaseView`,
read by :func:`read_lease_view`) it decides what to claim, renew, release and write;
given a written batch it moves the checkpoint and ends passes. The pipeline holds its lock
around the book and drives the steps; the steps never hold a lock.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import AbstractSet, Any, Callable, Iterable

from ..sansio import Gather, Steps, call
from ..store import backfill as store
from .partitions import Lease, claimed, partition_of, plan_claims
from .targets import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseView:
    """The partitions' leases as stored, how many workers are alive (this one included), and
    the workers known to have exited although their heartbeats look fresh (``gone``)."""

    stored: dict[int, Lease]
    live_workers: int
    gone: frozenset[str] = frozenset()


def read_lease_view(name: str, worker: str, partitions: int, *, timeout: float,
                    state_collection: str, running_here: AbstractSet[str] | None = None
                    ) -> Steps[LeaseView]:
    """The leases and the live workers. ``running_here``: on embedded Qdrant, the engines
    this process runs, which are then the only live ones, and a lease owned by any other
    worker is one nobody will renew (see :func:`.control.engines_running_here`): it is
    taken at once instead of after its heartbeat timeout. Engines of this process that
    claim the same lease at once are still told apart by the claim's compare-and-set."""
    here = None if running_here is None else frozenset(running_here) | {worker}
    workers = yield from store.read_workers(name, timeout=timeout,
                                            state_collection=state_collection,
                                            running_here=here)
    live = {w.worker for w in workers if w.alive} | {worker}
    stored = yield from store.read_leases(name, partitions, state_collection)
    if here is None:
        return LeaseView(stored, len(live))
    owners = {lease.owner for lease in stored.values() if lease.owner is not None}
    return LeaseView(stored, len(live), frozenset(owners - here))


@dataclass(frozen=True)
class Renewal:
    """What one heartbeat changed: leases lost to another worker, claimed (or reopened in
    the store), released, what to write back, and whether every partition is done."""

    lost: tuple[int, ...] = ()
    claimed: dict[int, Lease] = field(default_factory=dict)
    released: tuple[int, ...] = ()
    to_write: list[Lease] = field(default_factory=list)
    all_done: bool = False


@dataclass(frozen=True)
class Checkpoint:
    """What a written batch did to the leases: what to write, and a pass that ended."""

    to_write: list[Lease] = field(default_factory=list)
    pass_ended: int | None = None  # the partition whose pass ended with this batch
    partition_done: bool = False  # ... and that pass wrote nothing: the partition is done


class LeaseBook:
    """The leases one worker owns, as it last wrote them (checkpoints included)."""

    def __init__(self, worker: str, partitions: int) -> None:
        self.worker, self.partitions = worker, partitions
        self.owned: dict[int, Lease] = {}

    def open_partitions(self) -> list[int]:
        return sorted(k for k, lease in self.owned.items() if not lease.done)

    def renew(self, view: LeaseView, *, now: float, timeout: float) -> Renewal:
        """Drop leases another worker took over, claim up to a fair share, release the
        excess, renew the rest."""
        stored = view.stored
        lost = tuple(k for k in sorted(self.owned)
                     if stored[k].owner not in (None, self.worker))
        for k in lost:
            del self.owned[k]
        reopened_here = {k: replace(stored[k], owner=self.worker, heartbeat=now)
                         for k, lease in self.owned.items()
                         if lease.done and not stored[k].done}  # late arrivals, requeues
        self.owned.update(reopened_here)
        current = [self.owned.get(k, lease) for k, lease in stored.items()]
        plan = plan_claims(current, self.worker, now=now, timeout=timeout,
                           live_workers=view.live_workers, gone=view.gone)
        for k in plan.release:
            self.owned.pop(k, None)
        # ours in the state but not held here: this worker restarted under the same id (a
        # container's hostname-pid); it takes them back at once, cursor included, as claims
        adopted = tuple(k for k in plan.keep if k not in self.owned)
        claims = {k: claimed(stored[k], self.worker, now) for k in plan.claim + adopted}
        self.owned.update(claims)
        claims.update(reopened_here)
        self.owned = {k: replace(lease, heartbeat=now) for k, lease in self.owned.items()}
        released = [replace(stored[k], owner=None) for k in plan.release]
        return Renewal(lost=lost, claimed=claims, released=plan.release,
                       to_write=list(self.owned.values()) + released,
                       all_done=all(lease.done for lease in current))

    def confirm(self, stored: dict[int, Lease], claimed: Iterable[int]) -> tuple[int, ...]:
        """After writing claims, a read shows who won each race for a lease: drop those
        another worker wrote over ours (two workers starting together both claim)."""
        lost = tuple(k for k in claimed if k in self.owned and stored[k].owner != self.worker)
        for k in lost:
            del self.owned[k]
        return lost

    def checkpoint(self, *, migrated: Iterable[Any], partition: int | None, cursor: Any,
                   ends_pass: bool, redo_pending: Callable[[int], bool],
                   now: float) -> Checkpoint:
        """Count each written point in its partition; move the swept partition's
        cursor. A pass that leaves no redo behind finishes the partition; one that does
        ends in a new pass from the start. Points that arrived behind the sweep meanwhile are
        not looked for here, partition by partition (a pass each, to find none most of the
        time): once every partition is done, one count of what is left finds them
        (:func:`remaining_steps`) and opens every partition again (:func:`reopened`)."""
        written = Counter(partition_of(pid, self.partitions) for pid in migrated)
        touched = {k: replace(self.owned[k], processed=self.owned[k].processed + n)
                   for k, n in written.items() if k in self.owned}
        done = False
        if partition is not None and partition in self.owned:
            lease = touched.get(partition) or self.owned[partition]
            lease = replace(lease, cursor=cursor, heartbeat=now)
            if ends_pass:
                done = not redo_pending(partition)
                lease = (replace(lease, done=True) if done else
                         replace(lease, pass_no=lease.pass_no + 1, cursor=None))
            touched[partition] = lease
        self.owned.update(touched)
        return Checkpoint(to_write=list(touched.values()),
                          pass_ended=partition if ends_pass else None, partition_done=done)

    def release_all(self) -> list[Lease]:
        """Every owned lease, unowned: handed back at once, not left to expire."""
        released = [replace(lease, owner=None) for lease in self.owned.values()]
        self.owned.clear()
        return released


def reopened(view: LeaseView) -> list[Lease]:
    """Every done lease, opened for a new pass from the start (points arrived after the
    sweep passed: written by a client that does not go through the wrapper)."""
    return [replace(lease, done=False, cursor=None, pass_no=lease.pass_no + 1)
            for lease in view.stored.values() if lease.done]


@dataclass
class ReopenGuard:
    """Whether a backfill whose partitions are all done opens them for another pass: while
    points are left (:func:`remaining_steps`), but not twice for the same points left with
    nothing processed between (the last pass found none of them: there is no way forward,
    and reopening again would loop). Such a stall is logged once."""

    _last: tuple[int, int] | None = None  # (points left, processed) at the last reopen
    _stuck_at: tuple[int, int] | None = None

    def reopen(self, left: int, processed: int) -> bool:
        progress = (left, processed)
        if left == 0 or progress == self._last:
            if left and progress != self._stuck_at:
                log.warning("%d points lack the new vector, but another pass found none of "
                            "them", left)
                self._stuck_at = progress
            return False
        self._last = progress
        return True


@dataclass(frozen=True)
class Remaining:
    """What a backfill that ran out of work finds left: points lacking the new vector, all
    points, and how many of the lacking are dead letters (one scan of the collection on
    embedded Qdrant: the dead letters are read by id). ``at``: when it was counted."""

    lacking: int
    total: int
    dead: int
    at: float

    @property
    def left(self) -> int:
        """Points still to backfill: lacking the new vector, and not dead letters."""
        return self.lacking - self.dead

    @property
    def migrated(self) -> int:
        return self.total - self.lacking


DEAD_LETTERS_PER_READ = 1000  # dead letters read by id per request


def remaining_steps(target: Target, dead: Iterable[Any]) -> Steps[Remaining]:
    """Count what is left (asked when the backfill has run out of work). The count comes
    before the read of the dead letters: a dead letter that gets its new vector in between
    (written by the app) is counted left, which costs at most a pass that finds nothing,
    never a point left behind."""
    at = time.time()
    collection = target.spec.collection
    lacking, total = yield Gather((
        call("count", collection, count_filter=target.unmigrated(), exact=True),
        call("count", collection, exact=True)))
    ids, still_dead = list(dead), 0
    for first in range(0, len(ids), DEAD_LETTERS_PER_READ):
        still_dead += len((yield from target.fetch_steps(
            ids[first:first + DEAD_LETTERS_PER_READ])))
    return Remaining(int(lacking.count), int(total.count), still_dead, at)
