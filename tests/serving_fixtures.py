"""A small real migration on embedded Qdrant: legacy vectors are a noisy rotation of the new
ones, so the adapter is near-perfect and routed results can be checked against ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_client.http import models

from qdrant_drift import MigrationSpec, fit
from qdrant_drift.adapters import Adapter
from qdrant_drift.lifecycle.commands import acreate, create
from qdrant_drift.migration.layouts import NamedLayout, layout_of

from .shells import Shell
from .synthetic import drifted_pairs

N, DIM = 240, 16


SYNC = Shell("sync")


@dataclass
class World:
    client: QdrantClient  # in the async shell, an AsyncQdrantClient seen sync
    spec: MigrationSpec
    adapter: Adapter
    new: np.ndarray
    old: np.ndarray
    shell: Shell = field(default=SYNC)

    def wrapped(self, client=None, migration: str = "upgrade", **options):
        """The shell's wrapper around ``client`` (default: the world's own), refreshed only
        when asked unless ``refresh_interval`` says otherwise."""
        options.setdefault("refresh_interval", 0)
        return self.shell.wrap(self.client if client is None else client, migration, **options)

    def migrate(self, ids) -> None:
        """What the backfill does: give points their new vector (and the blue-green marker)."""
        ids = [int(i) for i in ids]
        layout = layout_of(self.spec)
        if isinstance(layout, NamedLayout):
            self.client.update_vectors(self.spec.collection, [
                models.PointVectors(id=i, vector=layout.new_vectors(self.new[i].tolist()))
                for i in ids])
        else:
            self.client.upsert(self.spec.native_collection, [
                models.PointStruct(id=i, vector={self.spec.new_vector: self.new[i].tolist()},
                                   payload={"group": i % 4, "n": i}) for i in ids])
            self.client.set_payload(self.spec.collection, {"_drift_migrated": True}, points=ids)

    def native_top(self, query: np.ndarray, k: int) -> list[int]:
        return [int(i) for i in np.argsort(-(self.new @ query))[:k]]


def _legacy_points(old: np.ndarray) -> list[models.PointStruct]:
    return [models.PointStruct(id=i, vector={"old": old[i].tolist()},
                               payload={"group": i % 4, "n": i}) for i in range(N)]


LEGACY_CONFIG = {"old": models.VectorParams(size=DIM, distance=models.Distance.COSINE)}


def _spec_and_adapter(layout: str, new: np.ndarray, old: np.ndarray):
    adapter = fit("procrustes", new[:200], old[:200], new_model="new-m", old_model="old-m")
    if layout == "named":
        spec = MigrationSpec(name="upgrade", collection="docs", old_vector="old",
                             new_vector="new", old_model="old-m", new_model="new-m")
    else:
        spec = MigrationSpec(name="upgrade", collection="docs", old_vector="old",
                             new_vector="new", layout="collection", new_collection="docs_v2",
                             old_model="old-m", new_model="new-m")
    return spec, adapter


COLLECTIONS = ("docs", "docs_v2", "other", "qdrant_drift_state")


def build_world(layout: str = "named", client: QdrantClient | None = None,
                shell: Shell = SYNC) -> World:
    """On ``client`` (a server: its test collections are dropped first) or local mode, of the
    ``shell``'s flavour (an async client is seen sync, see tests/shells.py)."""
    new, old, _ = drifted_pairs(N, DIM, DIM, noise=0.01, seed=11)
    client = shell.local_client() if client is None else shell.blocking(client)
    for name in COLLECTIONS:
        if client.collection_exists(name):
            client.delete_collection(name)
    client.create_collection("docs", vectors_config=LEGACY_CONFIG)
    client.upsert("docs", _legacy_points(old))
    spec, adapter = _spec_and_adapter(layout, new, old)
    create(client, spec, adapter)
    return World(client=client, spec=spec, adapter=adapter, new=new, old=old, shell=shell)


async def build_async_world(
    layout: str = "named", client: AsyncQdrantClient | None = None
) -> tuple[AsyncQdrantClient, World]:
    """The same world behind an AsyncQdrantClient (World.client is unused there)."""
    new, old, _ = drifted_pairs(N, DIM, DIM, noise=0.01, seed=11)
    if client is None:
        client = AsyncQdrantClient(":memory:")
    for name in COLLECTIONS:
        if await client.collection_exists(name):
            await client.delete_collection(name)
    await client.create_collection("docs", vectors_config=LEGACY_CONFIG)
    await client.upsert("docs", _legacy_points(old))
    spec, adapter = _spec_and_adapter(layout, new, old)
    await acreate(client, spec, adapter)
    return client, World(client=None, spec=spec, adapter=adapter, new=new, old=old)
