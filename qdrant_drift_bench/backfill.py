"""``qdrant-drift bench backfill``: the worker's throughput against a bare loop, side by side.

The bare loop is the least a backfill can do: embed a batch of texts already in memory, then
``update_vectors``, nothing else. The worker does everything the bare loop skips (it finds
the work with filtered scrolls, fetches the texts, writes conditionally, checks what landed,
checkpoints, heartbeats, samples progress) and overlaps fetch, embed and write to pay for it.
Both run on the same items in one process, in alternating order, each on its own copy of the
collection.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client.http import models

from qdrant_drift.adapters import fit
from qdrant_drift.backfill import BackfillOptions, BackfillWorker, PayloadField, Sweep
from qdrant_drift.embedders import Embedder
from qdrant_drift.lifecycle.commands import create, set_phase
from qdrant_drift.migration.spec import MigrationSpec

Log = Callable[[str], None]


def _legacy(client: QdrantClient, name: str, texts: Sequence[str], old: np.ndarray) -> None:
    client.create_collection(name, vectors_config={"old": models.VectorParams(
        size=old.shape[1], distance=models.Distance.COSINE)})
    for start in range(0, len(texts), 500):
        client.upsert(name, [models.PointStruct(id=i, vector={"old": old[i].tolist()},
                                                payload={"text": texts[i]})
                             for i in range(start, min(len(texts), start + 500))])


def _bare_loop(client: QdrantClient, name: str, texts: Sequence[str], embedder: Embedder,
               batch_size: int) -> float:
    client.create_vector_name(name, "new", models.DenseVectorNameConfig(
        dense=models.DenseVectorConfig(size=_dim(embedder), distance=models.Distance.COSINE)))
    start = time.perf_counter()
    for first in range(0, len(texts), batch_size):
        vectors = np.asarray(embedder(texts[first : first + batch_size]), dtype=np.float32)
        client.update_vectors(name, [
            models.PointVectors(id=first + i, vector={"new": row.tolist()})
            for i, row in enumerate(vectors)])
    return len(texts) / (time.perf_counter() - start)


_DIMS: dict[int, int] = {}


def _dim(embedder: Embedder) -> int:
    if id(embedder) not in _DIMS:
        _DIMS[id(embedder)] = int(np.asarray(embedder(["dimension probe"])).shape[1])
    return _DIMS[id(embedder)]


def _worker_run(client: QdrantClient, name: str, texts: Sequence[str], old: np.ndarray,
                embedder: Embedder, batch_size: int) -> float:
    dim = _dim(embedder)
    rng = np.random.default_rng(0)  # the adapter only fixes the new dimension here
    adapter = fit("procrustes", rng.normal(size=(200, dim)).astype(np.float32),
                  rng.normal(size=(200, old.shape[1])).astype(np.float32))
    spec = MigrationSpec(name=name, collection=name, old_vector="old", new_vector="new")
    create(client, spec, adapter)
    set_phase(client, name, "backfilling")
    worker = BackfillWorker(client, name, embedder, PayloadField("text"),
                            options=BackfillOptions(batch_size=batch_size, order=Sweep()))
    start = time.perf_counter()
    stats = worker.run()
    seconds = time.perf_counter() - start
    if stats.written != len(texts):
        raise RuntimeError(f"worker wrote {stats.written} of {len(texts)} items")
    return len(texts) / seconds


def run_backfill_bench(texts: Sequence[str], old: np.ndarray, embedder: Embedder, *,
                       batch_size: int = 64, rounds: int = 2, log: Log = print) -> dict[str, Any]:
    """Items/s of the bare loop and of the worker, ``rounds`` times in alternating order."""
    client = QdrantClient(":memory:")
    embedder(list(texts[:batch_size]))  # warm the model up outside both timings
    raw, worker = [], []
    for r in range(rounds):
        order = ("raw", "worker") if r % 2 == 0 else ("worker", "raw")
        for which in order:
            name = f"bench_{which}_{r}"
            _legacy(client, name, texts, old)
            if which == "raw":
                raw.append(_bare_loop(client, name, texts, embedder, batch_size))
            else:
                worker.append(_worker_run(client, name, texts, old, embedder, batch_size))
            log(f"round {r + 1}/{rounds} {which}: "
                f"{(raw if which == 'raw' else worker)[-1]:.1f} items/s")
            client.delete_collection(name)
    ratios = [w / b for w, b in zip(worker, raw)]
    return {
        "items": len(texts), "batch_size": batch_size, "rounds": rounds,
        "raw_items_per_s": float(np.median(raw)), "worker_items_per_s": float(np.median(worker)),
        "ratio": float(np.median(ratios)), "ratios": ratios,
        "raw_runs": raw, "worker_runs": worker,
    }
