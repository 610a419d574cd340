"""The write path during a migration (sans-I/O, shared by both clients).

One meaning per vector: whatever the app sends under the migrating vector's name (the old
name, the new name, or the unnamed ``""``, which is the bare list) is a NEW-model vector.
Every point gets its new vector and a legacy-space vector (the adapter's output, or the
app's own old-model vector passed explicitly as ``old_vectors=``), so readers of either side
find it and the point counts as migrated. Each write is stamped with the models that made
its vectors. Every write method of qdrant-client comes through here (:data:`WRITES`).
"""

from __future__ import annotations

from itertools import count, islice, repeat
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence
from uuid import uuid4

import numpy as np
from qdrant_client.http import models

from ..adapters import Adapter
from ..errors import DriftError, InvalidVectorsError
from ..migration.spec import DEFAULT_VECTOR, MigrationSpec
from ..sansio import Gather, Steps, call
from ..migration.layouts import (
    BACKFILL_COPIES, BY_BACKFILL, MIGRATED_MARKER, STAMP_KEY, TEXT_EDITED, layout_of, marker,
    stamp)
from .queries import dense_vector


OldVectors = Mapping[Any, Any] | Sequence[Any] | np.ndarray | None
# adapter info: the payload field the backfill embeds (fit records it; None: a loader's text)
TEXT_FIELD = "text_field"
# the app's old-model vector of the i-th point (id given), or None: derive it
OldSource = Callable[[int, Any], Any]


def _label(name: str) -> str:
    return f"{name!r} (the unnamed vector)" if name == DEFAULT_VECTOR else repr(name)


def _checked(label: str, value: Any, dim: int | None, *,
             migrating: bool = False) -> np.ndarray:
    """A dense float32 vector of the expected dimension, or an error naming the vector
    (``migrating``: it is taken as a new-model vector, which the error says)."""
    vector = dense_vector(value)
    if vector is None:
        raise InvalidVectorsError(f"vector {label} must be a dense vector (a list of floats "
                                  "or a 1-D array)")
    if dim is not None and vector.shape[0] != dim:
        how = (": during a migration the wrapper takes the migrating vector, under its old "
               "or new name, as a NEW-model vector (it derives the legacy one); pass an "
               "old-model vector as old_vectors=" if migrating else "")
        raise InvalidVectorsError(
            f"vector {label}: expected dimension {dim}, got {vector.shape[0]}{how}")
    if not np.isfinite(vector).all():
        raise InvalidVectorsError(f"vector {label} contains NaN or inf")
    return vector


def _split_vectors(spec: MigrationSpec, adapter: Adapter | None,
                   vector: Any) -> tuple[np.ndarray | None, dict[str, Any]]:
    """(the new-model vector or None, the point's other named vectors)."""
    new_dim = adapter.new_dim if adapter is not None else None
    if not isinstance(vector, dict):
        return _checked(_label(spec.new_vector), vector, new_dim, migrating=True), {}
    named = {k: v for k, v in vector.items() if spec.is_migrating_vector(k)}
    others = {k: v for k, v in vector.items() if k not in named}
    if not named:
        return None, others
    found = [_checked(_label(k), v, new_dim, migrating=True) for k, v in named.items()]
    if any(not np.array_equal(found[0], other) for other in found[1:]):
        raise InvalidVectorsError(
            f"vectors {' and '.join(map(_label, named))} are both the migrating vector "
            "(a new-model vector under either name) but differ: send it once, and an "
            "old-model vector as old_vectors=")
    return found[0], others


def _stamp(spec: MigrationSpec, adapter: Adapter | None, app_old: bool) -> dict[str, Any]:
    """What made a written point's legacy vector: the app's old model, or the adapter."""
    old_source = spec.old_model if app_old else (
        f"adapter:{adapter.kind}:{adapter.fingerprint.digest}" if adapter else None
    )
    return stamp(spec, old_source)


def _legacy(spec: MigrationSpec, adapter: Adapter | None, new: np.ndarray,
            app_old: Any) -> list[float]:
    if app_old is not None:
        return _checked(f"old_vectors ({_label(spec.old_vector)})", app_old,
                        adapter.old_dim if adapter is not None else None).tolist()
    if adapter is None:
        raise DriftError(
            f"migration {spec.name!r} has no adapter to derive the legacy vector: pass the "
            "old-model vectors as old_vectors= (one per point, or a dict by point id)"
        )
    return adapter.transform(new).tolist()


