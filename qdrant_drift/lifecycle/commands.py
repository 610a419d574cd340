"""The command layer: one plain function per lifecycle step, the one home of every rule.

The CLI, the :class:`~qdrant_drift.lifecycle.facade.Migration` facade and apps all call
these (alembic's ``command.py`` idea). Each talks to Qdrant through sans-I/O steps, with a
sync entry point (``cutover``) and an async one (``acutover``). The rules, each written once:

- legal moves between phases (:func:`~qdrant_drift.migration.phases.check_transition`, whose
  error names the command to run);
- one migration per collection until it ends (:func:`preflight_steps`, checked before anything
  expensive);
- cut-over only when every point has the new vector, unless forced (:func:`cutover_steps`);
- finish only after cut-over, checked before anything is dropped (:func:`check_finish_steps`).

Every change to the migration record is a checked write (:mod:`qdrant_drift.store.records`).
"""

from __future__ import annotations

import warnings
from typing import Any

from qdrant_client.http import models

from ..adapters import Adapter
from ..errors import (
    AdapterFileError, AdapterMismatchError, DriftError, NoPreflightReport, StateError)
from ..local import is_local
from ..migration.phases import (
    ACTIVE, BACKFILL_CLOSED, ENDED_ADVICE, HOLDS_COLLECTION, NOT_RUNNABLE, TERMINAL, Phase,
    check_transition)
from ..migration.layouts import layout_of
from ..migration.spec import DEFAULT_VECTOR, MigrationSpec
from ..sansio import Steps, adrive, call, drive
from ..scores import METRIC_DISTANCES, distance_name
from ..store.adapters import adapter_change, load_stored_adapter, write_adapter_chunks
from ..store.backfill import forget_run_steps, read_dead_letters
from ..store.collection import STATE_COLLECTION, ensure_state_collection, require_collection_steps
from ..store.records import (
    MigrationRecord,
    abandon_steps,
    count_migrated,
    load_record,
    pause_change,
    phase_change,
    require_record,
    update_record,
    write_record,
)


def vector_names(info: Any) -> list[str]:
    """The collection's dense vector names ('' is the unnamed one)."""
    vectors = info.config.params.vectors
    return sorted(vectors) if isinstance(vectors, dict) else [DEFAULT_VECTOR]


def _vector_params(client_info: Any, name: str) -> models.VectorParams:
    vectors = client_info.config.params.vectors
    if isinstance(vectors, dict) and name in vectors:
        return vectors[name]
    if not isinstance(vectors, dict) and name == DEFAULT_VECTOR:
        return vectors
    existing = ", ".join(repr(v) if v else "'' (the unnamed vector)"
                         for v in vector_names(client_info))
    raise DriftError(f"the collection has no vector {name!r} (old_vector); it has {existing}: "
                     "set old_vector in [migration] to one of them")


def _active_on(collection: str, except_name: str,
               state_collection: str) -> Steps[MigrationRecord | None]:
    """Another migration of ``collection`` that has not ended, if any."""
    exists = yield call("collection_exists", state_collection)
    if not exists:
        return None
    records, _ = yield call("scroll", state_collection, scroll_filter=models.Filter(must=[
        models.FieldCondition(key="record", match=models.MatchValue(value="migration")),
        models.FieldCondition(key="collection", match=models.MatchValue(value=collection)),
    ]), limit=100, with_payload=True, with_vectors=False)
    for point in records:
        record = MigrationRecord.from_payload(point.payload or {})
        if record.spec.name != except_name and record.phase in HOLDS_COLLECTION:
            return record
    return None


