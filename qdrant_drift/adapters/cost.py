"""What one query's transform costs on this machine: the budget ``auto`` chooses within.

The adapter runs on every adapted and hybrid query, so its cost is a latency every user
pays. It is measured, not estimated from shapes (a lookup's cost depends on the BLAS, the
cache and whether a product goes multi-threaded), timing single queries as the query path
calls them, on the machine that fits (which should be the serving class).

A fit often runs next to other work (a test run, a backfill), and a busy moment used to
pass a kind over that fits the budget on the serving machine: ``auto``'s choice, and so
the recall users get, changed from one fit to the next. So the kinds are timed side by
side, in interleaved rounds, and each kind's cost is its median in the quietest round.
"""

from __future__ import annotations

import time
from typing import Callable, Mapping

import numpy as np

# one 384-d query on a 2-core machine of the serving class: ~10x a 384x384 map
DEFAULT_MAX_TRANSFORM_US = 100.0

Transform = Callable[[np.ndarray], object]


def transform_costs_us(
    transforms: Mapping[str, Transform], queries: np.ndarray, *, rounds: int = 5,
    calls: int = 60, warmup: int = 20,
) -> dict[str, float]:
    """Microseconds per single float32 query of each transform: the lowest of its
    per-round medians, the rounds interleaving every transform (so all of them meet the
    same load) and rotating which goes first."""
    if not len(queries):
        raise ValueError("timing a transform needs at least one query")
    rows = [np.ascontiguousarray(q, dtype=np.float32) for q in queries[:16]]
    names = list(transforms)
    best = {name: float("inf") for name in names}
    clock = time.perf_counter_ns
    samples = np.empty(calls)
    for round_number in range(rounds):
        shift = round_number % max(len(names), 1)
        for name in names[shift:] + names[:shift]:
            transform = transforms[name]
            for i in range(warmup):  # fills the caches with this transform's matrices
                transform(rows[i % len(rows)])
            for i in range(calls):
                x = rows[i % len(rows)]
                start = clock()
                transform(x)
                samples[i] = clock() - start
            best[name] = min(best[name], float(np.median(samples)) / 1000.0)
    return best
