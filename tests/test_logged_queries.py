"""Logged queries reach the adapter from a migration: a text file, a loader callable or a
query-log collection (``[adapter] queries``), or ``qdrant-drift fit --queries FILE``."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models
from typer.testing import CliRunner

from qdrant_drift.cli.app import app
from qdrant_drift.lifecycle.facade import Migration
from qdrant_drift.lifecycle.file import MigrationFileError

from .backfill_fixtures import DIM, build_legacy_collection, doc_text
from .test_lifecycle import migration_file


def logged_query_texts() -> list[str]:
    """A loader callable, as ``[adapter] queries = "tests.test_logged_queries:..."``."""
    return [doc_text(i) for i in range(40)]


def with_queries(tmp_path: Path, queries: str) -> Path:
    path = migration_file(tmp_path)
    text = path.read_text().replace("sample_size = 150",
                                    f'sample_size = 150\nqueries = "{queries}"')
    path.write_text(text)
    return path


@pytest.fixture()
def client():
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    return client


def test_a_text_file_of_queries_grounds_the_preflight(tmp_path, client):
    (tmp_path / "queries.txt").write_text("\n".join(doc_text(i) for i in range(30)) + "\n\n")
    adapter = Migration(client, with_queries(tmp_path, "queries.txt")).fit()
    assert adapter.info["logged_queries"] == 30
    assert adapter.quality["basis"] == "logged_queries"


def test_a_loader_callable_gives_the_queries(tmp_path, client):
    path = with_queries(tmp_path, "tests.test_logged_queries:logged_query_texts")
    adapter = Migration(client, path).fit()
    assert adapter.quality["logged_queries"] == 40


def test_a_query_log_collection_gives_the_queries_up_to_the_limit(tmp_path, client):
    client.create_collection("query_log", vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.COSINE))
    client.upsert("query_log", [
        models.PointStruct(id=i, vector=[1.0] * DIM, payload={"q": {"text": doc_text(i)}})
        for i in range(60)])
    path = with_queries(tmp_path, "qdrant://query_log/q.text")
    path.write_text(path.read_text().replace("sample_size = 150",
                                             "sample_size = 150\nqueries_limit = 25"))
    adapter = Migration(client, path).fit()
    assert adapter.quality["logged_queries"] == 25


def test_without_queries_the_report_says_it_stands_on_documents_only(tmp_path, client):
    adapter = Migration(client, migration_file(tmp_path)).fit()
    assert adapter.quality["basis"] == "documents" and adapter.info["logged_queries"] == 0


def test_a_refit_without_queries_says_it_replaces_an_adapter_chosen_with_them(tmp_path, client):
    (tmp_path / "queries.txt").write_text("\n".join(doc_text(i) for i in range(30)) + "\n")
    Migration(client, with_queries(tmp_path, "queries.txt")).fit()
    plain = Migration(client, migration_file(tmp_path))  # the same migration, no queries
    with pytest.warns(UserWarning, match="this fit had no logged queries; the adapter it "
                                         "replaces was chosen with 30 logged queries"):
        plain.fit()
    with warnings.catch_warnings():  # a re-fit that had none before says nothing
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message="only .* pairs")  # the tiny fixture's
        plain.fit()


def test_a_malformed_query_log_source_is_refused_when_the_file_is_read(tmp_path):
    with pytest.raises(MigrationFileError, match="qdrant://collection/payload_field"):
        Migration(QdrantClient(":memory:"), with_queries(tmp_path, "qdrant://query_log"))


def test_fit_queries_on_the_command_line_overrides_the_file(tmp_path):
    db = tmp_path / "qdrant"
    local = QdrantClient(path=str(db))
    build_legacy_collection(local, 150)
    local.close()
    queries = tmp_path / "logged.txt"
    queries.write_text("\n".join(doc_text(i) for i in range(35)))
    result = CliRunner().invoke(app, ["fit", str(migration_file(tmp_path)), "--path", str(db),
                                      "--queries", str(queries)])
    assert result.exit_code == 0, result.output
    assert "estimated from 35 logged queries" in result.output
    missing = CliRunner().invoke(app, ["fit", str(migration_file(tmp_path)), "--path", str(db),
                                       "--queries", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
