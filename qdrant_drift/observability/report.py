"""A one-page PNG of a migration's progress: coverage, throughput and estimated recall.

Drawn with a bare ``matplotlib.figure.Figure`` on an Agg canvas, never pyplot, so writing a
report neither needs a display nor changes the backend or figures of the calling program.
"""

from __future__ import annotations

import os
import pathlib
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Sequence

import numpy as np

from ..extras import require

require("matplotlib")  # one clear error, naming the extra, before the imports below

from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..lifecycle.progress import Progress, Sample  # noqa: E402


def throughput_series(samples: Sequence[Sample]) -> list[tuple[float, float]]:
    """Items/s between consecutive samples, as ``(at, rate)`` at the later sample's time.

    Samples are sorted by time first; pairs with no elapsed time are skipped and a falling
    count (e.g. after a rollback) reads as 0, as in :func:`qdrant_drift.lifecycle.progress.throughput`.
    """
    ordered = sorted(samples, key=lambda s: s.at)
    series = []
    for prev, cur in zip(ordered, ordered[1:]):
        elapsed = cur.at - prev.at
        if elapsed > 0:
            series.append((cur.at, max(0.0, (cur.migrated - prev.migrated) / elapsed)))
    return series


def _text(value: Any) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def _coverage(sample: Sample) -> float:
    return min(1.0, sample.migrated / sample.total) if sample.total else 1.0


def _times(ats: Sequence[float]) -> list[datetime]:
    return [datetime.fromtimestamp(at, tz=timezone.utc) for at in ats]


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _time_axis(ax: Axes) -> None:
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=timezone.utc))
    ax.set_xlabel("time (UTC)")
    ax.grid(True, alpha=0.3)


def _plot_coverage(ax: Axes, progress: Progress) -> None:
    ax.set_title("(a) Coverage over time")
    samples = sorted(progress.history, key=lambda s: s.at)
    if not samples:
        _note(ax, "no samples yet")
        return
    ax.plot(_times([s.at for s in samples]), [100 * _coverage(s) for s in samples], marker=".")
    ax.set_ylim(0, 105)
    ax.set_ylabel("points with the new vector (%)")
    _time_axis(ax)


def _plot_throughput(ax: Axes, progress: Progress) -> None:
    ax.set_title("(b) Backfill throughput")
    series = throughput_series(progress.history)
    if not series:
        _note(ax, "no samples yet" if not progress.history else "needs two samples")
        return
    ax.plot(_times([at for at, _ in series]), [rate for _, rate in series], marker=".")
    if progress.items_per_s is not None:
        ax.axhline(progress.items_per_s, ls="--", color="C1",
                   label=f"current: {progress.items_per_s:,.1f} items/s")
        ax.legend(loc="best", fontsize="small")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("items / s")
    _time_axis(ax)


def _plot_recall(
    ax: Axes, progress: Progress, recall_curve: Sequence[tuple[float, float]] | None
) -> None:
    ax.set_title("(c) Estimated recall vs coverage")
    now = progress.coverage
    if recall_curve:
        points = sorted(recall_curve)
        xs, ys = [c for c, _ in points], [r for _, r in points]
        ax.plot([100 * x for x in xs], ys, marker=".", label="measured")
        current = float(np.interp(now, xs, ys))  # current position on the measured curve
        low = min(ys)
    elif progress.predicted_recovery is not None:
        base = progress.predicted_recovery
        ax.plot([0, 100], [base, 1.0], label="estimate: (1-c)·recovery + c")
        current = (1 - now) * base + now
        low = base
    else:
        _note(ax, "no recall estimate yet\n(adapter not fitted or not evaluated)")
        return
    ax.plot([100 * now], [current], "o", color="C3", label=f"now: {100 * now:.1f}%")
    ax.set_xlim(0, 100)
    ax.set_ylim(max(0.0, min(low, current) - 0.05), 1.02)
    ax.set_xlabel("coverage (%)")
    ax.set_ylabel("recall relative to full re-embed")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")


def write_report_png(
    progress: Progress,
    path: str | os.PathLike,
    *,
    recall_curve: Sequence[tuple[float, float]] | None = None,
) -> pathlib.Path:
    """Write the three-panel report to ``path`` (parents created) and return the path.

    ``recall_curve`` holds measured ``(coverage, recall)`` points, coverage as a 0-1
    fraction; without it the recall panel shows the linear estimate from
    ``progress.predicted_recovery`` when that is known.
    """
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(15, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax_cov, ax_tp, ax_rec = fig.subplots(1, 3)
    _plot_coverage(ax_cov, progress)
    _plot_throughput(ax_tp, progress)
    _plot_recall(ax_rec, progress, recall_curve)
    fig.suptitle(
        f"Migration {progress.name} ({progress.collection}): phase {_text(progress.phase)}, "
        f"plan {_text(progress.plan)}, {100 * progress.coverage:.1f}% migrated"
    )
    fig.savefig(out, format="png", dpi=100)
    return out
