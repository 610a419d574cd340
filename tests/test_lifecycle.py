"""A migration's life through the Python API and the CLI, on embedded local Qdrant: plan,
fit, start, backfill, status, pause, cut-over, finish; illegal moves refused clearly."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from qdrant_client import QdrantClient
from qdrant_client.http import models
from typer.testing import CliRunner

from qdrant_drift.adapters import make_fitter
from qdrant_drift.adapters.fitting import preflight_pairs
from qdrant_drift import DriftError
from qdrant_drift.cli.app import app
from qdrant_drift.lifecycle.facade import Migration
from qdrant_drift.observability.metrics import DriftMetrics
from qdrant_drift.embedders import CallableEmbedder
from qdrant_drift.errors import EmbedderSetupError, NoPreflightReport, StateError
from qdrant_drift.migration.phases import Phase

from .backfill_fixtures import DIM, build_legacy_collection, doc_text, old_vectors, text_vector

ROOT = Path(__file__).resolve().parents[1]


def migration_file(tmp_path: Path, *, name: str = "docs-v2", embed: str = "embed_texts",
                   extra: str = "", old_vector: str = "old", payload_field: str = "text",
                   kind: str = "procrustes", sample_size: int = 150,
                   layout: str = "named", collection: str = "docs") -> Path:
    path = tmp_path / f"{name}.toml"
    blue_green = (f'new_collection = "{collection}_new"\n' if layout == "collection" else "")
    path.write_text(f"""
[migration]
name = "{name}"
collection = "{collection}"
layout = "{layout}"
{blue_green}old_vector = "{old_vector}"
new_vector = "{'' if layout == 'collection' else 'new'}"
old_model = "old-m"
new_model = "new-m"

[embedder]
kind = "callable"
callable = "tests.backfill_fixtures:{embed}"
normalize = false

[source]
payload_field = "{payload_field}"

[adapter]
kind = "{kind}"
sample_size = {sample_size}

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


def test_a_backfill_refuses_a_file_that_reads_the_points_differently_from_the_fit(world):
    # the fit sample's points hold vectors of the fit's reading: a backfill with another
    # field or model would leave one collection with two kinds of vector, silently
    client, path = world
    Migration(client, path).fit()
    Migration(client, path).start()
    original = path.read_text()
    for edit, said in (
            (('payload_field = "text"', 'payload_field = "title"'),
             '\\[source\\] at fit: payload_field = "text", text_from = "text", now: '
             'payload_field = "title", text_from = "text"'),
            (("backfill_fixtures:embed_texts", "backfill_fixtures:slow_embed_texts"),
             '\\[embedder\\] at fit: callable = "tests.backfill_fixtures:embed_texts", '
             'normalize = false, now: callable = "tests.backfill_fixtures:slow_embed_texts", '
             'normalize = false'),
            # the default a file leaves out is said, not left to be read as a missing key
            (("normalize = false", "normalize = true"),
             '\\[embedder\\] at fit: .*normalize = false, now: callable = "tests.backfill_'
             'fixtures:embed_texts", normalize = true\\)')):
        path.write_text(original.replace(*edit))
        for engine in ("worker", "ray"):
            with pytest.raises(DriftError, match=f"reads the points differently.*{said}"):
                Migration(client, path).backfill_engine(engine)
        # nor past it by fitting again: the first sample's points keep their vectors
        with pytest.raises(DriftError, match=f"reads the points differently.*{said}"):
            Migration(client, path).fit()
    path.write_text(original)  # set back: it runs
    assert Migration(client, path).start_backfill(background=False).written == 50


def test_start_refuses_a_file_that_reads_the_points_differently_from_the_fit(world):
    # refused where the mistake is made, not at the backfill after serving has begun
    client, path = world
    Migration(client, path).fit()
    original = path.read_text()
    path.write_text(original.replace('payload_field = "text"', 'payload_field = "title"'))
    with pytest.raises(DriftError, match="reads the points differently.*payload_field"):
        Migration(client, path).start()
    assert Migration(client, path).record().phase.value == "fitted"
    path.write_text(original)
    assert Migration(client, path).start().phase.value == "backfilling"


def test_the_whole_lifecycle_from_fit_to_finish(world):
    client, path = world
    migration = Migration(client, path)
    report = migration.plan(sample=32)
    assert report.points == 200 and report.new_dimension == 16 and report.supports_layout
    assert report.fit_sample == 150 and report.sample_note() is None

    adapter = migration.fit()
    assert adapter.quality["predicted_recall_recovery"] > 0.5
    assert migration.record().phase.value == "fitted"
    assert migration.start().phase.value == "backfilling"
    # the 150 sampled points were embedded by fit: their vectors are written already
    with pytest.raises(StateError, match="cut-over refused: 50 of 200 points"):
        migration.cutover()

    stats = migration.start_backfill(background=True).join(60)
    assert stats.written == 50
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
    with pytest.raises(StateError, match="cannot go from 'fitted' to 'finished': run "
                       "`qdrant-drift start`, then `qdrant-drift cutover` first"):
        migration.finish()
    migration.start()
    second = Migration(client, migration_file(tmp_path, name="another"))
    with pytest.raises(StateError, match="already has a migration that has not ended, 'docs-v2'"):
        second.fit()
    migration.rollback()
    assert migration.record().phase.value == "rolled-back"
    assert migration.start().phase.value == "backfilling"  # rollback is not the end


