"""What the framework examples share: deterministic text embeddings for an OLD and a NEW
model (no download, no torch), a small corpus, and the migration set up on embedded Qdrant.

The new model embeds a text as the normalised sum of one fixed random vector per word; the
old model is a fixed rotation of it plus a per-word perturbation: related as two real models
are (an adapter learns the map well, not perfectly).
"""

from __future__ import annotations

import zlib
from typing import Any, Sequence

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