def refuse_other_migration(record: MigrationRecord, spec: MigrationSpec, file: str) -> None:
    """A migration's name stays its collection's, finished or not: a file that names it for
    another collection or layout would act on the wrong data (``abandon`` dropping another
    collection's new side while naming this one's). Until it is abandoned, its vectors stay
    where it was fitted: a file edited since (another ``new_vector``) was ignored, silently.
    One line, with the way out."""
    stored = record.spec
    if ((stored.collection, stored.layout, stored.new_collection)
            != (spec.collection, spec.layout, spec.new_collection)):
        raise StateError(
            f"migration {spec.name!r} in Qdrant migrates collection {stored.collection!r} "
            f"({stored.layout} layout, new collection {stored.new_collection!r}, phase "
            f"{record.phase.value!r}), but {file} says collection {spec.collection!r} "
            f"({spec.layout} layout, new collection {spec.new_collection!r}): give {file} its own "
            "[migration] name, or fix its [migration] section"
        )
    if record.phase is Phase.ABANDONED:  # nothing of it is left: a new fit may place anew
        return
    changed = [f"{key} = {getattr(spec, key)!r} (Qdrant's: {getattr(stored, key)!r})"
               for key in ("old_vector", "new_vector") if getattr(spec, key) != getattr(stored, key)]
    if changed:
        raise StateError(
            f"{file} says {', '.join(changed)}, but migration {spec.name!r} in Qdrant (phase "
            f"{record.phase.value!r}) keeps its vectors where it was fitted, and every command "
            f"acts on that: put {file}'s [migration] section back as it was; to change it, "
            "abandon the migration (with the file as it was) and fit again")


def preflight_steps(spec: MigrationSpec, state_collection: str = STATE_COLLECTION, *,
                    embedded: bool = False
                    ) -> Steps[tuple[Any, models.VectorParams, MigrationRecord | None]]:
    """The cheap checks, before any embedding: the collection and its legacy vector exist,
    the distance is one serving knows (Cosine and Dot score similarities, Euclid and
    Manhattan distances: :mod:`qdrant_drift.scores` orients both), the layout fits, no other
    migration holds the collection. ``embedded``: the client is local mode (see
    :meth:`Layout.check_source`).
    Returns (collection info, legacy vector params, this migration's record if any)."""
    previous = yield from load_record(spec.name, state_collection)
    if previous is not None and previous.phase is Phase.FINISHED:
        # first: its legacy vector or collection is gone, which the checks below would report
        # instead; and its collection's name may now be an alias of its new collection: a
        # re-fit would make the two sides one collection, which abandon or finish then drops
        raise StateError(
            f"migration {spec.name!r} is finished; {ENDED_ADVICE[Phase.FINISHED]}")
    yield from require_collection_steps(spec.collection)
    info = yield call("get_collection", spec.collection)
    old_params = _vector_params(info, spec.old_vector)
    distance_name(old_params.distance)
    layout_of(spec).check_source(info, embedded=embedded)
    if previous is not None:
        refuse_other_migration(previous, spec, "this one")
    yield from layout_of(spec).check_alias_steps()
    other = yield from _active_on(spec.collection, spec.name, state_collection)
    if other is not None:
        raise StateError(
            f"collection {spec.collection!r} already has a migration that has not ended, "
            f"{other.spec.name!r} (phase {other.phase.value!r}): with the migration file that "
            f"names {other.spec.name!r}, not this one, take it to the end (`qdrant-drift "
            "cutover <its file>`, then `finish`; a rolled-back one needs `start` first) or "
            "abandon it (`qdrant-drift abandon <its file>`) before starting another"
        )
    return info, old_params, previous


def create_steps(
    spec: MigrationSpec, adapter: Adapter | None, *, phase: Phase,
    state_collection: str = STATE_COLLECTION, embedded: bool = False,
) -> Steps[MigrationRecord]:
    info, old_params, previous = yield from preflight_steps(spec, state_collection,
                                                            embedded=embedded)
    if previous is not None and previous.phase in ACTIVE:
        raise StateError(
            f"migration {spec.name!r} is already active (phase {previous.phase.value!r}); "
            "roll it back (`qdrant-drift rollback`) or take it to the end (`qdrant-drift "
            "cutover`, then `finish`) first"
        )
    if adapter is not None:
        adapter.check(old_dim=old_params.size)
        check_adapter_distance(adapter, old_params.distance)
    new_dim = adapter.new_dim if adapter is not None else None
    if new_dim is None:
        raise DriftError("create needs the adapter (it fixes the new model's dimension)")
    new_params = models.VectorParams(size=new_dim, distance=old_params.distance)
    yield from layout_of(spec).create_target_steps(info, new_params)
    yield from ensure_state_collection(state_collection)
    if previous is not None and previous.phase is Phase.ABANDONED:
        yield from forget_run_steps(spec.name, state_collection)
    record = MigrationRecord(spec=spec, phase=phase,
                             history=list(previous.history) if previous else [],
                             distance=distance_name(old_params.distance))
    digest, chunks = yield from write_adapter_chunks(spec.name, adapter, state_collection)
    entries = [{"created": phase.value}] + adapter_change(digest, chunks)(record)
    won = yield from write_record(record, entries,
                                  expected=previous.revision if previous else None,
                                  state_collection=state_collection)
    if not won:
        raise StateError(f"migration {spec.name!r} was created or changed by another command "
                         "at the same time: check `qdrant-drift status`, then run it again")
    return record


