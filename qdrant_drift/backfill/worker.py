"""The backfill worker: re-embeds points that lack the new vector while the app keeps serving.

Three stages overlap, linked by one-slot queues: *select* (claim partitions, pick hot ids and
sweep the rest, fetch their content), *embed* (the compute-bound part) and *write*
(conditional writes, then the checkpoint). A kill at any moment loses at most the batches in
flight: the checkpoint only moves after a batch is written, and points already written drop
out of the sweep (it only looks at points lacking the new vector), so nothing is written
twice and nothing is skipped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import os
import socket
import weakref
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from ..embedders import Embedder, row_problems
from ..errors import BackfillError
from ..lifecycle.progress import Sample, WorkerStatus
from ..migration.phases import Phase
from ..sansio import Steps, call, drive
from ..migration.spec import DEFAULT_VECTOR, MigrationSpec
from ..store.collection import STATE_COLLECTION
from ..store.records import count_migrated, load_record
from ..serving.hits import read_hot_steps
from ..store import backfill as store
from .content import ContentSource, Item, no_content_reason
from .ordering import HotFirst, OrderPolicy
from .partitions import Lease, claimed, partition_of, plan_claims
from .retry import RetryingClient
from .targets import Outcome, Target, target_for

log = logging.getLogger(__name__)

RUNNABLE = (Phase.BACKFILLING, Phase.CUT_OVER)
SWEEP_PAGE = 512
MAX_REDO = 5  # re-embeds of one item whose content keeps changing before it is dead-lettered


@dataclass(frozen=True)
class BackfillOptions:
    batch_size: int = 64
    partitions: int = 1  # how many slices the points are split into (>= the worker count)
    order: OrderPolicy = field(default_factory=HotFirst)
    rate_limit: float | None = None  # items per second, None = as fast as it goes
    heartbeat_timeout: float = 30.0  # a worker silent this long loses its partitions
    hot_refresh_s: float = 5.0
    sample_interval_s: float = 5.0
    max_attempts: int = 8  # per Qdrant call, on transient faults
    max_retry_wait: float = 10.0
    exit_when_done: bool = True  # False: keep polling for new work (a long-running service)
    # embedded batches not yet written, at most: a kill -9 loses (re-embeds) at most this
    # many. 1 still overlaps fetching with embedding, and writing with the next fetch.
    unwritten_batches: int = 1

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.partitions < 1 or self.unwritten_batches < 1:
            raise ValueError("batch_size, partitions and unwritten_batches must be positive")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate_limit must be positive (or None for no limit)")


@dataclass
class BackfillStats:
    """What this worker did (``processed`` = items that left the pipeline, any outcome)."""

    written: int = 0
    skipped: int = 0  # deleted meanwhile, or given a new vector by the app meanwhile
    dead_lettered: int = 0
    redone: int = 0  # re-embedded because their content changed during the batch
    batches: int = 0
    retries: int = 0
    started_at: float = field(default_factory=time.time)
    state: str = "starting"

    @property
    def processed(self) -> int:
        return self.written + self.skipped + self.dead_lettered

    @property
    def items_per_s(self) -> float:
        return self.written / max(1e-9, time.time() - self.started_at)


@dataclass
class _Batch:
    items: list[Item]
    poison: list[tuple[Any, str]] = field(default_factory=list)
    partition: int | None = None  # the sweep partition whose cursor this batch moves
    cursor_after: Any = None
    ends_pass: bool = False
    vectors: np.ndarray | None = None
    embed_seconds: float = 0.0
    out_of_order: set[Any] = field(default_factory=set)  # hot / redo ids, not from the sweep


_LOCKS: "weakref.WeakKeyDictionary[Any, threading.RLock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


class SerializedClient:
    """Local-mode Qdrant is not thread-safe: one call at a time per underlying client, shared
    by every worker (and anything else wrapped with this) in the process. ``lock`` is
    re-entrant: hold it to make several calls one atomic step (tests do)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        with _LOCKS_GUARD:
            self.lock = self._lock = _LOCKS.setdefault(client, threading.RLock())

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target):
            return target

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return target(*args, **kwargs)

        return locked


