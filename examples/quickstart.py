"""Quickstart: wrap a client, fit the adapter, serve new-model queries at once, backfill in
the background, watch progress, cut over. Embedded Qdrant; run it as is:

    python examples/quickstart.py
"""

from __future__ import annotations

import tempfile
import time

from qdrant_client import QdrantClient

import qdrant_drift
from qdrant_drift.local import SerializedClient
from qdrant_drift.lifecycle.facade import Migration
from qdrant_drift.lifecycle.file import MigrationFile

from _legacy import LEGACY_VECTORS, MIGRATION, corpus, legacy_points, new_model

with tempfile.TemporaryDirectory() as where:
    # one embedded Qdrant shared by the app and the backfill thread (a server needs no lock)
    client = SerializedClient(QdrantClient(path=f"{where}/qdrant"))
    client.create_collection("docs", vectors_config=LEGACY_VECTORS)
    client.upsert("docs", legacy_points())

    migration = Migration(client, MigrationFile.from_dict(MIGRATION))
    adapter = migration.fit()  # embeds a sample with the new model, stores the adapter
    print("pre-flight:", {k: v for k, v in adapter.quality.items() if k != "advice"})
    migration.start()

    app = qdrant_drift.wrap(client, "docs-minilm", refresh_interval=0.5)  # the one-line change
    query = new_model([corpus.queries[0]])[0]
    hits = app.query_points("docs", query=query, using="minilm", limit=3)
    print(f"plan {app.plan.value}: {[p.payload['name'] for p in hits.points]}")

    handle = migration.start_backfill(background=True)
    while handle.running:
        progress = migration.progress()
        print(f"coverage {progress.coverage:.0%}, {progress.items_per_s or 0:.0f} items/s, "
              f"ETA {progress.eta_s or 0:.0f} s, phase {progress.phase}")
        time.sleep(1.0)
    handle.join()

    migration.cutover()
    app.refresh()
    hits = app.query_points("docs", query=query, using="minilm", limit=3)
    print(f"plan {app.plan.value}: {[p.payload['name'] for p in hits.points]}")
    assert migration.progress().coverage == 1.0
    app.close()
    print("done")
