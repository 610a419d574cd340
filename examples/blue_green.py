"""Blue-green: the new model's vectors go to a second collection (payload copied), the app
reads through an alias, cut-over switches the alias atomically, rollback switches it back.
Run it as is:

    python examples/blue_green.py
"""

from __future__ import annotations

import tempfile

from qdrant_client import QdrantClient
from qdrant_client.http import models

import qdrant_drift
from qdrant_drift.lifecycle.facade import Migration
from qdrant_drift.lifecycle.file import MigrationFile

from _legacy import LEGACY_VECTORS, MIGRATION, corpus, legacy_points, new_model


def alias_target(client: QdrantClient) -> str:
    return {a.alias_name: a.collection_name for a in client.get_aliases().aliases}["docs_live"]


with tempfile.TemporaryDirectory() as where:
    client = QdrantClient(path=f"{where}/qdrant")
    client.create_collection("docs", vectors_config=LEGACY_VECTORS)
    client.upsert("docs", legacy_points())
    client.update_collection_aliases(change_aliases_operations=[models.CreateAliasOperation(
        create_alias=models.CreateAlias(collection_name="docs", alias_name="docs_live"))])

    spec = {**MIGRATION["migration"], "layout": "collection", "new_collection": "docs_v2",
            "alias": "docs_live"}
    migration = Migration(client, MigrationFile.from_dict({**MIGRATION, "migration": spec}))
    migration.fit()
    migration.start()
    migration.start_backfill(background=False)
    print("docs_v2 holds", client.count("docs_v2").count, "points with the new vector")

    migration.cutover()
    print("alias docs_live ->", alias_target(client))
    app = qdrant_drift.wrap(client, "docs-minilm", refresh_interval=0)
    query = new_model([corpus.queries[1]])[0]
    names = [p.payload["name"] for p in
             app.query_points("docs_live", query=query, using="minilm", limit=3).points]
    print("native answers:", names)
    migration.rollback()
    print("after rollback, alias docs_live ->", alias_target(client))
    assert alias_target(client) == "docs"
    client.close()
    print("done")
