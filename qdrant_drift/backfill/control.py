"""What the worker and the Ray driver share: their setup (client with retries, dead-letter
ledger, leases, tidy schedule, reopen rule) and what an operator or a
:class:`~.handle.BackfillHandle` can do to a running backfill: pause and resume (locally, or
through the state's pause flag), and the retry count the metrics show. Stopping differs per
engine."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any

from ..lifecycle.progress import Sample
from ..local import SerializedClient, is_local
from ..sansio import Steps, drive
from ..store import backfill as store
from ..store.records import count_migrated
from .breaker import EmbedderBreaker
from .leases import LeaseBook, Remaining, ReopenGuard, remaining_steps
from .ledger import Ledger
from .options import BackfillOptions, BackfillStats
from .retry import RetryingClient
from .setup import RUNNABLE, migration_steps, new_vector_size_steps, runnable_steps
from .targets import Target, TidySchedule, target_for

log = logging.getLogger(__name__)

# the engines this process runs (a worker or a Ray driver each, gone once collected)
_ENGINES_HERE: "weakref.WeakSet[Controls]" = weakref.WeakSet()
_ENGINES_LOCK = threading.Lock()


def engines_running_here() -> frozenset[str]:
    """The worker ids of the backfill engines this process runs: on embedded Qdrant, the
    only live ones.

    Why: embedded Qdrant's storage is open in one process at a time (qdrant-client locks
    the folder; ``:memory:`` is one process's own), so a worker that no engine of this
    process runs reported from a process that has exited (a kill -9, a crash), however
    fresh its heartbeat: nobody renews its leases, and waiting out its heartbeat timeout
    (30 s by default) would be waiting for nothing; ``status`` would count it alive."""
    with _ENGINES_LOCK:
        return frozenset(engine.worker_id for engine in _ENGINES_HERE)


class Controls:
    """Pause state and retry counting, and the setup every engine shares
    (:meth:`_init_engine`); an engine reads ``_stop`` and :attr:`paused` in its loop."""

    migration: str
    stats: Any
    metrics: Any

    def _init_engine(self, client: Any, migration: str, source: Any,
                     options: BackfillOptions, *,
                     state_collection: str, worker_id: str, metrics: Any,
                     on_batch: Any) -> None:
        """What the worker and the Ray driver hold alike: the migration and its content
        source, the options, a client that retries transient faults (serialised for an
        embedded one, which is not thread-safe), the dead-letter ledger, the leases, the
        tidy schedule, the reopen rule, and the pause state."""
        self.migration, self.source, self.options = migration, source, options
        self.state_collection, self.worker_id = state_collection, worker_id
        self.metrics, self.on_batch = metrics, on_batch
        self.stats = BackfillStats()
        self._embedded = is_local(client)
        base = SerializedClient(client) if self._embedded else client
        self.client = RetryingClient(base, max_attempts=options.max_attempts,
                                     max_wait=options.max_retry_wait,
                                     on_retry=self._count_retry)
        self.ledger = Ledger()
        self.leases = LeaseBook(worker_id, options.partitions)
        self._tidy = TidySchedule.for_backfill(options)
        self._reopen = ReopenGuard()
        self._breaker = EmbedderBreaker.for_batches(options.batch_size)
        self._all_done = False
        self._stop = threading.Event()
        self._paused_locally = threading.Event()
        self._paused_by_state = False  # the state's pause flag, as last read
        self.target: Target | None = None  # where and how it writes, from _open
        self.dim: int | None = None  # the new vector's size, from _open
        self._writing = False  # this run has begun writing
        self._counted: tuple[int, Remaining] | None = None  # (batches then, the count left)
        with _ENGINES_LOCK:
            _ENGINES_HERE.add(self)

    def _running_here(self) -> frozenset[str] | None:
        """On embedded Qdrant, :func:`engines_running_here`; None on a server, where any
        process may run a worker."""
        return engines_running_here() if self._embedded else None

    def _drive(self, steps: Steps[Any]) -> Any:
        return drive(steps, self.client)

    def _record(self) -> Any:
        """The migration's record as stored now (phase, pause flag, spec)."""
        return self._drive(migration_steps(self.migration, self.state_collection))

    def _open(self) -> Any:
        """What both engines do before their first write: refuse a phase that does not
        backfill, find the target and the new vector's size, and leave the dead letters out
        of the work. Returns the record."""
        record = self._drive(runnable_steps(self.migration, self.state_collection))
        self.target = target_for(record.spec, self.source, embedded=self._embedded)
        self.dim = self._drive(new_vector_size_steps(record.spec))
        self.ledger.bury(d["point_id"] for d in self._drive(
            store.read_dead_letters(self.migration, self.state_collection)))
        return record

    def _sample(self, *, writes_begin: bool = False) -> None:
        """A progress sample (points migrated, and in all, now): status reads the rate and
        the ETA off them."""
        assert self.target is not None
        migrated, total = self._drive(count_migrated(self.target.spec))
        self._drive(store.write_sample(self.migration, self.worker_id,
                                       Sample(at=time.time(), migrated=migrated, total=total,
                                              writes_begin=writes_begin),
                                       self.state_collection))

    def _count_left(self, dead: Any) -> int:
        """Points still to backfill (lacking the new vector, not ``dead`` letters), counted
        when the work ran out. The count is kept: if the run ends with no write after it,
        it is also the run's last progress sample (:meth:`_last_sample`), instead of a
        second scan of the collection on embedded Qdrant a moment later."""
        assert self.target is not None
        remaining = self._drive(remaining_steps(self.target, dead))
        self._counted = (self.stats.batches, remaining)
        return remaining.left

    def _last_sample(self) -> None:
        """The sample a finished run ends with: the count it ran out of work on, when
        nothing was written since, else a new one."""
        if self._counted is None or self._counted[0] != self.stats.batches:
            self._sample()
            return
        remaining = self._counted[1]
        self._drive(store.write_sample(self.migration, self.worker_id, Sample(
            at=remaining.at, migrated=remaining.migrated, total=remaining.total),
            self.state_collection))

    def _sample_on_schedule(self) -> None:
        """A scheduled progress sample, once this run has begun writing: before its first
        write, the ``writes_begin`` sample is the one the rate starts from, and one taken
        before it only cost a count of the migrated points (a scan on embedded Qdrant)."""
        if self._writing:
            self._sample()

    def _writes_begin(self) -> None:
        """Before each write: right before the run's first, a sample marked as where this
        run's pace starts (:func:`~..lifecycle.progress.throughput` reads the rate from the
        last such sample). Without it the rate ran from the last scheduled sample, up to
        ``sample_interval_s`` before the first write, or from a run stopped seconds before
        this one started, across its start-up (a model loading, Ray's first block): early
        in a run, and after a restart, the ETA was several times too long."""
        if self._writing:
            return
        self._writing = True
        self._sample(writes_begin=True)

    def _stop_if_the_embedder_fails_everything(self) -> None:
        """After a write's dead letters are stored: raise when the embedder failed on every
        item of the last batches (:mod:`.breaker`), so the run ends with an error that says
        what to do instead of dead-lettering the collection."""
        if self._breaker.tripped:
            raise self._breaker.error()

    def _pace(self, started: float, items: int) -> None:
        """Wait as long as ``rate_limit`` (items per second) asks, ``items`` handed on since
        ``started`` (monotonic)."""
        rate = self.options.rate_limit
        if rate:
            wait = items / rate - (time.monotonic() - started)
            if wait > 0:
                self._stop.wait(wait)

    def _ended_under_it(self) -> bool:
        """Did the migration leave the backfill phases (rollback, abandon) while this
        engine ran? Then a write that failed on what that took away (abandon drops the new
        vector or collection) is the end of the backfill, not an error to raise."""
        try:
            return self._record().phase not in RUNNABLE
        except Exception:  # noqa: BLE001 - unreadable: the original error stands
            return False

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