def _is_local(client: Any) -> bool:
    while not hasattr(client, "_client") and hasattr(client, "client"):
        client = client.client  # through wrappers such as the fault injector
    return type(getattr(client, "_client", None)).__name__ == "QdrantLocal"


class BackfillWorker:
    """One worker process's (or thread's) share of the backfill. Start several for scale-out:
    they split the partitions between them through leases in the state collection."""

    def __init__(self, client: Any, migration: str, embedder: Embedder, source: ContentSource,
                 *, options: BackfillOptions | None = None,
                 state_collection: str = STATE_COLLECTION, worker_id: str | None = None,
                 metrics: Any = None,
                 on_batch: Callable[["BackfillWorker", Outcome], None] | None = None) -> None:
        self.options = options or BackfillOptions()
        self.migration, self.embedder, self.source = migration, embedder, source
        self.state_collection = state_collection
        # hostname-pid: stable across restarts of a container (pid 1), so a restarted worker
        # reclaims its partitions at once instead of waiting for its lease to expire
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.metrics, self.on_batch = metrics, on_batch
        self.stats = BackfillStats()
        base = SerializedClient(client) if _is_local(client) else client
        self.client = RetryingClient(base, max_attempts=self.options.max_attempts,
                                     max_wait=self.options.max_retry_wait,
                                     on_retry=self._count_retry)
        self._stop = threading.Event()
        self._unwritten = threading.Semaphore(self.options.unwritten_batches)
        self._written = threading.Event()  # set by the writer: the select stage may go on
        self._abandon = False
        self._paused_locally = threading.Event()
        self._lock = threading.Lock()
        self._leases: dict[int, Lease] = {}  # owned partitions (checkpoints as written)
        self._cursors: dict[int, Any] = {}  # select stage's sweep position (ahead of them)
        self._awaiting: set[int] = set()  # a pass ended; the writer decides done/next pass
        self._in_flight: set[Any] = set()
        self._dead: set[Any] = set()
        self._redo: deque[Any] = deque()
        self._redo_counts: dict[Any, int] = {}
        self._hot: deque[Any] = deque()
        self._buffers: dict[int, deque[Any]] = {}  # read-ahead of each partition's sweep
        self._buffer_next: dict[int, Any] = {}
        self._buffer_started: dict[int, bool] = {}
        self._out_of_order: set[Any] = set()  # written via hot/redo: skip when swept
        self._all_done = False
        self._paused_by_state = False
        self._sweep_turn = 0
        self.spec: MigrationSpec | None = None
        self.target: Target | None = None
        self.dim: int | None = None

    # -- control ------------------------------------------------------------------------
    def stop(self, *, abandon: bool = False) -> None:
        """Finish (or, with ``abandon``, drop) the batches in flight, checkpoint, exit."""
        self._abandon = abandon
        self._stop.set()

    def pause(self) -> None:
        self._paused_locally.set()

    def resume(self) -> None:
        self._paused_locally.clear()

    @property
    def paused(self) -> bool:
        return self._paused_locally.is_set() or self._paused_by_state

    def _count_retry(self, exc: BaseException) -> None:
        self.stats.retries += 1
        log.warning("transient fault, retrying: %r", exc)
        if self.metrics is not None:
            self.metrics.record_retry(self.migration)

    def _drive(self, steps: Steps[Any]) -> Any:
        return drive(steps, self.client)

    # -- setup and heartbeat ------------------------------------------------------------
    def _load_migration(self) -> Any:
        record = self._drive(load_record(self.migration, self.state_collection))
        if record is None:
            raise BackfillError(f"no migration named {self.migration!r} in "
                                f"{self.state_collection!r}: fit and start it first "
                                "(`qdrant-drift fit`, `qdrant-drift start`)")
        return record

    def _setup(self) -> None:
        record = self._load_migration()
        if record.phase not in RUNNABLE:
            raise BackfillError(
                f"migration {self.migration!r} is {record.phase.value!r}: the backfill runs "
                "while it is 'backfilling' (start it) or 'cut-over'")
        self.spec = record.spec
        self.target = target_for(self.spec, self.source)
        info = self._drive(_collection_info(self.spec.native_collection))
        vectors = info.config.params.vectors
        params = vectors.get(self.spec.new_vector) if isinstance(vectors, dict) else (
            vectors if self.spec.new_vector == DEFAULT_VECTOR else None)
        if params is None:
            raise BackfillError(f"{self.spec.native_collection!r} has no vector "
                                f"{self.spec.new_vector!r}: was the migration created?")
        self.dim = params.size
        self._dead = {d["point_id"] for d in self._drive(
            store.read_dead_letters(self.migration, self.state_collection))}

    def _heartbeat(self) -> None:
        """Follow the migration state, renew and rebalance leases, report this worker."""
        record = self._load_migration()
        if record.phase not in RUNNABLE:
            log.info("migration is %s: stopping the backfill", record.phase.value)
            self._stop.set()
            return
        self._paused_by_state = record.backfill_paused
        opts, now = self.options, time.time()
        workers = self._drive(store.read_workers(self.migration, timeout=opts.heartbeat_timeout,
                                                 state_collection=self.state_collection))
        live = {w.worker for w in workers if w.alive} | {self.worker_id}
        stored = self._drive(store.read_leases(self.migration, opts.partitions,
                                               self.state_collection))
        with self._lock:
            for k in list(self._leases):  # taken over while this worker was silent
                if stored[k].owner not in (None, self.worker_id):
                    log.warning("partition %d was taken over by %s", k, stored[k].owner)
                    self._forget(k)
            view = [self._leases.get(k, lease) for k, lease in stored.items()]
            plan = plan_claims(view, self.worker_id, now=now, timeout=opts.heartbeat_timeout,
                               live_workers=len(live))
            for k in plan.release:
                self._forget(k)
            for k in plan.claim:
                self._leases[k] = claimed(stored[k], self.worker_id, now)
                self._cursors[k] = stored[k].cursor
            renewed = [replace(lease, heartbeat=now) for lease in self._leases.values()]
            self._leases.update({lease.partition: lease for lease in renewed})
            released = [replace(stored[k], owner=None) for k in plan.release]
            self._all_done = all(lease.done for lease in view)
        self._drive(store.write_leases(self.migration, opts.partitions, renewed + released,
                                       self.state_collection))
        self._report(self.stats.state)

    def _forget(self, partition: int) -> None:
        self._leases.pop(partition, None)
        self._reset_sweep(partition)
        self._cursors.pop(partition, None)
        self._awaiting.discard(partition)

    def _report(self, state: str) -> None:
        self.stats.state = state
        self._drive(store.write_worker(self.migration, WorkerStatus(
            worker=self.worker_id, partitions=tuple(sorted(self._leases)), alive=True,
            heartbeat_age_s=0.0, processed=self.stats.processed, state=state,
        ), self.state_collection))

    def _sample(self) -> None:
        assert self.spec is not None
        migrated, total = self._drive(count_migrated(self.spec))
        sample = Sample(at=time.time(), migrated=migrated, total=total)
        self._drive(store.write_sample(self.migration, self.worker_id, sample,
                                       self.state_collection))

    def _refresh_hot(self) -> None:
        hits = self._drive(read_hot_steps(self.migration, self.state_collection))
        with self._lock:
            mine = set(self._leases)
        p = self.options.partitions
        self._hot = deque(pid for pid, _ in hits.most_common()
                          if partition_of(pid, p) in mine and pid not in self._dead)

    # -- select stage --------------------------------------------------------------------
    def _take_ids(self, pool: deque[Any], n: int) -> list[Any]:
        taken: list[Any] = []
        while pool and len(taken) < n:
            pid = pool.popleft()
            if pid not in self._in_flight and pid not in self._dead:
                taken.append(pid)
        return taken

    def _select(self) -> _Batch | None:
        assert self.target is not None
        size = self.options.batch_size
        with self._lock:
            redo_ids = self._take_ids(self._redo, size)
        quota = self.options.order(size - len(redo_ids), len(self._hot))
        priority = redo_ids + self._take_ids(self._hot, quota)
        records = list(self._drive(self.target.fetch_steps(priority)))
        batch = _Batch(items=[], out_of_order={r.id for r in records})
        with self._lock:
            sweepable = sorted(k for k, lease in self._leases.items()
                               if not lease.done and k not in self._awaiting)
        if len(records) < size and sweepable:
            k = sweepable[self._sweep_turn % len(sweepable)]
            self._sweep_turn += 1
            swept, cursor, ended = self._sweep(k, size - len(records), {r.id for r in records})
            records += swept
            batch.partition, batch.cursor_after, batch.ends_pass = k, cursor, ended
            with self._lock:
                if k in self._leases:
                    self._cursors[k] = cursor
                    if ended:
                        self._awaiting.add(k)
        if not records and batch.partition is None:
            return None
        items = self.source.items(records)
        with self._lock:
            self._in_flight.update(item.id for item in items)
        reason = no_content_reason(self.source)
        batch.items = [item for item in items if item.text is not None]
        batch.poison = [(item.id, reason) for item in items if item.text is None]
        return batch

    def _sweep(self, k: int, need: int, taken: set[Any]) -> tuple[list[Any], Any, bool]:
        """Up to ``need`` points of partition ``k`` lacking the new vector, from its cursor;
        returns them, the cursor after them and whether the pass over ``k`` ended.

        Pages are read ahead into a buffer (a filtered scroll costs about as much for many
        points as for few); a buffered point that was migrated meanwhile is caught by the
        conditional write, and points written out of order (hot, redo) are skipped here."""
        assert self.target is not None
        p = self.options.partitions
        buffer = self._buffers.setdefault(k, deque())
        out: list[Any] = []
        while len(out) < need:
            if not buffer:
                cursor = self._buffer_next.get(k, self._cursors.get(k))
                if cursor is None and self._buffer_started.get(k):
                    break  # the pass is over
                page, next_offset = self._drive(_scroll(
                    self.target, limit=SWEEP_PAGE, offset=cursor))
                self._buffer_started[k] = True
                self._buffer_next[k] = next_offset
                buffer.extend(r for r in page if partition_of(r.id, p) == k)
                if not buffer and next_offset is None:
                    break
                continue
            record = buffer.popleft()
            if (record.id in taken or record.id in self._dead or record.id in self._in_flight
                    or record.id in self._out_of_order):
                continue
            out.append(record)
        cursor = buffer[0].id if buffer else self._buffer_next.get(k)
        ended = not buffer and cursor is None and bool(self._buffer_started.get(k))
        if ended:
            self._reset_sweep(k)
        return out, cursor, ended

    def _reset_sweep(self, k: int, cursor: Any = None) -> None:
        """Sweep ``k`` again from ``cursor`` (a new pass, or back to the checkpoint)."""
        self._buffers.pop(k, None)
        self._buffer_next.pop(k, None)
        self._buffer_started.pop(k, None)
        self._cursors[k] = cursor

    def _pace(self, started: float, items: int) -> None:
        rate = self.options.rate_limit
        if rate:
            wait = items / rate - (time.monotonic() - started)
            if wait > 0:
                self._stop.wait(wait)

    def _select_loop(self, out: "queue.Queue[_Batch | None]") -> None:
        opts = self.options
        next_heartbeat = next_hot = next_sample = 0.0
        started, emitted = time.monotonic(), 0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_heartbeat:
                    self._heartbeat()
                    next_heartbeat = now + opts.heartbeat_timeout / 4
                    continue
                if now >= next_sample:
                    self._sample()
                    next_sample = now + opts.sample_interval_s
                if self.paused:
                    self._report_state("paused")
                    self._stop.wait(min(1.0, opts.heartbeat_timeout / 4))
                    continue
                self._report_state("running")
                if now >= next_hot and opts.order(opts.batch_size, 1) > 0:
                    self._refresh_hot()
                    next_hot = now + opts.hot_refresh_s
                batch = self._select()
                if batch is None:  # nothing to do now: are we done, or is work coming?
                    if not self._in_flight:
                        self._heartbeat()
                        if self._all_done and opts.exit_when_done:
                            break
                        self._stop.wait(0.5)
                    else:  # a batch in flight decides what comes next: wait for its write
                        self._written.wait(0.5)
                        self._written.clear()
                    continue
                self._pace(started, emitted)
                emitted += len(batch.items) + len(batch.poison)
                while not self._stop.is_set():
                    try:
                        out.put(batch, timeout=0.2)
                        break
                    except queue.Full:
                        continue
        finally:
            _offer_end(out)

    def _report_state(self, state: str) -> None:
        if self.stats.state != state:
            self._report(state)

    # -- embed stage --------------------------------------------------------------------
    def _embed(self, batch: _Batch) -> None:
        t0 = time.perf_counter()
        texts = [item.text or "" for item in batch.items]
        try:
            vectors = self.embedder(texts) if texts else np.zeros((0, self.dim or 0))
            problems = row_problems(vectors, len(texts), self.dim)
        except Exception as exc:  # noqa: BLE001 - isolate the item that breaks the embedder
            if len(texts) == 1:
                vectors, problems = None, [f"embedder failed: {exc!r}"]
            else:
                log.warning("embedder failed on a batch (%r): embedding items one by one", exc)
                rows, problems = [], []
                for item in batch.items:
                    single = _Batch(items=[item])
                    self._embed(single)
                    problems.append(single.poison[0][1] if single.poison else None)
                    rows.append(single.vectors[0] if single.vectors is not None and
                                len(single.vectors) else np.zeros(self.dim or 0))
                vectors = np.asarray(rows, dtype=np.float32)
        good = [i for i, problem in enumerate(problems) if problem is None]
        batch.poison += [(batch.items[i].id, problems[i]) for i in range(len(problems))
                         if problems[i] is not None]
        matrix = np.asarray(vectors, dtype=np.float32) if good else None
        batch.items = [batch.items[i] for i in good]
        batch.vectors = matrix[good] if matrix is not None else np.zeros((0, self.dim or 0))
        batch.embed_seconds = time.perf_counter() - t0

    def _embed_loop(self, inbox: "queue.Queue[_Batch | None]",
                    out: "queue.Queue[_Batch | None]") -> None:
        try:
            while True:
                batch = inbox.get()
                if batch is None:
                    return
                while not self._abandon and not self._unwritten.acquire(timeout=0.2):
                    pass  # released once the writer is done with the previous batch
                if self._abandon:
                    self._release(batch)
                    continue
                self._embed(batch)
                out.put(batch)
        finally:
            _offer_end(out)

    # -- write stage ---------------------------------------------------------------------
    def _release(self, batch: _Batch) -> None:
        with self._lock:
            self._in_flight.difference_update(item.id for item in batch.items)
            self._in_flight.difference_update(pid for pid, _ in batch.poison)
            if batch.partition is not None:
                self._awaiting.discard(batch.partition)
                lease = self._leases.get(batch.partition)
                if lease is not None:  # not written: sweep again from the checkpoint
                    self._reset_sweep(batch.partition, lease.cursor)

    def _write(self, batch: _Batch) -> None:
        assert self.target is not None and batch.vectors is not None
        t0 = time.perf_counter()
        outcome = (self._drive(self.target.write_steps(batch.items, batch.vectors))
                   if batch.items else Outcome())
        dead = list(batch.poison)
        with self._lock:
            for pid in outcome.redo:
                self._redo_counts[pid] = self._redo_counts.get(pid, 0) + 1
                if self._redo_counts[pid] > MAX_REDO:
                    dead.append((pid, f"content changed during each of {MAX_REDO} re-embeds"))
                else:
                    self._redo.append(pid)
            for pid in outcome.migrated:
                self._redo_counts.pop(pid, None)
            self._out_of_order.update(pid for pid in outcome.migrated
                                      if pid in batch.out_of_order)
        if dead:
            self._drive(store.add_dead_letters(self.migration, dead, self.state_collection))
            self._dead.update(pid for pid, _ in dead)
        self._checkpoint(batch, outcome)
        self.stats.written += len(outcome.migrated)
        self.stats.skipped += len(outcome.gone)
        self.stats.dead_lettered += len(dead)
        self.stats.redone += len(outcome.redo)
        self.stats.batches += 1
        if self.metrics is not None:
            self.metrics.record_batch(self.migration, written=len(outcome.migrated),
                                      skipped=len(outcome.gone), dead_lettered=len(dead),
                                      seconds=time.perf_counter() - t0 + batch.embed_seconds,
                                      embed_seconds=batch.embed_seconds)
        with self._lock:
            self._in_flight.difference_update(item.id for item in batch.items)
            self._in_flight.difference_update(pid for pid, _ in batch.poison)
        if self.on_batch is not None:
            self.on_batch(self, outcome)

    def _checkpoint(self, batch: _Batch, outcome: Outcome) -> None:
        p = self.options.partitions
        with self._lock:
            touched: dict[int, Lease] = {}
            for pid in outcome.migrated:
                k = partition_of(pid, p)
                lease = touched.get(k) or self._leases.get(k)
                if lease is not None:
                    touched[k] = replace(lease, pass_writes=lease.pass_writes + 1,
                                         processed=lease.processed + 1)
            k = batch.partition
            if k is not None and k in self._leases:
                lease = touched.get(k) or self._leases[k]
                lease = replace(lease, cursor=batch.cursor_after, heartbeat=time.time())
                if batch.ends_pass:
                    redo_pending = any(partition_of(pid, p) == k for pid in self._redo)
                    if lease.pass_writes == 0 and not redo_pending:
                        lease = replace(lease, done=True)
                    else:
                        lease = replace(lease, pass_no=lease.pass_no + 1, pass_writes=0,
                                        cursor=None)
                        self._reset_sweep(k)
                    self._awaiting.discard(k)
                touched[k] = lease
            self._leases.update({k: v for k, v in touched.items() if k in self._leases})
            to_write = [v for k, v in touched.items() if k in self._leases]
        if to_write:
            self._drive(store.write_leases(self.migration, p, to_write, self.state_collection))

    def _write_loop(self, inbox: "queue.Queue[_Batch | None]") -> None:
        while True:
            batch = inbox.get()
            if batch is None:
                return
            try:
                if self._abandon:
                    self._release(batch)
                    continue
                self._write(batch)
            finally:
                self._unwritten.release()
                self._written.set()

    # -- run ----------------------------------------------------------------------------
    def run(self) -> BackfillStats:
        """Work until every partition is done (or until stopped); returns what it did."""
        self._setup()
        to_embed: "queue.Queue[_Batch | None]" = queue.Queue(maxsize=1)
        to_write: "queue.Queue[_Batch | None]" = queue.Queue(maxsize=1)
        errors: list[BaseException] = []

        def guarded(fn: Callable[..., None], *args: Any) -> Callable[[], None]:
            def body() -> None:
                try:
                    fn(*args)
                except BaseException as exc:  # noqa: BLE001 - re-raised by run()
                    errors.append(exc)
                    self.stop(abandon=True)
                    _drain(*args)
            return body

        threads = [threading.Thread(target=guarded(self._select_loop, to_embed), daemon=True,
                                    name=f"drift-select-{self.worker_id}"),
                   threading.Thread(target=guarded(self._write_loop, to_write), daemon=True,
                                    name=f"drift-write-{self.worker_id}")]
        for thread in threads:
            thread.start()
        try:
            self._embed_loop(to_embed, to_write)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            self.stop(abandon=True)
            _drain(to_embed)
        for thread in threads:
            thread.join()
        final = "failed" if errors else ("finished" if self._all_done else "stopped")
        try:
            self._finish(final)
        except Exception as exc:  # noqa: BLE001 - the first error is the one to report
            if not errors:
                errors.append(exc)
        if errors:
            raise errors[0]
        return self.stats

    def _finish(self, state: str) -> None:
        """Hand the partitions back at once (no waiting for the lease to expire)."""
        with self._lock:
            released = [replace(lease, owner=None) for lease in self._leases.values()]
            self._leases.clear()
        self._drive(store.write_leases(self.migration, self.options.partitions, released,
                                       self.state_collection))
        self._report(state)
        if state == "finished":
            self._sample()


