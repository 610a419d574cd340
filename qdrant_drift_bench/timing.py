"""Microsecond timing of single-query transforms against their GEMV floor, side by side."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def interleaved_p50_us(
    funcs: dict[str, Callable[[], object]], *, rounds: int = 2000, warmup_s: float = 0.5
) -> dict[str, float]:
    """Median microseconds per call of each function, calls interleaved so that machine
    noise hits every contender alike. A timed warm-up first lets caches fill and the CPU
    clock settle (a fixed number of calls is too short after a heavy fit)."""
    deadline = time.perf_counter() + warmup_s
    while time.perf_counter() < deadline:
        for func in funcs.values():
            func()
    samples: dict[str, list[float]] = {name: [] for name in funcs}
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, func in funcs.items():
            start = clock()
            func()
            samples[name].append((clock() - start) / 1000.0)
    return {name: float(np.median(values)) for name, values in samples.items()}


def gemv_floor(weights: list[np.ndarray], x: np.ndarray) -> Callable[[], object]:
    """The bare matrix-vector products of an adapter's own weight matrices (its floor)."""
    vectors = [x] + [np.zeros(w.shape[0], np.float32) for w in weights[1:]]

    def run() -> object:
        for vec, weight in zip(vectors, weights):
            vec @ weight
        return None

    return run