def test_pause_through_the_state_pauses_running_workers(tmp_path, monkeypatch):
    monkeypatch.setenv("DRIFT_TEST_EMBED_DELAY", "0.3")  # 7 batches left: ~2 s of work
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    path = migration_file(tmp_path, embed="slow_embed_texts", sample_size=100)
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
    assert written[0].value == 50  # fit wrote the vectors of its 150 sampled points
    coverage = families["qdrant_drift_coverage_ratio"].samples[0]
    assert coverage.value == 1.0 and coverage.labels["migration"] == "docs-v2"


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _refused(*args: str, env: dict[str, str] | None = None) -> str:
    """The command fails with exit code 2 and one clear line, never a traceback. (Warnings
    are one line each too: qdrant-client checks a server's version in a thread of its own,
    so its warning about a server it could not reach may land in a later command here.)"""
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(
        result.exception, SystemExit), result.output
    lines = [line for line in result.output.splitlines()
             if line.strip() and not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return " ".join(result.output.split())


@pytest.fixture()
def embedded(tmp_path) -> tuple[Path, list[str]]:
    """An embedded Qdrant folder with a 200-point legacy collection, and its --path."""
    db = tmp_path / "qdrant"
    client = QdrantClient(path=str(db))
    build_legacy_collection(client, 200)
    client.close()
    return db, ["--path", str(db)]


@pytest.mark.parametrize("recorded", [False, True])
def test_a_ctrl_c_in_fit_says_whether_the_fit_was_recorded(tmp_path, embedded, monkeypatch,
                                                           recorded):
    # fit records the migration, then writes its sample's vectors: a Ctrl-C in between left
    # the user guessing whether to start or to fit again
    _, where = embedded
    path = str(migration_file(tmp_path, sample_size=120))
    real_fit = Migration.fit

    def interrupted(self, *args, **kwargs):
        if recorded:
            real_fit(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(Migration, "fit", interrupted)
    result = CliRunner().invoke(app, ["fit", path, *where])
    assert result.exit_code == 130  # Typer makes the KeyboardInterrupt an exit 130
    said = " ".join(result.output.split())
    if recorded:
        assert "fit interrupted after it was recorded: migration 'docs-v2' is 'fitted'" in said
        assert "Go on (`qdrant-drift start" in said
    else:
        assert ("fit interrupted before it was recorded: the migration is as it was; run "
                "`qdrant-drift fit") in said


def test_start_after_a_rollback_of_a_paused_backfill_says_to_resume(tmp_path, embedded):
    # start reopens the backfill paused as it was: "runs a worker" alone left a worker
    # waiting with no word of why
    _, where = embedded
    path = str(migration_file(tmp_path))
    for command in ("fit", "start", "pause", "rollback"):
        _cli(command, path, *where)
    said = " ".join(_cli("start", path, *where).split())
    assert "backfilling (backfill paused)" in said
    assert f"the backfill is paused (since `qdrant-drift pause`): `qdrant-drift resume {path}" \
        in said


def test_commands_before_any_fit_say_to_run_fit_in_one_line(tmp_path, embedded):
    _, where = embedded
    path = str(migration_file(tmp_path))
    for command in (["cutover"], ["dead-letters"], ["status"], ["finish"], ["pause"]):
        # the command to run, with this file and store: ready to paste
        assert (f"has not been fitted yet: run `qdrant-drift fit {path} {' '.join(where)}` "
                "first") in _refused(*command, path, *where)
    # except to someone who wants out: there is nothing to undo
    assert "nothing to abandon: migration 'docs-v2' was never fitted" in _refused(
        "abandon", path, *where, "--yes")


def test_embedder_dimension_is_checked_by_plan_and_fit_before_anything_is_written(tmp_path):
    db = tmp_path / "qdrant"
    client = QdrantClient(path=str(db))
    build_legacy_collection(client, 160)
    client.close()
    wrong = migration_file(tmp_path)
    wrong.write_text(wrong.read_text().replace("normalize = false",
                                               f"normalize = false\ndimension = {DIM + 1}"))
    for command in ("plan", "fit"):
        assert (f"the new model gives {DIM}-d vectors, but [embedder] dimension says {DIM + 1}"
                in _refused(command, str(wrong), "--path", str(db)))
    client = QdrantClient(path=str(db))
    assert not client.collection_exists("qdrant_drift_state") or not client.count(
        "qdrant_drift_state").count
    client.close()
    right = migration_file(tmp_path, name="right")
    right.write_text(right.read_text().replace("normalize = false",
                                               f"normalize = false\ndimension = {DIM}"))
    assert "points" in _cli("plan", str(right), "--path", str(db))


def test_fit_on_a_missing_collection_is_one_line_naming_what_there_is(tmp_path):
    db = tmp_path / "qdrant"
    QdrantClient(path=str(db)).close()
    assert "collection 'docs' does not exist (there are no collections)" in _refused(
        "fit", str(migration_file(tmp_path)), "--path", str(db))
    client = QdrantClient(path=str(db))
    for name in ("doc", "notes"):
        client.create_collection(name, vectors_config=models.VectorParams(
            size=4, distance=models.Distance.COSINE))
    client.close()
    assert "collection 'docs' does not exist (did you mean 'doc'?)" in _refused(
        "fit", str(migration_file(tmp_path)), "--path", str(db))
    assert "collection 'weather' does not exist (collections here: 'doc', 'notes')" in _refused(
        "fit", str(migration_file(tmp_path, collection="weather")), "--path", str(db))


def test_a_wrong_path_or_an_invalid_file_creates_no_storage_folder(tmp_path, embedded):
    path = str(migration_file(tmp_path))
    wrong = tmp_path / "typo"
    for command in ("plan", "fit", "start", "status", "cutover", "backfill", "dead-letters"):
        message = _refused(command, path, "--path", str(wrong))
        assert f"no embedded Qdrant storage at {wrong} (wrong --path?)" in message
    assert not wrong.exists()
    invalid = tmp_path / "bad.toml"
    invalid.write_text("[migration]\nname = 3\n")
    for command in ("fit", "plan", "start"):
        _refused(command, str(invalid), "--path", str(wrong))
    assert not wrong.exists()


def test_plan_says_when_the_fit_sample_is_the_whole_collection(tmp_path):
    # fit then embeds every point: coverage is 100% before `start` and the backfill finds
    # nothing left, which a newcomer read as a backfill that never ran
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 120)
    report = Migration(client, migration_file(tmp_path, sample_size=500)).plan(sample=8)
    assert report.fit_sample == 120
    assert "covers all 120 points" in report.sample_note()
    small = Migration(client, migration_file(tmp_path, sample_size=100, kind="whitened")).plan(
        sample=8)
    assert small.fit_sample == 100 and small.fit_sample < small.preflight_pairs
    assert "pre-flight quality report needs" in small.sample_note()
    # points without text are not embedded by fit: coverage does not reach 100%
    client.delete_payload("docs", keys=["text"], points=list(range(0, 120, 2)))
    textless = Migration(client, migration_file(tmp_path, sample_size=500)).plan(sample=8)
    assert textless.sample_missing_text > 0
    assert (f"{textless.sample_missing_text} of the 8 points sampled here have none, and such "
            "points stay without a new vector: the backfill dead-letters them and cut-over "
            "waits for them") in textless.sample_note()


def test_a_fit_too_small_for_the_report_warns_once_in_its_own_category_with_the_fix(tmp_path):
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    migration = Migration(client, migration_file(tmp_path, kind="low_rank_affine",
                                                 sample_size=100))
    with pytest.warns(NoPreflightReport) as said:
        adapter = migration.fit()
    assert adapter.quality is None
    needed = preflight_pairs(make_fitter("low_rank_affine"), DIM, DIM)
    assert [str(w.message) for w in said if w.category is NoPreflightReport] == [
        f"100 usable sample pairs are below the {needed} the pre-flight quality report needs "
        f"for the low_rank_affine adapter, so there is none: set [adapter] sample_size to at "
        f"least {needed} and run `qdrant-drift fit` again"]


def test_plan_refuses_a_missing_old_vector_listing_the_vectors_there_are(tmp_path, embedded):
    _, where = embedded
    message = _refused("plan", str(migration_file(tmp_path, old_vector="legacy")), *where)
    assert "no vector 'legacy' (old_vector); it has 'old'" in message


def test_plan_refuses_a_text_field_missing_from_every_sampled_point(tmp_path, embedded):
    _, where = embedded
    message = _refused("plan", str(migration_file(tmp_path, payload_field="body")), *where)
    assert "payload field 'body' ([source] payload_field) is missing or empty in all" in message
    assert "['n', 'text']" in message


def test_plan_says_a_text_field_holds_no_text_rather_than_that_it_is_missing(tmp_path, embedded):
    _, where = embedded  # every point's "n" is its number
    message = _refused("plan", str(migration_file(tmp_path, payload_field="n")), *where)
    assert ("payload field 'n' ([source] payload_field) holds int values, not text, in the "
            "sampled points") in message and "missing" not in message


def test_a_second_migration_of_a_collection_is_refused_before_embedding(tmp_path, embedded):
    _, where = embedded
    _cli("fit", str(migration_file(tmp_path)), *where)
    embedded_marker = tmp_path / "embedded"
    other = migration_file(tmp_path, name="another", embed="slow_embed_texts")
    message = _refused("fit", str(other), *where, env={"DRIFT_TEST_STARTED": str(embedded_marker)})
    assert "already has a migration that has not ended, 'docs-v2'" in message
    # the commands it names are for the other migration's file: not filled with this one
    assert "`qdrant-drift abandon <its file>`" in message and str(other) not in message
    assert not embedded_marker.exists()  # the new model never ran


@pytest.mark.parametrize("after_fit, refused, message", [
    # finish is checked before it asks: with no --yes and no input a prompt would exit 1
    ("start", "finish", "cannot go from 'backfilling' to 'finished': run `qdrant-drift cutover "
                        "{here}` first"),
    ("rollback", "cutover", "cannot go from 'rolled-back' to 'cut-over': run `qdrant-drift "
                            "start {here}` first"),
    # fitted, never started ("status" changes nothing): there is no paused backfill
    ("status", "resume", "migration 'docs-v2' is not paused (phase: fitted); nothing to "
                         "resume: run `qdrant-drift start {here}` to serve it and open the "
                         "backfill"),
])
def test_a_command_in_the_wrong_phase_names_the_command_to_run(tmp_path, embedded, after_fit,
                                                               refused, message):
    _, where = embedded
    path = str(migration_file(tmp_path))
    _cli("fit", path, *where)
    _cli(after_fit, path, *where)
    here = f"{path} {' '.join(where)}"  # this file and store: ready to paste
    assert message.format(here=here) in " ".join(_refused(refused, path, *where).split())


def test_start_and_resume_say_a_worker_runs_only_once_backfill_starts_one(tmp_path, embedded):
    db, where = embedded
    path = str(migration_file(tmp_path))
    _cli("fit", path, *where)
    started = " ".join(_cli("start", path, *where).split())
    # the command to copy names where Qdrant is, as this one did
    assert f"`qdrant-drift backfill {path} --path {db}` runs a worker" in started
    resumed = " ".join(_cli("resume", path, *where).split())
    assert "backfilling (it was not paused: nothing to resume)" in resumed
    _cli("pause", path, *where)
    assert "nothing to resume" not in _cli("resume", path, *where)


def _backfilled_with_an_app(tmp_path: Path, layout: str) -> tuple[QdrantClient, Migration, Any]:
    """A 200-point migration backfilled to the end, and an app's DriftClient on it."""
    from qdrant_drift import DriftClient

    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    migration = Migration(client, migration_file(tmp_path, layout=layout))
    migration.fit()
    migration.start()
    migration.start_backfill(background=False)
    return client, migration, DriftClient(client, "docs-v2", refresh_interval=0)


def test_a_text_edit_through_the_wrapper_is_re_embedded_like_a_plain_clients(tmp_path):
    # blue-green: the wrapper mirrors a payload edit onto the copy, so the copy equals its
    # legacy point again; an edit of the text flags the copy, which is then stale all the same
    client, migration, app = _backfilled_with_an_app(tmp_path, "collection")
    app.set_payload("docs", {"text": doc_text(3, version=1)}, points=[3])
    app.set_payload("docs", {"tag": "kept"}, points=[4])  # not the text: the copy is current
    # a replaced payload replaces the copy's stamp too: it must stay the backfill's copy
    app.overwrite_payload("docs", {"text": doc_text(5, version=1)}, points=[5])
    with pytest.raises(StateError, match="cut-over refused: 2 of 200 points"):
        migration.cutover()
    assert migration.start_backfill(background=False).written == 2
    for i in (3, 5):
        (copy,) = client.retrieve("docs_new", [i], with_vectors=True, with_payload=True)
        assert np.allclose(copy.vector, text_vector(doc_text(i, version=1)), atol=1e-5)
        assert copy.payload["text"] == doc_text(i, version=1)
    assert migration.cutover().phase.value == "cut-over"


def test_a_text_edit_through_the_wrapper_is_re_embedded_in_the_named_layout_too(tmp_path):
    # before cut-over the wrapper drops the backfill's vector of an edited text, so the
    # backfill embeds the new text (the old text's vector passed cut-over and finish)
    client, migration, app = _backfilled_with_an_app(tmp_path, "named")
    app.set_payload("docs", {"text": doc_text(3, version=1)}, points=[3])
    app.set_payload("docs", {"tag": "kept"}, points=[4])  # not the text: its vector is current
    app.overwrite_payload("docs", {"text": doc_text(5, version=1)}, points=[5])
    app.batch_update_points("docs", [models.DeletePayloadOperation(
        delete_payload=models.DeletePayload(keys=["text"], points=[6]))])
    # a new vector the app wrote itself is of the old text all the same once it is edited
    app.upsert("docs", [models.PointStruct(id=8, payload={"text": doc_text(8, version=1)},
                                           vector={"new": text_vector(doc_text(8, version=1))})])
    app.set_payload("docs", {"text": doc_text(8, version=2)}, points=[8])
    with pytest.raises(StateError, match="cut-over refused: 4 of 200 points"):
        migration.cutover()
    assert migration.start_backfill(background=False).written == 3  # 6 has no text now
    (point,) = client.retrieve("docs", [8], with_vectors=True)
    assert np.allclose(point.vector["new"], text_vector(doc_text(8, version=2)), atol=1e-5)
    for i in (3, 5):
        (point,) = client.retrieve("docs", [i], with_vectors=True)
        assert np.allclose(point.vector["new"], text_vector(doc_text(i, version=1)), atol=1e-5)
    (kept,) = client.retrieve("docs", [4], with_vectors=True)
    assert np.allclose(kept.vector["new"], text_vector(doc_text(4)), atol=1e-5)
    assert [d["point_id"] for d in migration.dead_letters()] == [6]
    # after cut-over the new vectors serve: an edit no longer drops one (the point would
    # vanish from search); as in an app that was never migrated, the text's owner re-embeds
    migration.cutover(force=True)
    app.refresh()
    app.set_payload("docs", {"text": doc_text(7, version=1)}, points=[7])
    (point,) = client.retrieve("docs", [7], with_vectors=True)
    assert "new" in point.vector


def test_no_eta_while_no_worker_writes(tmp_path, monkeypatch):
    # after a Ctrl-C, status said "ETA 0m05s" with no worker running
    monkeypatch.setenv("DRIFT_TEST_EMBED_DELAY", "0.3")
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 400)
    migration = Migration(client, migration_file(tmp_path, embed="slow_embed_texts",
                                                 sample_size=100))
    migration.fit()
    migration.start()
    # 300 points in batches of 8 at 0.3 s a batch: an ETA takes 3 s of writes to show
    handle = migration.start_backfill(background=True, sample_interval_s=0.2, batch_size=8)
    deadline = time.time() + 60
    while migration.progress().eta_s is None and time.time() < deadline:
        time.sleep(0.1)
    assert migration.progress().eta_s is not None  # a worker writes: an ETA
    handle.stop()
    assert handle.join(60).state == "stopped"
    stopped = migration.progress()
    assert stopped.migrated < 400 and stopped.eta_s is None and stopped.items_per_s is None


