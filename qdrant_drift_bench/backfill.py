"""``qdrant-drift bench backfill``: the worker's throughput against bare loops, side by side.

Two bare loops bound what a backfill can do. The *raw* loop embeds a batch of texts already
in memory, then ``update_vectors``, nothing else. The *bare* loop does the same but writes
exactly as the worker does (the layout's conditional write: compare-and-set filter, the check
of what landed, the stamp), so ``worker / bare`` is the worker's own overhead: finding the
work with filtered scrolls, fetching the texts, checkpoints, heartbeats, progress samples and
the thread plumbing. All run on the same items in one process, in rotating order, each on its
own copy of the collection; the worker's Qdrant calls are timed per method (the breakdown).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any, Callable, Sequence

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client.http import models

from qdrant_drift.adapters import fit
from qdrant_drift.backfill import BackfillOptions, BackfillWorker, PayloadField, Sweep
from qdrant_drift.backfill.targets import target_for
from qdrant_drift.embedders import Embedder
from qdrant_drift.lifecycle.commands import create, set_phase
from qdrant_drift.migration.spec import MigrationSpec
from qdrant_drift.sansio import drive

Log = Callable[[str], None]
SIDES = ("raw", "bare", "worker")
FAST_DIM = 64


def fast_embedder(texts: Sequence[str]) -> np.ndarray:
    """Near-free: what a GPU or a batch embedding API looks like from the worker. Rows are
    fixed by the text's length and first characters, so they are cheap but not all equal."""
    codes = np.array([[len(t), *(ord(c) for c in t[:3].ljust(3))] for t in texts],
                     dtype=np.float32).reshape(len(texts), 4)
    rows = np.tile(codes, (1, FAST_DIM // 4)) + 1.0
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


class TimedClient:
    """Seconds spent inside each client method (the engine's share of the worker's time)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.client, name)
        if not callable(target):
            return target

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return target(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start
                self.calls[name] += 1

        return timed


def _legacy(client: QdrantClient, name: str, texts: Sequence[str], old: np.ndarray) -> None:
    client.create_collection(name, vectors_config={"old": models.VectorParams(
        size=old.shape[1], distance=models.Distance.COSINE)})
    for start in range(0, len(texts), 500):
        client.upsert(name, [models.PointStruct(id=i, vector={"old": old[i].tolist()},
                                                payload={"text": texts[i]})
                             for i in range(start, min(len(texts), start + 500))])


def _migration(client: QdrantClient, name: str, old: np.ndarray, dim: int) -> MigrationSpec:
    rng = np.random.default_rng(0)  # the adapter only fixes the new dimension here
    adapter = fit("procrustes", rng.normal(size=(200, dim)).astype(np.float32),
                  rng.normal(size=(200, old.shape[1])).astype(np.float32))
    spec = MigrationSpec(name=name, collection=name, old_vector="old", new_vector="new")
    create(client, spec, adapter)
    set_phase(client, name, "backfilling")
    return spec


def _raw_loop(client: QdrantClient, name: str, texts: Sequence[str], embedder: Embedder,
              batch_size: int) -> dict[str, Any]:
    client.create_vector_name(name, "new", models.DenseVectorNameConfig(
        dense=models.DenseVectorConfig(size=_dim(embedder), distance=models.Distance.COSINE)))
    start = time.perf_counter()
    for first in range(0, len(texts), batch_size):
        vectors = np.asarray(embedder(texts[first : first + batch_size]), dtype=np.float32)
        client.update_vectors(name, [
            models.PointVectors(id=first + i, vector={"new": row.tolist()})
            for i, row in enumerate(vectors)])
    return {"items_per_s": len(texts) / (time.perf_counter() - start)}


def _bare_loop(client: QdrantClient, name: str, texts: Sequence[str], old: np.ndarray,
               embedder: Embedder, batch_size: int) -> dict[str, Any]:
    """Texts in memory, embed, then the worker's own conditional write, batch after batch."""
    source = PayloadField("text")
    target = target_for(_migration(client, name, old, _dim(embedder)), source)
    records = [models.Record(id=i, payload={"text": t}) for i, t in enumerate(texts)]
    written = 0
    start = time.perf_counter()
    for first in range(0, len(texts), batch_size):
        items = source.items(records[first : first + batch_size])
        vectors = np.asarray(embedder([item.text or "" for item in items]), dtype=np.float32)
        written += len(drive(target.write_steps(items, vectors), client).migrated)
    seconds = time.perf_counter() - start
    if written != len(texts):
        raise RuntimeError(f"bare loop wrote {written} of {len(texts)} items")
    return {"items_per_s": len(texts) / seconds}


_DIMS: dict[int, int] = {}


def _dim(embedder: Embedder) -> int:
    if id(embedder) not in _DIMS:
        _DIMS[id(embedder)] = int(np.asarray(embedder(["dimension probe"])).shape[1])
    return _DIMS[id(embedder)]


def _worker_run(client: QdrantClient, name: str, texts: Sequence[str], old: np.ndarray,
                embedder: Embedder, batch_size: int) -> dict[str, Any]:
    _migration(client, name, old, _dim(embedder))
    timed = TimedClient(client)
    worker = BackfillWorker(timed, name, embedder, PayloadField("text"),
                            options=BackfillOptions(batch_size=batch_size, order=Sweep()))
    start = time.perf_counter()
    stats = worker.run()
    seconds = time.perf_counter() - start
    if stats.written != len(texts):
        raise RuntimeError(f"worker wrote {stats.written} of {len(texts)} items")
    return {"items_per_s": len(texts) / seconds, "seconds": seconds,
            "calls_s": dict(timed.seconds), "calls": dict(timed.calls)}


def _breakdown(run: dict[str, Any]) -> dict[str, float]:
    """Where the worker's wall time went: inside Qdrant per method, and the rest (the
    worker's own Python: embedding, sweep, ledger, locks, threads)."""
    inside = {f"qdrant_{method}_s": round(s, 4) for method, s in sorted(run["calls_s"].items())}
    return {"wall_s": round(run["seconds"], 4), **inside,
            "outside_qdrant_s": round(run["seconds"] - sum(run["calls_s"].values()), 4)}


def run_backfill_bench(texts: Sequence[str], old: np.ndarray, embedder: Embedder, *,
                       batch_size: int = 64, rounds: int = 2, log: Log = print) -> dict[str, Any]:
    """Items/s of the raw loop, the bare loop and the worker, ``rounds`` times each in
    rotating order (medians, and the per-round ratios)."""
    client = QdrantClient(":memory:")
    embedder(list(texts[:batch_size]))  # warm the model up outside every timing
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for r in range(rounds):
        for which in SIDES[r % 3:] + SIDES[: r % 3]:
            name = f"bench_{which}_{r}"
            _legacy(client, name, texts, old)
            if which == "raw":
                run = _raw_loop(client, name, texts, embedder, batch_size)
            elif which == "bare":
                run = _bare_loop(client, name, texts, old, embedder, batch_size)
            else:
                run = _worker_run(client, name, texts, old, embedder, batch_size)
            runs[which].append(run)
            log(f"round {r + 1}/{rounds} {which}: {run['items_per_s']:.1f} items/s")
            client.delete_collection(name)
            if client.collection_exists("qdrant_drift_state"):
                client.delete_collection("qdrant_drift_state")
    rate = {side: [run["items_per_s"] for run in runs[side]] for side in SIDES}
    ratios = [w / b for w, b in zip(rate["worker"], rate["raw"])]
    bare_ratios = [w / b for w, b in zip(rate["worker"], rate["bare"])]
    median_run = sorted(runs["worker"], key=lambda run: run["items_per_s"])[rounds // 2]
    return {
        "items": len(texts), "batch_size": batch_size, "rounds": rounds,
        "raw_items_per_s": float(np.median(rate["raw"])),
        "bare_items_per_s": float(np.median(rate["bare"])),
        "worker_items_per_s": float(np.median(rate["worker"])),
        "ratio": float(np.median(ratios)), "ratios": ratios,
        "worker_vs_bare": float(np.median(bare_ratios)), "worker_vs_bare_ratios": bare_ratios,
        "raw_runs": rate["raw"], "bare_runs": rate["bare"], "worker_runs": rate["worker"],
        "worker_breakdown": _breakdown(median_run),
    }
