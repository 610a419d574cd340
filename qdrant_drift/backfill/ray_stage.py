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

The rows carry only what the actor needs: the index of the point in the driver's listing and
a JSON of its id and the payload keys the source reads (ids are ints or UUIDs and payloads
have no fixed Arrow type). The actor answers with the index, the vector and the problem; the
driver writes the point it listed, so nothing else travels back.
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


def to_rows(records: Sequence[Any], keys: Sequence[str]) -> list[dict[str, Any]]:
    """Dataset rows for listed records: their index, and id plus the payload ``keys``."""
    return [{"row": i, "record": json.dumps(
        {"id": r.id, "payload": {k: v for k, v in (r.payload or {}).items() if k in keys}})}
        for i, r in enumerate(records)]


class EmbedStage:
    """A Ray Data actor: loads the text of a batch of rows and embeds it, isolating bad items.

    Output per input row: ``row`` (as given), ``vector`` (zeros when it cannot be embedded)
    and ``problem`` (the dead-letter reason, or "")."""

    def __init__(self, embedder_factory: EmbedderFactory, source: ContentSource,
                 dim: int) -> None:
        self.embedder, self.source, self.dim = embedder_factory(), source, dim

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        listed = [Listed(r["id"], r["payload"]) for r in map(json.loads, batch["record"])]
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
        return {"row": np.asarray(batch["row"]), "vector": vectors, "problem": problems}


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


__all__: Sequence[str] = ("EmbedStage", "Listed", "embed_batch", "to_rows")
