"""The README's lifecycle walked as a newcomer walks it: the `qdrant-drift` command in a
shell, on embedded Qdrant, on the defaults `init` writes, with the usual mistakes, a legacy
app that is never wrapped and keeps writing bare vectors, a Ctrl-C on a piped worker and a
corrupt stored adapter. Every refusal is one line and exit code 2, no command prints a
traceback, and the migration always reaches `finished`, after which a new one can start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from qdrant_client import QdrantClient
from qdrant_client.http import models

from qdrant_drift.sansio import drive
from qdrant_drift.store.collection import STATE_COLLECTION, point_id
from qdrant_drift.store.records import load_record

from .backfill_fixtures import DIM, doc_text, old_vectors

ROOT = Path(__file__).resolve().parents[1]
LEGACY = old_vectors(600)  # the old model's vectors of every document the app will write


def legacy_app_writes(db: Path, ids: range) -> None:
    """The app that is not wrapped: bare vectors (the unnamed one), as it always wrote."""
    client = QdrantClient(path=str(db))
    try:
        if not client.collection_exists("docs"):
            client.create_collection("docs", vectors_config=models.VectorParams(
                size=DIM, distance=models.Distance.COSINE))
        client.upsert("docs", [models.PointStruct(id=i, vector=LEGACY[i].tolist(),
                                                  payload={"text": doc_text(i)}) for i in ids])
    finally:
        client.close()


class Shell:
    """Runs `qdrant-drift ...` as a person would, and holds every command to the rules."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "DRIFT_TEST_EMBED_DELAY": "0"}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "qdrant_drift", *args]

    def run(self, *args: str) -> str:
        result = subprocess.run(self.command(*args), cwd=self.tmp_path, env=self.env,
                                capture_output=True, text=True, timeout=300)
        said = result.stdout + result.stderr
        assert "Traceback" not in said, said
        assert result.returncode == 0, f"{args}: {said}"
        return " ".join(said.split())

    def status(self, *args: str) -> dict:
        return json.loads(self.run("status", *args, "--json"))

    def refused(self, *args: str) -> str:
        result = subprocess.run(self.command(*args), cwd=self.tmp_path, env=self.env,
                                capture_output=True, text=True, timeout=300)
        said = result.stdout + result.stderr
        assert result.returncode == 2 and "Traceback" not in said, f"{args}: {said}"
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{args}: {said}"
        return lines[0]

    def ctrl_c_on_a_piped_worker(self, *args: str) -> int:
        """`qdrant-drift backfill ... | tee log`, then Ctrl-C once it is under way."""
        started, status = self.tmp_path / "started", self.tmp_path / "status"
        line = " ".join(self.command(*args))
        shell = subprocess.Popen(
            ["bash", "-c", f"({line}; echo $? > {status}) | tee {self.tmp_path / 'log'}"],
            cwd=self.tmp_path, start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**self.env, "DRIFT_TEST_STARTED": str(started), "DRIFT_TEST_EMBED_DELAY": "0.3"})
        deadline = time.time() + 120
        while not started.exists() and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
        os.killpg(shell.pid, signal.SIGINT)  # what Ctrl-C does: the worker and tee both get it
        shell.wait(120)
        return int(status.read_text())


def edit(path: Path, **replacements: str) -> None:
    """What the newcomer does with the scaffold: fill in [embedder], tune [backfill]."""
    text = path.read_text()
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)


def our_embedder(path: Path) -> None:
    edit(path, **{
        '\nkind = "sentence-transformers"': '\nkind = "callable"',
        '\nmodel = "sentence-transformers/all-MiniLM-L6-v2"':
            '\ncallable = "tests.backfill_fixtures:slow_embed_texts"',
        '\ndevice = "cpu"\n': "\n",
        "\nbatch_size = 64\n": "\nbatch_size = 16\n",
    })


def corrupt_the_stored_adapter(db: Path, name: str) -> None:
    client = QdrantClient(path=str(db))
    try:
        record = drive(load_record(name), client)
        client.set_payload(STATE_COLLECTION, {"data": "AAAA"}, points=[
            point_id("adapter", name, record.adapter_digest, "0")])
    finally:
        client.close()


def test_a_newcomer_walks_the_lifecycle_on_the_defaults_and_nothing_is_stuck(tmp_path):
    sh, db = Shell(tmp_path), tmp_path / "qdrant"
    where = ["--path", str(db)]
    legacy_app_writes(db, range(300))

    said = sh.run("init", "migrations/docs.toml", "--name", "docs-v2", "--collection", "docs",
                  "--new-vector", "", "--old-model", "old-m")
    assert "blue-green" in said  # the legacy vector is the unnamed one
    file = tmp_path / "migrations" / "docs.toml"
    our_embedder(file)
    mf = str(file)

    # the usual mistakes: each one line, nothing created, nothing half-done
    assert "wrong --path" in sh.refused("plan", mf, "--path", str(tmp_path / "typo"))
    assert not (tmp_path / "typo").exists()
    for command in ("cutover", "dead-letters", "status", "start"):
        assert "qdrant-drift fit" in sh.refused(command, mf, *where)
    assert "--name" in sh.refused("init", "other.toml")
    typo = tmp_path / "typo.toml"
    typo.write_text(file.read_text().replace("[backfill]\n", "[backfill]\nbatchsize = 3\n"))
    assert "batchsize" in sh.refused("plan", str(typo), *where)
    missing = tmp_path / "missing.toml"
    missing.write_text(file.read_text().replace('collection = "docs"', 'collection = "dcos"'))
    assert "'dcos' does not exist" in sh.refused("fit", str(missing), *where)

    sh.run("plan", mf, *where)
    sh.run("fit", mf, *where)  # 300 points < sample_size: the whole collection, kept
    sh.run("start", mf, *where)
    assert sh.status(mf, *where)["migrated"] == 300

    # the app that was never wrapped keeps writing, after the backfill swept past
    legacy_app_writes(db, range(300, 600))
    assert "300 of 600 points still lack the new vector" in sh.refused("cutover", mf, *where)
    # stopped by the signal (128 + SIGINT): not 139 (a crash), 1 (a broken pipe) nor 0 (done)
    assert sh.ctrl_c_on_a_piped_worker("backfill", mf, *where) == 130
    corrupt_the_stored_adapter(db, "docs-v2")
    assert "qdrant-drift fit" in sh.status(mf, *where)["adapter_problem"]  # status still works
    sh.run("backfill", mf, *where)  # finds what the Ctrl-C left, and the late inserts
    sh.run("cutover", mf, *where)
    assert "rollback refused" in sh.refused("rollback", mf, *where)
    sh.run("fit", mf, *where)  # the repair the refusal names
    sh.run("rollback", mf, *where)
    sh.run("start", mf, *where)
    sh.run("cutover", mf, *where)
    assert "finished" in sh.run("finish", mf, *where, "--yes")
    client = QdrantClient(path=str(db))
    try:
        assert client.count("docs_new").count == 600  # every document the app ever wrote
        assert not client.collection_exists("docs")
    finally:
        client.close()

    # the collection is free for the next upgrade
    sh.run("init", "migrations/next.toml", "--name", "docs-v3", "--collection", "docs_new",
           "--new-vector", "")
    following = tmp_path / "migrations" / "next.toml"
    our_embedder(following)
    sh.run("fit", str(following), *where)
    assert "fitted" in sh.run("status", str(following), *where)
