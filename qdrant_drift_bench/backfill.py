"""``qdrant-drift bench backfill``: the worker's throughput against bare loops, side by side.

Two bare loops bound what a backfill can do. The *raw* loop embeds a batch of texts already
in memory, then ``update_vectors``, nothing else. The *bare* loop does the same but writes
exactly as the worker does (the layout's conditional write: compare-and-set filter, the check
of what landed, the stamp), so ``worker / bare`` is the worker's own overhead: finding the
work with filtered scrolls, fetching the texts, checkpoints, heartbeats, progress samples and
the thread plumbing. All run on the same items in one process, in rotating order, each on its
own copy of the collection; the worker's Qdrant calls are timed per method (the breakdown).
The *ray* side is the Ray Data engine on a local Ray instance (the ``ray`` extra): the same
conditional writes from the driver, embedding in Ray Data tasks (no GPU here) whose worker
builds its own embedder. Ray is started (``ray.init``, ``import ray.data``) before any timing,
as a driver of a running cluster would find it, and the result says so
(``ray_started_before_timing``, ``ray_init_s``, ``ray_data_import_s``); each ray run's items/s
include what every backfill pays: listing, planning the dataset, its first block. The first ray
run of the process also starts the job's task worker (Ray Data's import there: ``ray_runs[0]``,
``ray_first_run_items_per_s``); the medians of 3 rounds or more leave it out, as a driver's
later backfills and passes do. ``ray_first_write_s`` is how long its first write took,
``ray_after_first_items_per_s`` the rate after it.
"""

from __future__ import annotations

import functools
import gc
import os
import time
from collections import defaultdict
from typing import Any, Callable, Sequence

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client.http import models

from qdrant_drift.adapters import fit
from qdrant_drift.backfill import BackfillOptions, BackfillWorker, PayloadField, Sweep
from qdrant_drift.backfill.targets import target_for
from qdrant_drift.embedders import Embedder, given
from qdrant_drift.local import is_local
from qdrant_drift.lifecycle.commands import create, set_phase
from qdrant_drift.migration.spec import MigrationSpec
from qdrant_drift.sansio import drive

from .fast import FAST_DIM, fast_embedder  # noqa: F401 - the bench's near-free embedder

Log = Callable[[str], None]
SIDES = ("raw", "bare", "worker")
ENGINES = (*SIDES, "ray")


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
    target = target_for(_migration(client, name, old, _dim(embedder)), source,
                        embedded=is_local(client))
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


def _ray_run(client: QdrantClient, name: str, texts: Sequence[str], old: np.ndarray,
             embedder: Embedder, embedder_factory: Callable[[], Embedder],
             batch_size: int) -> dict[str, Any]:
    from qdrant_drift.backfill.ray_engine import RayBackfill

    _migration(client, name, old, _dim(embedder))
    first: list[float] = []
    engine = RayBackfill(client, name, embedder_factory, PayloadField("text"),
                         options=BackfillOptions(batch_size=batch_size, order=Sweep()),
                         on_batch=lambda e, outcome: first or first.append(
                             (time.perf_counter(), e.stats.written)))
    start = time.perf_counter()
    stats = engine.run()
    seconds = time.perf_counter() - start
    if stats.written != len(texts):
        raise RuntimeError(f"ray engine wrote {stats.written} of {len(texts)} items")
    at, done = first[0]
    return {"items_per_s": len(texts) / seconds, "seconds": seconds,
            "first_write_s": at - start, "after_first_items_per_s": (len(texts) - done) / max(
                1e-9, seconds - (at - start))}


def _breakdown(run: dict[str, Any]) -> dict[str, float]:
    """Where the worker's wall time went: inside Qdrant per method, and the rest (the
    worker's own Python: embedding, sweep, ledger, locks, threads)."""
    inside = {f"qdrant_{method}_s": round(s, 4) for method, s in sorted(run["calls_s"].items())}
    return {"wall_s": round(run["seconds"], 4), **inside,
            "outside_qdrant_s": round(run["seconds"] - sum(run["calls_s"].values()), 4)}


