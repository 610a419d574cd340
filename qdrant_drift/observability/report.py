"""A one-page PNG of a migration's progress: coverage, throughput and measured quality.

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


def throughput_series(samples: Sequence[Sample],
                      window_s: float = 60.0) -> list[tuple[float, float]]:
    """Items/s over the trailing ``window_s`` at each sample, as ``(at, rate)``.

    A worker writes in batches and samples every few seconds, so the rate between two
    consecutive samples swings between 0 and a burst (a sawtooth); over a window it reads
    as the throughput an operator means. Samples are sorted by time; a window with no
    elapsed time is skipped and a falling count (e.g. after a rollback) reads as 0, as in
    :func:`qdrant_drift.lifecycle.progress.throughput`.
    """
    ordered = sorted(samples, key=lambda s: s.at)
    series, start = [], 0
    for cur in ordered[1:]:
        while ordered[start + 1].at <= cur.at - window_s:
            start += 1  # keep the last sample at or before the window's start
        first = ordered[start]
        elapsed = cur.at - first.at
        if elapsed > 0:
            series.append((cur.at, max(0.0, (cur.migrated - first.migrated) / elapsed)))
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


def current_rate(progress: Progress) -> float | None:
    """The backfill's current items/s, or None once no point is left to backfill (a rate
    read from the last samples of a finished backfill means nothing)."""
    return progress.items_per_s if progress.migrated < progress.total else None


def _plot_throughput(ax: Axes, progress: Progress) -> None:
    ax.set_title("(b) Backfill throughput")
    series = throughput_series(progress.history)
    if not series:
        _note(ax, "no samples yet" if not progress.history else "needs two samples")
        return
    ax.plot(_times([at for at, _ in series]), [rate for _, rate in series], marker=".")
    rate = current_rate(progress)
    if rate is not None:
        ax.axhline(rate, ls="--", color="C1", label=f"current: {rate:,.1f} items/s")
        ax.legend(loc="best", fontsize="small")
    top = max([r for _, r in series] + [rate or 0.0])
    ax.set_ylim(0, 1.15 * top if top > 0 else 1.0)
    ax.set_ylabel("items / s")
    _time_axis(ax)


def _plot_quality(
    ax: Axes, progress: Progress, recall_curve: Sequence[tuple[float, float]] | None
) -> None:
    """Measured quality only: a recall curve a benchmark measured, else the agreement that
    serving replicas measured by shadowing queries, next to the pre-flight prediction."""
    if recall_curve:
        ax.set_title("(c) Measured recall vs coverage")
        points = sorted(recall_curve)
        xs, ys = [100 * c for c, _ in points], [r for _, r in points]
        ax.plot(xs, ys, marker=".", label="measured")
        ax.plot([100 * progress.coverage], [float(np.interp(100 * progress.coverage, xs, ys))],
                "o", color="C3", label=f"now: {100 * progress.coverage:.1f}%")
        ax.set_xlim(0, 100)
        ax.set_xlabel("coverage (%)")
        ax.set_ylabel("recall relative to full re-embed")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
        return
    ax.set_title("(c) Shadow agreement measured by replicas")
    agreement = progress.shadow_agreement
    if not agreement:
        hint = ("no shadowed queries yet: set [router] shadow_rate > 0\n"
                "so replicas also run the next plan and record overlap@k")
        if progress.predicted_recovery is not None:
            hint += f"\n\npre-flight predicted recovery: {progress.predicted_recovery:.3f}"
        _note(ax, hint)
        return
    pairs = sorted(agreement)
    ax.bar(pairs, [agreement[p] for p in pairs], color="C0",
           label="overlap@k of served plan vs its shadow")
    if progress.predicted_recovery is not None:
        ax.axhline(progress.predicted_recovery, ls="--", color="C1",
                   label=f"pre-flight predicted recovery {progress.predicted_recovery:.3f}")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("mean overlap@k (1 = same results)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")


def event_groups(events: Sequence[tuple[float, str]], tolerance: float
                 ) -> list[tuple[float, str]]:
    """Phase changes closer than ``tolerance`` (seconds) as one labelled time ("serving-
    adapted / backfilling"): one write can make two moves, and their labels would print on
    top of each other."""
    groups: list[tuple[float, list[str]]] = []
    for at, phase in sorted(events, key=lambda event: event[0]):  # stable: in history order
        if groups and at - groups[-1][0] <= tolerance:
            groups[-1][1].append(phase)
        else:
            groups.append((at, [phase]))
    return [(at, " / ".join(phases)) for at, phases in groups]


def _mark_events(ax: Axes, progress: Progress) -> None:
    """Phase changes (start, rollback, cut-over, ...) as labelled vertical lines."""
    low, high = ax.get_xlim()  # days (matplotlib's date unit)
    for at, label in event_groups(progress.events, tolerance=(high - low) * 86400 * 0.02):
        when = _times([at])[0]
        ax.axvline(when, color="0.5", ls=":", lw=1)
        ax.annotate(label, (when, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                    va="top", ha="right", fontsize="x-small", color="0.35")


def write_report_png(
    progress: Progress,
    path: str | os.PathLike,
    *,
    recall_curve: Sequence[tuple[float, float]] | None = None,
) -> pathlib.Path:
    """Write the three-panel report to ``path`` (parents created) and return the path.

    ``recall_curve`` holds measured ``(coverage, recall)`` points (coverage as a 0-1
    fraction, e.g. from a benchmark); without it the third panel shows the shadow agreement
    that serving replicas measured, beside the pre-flight prediction.
    """
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(15, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax_cov, ax_tp, ax_rec = fig.subplots(1, 3)
    _plot_coverage(ax_cov, progress)
    _plot_throughput(ax_tp, progress)
    _plot_quality(ax_rec, progress, recall_curve)
    for ax in (ax_cov, ax_tp):
        if ax.has_data():
            _mark_events(ax, progress)
    fig.suptitle(
        f"Migration {progress.name} ({progress.collection}): phase {_text(progress.phase)}, "
        f"plan {_text(progress.plan)}, {100 * progress.coverage:.1f}% migrated"
    )
    fig.savefig(out, format="png", dpi=100)
    return out