@pytest.mark.parametrize("layout", ["named", "collection"])
def test_abandon_while_a_background_backfill_runs_stops_it_quietly(tmp_path, layout):
    # abandon drops the new vector (or collection) the worker writes to: its next write
    # fails, and that is the end of the backfill, not an error for join() to raise
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    migration = Migration(client, migration_file(tmp_path, layout=layout,
                                                 embed="slow_embed_texts"))
    migration.fit()
    migration.start()
    handle = migration.start_backfill(background=True)
    deadline = time.time() + 60
    while handle.progress().written == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert migration.abandon().phase.value == "abandoned"
    stats = handle.join(60)
    assert stats.state == "stopped"
    info = client.get_collection("docs").config.params.vectors
    assert "new" not in info and not client.collection_exists("docs_new")


def test_finish_refuses_before_it_asks_when_a_plain_client_edited_copied_points(
        tmp_path, embedded):
    # blue-green: a copy whose legacy point's payload a plain client edited since is stale;
    # finish must say so before "This cannot be undone?", not after the user said yes
    db, where = embedded
    path = str(migration_file(tmp_path, layout="collection"))
    for command in ("fit", "start"):
        _cli(command, path, *where)
    said = _cli("backfill", path, *where).strip().splitlines()
    # off a terminal the last lines are where the collection is now, then what the worker did
    assert said[-2].strip() == "100.0% migrated (200/200)" and " finished: " in said[-1]
    _cli("cutover", path, *where)
    client = QdrantClient(path=str(db))
    client.set_payload("docs", {"text": doc_text(3, version=1)}, points=[3])
    client.close()
    said = _refused("finish", path, *where)  # no --yes and no input: a prompt would exit 1
    assert ("finish refused: 1 of 200 points lack the new vector or were edited since they "
            "were copied") in said and "qdrant-drift backfill" in said
    _cli("backfill", path, *where)
    assert "finished" in _cli("finish", path, *where, "--yes")


