"""Whether the worker hands a batch down its pipeline of threads, or takes it from selection
to write in the select thread itself.

Overlapping the stages hides the embedder's time behind selecting and writing; the price is a
hand-off between threads per stage and their turns on the interpreter lock. On a Qdrant server
selecting and writing wait on the network, so overlap always pays. Embedded Qdrant runs in this
process and holds the interpreter lock for all of its work: selecting and writing cannot
overlap each other there, and the embedder overlaps them only when it lets go of the lock (a
model on torch, an HTTP API) for long enough to matter. When it takes less than a quarter of
the time the batch spends being selected and written, overlap can hide less than that quarter
and the hand-offs cost about as much (a near-free embedder, 2,000 points: 0.73x a bare
embed-and-write loop with the threads, 0.93x inline, measured side by side), so batches run
inline.

The shares are measured on batches run inline only: with the threads, each stage's time
includes its waits for the lock the others hold, which would keep overlap chosen for good. So
the first :data:`PROBES` batches on embedded Qdrant run inline, the decision takes their
median (one batch slowed by a garbage collection is not a trend), and while the stages
overlap every :data:`REPROBE_EVERY`-th batch runs inline to measure again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

INLINE_BELOW = 0.25  # the embedder's share of selecting and writing below which batches run inline
PROBES = 3  # inline batches the decision reads (their median)
REPROBE_EVERY = 32  # while overlapping, one batch in this many runs inline to measure again


@dataclass
class StageOverlap:
    """The rule above: :meth:`inline_next` says how to run each batch, :meth:`observe` takes
    the times of each batch run inline. ``embedded``: the worker's client is embedded Qdrant."""

    embedded: bool
    shares: deque[float] = field(default_factory=lambda: deque(maxlen=PROBES))
    overlapped: int = 0  # batches handed down the threads since the last inline one

    def observe(self, embed_s: float, other_s: float) -> None:
        """An inline batch's embedding time and its selecting and writing time."""
        self.shares.append(embed_s / max(other_s, 1e-9))

    def inline_next(self) -> bool:
        """Run the next batch inline (True) or hand it to the embed thread (False)."""
        if not self.embedded:
            return False
        if len(self.shares) < PROBES or sorted(self.shares)[PROBES // 2] < INLINE_BELOW:
            inline = True
        else:
            inline = self.overlapped + 1 >= REPROBE_EVERY
        self.overlapped = 0 if inline else self.overlapped + 1
        return inline
