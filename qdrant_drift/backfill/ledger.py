"""Where each point id stands in one worker (pure: no threads, no I/O).

*In flight*: selected, not yet written; no stage may select it again. *Dead*: a dead letter;
never selected. *Redo*: its content changed while it was embedded; re-embedded first, and
dead-lettered after ``max_redo`` tries in a row. *Hot*: the ids serving replicas answer most
often from legacy vectors, taken before the sweep. *Written out of order*: written via hot or
redo ahead of the sweep, which skips them when it gets there.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

MAX_REDO = 5  # re-embeds of one item whose content keeps changing before it is dead-lettered


@dataclass
class Ledger:
    max_redo: int = MAX_REDO
    in_flight: set[Any] = field(default_factory=set)
    dead: set[Any] = field(default_factory=set)
    redo: deque[Any] = field(default_factory=deque)
    redo_counts: dict[Any, int] = field(default_factory=dict)
    hot: deque[Any] = field(default_factory=deque)
    out_of_order: set[Any] = field(default_factory=set)

    def selectable(self, pid: Any) -> bool:
        return pid not in self.in_flight and pid not in self.dead

    def sweepable(self, pid: Any) -> bool:
        """The sweep skips what is taken, dead, or already written out of order."""
        return self.selectable(pid) and pid not in self.out_of_order

    def take_redo(self, n: int) -> list[Any]:
        return self._take(self.redo, n)

    def take_hot(self, n: int) -> list[Any]:
        return self._take(self.hot, n)

    def _take(self, pool: deque[Any], n: int) -> list[Any]:
        taken: list[Any] = []
        while pool and len(taken) < n:
            pid = pool.popleft()
            if self.selectable(pid):
                taken.append(pid)
        return taken

    def set_hot(self, ranked: Iterable[Any]) -> None:
        """The hottest first; dead letters never come back through the hot list."""
        self.hot = deque(pid for pid in ranked if pid not in self.dead)

    def start(self, ids: Iterable[Any]) -> None:
        self.in_flight.update(ids)

    def finish(self, ids: Iterable[Any]) -> None:
        self.in_flight.difference_update(ids)

    def bury(self, ids: Iterable[Any]) -> None:
        self.dead.update(ids)

    def settle(self, *, migrated: Iterable[Any], redo: Iterable[Any],
               out_of_order: Iterable[Any] = ()) -> list[tuple[Any, str]]:
        """Record a batch's outcome; returns the ids that ran out of re-embeds (new dead
        letters, with the reason), which the caller stores and then :meth:`bury` s."""
        exhausted: list[tuple[Any, str]] = []
        for pid in redo:
            self.redo_counts[pid] = self.redo_counts.get(pid, 0) + 1
            if self.redo_counts[pid] > self.max_redo:
                exhausted.append((pid, f"content changed during each of {self.max_redo} "
                                       "re-embeds"))
            else:
                self.redo.append(pid)
        early = set(out_of_order)
        for pid in migrated:
            self.redo_counts.pop(pid, None)
            if pid in early:
                self.out_of_order.add(pid)
        return exhausted

    def redo_pending(self, belongs: Callable[[Any], bool]) -> bool:
        """Whether any id waiting for a re-embed satisfies ``belongs`` (e.g. its partition)."""
        return any(belongs(pid) for pid in self.redo)
