"""What every example starts from: a collection served by an OLD model, as a team has it
before the upgrade. Real text (stdlib docstrings) and real models (all-MiniLM-L6-v2 cut to 3
layers as the old model; the full model as the new one), offline."""

from __future__ import annotations

import os

from qdrant_client.http import models

from qdrant_drift_bench.demo.corpus import stdlib_corpus
from qdrant_drift.lifecycle.facade import sentence_transformer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
N_DOCS = int(os.environ.get("EXAMPLE_DOCS", "300"))

corpus = stdlib_corpus(N_DOCS, n_queries=20)
old_model = sentence_transformer("all-MiniLM-L6-v2", layers=3)
new_model = sentence_transformer("all-MiniLM-L6-v2")

MIGRATION = {
    "migration": {"name": "docs-minilm", "collection": "docs", "old_vector": "minilm_l3",
                  "new_vector": "minilm", "old_model": "all-MiniLM-L6-v2-3layers",
                  "new_model": "all-MiniLM-L6-v2"},
    "embedder": {"kind": "sentence-transformers", "model": "all-MiniLM-L6-v2"},
    "source": {"payload_field": "text"},
    "adapter": {"kind": "procrustes", "sample_size": 200},
    "backfill": {"batch_size": 32, "heartbeat_timeout": 5.0},
}


def legacy_points(with_text: bool = True) -> list[models.PointStruct]:
    vectors = old_model(corpus.docs)
    return [models.PointStruct(id=i, vector={"minilm_l3": vectors[i].tolist()},
                               payload={"name": corpus.names[i],
                                        **({"text": corpus.docs[i]} if with_text else {})})
            for i in range(len(corpus.docs))]


LEGACY_VECTORS = {"minilm_l3": models.VectorParams(size=384, distance=models.Distance.COSINE)}
