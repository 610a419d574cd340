"""Prometheus metrics: what a scrape of a migration shows, parsed back from the exposition."""

from __future__ import annotations

import math
import urllib.request

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from qdrant_drift.observability.metrics import DriftMetrics, default_metrics
from qdrant_drift.lifecycle.progress import Progress, Sample, WorkerStatus, throughput
from qdrant_drift.migration.phases import Phase
from qdrant_drift.serving.router import Plan


def progress(**overrides) -> Progress:
    values = dict(
        name="m1",
        collection="docs",
        layout="named",
        phase=Phase.BACKFILLING.value,
        plan=Plan.HYBRID.value,
        migrated=250,
        total=1000,
        items_per_s=12.5,
        eta_s=60.0,
        predicted_recovery=0.93,
        shadow_agreement={"hybrid->native": 0.88},
        dead_letters=3,
        workers=(
            WorkerStatus("w1", (0,), alive=True, heartbeat_age_s=1.0),
            WorkerStatus("w2", (1,), alive=False, heartbeat_age_s=99.0),
        ),
        history=(Sample(0.0, 0, 1000), Sample(20.0, 250, 1000)),
    )
    values.update(overrides)
    return Progress(**values)


def scrape(metrics: DriftMetrics) -> dict[tuple[str, frozenset], float]:
    """Every sample as {(name, labels): value}."""
    text = metrics.exposition().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_gauges_mirror_a_progress_snapshot():
    metrics = DriftMetrics()
    metrics.update_from_progress(progress())
    s = scrape(metrics)
    assert value(s, "qdrant_drift_coverage_ratio", migration="m1") == 0.25
    assert value(s, "qdrant_drift_migrated_points", migration="m1") == 250
    assert value(s, "qdrant_drift_points", migration="m1") == 1000
    assert value(s, "qdrant_drift_backfill_items_per_second", migration="m1") == 12.5
    assert value(s, "qdrant_drift_eta_seconds", migration="m1") == 60.0
    assert value(s, "qdrant_drift_predicted_recovery_ratio", migration="m1") == 0.93
    assert value(s, "qdrant_drift_shadow_agreement_ratio", migration="m1", pair="hybrid->native") == 0.88
    assert value(s, "qdrant_drift_dead_letters", migration="m1") == 3
    assert value(s, "qdrant_drift_workers_alive", migration="m1") == 1


def test_phase_and_plan_are_one_hot_over_every_value():
    metrics = DriftMetrics()
    metrics.update_from_progress(progress())
    s = scrape(metrics)
    phases = {p.value: value(s, "qdrant_drift_phase", migration="m1", phase=p.value) for p in Phase}
    assert phases == {p.value: float(p is Phase.BACKFILLING) for p in Phase}
    plans = {p.value: value(s, "qdrant_drift_router_plan", migration="m1", plan=p.value) for p in Plan}
    assert plans == {"adapted": 0.0, "hybrid": 1.0, "native": 0.0}
    assert value(s, "qdrant_drift_router_plan", migration="m1", plan="passthrough") == 0.0

    metrics.update_from_progress(progress(phase=Phase.CUT_OVER, plan=Plan.NATIVE))  # enums too
    s = scrape(metrics)
    assert value(s, "qdrant_drift_phase", migration="m1", phase="cut-over") == 1.0
    assert value(s, "qdrant_drift_phase", migration="m1", phase="backfilling") == 0.0
    assert value(s, "qdrant_drift_router_plan", migration="m1", plan="native") == 1.0
    assert sum(v for (n, _), v in s.items() if n == "qdrant_drift_phase") == 1.0

    metrics.update_from_progress(progress(phase=Phase.ABANDONED, plan="passthrough"))
    s = scrape(metrics)  # an abandoned migration routes nothing: a known value, not a plan
    assert value(s, "qdrant_drift_router_plan", migration="m1", plan="passthrough") == 1.0
    assert sum(v for (n, _), v in s.items() if n == "qdrant_drift_router_plan") == 1.0


def test_unknown_values_are_absent_not_nan():
    metrics = DriftMetrics()
    metrics.update_from_progress(progress())
    metrics.update_from_progress(
        progress(items_per_s=None, eta_s=None, predicted_recovery=None, shadow_agreement={})
    )
    names = {n for n, _ in scrape(metrics)}
    for gone in (
        "qdrant_drift_backfill_items_per_second",
        "qdrant_drift_eta_seconds",
        "qdrant_drift_predicted_recovery_ratio",
        "qdrant_drift_shadow_agreement_ratio",
    ):
        assert gone not in names
    assert not any(math.isnan(v) for v in scrape(metrics).values())
    assert "qdrant_drift_coverage_ratio" in names