def check_adapter_distance(adapter: Adapter, collection_distance: Any) -> None:
    """An adapter for Euclid or Manhattan predicts the legacy vector and was chosen by that
    metric's ranks; one for Cosine or Dot is a query for inner products: neither serves the
    other. (Cosine and Dot adapters serve either inner-product collection, as before.)"""
    wanted = distance_name(collection_distance)
    if (wanted in METRIC_DISTANCES or adapter.distance in METRIC_DISTANCES) and (
            adapter.distance != wanted):
        raise AdapterMismatchError(
            f"the adapter was fitted for {adapter.distance} distance but the legacy vector "
            f"uses {wanted}: fit it again with distance={wanted!r}")


def create(client: Any, spec: MigrationSpec, adapter: Adapter | None, *,
           phase: Phase = Phase.SERVING_ADAPTED,
           state_collection: str = STATE_COLLECTION) -> MigrationRecord:
    """Prepare the new vector / collection and record the migration in Qdrant."""
    return drive(create_steps(spec, adapter, phase=phase, state_collection=state_collection,
                              embedded=is_local(client)), client)


def record_fit_steps(spec: MigrationSpec, adapter: Adapter,
                     state_collection: str = STATE_COLLECTION) -> Steps[MigrationRecord]:
    """Record a fitted adapter: a first fit (or one after ``finished`` or ``abandoned``)
    creates the migration in phase ``fitted``; a re-fit swaps the adapter of the existing one
    (replicas pick it up), moving a ``planned`` migration to ``fitted`` through the checked
    transition."""
    previous = yield from load_record(spec.name, state_collection)
    if previous is None or previous.phase in TERMINAL:
        return (yield from create_steps(spec, adapter, phase=Phase.FITTED,
                                        state_collection=state_collection))
    if previous.distance is not None:
        check_adapter_distance(adapter, previous.distance)
    digest, chunks = yield from write_adapter_chunks(spec.name, adapter, state_collection)

    def refit(record: MigrationRecord) -> list[dict[str, Any]]:
        entries = adapter_change(digest, chunks)(record)
        if record.phase is Phase.PLANNED:
            entries += phase_change(Phase.FITTED)(record)
        return entries

    return (yield from update_record(spec.name, refit, state_collection))


def alias_steps(spec: MigrationSpec, serve_new: bool) -> Steps[None]:
    """Blue-green: point ``spec.alias`` at the new (or back at the old) collection."""
    yield from layout_of(spec).alias_steps(serve_new)


def _no_report_warning(record: MigrationRecord, state_collection: str) -> Steps[None]:
    """Serving adapted without a pre-flight report means nobody knows its recall: say so."""
    try:
        adapter = yield from load_stored_adapter(record, state_collection)
    except DriftError:
        return  # an unreadable adapter is the status command's to report
    if adapter.quality is None:
        needed = adapter.info.get("preflight_pairs")
        why = f"fewer sample pairs than the {needed} it needs" if needed else "too few pairs"
        warnings.warn(
            f"migration {record.spec.name!r} serves an adapter fitted without a pre-flight "
            f"quality report ({why}), so its recall is unknown: raise [adapter] sample_size "
            "and run `qdrant-drift fit` again", NoPreflightReport, stacklevel=2)


START_ROUTES: dict[Phase, tuple[Phase, ...]] = {
    Phase.FITTED: (Phase.SERVING_ADAPTED, Phase.BACKFILLING),
    Phase.SERVING_ADAPTED: (Phase.BACKFILLING,),
    Phase.ROLLED_BACK: (Phase.BACKFILLING,),
    Phase.BACKFILLING: (),  # started already: nothing to do
}
# Why a backfill cannot be started or resumed in these phases, and what to run instead.
START_REFUSALS: dict[Phase, str] = {
    **NOT_RUNNABLE,
    Phase.CUT_OVER: ("it serves the new vectors already: `qdrant-drift finish` completes it, "
                     "`qdrant-drift rollback` returns to the legacy path"),
}