def test_a_sample_too_small_for_the_report_is_said_and_start_warns(tmp_path, embedded):
    _, where = embedded
    path = str(migration_file(tmp_path, kind="low_rank_affine", sample_size=100))
    fitted = " ".join(_cli("fit", path, *where).split())
    # said once, by the report's line, with the real need (it said "too few pairs to hold any
    # out", but 100 pairs could hold some out) and the fix; no warning repeats it
    needed = preflight_pairs(make_fitter("low_rank_affine"), DIM, DIM)
    assert (f"no pre-flight report: it needs at least {needed} pairs, the fit sample has 100 "
            "(raise [adapter] sample_size)") in fitted
    assert "warning" not in fitted.lower()
    started = _cli("start", path, *where)
    warnings = [line for line in started.splitlines() if "warning" in line.lower()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: migration 'docs-v2' serves"), (
        started)
    assert "UserWarning" not in fitted + started and "warnings.warn" not in fitted + started


def test_an_unnamed_legacy_vector_migrates_blue_green_with_plain_writers_unbroken(tmp_path):
    db = tmp_path / "qdrant"
    client = QdrantClient(path=str(db))
    client.create_collection("docs", vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.COSINE))
    old = old_vectors(121)
    client.upsert("docs", [models.PointStruct(id=i, vector=old[i].tolist(),
                                              payload={"text": doc_text(i)}) for i in range(120)])
    client.close()
    where = ["--path", str(db)]
    named = str(migration_file(tmp_path, name="named", old_vector="", sample_size=120))
    assert 'use layout = "collection"' in _refused("plan", named, *where)
    path = str(migration_file(tmp_path, old_vector="", sample_size=120, layout="collection"))
    _cli("fit", path, *where)  # the sample is the whole collection
    _cli("start", path, *where)
    client = QdrantClient(path=str(db))  # a legacy app, not wrapped, writes as it always did
    client.upsert("docs", [models.PointStruct(id=120, vector=old[120].tolist(),
                                              payload={"text": doc_text(120)})])
    client.close()
    assert "1 written" in " ".join(_cli("backfill", path, *where).split())
    cut = " ".join(_cli("cutover", path, *where).split())
    assert "cut-over" in cut and f"`qdrant-drift finish {path} --path {where[1]}`" in cut
    assert f"`qdrant-drift rollback {path} --path {where[1]}` goes back at once" in cut
    finished = " ".join(_cli("finish", path, *where, "--yes").split())
    assert "migration 'docs-v2' is finished; dropped the legacy collection 'docs'" in finished
    again = " ".join(_cli("finish", path, *where).split())  # no --yes: nothing to ask
    assert "is finished; kept things as they are (it was finished already" in again
    status = json.loads(_cli("status", path, *where, "--json"))
    assert status["phase"] == "finished"
    client = QdrantClient(path=str(db))
    assert client.count("docs_new").count == 121
    client.close()
    nxt = migration_file(tmp_path, name="docs-v3", old_vector="", layout="collection",
                         collection="docs_new")
    assert "fitted" in _cli("fit", str(nxt), *where)


