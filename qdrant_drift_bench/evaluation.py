"""Retrieval metrics with exact search (faiss): the ground truth for benchmarks and reports."""

from __future__ import annotations

import numpy as np

from qdrant_drift.extras import require


def exact_search(queries: np.ndarray, docs: np.ndarray, k: int) -> np.ndarray:
    """Indices (n_queries, k) of the top-k docs by inner product, best first."""
    return exact_search_scored(queries, docs, k)[0]


def exact_search_scored(queries: np.ndarray, docs: np.ndarray,
                        k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and inner-product scores (n_queries, k) of the top-k docs, best first
    (index -1 where fewer than k docs exist)."""
    faiss = require("faiss")
    docs = np.ascontiguousarray(docs, dtype=np.float32)
    index = faiss.IndexFlatIP(docs.shape[1])
    index.add(docs)
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return ids, scores


def hit_ranks(ids: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """1-based rank of each query's relevant doc within its result list, 0 where absent."""
    hits = ids == np.asarray(relevant)[:, None]
    return np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)


def in_top_k(ranks: np.ndarray, k: int = 10) -> np.ndarray:
    """Per query: its relevant doc is among the first ``k`` (rank 0 means absent)."""
    return (ranks > 0) & (ranks <= k)


def recall_at_k(ranks: np.ndarray, k: int = 10) -> float:
    return float(in_top_k(ranks, k).mean()) if len(ranks) else 0.0


def mrr_at_k(ranks: np.ndarray, k: int = 10) -> float:
    inside = in_top_k(ranks, k)
    return float(np.where(inside, 1.0 / np.maximum(ranks, 1), 0.0).mean()) if len(ranks) else 0.0


def retrieval_quality(
    queries: np.ndarray, docs: np.ndarray, relevant: np.ndarray, k: int = 10
) -> dict[str, float]:
    """Recall@k and MRR@k of single-relevant-doc queries against a doc matrix."""
    ranks = hit_ranks(exact_search(queries, docs, k), relevant)
    return {f"recall_at_{k}": recall_at_k(ranks, k), f"mrr_at_{k}": mrr_at_k(ranks, k)}
