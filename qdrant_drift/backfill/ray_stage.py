"""What Ray runs in a backfill: load the text of listed points and embed it.

Two shapes, one :class:`EmbedStage`. With GPUs it is a Ray Data actor (one per GPU, the model
resident on its device). Without, :func:`embed_block` runs it as a Ray Data task, and the
worker process keeps the stage of the backfill it embeds for: Ray reuses its task workers, so
a backfill pays neither an actor's start nor, after a driver's first, Ray Data's import in a
fresh process (together 1.5-2 s per backfill on 2 cores, measured), and builds the embedder
once per worker process, as an actor would.

Light on purpose: a worker imports this module, the content source and the embedding code,
and nothing that talks to Qdrant (no qdrant-client, no pydantic models: their import alone
takes seconds).

A dataset row is one batch: the index of its first point in the driver's listing and a JSON
list of the points' ids and the payload keys the source reads (ids are ints or UUIDs and
payloads have no fixed Arrow type). A block holds several rows (a task embeds them one after
another), and the stage answers each with one packed row (:func:`packed`): the batch's first
index, how many points it holds, their vectors as bytes and their problems as JSON. The
block's rows leave together, as one output block; a retried task re-embeds only the batch
it was killed in (:mod:`.ray_handoff`). The driver writes the points it listed, so nothing
else travels back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ..embedders import Embedder
from .content import ContentSource, no_content_reason
from .isolation import embed_isolating
from .ray_handoff import Row, embed_once

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


def packed(first: int, vectors: np.ndarray, problems: Sequence[str]) -> Row:
    """One batch's answer as one row: its first index, its point count, the vectors (float32
    bytes) and the problems ("" where the point was embedded)."""
    return {"first": np.asarray([first], dtype=np.int64),
            "count": np.asarray([len(problems)], dtype=np.int64),
            "vectors": np.asarray([np.ascontiguousarray(vectors, dtype=np.float32).tobytes()],
                                  dtype=object),
            "problems": np.asarray([json.dumps(list(problems))], dtype=object)}


def unpacked(rows: Mapping[str, np.ndarray], dim: int
             ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Packed rows back as per-point columns: listing indices, vectors, problems."""
    index: list[np.ndarray] = []
    vectors: list[np.ndarray] = []
    problems: list[str] = []
    for first, count, raw, why in zip(rows["first"], rows["count"], rows["vectors"],
                                      rows["problems"]):
        index.append(np.arange(int(first), int(first) + int(count), dtype=np.int64))
        vectors.append(np.frombuffer(raw, dtype=np.float32).reshape(int(count), dim))
        problems.extend(json.loads(why))
    if not index:
        return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32), []
    return np.concatenate(index), np.concatenate(vectors), problems


class EmbedStage:
    """Loads the text of listed points and embeds it a batch at a time, isolating bad items
    (a Ray Data actor, or kept by a task's worker process: :func:`embed_block`).

    Input: a block of :func:`to_batches` rows. Output: one block of a :func:`packed` row per
    batch, each batch embedded once even when Ray replays the block (:mod:`.ray_handoff`)."""

    def __init__(self, embedder_factory: EmbedderFactory, source: ContentSource, dim: int,
                 ledger: Any = None, pass_key: str = "") -> None:
        self.embedder, self.source, self.dim = embedder_factory(), source, dim
        self.ledger, self.pass_key = ledger, pass_key

    def __call__(self, block: dict[str, np.ndarray]) -> Iterator[Row]:
        return self.each_batch(block, self.ledger, self.pass_key)

    def each_batch(self, block: Mapping[str, np.ndarray], ledger: Any,
                   pass_key: str) -> Iterator[Row]:
        return embed_once(block, self.embed, ledger, pass_key)

    def embed(self, first: int, records: str) -> Row:
        """One batch: its points' vectors (zeros where one cannot be embedded) and
        problems (the dead-letter reason, or "")."""
        listed = [Listed(r["id"], r["payload"]) for r in json.loads(records)]
        items = self.source.items(listed)
        with_text = [i for i, item in enumerate(items) if item.text is not None]
        embedded = embed_isolating(self.embedder, [items[i] for i in with_text], self.dim)
        vectors = np.zeros((len(items), self.dim), dtype=np.float32)
        problems = [no_content_reason(self.source, item) for item in items]
        poison = dict(embedded.poison)
        good = iter(embedded.vectors)
        for i in with_text:  # embedded.items keeps the order of the items it was given
            why = poison.get(items[i].id)
            problems[i] = why or ""
            if why is None:
                vectors[i] = next(good)
        return packed(first, vectors, problems)


# the stage of the backfill this worker process embeds for (at most one: a new backfill's
# replaces it, so a process holds one embedder)
_STAGES: dict[str, EmbedStage] = {}


def embed_block(block: dict[str, np.ndarray], *, backfill: str, ledger: Any, pass_key: str,
                embedder_factory: EmbedderFactory, source: ContentSource,
                dim: int) -> Iterator[Row]:
    """A Ray Data task: :class:`EmbedStage` on one block, the stage built once per process
    and ``backfill`` (a driver's id for one run), not once per block."""
    stage = _STAGES.get(backfill)
    if stage is None:
        _STAGES.clear()
        stage = _STAGES[backfill] = EmbedStage(embedder_factory, source, dim)
    return stage.each_batch(block, ledger, pass_key)


__all__: Sequence[str] = ("EmbedStage", "Listed", "embed_block", "packed", "to_batches",
                          "unpacked")