def _fitted_in_a_folder(tmp_path: Path) -> tuple[str, Path]:
    """A migration file fitted by the CLI on a 150-point embedded collection, and its folder."""
    db = tmp_path / "qdrant"
    client = QdrantClient(path=str(db))
    build_legacy_collection(client, 150)
    client.close()
    path = str(migration_file(tmp_path, sample_size=120))
    _cli("fit", path, "--path", str(db))
    return path, db


def test_status_watch_piped_prints_a_table_per_refresh(tmp_path, monkeypatch):
    # `status --watch > log` (or under a tool that reads its output): a refresh in place
    # prints nothing until it exits, so off a terminal every refresh prints its table
    import qdrant_drift.cli.lifecycle as cli

    path, db = _fitted_in_a_folder(tmp_path)
    naps = []

    def nap(seconds):  # the third refresh is interrupted (Ctrl-C)
        naps.append(seconds)
        if len(naps) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli.time, "sleep", nap)
    out = CliRunner().invoke(app, ["status", path, "--path", str(db), "--watch",
                                   "--interval", "0.5"])
    assert out.exit_code == 0 and out.output.count("coverage") == 3 and naps == [0.5] * 3


def test_status_watch_ends_when_the_reader_of_its_output_leaves(tmp_path, monkeypatch):
    # `status --watch | head`: a watch has no end of its own, so it must not go on unseen
    import qdrant_drift.cli.lifecycle as cli

    path, db = _fitted_in_a_folder(tmp_path)
    monkeypatch.setattr(cli.console, "quiet", False)  # put back as it was after the test
    naps = []

    def reader_leaves(seconds):  # the pipe breaks during the first wait
        naps.append(seconds)
        cli.console.quiet = True  # what the console does on a broken pipe

    monkeypatch.setattr(cli.time, "sleep", reader_leaves)
    out = CliRunner().invoke(app, ["status", path, "--path", str(db), "--watch",
                                   "--interval", "0.5"])
    assert out.exit_code == 0 and out.output.count("coverage") == 1 and naps == [0.5]