def _vector_struct(vectors: dict[str, Any]) -> Any:
    """Named vectors as qdrant-client takes them: the bare list for the unnamed one alone."""
    return vectors[DEFAULT_VECTOR] if list(vectors) == [DEFAULT_VECTOR] else vectors


def old_source(old_vectors: OldVectors) -> OldSource:
    """``old_vectors=`` as a lookup: a dict by point id, or one per point in order."""
    if old_vectors is None:
        return lambda index, point_id: None
    if isinstance(old_vectors, Mapping):
        return lambda index, point_id: old_vectors.get(point_id)
    rows = list(old_vectors)

    def by_position(index: int, point_id: Any) -> Any:
        if index >= len(rows):
            raise InvalidVectorsError(f"old_vectors has {len(rows)} rows but there are more "
                                      "points: give one per point, or a dict by point id")
        return rows[index]
    return by_position


def split_points(
    spec: MigrationSpec, adapter: Adapter | None, points: Sequence[models.PointStruct],
    olds: OldSource, start: int = 0,
) -> tuple[list[models.PointStruct], list[models.PointStruct]]:
    """(points for the legacy target, points for the native target); all checked first.

    Named layout: one list (both vectors on one point), the second is empty. Points that do
    not carry the migrating vector pass through untouched.
    """
    layout = layout_of(spec)
    legacy: list[models.PointStruct] = []
    native: list[models.PointStruct] = []
    for index, point in enumerate(points, start):
        if not isinstance(point, models.PointStruct):
            raise DriftError("points written through the wrapper are PointStruct items (or a "
                             f"Batch), got {type(point).__name__}")
        new, others = _split_vectors(spec, adapter, point.vector)
        app_old = olds(index, point.id)
        if new is None:
            if app_old is not None:
                raise DriftError(f"point {point.id!r} has an old-model vector but no "
                                 f"new-model vector {_label(spec.new_vector)}")
            legacy.append(point)
            continue
        old = _legacy(spec, adapter, new, app_old)
        payload = {**(point.payload or {}),
                   STAMP_KEY: _stamp(spec, adapter, app_old is not None)}
        legacy_point, native_point = layout.routed_point(point.id, payload, others, old,
                                                         new.tolist())
        legacy.append(legacy_point)
        if native_point is not None:
            native.append(native_point)
    return legacy, native


def _as_points(points: Any) -> list[models.PointStruct]:
    """A ``Batch`` as the PointStruct items it stands for; a list as it is."""
    if not isinstance(points, models.Batch):
        return list(points)
    vectors = points.vectors
    if isinstance(vectors, dict):
        vectors = [dict(zip(vectors, row)) for row in zip(*vectors.values())]
    payloads = points.payloads or repeat(None)
    return [models.PointStruct(id=i, vector=v, payload=p)
            for i, v, p in zip(points.ids, vectors, payloads)]


def _upsert_split(spec: MigrationSpec, legacy: list[models.PointStruct],
                  native: list[models.PointStruct],
                  kwargs: dict[str, Any]) -> Steps[models.UpdateResult]:
    if not native:
        result = yield call("upsert", spec.collection, legacy, **kwargs)
    else:
        result = (yield Gather((
            call("upsert", spec.native_collection, native, **kwargs),
            call("upsert", spec.collection, legacy, **kwargs),
        )))[1]
    if layout_of(spec).mirror_collection() is not None:
        # points rewritten without a new vector are not migrated any more: a copy the new
        # collection holds is stale now (the backfill makes a fresh one)
        native_ids = {p.id for p in native}
        stale = [p.id for p in legacy if p.id not in native_ids]
        if stale:
            yield call("delete", spec.native_collection,
                       points_selector=_existing_only(stale), **_selector_kwargs(kwargs))
    return result


