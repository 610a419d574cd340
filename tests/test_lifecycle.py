"""A migration's life through the Python API and the CLI, on embedded local Qdrant: plan,
fit, start, backfill, status, pause, cut-over, finish; illegal moves refused clearly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from qdrant_client import QdrantClient
from typer.testing import CliRunner

from qdrant_drift.cli.app import app
from qdrant_drift.lifecycle.facade import Migration
from qdrant_drift.observability.metrics import DriftMetrics
from qdrant_drift.errors import StateError

from .backfill_fixtures import build_legacy_collection, doc_text, text_vector

ROOT = Path(__file__).resolve().parents[1]


def migration_file(tmp_path: Path, *, name: str = "docs-v2", embed: str = "embed_texts",
                   extra: str = "") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f"""
[migration]
name = "{name}"
collection = "docs"
old_vector = "old"
new_vector = "new"
old_model = "old-m"
new_model = "new-m"

[embedder]
kind = "callable"
callable = "tests.backfill_fixtures:{embed}"
normalize = false

[source]
payload_field = "text"

[adapter]
kind = "procrustes"
sample_size = 150

[backfill]
batch_size = 16
heartbeat_timeout = 2.0
{extra}
""")
    return path


@pytest.fixture()
def world(tmp_path):
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    return client, migration_file(tmp_path)


def test_the_whole_lifecycle_from_fit_to_finish(world):
    client, path = world
    migration = Migration(client, path)
    report = migration.plan(sample=32)
    assert report.points == 200 and report.new_dimension == 16 and report.supports_layout

    adapter = migration.fit()
    assert adapter.quality["predicted_recall_recovery"] > 0.5
    assert migration.record().phase.value == "fitted"
    assert migration.start().phase.value == "backfilling"
    with pytest.raises(StateError, match="cut-over refused: 200 of 200 points"):
        migration.cutover()

    stats = migration.start_backfill(background=True).join(60)
    assert stats.written == 200
    progress = migration.progress()
    assert progress.coverage == 1.0 and progress.plan == "hybrid" and progress.dead_letters == 0
    assert progress.history and progress.history[-1].migrated == 200

    assert migration.cutover().phase.value == "cut-over"
    assert migration.finish().phase.value == "finished"
    assert "old" not in client.get_collection("docs").config.params.vectors
    found = client.retrieve("docs", [5], with_vectors=True)[0].vector["new"]
    assert np.allclose(found, text_vector(doc_text(5)), atol=1e-5)


def test_illegal_moves_are_refused_with_the_reason(world, tmp_path):
    client, path = world
    migration = Migration(client, path)
    with pytest.raises(StateError, match="not been fitted"):
        migration.start()
    migration.fit()
    with pytest.raises(StateError, match="finish needs a cut-over"):
        migration.finish()
    migration.start()
    second = Migration(client, migration_file(tmp_path, name="another"))
    with pytest.raises(StateError, match="already has an active migration, 'docs-v2'"):
        second.fit()
    migration.rollback()
    assert migration.record().phase.value == "rolled-back"
    assert migration.start().phase.value == "backfilling"  # rollback is not the end


def test_pause_through_the_state_pauses_running_workers(world):
    client, path = world
    migration = Migration(client, path)
    migration.fit()
    migration.start()
    handle = migration.start_backfill(background=True)
    migration.pause()
    deadline = time.time() + 10
    while handle.progress().state != "paused" and time.time() < deadline:
        time.sleep(0.05)
    assert handle.progress().state == "paused"
    assert migration.progress().phase == "backfilling (paused)"
    migration.resume()
    assert handle.join(60).written + handle.progress().skipped <= 200
    assert migration.progress().coverage == 1.0


def test_worker_metrics_are_exposed_for_prometheus(world):
    client, path = world
    migration = Migration(client, path)
    migration.fit()
    migration.start()
    metrics = DriftMetrics()
    migration.start_backfill(background=False, metrics=metrics)
    metrics.update_from_progress(migration.progress())
    families = {f.name: f for f in text_string_to_metric_families(
        metrics.exposition().decode())}
    written = [s for s in families["qdrant_drift_backfill_items"].samples
               if s.name.endswith("_total") and s.labels["outcome"] == "written"]
    assert written[0].value == 200
    coverage = families["qdrant_drift_coverage_ratio"].samples[0]
    assert coverage.value == 1.0 and coverage.labels["migration"] == "docs-v2"


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_cli_runs_a_migration_on_an_embedded_qdrant(tmp_path):
    db = tmp_path / "qdrant"
    client = QdrantClient(path=str(db))
    build_legacy_collection(client, 120)
    client.close()
    path = migration_file(tmp_path)
    where = ["--path", str(db)]
    assert "points" in _cli("plan", str(path), *where)
    assert "procrustes" in _cli("fit", str(path), *where)
    assert "backfilling" in _cli("start", str(path), *where)
    assert "finished" in _cli("backfill", str(path), *where, "--worker-id", "w1")
    status = json.loads(_cli("status", str(path), *where, "--json"))
    assert status["coverage"] == 1.0 and status["migrated"] == 120
    assert status["phase"] == "backfilling" and status["plan"] == "hybrid"
    _cli("report", str(path), *where, "--png", str(tmp_path / "r.png"))
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "cut-over" in _cli("cutover", str(path), *where)
    assert "finished" in _cli("finish", str(path), *where, "--yes")


def test_a_cli_refusal_is_a_clear_error_and_exit_code_2(tmp_path):
    db = tmp_path / "qdrant"
    QdrantClient(path=str(db)).close()
    result = CliRunner().invoke(app, ["start", str(migration_file(tmp_path)), "--path", str(db)])
    assert result.exit_code == 2 and "not been fitted" in result.output


def _worker(path: Path, db: Path, started: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if started is not None:
        started.unlink(missing_ok=True)
        env["DRIFT_TEST_STARTED"] = str(started)
    return subprocess.Popen(
        [sys.executable, "-m", "qdrant_drift", "backfill", str(path), "--path", str(db),
         "--worker-id", "w1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=env)


def _wait_for(marker: Path, worker: subprocess.Popen, timeout: float = 60.0) -> None:
    """Until the worker embeds its first batch (process start-up time varies a lot)."""
    deadline = time.time() + timeout
    while not marker.exists() and worker.poll() is None and time.time() < deadline:
        time.sleep(0.02)


@pytest.mark.slow
def test_kill_9_at_random_moments_then_restart_loses_nothing(tmp_path):
    db = tmp_path / "qdrant"
    n = 400
    client = QdrantClient(path=str(db))
    build_legacy_collection(client, n)
    path = migration_file(tmp_path, embed="slow_embed_texts")
    Migration(client, path).fit()
    Migration(client, path).start()
    client.close()
    rng = np.random.default_rng(7)
    kills = 0
    started = tmp_path / "started"
    for _ in range(4):
        worker = _worker(path, db, started)
        _wait_for(started, worker)
        time.sleep(float(rng.uniform(0.0, 1.0)))
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
            kills += 1
        worker.wait(30)
    final = _worker(path, db)
    output = final.communicate(timeout=240)[0].decode()
    assert final.returncode == 0, output
    assert kills >= 1
    client = QdrantClient(path=str(db))
    try:
        points, _ = client.scroll("docs", limit=n, with_vectors=True, with_payload=True)
        assert len(points) == n
        wrong = [p.id for p in points if "new" not in p.vector or not np.allclose(
            p.vector["new"], text_vector(p.payload["text"]), atol=1e-5)]
        assert wrong == []
    finally:
        client.close()


def test_sigterm_finishes_the_batch_in_flight_and_checkpoints(tmp_path):
    db = tmp_path / "qdrant"
    client = QdrantClient(path=str(db))
    build_legacy_collection(client, 400)
    path = migration_file(tmp_path, embed="slow_embed_texts")
    Migration(client, path).fit()
    Migration(client, path).start()
    client.close()
    started = tmp_path / "started"
    worker = _worker(path, db, started)
    _wait_for(started, worker)
    time.sleep(0.3)
    worker.send_signal(signal.SIGTERM)
    output = worker.communicate(timeout=60)[0].decode()
    assert worker.returncode == 0 and "stopped" in output, output
    client = QdrantClient(path=str(db))
    try:
        progress = Migration(client, path).progress()
        assert 0 < progress.migrated < 400
        assert progress.workers[0].state == "stopped" and not progress.workers[0].alive
    finally:
        client.close()
