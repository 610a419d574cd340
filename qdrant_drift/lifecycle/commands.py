"""Plain command functions over the migration state (the CLI and apps call these).

``create`` prepares the target (a new named vector, or a new collection) and records the
migration with its adapter; ``set_phase`` moves it along (``cutover`` / ``rollback`` are the
two a serving fleet follows within its refresh interval).
"""

from __future__ import annotations

from typing import Any

from qdrant_client.http import models

from ..adapters import Adapter
from ..errors import DriftError
from ..migration.phases import Phase
from ..sansio import Steps, adrive, call, drive
from ..migration.spec import DEFAULT_VECTOR, MigrationSpec
from ..errors import StateError
from ..migration.phases import ACTIVE
from ..store.adapters import store_adapter
from ..store.collection import STATE_COLLECTION, ensure_state_collection
from ..store.records import MigrationRecord, load_record, save_record, transition


def _vector_params(client_info: Any, name: str) -> models.VectorParams:
    vectors = client_info.config.params.vectors
    if isinstance(vectors, dict):
        if name not in vectors:
            raise DriftError(f"collection has no vector named {name!r}; it has {sorted(vectors)}")
        return vectors[name]
    if name != DEFAULT_VECTOR:
        raise DriftError(f"collection has only an unnamed vector, not {name!r}")
    return vectors


def _refuse_other_vectors(info: Any, spec: MigrationSpec) -> None:
    """Blue-green copies payloads and the migrating vector only: a collection with other
    vectors (dense or sparse) would lose them at the alias switch, so it is refused."""
    vectors = info.config.params.vectors
    others = sorted(name for name in (vectors if isinstance(vectors, dict) else {})
                    if name != spec.old_vector)
    others += sorted(info.config.params.sparse_vectors or {})
    if others:
        raise DriftError(
            f"collection {spec.collection!r} has other vectors besides {spec.old_vector!r}: "
            f"{others}. The collection (blue-green) layout copies payloads and the migrating "
            "vector only, so they would be missing after cut-over; use layout='named' "
            "(Qdrant >= 1.18)"
        )


def _active_on(collection: str, except_name: str,
               state_collection: str) -> Steps[MigrationRecord | None]:
    """Another migration of ``collection`` that is still active, if any."""
    records, _ = yield call("scroll", state_collection, scroll_filter=models.Filter(must=[
        models.FieldCondition(key="record", match=models.MatchValue(value="migration")),
        models.FieldCondition(key="collection", match=models.MatchValue(value=collection)),
    ]), limit=100, with_payload=True, with_vectors=False)
    for point in records:
        record = MigrationRecord.from_payload(point.payload or {})
        if record.spec.name != except_name and record.phase in ACTIVE:
            return record
    return None


def create_steps(
    spec: MigrationSpec, adapter: Adapter | None, *, phase: Phase,
    state_collection: str = STATE_COLLECTION,
) -> Steps[MigrationRecord]:
    exists = yield call("collection_exists", spec.collection)
    if not exists:
        raise DriftError(f"collection {spec.collection!r} does not exist")
    info = yield call("get_collection", spec.collection)
    old_params = _vector_params(info, spec.old_vector)
    if old_params.distance not in (models.Distance.COSINE, models.Distance.DOT):
        raise DriftError(
            f"vector {spec.old_vector!r} uses {old_params.distance.value} distance: serving "
            "merges and calibrates similarity scores (higher is better), so only Cosine and "
            "Dot collections can be migrated"
        )
    if spec.layout == "collection":
        _refuse_other_vectors(info, spec)
    yield from ensure_state_collection(state_collection)
    previous = yield from load_record(spec.name, state_collection)
    other = yield from _active_on(spec.collection, spec.name, state_collection)
    if other is not None:
        raise StateError(
            f"collection {spec.collection!r} already has an active migration, {other.spec.name!r} "
            f"(phase {other.phase.value!r}): finish or roll it back before starting another"
        )
    if previous is not None and previous.phase in ACTIVE:
        raise StateError(
            f"migration {spec.name!r} is already active (phase {previous.phase.value!r}); "
            "roll it back or finish it first"
        )
    if adapter is not None:
        adapter.check(old_dim=old_params.size)
    new_dim = adapter.new_dim if adapter is not None else None
    if new_dim is None:
        raise DriftError("create needs the adapter (it fixes the new model's dimension)")
    new_params = models.VectorParams(size=new_dim, distance=old_params.distance)
    if spec.layout == "named":
        vectors = info.config.params.vectors
        if not (isinstance(vectors, dict) and spec.new_vector in vectors):
            try:
                yield call("create_vector_name", spec.collection, spec.new_vector,
                           models.DenseVectorNameConfig(dense=models.DenseVectorConfig(
                               size=new_dim, distance=old_params.distance)))
            except Exception as exc:
                raise DriftError(
                    f"could not add vector {spec.new_vector!r} to {spec.collection!r} ({exc}). "
                    "The named layout needs Qdrant >= 1.18 (create_vector_name); on an older "
                    "server use layout='collection'"
                ) from exc
    else:
        target_exists = yield call("collection_exists", spec.native_collection)
        if not target_exists:
            vectors_config: Any = (new_params if spec.new_vector == DEFAULT_VECTOR
                                   else {spec.new_vector: new_params})
            yield call("create_collection", spec.native_collection, vectors_config=vectors_config)
    record = MigrationRecord(spec=spec, phase=phase)
    if adapter is not None:
        yield from store_adapter(record, adapter, state_collection)
    else:
        yield from save_record(record, state_collection)
    return record