def _offer_end(q: "queue.Queue[Any]") -> None:
    """Tell the next stage there is no more work (unless it died and stopped listening)."""
    try:
        q.put(None, timeout=5.0)
    except queue.Full:
        log.warning("next backfill stage is not draining its queue")


def _drain(*queues: Any) -> None:
    for q in queues:
        if isinstance(q, queue.Queue):
            try:
                while True:
                    q.get_nowait()
            except queue.Empty:
                pass
            try:
                q.put_nowait(None)
            except queue.Full:
                pass


def _scroll(target: Target, *, limit: int, offset: Any) -> Steps[Any]:
    return (yield call("scroll", target.spec.collection, scroll_filter=target.unmigrated(),
                       limit=limit, offset=offset, with_payload=target.payload_selector(),
                       with_vectors=False))


def _collection_info(name: str) -> Steps[Any]:
    return (yield call("get_collection", name))


def run_backfill(client: Any, migration: str, embedder: Embedder, source: ContentSource,
                 **kwargs: Any) -> BackfillStats:
    """Run one worker in the foreground until the backfill is done."""
    return BackfillWorker(client, migration, embedder, source, **kwargs).run()


class BackfillHandle:
    """A worker running on a background thread: progress, pause, resume, stop, join."""

    def __init__(self, worker: BackfillWorker) -> None:
        self.worker = worker
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"drift-backfill-{worker.worker_id}")
        self._thread.start()

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as exc:  # noqa: BLE001 - surfaced by join()
            self._error = exc

    def progress(self) -> BackfillStats:
        return self.worker.stats

    def pause(self) -> None:
        self.worker.pause()

    def resume(self) -> None:
        self.worker.resume()

    def stop(self, *, abandon: bool = False) -> None:
        self.worker.stop(abandon=abandon)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> BackfillStats:
        """Wait for the worker; re-raises what stopped it, if anything did."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"backfill still running after {timeout} s")
        if self._error is not None:
            raise self._error
        return self.worker.stats


def start_backfill(client: Any, migration: str, embedder: Embedder, source: ContentSource,
                   *, background: bool = True, **kwargs: Any) -> BackfillHandle | BackfillStats:
    """Start a worker: on a background thread (a :class:`BackfillHandle`) or in the foreground."""
    worker = BackfillWorker(client, migration, embedder, source, **kwargs)
    return BackfillHandle(worker) if background else worker.run()


__all__: Sequence[str] = ("BackfillError", "BackfillHandle", "BackfillOptions", "BackfillStats",
                          "BackfillWorker", "run_backfill", "start_backfill")
