"""An asyncio service on AsyncDriftClient: concurrent new-model queries served while the
app keeps writing (every write lands in both spaces), then cut-over without a restart.
Run it as is:

    python examples/async_service.py
"""

from __future__ import annotations

import asyncio

import numpy as np
from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_client.http import models

import qdrant_drift
from qdrant_drift.lifecycle.commands import acreate, acutover, astart

from _legacy import LEGACY_VECTORS, corpus, legacy_points, new_model, old_model


async def main() -> None:
    client = AsyncQdrantClient(":memory:")
    await client.create_collection("docs", vectors_config=LEGACY_VECTORS)
    await client.upsert("docs", legacy_points())

    # fit the adapter on a sample of items embedded by both models
    sample = corpus.docs[:200]
    adapter = qdrant_drift.fit("procrustes", new_model(sample), old_model(sample),
                               new_model="all-MiniLM-L6-v2", old_model="all-MiniLM-L6-v2-3layers")
    spec = qdrant_drift.MigrationSpec(name="docs-minilm", collection="docs",
                                      old_vector="minilm_l3", new_vector="minilm",
                                      old_model="all-MiniLM-L6-v2-3layers",
                                      new_model="all-MiniLM-L6-v2")
    await acreate(client, spec, adapter)
    app = qdrant_drift.wrap(client, "docs-minilm", refresh_interval=0.2)

    queries = new_model(corpus.queries)

    async def serve(vector: np.ndarray) -> list[str]:
        response = await app.query_points("docs", query=vector, using="minilm", limit=3)
        return [p.payload["name"] for p in response.points]

    answers = await asyncio.gather(*(serve(q) for q in queries))
    print(f"plan {app.plan.value}: {len(answers)} queries served concurrently")

    # the app re-ingests its documents with the new model: each write fills both spaces
    await astart(client, "docs-minilm")
    vectors = new_model(corpus.docs)
    await app.upsert("docs", [models.PointStruct(
        id=i, vector={"minilm": vectors[i].tolist()},
        payload={"name": corpus.names[i], "text": corpus.docs[i]})
        for i in range(len(corpus.docs))])
    await acutover(client, "docs-minilm")  # checked: every point has the new vector
    await asyncio.sleep(0.5)  # replicas follow the state within their refresh interval
    answers = await asyncio.gather(*(serve(q) for q in queries))
    print(f"plan {app.plan.value}: {answers[0]}")
    assert app.plan.value == "native"
    await app.close()
    print("done")


asyncio.run(main())
