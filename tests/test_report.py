"""The PNG report: written for any history, and its throughput derived from the samples."""

from __future__ import annotations

import pytest

from qdrant_drift.lifecycle.progress import Progress, Sample
from qdrant_drift.observability.report import throughput_series, write_report_png

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


def test_throughput_series_is_the_rate_between_consecutive_samples():
    samples = [Sample(10.0, 0, 100), Sample(20.0, 50, 100), Sample(30.0, 60, 100)]
    assert throughput_series(samples) == [(20.0, 5.0), (30.0, 1.0)]


def test_throughput_series_sorts_skips_zero_gaps_and_never_goes_negative():
    samples = [Sample(30.0, 40, 100), Sample(10.0, 0, 100), Sample(10.0, 5, 100), Sample(20.0, 50, 100)]
    series = throughput_series(samples)
    assert [at for at, _ in series] == [20.0, 30.0]
    assert series[1] == (30.0, 0.0)  # the count fell: no negative rate


def test_throughput_series_needs_two_samples():
    assert throughput_series([]) == []
    assert throughput_series([Sample(1.0, 5, 10)]) == []
