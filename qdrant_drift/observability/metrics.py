"""Prometheus metrics for a migration, built on ``prometheus_client``.

Gauges mirror a :class:`~qdrant_drift.lifecycle.progress.Progress` snapshot (``update_from_progress``);
counters and histograms are fed by the backfill workers and the serving wrapper as things
happen. Every series carries a ``migration`` label so one process can report several.

Each :class:`DriftMetrics` owns a fresh ``CollectorRegistry`` unless given one, so tests and
several instances never collide; :func:`default_metrics` is the one instance registered on
the global ``REGISTRY`` for apps that already expose it.

Unknown values (ETA, throughput, predicted recovery before they can be computed) are
*absent* rather than NaN: the sample is removed, so ``absent()``/missing-data alerts work
and no parser or dashboard has to special-case NaN.
"""

from __future__ import annotations

import threading
from enum import Enum
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

from ..lifecycle.progress import Progress
from ..migration.phases import Phase
from ..serving.router import PASSTHROUGH, Plan

PREFIX = "qdrant_drift_"

# Batches embed tens to thousands of items: sub-second to minutes.
BATCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# The wrapper's own work on the query path (routing, merging): well under a millisecond.
OVERHEAD_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
)

BATCH_OUTCOMES = ("written", "skipped", "dead_lettered")


def _label(value: Any) -> str:
    """Enum members as their value: ``str(Plan.HYBRID)`` is ``'Plan.HYBRID'`` on 3.11."""
    return str(value.value) if isinstance(value, Enum) else str(value)


