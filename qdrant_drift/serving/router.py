"""Routing: which plan serves a query, decided from the migration's state (pure logic).

Plans:
- ``adapted``: the adapted query searches the legacy vector of every item.
- ``hybrid``: legacy vector for items not yet migrated + native vector for migrated ones,
  merged with the adapter's calibration.
- ``native``: the new vector only (after cut-over).

Like tenacity's strategies, policies are small callables ``policy(state) -> Plan | None``;
:class:`Router` asks them in order and the first that answers decides.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Callable, Optional, Sequence

from ..migration.phases import Phase


class Plan(str, Enum):
    ADAPTED = "adapted"
    HYBRID = "hybrid"
    NATIVE = "native"


# What an abandoned migration's calls are counted and shown as: not a Plan (nothing is routed:
# the app's calls go to Qdrant as they are), but a label beside the plans in status and metrics.
PASSTHROUGH = "passthrough"


@dataclass(frozen=True)
class RoutingState:
    """What the router needs to know; a snapshot read from the migration state."""

    phase: Phase = Phase.SERVING_ADAPTED
    coverage: float = 0.0  # share of points that have the new vector, 0..1
    predicted_recovery: float | None = None
    drastic_drift: bool = False
    healthy: bool = True  # False when the state could not be read: degrade safely


Policy = Callable[[RoutingState], Optional[Plan]]


@dataclass(frozen=True)
class UnhealthyStateIsAdapted:
    """An unreadable state must never break serving: the adapted plan always works."""

    def __call__(self, state: RoutingState) -> Plan | None:
        return None if state.healthy else Plan.ADAPTED


@dataclass(frozen=True)
class ByPhase:
    """Cut-over and finished serve native; before backfilling and after a rollback, adapted."""

    def __call__(self, state: RoutingState) -> Plan | None:
        if state.phase in (Phase.CUT_OVER, Phase.FINISHED):
            return Plan.NATIVE
        if state.phase is Phase.BACKFILLING:
            return None
        return Plan.ADAPTED


@dataclass(frozen=True)
class ByCoverage:
    """While backfilling: hybrid once more than ``min_hybrid_coverage`` of the items are
    migrated. ``native_at`` (off by default) switches to native at that coverage without a
    cut-over; hybrid is always correct, native only once no item lacks the new vector."""

    min_hybrid_coverage: float = 0.0
    native_at: float | None = None

    def __call__(self, state: RoutingState) -> Plan | None:
        if self.native_at is not None and state.coverage >= self.native_at:
            return Plan.NATIVE
        if state.coverage > self.min_hybrid_coverage:
            return Plan.HYBRID
        return Plan.ADAPTED


def default_policies() -> list[Policy]:
    return [UnhealthyStateIsAdapted(), ByPhase(), ByCoverage()]


@dataclass
class Router:
    """Asks its policies in order; the first non-None answer is the plan."""

    policies: Sequence[Policy] = field(default_factory=default_policies)
    fallback: Plan = Plan.ADAPTED

    def plan(self, state: RoutingState) -> Plan:
        for policy in self.policies:
            decided = policy(state)
            if decided is not None:
                return decided
        return self.fallback


DEFAULT_REFRESH_INTERVAL = 2.0  # seconds between state reads by a serving replica


@dataclass(frozen=True)
class RouterSettings:
    """The serving policy a whole fleet shares: the migration file's ``[router]`` section.

    Stored in the state collection by ``fit`` and ``start``, so that every wrapped client
    serves what the operator configured (an app that passes its own ``router=`` pins it).
    """

    min_hybrid_coverage: float = 0.0
    native_at: float | None = None
    refresh_interval: float = DEFAULT_REFRESH_INTERVAL
    shadow_rate: float = 0.0

    def router(self) -> Router:
        return Router(policies=[UnhealthyStateIsAdapted(), ByPhase(),
                                ByCoverage(self.min_hybrid_coverage, self.native_at)])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RouterSettings":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)
