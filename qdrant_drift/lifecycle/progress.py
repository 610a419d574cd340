"""How far a migration has come: a snapshot for ``status``, metrics and the report plot.

Pure data and arithmetic; reading the numbers from Qdrant lives in :mod:`qdrant_drift.store.records`
and :mod:`qdrant_drift.backfill`. Throughput comes from progress samples the backfill
workers write to the state (migrated count over time), so every replica and every CLI sees
the same figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence


@dataclass(frozen=True)
class Sample:
    """At ``at`` (unix seconds) ``migrated`` of ``total`` points had the new vector.
    ``writes_begin``: a worker's last sample before its run's first write (the pace of a
    run is read from there: :func:`throughput`)."""

    at: float
    migrated: int
    total: int
    writes_begin: bool = False


@dataclass(frozen=True)
class WorkerStatus:
    """One backfill worker as its heartbeat describes it."""

    worker: str
    partitions: tuple[int, ...]
    alive: bool
    heartbeat_age_s: float
    processed: int = 0
    state: str = "running"  # running | paused | stopped | finished


# Workers sample every few seconds (5 by default): this long without any sample means no
# worker ran, so the samples before such a gap belong to an earlier run.
RUN_GAP_S = 60.0
# Between two samples this far apart with nothing written, no worker was writing (a run
# samples every 5 s by default and writes between): what came before was another run.
IDLE_S = 15.0
# A rate read over less time than this is one batch's burst, not a pace (the first write
# lands right after the sample a run takes before it): no rate yet.
MIN_SPAN_S = 3.0


def throughput(samples: Sequence[Sample], window_s: float = 300.0, *,
               now: float | None = None, gap_s: float = RUN_GAP_S,
               idle_s: float = IDLE_S) -> float | None:
    """Items per second over the last ``window_s`` seconds of the current run's samples
    (None: too few, or, given ``now``, none for ``gap_s``: no worker is running, so there is
    no current rate). A run ends at a gap of ``gap_s`` between samples: a rate taken across
    the idle time between two runs would understate the one running now; its start-up,
    before its first write, is left out for the same reason."""
    if len(samples) < 2:
        return None
    ordered = sorted(samples, key=lambda s: s.at)
    last = ordered[-1]
    if now is not None and now - last.at > gap_s:
        return None
    start = 0
    for i in range(1, len(ordered)):
        if ordered[i].at - ordered[i - 1].at > gap_s:
            start = i
    run = [s for s in ordered[start:] if s.at >= last.at - window_s]
    # a worker stopped and started again within the gap (Ctrl-C, resume): its samples
    # either side of a long interval with nothing written belong to two runs
    for i in range(len(run) - 1, 0, -1):
        if run[i].migrated == run[i - 1].migrated and run[i].at - run[i - 1].at >= idle_s:
            run = run[i:]
            break
    # a run's start-up (a model loading, Ray's first block) writes nothing: the rate is the
    # pace since its writes began (from its last sample before them), not spread over it;
    # a worker marks that sample, which also ends what came before (a run stopped seconds
    # earlier, too soon for the idle rule above, and a restart's start-up after it)
    begun = [i for i, s in enumerate(run) if s.writes_begin]
    if begun:
        run = run[begun[-1]:]
    while len(run) > 2 and run[1].migrated == run[0].migrated:
        run.pop(0)
    if len(run) < 2:
        return None
    elapsed = last.at - run[0].at
    if elapsed < min(MIN_SPAN_S, window_s) or elapsed <= 0:
        return None
    return max(0.0, (last.migrated - run[0].migrated) / elapsed)


def eta_seconds(migrated: int, total: int, items_per_s: float | None) -> float | None:
    """Seconds until every point has the new vector at the current rate (0 when done)."""
    remaining = max(0, total - migrated)
    if remaining == 0:
        return 0.0
    if not items_per_s:
        return None
    return remaining / items_per_s


def expected_agreement(pair: str, coverage: float, adapted_vs_native: float) -> float | None:
    """Shadow agreement (overlap@k) expected for a ``served->shadow`` plan pair, given the
    pre-flight's predicted overlap of adapted and native search. Hybrid search at coverage
    c is taken to answer like native search on the migrated share c of the items and like
    adapted search on the rest, so it disagrees with adapted search c times as often as
    native does, and with native search (1 - c) times as often. None: an unknown plan."""
    native_share = {"adapted": 0.0, "hybrid": coverage, "native": 1.0}
    served, _, shadow = pair.partition("->")
    if served not in native_share or shadow not in native_share:
        return None
    return 1.0 - abs(native_share[served] - native_share[shadow]) * (1.0 - adapted_vs_native)


def shadow_outside(
    agreement: dict[str, float], coverage: float, low: float | None, high: float | None
) -> dict[str, tuple[float, float]]:
    """The plan pairs whose live agreement lies outside the predicted interval, each with the
    interval it was expected in (empty when there is no prediction)."""
    if low is None or high is None:
        return {}
    outside = {}
    for pair, value in agreement.items():
        lo, hi = expected_agreement(pair, coverage, low), expected_agreement(pair, coverage, high)
        if lo is not None and hi is not None and not lo - 1e-9 <= value <= hi + 1e-9:
            outside[pair] = (lo, hi)
    return outside


@dataclass(frozen=True)
class Progress:
    """Everything ``qdrant-drift status`` shows, as one value (``to_dict`` for ``--json``)."""

    name: str
    collection: str
    layout: str
    phase: str
    plan: str  # the plan the stored router settings give in this state
    migrated: int
    total: int
    items_per_s: float | None = None
    eta_s: float | None = None
    predicted_recovery: float | None = None
    predicted_recovery_low: float | None = None
    predicted_recovery_high: float | None = None
    prediction_basis: str | None = None  # "logged_queries" | "documents"
    drastic_drift: bool | None = None  # the pre-flight's verdict; None: no pre-flight report
    drastic_advice: str | None = None  # what the pre-flight advises when it says drastic
    shadow_agreement: dict[str, float] = field(default_factory=dict)
    # pre-flight overlap@10 of adapted vs native search (interval), for live confirmation
    predicted_agreement_low: float | None = None
    predicted_agreement_high: float | None = None
    dead_letters: int = 0
    workers: tuple[WorkerStatus, ...] = ()
    history: tuple[Sample, ...] = ()
    events: tuple[tuple[float, str], ...] = ()  # (unix seconds, phase entered), oldest first
    served: dict[str, int] = field(default_factory=dict)  # plan -> replicas reporting it
    router_settings: dict[str, Any] | None = None  # what the fleet follows (None: defaults)
    adapter_problem: str | None = None  # why the stored adapter cannot be read, if so

    @property
    def coverage(self) -> float:
        return min(1.0, self.migrated / self.total) if self.total else 1.0

    @property
    def shadow_outside_prediction(self) -> dict[str, tuple[float, float]]:
        """Shadow pairs whose agreement contradicts the pre-flight, with the expected range."""
        return shadow_outside(self.shadow_agreement, self.coverage,
                              self.predicted_agreement_low, self.predicted_agreement_high)

    @property
    def workers_alive(self) -> int:
        return sum(1 for w in self.workers if w.alive)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["coverage"] = self.coverage
        data["workers_alive"] = self.workers_alive
        data["shadow_outside_prediction"] = {
            pair: list(bounds) for pair, bounds in self.shadow_outside_prediction.items()}
        return data