def test_migrations_are_kept_apart_by_label():
    metrics = DriftMetrics()
    metrics.update_from_progress(progress(name="a", migrated=100))
    metrics.update_from_progress(progress(name="b", migrated=900))
    s = scrape(metrics)
    assert value(s, "qdrant_drift_migrated_points", migration="a") == 100
    assert value(s, "qdrant_drift_migrated_points", migration="b") == 900


def test_backfill_counters_and_histograms_accumulate():
    metrics = DriftMetrics()
    metrics.record_batch("m1", written=8, skipped=1, dead_lettered=1, seconds=0.4, embed_seconds=0.3)
    metrics.record_batch("m1", written=10, skipped=0, dead_lettered=0, seconds=0.6)
    metrics.record_retry("m1")
    s = scrape(metrics)
    items = "qdrant_drift_backfill_items_total"
    assert value(s, items, migration="m1", outcome="written") == 18
    assert value(s, items, migration="m1", outcome="skipped") == 1
    assert value(s, items, migration="m1", outcome="dead_lettered") == 1
    assert value(s, "qdrant_drift_backfill_batches_total", migration="m1") == 2
    assert value(s, "qdrant_drift_backfill_retries_total", migration="m1") == 1
    assert value(s, "qdrant_drift_backfill_batch_seconds_count", migration="m1") == 2
    assert value(s, "qdrant_drift_backfill_batch_seconds_sum", migration="m1") == pytest.approx(1.0)
    assert value(s, "qdrant_drift_embed_seconds_count", migration="m1") == 1


def test_serving_counters_increase():
    metrics = DriftMetrics()
    metrics.record_query("m1", "hybrid", overhead_seconds=0.0002)
    metrics.record_query("m1", Plan.HYBRID)
    metrics.record_query("m1", "adapted")
    metrics.record_degraded("m1", "state_unreadable")
    metrics.record_state_refresh_error("m1")
    metrics.record_state_refresh_error("m1")
    s = scrape(metrics)
    assert value(s, "qdrant_drift_queries_total", migration="m1", plan="hybrid") == 2
    assert value(s, "qdrant_drift_queries_total", migration="m1", plan="adapted") == 1
    assert value(s, "qdrant_drift_degraded_queries_total", migration="m1", reason="state_unreadable") == 1
    assert value(s, "qdrant_drift_state_refresh_errors_total", migration="m1") == 2
    assert value(s, "qdrant_drift_wrapper_overhead_seconds_count", migration="m1") == 1


EXPECTED_FAMILIES = {
    "qdrant_drift_coverage_ratio",
    "qdrant_drift_migrated_points",
    "qdrant_drift_points",
    "qdrant_drift_backfill_items_per_second",
    "qdrant_drift_eta_seconds",
    "qdrant_drift_predicted_recovery_ratio",
    "qdrant_drift_shadow_agreement_ratio",
    "qdrant_drift_shadow_outside_prediction",
    "qdrant_drift_dead_letters",
    "qdrant_drift_workers_alive",
    "qdrant_drift_phase",
    "qdrant_drift_router_plan",
    "qdrant_drift_backfill_items",  # counters: family name without the ``_total`` sample suffix
    "qdrant_drift_backfill_batches",
    "qdrant_drift_backfill_retries",
    "qdrant_drift_backfill_batch_seconds",
    "qdrant_drift_embed_seconds",
    "qdrant_drift_queries",
    "qdrant_drift_degraded_queries",
    "qdrant_drift_state_refresh_errors",
    "qdrant_drift_wrapper_overhead_seconds",
}


def test_every_metric_is_namespaced_and_labelled_by_migration():
    metrics = DriftMetrics()
    metrics.update_from_progress(progress())
    metrics.record_batch("m1", written=1, skipped=0, dead_lettered=0, seconds=0.1, embed_seconds=0.1)
    metrics.record_retry("m1")
    metrics.record_query("m1", "hybrid", overhead_seconds=0.001)
    metrics.record_degraded("m1", "timeout")
    metrics.record_state_refresh_error("m1")
    families = list(text_string_to_metric_families(metrics.exposition().decode()))
    # The text parser reports each counter/histogram's ``_created`` series as its own family.
    assert {f.name for f in families if not f.name.endswith("_created")} == EXPECTED_FAMILIES
    for family in families:
        assert family.name.startswith("qdrant_drift_")
        for sample in family.samples:
            assert sample.labels.get("migration") == "m1"
        if family.type == "counter":
            assert any(s.name.endswith("_total") for s in family.samples)


def test_instances_have_their_own_registries():
    a, b = DriftMetrics(), DriftMetrics()
    a.record_retry("m1")
    assert ("qdrant_drift_backfill_retries_total", frozenset({("migration", "m1")})) in scrape(a)
    assert not any(name.startswith("qdrant_drift_backfill_retries") for name, _ in scrape(b))


def test_default_metrics_is_one_instance_on_the_global_registry():
    first = default_metrics()
    assert default_metrics() is first
    assert first.registry is REGISTRY


