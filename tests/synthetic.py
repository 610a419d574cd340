"""Synthetic drift with a known ground-truth map, and tiny corpora in the bench format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def random_orthogonal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(max(rows, cols), max(rows, cols))))
    return q[:rows, :cols].astype(np.float32)


def drifted_pairs(
    n: int, new_dim: int, old_dim: int, *, noise: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(new, old, true_map): old = new @ true_map (+ noise), both unit-normalised."""
    rng = np.random.default_rng(seed)
    new = unit(rng.normal(size=(n, new_dim)))
    true_map = random_orthogonal(rng, new_dim, old_dim)
    old = new @ true_map + noise * rng.normal(size=(n, old_dim))
    return new, unit(old), true_map


def topic_only_pairs() -> tuple[object, np.ndarray, np.ndarray]:
    """A map that keeps topics but loses items, and its held-out pairs: the legacy model saw
    3 of 32 directions, so documents stay near their topic but cannot be told apart (a
    lexical model replaced by a semantic one)."""
    from qdrant_drift.adapters.maps import LinearMap

    rng = np.random.default_rng(7)
    new = unit(rng.normal(size=(400, 32)))
    old = unit(new[:, :3] + 0.05 * rng.normal(size=(400, 3)))
    weight = np.zeros((32, 3), np.float32)
    weight[:3, :3] = np.eye(3)
    return LinearMap(weight=weight, bias=np.zeros(3, np.float32)), new, old


def write_bench_corpus(root: Path, *, n_docs: int = 1500, n_queries: int = 200,
                       dim: int = 32, seed: int = 0) -> Path:
    """A tiny corpus in the ../shared/bench format: queries are noisy copies of their doc."""
    rng = np.random.default_rng(seed)
    (root / "vectors").mkdir(parents=True)
    topics = unit(rng.normal(size=(n_docs, dim)))
    rotation = random_orthogonal(rng, dim, dim)
    doc_rows = rng.choice(n_docs, n_queries, replace=False)
    queries = unit(topics[doc_rows] + 0.35 * rng.normal(size=(n_queries, dim)))
    models = {
        "old": (topics, queries),
        "new": (unit(topics @ rotation + 0.1 * rng.normal(size=(n_docs, dim))),
                unit(queries @ rotation)),
    }
    for name, (docs, qs) in models.items():
        np.save(root / "vectors" / f"{name}.docs.npy", docs.astype(np.float16))
        np.save(root / "vectors" / f"{name}.queries.npy", qs.astype(np.float16))
    (root / "qrels.tsv").write_text(
        "".join(f"{j}\t{int(i)}\n" for j, i in enumerate(doc_rows))
    )
    meta = {"corpus": "synthetic", "n_docs": n_docs, "n_queries": n_queries,
            "pairs": {"rot": {"old": "old", "new": "new", "drift": "rotation + noise"}}}
    (root / "meta.json").write_text(json.dumps(meta))
    return root
