"""LangChain mid-migration: a `langchain-qdrant` app keeps ingesting and searching while its
collection moves to a new embedding model, through the wrapped client. Embedded Qdrant,
deterministic embeddings; run it as is (needs the `frameworks` extra):

    python examples/langchain_app.py

The legacy app used LangChain's defaults (the unnamed vector) on a collection behind an
alias ("docs"). On embedded Qdrant that means blue-green (the named layout would break
bare-vector legacy writers there). After every step, wrapped readers (plain, MMR, async)
and the unwrapped legacy app find every document LangChain wrote (the legacy app until
cut-over, and again after a rollback).
"""

from __future__ import annotations

import asyncio

from langchain_core.embeddings import Embeddings
from langchain_qdrant import QdrantVectorStore
from qdrant_client import QdrantClient

import qdrant_drift
from qdrant_drift.embedders import CallableEmbedder
from qdrant_drift.lifecycle.facade import Migration
from qdrant_drift.lifecycle.file import MigrationFile

from _frameworks import (MIGRATION, all_found, blue_green_behind_alias, corpus, embed_new,
                         embed_old, embed_texts, walk)


class Model(Embeddings):
    """A LangChain embeddings object around one of the deterministic models."""

    def __init__(self, embed) -> None:
        self.embed = embed

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed(text)


def missed(store: QdrantVectorStore, texts: list[str], *, mmr: bool = False) -> int:
    """How many texts a store does not find as its best hit for themselves."""
    def top(text: str) -> str:
        found = (store.max_marginal_relevance_search(text, k=2, fetch_k=8) if mmr
                 else store.similarity_search(text, k=1))
        return found[0].page_content
    return sum(top(t) != t for t in texts)


async def amissed(store: QdrantVectorStore, texts: list[str]) -> int:
    found = await asyncio.gather(*(store.asimilarity_search(t, k=1) for t in texts))
    return sum(docs[0].page_content != t for t, docs in zip(texts, found))


def main(n_docs: int = 150, n_new: int = 30) -> dict:
    texts = corpus(n_docs + 4 * n_new)
    client = QdrantClient(":memory:")
    blue_green_behind_alias(client)
    legacy_app = QdrantVectorStore(client, "docs", embedding=Model(embed_old))
    legacy_app.add_texts(texts[:n_docs])
    written = list(texts[:n_docs])

    file = MigrationFile.from_dict({**MIGRATION, "source": {"payload_field": "page_content"}})
    migration = Migration(client, file, embedder=CallableEmbedder(embed_texts))
    migration.fit()
    wrapped = qdrant_drift.wrap(client, "upgrade", refresh_interval=0)
    app = QdrantVectorStore(wrapped, "docs", embedding=Model(embed_new))

    def ingest(wave: list[str]) -> None:
        app.add_texts(wave)  # LangChain's upsert, through the wrapper
        written.extend(wave)

    def checks(legacy_reads: bool) -> dict:
        return {"wrapped missed": missed(app, written),
                "wrapped MMR missed": missed(app, written, mmr=True),
                "wrapped async missed": asyncio.run(amissed(app, written)),
                "legacy missed": missed(legacy_app, written) if legacy_reads else None}

    waves = [texts[n_docs + i * n_new:n_docs + (i + 1) * n_new] for i in range(4)]
    report = walk(migration, wrapped, waves, ingest, checks)
    wrapped.close()
    return report


if __name__ == "__main__":
    results = main()
    assert all_found(results), results
    print("done")