def test_abandon_from_the_cli_asks_says_what_it_dropped_and_frees_the_collection(tmp_path):
    db = tmp_path / "qdrant"
    client = QdrantClient(path=str(db))
    build_legacy_collection(client, 150)
    client.close()
    where = ["--path", str(db)]
    path = str(migration_file(tmp_path, sample_size=120))
    _cli("fit", path, *where)
    _cli("start", path, *where)
    declined = CliRunner().invoke(app, ["abandon", path, *where], input="n\n")
    assert declined.exit_code == 1 and "drop the new vector 'new' of 'docs'" in declined.output
    assert "not abandoned: nothing changed" in declined.output
    # a script with nothing on its input (CI, </dev/null): told about --yes, in one line
    unanswered = CliRunner().invoke(app, ["abandon", path, *where], input="")
    assert unanswered.exit_code == 2, unanswered.output
    assert ("no answer to confirm abandon (the input ended): pass --yes to abandon without "
            "asking") in " ".join(unanswered.output.split())
    said = " ".join(_cli("abandon", path, *where, "--yes").split())
    assert "migration 'docs-v2' is abandoned; dropped the new vector 'new' of 'docs'" in said
    assert json.loads(_cli("status", path, *where, "--json"))["phase"] == "abandoned"
    again = " ".join(_cli("abandon", path, *where).split())  # no --yes: nothing to ask
    assert "abandoned already: nothing left to drop" in again and "dropped" not in again
    assert "abandoned; start a new one" in _refused("cutover", path, *where)
    assert "fitted" in _cli("fit", path, *where)  # the same file starts over