def test_serve_answers_a_scrape_over_http():
    metrics = DriftMetrics()
    metrics.update_from_progress(progress())
    server, thread = metrics.serve(0, "127.0.0.1")
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
            body = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert 'qdrant_drift_coverage_ratio{migration="m1"} 0.25' in body


def test_shadow_agreement_outside_the_predicted_interval_is_flagged():
    metrics = DriftMetrics()
    # at 25% coverage hybrid answers like adapted search on 75% of the items: predicted
    # adapted-vs-native overlap 0.6-0.7 puts hybrid-vs-native at 0.70-0.775; 0.88 is above
    outside = progress(predicted_agreement_low=0.6, predicted_agreement_high=0.7)
    assert outside.shadow_outside_prediction == {"hybrid->native": pytest.approx((0.70, 0.775))}
    metrics.update_from_progress(outside)
    s = scrape(metrics)
    assert value(s, "qdrant_drift_shadow_outside_prediction", migration="m1",
                 pair="hybrid->native") == 1.0
    inside = progress(predicted_agreement_low=0.8, predicted_agreement_high=0.9)
    assert inside.shadow_outside_prediction == {}
    metrics.update_from_progress(inside)
    assert value(scrape(metrics), "qdrant_drift_shadow_outside_prediction", migration="m1",
                 pair="hybrid->native") == 0.0


def test_without_a_prediction_nothing_is_flagged_and_no_flag_is_exported():
    metrics = DriftMetrics()
    metrics.update_from_progress(progress())
    assert progress().shadow_outside_prediction == {}
    names = {name for name, _ in scrape(metrics)}
    assert "qdrant_drift_shadow_outside_prediction" not in names


def test_expected_agreement_follows_coverage_between_the_plans():
    from qdrant_drift.lifecycle.progress import expected_agreement

    assert expected_agreement("adapted->hybrid", 0.0, 0.6) == pytest.approx(1.0)
    assert expected_agreement("adapted->hybrid", 1.0, 0.6) == pytest.approx(0.6)
    assert expected_agreement("hybrid->native", 0.5, 0.6) == pytest.approx(0.8)
    assert expected_agreement("native->hybrid", 1.0, 0.6) == pytest.approx(1.0)
    assert expected_agreement("adapted->other", 0.5, 0.6) is None


def _samples(*points: tuple) -> list[Sample]:
    """(at, migrated) pairs; a third item, True, marks where a run's writes begin."""
    return [Sample(at=at, migrated=migrated, total=1000, writes_begin=bool(begins))
            for at, migrated, *begins in points]


@pytest.mark.parametrize("samples, now, rate", [
    # a steady run: migrated over elapsed time
    (_samples((0, 0), (5, 50), (10, 100)), 12.0, 10.0),
    # fewer than two samples: no rate
    (_samples((0, 0)), 1.0, None),
    # no sample for over a minute: no worker runs now, so no current rate (an ETA of 0m00s
    # with points left was shown from the last run's rate)
    (_samples((0, 0), (5, 50), (10, 100)), 200.0, None),
    # a restart after an idle gap: the rate is the current run's, not spread over the gap
    (_samples((0, 0), (10, 100), (250, 100), (255, 150), (260, 200)), 261.0, 10.0),
    # the run's first sample of a new run alone: too few for a rate
    (_samples((0, 0), (10, 100), (250, 100)), 251.0, None),
    # without now (a pure reading of the samples), staleness is not judged
    (_samples((0, 0), (5, 50), (10, 100)), None, 10.0),
    # a start-up that wrote nothing for 20 s (a model loading, Ray's first block) is not the
    # pace: the rate runs from the last sample before the writes began (it read 3.3/s)
    (_samples((0, 0), (10, 0), (20, 0), (25, 50), (30, 100)), 31.0, 10.0),
    # nothing written yet: a rate of 0, no ETA
    (_samples((0, 0), (10, 0), (20, 0)), 21.0, 0.0),
    # stopped at 10 s, started again at 30 s (within the gap): the new run's pace, not the
    # two runs' spread over the idle 20 s (it read 5.0/s)
    (_samples((0, 0), (5, 50), (10, 100), (30, 100), (35, 150), (40, 200)), 41.0, 10.0),
    # stopped at 10 s, started at 13 s, writing again at 20 s after loading its model: the
    # gaps are too short to tell runs apart, the worker's mark is not (it read 6.7/s)
    (_samples((0, 0), (5, 50), (10, 100), (13, 100), (20, 100, True), (25, 150), (30, 200)),
     31.0, 10.0),
    # the marked sample and one batch 0.2 s after it: a burst, not a pace (it read 320/s)
    (_samples((0, 0), (8, 0, True), (8.2, 64)), 9.0, None),
    (_samples((0, 0), (8, 0, True), (8.2, 64), (13, 114)), 14.0, 22.8),
])
def test_throughput_is_the_current_runs_rate(samples, now, rate):
    assert throughput(samples, now=now) == rate