def start_steps(name: str, state_collection: str = STATE_COLLECTION) -> Steps[MigrationRecord]:
    """Serve new-model queries (adapted at first) and open the backfill: one checked write
    from ``fitted`` (through ``serving-adapted``), ``serving-adapted`` or ``rolled-back``;
    nothing to do when already backfilling."""
    def start(record: MigrationRecord) -> list[dict[str, Any]]:
        if record.phase not in START_ROUTES:
            raise StateError(f"cannot start migration {name!r} in phase "
                             f"{record.phase.value!r}: {START_REFUSALS[record.phase]}")
        return phase_change(*START_ROUTES[record.phase])(record)

    record = yield from update_record(name, start, state_collection)
    yield from _no_report_warning(record, state_collection)
    return record


# Resuming a migration that is not paused: where its backfill is open (backfilling, cut
# over) there is nothing to do, as for ``start`` on a started one; elsewhere no backfill
# runs, so whoever asked expected something else and is told what to run.
RESUME_REFUSALS = BACKFILL_CLOSED


def pause_steps(name: str, paused: bool,
                state_collection: str = STATE_COLLECTION) -> Steps[MigrationRecord]:
    """Every backfill worker pauses (or resumes) within its heartbeat interval. A pause
    before ``start`` holds the backfill it opens. Resuming one that is not paused changes
    nothing while its backfill is open and is refused in the other phases
    (:data:`RESUME_REFUSALS`); a finished or abandoned migration refuses both."""
    def change(record: MigrationRecord) -> list[dict[str, Any]]:
        if record.phase in TERMINAL:  # over: no backfill will ever run to pause or resume
            raise StateError(
                f"migration {name!r} is {record.phase.value}: there is no backfill to "
                f"{'pause' if paused else 'resume'}; {ENDED_ADVICE[record.phase]}")
        if not paused and not record.backfill_paused:
            if record.phase in RESUME_REFUSALS:
                raise StateError(
                    f"migration {name!r} is not paused (phase: {record.phase.value}); nothing "
                    f"to resume: {RESUME_REFUSALS[record.phase]}")
            return []  # resumed already (by another operator, say): nothing to write
        return pause_change(paused)(record)

    return (yield from update_record(name, change, state_collection))


def alias_for_phase(record: MigrationRecord) -> Steps[None]:
    if record.phase in (Phase.CUT_OVER, Phase.ROLLED_BACK):
        yield from alias_steps(record.spec, serve_new=record.phase is Phase.CUT_OVER)


def cutover_steps(name: str, *, force: bool = False,
                  state_collection: str = STATE_COLLECTION) -> Steps[MigrationRecord]:
    """Serve the new vectors only. Refused while points lack them (they would drop out of
    search results) unless ``force``; the phase rule is checked first, it costs nothing.
    Forced, there is nothing to refuse, so nothing is counted (as ``finish``: a count scans
    on embedded Qdrant; ``Migration.lacking`` counts what was given up, for the CLI)."""
    record = yield from require_record(name, state_collection)
    if record.phase is Phase.CUT_OVER:  # a runbook re-run, a second operator: as `start`
        return record
    check_transition(record.phase, Phase.CUT_OVER)
    yield from layout_of(record.spec).check_alias_steps()  # before the phase moves
    # blue-green: copies of points a plain client deleted must not come back once the new
    # collection serves (a backfill tidies them too, but may not have run since)
    yield from layout_of(record.spec).tidy_steps()
    migrated, total = (0, 0) if force else (yield from count_migrated(record.spec))
    if migrated < total:
        dead = yield from read_dead_letters(name, state_collection)
        raise StateError(
            f"cut-over refused: {total - migrated} of {total} points still "
            f"{layout_of(record.spec).unmigrated_note()} ({len(dead)} in dead letters); they "
            "would drop out of search results or serve an old payload. "
            "Let the backfill finish (`qdrant-drift backfill`: it also finds points "
            "written behind it; requeue dead letters after "
            "fixing them: `qdrant-drift dead-letters --requeue`), or force it (`qdrant-drift "
            "cutover --force`, `cutover(force=True)`)" + (
                ". The backfill is paused: `qdrant-drift resume` first, or it waits"
                if record.backfill_paused else ""))
    record = yield from update_record(name, phase_change(Phase.CUT_OVER), state_collection)
    yield from alias_for_phase(record)
    return record


