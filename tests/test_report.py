"""The PNG report: written for any history, and its throughput derived from the samples."""

from __future__ import annotations

import pytest

from qdrant_drift.lifecycle.progress import Progress, Sample
from qdrant_drift.observability.report import current_rate, throughput_series, write_report_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def progress(history=(), **overrides) -> Progress:
    values = dict(
        name="m1", collection="docs", layout="named", phase="backfilling", plan="hybrid",
        migrated=history[-1].migrated if history else 0, total=1000, history=tuple(history),
    )
    values.update(overrides)
    return Progress(**values)


HISTORY = [Sample(1_700_000_000.0 + 60 * i, min(1000, 90 * i), 1000) for i in range(12)]


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000


def test_report_is_written_as_png_into_new_directories(tmp_path):
    target = tmp_path / "reports" / "nested" / "m1.png"
    out = write_report_png(progress(HISTORY, items_per_s=1.5, predicted_recovery=0.9), target)
    assert out == target
    assert_png(out)


def test_report_accepts_a_measured_recall_curve(tmp_path):
    curve = [(0.0, 0.91), (0.5, 0.95), (1.0, 1.0)]
    assert_png(write_report_png(progress(HISTORY), str(tmp_path / "r.png"), recall_curve=curve))


@pytest.mark.parametrize("history", [[], HISTORY[:1]], ids=["empty", "single-sample"])
def test_report_works_before_there_is_anything_to_plot(tmp_path, history):
    assert_png(write_report_png(progress(history), tmp_path / "r.png"))


def test_throughput_series_is_the_rate_over_the_trailing_window():
    samples = [Sample(10.0, 0, 100), Sample(20.0, 50, 100), Sample(30.0, 60, 100)]
    assert throughput_series(samples, window_s=10) == [(20.0, 5.0), (30.0, 1.0)]
    assert throughput_series(samples, window_s=60) == [(20.0, 5.0), (30.0, 3.0)]


def test_bursty_batches_read_as_a_steady_rate_not_a_sawtooth():
    # a batch of 60 lands every 10 s, sampled every 5 s: consecutive rates go 12, 0, 12, 0
    samples = [Sample(5.0 * i, 60 * ((i + 1) // 2), 10_000) for i in range(40)]
    rates = [rate for at, rate in throughput_series(samples, window_s=60) if at >= 60]
    assert min(rates) > 5.0 and max(rates) < 7.0


def test_throughput_series_sorts_skips_zero_gaps_and_never_goes_negative():
    samples = [Sample(30.0, 40, 100), Sample(10.0, 0, 100), Sample(10.0, 5, 100), Sample(20.0, 50, 100)]
    series = throughput_series(samples, window_s=10)
    assert [at for at, _ in series] == [20.0, 30.0]
    assert series[1] == (30.0, 0.0)  # the count fell: no negative rate


def test_throughput_series_needs_two_samples():
    assert throughput_series([]) == []
    assert throughput_series([Sample(1.0, 5, 10)]) == []


def test_report_shows_measured_agreement_and_phase_events(tmp_path):
    shown = progress(HISTORY, predicted_recovery=0.9, shadow_agreement={"hybrid->native": 0.8},
                     events=((HISTORY[0].at, "backfilling"), (HISTORY[-1].at, "cut-over")))
    assert_png(write_report_png(shown, tmp_path / "r.png"))


def test_a_finished_backfill_shows_no_current_rate():
    running = progress(HISTORY, items_per_s=1.5)
    done = progress(HISTORY + [Sample(HISTORY[-1].at + 60, 1000, 1000)], items_per_s=0.1,
                    migrated=1000, phase="finished")
    assert current_rate(running) == 1.5
    assert current_rate(done) is None


def test_phase_changes_close_in_time_share_one_label():
    from qdrant_drift.observability.report import event_groups

    events = [(100.0, "serving-adapted"), (100.0, "backfilling"), (160.0, "cut-over"),
              (161.0, "rolled-back"), (400.0, "cut-over")]
    assert event_groups(events, tolerance=5.0) == [
        (100.0, "serving-adapted / backfilling"), (160.0, "cut-over / rolled-back"),
        (400.0, "cut-over")]
    assert event_groups(events, tolerance=0.5)[1:3] == [(160.0, "cut-over"), (161.0, "rolled-back")]
