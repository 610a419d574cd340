"""The client-surface table: every public name of qdrant-client is classified on purpose."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_client.http import models

from qdrant_drift import AsyncDriftClient, DriftClient, DriftError
from qdrant_drift.lifecycle.commands import rollback
from qdrant_drift.serving.surface import SURFACE, Treatment, markdown, public_names
from qdrant_drift.serving.writes import WRITES

from .serving_fixtures import N, build_async_world, build_world

TABLE = Path(__file__).resolve().parent.parent / "docs" / "client-surface.md"


@pytest.mark.parametrize("client_class", [QdrantClient, AsyncQdrantClient])
def test_every_public_name_of_the_installed_client_is_classified(client_class):
    unclassified = [n for n in public_names(client_class) if n not in SURFACE]
    assert unclassified == [], (
        f"qdrant-client grew {unclassified}: classify them in qdrant_drift/serving/surface.py")


@pytest.mark.parametrize("wrapper", [DriftClient, AsyncDriftClient])
def test_every_routed_and_mirrored_name_has_its_implementation(wrapper):
    for name, entry in SURFACE.items():
        if entry.treatment is Treatment.MIRRORED:
            assert name in WRITES, name
        if entry.treatment is Treatment.ROUTED:
            assert name in vars(wrapper) or name.startswith("search_matrix_"), name
        if entry.treatment is Treatment.REFUSED:
            assert entry.refuses is not None and entry.instead, name


def test_the_committed_table_is_current():
    assert TABLE.read_text() == markdown(), (
        "regenerate: python -m qdrant_drift.serving.surface > docs/client-surface.md")


@pytest.mark.parametrize("layout", ["named", "collection"])
def test_collection_level_calls_on_the_migrating_collection_are_refused_saying_what_to_do(
        layout):
    world = build_world(layout)
    client = DriftClient(world.client, "upgrade", refresh_interval=0)
    for name in ("docs", world.spec.native_collection):
        with pytest.raises(DriftError, match="delete_collection is refused while migration "
                                             "'upgrade' is serving-adapted: .*rollback"):
            client.delete_collection(name)
    with pytest.raises(DriftError, match="recreate_collection is refused"):
        client.recreate_collection("docs", vectors_config={})
    with pytest.raises(DriftError, match="delete_vector_name is refused.*finish"):
        client.delete_vector_name("docs", "old")
    assert world.client.collection_exists("docs")
    # other collections pass through
    world.client.create_collection("other", vectors_config={})
    assert client.delete_collection("other") is True
    # once rolled back, the app may mean it
    rollback(world.client, "upgrade")
    client.refresh()
    assert client.delete_collection(world.spec.native_collection) is True


def test_update_collection_is_refused_in_blue_green_only():
    named = DriftClient(build_world("named").client, "upgrade", refresh_interval=0)
    named.update_collection("docs", optimizers_config=models.OptimizersConfigDiff(
        indexing_threshold=10000))  # passes through (local mode ignores it)
    world = build_world("collection")
    client = DriftClient(world.client, "upgrade", refresh_interval=0)
    with pytest.raises(DriftError, match="update_collection is refused.*both collections"):
        client.update_collection("docs", optimizers_config=models.OptimizersConfigDiff(
            indexing_threshold=10000))


def test_async_refusals_and_matrix_routing():
    async def scenario():
        raw, world = await build_async_world("collection")
        client = AsyncDriftClient(raw, "upgrade", refresh_interval=0)
        with pytest.raises(DriftError, match="delete_collection is refused"):
            await client.delete_collection("docs")
        pairs = await client.search_matrix_pairs("docs", using="new", sample=20, limit=2)
        assert len(pairs.pairs) > 0
        await client.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("layout", ["named", "collection"])
def test_search_matrix_reads_the_legacy_vector_before_cut_over(layout):
    world = build_world(layout)
    client = DriftClient(world.client, "upgrade", refresh_interval=0)
    offsets = client.search_matrix_offsets("docs", using="new", sample=N, limit=3)
    assert len(offsets.ids) == N  # every point has a legacy vector; none has a new one yet
    direct = world.client.search_matrix_pairs("docs", using="old", sample=N, limit=3)
    assert client.search_matrix_pairs("docs", using="new", sample=N, limit=3) == direct
