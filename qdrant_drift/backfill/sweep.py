"""The read-ahead sweep: each owned partition's points that lack the new vector, in cursor
order, a pass at a time.

A filtered scroll costs about as much for many points as for few, so pages of
:data:`SWEEP_PAGE` are read ahead into a buffer per partition; a buffered point migrated
meanwhile is caught by the conditional write. When a pass over a partition ends, the
partition *awaits* its last batch's write, which decides whether it is done or swept again.
The state is plain data; :meth:`Sweeps.take_steps` is the only part that talks to Qdrant.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..sansio import Steps, call
from .partitions import partition_of
from .targets import Target

SWEEP_PAGE = 2048


@dataclass
class PartitionSweep:
    cursor: Any = None  # where the next page starts (None: the start, or the pass is over)
    buffer: deque[Any] = field(default_factory=deque)
    started: bool = False  # a page of this pass was read (cursor None then means: over)
    awaiting: bool = False  # the pass ended; the last batch's write decides what is next


@dataclass(frozen=True)
class Swept:
    records: list[Any]
    cursor: Any  # the checkpoint once these records are written
    ends_pass: bool


class Sweeps:
    """The sweep of every partition this worker owns, taken in turns."""

    def __init__(self, partitions: int, page: int = SWEEP_PAGE) -> None:
        self.partitions, self.page = partitions, page
        self._by_partition: dict[int, PartitionSweep] = {}
        self._turn = 0

    def open(self, k: int, cursor: Any = None) -> None:
        """Sweep ``k`` from ``cursor`` (a claimed checkpoint, a new pass, or back to the
        checkpoint after an unwritten batch)."""
        self._by_partition[k] = PartitionSweep(cursor=cursor)

    def forget(self, k: int) -> None:
        self._by_partition.pop(k, None)

    def awaiting(self, k: int) -> bool:
        return k in self._by_partition and self._by_partition[k].awaiting

    def next_partition(self, open_partitions: Iterable[int]) -> int | None:
        """The next partition in turn that can be swept now (not awaiting a write)."""
        ready = sorted(k for k in open_partitions if not self.awaiting(k))
        if not ready:
            return None
        self._turn += 1
        return ready[(self._turn - 1) % len(ready)]

    def take_steps(self, k: int, target: Target, need: int,
                   wanted: Callable[[Any], bool]) -> Steps[Swept]:
        """Up to ``need`` points of partition ``k`` lacking the new vector (those ``wanted``
        accepts), the cursor after them and whether the pass over ``k`` ended with them."""
        state = self._by_partition.setdefault(k, PartitionSweep())
        out: list[Any] = []
        while len(out) < need:
            if not state.buffer:
                if state.cursor is None and state.started:
                    break  # the pass is over
                page, next_offset = yield _scroll(target, limit=self.page, offset=state.cursor)
                state.started, state.cursor = True, next_offset
                state.buffer.extend(r for r in page if partition_of(r.id, self.partitions) == k)
                if not state.buffer and next_offset is None:
                    break
                continue
            record = state.buffer.popleft()
            if wanted(record.id):
                out.append(record)
        cursor = state.buffer[0].id if state.buffer else state.cursor
        ended = not state.buffer and state.cursor is None and state.started
        if ended:
            self._by_partition[k] = PartitionSweep(awaiting=True)
        return Swept(out, cursor, ended)


def _scroll(target: Target, *, limit: int, offset: Any) -> Any:
    return call("scroll", target.spec.collection, scroll_filter=target.unmigrated(),
                limit=limit, offset=offset, with_payload=target.payload_selector(),
                with_vectors=False)
