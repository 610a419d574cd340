"""A LlamaIndex collection keeps each node as JSON in ``_node_content``: with ``[source]
text_from = "llamaindex"`` the backfill embeds the text LlamaIndex itself embeds for the node
(metadata included), not the JSON; ``plan`` refuses to embed ``_node_content`` as it is."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client.http import models

from qdrant_drift import DriftError
from qdrant_drift.backfill import PayloadField, run_backfill
from qdrant_drift.embedders import CallableEmbedder
from qdrant_drift.lifecycle.facade import Migration

from .backfill_fixtures import DIM, embed_texts, old_vectors, text_vector
from .test_lifecycle import migration_file

schema = pytest.importorskip("llama_index.core.schema", reason="needs the frameworks extra")
from llama_index.core.vector_stores.utils import node_to_metadata_dict  # noqa: E402

N = 120


def node(i: int) -> schema.TextNode:
    return schema.TextNode(id_=f"00000000-0000-0000-0000-{i:012d}", text=f"chapter {i} text",
                           metadata={"title": f"book {i % 3}", "page": i},
                           excluded_embed_metadata_keys=["page"])


def llamaindex_collection(client: QdrantClient) -> None:
    """What LlamaIndex's QdrantVectorStore writes: a payload per node, the unnamed vector."""
    client.create_collection("docs", vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.COSINE))
    old = old_vectors(N)
    client.upsert("docs", [models.PointStruct(
        id=node(i).id_, vector=old[i].tolist(),
        payload=node_to_metadata_dict(node(i), remove_text=False)) for i in range(N)])


def test_the_text_is_what_llamaindex_embeds_for_the_node_metadata_included():
    client = QdrantClient(":memory:")
    llamaindex_collection(client)
    records = client.retrieve("docs", [node(3).id_], with_payload=True)
    (item,) = PayloadField("_node_content", text_from="llamaindex").items(records)
    assert item.text == node(3).get_content(metadata_mode=schema.MetadataMode.EMBED)
    assert "title: book 0" in item.text and "page" not in item.text  # as the node says
    assert item.version == records[0].payload["_node_content"]  # an edit is noticed
    (plain,) = PayloadField("_node_content").items(records)
    assert plain.text.startswith("{")  # what the default would have embedded


def test_text_from_llamaindex_on_a_field_that_holds_text_says_what_it_reads(tmp_path):
    client = QdrantClient(":memory:")
    client.create_collection("docs", vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.COSINE))
    client.upsert("docs", [models.PointStruct(id=i, vector=old_vectors(N)[i].tolist(),
                                              payload={"page_content": f"text {i}"})
                           for i in range(N)])  # what LangChain writes
    path = migration_file(tmp_path, old_vector="", payload_field="page_content",
                          layout="collection", sample_size=100)
    path.write_text(path.read_text().replace('payload_field = "page_content"',
                                             'payload_field = "page_content"\n'
                                             'text_from = "llamaindex"'))
    with pytest.raises(DriftError, match="'page_content' holds no LlamaIndex node .* use "
                                         'text_from = "text"'):
        Migration(client, path).plan(sample=8)


def test_init_reads_a_llamaindex_field_as_llamaindex_nodes():
    from qdrant_drift.lifecycle.file import scaffold

    assert 'text_from = "llamaindex"' in scaffold("m", "docs", "new",
                                                   payload_field="_node_content").splitlines()


def test_a_llamaindex_collection_backfills_the_vectors_llamaindex_would_have_made(tmp_path):
    client = QdrantClient(":memory:")
    llamaindex_collection(client)
    path = migration_file(tmp_path, old_vector="", payload_field="_node_content",
                          layout="collection", sample_size=100)
    # refused, not warned: the migration would finish with every vector wrong
    with pytest.raises(DriftError, match="payload field '_node_content' holds LlamaIndex nodes "
                                         'as JSON.*set \\[source\\] text_from = "llamaindex"'):
        Migration(client, path).plan(sample=8)
    path.write_text(path.read_text().replace('payload_field = "_node_content"',
                                             'payload_field = "_node_content"\n'
                                             'text_from = "llamaindex"'))
    migration = Migration(client, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message=".*pairs")  # the tiny fixture's
        migration.plan(sample=8)  # no JSON warning once text_from says what the field is
        migration.fit()
    migration.start()
    run_backfill(client, migration.name, CallableEmbedder(embed_texts, normalize=False),
                 migration.source)
    copies = client.retrieve("docs_new", [node(i).id_ for i in range(N)], with_vectors=True)
    assert len(copies) == N
    for copy in copies:
        i = int(str(copy.id)[-12:])
        want = text_vector(node(i).get_content(metadata_mode=schema.MetadataMode.EMBED))
        assert np.allclose(copy.vector, want, atol=1e-5)


@pytest.mark.parametrize("sample_kept, refusal", [
    (True, 'reads the points differently from the fit .*at fit: payload_field = '
           '"_node_content", text_from = "llamaindex", now: payload_field = "_node_content", '
           'text_from = "text"'),
    # no sample vectors written (so no reading recorded): the JSON check still stops it
    (False, "'_node_content' holds LlamaIndex nodes as JSON")])
def test_a_backfill_refuses_to_start_once_the_file_reads_the_nodes_json_as_text(
        tmp_path, sample_kept, refusal):
    # fitted right, then [source] edited back to text_from = "text": a backfill would write
    # the embedding of every node's JSON, so it stops before its first batch
    client = QdrantClient(":memory:")
    llamaindex_collection(client)
    path = migration_file(tmp_path, old_vector="", payload_field="_node_content",
                          layout="collection", sample_size=100)
    path.write_text(path.read_text().replace('payload_field = "_node_content"',
                                             'payload_field = "_node_content"\n'
                                             'text_from = "llamaindex"'))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pairs")  # the tiny fixture's
        Migration(client, path).fit(keep_sample_vectors=sample_kept)
    Migration(client, path).start()
    path.write_text(path.read_text().replace('text_from = "llamaindex"', 'text_from = "text"'))
    edited = Migration(client, path)
    for engine in ("worker", "ray"):
        with pytest.raises(DriftError, match=refusal):
            edited.backfill_engine(engine)


def test_a_backfill_starts_when_its_first_points_have_no_text(tmp_path):
    # the start's check is for JSON only: points without a text are dead letters, as always
    client = QdrantClient(":memory:")
    client.create_collection("docs", vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.COSINE))
    old = old_vectors(300)
    client.upsert("docs", [models.PointStruct(
        id=i, vector=old[i].tolist(), payload={"text": f"text {i}"} if i >= 40 else {})
        for i in range(300)])
    path = migration_file(tmp_path, old_vector="", layout="collection", sample_size=150)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pairs")  # the tiny fixture's
        Migration(client, path).fit()
    Migration(client, path).start()
    migration = Migration(client, path, embedder=CallableEmbedder(embed_texts, normalize=False))
    stats = migration.backfill_engine("worker").run()
    assert stats.dead_lettered == 40 and stats.state == "finished"