def _selector_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of an upsert that a delete takes too."""
    return {k: v for k, v in kwargs.items() if k not in ("update_filter", "update_mode")}


def upsert_steps(spec: MigrationSpec, adapter: Adapter | None, kw: dict[str, Any],
                 olds: OldSource) -> Steps[models.UpdateResult]:
    kw = dict(kw)
    legacy, native = split_points(spec, adapter, _as_points(kw.pop("points")), olds)
    return (yield from _upsert_split(spec, legacy, native, kw))


_UPSERT_ARGS = ("wait", "ordering", "shard_key_selector", "update_filter", "update_mode",
                "timeout")


def _upload_steps(spec: MigrationSpec, adapter: Adapter | None, points: Iterable[Any],
                  kw: dict[str, Any], olds: OldSource) -> Steps[None]:
    """``upload_points`` semantics on the routed upsert: batches of ``batch_size``, each
    retried up to ``max_retries`` times; ``parallel`` batches run one after the other."""
    batch_size = int(kw.get("batch_size") or 64)
    retries = int(kw.get("max_retries", 3))
    upsert_kw = {k: kw[k] for k in _UPSERT_ARGS if k in kw}
    upsert_kw.setdefault("wait", False)
    iterator = iter(points)
    for start in count(0, batch_size):
        batch = list(islice(iterator, batch_size))
        if not batch:
            return None
        legacy, native = split_points(spec, adapter, batch, olds, start)  # checked, once
        for attempt in range(retries + 1):
            try:
                yield from _upsert_split(spec, legacy, native, upsert_kw)
                break
            except Exception:
                if attempt == retries:
                    raise
    return None


def upload_points_steps(spec: MigrationSpec, adapter: Adapter | None, kw: dict[str, Any],
                        olds: OldSource) -> Steps[None]:
    return (yield from _upload_steps(spec, adapter, kw["points"], kw, olds))


def _plain(value: Any) -> Any:
    """numpy rows and ids as the plain Python values a PointStruct takes."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def collection_points(vectors: Any, payload: Iterable[Any] | None,
                      ids: Iterable[Any] | None) -> Iterator[models.PointStruct]:
    """``upload_collection``'s columns as points (ids made as qdrant-client makes them)."""
    if isinstance(vectors, dict):
        rows: Iterable[Any] = (dict(zip(vectors, row)) for row in zip(*vectors.values()))
    else:
        rows = vectors
    id_column = (str(uuid4()) for _ in count()) if ids is None else ids
    payload_column = repeat(None) if payload is None else payload
    for point_id, vector, point_payload in zip(id_column, rows, payload_column):
        yield models.PointStruct(id=_plain(point_id), vector=_plain(vector),
                                 payload=point_payload)


def upload_collection_steps(spec: MigrationSpec, adapter: Adapter | None, kw: dict[str, Any],
                            olds: OldSource) -> Steps[None]:
    points = collection_points(kw["vectors"], kw.get("payload"), kw.get("ids"))
    return (yield from _upload_steps(spec, adapter, points, kw, olds))


def _existing_only(selector: Any) -> Any:
    """A point selector that silently skips ids the new collection does not hold yet."""
    if isinstance(selector, models.PointIdsList):
        selector = selector.points
    if isinstance(selector, (list, tuple)):
        return models.FilterSelector(filter=models.Filter(
            must=[models.HasIdCondition(has_id=list(selector))]))
    return selector


_SELECTOR_KEY = {"delete": "points_selector", "clear_payload": "points_selector",
                 "set_payload": "points", "overwrite_payload": "points",
                 "delete_payload": "points", "delete_vectors": "points"}


# payload writes that replace a point's whole payload (the copies' stamps included)
REPLACING = frozenset(("overwrite_payload", "clear_payload"))


def _edits_field(method: str, kwargs: dict[str, Any], field: str) -> bool:
    """May this payload write change ``field`` (set, replace, delete or clear it)?"""
    if method in REPLACING:
        return True
    if method == "set_payload":
        nested = kwargs.get("key")
        if nested:  # a write inside a nested key
            return nested == field or nested.startswith(f"{field}.") or field.startswith(
                f"{nested}.")
        return field in (kwargs.get("payload") or {})
    if method == "delete_payload":
        return field in (kwargs.get("keys") or ())
    return False


