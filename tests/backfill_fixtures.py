"""A small text corpus on embedded Qdrant for the backfill: the 'new model' is a
deterministic text embedder, so the right new vector of every point is known."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client.http import models

from qdrant_drift import MigrationSpec, fit
from qdrant_drift.lifecycle.commands import create, set_phase

DIM = 16


def text_vector(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    v = np.random.default_rng(seed).normal(size=DIM)
    return (v / np.linalg.norm(v)).astype(np.float32)


def embed_texts(texts: Sequence[str]) -> np.ndarray:
    """The 'new model': a pure function of the text."""
    return np.stack([text_vector(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)


def doc_text(i: int, version: int = 0) -> str:
    return f"document {i} about topic {i % 7}" + (f" (edit {version})" if version else "")


@dataclass
class TextWorld:
    client: QdrantClient
    spec: MigrationSpec
    n: int

    def new_vector(self, pid: Any) -> np.ndarray | None:
        spec = self.spec
        collection = spec.native_collection
        found = self.client.retrieve(collection, [pid], with_vectors=True, with_payload=False)
        if not found:
            return None
        vec = found[0].vector
        vec = vec.get(spec.new_vector) if isinstance(vec, dict) else vec
        return None if vec is None else np.asarray(vec, dtype=np.float32)

    def text(self, pid: Any) -> str | None:
        found = self.client.retrieve(self.spec.collection, [pid], with_payload=True)
        return (found[0].payload or {}).get("text") if found else None


def fragile_embed_texts(texts: Sequence[str]) -> np.ndarray:
    """The same model, breaking on a batch that holds the text "EXPLODE" (a tokenizer that
    crashes) and giving NaN for the text "NAN": the poison items a backfill dead-letters."""
    if "EXPLODE" in texts:
        raise RuntimeError("tokenizer crashed")
    out = embed_texts(texts)
    out[[i for i, t in enumerate(texts) if t == "NAN"]] = np.nan
    return out


def picky_embed_texts(texts: Sequence[str]) -> np.ndarray:
    """The same model, failing on any batch that holds document 7 (a text it cannot take)."""
    if doc_text(7) in texts:
        raise ValueError("cannot tokenize document 7")
    return embed_texts(texts)


_REFUSED: list[str] = []


def first_text_refused(texts: Sequence[str]) -> np.ndarray:
    """The same model, refusing the first text it is ever asked for (in this process):
    a fit whose very first batch is poison."""
    if not _REFUSED:
        _REFUSED.append(texts[0])
    if _REFUSED[0] in texts:
        raise ValueError("cannot take that text")
    return embed_texts(texts)


def down_embed_texts(texts: Sequence[str]) -> np.ndarray:
    """The same model, behind a service that is down while ``DRIFT_TEST_EMBEDDER_DOWN`` is
    set (a process's environment: a fit in the test's process still embeds)."""
    import os

    if os.environ.get("DRIFT_TEST_EMBEDDER_DOWN"):
        raise ConnectionError("embedding service unreachable")
    return embed_texts(texts)


def slow_embed_texts(texts: Sequence[str]) -> np.ndarray:
    """The same model, slow enough that a kill lands mid-backfill (``DRIFT_TEST_EMBED_DELAY``
    seconds a batch, 0.05 by default); touches the file named by ``DRIFT_TEST_STARTED`` on
    its first call, so a test knows the worker is under way."""
    import os
    import time

    marker = os.environ.get("DRIFT_TEST_STARTED")
    if marker and not os.path.exists(marker):
        open(marker, "w").close()
    time.sleep(float(os.environ.get("DRIFT_TEST_EMBED_DELAY", "0.05")))
    return embed_texts(texts)


def old_vectors(n: int) -> np.ndarray:
    """The legacy model: a fixed rotation of the new one plus noise (an adapter can learn it)."""
    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(DIM, DIM)))
    new = embed_texts([doc_text(i) for i in range(n)])
    old = new @ rotation + 0.05 * rng.normal(size=(n, DIM))
    return (old / np.linalg.norm(old, axis=1, keepdims=True)).astype(np.float32)


def build_legacy_collection(client: QdrantClient, n: int, collection: str = "docs") -> None:
    """A collection served by the old model only: what a team has before it migrates."""
    old = old_vectors(n)
    client.create_collection(collection, vectors_config={
        "old": models.VectorParams(size=DIM, distance=models.Distance.COSINE)})
    for start in range(0, n, 500):
        client.upsert(collection, [models.PointStruct(id=i, vector={"old": old[i].tolist()},
                                                  payload={"text": doc_text(i), "n": i})
                               for i in range(start, min(n, start + 500))])


def build_text_world(n: int = 300, *, layout: str = "named", client: QdrantClient | None = None,
                     name: str = "upgrade") -> TextWorld:
    client = client or QdrantClient(":memory:")
    for stale in ("docs", "docs_v2", "qdrant_drift_state"):  # a server is shared by tests
        if client.collection_exists(stale):
            client.delete_collection(stale)
    build_legacy_collection(client, n)
    old = old_vectors(n)
    new = embed_texts([doc_text(i) for i in range(n)])
    adapter = fit("procrustes", new, old, new_model="new-m", old_model="old-m")
    extra = ({"layout": "collection", "new_collection": "docs_v2"} if layout == "collection"
             else {})
    spec = MigrationSpec(name=name, collection="docs", old_vector="old", new_vector="new",
                         old_model="old-m", new_model="new-m", **extra)
    create(client, spec, adapter)
    set_phase(client, name, "backfilling")
    return TextWorld(client=client, spec=spec, n=n)


def wrong_vectors(world: TextWorld) -> list[Any]:
    """Ids whose new vector is missing or not the embedding of their current text."""
    bad = []
    for i in range(world.n):
        text = world.text(i)
        if text is None:
            continue
        vec = world.new_vector(i)
        if vec is None or not np.allclose(vec, text_vector(text), atol=1e-5):
            bad.append(i)
    return bad


class PayloadEditAfterCopy:
    """A backfill's ``on_batch`` hook: once point ``pid`` is copied (blue-green), a plain
    client edits its payload (its text and a new key). ``copied_again`` says whether the
    new collection ended up with the edit and every vector matches its text."""

    def __init__(self, world: TextWorld, pid: int = 3) -> None:
        self.world, self.pid, self.edited = world, pid, False

    def __call__(self, engine: Any, outcome: Any) -> None:
        if not self.edited and self.pid in outcome.migrated:
            self.edited = True
            self.world.client.set_payload(
                "docs", {"text": doc_text(self.pid, version=1), "tag": "x"}, points=[self.pid])

    def copied_again(self) -> bool:
        copy = self.world.client.retrieve("docs_v2", [self.pid], with_payload=True)[0].payload
        return (self.edited and copy["text"] == doc_text(self.pid, version=1)
                and copy["tag"] == "x" and wrong_vectors(self.world) == [])
