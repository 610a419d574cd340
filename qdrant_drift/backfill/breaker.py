"""When the embedder, not the items, is at fault: stop instead of dead-lettering everything.

An item the embedder cannot embed becomes a dead letter (:mod:`.isolation`), which is right
for one bad text among good ones. But an embedder that fails on every item (a service that
is down, an API key that expired, a model of the wrong dimension) would turn the whole
collection into dead letters, one failing call per item, and the backfill would end
"finished" with nothing written. :class:`EmbedderBreaker` counts the items in a row that the
embedder failed on; at :data:`BATCHES_IN_A_ROW` batches' worth of them the engine stops with
a :class:`~qdrant_drift.errors.BackfillError` that says how to go on. The items it took to
tell are dead letters already: a requeue gives them back.

Items, not batches: items without content are not the embedder's failures and do not count,
so a batch of them is no failed batch (nor is a write group of several batches), and a few
bad texts scattered among batches that hold little else never add up to an outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import BackfillError

# Three whole batches' worth of items failed in a row: a bad batch of data is one in the
# middle of good ones; three are the embedder's
BATCHES_IN_A_ROW = 3


@dataclass
class EmbedderBreaker:
    """Counts the items in a row (with content) that could not be embedded; trips at
    ``limit`` of them."""

    limit: int
    items: int = 0
    reason: str = ""  # the first failure of the current run of failed items

    @classmethod
    def for_batches(cls, batch_size: int) -> "EmbedderBreaker":
        """Trips at :data:`BATCHES_IN_A_ROW` batches of ``batch_size`` items."""
        return cls(limit=BATCHES_IN_A_ROW * batch_size)

    def observe(self, tried: int, failed: Sequence[tuple[Any, str]]) -> None:
        """``tried`` items (with content) went to the embedder, and ``failed`` (id, reason)
        of them could not be embedded."""
        if tried == 0:
            return
        if len(failed) < tried:  # something was embedded: the embedder works
            self.items, self.reason = 0, ""
            return
        self.items += tried
        self.reason = self.reason or failed[0][1]

    @property
    def tripped(self) -> bool:
        return self.items >= self.limit

    def error(self) -> BackfillError:
        return BackfillError(
            f"the embedder failed on the last {self.items} items it was given, every one "
            f"(now dead letters; the first: {self.reason}). The backfill stopped: "
            "fix the embedder, requeue them (`qdrant-drift dead-letters FILE --requeue`, or "
            "`migration.requeue_dead_letters()`) and run the backfill again")
