"""The write path during a migration (sans-I/O, shared by both clients).

The app writes NEW-model vectors through the wrapper; every point gets its new vector and a
legacy-space vector (the app's own old-model vector when given, else the adapter's output), so
readers of either side find it and the point counts as migrated. Each write is stamped with
the models that made its vectors.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from qdrant_client.http import models

from ..adapters import Adapter
from .queries import dense_vector
from ..errors import DriftError
from ..sansio import Gather, Steps, call
from ..migration.layouts import STAMP_KEY, layout_of, marker, stamp
from ..migration.spec import MigrationSpec


def _split_vectors(spec: MigrationSpec, vector: Any) -> tuple[np.ndarray | None, Any, dict]:
    """(new vector, app-provided old vector or None, other named vectors) of one point."""
    if isinstance(vector, dict):
        others = {k: v for k, v in vector.items() if k not in (spec.new_vector, spec.old_vector)}
        if spec.new_vector not in vector:
            return None, vector.get(spec.old_vector), others
        new = dense_vector(vector[spec.new_vector])
        if new is None:
            raise DriftError(f"vector {spec.new_vector!r} must be a dense vector")
        return new, vector.get(spec.old_vector), others
    new = dense_vector(vector)
    if new is None:
        raise DriftError("a point's vector must be a dense new-model vector or a dict of them")
    return new, None, {}


def _old_source(spec: MigrationSpec, adapter: Adapter | None, app_old: bool) -> str | None:
    """What made the legacy vector: the app's old model, or the adapter."""
    if app_old:
        return spec.old_model
    return f"adapter:{adapter.kind}:{adapter.fingerprint.digest}" if adapter else None


def _legacy(spec: MigrationSpec, adapter: Adapter | None, new: np.ndarray, app_old: Any) -> list[float]:
    if app_old is not None:
        old = np.asarray(app_old, dtype=np.float32)
        if not np.isfinite(old).all():
            raise DriftError(f"the old-model vector {spec.old_vector!r} contains NaN or inf")
        return list(old.tolist())
    if adapter is None:
        raise DriftError(
            f"migration {spec.name!r} has no adapter to derive the legacy vector: pass the "
            f"old-model vector as {spec.old_vector or 'the default vector'!r} in the point"
        )
    try:
        return adapter.transform(new).tolist()
    except (DriftError, ValueError) as exc:  # the adapter speaks of queries; this is a write
        raise DriftError(f"new-model vector {spec.new_vector!r}: "
                         f"{str(exc).replace('query vector: ', '')}") from exc


def split_points(
    spec: MigrationSpec, adapter: Adapter | None, points: Sequence[models.PointStruct]
) -> tuple[list[models.PointStruct], list[models.PointStruct]]:
    """(points for the legacy target, points for the native target).

    Named layout: one list (both vectors on one point), the second is empty. Points that do
    not carry the new vector pass through untouched.
    """
    layout = layout_of(spec)
    legacy: list[models.PointStruct] = []
    native: list[models.PointStruct] = []
    for point in points:
        if not isinstance(point, models.PointStruct):
            raise DriftError("upsert through the wrapper takes a list of PointStruct")
        new, app_old, others = _split_vectors(spec, point.vector)
        if new is None:
            legacy.append(point)
            continue
        old = _legacy(spec, adapter, new, app_old)
        payload = {**(point.payload or {}),
                   STAMP_KEY: stamp(spec, _old_source(spec, adapter, app_old is not None))}
        legacy_point, native_point = layout.routed_point(point.id, payload, others, old,
                                                         new.tolist())
        legacy.append(legacy_point)
        if native_point is not None:
            native.append(native_point)
    return legacy, native