def create(client: Any, spec: MigrationSpec, adapter: Adapter | None, *,
           phase: Phase = Phase.SERVING_ADAPTED,
           state_collection: str = STATE_COLLECTION) -> MigrationRecord:
    """Prepare the new vector / collection and record the migration in Qdrant."""
    return drive(create_steps(spec, adapter, phase=phase, state_collection=state_collection),
                 client)


def alias_steps(spec: MigrationSpec, serve_new: bool) -> Steps[None]:
    """Blue-green: point ``spec.alias`` at the new (or back at the old) collection, in one
    atomic ``update_collection_aliases`` call (delete + create in the same request)."""
    if spec.layout != "collection" or not spec.alias:
        return
    target = spec.native_collection if serve_new else spec.collection
    yield call("update_collection_aliases", change_aliases_operations=[
        models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=spec.alias)),
        models.CreateAliasOperation(create_alias=models.CreateAlias(
            collection_name=target, alias_name=spec.alias)),
    ])


def phase_steps(name: str, phase: Phase,
                state_collection: str = STATE_COLLECTION) -> Steps[MigrationRecord]:
    """Record the new phase, then (blue-green with an alias) switch the alias to match."""
    record = yield from transition(name, phase, state_collection)
    if phase in (Phase.CUT_OVER, Phase.ROLLED_BACK):
        yield from alias_steps(record.spec, serve_new=phase is Phase.CUT_OVER)
    return record


def set_phase(client: Any, name: str, phase: Phase | str, *,
              state_collection: str = STATE_COLLECTION) -> MigrationRecord:
    """Move a migration to ``phase`` (illegal transitions raise :class:`StateError`).
    Cut-over and rollback of a blue-green migration with an alias also switch the alias."""
    return drive(phase_steps(name, Phase(phase), state_collection), client)


def cutover(client: Any, name: str, **kw: Any) -> MigrationRecord:
    """Serve the new vectors only; every replica follows within its refresh interval."""
    return set_phase(client, name, Phase.CUT_OVER, **kw)


def rollback(client: Any, name: str, **kw: Any) -> MigrationRecord:
    """Instantly return serving to the legacy path (adapted queries on legacy vectors)."""
    return set_phase(client, name, Phase.ROLLED_BACK, **kw)


async def acreate(client: Any, spec: MigrationSpec, adapter: Adapter | None, *,
                  phase: Phase = Phase.SERVING_ADAPTED,
                  state_collection: str = STATE_COLLECTION) -> MigrationRecord:
    """:func:`create` for an ``AsyncQdrantClient``."""
    return await adrive(create_steps(spec, adapter, phase=phase,
                                     state_collection=state_collection), client)


async def aset_phase(client: Any, name: str, phase: Phase | str, *,
                     state_collection: str = STATE_COLLECTION) -> MigrationRecord:
    """:func:`set_phase` for an ``AsyncQdrantClient``."""
    return await adrive(phase_steps(name, Phase(phase), state_collection), client)
