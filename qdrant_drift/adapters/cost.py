"""What one query's transform costs on this machine: the budget ``auto`` chooses within.

The adapter runs on every adapted and hybrid query, so its cost is a latency every user
pays. It is measured, not estimated from shapes (a lookup's cost depends on the BLAS, the
cache and whether a product goes multi-threaded): the median of timing single queries, as
the query path calls it, on the machine that fits (which should be the serving class).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

# one 384-d query on a 2-core machine of the serving class: ~10x a 384x384 map
DEFAULT_MAX_TRANSFORM_US = 100.0


def transform_us_p50(
    transform: Callable[[np.ndarray], object], queries: np.ndarray, *, calls: int = 300,
    warmup: int = 30,
) -> float:
    """Median microseconds of ``transform`` on one float32 query at a time (cycling over
    ``queries``), after a warm-up that fills the caches."""
    rows = [np.ascontiguousarray(q, dtype=np.float32) for q in queries[: max(1, min(
        len(queries), 16))]]
    for i in range(warmup):
        transform(rows[i % len(rows)])
    clock = time.perf_counter_ns
    samples = np.empty(calls)
    for i in range(calls):
        x = rows[i % len(rows)]
        start = clock()
        transform(x)
        samples[i] = clock() - start
    return float(np.median(samples)) / 1000.0