def rollback_steps(name: str, state_collection: str = STATE_COLLECTION
                   ) -> Steps[MigrationRecord]:
    """Instantly return serving to the legacy path (adapted queries on legacy vectors).
    Refused while the stored adapter is unreadable: the legacy path would have nothing to
    adapt new-model queries with, so every wrapped query would fail."""
    record = yield from require_record(name, state_collection)
    if record.phase is Phase.ROLLED_BACK:  # rolled back already: nothing to do, as `start`
        return record
    check_transition(record.phase, Phase.ROLLED_BACK)
    if record.adapter_digest:
        try:
            yield from load_stored_adapter(record, state_collection)
        except (StateError, AdapterFileError) as exc:
            raise StateError(
                f"rollback refused: {exc}, and the legacy path needs it to serve new-model "
                "queries; run `qdrant-drift fit` to store a new adapter, then roll back"
            ) from exc
    record = yield from update_record(name, phase_change(Phase.ROLLED_BACK), state_collection)
    yield from alias_for_phase(record)
    return record


def finish_note(spec: MigrationSpec) -> str:
    """What ``finish`` does to the legacy data, in words (the CLI asks with it)."""
    return layout_of(spec).finish_note()


def check_finish_steps(name: str, state_collection: str = STATE_COLLECTION, *,
                       force: bool = False) -> Steps[MigrationRecord]:
    """Is ``finish`` allowed now? (Asked before anything is dropped, or confirmed.) Not
    while points lack the new vector: after cut-over, a client that is not wrapped still
    writes the legacy side only, and dropping it would lose those points (unless
    ``force``: they are given up, as a forced cut-over gave them up in search). In
    blue-green, nor while copies hold a payload edited since: ``finish``'s tidy unmarks
    those points before it counts, so they are counted here too, without changing them."""
    record = yield from require_record(name, state_collection)
    if record.phase is Phase.FINISHED:  # a second finish: nothing to refuse (see finish_steps)
        return record
    check_transition(record.phase, Phase.FINISHED)
    stale = 0 if force else (yield from layout_of(record.spec).count_stale_steps())
    yield from _refuse_points_lacking(record, force, state_collection, stale)
    return record


def _refuse_points_lacking(record: MigrationRecord, force: bool, state_collection: str,
                           stale: int = 0) -> Steps[None]:
    """``finish``'s refusal while points lack the new vector (see :func:`check_finish_steps`);
    ``stale``: points still marked migrated that its tidy would unmark (none once it ran).
    Forced, there is nothing to refuse, so nothing is counted (a count scans on embedded
    Qdrant; ``Migration.check_finish`` counts what a forced finish gives up)."""
    if force:
        return
    migrated, total = yield from count_migrated(record.spec)
    lacking = total - migrated + stale
    if lacking > 0:
        dead = yield from _dead_letters_lacking(record.spec, state_collection)
        others = ("written or edited since cut-over by a client that is not wrapped, or "
                  "dead letters requeued")
        why = (f"not backfilled yet: {others}" if not dead
               else f"{dead} in dead letters: `qdrant-drift dead-letters` says why"
               + ("" if dead >= lacking else f"; the others not backfilled yet: {others}"))
        paused = (" The backfill is paused: `qdrant-drift resume` first, or it waits."
                  if record.backfill_paused else "")
        raise StateError(
            f"finish refused: {lacking} of {total} points "
            f"{layout_of(record.spec).unmigrated_note()} ({why}); finishing now would give "
            f"them up ({layout_of(record.spec).given_up_note()}). Run `qdrant-drift backfill` "
            "(it runs after cut-over too; requeue "
            "dead letters after fixing them: `qdrant-drift dead-letters --requeue`), then "
            "finish; or give them up (`qdrant-drift finish --force`, `finish(force=True)`)."
            + paused)