def _copy_ids(spec: MigrationSpec, selector: Any) -> Steps[list[Any]]:
    """Ids of the backfill's copies among the points ``selector`` picks in the new
    collection (read before a write that replaces their payloads, stamp included)."""
    return (yield from _ids_matching(spec.native_collection, _copies_among(selector)))


def _copies_among(selector: Any) -> models.Filter:
    """The backfill's copies among the points ``selector`` (a filter, as
    :func:`_existing_only` makes every selector for the new collection) picks there."""
    if isinstance(selector, models.FilterSelector):
        selector = selector.filter
    return models.Filter(must=[selector, *BACKFILL_COPIES.must])  # type: ignore[list-item]


def mirrored_steps(spec: MigrationSpec, method: str, kwargs: dict[str, Any],
                   text_field: str | None = None, *, backfill_ahead: bool = False
                   ) -> Steps[Any]:
    """Deletes, payload edits and payload indexes reach both collections in the blue-green
    layout (on the new collection only for points it already holds; the backfill copies
    the rest). An edit that may change ``text_field`` (what the backfill embeds) flags the
    backfill's copies it reached: their vectors are of the old text, and the backfill's
    check against the legacy points, which the mirrored payload now equals, counts a
    flagged copy stale, as it counts one a plain client's edit left behind. In the named
    layout, while the backfill is still ahead (``backfill_ahead``: before cut-over), such
    an edit drops the new vector of the points it reached, so the backfill embeds their new
    text (:func:`_drop_stale_new_vectors_steps`)."""
    selector_key = _SELECTOR_KEY.get(method)
    edits_text = text_field is not None and _edits_field(method, kwargs, text_field)
    replaces = method in REPLACING
    if layout_of(spec).mirror_collection() is None:
        if not (edits_text and backfill_ahead and selector_key in kwargs):
            return (yield call(method, spec.collection, **kwargs))
        return (yield from _drop_stale_new_vectors_steps(spec, method, kwargs, selector_key))
    native_kwargs = dict(kwargs)
    if selector_key in native_kwargs:
        native_kwargs[selector_key] = _existing_only(native_kwargs[selector_key])
    copies = (yield from _copy_ids(spec, native_kwargs[selector_key])) if replaces else []
    # legacy first, then the new collection, one after the other: a backfill copy made
    # in between is caught by the backfill's own check of the legacy point
    legacy_result = yield call(method, spec.collection, **kwargs)
    yield call(method, spec.native_collection, **native_kwargs)
    if copies:  # still the backfill's copies (its own to replace), flagged when it may tell
        flag = {TEXT_EDITED: True} if edits_text else {}
        yield call("set_payload", spec.native_collection, points=copies, payload={
            STAMP_KEY: {**stamp(spec, spec.old_model, BY_BACKFILL), **flag}})
    elif edits_text and not replaces:
        yield call("set_payload", spec.native_collection, payload={TEXT_EDITED: True},
                   key=STAMP_KEY, points=models.FilterSelector(
                       filter=_copies_among(native_kwargs[selector_key])))
    if replaces:
        # the legacy payload was replaced: put back the marker that keeps migrated
        # points out of the legacy half of hybrid searches
        migrated = yield from _migrated_ids(spec, kwargs.get(selector_key))
        if migrated:
            yield call("set_payload", spec.collection, payload=marker(), points=migrated)
    return legacy_result


def _drop_stale_new_vectors_steps(spec: MigrationSpec, method: str, kwargs: dict[str, Any],
                                  selector_key: str) -> Steps[Any]:
    """A text edit in the named layout, then the new vector (and its marker) of the points
    it picked dropped, so the backfill embeds their new text: a new vector of the old text
    is stale whoever wrote it (the backfill, or the app before this edit), and would pass
    cut-over. Points without one lose nothing.

    Races with a backfill writing those points: its compare-and-set admits a vector only
    while the point lacks one and holds the version (the text) it embedded, so a vector
    embedded before the edit cannot land after it, and one that landed before it is
    dropped here. No stamp is read: the backfill stamps after its write, in a call of its
    own, and a replacing write (overwrite, clear) takes the stamps away."""
    result = yield call(method, spec.collection, **kwargs)
    yield call("delete_vectors", spec.collection,
               vectors=list(layout_of(spec).new_vectors([0.0])),  # the new vector, its marker
               points=kwargs[selector_key])
    return result