class DriftMetrics:
    """All qdrant-drift metrics on one registry (its own fresh one when ``registry`` is None)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._lock = threading.Lock()
        self._pairs: dict[str, set[str]] = {}  # shadow pairs last set, to drop stale ones
        self._extra_labels: dict[str, tuple[set[str], set[str]]] = {}  # unknown phases/plans
        reg = self.registry
        m = ["migration"]

        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(PREFIX + name, doc, m + list(labels), registry=reg)

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(PREFIX + name, doc, m + list(labels), registry=reg)

        def histogram(name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(PREFIX + name, doc, m, buckets=buckets, registry=reg)

        # Progress gauges.
        self.coverage = gauge("coverage_ratio", "Share of points that have the new vector (0-1).")
        self.migrated = gauge("migrated_points", "Points that have the new vector.")
        self.points = gauge("points", "Points in the collection.")
        self.items_per_second = gauge(
            "backfill_items_per_second", "Backfill throughput over the recent window."
        )
        self.eta = gauge("eta_seconds", "Seconds until the backfill is done at the current rate.")
        self.predicted_recovery = gauge(
            "predicted_recovery_ratio", "Recall of the adapted plan relative to a full re-embed."
        )
        self.shadow_agreement = gauge(
            "shadow_agreement_ratio", "Mean overlap@k of served vs shadow plan.", "pair"
        )
        self.shadow_outside = gauge(
            "shadow_outside_prediction",
            "1 when a plan pair's shadow agreement lies outside the pre-flight's predicted "
            "interval, 0 when inside.", "pair"
        )
        self.dead_letters = gauge("dead_letters", "Items parked in the dead-letter store.")
        self.workers_alive = gauge("workers_alive", "Backfill workers with a fresh heartbeat.")
        self.phase = gauge("phase", "1 for the migration's current phase, 0 for the others.", "phase")
        self.router_plan = gauge(
            "router_plan", "1 for the plan the default router serves now, 0 for the others.", "plan"
        )
        # Backfill.
        self.backfill_items = counter(
            "backfill_items_total", "Backfill items by outcome.", "outcome"
        )
        self.backfill_batches = counter("backfill_batches_total", "Backfill batches processed.")
        self.backfill_retries = counter("backfill_retries_total", "Backfill batch retries.")
        self.batch_seconds = histogram(
            "backfill_batch_seconds", "Wall time of one backfill batch.", BATCH_BUCKETS
        )
        self.embed_seconds = histogram(
            "embed_seconds", "Time spent embedding one backfill batch.", BATCH_BUCKETS
        )
        # Serving.
        self.queries = counter("queries_total", "Queries served, by plan.", "plan")
        self.degraded_queries = counter(
            "degraded_queries_total", "Queries served by a fallback plan, by reason.", "reason"
        )
        self.state_refresh_errors = counter(
            "state_refresh_errors_total", "Failed reads of the migration state."
        )
        self.wrapper_overhead = histogram(
            "wrapper_overhead_seconds", "Time the wrapper adds to a query.", OVERHEAD_BUCKETS
        )

    # -- gauges from a snapshot -------------------------------------------------------------

    def update_from_progress(self, progress: Progress) -> None:
        """Set every gauge from one snapshot; unknown values drop their sample (see module)."""
        name = progress.name
        self.coverage.labels(name).set(progress.coverage)
        self.migrated.labels(name).set(progress.migrated)
        self.points.labels(name).set(progress.total)
        self.dead_letters.labels(name).set(progress.dead_letters)
        self.workers_alive.labels(name).set(progress.workers_alive)
        self._set_or_remove(self.items_per_second, name, progress.items_per_s)
        self._set_or_remove(self.eta, name, progress.eta_s)
        self._set_or_remove(self.predicted_recovery, name, progress.predicted_recovery)

        with self._lock:
            pairs = {_label(p): v for p, v in progress.shadow_agreement.items()}
            outside = {_label(p) for p in progress.shadow_outside_prediction}
            predicted = progress.predicted_agreement_low is not None
            for stale in self._pairs.get(name, set()) - pairs.keys():
                self._remove(self.shadow_agreement, name, stale)
                self._remove(self.shadow_outside, name, stale)
            for pair, value in pairs.items():
                self.shadow_agreement.labels(name, pair).set(value)
                if predicted:
                    self.shadow_outside.labels(name, pair).set(float(pair in outside))
                else:
                    self._remove(self.shadow_outside, name, pair)
            self._pairs[name] = set(pairs)

            phases, plans = self._extra_labels.setdefault(name, (set(), set()))
            self._one_hot(self.phase, name, [p.value for p in Phase], phases, _label(progress.phase))
            self._one_hot(self.router_plan, name, [*(p.value for p in Plan), PASSTHROUGH], plans,
                          _label(progress.plan))

    def _one_hot(
        self, gauge: Gauge, name: str, known: list[str], extra: set[str], current: str
    ) -> None:
        """All known values are always exported (0/1); an unknown current value is added and
        dropped again once the migration leaves it."""
        for stale in extra - {current}:
            self._remove(gauge, name, stale)
        extra.intersection_update({current})
        if current not in known:
            extra.add(current)
        for value in [*known, *extra]:
            gauge.labels(name, value).set(1.0 if value == current else 0.0)

    def _set_or_remove(self, gauge: Gauge, name: str, value: float | None) -> None:
        if value is None:
            self._remove(gauge, name)
        else:
            gauge.labels(name).set(value)

    @staticmethod
    def _remove(metric: Gauge, *labels: str) -> None:
        try:  # older prometheus_client raises KeyError for a series never set
            metric.remove(*labels)
        except KeyError:
            pass

    # -- events ------------------------------------------------------------------------------

    def record_batch(
        self,
        migration: str,
        *,
        written: int,
        skipped: int,
        dead_lettered: int,
        seconds: float,
        embed_seconds: float | None = None,
    ) -> None:
        """One finished backfill batch: item outcomes, its duration and embedding time."""
        for outcome, count in zip(BATCH_OUTCOMES, (written, skipped, dead_lettered)):
            self.backfill_items.labels(migration, outcome).inc(count)
        self.backfill_batches.labels(migration).inc()
        self.batch_seconds.labels(migration).observe(seconds)
        if embed_seconds is not None:
            self.embed_seconds.labels(migration).observe(embed_seconds)

    def record_retry(self, migration: str) -> None:
        self.backfill_retries.labels(migration).inc()

    def record_query(
        self, migration: str, plan: str | Plan, overhead_seconds: float | None = None
    ) -> None:
        """One served query, by plan, and the time the wrapper added to it."""
        self.queries.labels(migration, _label(plan)).inc()
        if overhead_seconds is not None:
            self.wrapper_overhead.labels(migration).observe(overhead_seconds)

    def record_degraded(self, migration: str, reason: str) -> None:
        self.degraded_queries.labels(migration, _label(reason)).inc()

    def record_state_refresh_error(self, migration: str) -> None:
        self.state_refresh_errors.labels(migration).inc()

    # -- export ------------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (what ``/metrics`` serves)."""
        return generate_latest(self.registry)

    def serve(self, port: int, addr: str = "0.0.0.0") -> Any:
        """Serve this registry over HTTP on a daemon thread; ``port=0`` picks a free port.

        Returns what ``start_http_server`` returns, ``(server, thread)`` on
        prometheus_client >= 0.20: the bound port is ``server.server_port``; stop it with
        ``server.shutdown(); server.server_close()``.
        """
        return start_http_server(port, addr, registry=self.registry)


_default: DriftMetrics | None = None
_default_lock = threading.Lock()


def default_metrics() -> DriftMetrics:
    """The process-wide instance on prometheus_client's global ``REGISTRY`` (created once)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = DriftMetrics(REGISTRY)
    return _default
