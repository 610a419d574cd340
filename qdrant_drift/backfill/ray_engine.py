"""The backfill on Ray Data: Ray places, scales and retries the embedding; the writes stay ours.

Design. The *driver* (this process) owns the one Qdrant client; Ray's workers never talk to
Qdrant. Each *pass* the driver lists the points that still lack the new vector (hot ids
first, then the sweep in cursor order, dead letters left out) with the payload the content
source needs, and hands them to Ray Data as a dataset of one row per batch, in that order,
several batches to a block (``RaySettings.block_batches``: Ray Data costs the driver a fixed
time per block).
Ray loads the text (a :class:`~qdrant_drift.backfill.content.Loader` runs there) and embeds
it with the same bad-item isolation and row checks as the worker: with GPUs in an actor pool
(``num_gpus=1`` per actor, the model resident on its device), without in Ray Data tasks on
reused worker processes that keep the run's embedder (no actor to start per backfill: that
start, a process importing Ray Data, was most of a short backfill's time). The driver streams
the embedded batches back and writes them through the same conditional target code as the
worker (``target_for(...).write_steps``), then dead letters, checkpoints and progress samples
into the state collection, so ``status``, metrics and ``report`` see it like any worker.

Write groups. The driver writes, in one conditional write, every embedded block that is ready
when it comes to write, up to ``RaySettings.write_batches`` batches (:func:`ready_groups`; a
bigger block is a group of its own). What a write costs per request, not per point, is then
paid once per group:
the driver's own per-write work (dead letters, checkpoint, metrics) and, in the named layout,
the check of what landed and the stamp, each a scan of the whole collection in embedded
Qdrant (13 ms per write at 2,000 points, 65 ms at 10,000, measured). A group takes the
blocks that come within the heartbeat's interval (1 s at most) of its first: a slow
embedder's blocks come further apart, so its writes stay one block, each at most that much
later; a near-free embedder or many GPUs fill groups, which is when the saving counts. The
compare-and-set itself still goes out one batch per request (``chunk``), as the worker's
does: its filter has a clause per point and is checked per point, so its cost grows with the
square of a request's size.

Why the driver writes: embedded Qdrant (local mode) is one process per storage folder and a
``:memory:`` client cannot be shared at all, so writes from Ray workers would work on a
server only; a conditional write is one request per batch, cheap next to embedding, so one writer
keeps up with many GPUs (measure with ``qdrant-drift bench backfill --engines ...``), and one
writer is one place for pause, stop and checkpoints. Past one writer's pace, run one driver
per partition set on a server (``partitions``; each driver lists only its own).

Failure. A killed actor or Ray worker: Ray Data retries the task (``max_retries=-1``) or
restarts the actor and retries its call (``max_restarts=-1``, ``max_task_retries=-1``). The
retry re-embeds only the batch the kill interrupted: the block's batches embedded before it
are kept in a ledger the retry reads (:mod:`.ray_handoff`). Nothing was written by Ray, and
what it re-embeds is written conditionally, so nothing is lost and nothing stale lands. A killed driver: its Ray job goes with it; a new
driver lists what still lacks the new vector and goes on (points already written drop out of
the listing, which is the checkpoint). It re-embeds what was embedded and not yet written:
the group being written, the blocks waiting for the next write (at most ``write_batches``)
and what Ray Data had buffered. Content that changed while it was embedded fails the
compare-and-set and is re-embedded in the next pass.
"""

from __future__ import annotations

import importlib
import logging
import os
import queue
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np
from qdrant_client.http import models

from ..errors import BackfillError, InvalidOptionError
from ..extras import require
from ..lifecycle.progress import WorkerStatus
from ..sansio import Steps, call
from ..serving.hits import read_hot_steps
from ..store import backfill as store
from ..store.collection import STATE_COLLECTION
from .control import Controls
from .handoff import offer
from .content import ContentSource, Item, no_content_reason
from .options import BackfillOptions, BackfillStats
from .leases import (
    LeaseView, read_lease_view, reopened)
from .partitions import partition_of
from .setup import RUNNABLE
from .ray_handoff import driver_ledger, joined
from .ray_stage import EmbedderFactory, EmbedStage, embed_block, to_batches, unpacked
from .targets import Outcome, Target

log = logging.getLogger(__name__)

