"""``qdrant-drift bench chaos``: what was tried against a migration, and what was lost.

Real embedded Qdrant, real vectors: the documents of a ../shared/bench corpus, whose "new
model" is its stored new-model vectors (a lookup by text: the real model's real output,
computed once). Scenarios:

- kill -9 of a backfill worker process at random moments, restarting it each time;
- app upserts, deletes and payload edits racing the worker;
- transient faults injected into every Qdrant call, during the backfill and under queries;
- concurrent query load during the backfill, cut-over and rollback;
- the state collection vanishing while serving;
- bad input of every kind, each expected to fail clearly and write nothing.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client.http import models

from qdrant_drift.adapters import fit
from qdrant_drift.backfill import BackfillOptions, BackfillWorker, PayloadField
from qdrant_drift.local import SerializedClient
from qdrant_drift.serving.client import DriftClient
from qdrant_drift.errors import DriftError
from .faults import FaultInjectingClient, make_fault
from qdrant_drift.lifecycle.commands import create, set_phase
from qdrant_drift.migration.spec import MigrationSpec
from qdrant_drift.vectors import unit_rows
from .data import load_pair, load_texts

Log = Callable[[str], None]
NAME = "chaos"
COLLECTION = "docs"


class LookupEmbedder:
    """The new model as the benchmark recorded it: text -> its stored vector. Counts every
    item it embeds (to a file when given: a killed process cannot report)."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray,
                 count_file: str | None = None, delay: float = 0.0) -> None:
        self.index = {t: i for i, t in enumerate(texts)}
        self.vectors, self.count_file, self.delay = vectors, count_file, delay
        self.embedded = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if self.delay:
            time.sleep(self.delay)
        self.embedded += len(texts)
        if self.count_file:
            with open(self.count_file, "a") as out:
                out.write(f"{len(texts)}\n")
        return self.vectors[[self.index[t] for t in texts]]