def upsert_steps(
    spec: MigrationSpec, adapter: Adapter | None, collection_name: str,
    points: Any, kwargs: dict[str, Any],
) -> Steps[models.UpdateResult]:
    if collection_name not in (spec.collection, spec.alias) or isinstance(points, models.Batch):
        if isinstance(points, models.Batch) and collection_name in (spec.collection, spec.alias):
            raise DriftError(
                "upsert with a Batch is not routed during a migration: pass PointStruct items"
            )
        return (yield call("upsert", collection_name, points, **kwargs))
    legacy, native = split_points(spec, adapter, list(points))
    if not native:
        result = yield call("upsert", spec.collection, legacy, **kwargs)
    else:
        result = (yield Gather((
            call("upsert", spec.native_collection, native, **kwargs),
            call("upsert", spec.collection, legacy, **kwargs),
        )))[1]
    mirror = layout_of(spec).mirror_collection()
    if mirror is not None:
        # points rewritten without a new vector are not migrated any more: a copy the new
        # collection holds is stale now (the backfill makes a fresh one)
        native_ids = {p.id for p in native}
        stale = [p.id for p in legacy if p.id not in native_ids]
        if stale:
            yield call("delete", mirror, points_selector=_existing_only(stale), **kwargs)
    return result


def _existing_only(selector: Any) -> Any:
    """A point selector that silently skips ids the new collection does not hold yet."""
    if isinstance(selector, models.PointIdsList):
        selector = selector.points
    if isinstance(selector, (list, tuple)):
        return models.FilterSelector(filter=models.Filter(
            must=[models.HasIdCondition(has_id=list(selector))]))
    return selector


def mirrored_steps(
    spec: MigrationSpec, method: str, collection_name: str, kwargs: dict[str, Any]
) -> Steps[Any]:
    """Deletes and payload edits reach both collections in the blue-green layout (on the new
    collection only for points it already holds; the backfill copies the rest)."""
    mirror = layout_of(spec).mirror_collection()
    if mirror is not None and collection_name in (spec.collection, spec.alias):
        selector_key = "points_selector" if method in ("delete", "clear_payload") else "points"
        native_kwargs = dict(kwargs)
        if selector_key in native_kwargs:
            native_kwargs[selector_key] = _existing_only(native_kwargs[selector_key])
        # legacy first, then the new collection, one after the other: a backfill copy made
        # in between is caught by the backfill's own check of the legacy point
        legacy_result = yield call(method, spec.collection, **kwargs)
        yield call(method, mirror, **native_kwargs)
        if method in ("overwrite_payload", "clear_payload"):
            # the legacy payload was replaced: put back the marker that keeps migrated
            # points out of the legacy half of hybrid searches
            migrated = yield from _migrated_ids(spec, kwargs.get(selector_key))
            if migrated:
                yield call("set_payload", spec.collection, payload=marker(),
                           points=migrated)
        return legacy_result
    return (yield call(method, collection_name, **kwargs))


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
    ids: list[Any] = []
    offset = None
    while True:
        page, offset = yield call("scroll", spec.native_collection, scroll_filter=selector,
                                  limit=1000, offset=offset, with_payload=False,
                                  with_vectors=False)
        ids.extend(p.id for p in page)
        if offset is None:
            return ids


MIRRORED_METHODS = ("delete", "set_payload", "overwrite_payload", "delete_payload",
                    "clear_payload")


def update_vectors_steps(
    spec: MigrationSpec, adapter: Adapter | None, collection_name: str,
    points: Sequence[models.PointVectors], kwargs: dict[str, Any],
) -> Steps[models.UpdateResult]:
    """New-model vectors for existing points: the legacy vector follows (named layout)."""
    if collection_name not in (spec.collection, spec.alias):
        return (yield call("update_vectors", collection_name, points, **kwargs))
    layout = layout_of(spec)
    layout.check_update_vectors()
    routed = []
    for item in points:
        new, app_old, others = _split_vectors(spec, item.vector)
        if new is None:
            routed.append(item)
            continue
        routed.append(models.PointVectors(id=item.id, vector={
            **others, **layout.new_vectors(new.tolist()),
            spec.old_vector: _legacy(spec, adapter, new, app_old),
        }))
    return (yield call("update_vectors", spec.collection, routed, **kwargs))