def run_backfill_bench(texts: Sequence[str], old: np.ndarray, embedder: Embedder, *,
                       batch_size: int = 64, rounds: int = 2, log: Log = print,
                       engines: Sequence[str] = SIDES,
                       embedder_factory: Callable[[], Embedder] | None = None
                       ) -> dict[str, Any]:
    """Items/s of each of ``engines`` (raw loop, bare loop, worker, ray), ``rounds`` times
    each in rotating order (medians, and the per-round ratios). Ray workers build their
    embedder with ``embedder_factory`` (default: a copy of ``embedder``)."""
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown or not engines:
        raise ValueError(f"engines must be some of {', '.join(ENGINES)}, got {unknown or 'none'}")
    engines = tuple(engines)
    client = QdrantClient(":memory:")
    embedder(list(texts[:batch_size]))  # warm the model up outside every timing
    if "ray" in engines:
        import ray

        started = time.perf_counter()
        if not ray.is_initialized():  # the instance starts untimed, the job's workers timed
            ray.init(num_cpus=len(os.sched_getaffinity(0)), include_dashboard=False,
                     log_to_driver=False)
        initialised = time.perf_counter()
        import ray.data  # noqa: F401 - the driver's own import, once per driver process

        ray_start = {"ray_started_before_timing": True,
                     "ray_init_s": round(initialised - started, 3),
                     "ray_data_import_s": round(time.perf_counter() - initialised, 3),
                     "ray_cpus": ray.cluster_resources().get("CPU", 0)}
        log(f"not timed, as a driver connected to a running cluster has paid it: ray.init "
            f"{ray_start['ray_init_s']:.1f} s, import ray.data "
            f"{ray_start['ray_data_import_s']:.1f} s ({ray_start['ray_cpus']:.0f} CPUs); each "
            f"ray run's time includes its listing, dataset planning and first block (the first "
            f"run also the job's task worker start)")
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in engines}
    for r in range(rounds):
        turn = r % len(engines)
        for which in engines[turn:] + engines[:turn]:
            name = f"bench_{which}_{r}"
            _legacy(client, name, texts, old)
            gc.collect()  # no side pays for the garbage the one before it left
            if which == "raw":
                run = _raw_loop(client, name, texts, embedder, batch_size)
            elif which == "bare":
                run = _bare_loop(client, name, texts, old, embedder, batch_size)
            elif which == "worker":
                run = _worker_run(client, name, texts, old, embedder, batch_size)
            else:
                run = _ray_run(client, name, texts, old, embedder,
                               embedder_factory or functools.partial(given, embedder),
                               batch_size)
            runs[which].append(run)
            log(f"round {r + 1}/{rounds} {which}: {run['items_per_s']:.1f} items/s")
            client.delete_collection(name)
            if client.collection_exists("qdrant_drift_state"):
                client.delete_collection("qdrant_drift_state")
    rate = {side: [run["items_per_s"] for run in runs[side]] for side in engines}
    result: dict[str, Any] = {"items": len(texts), "batch_size": batch_size, "rounds": rounds}
    if "ray" in engines:
        result.update(ray_start)
    for side in engines:
        result[f"{side}_items_per_s"] = float(np.median(rate[side]))
        result[f"{side}_runs"] = rate[side]
    for a, b in (("worker", "raw"), ("worker", "bare"), ("ray", "worker"), ("ray", "bare")):
        if a in rate and b in rate:
            ratios = [x / y for x, y in zip(rate[a], rate[b])]
            result[f"{a}_vs_{b}"], result[f"{a}_vs_{b}_ratios"] = float(np.median(ratios)), ratios
    if "worker_vs_raw" in result:  # the names earlier results used
        result["ratio"], result["ratios"] = result["worker_vs_raw"], result["worker_vs_raw_ratios"]
    if "worker" in runs:
        median_run = sorted(runs["worker"], key=lambda run: run["items_per_s"])[rounds // 2]
        result["worker_breakdown"] = _breakdown(median_run)
    if "ray" in runs:
        for key in ("first_write_s", "after_first_items_per_s"):
            result[f"ray_{key}"] = float(np.median([run[key] for run in runs["ray"]]))
        result["ray_first_run_items_per_s"] = rate["ray"][0]
    return result
