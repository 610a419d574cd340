"""The backfill worker: re-embeds points that lack the new vector while the app keeps serving.

Three stages overlap, linked by one-slot queues: *select* (heartbeats and leases, hot ids,
the sweep, fetching content: :mod:`.selection`), *embed* (the compute-bound part:
:mod:`.isolation`) and *write* (conditional writes, then the checkpoint: :mod:`.commit`).
Where overlap cannot pay (embedded Qdrant and an embedder that takes a small share of a
batch's time: :mod:`.overlap`), the select thread takes a batch through all three itself.
This module is only the plumbing: threads, timers, stop and pause. The bookkeeping the
stages share (:class:`.Ledger`, :class:`.LeaseBook`, :class:`.Sweeps`) is pure and guarded
by one lock that is never held across a call to Qdrant.

A kill at any moment loses at most the batches in flight: the checkpoint only moves after a
batch is written, and points already written drop out of the sweep (it only looks at points
lacking the new vector), so nothing is written twice and nothing is skipped.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from typing import Any, Callable


from ..embedders import Embedder
from .handoff import offer
from ..lifecycle.progress import WorkerStatus
from ..serving.hits import read_hot_steps
from ..store import backfill as store
from ..store.collection import STATE_COLLECTION
from .commit import commit_steps, release
from .control import Controls
from .content import ContentSource
from .isolation import embed_isolating
from .leases import (
    LeaseView, read_lease_view, reopened)
from .options import BackfillOptions, BackfillStats
from .overlap import StageOverlap
from .partitions import partition_of
from .setup import RUNNABLE
from .selection import Batch, select_steps
from .sweep import Sweeps
from .targets import Outcome

log = logging.getLogger(__name__)



class BackfillWorker(Controls):
    """One worker process's (or thread's) share of the backfill. Several share the work
    through leases in the state collection: threads of one process on embedded Qdrant
    (one process per storage folder), processes anywhere on a Qdrant server."""

    def __init__(self, client: Any, migration: str, embedder: Embedder, source: ContentSource,
                 *, options: BackfillOptions | None = None,
                 state_collection: str = STATE_COLLECTION, worker_id: str | None = None,
                 metrics: Any = None,
                 on_batch: Callable[["BackfillWorker", Outcome], None] | None = None) -> None:
        # hostname-pid: stable across restarts of a container (pid 1), so a restarted worker
        # reclaims its partitions at once instead of waiting for its lease to expire
        self._init_engine(client, migration, source, options or BackfillOptions(),
                          state_collection=state_collection,
                          worker_id=worker_id or f"{socket.gethostname()}-{os.getpid()}",
                          metrics=metrics, on_batch=on_batch)
        self.embedder = embedder
        self._unwritten = threading.Semaphore(self.options.unwritten_batches)
        self._written = threading.Event()  # set by the writer: the select stage may go on
        # batches selected and not yet written or released, empty end-of-pass batches
        # included (they hold no ids, yet their write decides whether the work is done)
        self._batches_out = 0
        self._abandon = False
        self._lock = threading.Lock()  # guards ledger, leases, sweeps; never across a call
        self.sweeps = Sweeps(self.options.partitions)
        self._overlap = StageOverlap(embedded=self._embedded)
        self._next_recount = 0.0

    # -- control ------------------------------------------------------------------------
    def stop(self, *, abandon: bool = False) -> None:
        """Finish (or, with ``abandon``, drop) the batches in flight, checkpoint, exit."""
        self._abandon = abandon
        self._stop.set()

    # -- setup and heartbeat ------------------------------------------------------------
    def _setup(self) -> None:
        record = self._open()
        self._paused_by_state = record.backfill_paused

    def _heartbeat(self) -> None:
        """Follow the migration state, renew and rebalance leases, report this worker."""
        record = self._record()
        if record.phase not in RUNNABLE:
            log.info("migration is %s: stopping the backfill", record.phase.value)
            self._stop.set()
            return
        self._paused_by_state = record.backfill_paused
        if self.stats.state == "starting":  # seen alive before claiming: a fair share
            self._report("starting")
        opts, now = self.options, time.time()
        view = self._drive(read_lease_view(self.migration, self.worker_id, opts.partitions,
                                           timeout=opts.heartbeat_timeout,
                                           state_collection=self.state_collection,
                                           running_here=self._running_here()))
        view = self._reopen_for_late_arrivals(view, now)
        with self._lock:
            renewal = self.leases.renew(view, now=now, timeout=opts.heartbeat_timeout)
            for k in renewal.lost + renewal.released:
                if k in renewal.lost:
                    log.warning("partition %d was taken over by %s", k, view.stored[k].owner)
                self.sweeps.forget(k)
            for k, lease in renewal.claimed.items():
                self.sweeps.open(k, lease.cursor)
            self._all_done = renewal.all_done
        kept = [lease for lease in renewal.to_write if lease.partition not in renewal.claimed]
        self._drive(store.write_leases(self.migration, opts.partitions, kept,
                                       self.state_collection))
        if renewal.claimed:  # two workers starting together both claim: one wins each lease
            stored = self._drive(store.claim_leases(
                self.migration, opts.partitions,
                [(view.stored[k], lease) for k, lease in renewal.claimed.items()],
                self.state_collection))
            with self._lock:
                for k in self.leases.confirm(stored, renewal.claimed):
                    self.sweeps.forget(k)
        self._report(self.stats.state)

    def _reopen_for_late_arrivals(self, view: LeaseView, now: float) -> LeaseView:
        """Every partition is done, yet points lacking the new vector may have arrived
        behind the sweep (written by a client that does not go through the wrapper): if
        any are left that are not dead letters, sweep every partition again."""
        assert self.target is not None
        if not all(lease.done for lease in view.stored.values()):
            return view
        if not self.options.exit_when_done and now < self._next_recount:
            return view
        self._next_recount = now + self.options.heartbeat_timeout / 4
        if self._tidy.due(now):  # what plain deletes and edits left behind the copies
            self._drive(self.target.tidy_steps(payloads=self._tidy.payloads))
        dead = {d["point_id"] for d in self._drive(
            store.read_dead_letters(self.migration, self.state_collection))}
        left = self._count_left(dead | self.ledger.dead)
        if not self._reopen.reopen(left, self.stats.processed):
            return view
        log.info("%d points arrived behind the sweep: sweeping again", left)
        opened = reopened(view)
        self._drive(store.write_leases(self.migration, self.options.partitions, opened,
                                       self.state_collection))
        return LeaseView({**view.stored, **{lease.partition: lease for lease in opened}},
                         view.live_workers, view.gone)

    def _report(self, state: str) -> None:
        self.stats.state = state
        self._drive(store.write_worker(self.migration, WorkerStatus(
            worker=self.worker_id, partitions=tuple(sorted(self.leases.owned)), alive=True,
            heartbeat_age_s=0.0, processed=self.stats.processed, state=state,
        ), self.state_collection))

    def _report_state(self, state: str) -> None:
        if self.stats.state != state:
            self._report(state)

    def _refresh_hot(self) -> None:
        hits = self._drive(read_hot_steps(self.migration, self.state_collection))
        p = self.options.partitions
        with self._lock:
            mine = set(self.leases.owned)
            self.ledger.set_hot(pid for pid, _ in hits.most_common()
                                if partition_of(pid, p) in mine)

    # -- select stage --------------------------------------------------------------------
    def _select(self) -> Batch | None:
        assert self.target is not None
        started = time.perf_counter()
        batch = self._drive(select_steps(
            self.target, self.source, size=self.options.batch_size, order=self.options.order,
            ledger=self.ledger, sweeps=self.sweeps, leases=self.leases, guard=self._lock))
        if batch is not None:
            batch.other_seconds = time.perf_counter() - started
        return batch

    def _select_loop(self, out: "queue.Queue[Batch | None]",
                     listening: Callable[[], bool]) -> None:
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
                    self._sample_on_schedule()
                    next_sample = now + opts.sample_interval_s
                if self.paused:
                    if self._all_done and opts.exit_when_done and not self._batches_out:
                        break  # paused with nothing left to write: done, not waiting
                    self._report_state("paused")
                    self._stop.wait(min(1.0, opts.heartbeat_timeout / 4))
                    continue
                self._report_state("running")
                if now >= next_hot and opts.order(opts.batch_size, 1) > 0:
                    self._refresh_hot()
                    next_hot = now + opts.hot_refresh_s
                batch = self._select()
                if batch is None:  # nothing to do now: are we done, or is work coming?
                    if not self._batches_out:
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
                with self._lock:
                    self._batches_out += 1
                    inline = self._overlap.inline_next()
                if inline:
                    self._inline(batch)
                    continue
                while not self._stop.is_set():
                    try:
                        out.put(batch, timeout=0.2)
                        break
                    except queue.Full:
                        continue
        finally:
            _offer_end(out, listening)

    def _inline(self, batch: Batch) -> None:
        """Embed and write ``batch`` in the select thread, once the batches handed down the
        pipeline before it are written (a partition's checkpoints move in order)."""
        try:
            while self._batches_out > 1 and not self._stop.is_set():
                self._written.wait(0.05)
                self._written.clear()
            if self._batches_out > 1 or self._abandon:  # stopped first: never written
                self._release(batch)
                return
            self._embed(batch)
            if self._abandon:
                self._release(batch)
                return
            self._write(batch)
            with self._lock:
                self._overlap.observe(batch.embed_seconds, batch.other_seconds)
        finally:
            self._settled()

    # -- embed stage --------------------------------------------------------------------
    def _embed(self, batch: Batch) -> None:
        embedded = embed_isolating(self.embedder, batch.items, self.dim)
        with self._lock:
            self._breaker.observe(len(batch.items), embedded.poison)
        batch.items, batch.vectors = embedded.items, embedded.vectors
        batch.poison += embedded.poison
        batch.embed_seconds = embedded.seconds

    def _embed_loop(self, inbox: "queue.Queue[Batch | None]",
                    out: "queue.Queue[Batch | None]", listening: Callable[[], bool]) -> None:
        try:
            while True:
                batch = inbox.get()
                if batch is None:
                    return
                while not self._abandon and not self._unwritten.acquire(timeout=0.2):
                    pass  # released once the writer is done with the previous batch
                if self._abandon:
                    self._release(batch)
                    self._settled()
                    continue
                self._embed(batch)
                if not offer(out, batch, listening):  # the writer died: nobody will write it
                    self._release(batch)
                    self._settled()
        finally:
            self._embedding = False  # stopped reading its inbox
            _offer_end(out, listening)

    # -- write stage ---------------------------------------------------------------------
    def _release(self, batch: Batch) -> None:
        with self._lock:
            release(batch, ledger=self.ledger, leases=self.leases, sweeps=self.sweeps)

    def _settled(self) -> None:
        """A batch left the pipeline (written or released): the select stage may go on."""
        with self._lock:
            self._batches_out -= 1
        self._written.set()

    def _write(self, batch: Batch) -> None:
        assert self.target is not None
        self._writes_begin()
        t0 = time.perf_counter()
        committed = self._drive(commit_steps(
            self.target, batch, migration=self.migration, state_collection=self.state_collection,
            ledger=self.ledger, leases=self.leases, sweeps=self.sweeps, guard=self._lock))
        outcome, dead = committed.outcome, committed.dead
        batch.other_seconds += time.perf_counter() - t0
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
        if self.on_batch is not None:
            self.on_batch(self, outcome)
        self._stop_if_the_embedder_fails_everything()

    def _write_loop(self, inbox: "queue.Queue[Batch | None]") -> None:
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
                self._settled()
                self._unwritten.release()

    # -- run ----------------------------------------------------------------------------
    def run(self) -> BackfillStats:
        """Work until every partition is done (or until stopped); returns what it did."""
        self._setup()
        to_embed: "queue.Queue[Batch | None]" = queue.Queue(maxsize=1)
        to_write: "queue.Queue[Batch | None]" = queue.Queue(maxsize=1)
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

        self._embedding = True
        writer = threading.Thread(target=guarded(self._write_loop, to_write), daemon=True,
                                  name=f"drift-write-{self.worker_id}")
        threads = [threading.Thread(target=guarded(self._select_loop, to_embed,
                                                   lambda: self._embedding),
                                    daemon=True, name=f"drift-select-{self.worker_id}"),
                   writer]
        for thread in threads:
            thread.start()
        try:
            self._embed_loop(to_embed, to_write, writer.is_alive)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            self.stop(abandon=True)
            _drain(to_embed)
        for thread in threads:
            thread.join()
        if errors and self._ended_under_it():
            log.info("the migration left the backfill phases: stopping (%r)", errors[0])
            errors.clear()
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
            released = self.leases.release_all()
        self._drive(store.write_leases(self.migration, self.options.partitions, released,
                                       self.state_collection))
        self._report(state)
        if state == "finished":
            self._last_sample()


def _offer_end(q: "queue.Queue[Any]", listening: Callable[[], bool]) -> None:
    """Tell the next stage there is no more work (see :mod:`.handoff`)."""
    offer(q, None, listening)


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