def _ids_matching(collection: str, scroll_filter: models.Filter) -> Steps[list[Any]]:
    ids: list[Any] = []
    offset = None
    while True:
        page, offset = yield call("scroll", collection, scroll_filter=scroll_filter,
                                  limit=1024, offset=offset, with_payload=False,
                                  with_vectors=False)
        ids.extend(point.id for point in page)
        if offset is None:
            return ids


def _migrated_ids(spec: MigrationSpec, selector: Any) -> Steps[list[Any]]:
    """Ids of the selected points that the new collection already holds."""
    if isinstance(selector, models.PointIdsList):
        selector = selector.points
    if isinstance(selector, (list, tuple)):
        found = yield call("retrieve", spec.native_collection, list(selector),
                           with_payload=False, with_vectors=False)
        return [p.id for p in found]
    if isinstance(selector, models.FilterSelector):
        selector = selector.filter
    if not isinstance(selector, models.Filter):
        return []
    return (yield from _ids_matching(spec.native_collection, selector))


def update_vectors_steps(spec: MigrationSpec, adapter: Adapter | None, kw: dict[str, Any],
                         olds: OldSource) -> Steps[models.UpdateResult]:
    """New-model vectors for existing points: the legacy vector follows. In blue-green the
    point is copied to the new collection with its current payload (as the backfill does)."""
    layout = layout_of(spec)
    kw = dict(kw)
    points = list(kw.pop("points"))
    legacy_items: list[models.PointVectors] = []
    new_vectors: dict[Any, list[float]] = {}
    stamps: dict[Any, dict[str, Any]] = {}
    for index, item in enumerate(points):
        new, others = _split_vectors(spec, adapter, item.vector)
        app_old = olds(index, item.id)
        if new is None:
            legacy_items.append(item)
            continue
        old = _legacy(spec, adapter, new, app_old)
        stamps[item.id] = _stamp(spec, adapter, app_old is not None)
        if layout.mirror_collection() is None:  # both vectors live on the point
            legacy_items.append(models.PointVectors(id=item.id, vector={
                **others, spec.old_vector: old, **layout.new_vectors(new.tolist())}))
        else:
            legacy_items.append(models.PointVectors(
                id=item.id, vector={**others, spec.old_vector: old}))
            new_vectors[item.id] = new.tolist()
    result = yield call("update_vectors", spec.collection, legacy_items, **kw)
    if new_vectors:
        found = yield call("retrieve", spec.collection, list(new_vectors), with_payload=True,
                           with_vectors=False)
        write_kw = {k: kw[k] for k in ("wait", "ordering", "shard_key_selector") if k in kw}
        yield call("upsert", spec.native_collection, [models.PointStruct(
            id=p.id, vector=layout.new_vectors(new_vectors[p.id]),
            payload={**{k: v for k, v in (p.payload or {}).items() if k != MIGRATED_MARKER},
                     STAMP_KEY: stamps[p.id]}) for p in found], **write_kw)
        yield call("set_payload", spec.collection, payload=marker(),
                   points=[p.id for p in found], **write_kw)
    return result


def delete_vectors_steps(spec: MigrationSpec, adapter: Adapter | None, kw: dict[str, Any],
                         olds: OldSource) -> Steps[models.UpdateResult]:
    """The migrating vector under either name is one vector: both its legacy and its new
    copy go (the backfill gives the point a new vector again from its content)."""
    names = list(kw["vectors"])
    if not any(spec.is_migrating_vector(n) for n in names):
        return (yield call("delete_vectors", spec.collection, **kw))
    others = [n for n in names if not spec.is_migrating_vector(n)]
    layout = layout_of(spec)
    if layout.mirror_collection() is None:  # the new vector (and its marker) on the point
        return (yield call("delete_vectors", spec.collection, **{
            **kw, "vectors": [*others, spec.old_vector, *layout.new_vectors([0.0])]}))
    result = yield call("delete_vectors", spec.collection,
                        **{**kw, "vectors": [*others, spec.old_vector]})
    yield call("delete_vectors", spec.native_collection, **{
        **kw, "vectors": [spec.new_vector], "points": _existing_only(kw["points"])})
    return result


