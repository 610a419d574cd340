"""A migration's phases and the moves between them: the one table every command obeys.

Pure data: :func:`check_transition` is the only gate, and its error names the command that
gets the migration where the caller wanted to go.
"""

from __future__ import annotations

from enum import Enum

from ..errors import StateError


class Phase(str, Enum):
    PLANNED = "planned"
    FITTED = "fitted"
    SERVING_ADAPTED = "serving-adapted"
    BACKFILLING = "backfilling"
    CUT_OVER = "cut-over"
    FINISHED = "finished"
    ROLLED_BACK = "rolled-back"


ALLOWED: dict[Phase, frozenset[Phase]] = {
    Phase.PLANNED: frozenset({Phase.FITTED, Phase.ROLLED_BACK}),
    Phase.FITTED: frozenset({Phase.SERVING_ADAPTED, Phase.ROLLED_BACK}),
    Phase.SERVING_ADAPTED: frozenset({Phase.BACKFILLING, Phase.ROLLED_BACK}),
    Phase.BACKFILLING: frozenset({Phase.CUT_OVER, Phase.ROLLED_BACK}),
    Phase.CUT_OVER: frozenset({Phase.FINISHED, Phase.BACKFILLING, Phase.ROLLED_BACK}),
    Phase.ROLLED_BACK: frozenset({Phase.SERVING_ADAPTED, Phase.BACKFILLING}),
    Phase.FINISHED: frozenset(),
}
# A migration in one of these phases holds its collection: no second one may start.
ACTIVE = frozenset(Phase) - {Phase.FINISHED, Phase.ROLLED_BACK}


def check_transition(current: Phase, target: Phase) -> None:
    """Raise :class:`StateError` unless ``current -> target`` is a legal move."""
    if target not in ALLOWED[current]:
        allowed = ", ".join(sorted(p.value for p in ALLOWED[current])) or "nothing"
        raise StateError(
            f"cannot go from {current.value!r} to {target.value!r}; allowed: {allowed}"
        )
