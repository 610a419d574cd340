"""LlamaIndex mid-migration: a `llama-index-vector-stores-qdrant` app keeps ingesting nodes
(`add`, which calls `upload_points`) and querying while its collection moves to a new
embedding model, through the wrapped client. Embedded Qdrant, deterministic embeddings; run
it as is (needs the `frameworks` extra):

    python examples/llamaindex_app.py

LlamaIndex creates the unnamed vector, so on embedded Qdrant this is blue-green behind the
alias the app uses ("docs"); the node texts come from the app's own store (a loader), as
LlamaIndex keeps them inside a JSON payload. After every step, the wrapped store and the
unwrapped legacy app find every node the app wrote (the legacy app until cut-over, and again
after a rollback); the async store (``aclient=``, ``async_add``/``aquery``) runs the same
checks on a second wrapped client.
"""

from __future__ import annotations

import asyncio
import uuid

from llama_index.core.schema import TextNode
from llama_index.core.vector_stores import VectorStoreQuery
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import AsyncQdrantClient, QdrantClient

import qdrant_drift
from qdrant_drift.backfill.content import Loader
from qdrant_drift.embedders import CallableEmbedder
from qdrant_drift.lifecycle.facade import Migration
from qdrant_drift.lifecycle.file import MigrationFile

from _frameworks import (MIGRATION, all_found, blue_green_behind_alias, corpus, embed_new,
                         embed_old, embed_texts, walk)


def nodes(texts: list[str], embed) -> list[TextNode]:
    return [TextNode(id_=str(uuid.uuid5(uuid.NAMESPACE_URL, t)), text=t, embedding=embed(t))
            for t in texts]


def missed(store: QdrantVectorStore, texts: list[str], embed) -> int:
    """How many texts a store does not return as the best node for themselves."""
    def top(text: str) -> str:
        return store.query(VectorStoreQuery(query_embedding=embed(text),
                                            similarity_top_k=1)).nodes[0].text
    return sum(top(t) != t for t in texts)


async def amissed(store: QdrantVectorStore, texts: list[str], embed) -> int:
    found = await asyncio.gather(*(store.aquery(VectorStoreQuery(
        query_embedding=embed(t), similarity_top_k=1)) for t in texts))
    return sum(r.nodes[0].text != t for t, r in zip(texts, found))


def main(n_docs: int = 150, n_new: int = 30) -> dict:
    texts = corpus(n_docs + 4 * n_new, seed=1)
    texts_by_id = {n.id_: n.text for n in nodes(texts, lambda t: None)}  # the app's docstore
    client = QdrantClient(":memory:")
    blue_green_behind_alias(client)
    legacy_app = QdrantVectorStore("docs", client=client)
    legacy_app.add(nodes(texts[:n_docs], embed_old))
    written = list(texts[:n_docs])

    migration = Migration(client, MigrationFile.from_dict(MIGRATION),
                          embedder=CallableEmbedder(embed_texts),
                          source=Loader(lambda ids: {i: texts_by_id.get(str(i)) for i in ids}))
    migration.fit()
    wrapped = qdrant_drift.wrap(client, "upgrade", refresh_interval=0)
    app = QdrantVectorStore("docs", client=wrapped)

    def ingest(wave: list[str]) -> None:
        app.add(nodes(wave, embed_new))  # upload_points, through the wrapper
        written.extend(wave)

    def checks(legacy_reads: bool) -> dict:
        return {"wrapped missed": missed(app, written, embed_new),
                "legacy missed": missed(legacy_app, written, embed_old) if legacy_reads
                else None}

    waves = [texts[n_docs + i * n_new:n_docs + (i + 1) * n_new] for i in range(4)]
    report = walk(migration, wrapped, waves, ingest, checks)
    wrapped.close()
    report["async"] = asyncio.run(async_app(texts[:n_docs], texts[n_docs:n_docs + n_new]))
    return report


async def async_app(legacy_texts: list[str], wave: list[str]) -> dict:
    """The async store mid-migration (adapted plan): ingest, then both readers find all."""
    from qdrant_drift import MigrationSpec, fit
    from qdrant_drift.lifecycle.commands import acreate

    raw = AsyncQdrantClient(":memory:")
    legacy_app = QdrantVectorStore("docs", aclient=raw)
    await legacy_app.async_add(nodes(legacy_texts, embed_old))
    spec = MigrationSpec(name="upgrade", collection="docs", layout="collection",
                         new_collection="docs_v2", old_vector="", new_vector="",
                         old_model="old-words", new_model="new-words")
    await acreate(raw, spec, fit("procrustes", [embed_new(t) for t in legacy_texts],
                                 [embed_old(t) for t in legacy_texts],
                                 new_model="new-words", old_model="old-words"))
    wrapped = qdrant_drift.wrap(raw, "upgrade", refresh_interval=0)
    app = QdrantVectorStore("docs", aclient=wrapped)
    await app.async_add(nodes(wave, embed_new))  # upsert, through the wrapper
    written = legacy_texts + wave
    result = {"plan": (await wrapped.refresh()).value,
              "wrapped async missed": await amissed(app, written, embed_new),
              "legacy async missed": await amissed(legacy_app, written, embed_old)}
    print("async", result)
    await wrapped.close()
    return result


if __name__ == "__main__":
    results = main()
    assert all_found(results), results
    print("done")
