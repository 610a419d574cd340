"""What Ray runs in a backfill: load the text of listed points and embed it.

Two shapes, one :class:`EmbedStage`. With GPUs it is a Ray Data actor (one per GPU, the model
resident on its device). Without, :func:`embed_batch` runs it as a Ray Data task, and the
worker process keeps the stage of the backfill it embeds for: Ray reuses its task workers, so
a backfill pays neither an actor's start nor, after a driver's first, Ray Data's import in a
fresh process (together 1.5-2 s per backfill on 2 cores, measured), and builds the embedder
once per worker process, as an actor would.

Light on purpose: a worker imports this module, the content source and the embedding code,
and nothing that talks to Qdrant (no qdrant-client, no pydantic models: their import alone
takes seconds).

A dataset row is one batch: the index of its first point in the driver's listing and a JSON
list of the points' ids and the payload keys the source reads (ids are ints or UUIDs and
payloads have no fixed Arrow type). One row per block and one row per call means a task or
an actor call is exactly one batch, which is what Ray retries after a kill. The stage answers
with a row per point: its index, the vector and the problem; the driver writes the point it
listed, so nothing else travels back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..embedders import Embedder
from .content import ContentSource, no_content_reason
from .isolation import embed_isolating

EmbedderFactory = Callable[[], Embedder]


@dataclass(frozen=True)
class Listed:
    """A point as a content source reads it (id and payload), without qdrant-client."""

    id: Any
    payload: Mapping[str, Any] | None


def to_batches(records: Sequence[Any], keys: Sequence[str],
               batch_size: int) -> list[dict[str, Any]]:
    """Dataset rows for listed records, one per batch of ``batch_size`` in listing order: the
    index of the batch's first record, and the records' ids plus the payload ``keys``."""
    return [{"first": first, "records": json.dumps([
        {"id": r.id, "payload": {k: v for k, v in (r.payload or {}).items() if k in keys}}
        for r in records[first:first + batch_size]])}
        for first in range(0, len(records), batch_size)]


class EmbedStage:
    """Loads the text of a batch of listed points and embeds it, isolating bad items (a Ray
    Data actor, or kept by a task's worker process: :func:`embed_batch`).

    Input: rows of :func:`to_batches`. Output, a row per point: ``row`` (its index in the
    listing), ``vector`` (zeros when it cannot be embedded) and ``problem`` (the dead-letter
    reason, or "")."""

    def __init__(self, embedder_factory: EmbedderFactory, source: ContentSource,
                 dim: int) -> None:
        self.embedder, self.source, self.dim = embedder_factory(), source, dim

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows, listed = [], []
        for first, records in zip(batch["first"], batch["records"]):
            for i, r in enumerate(json.loads(records)):
                rows.append(int(first) + i)
                listed.append(Listed(r["id"], r["payload"]))
        items = self.source.items(listed)
        with_text = [i for i, item in enumerate(items) if item.text is not None]
        embedded = embed_isolating(self.embedder, [items[i] for i in with_text], self.dim)
        vectors = np.zeros((len(items), self.dim), dtype=np.float32)
        problems = np.full(len(items), no_content_reason(self.source), dtype=object)
        poison = dict(embedded.poison)
        good = iter(embedded.vectors)
        for i in with_text:  # embedded.items keeps the order of the items it was given
            why = poison.get(items[i].id)
            problems[i] = why or ""
            if why is None:
                vectors[i] = next(good)
        return {"row": np.asarray(rows, dtype=np.int64), "vector": vectors, "problem": problems}


# the stage of the backfill this worker process embeds for (at most one: a new backfill's
# replaces it, so a process holds one embedder)
_STAGES: dict[str, EmbedStage] = {}


def embed_batch(batch: dict[str, np.ndarray], *, backfill: str,
                embedder_factory: EmbedderFactory, source: ContentSource,
                dim: int) -> dict[str, np.ndarray]:
    """A Ray Data task: :class:`EmbedStage` on one batch, the stage built once per process
    and ``backfill`` (a driver's id for one run), not once per batch."""
    stage = _STAGES.get(backfill)
    if stage is None:
        _STAGES.clear()
        stage = _STAGES[backfill] = EmbedStage(embedder_factory, source, dim)
    return stage(batch)


__all__: Sequence[str] = ("EmbedStage", "Listed", "embed_batch", "to_batches")
