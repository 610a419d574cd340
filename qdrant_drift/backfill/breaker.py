"""When the embedder, not the items, is at fault: stop instead of dead-lettering everything.

An item the embedder cannot embed becomes a dead letter (:mod:`.isolation`), which is right
for one bad text among good ones. But an embedder that fails on every item (a service that
is down, an API key that expired, a model of the wrong dimension) would turn the whole
collection into dead letters, one failing call per item, and the backfill would end
"finished" with nothing written. :class:`EmbedderBreaker` counts the batches in a row on
which the embedder failed for every item; at :data:`BATCHES_IN_A_ROW` the engine stops with
a :class:`~qdrant_drift.errors.BackfillError` that says how to go on. The batches it took to
tell are dead letters already: a requeue gives them back. Items without content are not the
embedder's failures and do not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import BackfillError

# Three whole batches failed in a row: a bad batch of data is one in the middle of good
# ones; three are the embedder's
BATCHES_IN_A_ROW = 3


@dataclass
class EmbedderBreaker:
    """Counts the batches in a row in which no item could be embedded."""

    limit: int = BATCHES_IN_A_ROW
    batches: int = 0
    items: int = 0
    reason: str = ""  # the first failure of the current run of failed batches

    def observe(self, tried: int, failed: Sequence[tuple[Any, str]], *,
                batches: int = 1) -> None:
        """``tried`` items (with content) went to the embedder in ``batches`` batches, and
        ``failed`` (id, reason) of them could not be embedded."""
        if tried == 0:
            return
        if len(failed) < tried:  # something was embedded: the embedder works
            self.batches, self.items, self.reason = 0, 0, ""
            return
        self.batches += batches
        self.items += tried
        self.reason = self.reason or failed[0][1]

    @property
    def tripped(self) -> bool:
        return self.batches >= self.limit

    def error(self) -> BackfillError:
        return BackfillError(
            f"the embedder failed on every item of the last {self.batches} batches "
            f"({self.items} items, now dead letters; the first: {self.reason}). The backfill "
            "stopped: "
            "fix the embedder, requeue them (`qdrant-drift dead-letters FILE --requeue`, or "
            "`migration.requeue_dead_letters()`) and run the backfill again")