def test_no_server_at_url_and_a_model_that_cannot_load_are_one_line_each(tmp_path):
    path = str(migration_file(tmp_path))
    result = CliRunner().invoke(app, ["status", path, "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    # qdrant-client's own compatibility warning may come first, as one line
    assert all(line.startswith("warning: ") for line in lines[:-1]), result.output
    said = " ".join(result.output.split())
    assert lines[-1].startswith("error: cannot reach Qdrant at http://127.0.0.1:9"), said
    assert "server running" in said
    db = tmp_path / "qdrant"
    client = QdrantClient(path=str(db))
    build_legacy_collection(client, 20)
    client.close()
    typo = migration_file(tmp_path, name="typo")
    typo.write_text(typo.read_text().replace(
        'kind = "callable"\ncallable = "tests.backfill_fixtures:embed_texts"\nnormalize = false',
        'kind = "sentence-transformers"\nmodel = "no-such-org/no-such-model"'))
    # by default nothing is downloaded: a name the cache does not hold fails at once
    said = _refused("plan", str(typo), "--path", str(db), env={"HF_HUB_OFFLINE": ""})
    assert "cannot load the model 'no-such-org/no-such-model' ([embedder] model)" in said
    assert "nothing is downloaded (HF_HUB_OFFLINE=0 allows it)" in said
    if importlib.util.find_spec("torch") is not None and not _has_cuda():
        gpu = migration_file(tmp_path, name="gpu")
        gpu.write_text(gpu.read_text().replace(
            'kind = "callable"\ncallable = "tests.backfill_fixtures:embed_texts"\nnormalize = false',
            'kind = "sentence-transformers"\nmodel = "sentence-transformers/all-MiniLM-L6-v2"\n'
            'device = "cuda"'))
        said = _refused("plan", str(gpu), "--path", str(db), env={"HF_HUB_OFFLINE": "1"})
        assert "cannot put the model on device 'cuda' ([embedder] device)" in said


@pytest.mark.parametrize("setting, allowed", [
    (None, False), ("", False), ("1", False), ("0", True), ("false", True)])
def test_models_are_downloaded_only_when_hf_hub_offline_0_asks_for_it(monkeypatch, setting,
                                                                       allowed):
    from qdrant_drift.embedders import downloads_allowed

    if setting is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", setting)
    assert downloads_allowed() is allowed


def test_a_model_loads_with_the_hub_offline_and_the_setting_is_put_back(monkeypatch):
    # local_files_only alone still let huggingface_hub ask the Hub for its agent registry
    import huggingface_hub.constants as hub
    import sentence_transformers

    from qdrant_drift.embedders import SentenceTransformerEmbedder

    seen = []

    def loads(name, **options):
        seen.append((hub.HF_HUB_OFFLINE, os.environ.get("HF_HUB_OFFLINE"),
                     options.get("local_files_only")))
        raise OSError("not in the cache")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", loads)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    before = hub.HF_HUB_OFFLINE
    with pytest.raises(EmbedderSetupError, match="nothing is downloaded"):
        SentenceTransformerEmbedder("no-such-org/no-such-model")(["a text"])
    assert seen == [(True, "1", True)]
    assert hub.HF_HUB_OFFLINE == before and "HF_HUB_OFFLINE" not in os.environ


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_the_cli_runs_a_migration_on_an_embedded_qdrant(tmp_path, monkeypatch):
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
    monkeypatch.chdir(tmp_path)  # without --png: the migration's name, here
    assert "wrote docs-v2-report.png" in _cli("report", str(path), *where)
    assert (tmp_path / "docs-v2-report.png").is_file()
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
    # stopped, not done: 128 + SIGTERM, so `backfill && cutover` does not go on
    assert worker.returncode == 128 + signal.SIGTERM and "stopped" in output, output
    client = QdrantClient(path=str(db))
    try:
        progress = Migration(client, path).progress()
        assert 0 < progress.migrated < 400
        assert progress.workers[0].state == "stopped" and not progress.workers[0].alive
    finally:
        client.close()


@pytest.mark.parametrize("sample_size", [120, 180])  # a part of the collection, all of it
def test_a_fit_with_the_same_seed_gives_the_same_adapter_and_report(tmp_path, sample_size):
    # Qdrant's own random sample is unseeded and comes in a random order: the fit draws its
    # sample from the ids with the file's seed instead, and puts it in id order
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 180)
    path = migration_file(tmp_path, sample_size=sample_size)
    first = Migration(client, path).fit()
    Migration(client, path).abandon()
    second = Migration(client, path).fit()
    assert first.info["quality"] == second.info["quality"]
    assert np.array_equal(first.map.weight, second.map.weight)


def test_a_migration_name_stays_with_its_collection_even_after_it_ended(tmp_path):
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    build_legacy_collection(client, 200, collection="other")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = Migration(client, migration_file(tmp_path / "a", collection="docs"))
    first.fit()
    first.abandon()
    # the same [migration] name for another collection: refused, before anything is embedded
    second = Migration(client, migration_file(tmp_path / "b", collection="other"))
    with pytest.raises(StateError, match="migration 'docs-v2' in Qdrant migrates collection "
                       "'docs' .* says collection 'other'.*give .* its own \\[migration\\] name"):
        second.fit()
    # and no command run through that file touches the other collection's migration
    for command in (second.abandon, second.start, second.progress, second.record):
        with pytest.raises(StateError, match="migrates collection 'docs'"):
            command()
    assert first.record().phase is Phase.ABANDONED


def test_a_file_whose_vector_names_changed_since_the_fit_is_refused_until_abandoned(tmp_path):
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    path = migration_file(tmp_path)
    Migration(client, path).fit()
    edited = tmp_path / "edited.toml"
    edited.write_text(path.read_text().replace('new_vector = "new"', 'new_vector = "new2"'))
    with pytest.raises(StateError, match="says new_vector = 'new2' \\(Qdrant's: 'new'\\), "
                       "but migration 'docs-v2' in Qdrant \\(phase 'fitted'\\).*put .*back as "
                       "it was; to change it, abandon"):
        Migration(client, edited).start()
    assert Migration(client, path).record().phase is Phase.FITTED  # nothing moved
    Migration(client, path).abandon()  # the way out: abandoned, the new name may be fitted
    assert Migration(client, edited).fit().info["pairs"] > 0
    assert Migration(client, edited).record().spec.new_vector == "new2"


def test_a_point_the_embedder_cannot_take_is_left_out_of_the_fit_and_dead_lettered_later(
        tmp_path):
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    migration = Migration(client, migration_file(tmp_path, embed="picky_embed_texts",
                                                 sample_size=200))
    with pytest.warns(UserWarning, match="1 of the 200 points of the fit's sample could not be "
                      "embedded and were left out of it \\(the first: point 7, embedder "
                      "failed: ValueError\\('cannot tokenize document 7'\\)\\); the backfill "
                      "will dead-letter them"):
        adapter = migration.fit()
    assert adapter.info["pairs"] == 199
    migration.start()
    stats = migration.start_backfill(background=False)
    assert stats.dead_lettered == 1 and migration.dead_letters()[0]["point_id"] == 7


def test_a_fit_embedding_one_text_at_a_time_leaves_out_a_first_text_it_cannot_take(tmp_path):
    # a one-item batch of poison first: no width to stack yet, and the fit goes on
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    path = migration_file(tmp_path, embed="first_text_refused", sample_size=100)
    path.write_text(path.read_text().replace("normalize = false", "normalize = false\n"
                                             "batch_size = 1"))
    with pytest.warns(UserWarning, match="1 of the 100 points of the fit.s sample could not"):
        adapter = Migration(client, path).fit()
    assert adapter.info["pairs"] == 99


@pytest.mark.parametrize("layout, fate, after", [
    ("named", "they stay in 'docs' without a new vector: search no longer finds them",
     (199, 200)),  # the point given up stays, and status does not count it as migrated
    ("collection", "they were never copied to 'docs_new' and go with 'docs': lost",
     (199, 199)),
])
def test_a_forced_finish_says_how_many_points_it_gives_up_and_what_becomes_of_them(
        tmp_path, layout, fate, after):
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    client.delete_payload("docs", keys=["text"], points=[9])  # a dead letter to be
    migration = Migration(client, migration_file(tmp_path, layout=layout, sample_size=120))
    migration.fit()
    migration.start()
    migration.start_backfill(background=False)
    migration.cutover(force=True)
    with pytest.raises(StateError, match="finish refused: 1 of 200 points"):
        migration.check_finish()  # unforced: refused, nothing given up
    note = migration.check_finish(force=True)
    assert ", and give up the 1 of 200 points that lack the new vector" in note
    assert note.endswith(f"({fate})")
    migration.finish(force=True)
    progress = migration.progress()
    assert (progress.migrated, progress.total) == after


def test_a_migration_fitted_again_after_abandon_starts_without_the_old_runs_dead_letters(
        tmp_path):
    # the old run's dead letter kept its point from ever being tried again, fixed or not
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    client.delete_payload("docs", keys=["text"], points=[9])
    path = migration_file(tmp_path, sample_size=120)
    migration = Migration(client, path)
    migration.fit()
    migration.start()
    migration.start_backfill(background=False)
    assert [d["point_id"] for d in migration.dead_letters()] == [9]
    migration.abandon()
    client.set_payload("docs", {"text": "the text, back"}, points=[9])
    migration = Migration(client, path)
    migration.fit()
    assert migration.dead_letters() == [] and migration.progress().workers == ()
    migration.start()
    migration.start_backfill(background=False)
    progress = migration.progress()
    assert (progress.migrated, progress.total, progress.dead_letters) == (200, 200, 0)


def test_dead_letters_cannot_be_requeued_once_the_migration_has_ended(tmp_path):
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    client.delete_payload("docs", keys=["text"], points=[9])
    migration = Migration(client, migration_file(tmp_path, sample_size=120))
    migration.fit()
    migration.start()
    migration.start_backfill(background=False)
    migration.cutover(force=True)
    migration.finish(force=True)
    with pytest.raises(StateError, match="is finished: no backfill runs any more to retry "
                                         "its dead letters; a next upgrade is a new migration"):
        migration.requeue_dead_letters()
    assert len(migration.dead_letters()) == 1  # the record of what finish gave up


def test_a_fit_draws_more_points_when_some_have_no_text_to_get_the_pairs_asked_for(tmp_path):
    # plan counts on [adapter] sample_size pairs: points with no text in the draw used to
    # leave the fit short of them (196 of 200, below what the pre-flight report needs)
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 400)
    client.delete_payload("docs", keys=["text"], points=list(range(0, 400, 10)))  # 10%
    migration = Migration(client, migration_file(tmp_path, sample_size=200))
    assert migration.fit().info["pairs"] == 200


