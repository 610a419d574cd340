"""The GEMV floor a single-query transform is timed against (see ``adapters.cost``)."""

from __future__ import annotations

from typing import Callable

import numpy as np


def gemv_floor(weights: list[np.ndarray], x: np.ndarray) -> Callable[[], object]:
    """The bare matrix-vector products of an adapter's own weight matrices (its floor)."""
    vectors = [x] + [np.zeros(w.shape[0], np.float32) for w in weights[1:]]

    def run() -> object:
        for vec, weight in zip(vectors, weights):
            vec @ weight
        return None

    return run
