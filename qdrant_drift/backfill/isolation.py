"""Embedding a batch so that one bad item never sinks the others.

An embedder that raises on a batch is retried item by item, so the items that break it are
found; every row is checked (:func:`row_problems`) before it may be written. What cannot be
embedded becomes a dead letter with the reason; the rest goes on. Only the good rows are
kept, so the vectors' width need not be known before the first one comes back.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..embedders import Embedder, row_problems
from ..errors import DriftError
from .content import Item

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Embedded:
    items: list[Item]  # the items that can be written, in order
    vectors: np.ndarray  # one row per item
    poison: list[tuple[Any, str]]  # (id, why it cannot be embedded)
    seconds: float


class EmbedderDown(Exception):
    """A failing batch's first items failed alone too: the embedder (a service that is
    down, a broken callable) fails, not its items. ``cause``: the batch's error."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(repr(cause))
        self.cause = cause


def embed_isolating(embedder: Embedder, items: Sequence[Item], dim: int | None, *,
                    probe: int = 0) -> Embedded:
    """The batch's good rows and its poison. ``probe``: when the batch raises, its first
    ``probe`` items are tried alone before the rest; all of them failing raises
    :class:`EmbedderDown` (one error at once, not a call per item before it). Errors of
    qdrant-drift's own (the embedder cannot be set up) always propagate: no item is poison."""
    t0 = time.perf_counter()
    rows, problems = _embed(embedder, items, dim, probe)
    good = [i for i, problem in enumerate(problems) if problem is None]
    poison = [(items[i].id, problem) for i, problem in enumerate(problems)
              if problem is not None]
    matrix = (np.stack([rows[i] for i in good]) if good
              else np.zeros((0, dim or 0), dtype=np.float32))
    return Embedded([items[i] for i in good], matrix, poison, time.perf_counter() - t0)


def _embed(embedder: Embedder, items: Sequence[Item], dim: int | None, probe: int
           ) -> tuple[list[np.ndarray | None], list[str | None]]:
    """Per item: its row (None where it has a problem) and its problem (None where good)."""
    texts = [item.text or "" for item in items]
    if not texts:
        return [], []
    try:
        vectors = embedder(texts)
    except DriftError:
        raise  # the embedder itself cannot run: no item is poison
    except Exception as exc:  # noqa: BLE001 - isolate the item that breaks the embedder
        if len(texts) == 1:
            return [None], [f"embedder failed: {exc!r}"]
        log.warning("embedder failed on a batch (%r): embedding items one by one", exc)
        rows: list[np.ndarray | None] = []
        problems: list[str | None] = []
        for at, item in enumerate(items):
            # the width is the first good row's when not known yet: rows of another one are
            # as wrong as they would be in a batch
            (row,), (problem,) = _embed(embedder, [item], dim, 0)
            if row is not None and dim is None:
                dim = int(row.shape[0])
            rows.append(row)
            problems.append(problem)
            if at + 1 == probe and all(p is not None for p in problems):
                raise EmbedderDown(exc) from exc
        return rows, problems
    problems = row_problems(vectors, len(texts), dim)
    if all(p is not None for p in problems):
        return [None] * len(texts), problems
    matrix = np.asarray(vectors, dtype=np.float32)
    return [row if p is None else None for row, p in zip(matrix, problems)], problems
