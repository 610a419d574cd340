"""The backfill as a person runs it from a shell: Ctrl-C on a piped worker, commands on a
folder a worker holds, a worker started while paused, and what status and plan print."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from qdrant_client import QdrantClient
from qdrant_client.http import models
from rich.console import Console

from qdrant_drift.cli.lifecycle import _figure, _share, status_table
from qdrant_drift.errors import StateError
from qdrant_drift.lifecycle.facade import Migration
from qdrant_drift.lifecycle.progress import Progress

from .backfill_fixtures import build_legacy_collection
from .test_lifecycle import ROOT, migration_file


def legacy_folder(tmp_path: Path, n: int) -> Path:
    """An embedded Qdrant folder holding a legacy collection of ``n`` points, closed."""
    db = tmp_path / "qdrant"
    client = QdrantClient(path=str(db))
    build_legacy_collection(client, n)
    client.close()
    return db


def started_migration(tmp_path: Path, n: int = 300, embed: str = "slow_embed_texts"
                      ) -> tuple[Path, Path]:
    db = legacy_folder(tmp_path, n)
    path = migration_file(tmp_path, embed=embed)
    client = QdrantClient(path=str(db))
    Migration(client, path).fit()
    Migration(client, path).start()
    client.close()
    return path, db


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "qdrant_drift", *args]


def test_ctrl_c_on_a_worker_piped_into_tee_stops_it_gracefully(tmp_path):
    path, db = started_migration(tmp_path)
    started, status = tmp_path / "started", tmp_path / "status"
    command = (f"({' '.join(cli('backfill', str(path), '--path', str(db)))}; "
               f"echo $? > {status}) | tee {tmp_path / 'log'}")
    shell = subprocess.Popen(["bash", "-c", command], cwd=ROOT, start_new_session=True,
                             env=env(DRIFT_TEST_STARTED=str(started),
                                     DRIFT_TEST_EMBED_DELAY="0.3"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not started.exists() and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)  # a few batches in; at 0.3 s a batch, far from the end on any machine
    os.killpg(shell.pid, signal.SIGINT)  # what Ctrl-C does: the worker and tee both get it
    shell.wait(60)
    # 128 + SIGINT: stopped, not done; not 139 (a crash) nor 1 (a broken pipe)
    assert status.read_text().strip() == "130"
    client = QdrantClient(path=str(db))
    try:
        progress = Migration(client, path).progress()
        assert progress.workers[0].state == "stopped" and 0 < progress.migrated < 300
    finally:
        client.close()


def test_a_backfill_whose_embedder_is_down_stops_with_one_line_that_says_how_to_go_on(
        tmp_path):
    path, db = started_migration(tmp_path, n=400, embed="down_embed_texts")  # fit: 150
    down = subprocess.run(cli("backfill", str(path), "--path", str(db)), cwd=ROOT,
                          env=env(DRIFT_TEST_EMBEDDER_DOWN="1"), capture_output=True,
                          text=True, timeout=120)
    assert down.returncode != 0 and "Traceback" not in down.stderr + down.stdout
    said = [line for line in (down.stdout + down.stderr).splitlines() if "error:" in line]
    assert len(said) == 1 and "failed on the last 48 items it was given, every one" in said[0]
    assert f"`qdrant-drift dead-letters {path} --path {db} --requeue`" in said[0]  # pastable
    requeued = subprocess.run(cli("dead-letters", str(path), "--path", str(db), "--requeue"),
                              cwd=ROOT, env=env(), capture_output=True, text=True, timeout=120)
    assert "re-queued 48 items" in requeued.stdout
    fixed = subprocess.run(cli("backfill", str(path), "--path", str(db)), cwd=ROOT, env=env(),
                           capture_output=True, text=True, timeout=120)
    assert fixed.returncode == 0 and "250 written" in fixed.stdout, fixed.stdout + fixed.stderr


def test_fit_whose_embedder_is_down_is_one_line_and_fits_once_it_is_back(tmp_path):
    db = legacy_folder(tmp_path, 200)
    path = migration_file(tmp_path, embed="down_embed_texts")
    down = subprocess.run(cli("fit", str(path), "--path", str(db)), cwd=ROOT,
                          env=env(DRIFT_TEST_EMBEDDER_DOWN="1"), capture_output=True,
                          text=True, timeout=120)
    said = (down.stdout + down.stderr).strip().splitlines()
    assert down.returncode == 2 and "Traceback" not in down.stdout + down.stderr
    assert said[-1].startswith("error: the new model's embedder failed on the fit's sample: "
                               "ConnectionError('embedding service unreachable')")
    back = subprocess.run(cli("fit", str(path), "--path", str(db)), cwd=ROOT, env=env(),
                          capture_output=True, text=True, timeout=120)
    assert back.returncode == 0 and "fitted" in back.stdout


def test_a_run_that_dead_letters_everything_it_tried_says_nothing_was_written(tmp_path):
    path, db = started_migration(tmp_path, n=180, embed="down_embed_texts")  # 30 left: 2 batches
    down = subprocess.run(cli("backfill", str(path), "--path", str(db)), cwd=ROOT,
                          env=env(DRIFT_TEST_EMBEDDER_DOWN="1"), capture_output=True,
                          text=True, timeout=120)
    said = " ".join((down.stdout + down.stderr).split())
    assert down.returncode == 0 and "0 written, 0 skipped, 30 dead letters" in said
    assert (f"nothing was written: every item this run tried is a dead letter; "
            f"`qdrant-drift dead-letters {path} --path {db}` shows why") in said
    listed = subprocess.run(cli("dead-letters", str(path), "--path", str(db)), cwd=ROOT,
                            env=env(), capture_output=True, text=True, timeout=120)
    ids = [int(m) for m in re.findall(r"^\S\s+(\d+)\s", listed.stdout, re.MULTILINE)]
    assert len(ids) == 30 and ids == sorted(ids)  # listed by id
    # the next run has nothing to do, and its own counts are zeros: the dead letters of the
    # run before still hold cut-over, and it says so
    again = subprocess.run(cli("backfill", str(path), "--path", str(db)), cwd=ROOT, env=env(),
                           capture_output=True, text=True, timeout=120)
    said = " ".join((again.stdout + again.stderr).split())
    assert again.returncode == 0 and "0 written, 0 skipped, 0 dead letters" in said
    assert ("30 points are dead letters (this run's and earlier ones'): cut-over waits for "
            f"them; `qdrant-drift dead-letters {path} --path {db}` shows why") in said
    # a forced cut-over says what it gave up, and the backfill after it names the next wait
    forced = subprocess.run(cli("cutover", str(path), "--path", str(db), "--force"), cwd=ROOT,
                            env=env(), capture_output=True, text=True, timeout=120)
    said = " ".join((forced.stdout + forced.stderr).split())
    assert forced.returncode == 0
    assert ("30 of 180 points lack the new vector: search no longer finds them until the "
            "backfill writes them (30 are dead letters: `qdrant-drift dead-letters "
            f"{path} --path {db}` shows why") in said
    after = subprocess.run(cli("backfill", str(path), "--path", str(db)), cwd=ROOT, env=env(),
                           capture_output=True, text=True, timeout=120)
    assert "30 points are dead letters (this run's and earlier ones'): finish waits for them" \
        in " ".join((after.stdout + after.stderr).split())


def test_ctrl_c_during_fit_says_interrupted_and_a_second_fit_works(tmp_path):
    db = legacy_folder(tmp_path, 300)
    path = migration_file(tmp_path, embed="slow_embed_texts")
    started = tmp_path / "started"
    fit = subprocess.Popen(cli("fit", str(path), "--path", str(db)), cwd=ROOT, text=True,
                           env=env(DRIFT_TEST_STARTED=str(started), DRIFT_TEST_EMBED_DELAY="1"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not started.exists() and time.time() < deadline:
        time.sleep(0.02)
    fit.send_signal(signal.SIGINT)  # in the middle of embedding the sample
    out, err = fit.communicate(timeout=60)
    assert fit.returncode == 130 and err.strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in out + err
    again = subprocess.run(cli("fit", str(path), "--path", str(db)), cwd=ROOT, env=env(),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "fitted" in again.stdout


def test_a_command_on_a_folder_a_worker_holds_says_what_to_do_in_one_line(tmp_path):
    path, db = started_migration(tmp_path, n=150)
    holder = QdrantClient(path=str(db))  # stands for a running worker process
    try:
        result = subprocess.run(cli("status", str(path), "--path", str(db)), cwd=ROOT,
                                env=env(), capture_output=True, text=True, timeout=120)
    finally:
        holder.close()
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "one process per folder" in result.stderr and "--url" in result.stderr


def test_a_worker_started_while_paused_says_paused_once(tmp_path):
    path, db = started_migration(tmp_path, n=150)
    client = QdrantClient(path=str(db))
    Migration(client, path).pause()
    client.close()
    worker = subprocess.Popen(cli("backfill", str(path), "--path", str(db)), cwd=ROOT,
                              env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    time.sleep(12)  # long enough for three progress reports off a terminal
    worker.send_signal(signal.SIGTERM)
    output = worker.communicate(timeout=60)[0]
    lines = [line for line in output.splitlines() if "migrated" in line]
    assert lines and "paused" in lines[0] and "ETA - (paused)" in lines[0], output
    assert len(lines) == len(set(lines)), output  # an unchanged line is not repeated
    assert "status unavailable" not in output
    # it holds the folder, so `resume` cannot run beside it: said once, with the way out
    assert " ".join(output.split()).count(
        "`qdrant-drift resume` cannot run beside it: stop it (Ctrl-C)") == 1


def test_status_while_a_background_worker_runs_on_embedded_qdrant_always_answers(tmp_path):
    path, db = started_migration(tmp_path, n=200)
    client = QdrantClient(path=str(db))
    try:
        migration = Migration(client, path)
        handle = migration.start_backfill(background=True)
        seen = [migration.progress().migrated for _ in range(40)]
        handle.stop()
        handle.join(60)
        assert seen == sorted(seen)
    finally:
        client.close()


def shown(progress: Progress) -> str:
    out = io.StringIO()
    Console(file=out, width=200).print(status_table(progress))
    return out.getvalue()


def test_status_with_no_worker_running_says_why_it_shows_no_rate():
    idle = Progress(name="m", collection="docs", layout="named", phase="backfilling",
                    plan="hybrid", migrated=10, total=40)
    assert shown(idle).count("- (no backfill worker running)") == 2  # throughput and ETA
    fitted = Progress(name="m", collection="docs", layout="named", phase="fitted",
                      plan="adapted", migrated=0, total=40)
    assert "no backfill worker running" not in shown(fitted)  # no backfill to run yet


def test_status_of_a_paused_backfill_shows_no_eta_and_a_finished_one_says_what_is_next():
    paused = Progress(name="m", collection="docs", layout="named",
                      phase="backfilling (paused)", plan="hybrid", migrated=10, total=40,
                      items_per_s=2.5, eta_s=12.0)
    text = shown(paused)
    assert "- (paused)" in text and "0m12s" not in text
    complete = Progress(name="m", collection="docs", layout="named", phase="backfilling",
                        plan="hybrid", migrated=40, total=40, items_per_s=2.5, eta_s=0.0)
    assert "`qdrant-drift cutover FILE` next" in shown(complete)
    out = io.StringIO()  # the CLI fills in this run's file and store, ready to paste
    Console(file=out, width=200).print(status_table(complete, where="m.toml --path qd"))
    assert "`qdrant-drift cutover m.toml --path qd` next" in out.getvalue()


def test_plan_figures_are_rounded():
    assert _figure(2.8344869083125745) == "2.83"
    assert _figure(12650.4321) == "12,650.4"
    assert _figure(None) == "-" and _figure(7) == "7"


def test_the_cut_over_refusal_says_how_to_get_out(tmp_path):
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 150)
    migration = Migration(client, migration_file(tmp_path))
    migration.fit()
    migration.start()
    client.upsert("docs", [models.PointStruct(id=150, vector={"old": [0.25] * 16},
                                              payload={"text": "written by the legacy app"})])
    with pytest.raises(StateError) as refused:
        migration.cutover()
    assert "qdrant-drift backfill" in str(refused.value)
    assert "dead-letters --requeue" in str(refused.value)


def run_program(program: str, **options) -> subprocess.CompletedProcess:
    """``python -c program`` in the project, its output captured."""
    return subprocess.run([sys.executable, "-c", program], cwd=ROOT, env=env(),
                          capture_output=True, text=True, timeout=60, **options)


def test_ctrl_c_while_the_command_line_is_still_importing_ends_it_without_a_traceback():
    # the interrupt lands 20 ms in: Typer, Rich and qdrant-client take far longer to import
    program = ("import os, signal, sys, threading\n"
               "threading.Timer(0.02, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
               "sys.argv = ['qdrant-drift', '--help']\n"
               "from qdrant_drift._entry import main\n"
               "main()\n")
    done = run_program(program)
    assert (done.returncode, done.stderr.strip()) == (130, "aborted")


def test_ctrl_c_at_a_confirmation_prompt_exits_130_like_anywhere_else():
    program = ("import importlib, os, signal, sys, threading, typer\n"
               "app = importlib.import_module('qdrant_drift.cli.app')\n"
               "def asks(**kw):\n"
               "    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
               "    typer.confirm('Finish it?')\n"
               "app.app = asks\n"
               "app.main()\n")
    silent, keeps_open = os.pipe()  # a terminal nobody types in: the prompt waits
    try:
        asked = run_program(program, stdin=silent)
    finally:
        os.close(silent)
        os.close(keeps_open)
    said = asked.stderr.strip().splitlines()
    assert (asked.returncode, said[-1]) == (130, "aborted"), asked.stdout + asked.stderr


def test_a_sigint_the_parent_left_ignored_stays_ignored():
    # `cmd &` in a script, nohup: Python leaves SIGINT ignored, and so must the command line
    program = ("import os, signal, sys\n"
               "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
               "sys.argv = ['qdrant-drift', 'init', '--help']\n"
               "import importlib\n"
               "app = importlib.import_module('qdrant_drift.cli.app')\n"
               "app.app = lambda **kw: (os.kill(os.getpid(), signal.SIGINT), print('survived'))"
               " and 0\n"
               "app.main()\n")
    done = run_program(program)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "survived", "")


@pytest.mark.parametrize("flags, says", [
    (["--batch-size", "0"], "error: Invalid value for '--batch-size'"),
    (["--rate-limit", "-1"], "error: rate_limit must be above 0 items/s, got -1 (leave it out "
                             "for no limit)"),
    (["--metrics-port", "99999"], "error: Invalid value for '--metrics-port'"),
    (["--metrics-port", "{busy}"], "error: cannot serve metrics on port {busy}: Address already "
                                   "in use"),
])
def test_an_option_out_of_range_is_one_line_not_a_traceback(tmp_path, flags, says):
    path, db = started_migration(tmp_path, n=120)
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        done = subprocess.run(cli("backfill", str(path), "--path", str(db),
                                  *(f.format(busy=port) for f in flags)),
                              cwd=ROOT, env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert says.format(busy=port) in " ".join(done.stderr.split()), done.stderr


@pytest.mark.parametrize("part, whole, shown", [
    (1999, 2000, "99.9%"), (2000, 2000, "100.0%"), (300, 2000, "15.0%"), (57, 100, "57.0%"),
    (1, 3, "33.3%"), (0, 0, "100.0%"),
])
def test_coverage_is_shown_rounded_down_so_100_percent_means_every_point(part, whole, shown):
    assert _share(part, whole) == shown
