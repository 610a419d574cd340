"""Splitting the backfill between workers with no coordinator but Qdrant (pure logic).

Points are split into ``P`` partitions by a stable hash of their id. Each partition has a
lease record in the state collection: its owner, the owner's last heartbeat, the sweep
cursor (the checkpoint) and whether it is done. A worker owns about ``P / live workers``
partitions: it claims free or expired leases up to that fair share and releases the extra
when more workers join. Two workers that race for one lease only duplicate work: every
backfill write is conditional, so correctness never depends on the lease.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field, replace
from typing import AbstractSet, Any, Iterable


def partition_of(point_id: Any, partitions: int) -> int:
    """Stable across processes and machines (not Python's salted ``hash``)."""
    if partitions <= 1:
        return 0
    digest = hashlib.blake2b(str(point_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


@dataclass(frozen=True)
class Lease:
    """One partition's checkpoint and ownership, as stored in the state collection."""

    partition: int
    owner: str | None = None
    heartbeat: float = 0.0
    cursor: Any = None  # sweep resumes here (a point id; None = from the start)
    pass_no: int = 0  # a new pass when one leaves a redo, or points are left at the end
    done: bool = False
    processed: int = 0

    def expired(self, now: float, timeout: float) -> bool:
        return now - self.heartbeat > timeout

    def claimable_by(self, worker: str, now: float, timeout: float,
                     gone: AbstractSet[str] = frozenset()) -> bool:
        """Open, and unowned, ours, expired, or owned by a worker known to be ``gone``."""
        return not self.done and (self.owner in (None, worker) or self.owner in gone
                                  or self.expired(now, timeout))

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "Lease":
        # keys it no longer has are dropped (``pass_writes``, before stop 30): old records load
        fields = {k: payload[k] for k in cls.__dataclass_fields__ if k in payload}
        return cls(**fields)


@dataclass(frozen=True)
class Claims:
    """What a worker should do with its leases now."""

    claim: tuple[int, ...] = ()
    release: tuple[int, ...] = ()
    keep: tuple[int, ...] = field(default=())


def plan_claims(leases: Iterable[Lease], worker: str, *, now: float, timeout: float,
                live_workers: int, gone: AbstractSet[str] = frozenset()) -> Claims:
    """Claim up to a fair share of the open partitions; release what is above it (``gone``:
    owners known to have exited, whose leases need not expire first)."""
    open_leases = [lease for lease in leases if not lease.done]
    share = math.ceil(len(open_leases) / max(1, live_workers)) if open_leases else 0
    mine = sorted(lease.partition for lease in open_leases
                  if lease.owner == worker and not lease.expired(now, timeout))
    if len(mine) > share:
        return Claims(release=tuple(mine[share:]), keep=tuple(mine[:share]))
    free = sorted(
        (lease for lease in open_leases
         if lease.partition not in mine and lease.claimable_by(worker, now, timeout, gone)),
        key=lambda lease: (lease.owner is not None, lease.partition),  # unowned first
    )
    wanted = tuple(lease.partition for lease in free[: share - len(mine)])
    return Claims(claim=wanted, keep=tuple(mine))


def claimed(lease: Lease, worker: str, now: float) -> Lease:
    return replace(lease, owner=worker, heartbeat=now)