# the listing reads every page anyway; embedded Qdrant scans the collection once per filtered
# page, so pages are large
SWEEP_PAGE = 4096
STOP_POLL_S = 0.2  # how often a driver waiting for Ray (its start, its next block) looks for a stop
# Ray's local start takes 5-30 s on a busy machine; a cluster answers in seconds. Past this
# the address is wrong or the cluster is down.
CONNECT_TIMEOUT_S = 120.0

T = TypeVar("T")


@dataclass(frozen=True)
class RaySettings:
    """Where and how wide the Ray side runs (the rest comes from :class:`BackfillOptions`)."""

    address: str | None = None  # None: a local Ray instance; "auto" or ray://host:10001
    # embedding processes: actors with GPUs, concurrent tasks without; None: one per GPU,
    # else one per CPU (a CPU embedder's task gets one thread: with one fewer, MiniLM on 2
    # cores ran at 0.53x the worker, whose model uses both; the driver's writes are light)
    concurrency: int | None = None
    num_gpus: float | None = None  # per actor; None: 1 when the cluster has GPUs, else 0
    pass_items: int = 200_000  # points listed per pass (bounded driver memory); passes repeat
    # embedded batches written in one conditional write when they are ready (a write group
    # of whole blocks; a bigger block is one on its own; 1: a write per block). 8 takes the
    # per-write scans down to an eighth; 16 measured no better (benchmarks/README.md). A
    # driver kill re-embeds the group being written and the blocks waiting (up to this
    # many) besides Ray Data's buffers
    write_batches: int = 8
    # batches per Ray Data block (a task, or an actor call, answered as one output block),
    # at most: the executor costs the driver a fixed time per block whatever it holds; a
    # kill still redoes one batch (.ray_handoff). Fewer when a pass has too few batches to
    # give every embedding process two blocks
    block_batches: int = 16
    # Ray's own INFO and WARNING lines hidden (a local instance's start, each dataset's
    # start and end, its progress-bar notice): the CLI's progress line says what matters
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.pass_items < 1 or (self.concurrency is not None and self.concurrency < 1):
            raise InvalidOptionError(f"pass_items and concurrency must be 1 or more, got "
                                     f"{self.pass_items} and {self.concurrency}")
        for name in ("write_batches", "block_batches"):
            if getattr(self, name) < 1:
                raise InvalidOptionError(f"{name} must be 1 or more, got {getattr(self, name)}")

    def batches_per_block(self, batches: int, width: int) -> int:
        """Batches in each block of a pass: ``block_batches``, fewer when the pass's
        ``batches`` would not give each of ``width`` embedding processes two blocks."""
        return max(1, min(self.block_batches, batches // (2 * width)))


def ready_groups(blocks: Iterable[T], most: int, wait_s: float,
                 size: Callable[[T], int] = lambda _: 1,
                 stopped: Callable[[], bool] = lambda: False) -> Iterator[list[T]]:
    """``blocks`` in lists of 1 to ``most`` batches (``size``: a block's batches): each list
    is its first block (waited for, until ``stopped()``: then the lists end) and those that
    come within ``wait_s`` of it while they fit; a block bigger than ``most`` is a list of
    its own. A thread pulls ``blocks`` into a queue of ``most``, so at most ``most`` wait
    behind the list being handled; its errors are raised here, after the blocks that came
    before them. Closing this generator stops the pulling (and closes ``blocks``, a
    generator: Ray Data's execution ends with it; after a stop, at the puller's next block).

    Why wait at all: Ray Data hands the driver one block at a time at the pace of its task
    round trips, about the pace of the driver's writes, so "what is ready" is nearly always
    one block and a group would never form where blocks are small (a short pass's are one
    batch); a short wait lets one form whenever batches come faster than ``most`` per
    ``wait_s``, and costs a slow embedder's write at most ``wait_s`` (its batches go on
    embedding meanwhile)."""
    waiting: queue.Queue[Any] = queue.Queue(maxsize=most)
    closing = threading.Event()
    end = object()

    def listening() -> bool:
        return not closing.is_set()

    def pull() -> None:
        source = iter(blocks)
        last: Any = end
        try:
            for block in source:
                if not offer(waiting, block, listening):
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            last = exc
        finally:
            getattr(source, "close", lambda: None)()
        offer(waiting, last, listening)

    def final(item: Any) -> bool:
        return item is end or isinstance(item, BaseException)

    puller = threading.Thread(target=pull, name="ray-backfill-batches", daemon=True)
    puller.start()
    carried: Any = None  # the block that did not fit the last group: the next one's first
    try:
        while True:
            first = carried
            while first is None:  # a stop does not wait for a block (a block's embedding)
                try:
                    first = waiting.get(timeout=STOP_POLL_S)
                except queue.Empty:
                    if stopped():
                        return
            group, carried = [first], None
            batches = 0 if final(group[0]) else size(group[0])
            until = time.monotonic() + wait_s
            while batches < most and not final(group[-1]):
                try:
                    block = waiting.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
                if not final(block) and batches + size(block) > most:
                    carried = block
                    break
                group.append(block)
                batches += 0 if final(block) else size(block)
            last = group[-1]
            if final(last):
                if group[:-1]:
                    yield group[:-1]
                if isinstance(last, BaseException):
                    raise last
                return
            yield group
    finally:
        closing.set()
        # the puller ends at its next block; a stop does not wait for it (Ray may be a
        # block's embedding away): it closes Ray Data's execution when that block comes
        puller.join(STOP_POLL_S if stopped() else None)


def _batches_in(block: dict[str, np.ndarray]) -> int:
    return len(block["count"])


def _items_of(batch: dict[str, np.ndarray], listing: Sequence[models.Record],
              source: ContentSource, dim: int
              ) -> tuple[list[Item], np.ndarray, list[tuple[Any, str]]]:
    """Embedded batches (packed rows) back on the driver: the listed points they can write
    (with the version and payload as listed), their vectors, and the poison."""
    rows, vectors, problems = unpacked(batch, dim)
    good = [i for i, problem in enumerate(problems) if not problem]
    poison = [(listing[int(rows[i])].id, problems[i])
              for i, problem in enumerate(problems) if problem]
    records = [listing[int(rows[i])] for i in good]
    items = [Item(r.id, None, source.version_of(r), r.payload) for r in records]
    return items, vectors[good], poison


class RayBackfill(Controls):
    """One driver of a Ray backfill: ``run()`` until every point has the new vector."""

    def __init__(self, client: Any, migration: str, embedder_factory: EmbedderFactory,
                 source: ContentSource, *, options: BackfillOptions | None = None,
                 ray: RaySettings | None = None, state_collection: str = STATE_COLLECTION,
                 worker_id: str | None = None, metrics: Any = None,
                 on_batch: Callable[["RayBackfill", Outcome], None] | None = None) -> None:
        # read when Ray is imported: its native handler dumps a stack and aborts on a SIGTERM
        os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
        require("ray")  # a missing extra is one clear line before anything starts
        self._init_engine(client, migration, source, options or BackfillOptions(),
                          state_collection=state_collection,
                          worker_id=worker_id or f"ray-{socket.gethostname()}-{os.getpid()}",
                          metrics=metrics, on_batch=on_batch)
        self.settings, self.embedder_factory = ray or RaySettings(), embedder_factory
        self._next_heartbeat = self._next_sample = 0.0
        self._run_id = uuid.uuid4().hex  # the task workers' key for this run's embedder
        self._passes = 0
        self._write_in_hand = False  # set by an operator's stop(): the group held is written
        self._ledger: Any = None  # what tasks keep until their blocks leave (ray_handoff)
        self._started: threading.Event | None = None  # set when connect's ray.init is done

    # -- control (the same as a worker's, so a BackfillHandle drives either) -------------
    def stop(self, *, abandon: bool = False) -> None:
        """Write the group in hand (the embedded batches the driver holds; with
        ``abandon``, or while paused, not even those), then stop. Nothing unwritten is ever
        checkpointed: batches still in Ray or waiting are dropped, and listed again by the
        next run. A stop the state asks for (the phase left the backfill) writes nothing."""
        self._write_in_hand = not abandon
        self._stop.set()

    # -- state ---------------------------------------------------------------------------
    def _setup(self) -> None:
        self._open()
        self._reopen_if_points_left()

    def _reopen_if_points_left(self) -> bool:
        """Every partition is done, yet points lack the new vector (written or edited behind
        the sweep by a plain client, or dead letters requeued): open them for a new pass.
        Whether it did (:class:`~.leases.ReopenGuard`: not twice with no way forward)."""
        assert self.target is not None
        view = self._lease_view()
        if not all(lease.done for lease in view.stored.values()):
            return False
        if self._tidy.due(time.time()):  # what plain deletes and edits left behind the copies
            self._drive(self.target.tidy_steps(payloads=self._tidy.payloads))
        left = self._count_left(self.ledger.dead)
        if not self._reopen.reopen(left, self.stats.processed):
            return False
        self._drive(store.write_leases(self.migration, self.options.partitions,
                                       reopened(view), self.state_collection))
        return True

    def _lease_view(self) -> LeaseView:
        return self._drive(read_lease_view(
            self.migration, self.worker_id, self.options.partitions,
            timeout=self.options.heartbeat_timeout, state_collection=self.state_collection,
            running_here=self._running_here()))

    def _renew(self) -> None:
        """Claim a fair share of the open partitions (other drivers or workers take the rest),
        renew the owned ones, hand back the excess."""
        view, p = self._lease_view(), self.options.partitions
        renewal = self.leases.renew(view, now=time.time(), timeout=self.options.heartbeat_timeout)
        self._all_done = renewal.all_done
        self._drive(store.write_leases(self.migration, p, [
            lease for lease in renewal.to_write if lease.partition not in renewal.claimed],
            self.state_collection))
        if renewal.claimed:  # a compare-and-set per claim, as the worker claims: one wins each
            stored = self._drive(store.claim_leases(
                self.migration, p, [(view.stored[k], lease) for k, lease in
                                    renewal.claimed.items()], self.state_collection))
            self.leases.confirm(stored, renewal.claimed)

    def _heartbeat(self, *, force: bool = False) -> None:
        """Follow the state (phase, pause), renew the leases, report, sample, at intervals."""
        now = time.monotonic()
        if force or now >= self._next_heartbeat:
            self._next_heartbeat = now + self._heartbeat_interval()
            record = self._record()
            if record.phase not in RUNNABLE:
                log.info("migration is %s: stopping the Ray backfill", record.phase.value)
                self._stop.set()
            self._paused_by_state = record.backfill_paused
            if self.stats.state == "starting":  # seen alive before claiming: a fair share
                self._report("starting")
            self._renew()
            self._report("paused" if self.paused else "running")
        if force or now >= self._next_sample:
            self._next_sample = now + self.options.sample_interval_s
            self._sample_on_schedule()

    def _heartbeat_interval(self) -> float:
        return min(1.0, self.options.heartbeat_timeout / 4)

    def _report(self, state: str) -> None:
        self.stats.state = state
        self._drive(store.write_worker(self.migration, WorkerStatus(
            worker=self.worker_id, partitions=tuple(sorted(self.leases.owned)), alive=True,
            heartbeat_age_s=0.0, processed=self.stats.processed, state=state,
        ), self.state_collection))

    def _wait_while_paused(self, *, unless_done: bool = False) -> None:
        """Wait out a pause. ``unless_done`` (between passes only: a pass's groups always
        wait): not when every partition is done, since nothing would be written; the run
        ends as finished, as the worker's does."""
        while (self.paused and not self._stop.is_set()
               and not (unless_done and self._all_done and self.options.exit_when_done)):
            self._stop.wait(0.2)
            self._heartbeat()

    # -- listing a pass --------------------------------------------------------------------
    def _listing(self) -> list[models.Record]:
        """This pass's rows: hot ids first (most legacy hits first), then the sweep."""
        assert self.target is not None
        opts, limit = self.options, self.settings.pass_items
        keep = self.ledger.selectable
        rows: list[models.Record] = []
        listed: set[Any] = set()
        if opts.order(opts.batch_size, 1) > 0:
            hits = self._drive(read_hot_steps(self.migration, self.state_collection))
            hot = [pid for pid, _ in hits.most_common() if keep(pid) and self._mine(pid)][:limit]
            for start in range(0, len(hot), SWEEP_PAGE):
                for record in self._drive(self.target.fetch_steps(hot[start:start + SWEEP_PAGE])):
                    rows.append(record)
                    listed.add(record.id)
        offset = None
        while len(rows) < limit:
            records, offset = self._drive(_scroll(self.target, offset=offset))
            for record in records:
                if record.id not in listed and keep(record.id) and self._mine(record.id):
                    rows.append(record)
            if offset is None:
                break
        return rows[:limit]

    def _mine(self, pid: Any) -> bool:
        return partition_of(pid, self.options.partitions) in self.leases.owned

    # -- one pass on Ray -------------------------------------------------------------------
    def _embedded_batches(self, listing: list[models.Record], pass_key: str
                          ) -> Iterator[dict[str, np.ndarray]]:
        ray = require("ray")
        opts, settings = self.options, self.settings
        resources = ray.cluster_resources()
        gpus, cpus = resources.get("GPU", 0), resources.get("CPU", 1)
        num_gpus = settings.num_gpus if settings.num_gpus is not None else (1 if gpus else 0)
        width = settings.concurrency or (
            max(1, int(gpus)) if num_gpus else max(1, int(cpus)))
        # a row is one batch (to_batches), a block several, in hot-first order; a task (or an
        # actor call) embeds a block a batch at a time and answers it as one block, keeping
        # each batch's answer in the ledger until then, so a retried task re-embeds only the
        # batch it was killed in (ray_handoff)
        batches = to_batches(listing, self.source.payload_keys(), opts.batch_size)
        per_block = settings.batches_per_block(len(batches), width)
        dataset = ray.data.from_items(batches, override_num_blocks=-(-len(batches) // per_block))
        dataset.context.print_on_execution_start = not settings.quiet
        # One operator: nothing to reserve resources between, and the reservation held every
        # embedding process but one back until the first block came out (a block's time)
        dataset.context.op_resource_reservation_enabled = False
        stage = dict(embedder_factory=self.embedder_factory, source=self.source, dim=self.dim)
        handoff = dict(ledger=self._ledger, pass_key=pass_key)
        if num_gpus:  # an actor per GPU holds the model on its device (restarted if killed)
            dataset = dataset.map_batches(
                EmbedStage, fn_constructor_kwargs=dict(stage, **handoff), batch_size=per_block,
                batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=width),
                num_gpus=num_gpus, num_cpus=0)
        else:  # tasks on reused workers, each keeping this run's stage (ray_stage.embed_block);
            # Ray Data retries a task whose worker died (max_retries=-1)
            dataset = dataset.map_batches(
                embed_block, fn_kwargs=dict(stage, **handoff, backfill=self._run_id),
                batch_size=None, batch_format="numpy",
                compute=ray.data.TaskPoolStrategy(size=width), num_cpus=1)
        # each block's answer comes out as one: a packed row per batch. No prefetch: it held
        # each block until the next was out (ready_groups pulls on a thread of its own)
        yield from dataset.iter_batches(batch_size=None, batch_format="numpy",
                                        prefetch_batches=0)

    def _pass(self) -> bool:
        """List, embed on Ray, write; returns whether another pass is owed at once: the
        listing stopped at ``pass_items``, or points must be re-embedded (their content
        changed while they were embedded). Points that arrive behind the listing are not
        looked for with another pass (one more listing, to find none most of the time): the
        count once every partition is done finds them."""
        self.ledger.redo.clear()  # what still lacks the new vector is listed again anyway
        listing = self._listing()
        if not listing:
            return False
        log.info("Ray backfill pass: %d points", len(listing))
        before = self.stats.redone
        started, emitted = time.monotonic(), 0
        self._passes += 1
        pass_key = f"{self._run_id}-{self._passes}"
        # a group waits no longer than the heartbeat's interval for its batches
        groups = ready_groups(self._embedded_batches(listing, pass_key),
                              self.settings.write_batches, self._heartbeat_interval(),
                              size=_batches_in, stopped=self._stop.is_set)
        try:
            for group in groups:
                self._wait_while_paused()
                if self._stop.is_set() and (self.paused or not self._write_in_hand):
                    break
                self._write(group, listing)
                emitted += sum(int(count) for batch in group for count in batch["count"])
                if self._stop.is_set():
                    break
                self._pace(started, emitted)
                self._heartbeat()
        finally:
            groups.close()  # stops the pulling thread and Ray Data's execution
            self._ledger.forget.remote(pass_key)
        return len(listing) >= self.settings.pass_items or self.stats.redone > before

    def _write(self, group: Sequence[dict[str, np.ndarray]],
               listing: Sequence[models.Record]) -> None:
        """One write group: a conditional write of its points, then its dead letters and one
        checkpoint (metrics and ``on_batch`` see one batch per group).

        As race-safe as a write per batch: the target's conditions are per point (the named
        layout's compare-and-set admits a point only while it lacks the new vector and holds
        the version that was embedded; the blue-green upsert replaces only the backfill's own
        copies, then each point is verified), so the same points under the same conditions
        land the same whether one request carries them or several. A group is one batch
        long per compare-and-set request (``chunk``), as the worker's writes are; the checks
        and the stamp that follow run once for the group."""
        assert self.target is not None
        self._writes_begin()
        t0 = time.perf_counter()
        items, vectors, poison = _items_of(joined(group), listing, self.source, self.dim)
        no_content = no_content_reason(self.source)
        failed = [letter for letter in poison if not letter[1].startswith(no_content)]
        self._breaker.observe(len(items) + len(failed), failed)
        outcome = self._drive(self.target.write_steps(
            items, vectors, chunk=self.options.batch_size)) if items else Outcome()
        dead = poison + self.ledger.settle(migrated=outcome.migrated, redo=outcome.redo)
        if dead:
            self._drive(store.add_dead_letters(self.migration, dead, self.state_collection))
            self.ledger.bury(pid for pid, _ in dead)
        self._checkpoint(outcome.migrated)
        self.stats.written += len(outcome.migrated)
        self.stats.skipped += len(outcome.gone)
        self.stats.dead_lettered += len(dead)
        self.stats.redone += len(outcome.redo)
        self.stats.batches += sum(map(_batches_in, group))
        if self.metrics is not None:
            self.metrics.record_batch(self.migration, written=len(outcome.migrated),
                                      skipped=len(outcome.gone), dead_lettered=len(dead),
                                      seconds=time.perf_counter() - t0, embed_seconds=0.0)
        if self.on_batch is not None:
            self.on_batch(self, outcome)
        self._stop_if_the_embedder_fails_everything()

    def _checkpoint(self, migrated: Sequence[Any]) -> None:
        """Count the written points in their partitions' leases (no cursor: what is written
        drops out of the next listing, which is the checkpoint)."""
        checkpoint = self.leases.checkpoint(migrated=migrated, partition=None, cursor=None,
                                            ends_pass=False, redo_pending=lambda k: False,
                                            now=time.time())
        if checkpoint.to_write:
            self._drive(store.write_leases(self.migration, self.options.partitions,
                                           checkpoint.to_write, self.state_collection))

    def _close_owned(self) -> None:
        """A pass over the owned partitions owes no other: they are done."""
        done = [replace(lease, done=True) for lease in self.leases.owned.values()]
        self.leases.owned.update({lease.partition: lease for lease in done})
        self._drive(store.write_leases(self.migration, self.options.partitions, done,
                                       self.state_collection))

    # -- run ---------------------------------------------------------------------------
    def run(self) -> BackfillStats:
        """Passes until every partition is done and nothing is left (or until stopped)."""
        self._setup()
        if not self._stop.is_set():  # stopped while Ray started: no second start
            self.connect()
        self._heartbeat(force=True)
        failed = done = False
        try:
            while not self._stop.is_set():
                self._wait_while_paused(unless_done=True)
                if self._stop.is_set():
                    break
                if self._pass() or self._stop.is_set():
                    continue
                # a pass that owes no other: these partitions are done; the backfill is
                # done once every partition is (other drivers' included)
                self._close_owned()
                self._heartbeat(force=True)
                if self._all_done:
                    # points edited or written behind the sweep: another pass, else done
                    if self._reopen_if_points_left():
                        self._heartbeat(force=True)  # claims the reopened partitions
                        continue
                    if self.options.exit_when_done:
                        done = True
                        break
                self._stop.wait(self.options.heartbeat_timeout / 4)
        except Exception as exc:
            if not self._ended_under_it():
                failed = True
                raise
            log.info("the migration left the backfill phases: stopping (%r)", exc)
        except BaseException:
            failed = True
            raise
        finally:
            self._finish("failed" if failed else ("finished" if done else "stopped"))
            if self.settings.quiet:  # a stop leaves Ray Data's execution to close in the
                # background, after Ray's own shutdown at exit: what it says then is noise
                logging.getLogger("ray.data").setLevel(logging.CRITICAL)
        return self.stats

    def connect(self) -> None:
        """Connect to Ray (or start a local instance) now, keeping the caller's SIGTERM
        handler, and give up at once on a stop. ``run`` does it too; call it first from the
        main thread to pay Ray's start before anything else (the CLI does).

        ``ray.init`` runs on a thread of its own while this one waits for it, for a stop,
        or for :data:`CONNECT_TIMEOUT_S`; that thread then stays, parked, for the life of
        the process (a local Ray's processes get the parent-death signal when the thread
        that started them ends: they died with it). A SIGTERM sent to the process group (``timeout``,
        systemd) during a local start kills Ray's own processes as well, and ``ray.init``
        then waited 10 to 60 s for them before failing; at an address where nothing
        listens it waited for ever, deaf to signals. A stop now returns at once and
        :attr:`starting` says a start was left behind: a process about to exit must not wait
        for it (the CLI ends with ``os._exit``). A failure is one :class:`BackfillError`
        line. Ray is not let set its own SIGTERM handler (``ray.init`` puts in one that exits
        the process first thing: a SIGTERM then broke the start off half done and the
        interpreter crashed at exit), and its native failure handler, which dumps a stack
        and aborts, is off where Ray is first imported by this engine."""
        if self._ledger is not None or self._stop.is_set():
            return
        utils = importlib.import_module("ray._private.utils")
        keep = getattr(utils, "set_sigterm_handler", None)
        if keep is not None:
            utils.set_sigterm_handler = lambda handler: None
        failed: list[BaseException] = []
        started = threading.Event()

        def start() -> None:
            # Ray's processes inherit this thread's signal mask: they block SIGINT already
            # (Ray's own doing), and SIGTERM too from here, so that a SIGTERM to the whole
            # process group (timeout, systemd) reaches the driver alone
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            try:
                initialised = self._connect()
            except BaseException as exc:  # noqa: BLE001 - reported by the waiting thread
                failed.append(exc)
                return
            finally:
                started.set()
            if initialised:  # Ray's local processes die with the thread that started them
                threading.Event().wait()  # (Linux's parent-death signal): it stays, parked

        self._started = started
        threading.Thread(target=start, daemon=True, name="drift-ray-start").start()
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while (not started.is_set() and not self._stop.is_set()
               and time.monotonic() < deadline):
            started.wait(STOP_POLL_S)
        if not started.is_set():
            if self._stop.is_set():
                return  # run() writes nothing; the start is left to the exiting process
            address = self.settings.address
            late = ("a local Ray instance did not start" if address is None
                    else f"Ray at {address} did not answer")
            raise BackfillError(f"{late} within {CONNECT_TIMEOUT_S:.0f} s: is the cluster up, "
                                f"and is the address right?")
        if keep is not None:
            utils.set_sigterm_handler = keep
        if failed and not self._stop.is_set():
            reason = str(failed[0]).strip().splitlines()
            raise BackfillError(f"could not {self._start_or_reach()}: "
                                f"{reason[0] if reason else type(failed[0]).__name__}"
                                ) from failed[0]

    @property
    def starting(self) -> bool:
        """A start of Ray that a stop gave up on is still running (see :meth:`connect`)."""
        return self._started is not None and not self._started.is_set()

    def _start_or_reach(self) -> str:
        address = self.settings.address
        return "start a local Ray instance" if address is None else f"reach Ray at {address}"

    def _connect(self) -> bool:
        """Ray up (``ray.init`` unless it is), Ray Data quiet, the ledger actor; whether it
        called ``ray.init``."""
        ray = require("ray")
        quiet = self.settings.quiet
        initialised = not ray.is_initialized()
        if initialised:
            ray.init(address=self.settings.address, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR if quiet else logging.INFO)
        # a Ray call once this Ray is shut down (Ray Data's pulling thread, at the exit after
        # a stop) fails instead of starting a second local instance in the background
        importlib.import_module("ray._private.auto_init_hook").enable_auto_connect = False
        if quiet:  # Ray Data sets its loggers up again per dataset, from this variable
            os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")
            logging.getLogger("ray.data").setLevel(logging.ERROR)
        ray.data.DataContext.get_current().enable_progress_bars = False
        self._ledger = driver_ledger()
        return initialised

    def _finish(self, state: str) -> None:
        """Hand the partitions back at once (no waiting for the lease to expire)."""
        self._drive(store.write_leases(self.migration, self.options.partitions,
                                       self.leases.release_all(), self.state_collection))
        self._report(state)
        if state == "finished":
            self._last_sample()


def _scroll(target: Target, *, offset: Any) -> Steps[Any]:
    return (yield call("scroll", target.spec.collection, scroll_filter=target.unmigrated(),
                       limit=SWEEP_PAGE, offset=offset, with_payload=target.payload_selector(),
                       with_vectors=False))


__all__: Sequence[str] = ("EmbedStage", "RayBackfill", "RaySettings")  # EmbedStage: .ray_stage