def _dead_letters_lacking(spec: MigrationSpec, state_collection: str) -> Steps[int]:
    """Dead letters that still lack the new vector (not those deleted, or written by an
    app, since): read by id, their payloads whole (blue-green marks a copy there; they are
    few, and this is a refusal's path)."""
    letters = yield from read_dead_letters(spec.name, state_collection)
    if not letters:
        return 0
    layout = layout_of(spec)
    found = yield call("retrieve", spec.collection, [letter["point_id"] for letter in letters],
                       with_payload=True, with_vectors=layout.record_vectors())
    return sum(1 for point in found if not layout.is_migrated(point))


def finish_steps(name: str, state_collection: str = STATE_COLLECTION, *,
                 force: bool = False) -> Steps[MigrationRecord]:
    """Record ``finished`` first (a checked write: nothing can roll back after it), then drop
    the legacy vector (named layout) or collection (blue-green). A collection's unnamed
    legacy vector cannot be dropped in Qdrant: it stays, unused. A second ``finish``
    completes a first that stopped between its record and its drop, else changes nothing
    (as a second ``cutover`` or ``abandon``)."""
    record = yield from require_record(name, state_collection)
    if record.phase is Phase.FINISHED:
        layout = layout_of(record.spec)
        if (yield from layout.legacy_left_steps()):
            yield from layout.drop_legacy_steps()
        return record
    check_transition(record.phase, Phase.FINISHED)
    # see cutover_steps; the tidy first, so that the count sees the points it unmarks
    # (edited by a plain client since they were copied: to be copied again first)
    yield from layout_of(record.spec).tidy_steps()
    yield from _refuse_points_lacking(record, force, state_collection)
    record = yield from update_record(name, phase_change(Phase.FINISHED), state_collection)
    yield from layout_of(record.spec).drop_legacy_steps()
    return record


def abandon_note(spec: MigrationSpec) -> str:
    """What ``abandon`` does to the new data, in words (the CLI asks with it)."""
    return layout_of(spec).abandon_note()


def check_abandon_steps(name: str, state_collection: str = STATE_COLLECTION
                        ) -> Steps[MigrationRecord]:
    """Is ``abandon`` allowed now? (Asked before anything is dropped, or confirmed: a
    finished migration has no new side left to drop, its legacy side is gone.)"""
    record = yield from load_record(name, state_collection)
    if record is None:  # "fit first" would send a user who wants out further in
        raise StateError(f"nothing to abandon: migration {name!r} was never fitted (there "
                         "is no record of it)")
    if record.phase is not Phase.ABANDONED:
        check_transition(record.phase, Phase.ABANDONED)
    return record


def phase_steps(name: str, phase: Phase, state_collection: str = STATE_COLLECTION, *,
                force: bool = False) -> Steps[MigrationRecord]:
    """Move a migration to ``phase`` through the command that owns that move (and its rule)."""
    if phase is Phase.CUT_OVER:
        return (yield from cutover_steps(name, force=force, state_collection=state_collection))
    if phase is Phase.ROLLED_BACK:
        return (yield from rollback_steps(name, state_collection))
    if phase is Phase.FINISHED:
        return (yield from finish_steps(name, state_collection, force=force))
    if phase is Phase.ABANDONED:
        return (yield from abandon_steps(name, state_collection))
    return (yield from update_record(name, phase_change(phase), state_collection))


# -- sync entry points -------------------------------------------------------------------
def set_phase(client: Any, name: str, phase: Phase | str, *, force: bool = False,
              state_collection: str = STATE_COLLECTION) -> MigrationRecord:
    """Move a migration to ``phase`` (illegal moves raise :class:`StateError`, naming the
    command to run). Cut-over checks coverage (``force`` skips that), finish drops the
    legacy data; a blue-green alias follows cut-over and rollback."""
    return drive(phase_steps(name, Phase(phase), state_collection, force=force), client)


def start(client: Any, name: str, *, state_collection: str = STATE_COLLECTION
          ) -> MigrationRecord:
    """Serve new-model queries (adapted at first) and open the backfill."""
    return drive(start_steps(name, state_collection), client)


def pause(client: Any, name: str, *, state_collection: str = STATE_COLLECTION
          ) -> MigrationRecord:
    """Pause every backfill worker (they see it within a heartbeat interval)."""
    return drive(pause_steps(name, True, state_collection), client)


