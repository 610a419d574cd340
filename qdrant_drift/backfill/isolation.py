"""Embedding a batch so that one bad item never sinks the others.

An embedder that raises on a batch is retried item by item, so the items that break it are
found; every row is checked (:func:`row_problems`) before it may be written. What cannot be
embedded becomes a dead letter with the reason; the rest goes on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..embedders import Embedder, row_problems
from ..errors import EmbedderSetupError, MissingDependencyError
from .content import Item

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Embedded:
    items: list[Item]  # the items that can be written, in order
    vectors: np.ndarray  # one row per item
    poison: list[tuple[Any, str]]  # (id, why it cannot be embedded)
    seconds: float


def embed_isolating(embedder: Embedder, items: Sequence[Item], dim: int | None) -> Embedded:
    t0 = time.perf_counter()
    vectors, problems = _embed(embedder, items, dim)
    good = [i for i, problem in enumerate(problems) if problem is None]
    poison = [(items[i].id, problem) for i, problem in enumerate(problems)
              if problem is not None]
    matrix = (np.asarray(vectors, dtype=np.float32)[good] if good
              else np.zeros((0, dim or 0), dtype=np.float32))
    return Embedded([items[i] for i in good], matrix, poison, time.perf_counter() - t0)


def _embed(embedder: Embedder, items: Sequence[Item], dim: int | None
           ) -> tuple[Any, list[str | None]]:
    texts = [item.text or "" for item in items]
    try:
        vectors = embedder(texts) if texts else np.zeros((0, dim or 0))
        return vectors, row_problems(vectors, len(texts), dim)
    except (EmbedderSetupError, MissingDependencyError):
        raise  # the embedder itself cannot run: no item is poison, the backfill stops
    except Exception as exc:  # noqa: BLE001 - isolate the item that breaks the embedder
        if len(texts) == 1:
            return None, [f"embedder failed: {exc!r}"]
        log.warning("embedder failed on a batch (%r): embedding items one by one", exc)
        rows, problems = [], []
        for item in items:
            single = embed_isolating(embedder, [item], dim)
            problems.append(single.poison[0][1] if single.poison else None)
            rows.append(single.vectors[0] if len(single.vectors) else np.zeros(dim or 0))
        return np.asarray(rows, dtype=np.float32), problems
