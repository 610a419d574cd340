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
    ABANDONED = "abandoned"


ALLOWED: dict[Phase, frozenset[Phase]] = {
    Phase.PLANNED: frozenset({Phase.FITTED, Phase.ROLLED_BACK}),
    Phase.FITTED: frozenset({Phase.SERVING_ADAPTED, Phase.ROLLED_BACK}),
    Phase.SERVING_ADAPTED: frozenset({Phase.BACKFILLING, Phase.ROLLED_BACK}),
    Phase.BACKFILLING: frozenset({Phase.CUT_OVER, Phase.ROLLED_BACK}),
    Phase.CUT_OVER: frozenset({Phase.FINISHED, Phase.BACKFILLING, Phase.ROLLED_BACK}),
    Phase.ROLLED_BACK: frozenset({Phase.SERVING_ADAPTED, Phase.BACKFILLING}),
    Phase.FINISHED: frozenset(),
    Phase.ABANDONED: frozenset(),
}
# The two ends: finished (the new side serves, the legacy side is dropped) and abandoned (the
# new side is dropped, the legacy side stays as it was). Any other phase can be abandoned.
TERMINAL = frozenset({Phase.FINISHED, Phase.ABANDONED})
for _phase in frozenset(Phase) - TERMINAL:
    ALLOWED[_phase] = ALLOWED[_phase] | {Phase.ABANDONED}
# A migration in one of these phases is under way (serving routes it; a re-run of the same
# migration must roll it back first).
ACTIVE = frozenset(Phase) - TERMINAL - {Phase.ROLLED_BACK}
# A migration that has not ended holds its collection, rolled back included (it may be
# started again, and its marks on the collection are still there): no other one may start
# until it is finished or abandoned. Two live migrations of one collection would share the
# blue-green marks, and one's cut-over could pass on the other's coverage and lose points.
HOLDS_COLLECTION = frozenset(Phase) - TERMINAL

# The command that moves a migration into each phase (what an error tells the user to run).
COMMAND_TO: dict[Phase, str] = {
    Phase.FITTED: "fit",
    Phase.SERVING_ADAPTED: "start",
    Phase.BACKFILLING: "start",
    Phase.CUT_OVER: "cutover",
    Phase.FINISHED: "finish",
    Phase.ROLLED_BACK: "rollback",
    Phase.ABANDONED: "abandon",
}


def path_to(current: Phase, target: Phase) -> list[Phase]:
    """The shortest legal sequence of phases after ``current`` that ends at ``target``
    (empty when there is none); a route that does not pass through a rollback is preferred."""
    return _shortest(current, target, through_rollback=False) or _shortest(
        current, target, through_rollback=True)


def _shortest(current: Phase, target: Phase, *, through_rollback: bool) -> list[Phase]:
    frontier, seen = [[current]], {current}
    while frontier:
        route = frontier.pop(0)
        for step in sorted(ALLOWED[route[-1]], key=list(Phase).index):
            if step is target:
                return route[1:] + [step]
            if step not in seen and (through_rollback or step is not Phase.ROLLED_BACK):
                seen.add(step)
                frontier.append(route + [step])
    return []


# What to do once a migration has ended, said by every refusal that meets one.
ENDED_ADVICE: dict[Phase, str] = {
    # NEW_FILE, not FILE: the CLI fills a bare command with this run's file, the finished one
    Phase.FINISHED: ("a next upgrade is a new migration: a new migration file (a new "
                     "[migration] name, on the collection that now holds the data), then "
                     "`qdrant-drift fit NEW_FILE`"),
    Phase.ABANDONED: "start a new one with `qdrant-drift fit`",
}

# Before cut-over: the legacy side serves what lacks the new vector, and a backfill will
# embed it (what a wrapped text edit relies on when it drops a stale new vector)
BEFORE_CUT_OVER = frozenset({Phase.FITTED, Phase.SERVING_ADAPTED, Phase.BACKFILLING,
                             Phase.ROLLED_BACK})

# The phases a backfill runs in, and what to run in each of the others (said by a backfill
# refused at its start and by a resume with no backfill to resume).
BACKFILL_RUNS = (Phase.BACKFILLING, Phase.CUT_OVER)
NOT_RUNNABLE: dict[Phase, str] = {
    Phase.PLANNED: "run `qdrant-drift fit` first",
    Phase.FINISHED: f"it is finished; {ENDED_ADVICE[Phase.FINISHED]}",
    Phase.ABANDONED: f"it is abandoned; {ENDED_ADVICE[Phase.ABANDONED]}",
}
BACKFILL_CLOSED: dict[Phase, str] = {
    **NOT_RUNNABLE,
    Phase.FITTED: "run `qdrant-drift start` to serve it and open the backfill",
    Phase.SERVING_ADAPTED: "run `qdrant-drift start` to open the backfill",
    Phase.ROLLED_BACK: "run `qdrant-drift start` to open the backfill again",
}


def next_command(current: Phase, target: Phase) -> str:
    """What to tell a user who asked for ``target`` while the migration is ``current``."""
    if current is target:
        return f"the migration is already {current.value!r}"
    if current in TERMINAL:
        return f"the migration is {current.value}; {ENDED_ADVICE[current]}"
    route = path_to(current, target)
    if not route:
        return f"no sequence of commands leads from {current.value!r} to {target.value!r}"
    commands: list[str] = []
    for phase in route[:-1]:
        if COMMAND_TO[phase] not in commands:
            commands.append(COMMAND_TO[phase])
    return "run " + ", then ".join(f"`qdrant-drift {c}`" for c in commands) + " first"


def check_transition(current: Phase, target: Phase) -> None:
    """Raise :class:`StateError` unless ``current -> target`` is a legal move."""
    if target not in ALLOWED[current]:
        raise StateError(
            f"cannot go from {current.value!r} to {target.value!r}: "
            f"{next_command(current, target)}"
        )
