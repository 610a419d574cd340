"""A custom loader: the texts live in SQLite, not in Qdrant. The backfill asks the loader
for the texts of the ids it re-embeds; a `version` column mirrored in the payload lets it
notice a row that changed mid-batch. Run it as is:

    python examples/sqlite_loader.py
"""

from __future__ import annotations

import sqlite3
import tempfile

from qdrant_client import QdrantClient

from qdrant_drift.backfill import Loader
from qdrant_drift.lifecycle.facade import Migration
from qdrant_drift.lifecycle.file import MigrationFile

from _legacy import LEGACY_VECTORS, MIGRATION, corpus, legacy_points

with tempfile.TemporaryDirectory() as where:
    db = sqlite3.connect(f"{where}/app.db", check_same_thread=False)
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, version INTEGER)")
    db.executemany("INSERT INTO docs VALUES (?, ?, 1)", enumerate(corpus.docs))
    db.commit()

    def texts_for(ids: list[int]) -> dict[int, str]:
        marks = ",".join("?" * len(ids))
        return dict(db.execute(f"SELECT id, body FROM docs WHERE id IN ({marks})", ids))

    client = QdrantClient(path=f"{where}/qdrant")
    client.create_collection("docs", vectors_config=LEGACY_VECTORS)
    points = legacy_points(with_text=False)  # Qdrant holds vectors and a version, no text
    for point in points:
        point.payload["version"] = 1
    client.upsert("docs", points)

    migration = Migration(client, MigrationFile.from_dict(MIGRATION),
                          source=Loader(texts_for, version_field="version"))
    migration.fit()
    migration.start()
    stats = migration.start_backfill(background=False)
    coverage = migration.progress().coverage
    print(f"re-embedded {stats.written} documents read from SQLite (fit wrote the vectors of "
          f"the ones it sampled); coverage {coverage:.0%}")
    assert coverage == 1.0
    client.close()
    print("done")
