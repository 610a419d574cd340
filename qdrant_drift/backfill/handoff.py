"""Handing work from one thread to the next through a bounded queue, without hanging.

A stage's consumer may be busy for as long as one batch takes (a slow embedder holds its
queue full for many seconds), or gone for good (it died, or returned after a stop). A
plain ``put`` waits forever on the second; a ``put`` with one timeout gives up on the first
and loses the item (once, its end mark: a Ctrl-C then hung the worker for good). So an item
is offered for as long as the consumer still listens, and no longer. The worker's pipeline
and the Ray driver's write groups both hand work on this way.
"""

from __future__ import annotations

import queue
from typing import Any, Callable


def offer(q: "queue.Queue[Any]", item: Any, listening: Callable[[], bool]) -> bool:
    """Put ``item`` on ``q`` once there is room, for as long as ``listening()`` says the
    consumer still reads it; False if it stopped reading first (the item was not handed on)."""
    while listening():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
