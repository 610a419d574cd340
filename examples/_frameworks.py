"""What the framework examples share: deterministic text embeddings for an OLD and a NEW
model (no download, no torch), a small corpus, and the migration set up on embedded Qdrant.

The new model embeds a text as the normalised sum of one fixed random vector per word; the
old model is a fixed rotation of it plus a per-word perturbation: related as two real models
are (an adapter learns the map well, not perfectly).
"""

from __future__ import annotations

import zlib
from typing import Any, Callable, Sequence

import numpy as np

from qdrant_drift import MigrationSpec, fit
from qdrant_drift.lifecycle.commands import create

DIM = 32
WORDS = ("vector search index query shard replica payload filter cluster snapshot alias "
         "embedding model upgrade migration rollback cutover backfill adapter score").split()


def _word(word: str, salt: int) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(word.encode()) + salt).normal(size=DIM)


_ROTATION = np.linalg.qr(np.random.default_rng(7).normal(size=(DIM, DIM)))[0]


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x)
    return x / norm if norm > 0 else x


def embed_new(text: str) -> list[float]:
    """The NEW model."""
    return _unit(sum(_word(w, 0) for w in text.lower().split())).tolist()


def embed_old(text: str) -> list[float]:
    """The OLD model: the new one rotated, each word perturbed a little."""
    words = text.lower().split()
    return _unit(sum(_word(w, 0) @ _ROTATION + 0.2 * _word(w, 1) for w in words)).tolist()


def corpus(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct short documents of 6 words."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=6)) + f" doc{i}" for i in range(n)]


def start_migration(client: Any, collection: str, old_vector: str, *,
                    texts: Sequence[str], name: str = "upgrade") -> MigrationSpec:
    """Fit an adapter on a sample of the corpus, add the new vector, serve adapted."""
    spec = MigrationSpec(name=name, collection=collection, old_vector=old_vector,
                         new_vector="new", old_model="old-words", new_model="new-words")
    sample = list(texts)[:200]
    adapter = fit("procrustes", np.array([embed_new(t) for t in sample]),
                  np.array([embed_old(t) for t in sample]),
                  new_model="new-words", old_model="old-words")
    create(client, spec, adapter)
    return spec


def embed_texts(texts: Sequence[str]) -> list[list[float]]:
    """The NEW model over a batch (the migration file's embedder)."""
    return [embed_new(t) for t in texts]


def blue_green_behind_alias(client: Any, size: int = DIM) -> None:
    """The legacy collection as frameworks create it (the unnamed vector), behind the alias
    the app uses ("docs"): cut-over moves the alias, the app changes nothing."""
    from qdrant_client.http import models

    client.create_collection("docs_v1", vectors_config=models.VectorParams(
        size=size, distance=models.Distance.COSINE))
    client.update_collection_aliases(change_aliases_operations=[models.CreateAliasOperation(
        create_alias=models.CreateAlias(collection_name="docs_v1", alias_name="docs"))])


MIGRATION = {
    "migration": {"name": "upgrade", "collection": "docs_v1", "alias": "docs",
                  "layout": "collection", "new_collection": "docs_v2", "old_vector": "",
                  "new_vector": "", "old_model": "old-words", "new_model": "new-words"},
    "embedder": {"kind": "callable", "callable": "_frameworks:embed_texts"},
    "source": {"payload_field": "text"},
    "adapter": {"kind": "procrustes", "sample_size": 200},
    "backfill": {"batch_size": 32},
}


def walk(migration: Any, wrapped: Any, waves: list[list[str]],
         ingest: Callable[[list[str]], None],
         checks: Callable[[bool], dict[str, int | None]]) -> dict[str, dict[str, Any]]:
    """The lifecycle after ``fit``, the app ingesting a wave of documents at each step,
    then ``checks(legacy_reads)`` counting what each reader misses: adapted, hybrid (after
    a backfill), rolled back, native (after a second backfill and cut-over), finished."""
    report: dict[str, dict[str, Any]] = {}

    def step(name: str, wave: list[str] | None, legacy_reads: bool) -> None:
        wrapped.refresh()  # (replicas follow the phase within their refresh interval)
        if wave:
            ingest(wave)
        report[name] = {"plan": wrapped.plan.value, **checks(legacy_reads)}
        print(name, report[name])

    step("adapted", waves[0], legacy_reads=True)
    migration.start()
    migration.start_backfill(background=False)
    step("hybrid", waves[1], legacy_reads=True)
    migration.rollback()
    step("rolled back", waves[2], legacy_reads=True)
    migration.start()
    migration.start_backfill(background=False)
    migration.cutover()
    step("native", None, legacy_reads=False)
    migration.finish()
    step("finished", waves[3], legacy_reads=False)
    return report


def all_found(report: dict[str, dict[str, Any]]) -> bool:
    return all(v == 0 for row in report.values() for k, v in row.items()
               if "missed" in k and v is not None)
