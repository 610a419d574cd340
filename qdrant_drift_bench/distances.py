"""Adapted Recall@10 against a full re-embed, per collection distance, on the same data.

The question it answers: does an adapter serve a Euclid (or Manhattan) collection as well as
a Cosine one? Each distance gets its own adapter (``fit(..., distance=...)``: Cosine fits and
serves unit vectors, Euclid and Manhattan predict the legacy vector, norm included) and
every search ranks by the distance itself (exact, :func:`qdrant_drift.scores.similarity`).

Two versions of the corpus: the vectors as stored (unit rows) and, with ``--norms``, each
document's old and new vectors scaled by one per-document factor (log-normal, the spread
given), the case a Euclid collection exists for: the norm carries meaning in both models.

    python -m qdrant_drift_bench.distances --data ../shared/bench/debian --pair depth
"""

from __future__ import annotations

import argparse
import warnings
from typing import Sequence

import numpy as np

from qdrant_drift.adapters import fit
from qdrant_drift.scores import similarity

from .data import load_pair

K = 10


def _recall(queries: np.ndarray, docs: np.ndarray, relevant: np.ndarray,
            distance: str) -> float:
    """Share of queries whose relevant document is in the exact top ``K``."""
    found = 0
    for start in range(0, len(queries), 256):
        sims = similarity(queries[start : start + 256], docs, distance)
        top = np.argpartition(-sims, K - 1, axis=1)[:, :K]
        found += int((top == relevant[start : start + 256, None]).any(axis=1).sum())
    return found / len(queries)


def measure(data_dir: str, pair: str, *, docs: int, queries: int, pairs: int, norms: float,
            kind: str, distances: Sequence[str], seed: int = 0) -> list[dict[str, object]]:
    """One row per distance: full re-embed and adapted Recall@10, and their ratio."""
    data = load_pair(data_dir, pair)
    rng = np.random.default_rng(seed)
    usable = np.flatnonzero((data.relevant >= 0) & data.new_queries.any(1))
    chosen = rng.choice(usable, min(queries, len(usable)), replace=False)
    relevant_rows = np.unique(data.relevant[chosen])
    others = np.setdiff1d(np.arange(len(data.new_docs)), relevant_rows)
    rows = np.concatenate([relevant_rows, rng.choice(
        others, max(0, docs - len(relevant_rows)), replace=False)])
    position = {int(r): i for i, r in enumerate(rows)}
    relevant = np.array([position[int(data.relevant[j])] for j in chosen])
    scale = np.exp(norms * rng.normal(size=(len(rows), 1))).astype(np.float32)
    new_docs, old_docs = data.new_docs[rows] * scale, data.old_docs[rows] * scale
    new_queries = data.new_queries[chosen]
    sample = rng.choice(len(rows), min(pairs, len(rows)), replace=False)
    out = []
    for distance in distances:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            adapter = fit(kind, new_docs[sample], old_docs[sample], distance=distance,
                          candidates=("procrustes", "affine")) if kind == "auto" else fit(
                kind, new_docs[sample], old_docs[sample], distance=distance)
        stored_new, stored_old = new_docs, old_docs
        if distance == "cosine":  # what a cosine collection stores
            stored_new = new_docs / np.linalg.norm(new_docs, axis=1, keepdims=True)
            stored_old = old_docs / np.linalg.norm(old_docs, axis=1, keepdims=True)
        full = _recall(new_queries, stored_new, relevant, distance)
        adapted = _recall(adapter.transform(new_queries), stored_old, relevant, distance)
        out.append({"distance": distance, "kind": adapter.kind, "full": full,
                    "adapted": adapted, "recovery": adapted / full if full else 0.0,
                    "predicted": (adapter.quality or {}).get("predicted_recall_recovery")})
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--pair", action="append", help="drift pairs (default: ft, depth)")
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=2000, help="adapter training pairs")
    parser.add_argument("--kind", default="auto", help="auto = procrustes or affine")
    parser.add_argument("--distances", default="cosine,euclid,manhattan")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print("| pair | norms | distance | kind | full re-embed R@10 | adapted R@10 | recovery "
          "| pre-flight predicted |")
    print("|---|---|---|---|---:|---:|---:|---:|")
    for pair in args.pair or ["ft", "depth"]:
        for norms in (0.0, 0.3):
            for row in measure(args.data, pair, docs=args.docs, queries=args.queries,
                               pairs=args.pairs, norms=norms, kind=args.kind,
                               distances=args.distances.split(","), seed=args.seed):
                predicted = row["predicted"]
                print(f"| {pair} | {'unit' if norms == 0 else f'spread {norms}'} "
                      f"| {row['distance']} | {row['kind']} | {row['full']:.3f} "
                      f"| {row['adapted']:.3f} | {row['recovery']:.3f} "
                      f"| {'-' if predicted is None else f'{predicted:.3f}'} |", flush=True)


if __name__ == "__main__":
    main()