def _payload_selector(edit: Any) -> Any:
    return edit.points if edit.points is not None else edit.filter


def _operation_calls(operation: Any, kw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """One ``batch_update_points`` operation as the single call it stands for."""
    if isinstance(operation, models.UpsertOperation):
        body = operation.upsert
        points = body.points if isinstance(body, models.PointsList) else body.batch
        return "upsert", {**kw, "points": points, "shard_key_selector": body.shard_key,
                          "update_filter": body.update_filter, "update_mode": body.update_mode}
    if isinstance(operation, models.DeleteOperation):
        return "delete", {**kw, "points_selector": operation.delete}
    if isinstance(operation, models.ClearPayloadOperation):
        return "clear_payload", {**kw, "points_selector": operation.clear_payload}
    if isinstance(operation, (models.SetPayloadOperation, models.OverwritePayloadOperation)):
        method = ("set_payload" if isinstance(operation, models.SetPayloadOperation)
                  else "overwrite_payload")
        edit = getattr(operation, method)
        extra = {"key": edit.key} if edit.key is not None else {}
        return method, {**kw, "payload": edit.payload, "points": _payload_selector(edit),
                        "shard_key_selector": edit.shard_key, **extra}
    if isinstance(operation, models.DeletePayloadOperation):
        edit = operation.delete_payload
        return "delete_payload", {**kw, "keys": edit.keys, "points": _payload_selector(edit),
                                  "shard_key_selector": edit.shard_key}
    if isinstance(operation, models.UpdateVectorsOperation):
        edit = operation.update_vectors
        return "update_vectors", {**kw, "points": edit.points,
                                  "shard_key_selector": edit.shard_key,
                                  "update_filter": edit.update_filter}
    if isinstance(operation, models.DeleteVectorsOperation):
        edit = operation.delete_vectors
        return "delete_vectors", {**kw, "vectors": edit.vector,
                                  "points": _payload_selector(edit),
                                  "shard_key_selector": edit.shard_key}
    raise DriftError(f"batch_update_points: {type(operation).__name__} is not routed during a "
                     "migration: send it as its own call")


def batch_update_steps(spec: MigrationSpec, adapter: Adapter | None, kw: dict[str, Any],
                       olds: OldSource, *, backfill_ahead: bool = False
                       ) -> Steps[list[models.UpdateResult]]:
    """Each operation as its own mirrored call, in order (checked all first: a bad vector
    anywhere writes nothing)."""
    kw = dict(kw)
    operations = [_operation_calls(op, kw) for op in kw.pop("update_operations")]
    for method, op_kw in operations:  # check every vector before the first write
        if method == "upsert":
            split_points(spec, adapter, _as_points(op_kw["points"]), olds)
        elif method == "update_vectors":
            for index, item in enumerate(op_kw["points"]):
                new, _ = _split_vectors(spec, adapter, item.vector)
                if new is not None:
                    _legacy(spec, adapter, new, olds(index, item.id))
    results = []
    for method, op_kw in operations:
        results.append((yield from _routed_write(spec, adapter, method, op_kw, olds,
                                                 backfill_ahead)))
    return results


def _mirror(method: str) -> Callable[..., Steps[Any]]:
    def steps(spec: MigrationSpec, adapter: Adapter | None, kw: dict[str, Any],
              olds: OldSource, *, backfill_ahead: bool = False) -> Steps[Any]:
        text_field = adapter.info.get(TEXT_FIELD) if adapter is not None else None
        return (yield from mirrored_steps(spec, method, kw, text_field,
                                          backfill_ahead=backfill_ahead))
    return steps


WriteSteps = Callable[[MigrationSpec, Adapter | None, dict[str, Any], OldSource], Steps[Any]]

# Every write method of qdrant-client, mirrored (see surface.SURFACE).
WRITES: dict[str, WriteSteps] = {
    "upsert": upsert_steps,
    "upload_points": upload_points_steps,
    "upload_collection": upload_collection_steps,
    "update_vectors": update_vectors_steps,
    "batch_update_points": batch_update_steps,
    "delete_vectors": delete_vectors_steps,
    **{method: _mirror(method) for method in (
        "delete", "set_payload", "overwrite_payload", "delete_payload", "clear_payload",
        "create_payload_index", "delete_payload_index")},
}
# the methods whose steps depend on whether the backfill is still ahead (payload edits of
# the text drop the backfill's vectors in the named layout, see mirrored_steps)
SEE_THE_BACKFILL = frozenset(("set_payload", "overwrite_payload", "delete_payload",
                              "clear_payload", "batch_update_points"))
# the methods that write vectors and so may carry the app's old-model vectors
TAKES_OLD_VECTORS = frozenset(("upsert", "upload_points", "upload_collection",
                               "update_vectors", "batch_update_points"))


def _routed_write(spec: MigrationSpec, adapter: Adapter | None, method: str,
                  kw: dict[str, Any], olds: OldSource, backfill_ahead: bool) -> Steps[Any]:
    if method in SEE_THE_BACKFILL:
        return (yield from WRITES[method](spec, adapter, kw, olds,
                                          backfill_ahead=backfill_ahead))
    return (yield from WRITES[method](spec, adapter, kw, olds))


def _renamed(spec: MigrationSpec, vector: Any) -> Any:
    """A point's vectors with the migrating vector (under any of its names) as the new one."""
    named = vector if isinstance(vector, dict) else {spec.new_vector: vector}
    return _vector_struct({spec.new_vector if spec.is_migrating_vector(k) else k: v
                           for k, v in named.items()})


def after_finish_steps(spec: MigrationSpec, method: str, kw: dict[str, Any]) -> Steps[Any]:
    """After ``finish`` only the new side is left (the legacy vector or collection is gone):
    the app's names for the migrating vector, and for the collection, point at it."""
    kw = dict(kw)
    if method == "batch_update_points":
        results = []
        for op_method, op_kw in [_operation_calls(op, kw) for op in kw.pop("update_operations")]:
            results.append((yield from after_finish_steps(spec, op_method, op_kw)))
        return results
    if method == "upload_collection":
        method, kw["points"] = "upload_points", collection_points(
            kw.pop("vectors"), kw.pop("payload", None), kw.pop("ids", None))
    if method in ("upsert", "upload_points", "update_vectors"):
        points = _as_points(kw["points"]) if method == "upsert" else kw["points"]
        kw["points"] = [p.model_copy(update={"vector": _renamed(spec, p.vector)})
                        for p in points]
    if method == "delete_vectors":
        kw["vectors"] = list(dict.fromkeys(
            spec.new_vector if spec.is_migrating_vector(n) else n for n in kw["vectors"]))
    return (yield call(method, spec.native_collection, **kw))


def write_steps(spec: MigrationSpec, adapter: Adapter | None, method: str,
                kw: dict[str, Any], *, finished: bool = False,
                abandoned: bool = False, backfill_ahead: bool = False) -> Steps[Any]:
    """Steps of one write call (``kw``: its arguments by name, ``collection_name`` included;
    ``finished``: the migration is over, only the new side is written; ``abandoned``: it was
    given up, the call goes through as the app made it; ``backfill_ahead``: the phase is
    before cut-over, so the backfill will still embed what lacks the new vector)."""
    kw = dict(kw)
    collection_name = kw.pop("collection_name")
    old_vectors = kw.pop("old_vectors", None)
    if old_vectors is not None and method not in TAKES_OLD_VECTORS:
        raise DriftError(f"{method} takes no old_vectors=")
    if method == "batch_update_points" and not isinstance(old_vectors, (Mapping, type(None))):
        raise DriftError("batch_update_points takes old_vectors= as a dict by point id")
    if abandoned or collection_name not in (spec.collection, spec.alias):
        if old_vectors is not None:
            raise DriftError(f"old_vectors= is for writes to the migrating collection "
                             f"{spec.collection!r}, not {collection_name!r}")
        return (yield call(method, collection_name, **kw))
    if finished:
        return (yield from after_finish_steps(spec, method, kw))
    return (yield from _routed_write(spec, adapter, method, kw, old_source(old_vectors),
                                     backfill_ahead))
