"""What every backfill engine checks before it writes: the migration exists, it is in a phase
that backfills, and the new vector it writes exists (with its size). Sans-I/O steps, shared by
the worker and the Ray driver."""

from __future__ import annotations

from typing import Any

from ..migration.phases import BACKFILL_CLOSED, BACKFILL_RUNS
from ..migration.spec import DEFAULT_VECTOR, MigrationSpec
from ..sansio import Steps, call
from ..store.records import load_record
from ..errors import BackfillError

RUNNABLE = BACKFILL_RUNS


def migration_steps(name: str, state_collection: str) -> Steps[Any]:
    """The migration record, or one clear error when there is none."""
    record = yield from load_record(name, state_collection)
    if record is None:
        raise BackfillError(f"no migration named {name!r} in {state_collection!r}: fit and "
                            "start it first (`qdrant-drift fit`, `qdrant-drift start`)")
    return record


def runnable_steps(name: str, state_collection: str) -> Steps[Any]:
    """The migration record, if the migration is in a phase the backfill runs in."""
    record = yield from migration_steps(name, state_collection)
    if record.phase not in RUNNABLE:
        raise BackfillError(
            f"migration {name!r} is {record.phase.value!r}: the backfill runs while it is "
            f"'backfilling' or 'cut-over'; {BACKFILL_CLOSED[record.phase]}")
    return record


def new_vector_size_steps(spec: MigrationSpec) -> Steps[int]:
    """The dimension of the vector the backfill writes (checks that it exists)."""
    info = yield call("get_collection", spec.native_collection)
    vectors = info.config.params.vectors
    params = vectors.get(spec.new_vector) if isinstance(vectors, dict) else (
        vectors if spec.new_vector == DEFAULT_VECTOR else None)
    if params is None:
        raise BackfillError(f"{spec.native_collection!r} has no vector "
                            f"{spec.new_vector!r}: was the migration created?")
    return int(params.size)
