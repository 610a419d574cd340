"""Reading a benchmark corpus in the ../shared/bench format (vectors, qrels, meta.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qdrant_drift.errors import DriftError


@dataclass(frozen=True)
class PairData:
    """Everything a drift-pair benchmark needs, as float32 arrays."""

    corpus: str
    pair: str
    old_model: str
    new_model: str
    old_docs: np.ndarray
    new_docs: np.ndarray
    old_queries: np.ndarray
    new_queries: np.ndarray
    relevant: np.ndarray  # doc row of each query's relevant document


def _vectors(root: Path, model: str, part: str) -> np.ndarray:
    path = root / "vectors" / f"{model}.{part}.npy"
    if not path.exists():
        raise DriftError(f"missing benchmark vectors: {path}")
    return np.load(path).astype(np.float32)


def load_pair(data_dir: str | Path, pair: str) -> PairData:
    """Load one drift pair of a corpus; clear errors for a wrong folder or pair name."""
    root = Path(data_dir)
    meta_path = root / "meta.json"
    if not meta_path.exists():
        raise DriftError(f"{root} is not a benchmark corpus (no meta.json)")
    meta = json.loads(meta_path.read_text())
    pairs = meta.get("pairs", {})
    if pair not in pairs:
        raise DriftError(f"unknown pair {pair!r} in {root}; known: {sorted(pairs)}")
    old_model, new_model = pairs[pair]["old"], pairs[pair]["new"]
    qrels = np.loadtxt(root / "qrels.tsv", dtype=np.int64, delimiter="\t", ndmin=2)
    relevant = np.full(int(qrels[:, 0].max()) + 1, -1, dtype=np.int64)
    relevant[qrels[:, 0]] = qrels[:, 1]
    return PairData(
        corpus=str(meta.get("corpus", root.name)),
        pair=pair,
        old_model=old_model,
        new_model=new_model,
        old_docs=_vectors(root, old_model, "docs"),
        new_docs=_vectors(root, new_model, "docs"),
        old_queries=_vectors(root, old_model, "queries"),
        new_queries=_vectors(root, new_model, "queries"),
        relevant=relevant,
    )


def load_texts(data_dir: str | Path, n: int) -> list[str]:
    """The first ``n`` document texts of a bench corpus (``docs.jsonl``, row order)."""
    texts: list[str] = []
    with open(Path(data_dir) / "docs.jsonl", encoding="utf-8") as lines:
        for line in lines:
            texts.append(json.loads(line)["text"])
            if len(texts) >= n:
                break
    return texts