def _corpus(data: Path, pair: str, n: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    texts = load_texts(data, n)
    vectors = load_pair(data, pair)
    return texts, unit_rows(vectors.old_docs[:n]), unit_rows(vectors.new_docs[:n])


def _setup(client: Any, texts: Sequence[str], old: np.ndarray, new: np.ndarray) -> MigrationSpec:
    for stale in (COLLECTION, "qdrant_drift_state"):
        if client.collection_exists(stale):
            client.delete_collection(stale)
    client.create_collection(COLLECTION, vectors_config={"old": models.VectorParams(
        size=old.shape[1], distance=models.Distance.COSINE)})
    for start in range(0, len(texts), 500):
        client.upsert(COLLECTION, [models.PointStruct(
            id=i, vector={"old": old[i].tolist()}, payload={"text": texts[i]})
            for i in range(start, min(len(texts), start + 500))])
    adapter = fit("procrustes", new[: min(2000, len(new))], old[: min(2000, len(old))])
    spec = MigrationSpec(name=NAME, collection=COLLECTION, old_vector="old", new_vector="new")
    create(client, spec, adapter)
    set_phase(client, NAME, "backfilling")
    return spec


def _audit(client: Any, expected: dict[Any, np.ndarray | None]) -> tuple[int, int]:
    """(lost, stale): points missing or without a new vector; new vectors not as expected."""
    lost = stale = 0
    ids = list(expected)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found = {p.id: p for p in client.retrieve(COLLECTION, chunk, with_vectors=["new"])}
        for pid in chunk:
            want = expected[pid]
            if want is None:
                continue
            point = found.get(pid)
            vec = (point.vector or {}).get("new") if point is not None else None
            if vec is None:
                lost += 1
            elif not np.allclose(vec, want, atol=1e-4):
                stale += 1
    return lost, stale


# -- kill -9 --------------------------------------------------------------------------------
WORKER_SCRIPT = """
import sys, numpy as np
from qdrant_client import QdrantClient
from qdrant_drift_bench.chaos import LookupEmbedder, NAME
from qdrant_drift.backfill import BackfillOptions, BackfillWorker, PayloadField
db, corpus, counts, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
data = np.load(corpus, allow_pickle=False)
texts = [str(t) for t in data["texts"]]
embedder = LookupEmbedder(texts, data["new"], counts, delay=0.02)
client = QdrantClient(path=db)
BackfillWorker(client, NAME, embedder, PayloadField("text"), worker_id="chaos-worker",
               options=BackfillOptions(batch_size=batch, heartbeat_timeout=5.0)).run()
client.close()
print("finished")
"""


def kill_scenario(texts: Sequence[str], old: np.ndarray, new: np.ndarray, *, kills: int,
                  batch_size: int, seed: int, log: Log) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        db, corpus, counts = f"{tmp}/qdrant", f"{tmp}/corpus.npz", f"{tmp}/counts"
        np.savez(corpus, texts=np.array(texts), new=new)
        client = QdrantClient(path=db)
        _setup(client, texts, old, new)
        client.close()
        script = [sys.executable, "-c", WORKER_SCRIPT, db, corpus, counts, str(batch_size)]
        done, killed = False, 0
        while not done:
            worker = subprocess.Popen(script, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
            if killed < kills:
                _wait_started(counts, worker)
                time.sleep(rng.uniform(0.0, 0.4))
                if worker.poll() is None:
                    worker.send_signal(signal.SIGKILL)
                    killed += 1
            out, err = worker.communicate(timeout=600)
            done = worker.returncode == 0 and "finished" in out
            if worker.returncode not in (0, -signal.SIGKILL):
                raise RuntimeError(f"worker failed: {err[-2000:]}")
            log(f"kill -9: {killed}/{kills} kills so far")
        embedded = sum(int(x) for x in Path(counts).read_text().split())
        client = QdrantClient(path=db)
        lost, stale = _audit(client, {i: new[i] for i in range(len(texts))})
        client.close()
    redone = max(0, embedded - len(texts))
    return {"kills": killed, "lost": lost, "stale": stale, "items_redone": redone,
            "batches_redone": -(-redone // batch_size)}


def _wait_started(counts: str, worker: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until the worker has embedded something since the last kill (start-up varies)."""
    before = Path(counts).read_text().count("\n") if os.path.exists(counts) else 0
    deadline = time.time() + timeout
    while time.time() < deadline and worker.poll() is None:
        now = Path(counts).read_text().count("\n") if os.path.exists(counts) else 0
        if now > before:
            return
        time.sleep(0.01)


# -- races ----------------------------------------------------------------------------------
def race_scenario(texts: Sequence[str], old: np.ndarray, new: np.ndarray, *, operations: int,
                  batch_size: int, seed: int, log: Log) -> dict[str, Any]:
    """App writes through DriftClient racing a worker; returns what got clobbered or resurrected."""
    client = SerializedClient(QdrantClient(":memory:"))
    _setup(client, texts, old, new)
    app = DriftClient(client, NAME, refresh_interval=0)
    rng = np.random.default_rng(seed)
    n = len(texts)
    expected: dict[Any, np.ndarray | None] = {i: new[i] for i in range(n)}
    deleted: set[Any] = set()
    app_written: set[Any] = set()
    worker = BackfillWorker(client, NAME, LookupEmbedder(texts, new, delay=0.002),
                            PayloadField("text"),
                            options=BackfillOptions(batch_size=batch_size))
    thread = threading.Thread(target=worker.run)
    thread.start()
    for _ in range(operations):
        pid = int(rng.integers(0, n))
        kind = rng.choice(["upsert", "delete", "edit"], p=[0.5, 0.25, 0.25])
        if kind == "upsert":  # the app writes a fresh vector (and content) for the point
            fresh = unit_rows(rng.normal(size=(1, new.shape[1])))[0]
            app.upsert(COLLECTION, [models.PointStruct(
                id=pid, vector={"new": fresh.tolist()}, payload={"text": f"app text {pid}"})])
            expected[pid] = fresh
            deleted.discard(pid)
            app_written.add(pid)
        elif kind == "delete":
            app.delete(COLLECTION, points_selector=models.PointIdsList(points=[pid]))
            expected[pid] = None
            deleted.add(pid)
            app_written.discard(pid)
        elif pid not in deleted and pid not in app_written:
            # a content edit racing the backfill: whatever it writes must match the new text.
            # Only points not migrated yet (a migrated one would keep its vector: the app
            # edited without re-embedding); check and edit as one step (the lock is shared).
            with client.lock:
                found = client.retrieve(COLLECTION, [pid], with_vectors=["new"])
                if found and "new" not in (found[0].vector or {}):
                    other = int(rng.integers(0, n))
                    app.set_payload(COLLECTION, payload={"text": texts[other]}, points=[pid])
                    expected[pid] = new[other]
    thread.join()
    clobbered = sum(1 for pid in app_written if not _same(client, pid, expected[pid]))
    resurrected = len(client.retrieve(COLLECTION, sorted(deleted))) if deleted else 0
    lost, stale = _audit(client, {k: v for k, v in expected.items() if k not in app_written})
    log(f"races: {operations} app operations, {len(app_written)} app-written, "
        f"{len(deleted)} deleted")
    return {"operations": operations, "clobbered": clobbered, "resurrected": resurrected,
            "race_lost": lost, "race_stale": stale}


def _same(client: Any, pid: Any, want: np.ndarray | None) -> bool:
    found = client.retrieve(COLLECTION, [pid], with_vectors=["new"])
    vec = (found[0].vector or {}).get("new") if found else None
    return want is not None and vec is not None and np.allclose(vec, want, atol=1e-4)


# -- faults ---------------------------------------------------------------------------------
def fault_scenario(texts: Sequence[str], old: np.ndarray, new: np.ndarray, queries: np.ndarray,
                   *, rate: float, batch_size: int, seed: int, log: Log) -> dict[str, Any]:
    base = QdrantClient(":memory:")
    _setup(base, texts, old, new)
    faulty = FaultInjectingClient(base, rate=rate, seed=seed)
    stats = BackfillWorker(faulty, NAME, LookupEmbedder(texts, new), PayloadField("text"),
                           options=BackfillOptions(batch_size=batch_size, max_attempts=20,
                                                   max_retry_wait=0.05)).run()
    lost, stale = _audit(base, {i: new[i] for i in range(len(texts))})
    injected_backfill = faulty.log.injected
    # queries through DriftClient on a faulty client: every failure must be an injected one
    app = _first_success(lambda: DriftClient(faulty, NAME, refresh_interval=0))
    failed = wrapper_errors = 0
    for q in queries:
        try:
            response = app.query_points(COLLECTION, query=q, using="new", limit=10)
            assert len(response.points) == 10
        except Exception as exc:  # noqa: BLE001 - sorted below
            failed += 1
            injected = type(make_fault("connection")), type(make_fault("timeout")), \
                type(make_fault("503"))
            wrapper_errors += not isinstance(exc, injected)
    log(f"faults: {injected_backfill} injected into the backfill, {stats.retries} retries; "
        f"{failed} of {len(queries)} queries failed, {wrapper_errors} not by an injected fault")
    return {"faults_injected": faulty.log.injected, "fault_lost": lost, "fault_stale": stale,
            "backfill_retries": stats.retries, "queries_failed_by_injected_faults":
            failed - wrapper_errors, "query_errors_from_wrapper": wrapper_errors}


def _first_success(make: Callable[[], Any], tries: int = 50) -> Any:
    for _ in range(tries - 1):
        try:
            return make()
        except Exception:  # noqa: BLE001 - an injected fault; try again
            continue
    return make()


# -- load through phases ---------------------------------------------------------------------
def load_scenario(texts: Sequence[str], old: np.ndarray, new: np.ndarray, queries: np.ndarray,
                  *, threads: int, batch_size: int, log: Log) -> dict[str, Any]:
    client = SerializedClient(QdrantClient(":memory:"))
    _setup(client, texts, old, new)
    from qdrant_drift.observability.metrics import DriftMetrics

    metrics = DriftMetrics()
    app = DriftClient(client, NAME, refresh_interval=0.05, metrics=metrics)
    latencies: dict[str, list[float]] = {}
    errors: list[str] = []
    wrong_size = 0
    phase = ["backfilling"]
    stop = threading.Event()

    def serve(seed: int) -> None:
        nonlocal wrong_size
        rng = np.random.default_rng(seed)
        while not stop.is_set():
            q = queries[int(rng.integers(0, len(queries)))]
            t0 = time.perf_counter()
            try:
                response = app.query_points(COLLECTION, query=q, using="new", limit=10)
                wrong_size += len(response.points) != 10
            except Exception as exc:  # noqa: BLE001 - counted
                errors.append(repr(exc))
            latencies.setdefault(phase[0], []).append(time.perf_counter() - t0)

    pool = [threading.Thread(target=serve, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    BackfillWorker(client, NAME, LookupEmbedder(texts, new), PayloadField("text"),
                   options=BackfillOptions(batch_size=batch_size)).run()
    for target in ("cut-over", "rolled-back", "backfilling", "cut-over"):
        phase[0] = target
        set_phase(client, NAME, target, force=True)  # serving through every phase change
        time.sleep(1.0)
    # the state disappears: serving degrades to the adapted plan and keeps answering
    phase[0] = "state unreadable"
    client.delete_collection("qdrant_drift_state")
    time.sleep(1.0)
    stop.set()
    for thread in pool:
        thread.join()
    app.close()
    per_phase = {name: {"queries": len(v), "p50_ms": float(np.percentile(v, 50) * 1e3),
                        "p99_ms": float(np.percentile(v, 99) * 1e3)}
                 for name, v in latencies.items() if v}
    log(f"load: {sum(len(v) for v in latencies.values())} queries on {threads} threads, "
        f"{len(errors)} errors, {wrong_size} wrong-size results")
    degraded = metrics.registry.get_sample_value(
        "qdrant_drift_degraded_queries_total", {"migration": NAME, "reason": "state-unreadable"})
    return {"query_errors": len(errors), "wrong_size_results": wrong_size, "phases": per_phase,
            "degraded_plan_after_state_loss": app.plan.value,
            "degraded_queries_counted": int(degraded or 0), "error_samples": errors[:3]}


# -- bad input ------------------------------------------------------------------------------
def bad_input_scenario(texts: Sequence[str], old: np.ndarray, new: np.ndarray,
                       log: Log) -> dict[str, Any]:
    from qdrant_drift.adapters import load_adapter
    from qdrant_drift.lifecycle.file import loads_migration_file

    client = QdrantClient(":memory:")
    spec = _setup(client, texts[:200], old[:200], new[:200])
    app = DriftClient(client, NAME, refresh_interval=0)
    dim = new.shape[1]
    adapter = fit("procrustes", new[:300], old[:300], new_model="m-new", old_model="m-old")
    tmp = Path(tempfile.mkdtemp())
    adapter.save(tmp / "a.safetensors")
    raw = (tmp / "a.safetensors").read_bytes()
    (tmp / "truncated.safetensors").write_bytes(raw[: len(raw) // 2])
    (tmp / "corrupt.safetensors").write_bytes(raw[:100] + b"\x00" * 64 + raw[164:])
    point = lambda vec: [models.PointStruct(id=10_000, vector={"new": vec}, payload={})]  # noqa: E731
    cases: dict[str, Callable[[], Any]] = {
        "dimension mismatch on upsert": lambda: app.upsert(COLLECTION, point([0.1] * (dim + 3))),
        "NaN vector on upsert": lambda: app.upsert(COLLECTION, point([float("nan")] * dim)),
        "inf vector in a query": lambda: app.query_points(
            COLLECTION, query=[float("inf")] * dim, using="new"),
        "adapter for the wrong models": lambda: load_adapter(
            tmp / "a.safetensors", new_model="other", old_model="m-old"),
        "adapter for the wrong dimension": lambda: load_adapter(
            tmp / "a.safetensors", new_dim=dim + 1),
        "truncated adapter file": lambda: load_adapter(tmp / "truncated.safetensors"),
        "corrupt adapter file": lambda: load_adapter(tmp / "corrupt.safetensors"),
        "unknown collection": lambda: create(client, MigrationSpec(
            name="x", collection="nope", new_vector="n", old_vector="old"), adapter),
        "unknown vector name": lambda: create(client, MigrationSpec(
            name="y", collection=COLLECTION, new_vector="n", old_vector="missing"), adapter),
        "malformed migration file": lambda: loads_migration_file(
            "[migration]\nname = 3\n", "bad.toml"),
        "server too old for the named layout": lambda: create(
            _OldServer(QdrantClient(":memory:"), old.shape[1]), MigrationSpec(
                name="z", collection=COLLECTION, new_vector="n", old_vector="old"), adapter),
    }
    clear, nothing_written = 0, 0
    outcomes = {}
    for name, case in cases.items():
        before = client.count(COLLECTION, exact=True).count
        try:
            case()
            outcome = "accepted (no error)"
        except (DriftError, ValueError) as exc:
            outcome = f"clear error: {str(exc).splitlines()[0][:120]}"
            clear += 1
        except Exception as exc:  # noqa: BLE001 - an unclear error is a finding
            outcome = f"unclear error: {type(exc).__name__}: {str(exc)[:120]}"
        written = client.count(COLLECTION, exact=True).count != before
        nothing_written += not written
        outcomes[name] = outcome + ("; WROTE DATA" if written else "")
    log(f"bad input: {clear} of {len(cases)} refused with a clear error")
    del spec
    return {"bad_inputs_tried": len(cases), "bad_inputs_clear_error": clear,
            "bad_inputs_nothing_written": nothing_written, "bad_input_outcomes": outcomes}


class _OldServer:
    """A real local client that answers like a Qdrant server older than 1.18."""

    def __init__(self, client: QdrantClient, dim: int) -> None:
        self._client = client
        client.create_collection(COLLECTION, vectors_config={"old": models.VectorParams(
            size=dim, distance=models.Distance.COSINE)})

    def create_vector_name(self, *args: Any, **kwargs: Any) -> Any:
        from qdrant_client.http.exceptions import UnexpectedResponse
        import httpx

        raise UnexpectedResponse(404, "Not Found", b"{}", httpx.Headers())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def run_chaos_bench(data: Path, *, pair: str = "depth", docs: int = 4000, kills: int = 20,
                    operations: int = 2000, fault_rate: float = 0.1, threads: int = 4,
                    batch_size: int = 32, seed: int = 0, log: Log = print) -> dict[str, Any]:
    texts, old, new = _corpus(data, pair, docs)
    queries = unit_rows(load_pair(data, pair).new_queries[:200])
    began = time.perf_counter()
    result: dict[str, Any] = {"corpus": str(data), "pair": pair, "docs": len(texts),
                              "batch_size": batch_size}
    result.update(kill_scenario(texts, old, new, kills=kills, batch_size=batch_size,
                                seed=seed, log=log))
    result.update(race_scenario(texts, old, new, operations=operations,
                                batch_size=batch_size, seed=seed, log=log))
    result.update(fault_scenario(texts, old, new, queries, rate=fault_rate,
                                 batch_size=batch_size, seed=seed, log=log))
    result.update(load_scenario(texts, old, new, queries, threads=threads,
                                batch_size=batch_size, log=log))
    result.update(bad_input_scenario(texts, old, new, log=log))
    result["lost"] = result["lost"] + result["race_lost"] + result["fault_lost"]
    result["stale"] = result["stale"] + result["race_stale"] + result["fault_stale"]
    result["seconds"] = round(time.perf_counter() - began, 1)
    return result
