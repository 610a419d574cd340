"""The serving fleet in the state collection: the router settings every replica follows, and
what each replica reports it serves.

Settings are one record per migration, written by ``fit`` / ``start`` from the migration
file; replicas read them with the migration record on every refresh. Each replica writes its
own report (plan, settings, time) under its own id, so reports never race each other;
``status`` reads the recent ones and shows what the fleet actually serves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from qdrant_client.http import models

from ..sansio import Steps, call
from ..serving.router import RouterSettings
from .collection import STATE_COLLECTION, point_id


@dataclass(frozen=True)
class ReplicaReport:
    """One serving replica, as it last reported itself."""

    replica: str
    plan: str
    settings: RouterSettings | None  # None: the replica pins a router of its own
    at: float


def save_settings_steps(name: str, settings: RouterSettings,
                        state_collection: str = STATE_COLLECTION) -> Steps[None]:
    yield call("upsert", state_collection, [models.PointStruct(
        id=point_id("router", name), vector={},
        payload={"record": "router", "name": name, "settings": settings.to_dict()})])


def load_settings_steps(name: str, state_collection: str = STATE_COLLECTION
                        ) -> Steps[RouterSettings | None]:
    points = yield call("retrieve", state_collection, [point_id("router", name)],
                        with_payload=True, with_vectors=False)
    if not points or not (points[0].payload or {}).get("settings"):
        return None
    return RouterSettings.from_dict(points[0].payload["settings"])


def report_replica_steps(name: str, replica: str, plan: str, settings: RouterSettings | None,
                         state_collection: str = STATE_COLLECTION) -> Steps[None]:
    payload: dict[str, Any] = {"record": "replica", "name": name, "replica": replica,
                               "plan": plan, "at": time.time(),
                               "settings": None if settings is None else settings.to_dict()}
    yield call("upsert", state_collection, [models.PointStruct(
        id=point_id("replica", name, replica), vector={}, payload=payload)])


def read_replicas_steps(name: str, max_age_s: float = 60.0,
                        state_collection: str = STATE_COLLECTION) -> Steps[list[ReplicaReport]]:
    """Replicas that reported within ``max_age_s`` (older ones are gone or stuck)."""
    selector = models.Filter(must=[
        models.FieldCondition(key="record", match=models.MatchValue(value="replica")),
        models.FieldCondition(key="name", match=models.MatchValue(value=name)),
        models.FieldCondition(key="at", range=models.Range(gte=time.time() - max_age_s)),
    ])
    records, _ = yield call("scroll", state_collection, scroll_filter=selector, limit=1000,
                            with_payload=True, with_vectors=False)
    reports = []
    for record in records:
        p = record.payload or {}
        settings = p.get("settings")
        reports.append(ReplicaReport(
            replica=str(p["replica"]), plan=str(p["plan"]), at=float(p["at"]),
            settings=None if settings is None else RouterSettings.from_dict(settings)))
    return sorted(reports, key=lambda r: r.replica)
