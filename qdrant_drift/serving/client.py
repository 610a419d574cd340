"""``DriftClient`` / ``AsyncDriftClient``: drop-in wrappers around qdrant-client.

An app changes one line (``client = qdrant_drift.wrap(client, migration="...")``) and keeps
calling ``query_points`` with NEW-model vectors while the collection migrates underneath.
Routed calls follow the migration state read from Qdrant (refreshed in the background: a
query never waits on it). What happens to each public name of qdrant-client (routed,
mirrored, passed through, or refused while migrating) is the table in :mod:`.surface`.
Both clients share one sans-I/O core (:mod:`.queries`, :mod:`.writes`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from os import PathLike
from typing import Any, Awaitable, Callable, Sequence, TypeVar

from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_client.http import models

from ..adapters import Adapter
from .batching import batched_steps, coalesced, request_kwargs
from .queries import (
    QUERY_DEFAULTS,
    Serving,
    deep_hits_steps,
    dense_vector,
    groups_steps,
    matrix_steps,
    query_steps,
)
from ..errors import AdapterFileError, DriftError, StateError
from ..local import SerializedClient, is_local
from .hits import HitCounter
from .merge import overlap_at_k
from .shadow import SHADOW_OF, ShadowSampler, ShadowStats, flush_agreement_steps
from .router import (
    DEFAULT_REFRESH_INTERVAL, PASSTHROUGH, Plan, Router, RouterSettings, RoutingState)
from ..sansio import Steps, adrive, call, drive
from ..scores import Orientation, orientation
from ..store.adapters import load_stored_adapter
from ..store.collection import STATE_COLLECTION
from ..store.fleet import load_settings_steps, report_replica_steps
from ..store.records import abandon_steps, read_routing_state, unknown_migration_note
from ..migration.phases import ACTIVE, BEFORE_CUT_OVER, TERMINAL, Phase
from .surface import ENDS_MIGRATION, SURFACE, Treatment, names_migration, refusal
from .writes import write_steps

log = logging.getLogger("qdrant_drift")
T = TypeVar("T")


FAILED_CALL_READ_S = 1.0
"""The least time between two state reads that failed calls make (see
:meth:`_Core.replanned_steps`)."""


def _moment(state: RoutingState | None, serving: Serving) -> tuple[Any, Plan, bool]:
    """What a stale snapshot differs in: the phase, the plan, abandoned or not."""
    return (state.phase if state is not None and state.healthy else None, serving.plan,
            serving.abandoned)


class _Core:
    """What both clients share: the current serving snapshot and how to refresh it."""

    def __init__(self, migration: str, *, state_collection: str, router: Router | None,
                 adapter: Adapter | None, shadow_rate: float | None = None,
                 calibrate: bool = True, metrics: Any = None, embedded: bool = False) -> None:
        self.migration = migration
        self.embedded = embedded  # the wrapped client is embedded Qdrant
        self.metrics = metrics
        self.calibrate = calibrate
        # The router settings the operator stored (the migration file's [router]) apply
        # unless the app pinned its own router / shadow rate.
        self.settings: RouterSettings | None = None
        self.pinned_router, self.pinned_shadow_rate = router, shadow_rate
        self.shadow = ShadowSampler(shadow_rate or 0.0)
        self.shadow_stats = ShadowStats()
        self.state_collection = state_collection
        self.router = router or RouterSettings().router()
        self.pinned_adapter = adapter
        self.adapter_problem: str | None = None  # why the stored adapter cannot be used
        self.serving: Serving | None = None
        self.routing_state: RoutingState | None = None
        self.refreshed_at: float | None = None
        self.refresh_errors = 0
        self._failure_read_at = -math.inf  # when a failed call last read the state (monotonic)
        self._said_failure: str | None = None  # the background failure last logged
        self._adapter: Adapter | None = adapter
        self._adapter_digest: str | None = None
        self.hits = HitCounter(migration)

    def background_failed(self, exc: BaseException) -> None:
        """Log a failed background tick once per distinct error, not every interval: a
        client closed under the wrapper, or a Qdrant that is down, fails the same way each
        time (``refresh_errors`` and the metrics still count every one)."""
        said = str(exc)
        if said != self._said_failure:
            self._said_failure = said
            log.warning("qdrant-drift: state refresh failed: %s%s (logged again only if the "
                        "error changes)", exc, self._unlocked_hint(exc))

    def _unlocked_hint(self, exc: BaseException) -> str:
        """Embedded Qdrant used from two threads at once fails inside its own arrays (numpy's
        "operands could not be broadcast", an index out of range), which says nothing of the
        cause: an app thread that writes through the client it wrapped, beside this one."""
        if not self.embedded or isinstance(exc, (DriftError, OSError)):
            return ""
        return (" (embedded Qdrant is not thread-safe: does another thread use the client "
                "without its lock? write through the wrapper, or wrap the client in "
                "qdrant_drift.local.SerializedClient, in every thread)")

    def background_succeeded(self) -> None:
        if self._said_failure is not None:
            self._said_failure = None
            log.warning("qdrant-drift: state refresh works again")

    def background_steps(self) -> Steps[None]:
        """One tick of the background loop: refresh the state, flush legacy hits (also when
        the refresh failed: the hits are worth keeping either way)."""
        try:
            yield from self.refresh_steps()
        finally:
            yield from self.hits.flush_steps(self.state_collection)
            yield from flush_agreement_steps(self.shadow_stats, self.migration,
                                             self.hits.replica, self.state_collection)
            if self.serving is not None:
                yield from report_replica_steps(
                    self.migration, self.hits.replica, self.serving.plan.value,
                    None if self.pinned_router is not None else self.settings,
                    self.state_collection)

    def refresh_steps(self) -> Steps[Serving]:
        try:
            state, record = yield from read_routing_state(self.migration, self.state_collection)
            if record is None:
                note = yield from unknown_migration_note(self.migration, self.state_collection)
                raise DriftError(f"no migration named {self.migration!r} in state collection "
                                 f"{self.state_collection!r}{note}: wrap with the migration "
                                 "file's [migration] name, once `qdrant-drift fit` has "
                                 "recorded it")
            if self.pinned_adapter is None and record.adapter_digest != self._adapter_digest:
                yield from self._load_adapter_steps(record)
            settings = yield from load_settings_steps(self.migration, self.state_collection)
            self._apply(settings)
        except Exception:
            self.refresh_errors += 1
            if self.metrics is not None:
                self.metrics.record_state_refresh_error(self.migration)
            if self.serving is None:
                raise
            # Keep serving on the last spec, on the plan that is always safe.
            self.routing_state = RoutingState(healthy=False)
            self.serving = self._snapshot(self.serving.spec, self.routing_state,
                                          self.serving.orientation)
            raise
        self.routing_state = state
        self.refreshed_at = time.time()
        self.serving = self._snapshot(record.spec, state, orientation(record.distance))
        return self.serving

    def _load_adapter_steps(self, record: Any) -> Steps[None]:
        """Load the stored adapter. A corrupt one (bad digest, missing chunks, unreadable
        file) must not take serving down: native serving needs no adapter, and until a new
        one is stored the last good adapter (if any) keeps serving; the problem is kept for
        the error a query that needs the adapter gets. Transport errors propagate (the
        refresh degrades and retries)."""
        try:
            self._adapter = ((yield from load_stored_adapter(record, self.state_collection))
                             if record.adapter_digest else None)
            self.adapter_problem = None
        except (StateError, AdapterFileError) as exc:
            self.adapter_problem = str(exc)
            if self.metrics is not None:
                self.metrics.record_state_refresh_error(self.migration)
        self._adapter_digest = record.adapter_digest

    def _apply(self, settings: RouterSettings | None) -> None:
        """Follow the stored router settings where the app pinned nothing."""
        self.settings = settings
        if settings is None:
            return
        if self.pinned_router is None:
            self.router = settings.router()
        if self.pinned_shadow_rate is None and settings.shadow_rate != self.shadow.rate:
            self.shadow = ShadowSampler(settings.shadow_rate)

    def _snapshot(self, spec: Any, state: RoutingState, scores: Orientation) -> Serving:
        adapter = self._adapter
        plan = self.router.plan(state)
        abandoned = state.healthy and state.phase is Phase.ABANDONED
        if adapter is None:
            return Serving(spec=spec, plan=plan, adapter=None, calibrate=self.calibrate,
                           adapter_problem=self.adapter_problem, coverage=state.coverage,
                           orientation=scores, abandoned=abandoned, embedded=self.embedded)
        return Serving(spec=spec, plan=plan, adapter=adapter, calibration=adapter.calibration,
                       old_calibration=adapter.old_calibration, calibrate=self.calibrate,
                       coverage=state.coverage, orientation=scores, abandoned=abandoned,
                       embedded=self.embedded)

    def shadow_call(self, serving: Serving, kw: dict[str, Any],
                    old_query: Any) -> Serving | None:
        """The serving snapshot to shadow this query with, or None (not sampled / not routed)."""
        if not self.shadow.pick() or dense_vector(kw["query"]) is None:
            return None
        return replace(serving, plan=SHADOW_OF[serving.plan])

    def record_shadow(self, served: Plan, shadow: Plan, primary: models.QueryResponse,
                      other: models.QueryResponse, limit: int) -> None:
        self.shadow_stats.record(served, shadow, overlap_at_k(primary.points, other.points,
                                                              limit))

    def current(self) -> Serving:
        if self.serving is None:
            raise DriftError("the migration state has not been read yet")
        return self.serving

    def routed(self) -> Serving:
        """The snapshot a routed query runs on (counted, when metrics are on)."""
        serving = self.current()
        if self.metrics is not None:
            self.metrics.record_query(self.migration,
                                      PASSTHROUGH if serving.abandoned else serving.plan)
            if self.routing_state is not None and not self.routing_state.healthy:
                self.metrics.record_degraded(self.migration, "state-unreadable")
        return serving

    def replanned_steps(self, serving: Serving, steps_for: Callable[[Serving], Steps[T]]
                        ) -> Steps[tuple[Serving, T]]:
        """``steps_for(serving)``; if it fails and the state has moved on since ``serving``
        was read, once more on the fresh snapshot. Returns the snapshot that answered.

        A replica serves on the state it read last, up to ``refresh_interval`` old. When the
        phase moves meanwhile, what that snapshot plans may be gone: ``finish`` drops the
        legacy collection (blue-green) or vector (named), and a hybrid query planned before
        it fails with "not found" (embedded Qdrant says so with a ValueError, a server with
        a 404 or a 400: no error class tells them apart). So a failure re-reads the state,
        and only a changed phase or plan is retried: an app's own mistake fails as it would
        without the wrapper, after one state read, and a retry happens at most once. The
        state is read for a failure at most once per :data:`FAILED_CALL_READ_S`: a flood of
        bad queries (or of errors from an overloaded Qdrant) costs one read a second, not one
        each (the read counts the migrated points: a scan on embedded Qdrant)."""
        state = self.routing_state  # read with ``serving``; compared only after a failure
        try:
            return serving, (yield from steps_for(serving))
        except Exception:
            now = time.monotonic()
            if now - self._failure_read_at < FAILED_CALL_READ_S:
                raise
            self._failure_read_at = now
            kept, readable = (self.routing_state, self.serving), True
            try:
                yield from self.refresh_steps()
            except Exception:  # noqa: BLE001 - the call's own error is the one raised
                # a state read that failed after a failed call (Qdrant down, say) changes
                # nothing: the snapshot keeps its plan until a refresh of its own fails
                self.routing_state, self.serving = kept
                readable = False
            if not readable:
                raise  # the call's error, its cause and context as they were
            fresh = self.current()
            moved = _moment(self.routing_state, fresh)
            if moved == _moment(state, serving):
                raise
            log.info("qdrant-drift: the migration moved on (%s) while a call was planned on "
                     "the state before: planned again", moved[0])
            return fresh, (yield from steps_for(fresh))

    @property
    def plan(self) -> Plan:
        return self.current().plan

    @property
    def finished(self) -> bool:
        """Is the migration over (only the new side left to write)?"""
        state = self.routing_state
        return state is not None and state.healthy and state.phase is Phase.FINISHED

    @property
    def backfill_ahead(self) -> bool:
        """Is the migration before cut-over (the backfill will still embed what lacks the
        new vector, and the legacy side serves it meanwhile)?"""
        state = self.routing_state
        return state is not None and state.healthy and state.phase in BEFORE_CUT_OVER

    def after_blue_green_finish(self, kw: dict[str, Any]) -> dict[str, Any] | None:
        """``kw`` naming the new collection instead of the legacy one, once a blue-green
        migration finished (the legacy collection is dropped, and the app's name for it
        means the new one: with no alias, ``count("docs")`` would fail); None otherwise."""
        spec = self.current().spec
        if (self.finished and spec.new_collection is not None
                and kw.get("collection_name") == spec.collection):
            return {**kw, "collection_name": spec.new_collection}
        return None

    def write_steps(self, method: str, kw: dict[str, Any]) -> Steps[Any]:
        """One mirrored call. Deleting (or recreating) a collection the migration holds ends
        the migration first: it is abandoned (the new side dropped, the app's call kept in
        the history), then the call runs as the app made it and the wrapper passes
        everything through from then on. An unreadable state refuses it (the migration
        cannot be ended safely blind)."""
        serving = self.current()
        if method in ENDS_MIGRATION and names_migration(serving.spec, kw):
            state = self.routing_state
            if state is None or not state.healthy:
                raise StateError(f"{method} of {kw['collection_name']!r} refused: the "
                                 "migration state cannot be read, so the migration cannot "
                                 "be ended safely; try again, or call it on client.unwrapped")
            if state.phase not in TERMINAL:
                yield from abandon_steps(self.migration, self.state_collection,
                                         why=f"{method} {kw['collection_name']!r} by an app")
                yield from self.refresh_steps()
            return (yield call(method, **kw))
        return (yield from write_steps(serving.spec, serving.adapter, method, kw,
                                       finished=self.finished, abandoned=serving.abandoned,
                                       backfill_ahead=self.backfill_ahead))


_NOT_QUERY_ARGS = frozenset(
    ("self", "collection_name", "group_by", "old_query", "kwargs", "__class__"))


def _pack(args: dict[str, Any]) -> dict[str, Any]:
    """A routed method's arguments (its ``locals()``) as one keyword dict for the core
    (every parameter is there, defaults included: :data:`QUERY_DEFAULTS` for queries)."""
    kw = {k: v for k, v in args.items() if k not in _NOT_QUERY_ARGS}
    kw.update(args.get("kwargs") or {})
    return kw


def _a(name: str) -> str:
    return f"{'an' if name[:1].upper() in 'AEIOU' else 'a'} {name}"


def _check_wrappable(asynchronous: bool, client: Any) -> None:
    """A wrapper is given the app's client, of its own kind: a URL or a path (or the other
    kind of client) would fail later, on the first call, with an error about a missing
    attribute or a coroutine never awaited."""
    wrapper, kind = (("AsyncDriftClient", "AsyncQdrantClient") if asynchronous
                     else ("DriftClient", "QdrantClient"))
    other = QdrantClient if asynchronous else AsyncQdrantClient
    if isinstance(client, other):
        raise TypeError(f"{wrapper} wraps {_a(kind)}, not {_a(other.__name__)}: use "
                        f"{'DriftClient' if asynchronous else 'AsyncDriftClient'} "
                        "(or qdrant_drift.wrap, which picks)")
    if isinstance(client, (str, bytes, PathLike)) or not hasattr(client, "query_points"):
        raise TypeError(f"{wrapper} wraps {_a(kind)}, not {_a(type(client).__name__)} "
                        f"({client!r:.60}): pass {kind}(url=...) or {kind}(path=...)")


class _Wrapper:
    """What the sync and the async wrapper share: the core, the state views, the options."""

    _asynchronous = False

    def __init__(
        self,
        client: Any,
        migration: str,
        *,
        state_collection: str = STATE_COLLECTION,
        router: Router | None = None,
        adapter: Adapter | None = None,
        refresh_interval: float | None = None,
        shadow_rate: float | None = None,
        calibrate: bool = True,
        metrics: Any = None,
        hit_depth: int = 0,
        hit_sample_rate: float = 0.1,
    ) -> None:
        if hit_depth < 0:
            raise ValueError(f"hit_depth must be >= 0, got {hit_depth}")
        _check_wrappable(self._asynchronous, client)
        self._client = self._unwrapped = client
        self._pinned_interval = refresh_interval
        self._hit_depth = hit_depth
        self._hit_sampler = ShadowSampler(hit_sample_rate if hit_depth else 0.0)
        self._core = _Core(migration, state_collection=state_collection, router=router,
                           adapter=adapter, shadow_rate=shadow_rate, calibrate=calibrate,
                           metrics=metrics, embedded=is_local(client))

    @property
    def plan(self) -> Plan:
        """The plan routed queries take right now (once the migration is abandoned nothing is
        routed, whatever this says: status and the query metrics say ``passthrough``)."""
        return self._core.plan

    @property
    def _interval(self) -> float:
        """Seconds between state reads: the app's own, else the stored router settings'."""
        if self._pinned_interval is not None:
            return self._pinned_interval
        settings = self._core.settings
        return settings.refresh_interval if settings else DEFAULT_REFRESH_INTERVAL

    @property
    def unwrapped(self) -> Any:
        """The wrapped client itself: calls made on it bypass the migration on purpose."""
        return self._unwrapped

    def _check(self, method: str, kw: dict[str, Any]) -> None:
        """Raise the refusal of a call that must not run on the migrating collection now."""
        state = self._core.routing_state
        phase = state.phase if state is not None and state.healthy else None
        if phase is not None and phase not in ACTIVE:
            return
        error = refusal(self._core.current().spec, phase.value if phase else "active",
                        method, kw)
        if error is not None:
            raise error

    def _entry(self, name: str) -> Treatment:
        if name.startswith("_"):
            raise AttributeError(name)
        entry = SURFACE.get(name)
        if entry is None:
            if not hasattr(self._unwrapped, name):  # a probe (hasattr) for what is not there
                raise AttributeError(f"{type(self._unwrapped).__name__!r} object has no "
                                     f"attribute {name!r}")
            if name not in _WARNED:
                _WARNED.add(name)
                log.warning("qdrant-drift: %s is not in the client surface table of this "
                            "qdrant-drift version: passed through unchanged", name)
            return Treatment.PASSTHROUGH
        return entry.treatment

    @property
    def routing_state(self) -> RoutingState | None:
        return self._core.routing_state

    @property
    def legacy_hits(self) -> HitCounter:
        """Items served from legacy vectors, counted per point id (hot-first backfill)."""
        return self._core.hits

    @property
    def shadow_stats(self) -> ShadowStats:
        """Agreement (overlap@k) between served plans and their shadows."""
        return self._core.shadow_stats

    def _query_steps(self, collection_name: str, kw: dict[str, Any], old_query: Any
                     ) -> Steps[tuple[Serving, models.QueryResponse]]:
        """One routed query, and the snapshot that answered it (see
        :meth:`_Core.replanned_steps`)."""
        return self._core.replanned_steps(self._core.routed(), lambda serving: query_steps(
            serving, collection_name, kw, old_query, self._core.hits.record))

    def _batch_steps(self, collection_name: str, requests: Sequence[models.QueryRequest],
                     consistency: Any, timeout: Any, extra: dict[str, Any]
                     ) -> Steps[tuple[Serving, list[dict[str, Any]], list[Any]]]:
        """A batch of routed queries, each request as routed ``query_points`` arguments, on
        one snapshot (one round trip per collection); returns the snapshot, the arguments
        and the responses."""
        clashing = sorted(set(extra) & set(QUERY_DEFAULTS))
        if clashing:  # they belong in the requests; qdrant-client refuses them too
            raise TypeError(f"query_batch_points() got unexpected keyword arguments {clashing}: "
                            "set them on each QueryRequest")
        kws = [{**QUERY_DEFAULTS, **request_kwargs(r), "consistency": consistency,
                "timeout": timeout, **extra} for r in requests]
        if not kws:
            return self._core.current(), kws, []
        for _ in kws[1:]:  # each request counts as a routed query (metrics)
            self._core.routed()
        serving, responses = yield from self._core.replanned_steps(
            self._core.routed(), lambda snapshot: batched_steps([
                query_steps(snapshot, collection_name, kw, None, self._core.hits.record)
                for kw in kws]))
        return serving, kws, responses

    def _groups_steps(self, collection_name: str, group_by: str, kw: dict[str, Any],
                      old_query: Any) -> Steps[tuple[Serving, models.GroupsResult]]:
        return self._core.replanned_steps(self._core.routed(), lambda serving: coalesced(
            groups_steps(serving, collection_name, group_by, kw, old_query)))

    def _matrix_steps(self, name: str, kw: dict[str, Any]) -> Steps[tuple[Serving, Any]]:
        return self._core.replanned_steps(self._core.routed(),
                                          lambda serving: matrix_steps(serving, name, kw))

    def _shadow(self, serving: Serving, collection_name: str, kw: dict[str, Any],
                old_query: Any) -> Serving | None:
        if not serving.targets(collection_name):
            return None
        return self._core.shadow_call(serving, kw, old_query)


class DriftClient(_Wrapper):
    """Wraps a ``QdrantClient``; same call signatures, routed by the migration state.

    Options: ``state_collection``, ``router`` (policies), ``adapter`` (pin one instead of the
    stored adapter), ``refresh_interval`` (seconds; 0 = only on :meth:`refresh`),
    ``shadow_rate`` (share of queries also run on the next plan), ``calibrate``. Left
    unset, ``router``, ``refresh_interval`` and ``shadow_rate`` follow the ``[router]``
    settings that ``fit`` / ``start`` stored from the migration file, so the whole fleet
    serves what the operator configured.
    ``metrics`` (a :class:`qdrant_drift.observability.metrics.DriftMetrics`: queries per plan, degraded
    queries, state read errors; expose it with ``metrics.serve(port)``), ``hit_depth`` and
    ``hit_sample_rate`` (for that share of queries, the ``hit_depth`` best unmigrated items
    are counted as legacy hits, off the query path: a deeper hot-first signal; 0 = off).
    """

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        """A drop-in replacement passes the ``isinstance(client, QdrantClient)`` checks that
        frameworks make (LangChain's ``Qdrant`` refuses anything else)."""
        return QdrantClient

    def __init__(self, client: QdrantClient, migration: str, **options: Any) -> None:
        super().__init__(client, migration, **options)
        if is_local(client):
            # embedded Qdrant is not thread-safe, and this wrapper calls it from its refresh
            # thread and shadow pool besides the app's threads: each call takes the lock
            # that a backfill's threads on the same client take (local.SerializedClient)
            self._client = SerializedClient(client)
        self._shadow_pool: ThreadPoolExecutor | None = None
        drive(self._core.refresh_steps(), self._client)  # the first read must succeed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self._interval > 0:
            self._thread = threading.Thread(
                target=self._refresh_loop, daemon=True,
                name=f"qdrant-drift-refresh-{migration}",
            )
            self._thread.start()

    def refresh(self) -> Plan:
        """Re-read the migration state now (the background loop does this periodically)."""
        drive(self._core.refresh_steps(), self._client)
        return self._core.plan

    def flush_hits(self) -> int:
        """Write the legacy-hit counts to Qdrant now (the background loop does it too)."""
        return drive(self._core.hits.flush_steps(self._core.state_collection), self._client)

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                drive(self._core.background_steps(), self._client)
            except Exception as exc:  # never let the loop die; serving degrades safely
                self._core.background_failed(exc)
            else:
                self._core.background_succeeded()

    def close(self, **kwargs: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._shadow_pool is not None:
            self._shadow_pool.shutdown(wait=True)
        self._client.close(**kwargs)

    # -- routed reads ---------------------------------------------------------------------
    def query_points(self, collection_name: str, query: Any = None, using: str | None = None,
                     prefetch: Any = None, query_filter: Any = None, search_params: Any = None,
                     limit: int = 10, offset: int | None = None, with_payload: Any = True,
                     with_vectors: Any = False, score_threshold: float | None = None,
                     lookup_from: Any = None, consistency: Any = None,
                     shard_key_selector: Any = None, timeout: int | None = None,
                     *, old_query: Any = None, **kwargs: Any) -> models.QueryResponse:
        kw = {"query": query, "using": using, "prefetch": prefetch, "query_filter": query_filter,
              "search_params": search_params, "limit": limit, "offset": offset,
              "with_payload": with_payload, "with_vectors": with_vectors,
              "score_threshold": score_threshold, "lookup_from": lookup_from,
              "consistency": consistency, "shard_key_selector": shard_key_selector,
              "timeout": timeout, **kwargs}  # _pack's dict, written out: the hot path
        serving, response = drive(self._query_steps(collection_name, kw, old_query),
                                  self._client)
        self._sample(serving, collection_name, kw, old_query, response)
        return response

    def _sample(self, serving: Serving, collection_name: str, kw: dict[str, Any],
                old_query: Any, response: models.QueryResponse) -> None:
        """Sampled extra work for a served query: a shadow plan, a deep hit sample."""
        shadow = self._shadow(serving, collection_name, kw, old_query)
        if shadow is not None:
            self._background(self._run_shadow, serving.plan, shadow, collection_name,
                             kw, old_query, response)
        if self._hit_sampler.pick():
            self._background(self._run_deep_hits, serving, collection_name, kw, old_query)

    def _background(self, fn: Any, *args: Any) -> None:
        """Sampled extra work (shadow plans, deep hits) on one thread, off the query path."""
        if self._shadow_pool is None:
            self._shadow_pool = ThreadPoolExecutor(1, thread_name_prefix="qdrant-drift-shadow")
        self._shadow_pool.submit(fn, *args)

    def _run_deep_hits(self, serving: Serving, collection_name: str, kw: dict[str, Any],
                       old_query: Any) -> None:
        try:
            self._core.hits.record(drive(deep_hits_steps(
                serving, collection_name, kw, old_query, self._hit_depth), self._client))
        except Exception as exc:  # a lost sample costs nothing but signal
            log.debug("qdrant-drift: deep hit sample failed: %s", exc)

    def drain(self) -> None:
        """Wait for the sampled background work queued so far (tests, benchmarks)."""
        if self._shadow_pool is not None:
            self._shadow_pool.submit(lambda: None).result()

    def _run_shadow(self, served: Plan, shadow: Serving, collection_name: str,
                    kw: dict[str, Any], old_query: Any, primary: models.QueryResponse) -> None:
        try:
            other = drive(query_steps(shadow, collection_name, kw, old_query), self._client)
            self._core.record_shadow(served, shadow.plan, primary, other, kw["limit"])
        except Exception:
            self._core.shadow_stats.record_error()

    def query_batch_points(self, collection_name: str, requests: Sequence[models.QueryRequest],
                           consistency: Any = None, timeout: int | None = None,
                           **kwargs: Any) -> list[models.QueryResponse]:
        serving, kws, responses = drive(self._batch_steps(
            collection_name, requests, consistency, timeout, kwargs), self._client)
        for kw, response in zip(kws, responses):
            self._sample(serving, collection_name, kw, None, response)
        return responses

    def query_points_groups(self, collection_name: str, group_by: str, query: Any = None,
                            using: str | None = None, prefetch: Any = None,
                            query_filter: Any = None, search_params: Any = None,
                            limit: int = 10, group_size: int = 3, with_payload: Any = True,
                            with_vectors: Any = False, score_threshold: float | None = None,
                            with_lookup: Any = None, lookup_from: Any = None,
                            consistency: Any = None, shard_key_selector: Any = None,
                            timeout: int | None = None, *, old_query: Any = None,
                            **kwargs: Any) -> models.GroupsResult:
        return drive(self._groups_steps(collection_name, group_by, _pack(locals()), old_query),
                     self._client)[1]

    def __getattr__(self, name: str) -> Any:
        treatment = self._entry(name)
        if treatment is Treatment.MIRRORED:
            def mirrored(*args: Any, **kwargs: Any) -> Any:
                kw = _arguments(self._client, name, args, kwargs)
                return drive(self._core.write_steps(name, kw), self._client)
            return mirrored
        if treatment is Treatment.ROUTED:  # (the query methods above are found first)
            def routed(*args: Any, **kwargs: Any) -> Any:
                kw = _arguments(self._client, name, args, kwargs)
                return drive(self._matrix_steps(name, kw), self._client)[1]
            return routed
        if treatment is Treatment.REFUSED:
            def guarded(*args: Any, **kwargs: Any) -> Any:
                kw = _arguments(self._client, name, args, kwargs)
                self._check(name, kw)
                moved = self._core.after_blue_green_finish(kw)
                if moved is not None:
                    return getattr(self._client, name)(**moved)
                return getattr(self._client, name)(*args, **kwargs)
            return guarded
        method = getattr(self._client, name)
        if not callable(method) or not self._core.finished:
            return method

        def passthrough(*args: Any, **kwargs: Any) -> Any:
            moved = self._core.after_blue_green_finish(
                _arguments(self._client, name, args, kwargs))
            return method(**moved) if moved is not None else method(*args, **kwargs)
        return passthrough


class AsyncDriftClient(_Wrapper):
    """Wraps an ``AsyncQdrantClient``; the same core as :class:`DriftClient`, awaited.
    The state is first read on the first call; later reads run in a background task."""

    _asynchronous = True

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        """As :attr:`DriftClient.__class__`: ``isinstance(client, AsyncQdrantClient)`` holds."""
        return AsyncQdrantClient

    def __init__(self, client: AsyncQdrantClient, migration: str, **options: Any) -> None:
        super().__init__(client, migration, **options)
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()

    async def refresh(self) -> Plan:
        await adrive(self._core.refresh_steps(), self._client)
        return self._core.plan

    async def flush_hits(self) -> int:
        return await adrive(self._core.hits.flush_steps(self._core.state_collection),
                            self._client)

    async def _serving(self) -> Serving:
        if self._core.serving is None:
            await self.refresh()  # the first read, once; later reads run in the background
        if self._interval > 0 and self._task is None and not self._closed:
            # started by the first call, also when the app's own refresh() read the state
            # first (a client that never started it would serve a stale plan for good)
            self._task = asyncio.get_running_loop().create_task(self._refresh_loop())
        return self._core.current()

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await adrive(self._core.background_steps(), self._client)
            except Exception as exc:
                self._core.background_failed(exc)
            else:
                self._core.background_succeeded()

    async def close(self, **kwargs: Any) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.close(**kwargs)

    async def query_points(self, collection_name: str, query: Any = None,
                           using: str | None = None, prefetch: Any = None,
                           query_filter: Any = None, search_params: Any = None,
                           limit: int = 10, offset: int | None = None,
                           with_payload: Any = True, with_vectors: Any = False,
                           score_threshold: float | None = None, lookup_from: Any = None,
                           consistency: Any = None, shard_key_selector: Any = None,
                           timeout: int | None = None, *, old_query: Any = None,
                           **kwargs: Any) -> models.QueryResponse:
        kw = {"query": query, "using": using, "prefetch": prefetch, "query_filter": query_filter,
              "search_params": search_params, "limit": limit, "offset": offset,
              "with_payload": with_payload, "with_vectors": with_vectors,
              "score_threshold": score_threshold, "lookup_from": lookup_from,
              "consistency": consistency, "shard_key_selector": shard_key_selector,
              "timeout": timeout, **kwargs}  # _pack's dict, written out: the hot path
        await self._serving()
        serving, response = await adrive(self._query_steps(collection_name, kw, old_query),
                                         self._client)
        self._sample(serving, collection_name, kw, old_query, response)
        return response

    def _sample(self, serving: Serving, collection_name: str, kw: dict[str, Any],
                old_query: Any, response: models.QueryResponse) -> None:
        """Sampled extra work for a served query: a shadow plan, a deep hit sample."""
        shadow = self._shadow(serving, collection_name, kw, old_query)
        if shadow is not None:
            self._background(self._run_shadow(serving.plan, shadow, collection_name, kw,
                                              old_query, response))
        if self._hit_sampler.pick():
            self._background(self._run_deep_hits(serving, collection_name, kw, old_query))

    def _background(self, work: Any) -> "asyncio.Task[Any]":
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # keep a reference until done; close() and drain() wait for it
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_deep_hits(self, serving: Serving, collection_name: str,
                             kw: dict[str, Any], old_query: Any) -> None:
        try:
            self._core.hits.record(await adrive(deep_hits_steps(
                serving, collection_name, kw, old_query, self._hit_depth), self._client))
        except Exception as exc:  # a lost sample costs nothing but signal
            log.debug("qdrant-drift: deep hit sample failed: %s", exc)

    def _started(self, write: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        """``AsyncQdrantClient.upload_points`` / ``upload_collection`` are plain methods that
        apps call without ``await``; the mirrored write is a coroutine. So it starts at once
        as a task: awaited, it returns when written (and raises its error); not awaited, it
        is written all the same, and ``close()`` / ``drain()`` wait for it."""
        def start(*args: Any, **kwargs: Any) -> "asyncio.Task[Any]":
            task = self._background(write(*args, **kwargs))
            task.add_done_callback(_log_failed_write)
            return task
        return start

    async def drain(self) -> None:
        """Wait for the background work started so far: sampled shadows and deep hits,
        writes started without ``await`` (see :meth:`_started`)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run_shadow(self, served: Plan, shadow: Serving, collection_name: str,
                          kw: dict[str, Any], old_query: Any,
                          primary: models.QueryResponse) -> None:
        try:
            other = await adrive(query_steps(shadow, collection_name, kw, old_query),
                                 self._client)
            self._core.record_shadow(served, shadow.plan, primary, other, kw["limit"])
        except Exception:
            self._core.shadow_stats.record_error()

    async def query_batch_points(self, collection_name: str,
                                 requests: Sequence[models.QueryRequest],
                                 consistency: Any = None, timeout: int | None = None,
                                 **kwargs: Any) -> list[models.QueryResponse]:
        await self._serving()
        serving, kws, responses = await adrive(self._batch_steps(
            collection_name, requests, consistency, timeout, kwargs), self._client)
        for kw, response in zip(kws, responses):
            self._sample(serving, collection_name, kw, None, response)
        return responses

    async def query_points_groups(self, collection_name: str, group_by: str, query: Any = None,
                                  using: str | None = None, prefetch: Any = None,
                                  query_filter: Any = None, search_params: Any = None,
                                  limit: int = 10, group_size: int = 3,
                                  with_payload: Any = True, with_vectors: Any = False,
                                  score_threshold: float | None = None, with_lookup: Any = None,
                                  lookup_from: Any = None, consistency: Any = None,
                                  shard_key_selector: Any = None, timeout: int | None = None,
                                  *, old_query: Any = None, **kwargs: Any) -> models.GroupsResult:
        kw = _pack(locals())
        await self._serving()
        return (await adrive(self._groups_steps(collection_name, group_by, kw, old_query),
                             self._client))[1]

    def __getattr__(self, name: str) -> Any:
        treatment = self._entry(name)
        if treatment is Treatment.MIRRORED:
            async def mirrored(*args: Any, **kwargs: Any) -> Any:
                kw = _arguments(self._client, name, args, kwargs)
                await self._serving()
                return await adrive(self._core.write_steps(name, kw), self._client)
            if inspect.iscoroutinefunction(getattr(AsyncQdrantClient, name, None)):
                return mirrored
            return self._started(mirrored)
        if treatment is Treatment.ROUTED:
            async def routed(*args: Any, **kwargs: Any) -> Any:
                kw = _arguments(self._client, name, args, kwargs)
                await self._serving()
                return (await adrive(self._matrix_steps(name, kw), self._client))[1]
            return routed
        if treatment is Treatment.REFUSED:
            async def guarded(*args: Any, **kwargs: Any) -> Any:
                kw = _arguments(self._client, name, args, kwargs)
                await self._serving()
                self._check(name, kw)
                moved = self._core.after_blue_green_finish(kw)
                if moved is not None:
                    return await getattr(self._client, name)(**moved)
                return await getattr(self._client, name)(*args, **kwargs)
            return guarded
        method = getattr(self._client, name)
        known = self._core.routing_state is not None  # read on the first awaited call
        if not inspect.iscoroutinefunction(method) or (known and not self._core.finished):
            return method

        async def passthrough(*args: Any, **kwargs: Any) -> Any:
            await self._serving()
            moved = self._core.after_blue_green_finish(
                _arguments(self._client, name, args, kwargs))
            return await (method(**moved) if moved is not None else method(*args, **kwargs))
        return passthrough


_WARNED: set[str] = set()


def _log_failed_write(task: "asyncio.Task[Any]") -> None:
    """A write started without ``await`` has nobody to raise to: say it failed."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("qdrant-drift: a write started without await failed: %s", task.exception())


def _arguments(client: Any, method: str, args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> dict[str, Any]:
    """A call's arguments by name, positional ones named by the wrapped client's own
    signature (so ``delete("docs", [1, 2])`` works as it does unwrapped); ``old_vectors``
    (the wrapper's own keyword) kept aside of the binding."""
    kwargs = dict(kwargs)
    old_vectors = kwargs.pop("old_vectors", None)
    signature = inspect.signature(getattr(client, method))
    if all(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()):
        # a proxy around the client (locking, retrying, fault-injecting): use the real API
        flavour = AsyncQdrantClient if inspect.iscoroutinefunction(
            getattr(client, method)) else QdrantClient
        bound = inspect.signature(getattr(flavour, method)).bind(None, *args, **kwargs)
        bound.arguments.pop("self", None)
    else:
        bound = signature.bind(*args, **kwargs)
    named = dict(bound.arguments)
    named.update(named.pop("kwargs", {}) or {})
    if old_vectors is not None:
        named["old_vectors"] = old_vectors
    return named


def wrap(client: QdrantClient | AsyncQdrantClient, migration: str,
         **options: Any) -> DriftClient | AsyncDriftClient:
    """The one-line change: wrap an existing client for the named migration."""
    if isinstance(client, AsyncQdrantClient):
        return AsyncDriftClient(client, migration, **options)
    return DriftClient(client, migration, **options)