def resume(client: Any, name: str, *, state_collection: str = STATE_COLLECTION
           ) -> MigrationRecord:
    """Resume the backfill workers (nothing to do when they are not paused; refused when no
    backfill is open: :data:`RESUME_REFUSALS`)."""
    return drive(pause_steps(name, False, state_collection), client)


def cutover(client: Any, name: str, *, force: bool = False,
            state_collection: str = STATE_COLLECTION) -> MigrationRecord:
    """Serve the new vectors only (refused while points lack them, unless ``force``);
    every replica follows within its refresh interval."""
    return drive(cutover_steps(name, force=force, state_collection=state_collection), client)


def rollback(client: Any, name: str, *, state_collection: str = STATE_COLLECTION
             ) -> MigrationRecord:
    """Instantly return serving to the legacy path (adapted queries on legacy vectors)."""
    return drive(rollback_steps(name, state_collection), client)


def finish(client: Any, name: str, *, state_collection: str = STATE_COLLECTION,
           force: bool = False) -> MigrationRecord:
    """After cut-over: mark the migration finished and drop the legacy data (irreversible)."""
    return drive(finish_steps(name, state_collection, force=force), client)


def abandon(client: Any, name: str, *, state_collection: str = STATE_COLLECTION
            ) -> MigrationRecord:
    """Give the migration up at any point before ``finish``: drop the new vector or
    collection, serve the legacy side as before it (irreversible)."""
    return drive(abandon_steps(name, state_collection), client)


# -- async entry points ------------------------------------------------------------------
async def acreate(client: Any, spec: MigrationSpec, adapter: Adapter | None, *,
                  phase: Phase = Phase.SERVING_ADAPTED,
                  state_collection: str = STATE_COLLECTION) -> MigrationRecord:
    """:func:`create` for an ``AsyncQdrantClient``."""
    return await adrive(create_steps(spec, adapter, phase=phase,
                                     state_collection=state_collection,
                                     embedded=is_local(client)), client)


async def aset_phase(client: Any, name: str, phase: Phase | str, *, force: bool = False,
                     state_collection: str = STATE_COLLECTION) -> MigrationRecord:
    """:func:`set_phase` for an ``AsyncQdrantClient``."""
    return await adrive(phase_steps(name, Phase(phase), state_collection, force=force), client)


async def astart(client: Any, name: str, *, state_collection: str = STATE_COLLECTION
                 ) -> MigrationRecord:
    """:func:`start` for an ``AsyncQdrantClient``."""
    return await adrive(start_steps(name, state_collection), client)


async def apause(client: Any, name: str, *, state_collection: str = STATE_COLLECTION
                 ) -> MigrationRecord:
    """:func:`pause` for an ``AsyncQdrantClient``."""
    return await adrive(pause_steps(name, True, state_collection), client)


async def aresume(client: Any, name: str, *, state_collection: str = STATE_COLLECTION
                  ) -> MigrationRecord:
    """:func:`resume` for an ``AsyncQdrantClient``."""
    return await adrive(pause_steps(name, False, state_collection), client)


async def acutover(client: Any, name: str, *, force: bool = False,
                   state_collection: str = STATE_COLLECTION) -> MigrationRecord:
    """:func:`cutover` for an ``AsyncQdrantClient``."""
    return await adrive(cutover_steps(name, force=force, state_collection=state_collection),
                        client)


async def arollback(client: Any, name: str, *, state_collection: str = STATE_COLLECTION
                    ) -> MigrationRecord:
    """:func:`rollback` for an ``AsyncQdrantClient``."""
    return await adrive(rollback_steps(name, state_collection), client)


async def afinish(client: Any, name: str, *, state_collection: str = STATE_COLLECTION,
                  force: bool = False) -> MigrationRecord:
    """:func:`finish` for an ``AsyncQdrantClient``."""
    return await adrive(finish_steps(name, state_collection, force=force), client)


async def aabandon(client: Any, name: str, *, state_collection: str = STATE_COLLECTION
                   ) -> MigrationRecord:
    """:func:`abandon` for an ``AsyncQdrantClient``."""
    return await adrive(abandon_steps(name, state_collection), client)
