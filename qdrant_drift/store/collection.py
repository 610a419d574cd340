"""The state collection: where every replica, worker and operator reads the same truth.

One small Qdrant collection without vectors; each record is a point whose id is derived
from its kind and name (:func:`point_id`), so a record is read by id, never searched for.
"""

from __future__ import annotations

import uuid

from ..errors import DriftError, did_you_mean, there_are
from ..sansio import Steps, call

STATE_COLLECTION = "qdrant_drift_state"
_NAMESPACE = uuid.UUID("5b0f6a3e-2f7c-4d0e-9a53-8d2f0c1e7a10")


def point_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join(parts)))


def ensure_state_collection(state_collection: str = STATE_COLLECTION) -> Steps[None]:
    exists = yield call("collection_exists", state_collection)
    if not exists:
        yield call("create_collection", state_collection, vectors_config={})


def require_collection_steps(name: str, role: str = "collection") -> Steps[None]:
    """One clear error when collection ``name`` does not exist: the closest name, else the
    collections there are (``role``: what the caller calls it, e.g. "query log collection")."""
    exists = yield call("collection_exists", name)
    if exists:
        return
    names = [c.name for c in (yield call("get_collections")).collections]
    raise DriftError(f"{role} {name!r} does not exist"
                     + (did_you_mean(name, names, show=repr) or there_are("collections", names)))
