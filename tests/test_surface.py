"""The client-surface table: every public name of qdrant-client is classified on purpose."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_client.http import models

from qdrant_drift import AsyncDriftClient, DriftClient, DriftError
from qdrant_drift.lifecycle.commands import rollback
from qdrant_drift.observability.metrics import DriftMetrics
from qdrant_drift.migration.phases import Phase
from qdrant_drift.sansio import adrive, drive
from qdrant_drift.store.records import load_record
from qdrant_drift.serving.surface import (
    ENDS_MIGRATION, SURFACE, Treatment, markdown, public_names)
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
            assert name in WRITES or name in ENDS_MIGRATION, name
        if entry.treatment is Treatment.ROUTED:
            assert name in vars(wrapper) or name.startswith("search_matrix_"), name
        if entry.treatment is Treatment.REFUSED:
            assert entry.refuses is not None and entry.instead, name


def test_the_committed_table_is_current():
    assert TABLE.read_text() == markdown(), (
        "regenerate: python -m qdrant_drift.serving.surface > docs/client-surface.md")


def test_probing_for_a_name_the_client_lacks_is_a_plain_attribute_error(caplog):
    # hasattr(client, "search") on a qdrant-client without it: False, and nothing logged
    client = DriftClient(build_world("named").client, "upgrade", refresh_interval=0)
    with caplog.at_level("WARNING"):
        assert not hasattr(client, "search_that_never_was")
    assert "surface table" not in caplog.text
    with pytest.raises(AttributeError, match="no attribute 'search_that_never_was'"):
        client.search_that_never_was


@pytest.mark.parametrize("make, error", [
    (lambda world: DriftClient("http://localhost:6333", "upgrade"),
     "DriftClient wraps a QdrantClient, not a str \\('http://localhost:6333'\\): pass "
     "QdrantClient\\(url=...\\)"),
    (lambda world: DriftClient(AsyncQdrantClient(":memory:"), "upgrade"),
     "DriftClient wraps a QdrantClient, not an AsyncQdrantClient: use AsyncDriftClient"),
    (lambda world: AsyncDriftClient(world.client, "upgrade"),
     "AsyncDriftClient wraps an AsyncQdrantClient, not a QdrantClient: use DriftClient"),
    (lambda world: AsyncDriftClient(Path("/tmp/store"), "upgrade"),
     "AsyncDriftClient wraps an AsyncQdrantClient, not a PosixPath"),
])
def test_a_wrapper_given_something_else_than_its_client_says_what_it_wants(make, error):
    with pytest.raises(TypeError, match=error):
        make(build_world("named"))


@pytest.mark.parametrize("layout", ["named", "collection"])
def test_dropping_a_migrating_vector_is_refused_saying_what_to_do(layout):
    world = build_world(layout)
    client = DriftClient(world.client, "upgrade", refresh_interval=0)
    with pytest.raises(DriftError, match="delete_vector_name is refused.*finish"):
        client.delete_vector_name("docs", "old")
    assert "old" in world.client.get_collection("docs").config.params.vectors


@pytest.mark.parametrize("layout", ["named", "collection"])
def test_an_app_that_deletes_the_migrating_collection_ends_the_migration_first(layout):
    """What LlamaIndex's clear() does: the collection goes, the migration is abandoned (not
    left holding a collection that is gone), and what the app does next passes through."""
    world = build_world(layout)
    metrics = DriftMetrics()
    client = DriftClient(world.client, "upgrade", refresh_interval=0, metrics=metrics)
    world.client.create_collection("other", vectors_config={})
    assert client.delete_collection("other") is True  # other collections: as they are
    assert drive(load_record("upgrade"), world.client).phase is Phase.SERVING_ADAPTED
    assert client.delete_collection("docs") is True
    record = drive(load_record("upgrade"), world.client)
    assert record.phase is Phase.ABANDONED
    assert record.history[-1]["why"] == "delete_collection 'docs' by an app"
    assert not world.client.collection_exists("docs")
    assert not world.client.collection_exists(world.spec.native_collection)
    # the app starts over on a fresh collection of its own: nothing is routed or mirrored
    client.create_collection("docs", vectors_config=models.VectorParams(
        size=4, distance=models.Distance.COSINE))
    client.upsert("docs", [models.PointStruct(id=1, vector=[1.0, 0.0, 0.0, 0.0])])
    hits = client.query_points("docs", query=[1.0, 0.0, 0.0, 0.0], limit=3).points
    assert [hit.id for hit in hits] == [1]
    assert world.client.retrieve("docs", [1], with_vectors=True)[0].vector == [1.0, 0, 0, 0]
    # ...and is counted as passed through, not as adapted
    counted = {plan: metrics.registry.get_sample_value(
        "qdrant_drift_queries_total", {"migration": "upgrade", "plan": plan})
        for plan in ("adapted", "hybrid", "native", "passthrough")}
    assert counted == {"adapted": None, "hybrid": None, "native": None, "passthrough": 1.0}


def test_recreating_the_migrating_collection_ends_the_migration_first():
    world = build_world("named")
    client = DriftClient(world.client, "upgrade", refresh_interval=0)
    client.recreate_collection("docs", vectors_config=models.VectorParams(
        size=4, distance=models.Distance.COSINE))
    assert drive(load_record("upgrade"), world.client).phase is Phase.ABANDONED
    assert world.client.count("docs").count == 0


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
        with pytest.raises(DriftError, match="delete_vector_name is refused"):
            await client.delete_vector_name("docs", "old")
        pairs = await client.search_matrix_pairs("docs", using="new", sample=20, limit=2)
        assert len(pairs.pairs) > 0
        assert await client.delete_collection("docs") is True
        record = await adrive(load_record("upgrade"), raw)
        assert record.phase is Phase.ABANDONED and not await raw.collection_exists("docs_v2")
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