def test_a_fit_whose_embedder_fails_on_most_of_the_sample_stops_with_one_error(tmp_path):
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 200)
    broken = CallableEmbedder(lambda texts: [[float("nan")] * 8 for _ in texts])
    with pytest.raises(EmbedderSetupError, match="gave no usable vector .*NaN"):
        Migration(client, migration_file(tmp_path), embedder=broken).fit()


def test_after_a_blue_green_finish_the_apps_name_for_the_collection_still_reads_by_id(tmp_path):
    import asyncio

    from qdrant_client import AsyncQdrantClient

    from qdrant_drift import wrap

    client = QdrantClient(path=str(tmp_path / "db"))
    build_legacy_collection(client, 150)
    migration = Migration(client, migration_file(tmp_path, sample_size=150,
                                                 layout="collection"))  # no alias
    migration.fit()
    migration.start()
    migration.cutover()
    migration.finish()
    assert not client.collection_exists("docs")
    app = wrap(client, "docs-v2")  # the app keeps the name it always used
    assert app.count("docs").count == 150
    assert [p.id for p in app.retrieve("docs", [3, 7])] == [3, 7]
    assert len(app.scroll("docs", limit=5)[0]) == 5
    assert app.count(collection_name="docs", exact=True).count == 150
    assert app.collection_exists("docs_new")  # other names pass through as they are
    client.close()

    async def async_app() -> tuple[int, list[int]]:
        wrapped = wrap(AsyncQdrantClient(path=str(tmp_path / "db")), "docs-v2")
        try:  # a passthrough read as the very first call: the state is read for it
            return ((await wrapped.count("docs")).count,
                    [p.id for p in await wrapped.retrieve("docs", [4])])
        finally:
            await wrapped.close()

    assert asyncio.run(async_app()) == (150, [4])
