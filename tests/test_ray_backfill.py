"""The Ray Data backfill engine: the same guarantees as the worker (right vector, nothing
clobbered, resurrected, lost or stale) while Ray actors embed and may be killed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client.http import models

from qdrant_drift.backfill import (
    BackfillError, BackfillOptions, PayloadField, Sweep, read_dead_letters, requeue_dead_letters)
from qdrant_drift.embedders import CallableEmbedder
from qdrant_drift.lifecycle.facade import Migration
from qdrant_drift.sansio import drive
from qdrant_drift.store.backfill import read_leases, read_samples, read_workers
from qdrant_drift.lifecycle.commands import pause, resume
from qdrant_drift.store.records import abandon_steps, count_migrated, read_coverage

from .backfill_fixtures import (
    DIM, PayloadEditAfterCopy, build_legacy_collection, build_text_world, doc_text,
    embed_texts, fragile_embed_texts, text_vector, wrong_vectors,
)

ray = pytest.importorskip(
    "ray", reason="the Ray backfill engine needs the 'ray' extra: pip install 'qdrant-drift[ray]'")

from qdrant_drift.backfill.ray_engine import RayBackfill, RaySettings, ready_groups  # noqa: E402
from qdrant_drift.backfill.ray_stage import packed, unpacked  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LAYOUTS = ("named", "collection")
FAST = dict(sample_interval_s=0.2, heartbeat_timeout=2.0, max_retry_wait=0.05)
# the two shapes of the Ray side: tasks on reused workers (CPU clusters) and an actor per GPU
# (the instance below declares one GPU, none is there: the actor's embedder is numpy)
SHAPES = {"tasks": RaySettings(num_gpus=0), "actors": RaySettings(num_gpus=1)}


def start_local_ray() -> None:
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    start_local_ray()
    yield
    ray.shutdown()


def plain_embedder() -> CallableEmbedder:
    return CallableEmbedder(embed_texts, normalize=False)


def slow_embedder() -> CallableEmbedder:
    def slow(texts):
        time.sleep(0.3)
        return embed_texts(texts)
    return CallableEmbedder(slow, normalize=False)


def fragile_embedder() -> CallableEmbedder:
    return CallableEmbedder(fragile_embed_texts, normalize=False)


def unreachable_embedder() -> CallableEmbedder:
    def unreachable(texts):
        raise ConnectionError("embedding service unreachable")
    return CallableEmbedder(unreachable, normalize=False)


class DiesOnce:
    """An embedder whose actor process dies (kill -9 style) in the middle of its third batch,
    once per marker file: Ray must restart the actor and retry. Every batch it starts is logged
    under ``log``, so a test can count what was embedded twice."""

    def __init__(self, marker: str, log: str) -> None:
        self.marker, self.log = marker, log

    def __call__(self) -> CallableEmbedder:
        def embed(texts):
            Path(self.log, uuid.uuid4().hex).write_text("\n".join(texts))
            if len(os.listdir(self.log)) >= 3 and not os.path.exists(self.marker):
                open(self.marker, "w").close()
                os._exit(9)
            return embed_texts(texts)
        return CallableEmbedder(embed, normalize=False)


def embedded_twice(log: Path) -> list[str]:
    """The texts whose embedding was started more than once (from a DiesOnce log)."""
    started = Counter(t for f in log.iterdir() for t in f.read_text().split("\n"))
    return sorted(t for t, n in started.items() if n > 1)


def backfill(world, factory=plain_embedder, shape="tasks", **kw) -> RayBackfill:
    """A Ray backfill of ``world``; ``write_batches``, ``block_batches`` and ``concurrency``
    set those RaySettings."""
    options = BackfillOptions(**{"batch_size": 16, **FAST, **kw.pop("options", {})})
    settings = replace(SHAPES[shape], **{key: kw.pop(key) for key in (
        "write_batches", "block_batches", "concurrency") if key in kw})
    return RayBackfill(world.client, "upgrade", factory, PayloadField("text"),
                       options=options, ray=settings, **kw)


@pytest.mark.parametrize("layout, shape", [(layout, "tasks") for layout in LAYOUTS]
                         + [("named", "actors")])
def test_every_point_ends_with_the_embedding_of_its_text_on_ray(layout, shape):
    world = build_text_world(200, layout=layout)
    stats = backfill(world, shape=shape).run()
    assert stats.written == 200 and stats.state == "finished"
    assert wrong_vectors(world) == []
    assert drive(read_coverage(world.spec), world.client) == 1.0


def test_status_sees_a_ray_backfill_like_any_worker():
    world = build_text_world(60)
    engine = backfill(world, worker_id="ray-test")
    engine.run()
    workers = drive(read_workers("upgrade", timeout=60), world.client)
    assert [(w.worker, w.state, w.processed) for w in workers] == [("ray-test", "finished", 60)]
    samples = drive(read_samples("upgrade"), world.client)
    assert samples[-1].migrated == 60 == samples[-1].total


@pytest.mark.parametrize("layout", LAYOUTS)
def test_app_writes_and_deletes_racing_a_ray_backfill_are_never_clobbered_or_resurrected(
        layout):
    world = build_text_world(64, layout=layout)
    client = world.client
    fresh = np.full(DIM, 0.25, dtype=np.float32)
    raced = []

    def race(engine, outcome):
        if raced:
            return
        raced.append(True)  # after the first write, the rest are embedded or queued
        from qdrant_drift.serving.client import DriftClient

        app = DriftClient(client, "upgrade", refresh_interval=0)
        app.upsert("docs", [models.PointStruct(id=60, vector={"new": fresh.tolist()},
                                               payload={"text": doc_text(60), "n": 60})])
        app.delete("docs", points_selector=models.PointIdsList(points=[61]))
        app.set_payload("docs", payload={"text": doc_text(62, version=1)}, points=[62])

    # write groups of 2 batches (32 points): the race comes before 60-62 are written
    stats = backfill(world, on_batch=race, write_batches=2).run()
    assert stats.state == "finished"
    assert np.allclose(world.new_vector(60), fresh, atol=1e-6)  # the app's vector stands
    assert client.retrieve("docs", [61]) == [] and world.new_vector(61) is None
    assert np.allclose(world.new_vector(62), text_vector(doc_text(62, 1)), atol=1e-5)
    assert wrong_vectors(world) == [60]  # 60 holds the app's own vector, by design


def test_a_plain_clients_payload_edit_of_a_point_copied_earlier_in_the_run_is_copied_again():
    # blue-green: the edit keeps the legacy point's marker; the run tidies when it runs out
    # of work, finds the copy's payload out of date and copies the point again before it ends
    world = build_text_world(64, layout="collection")
    edit = PayloadEditAfterCopy(world)
    stats = backfill(world, on_batch=edit, write_batches=1).run()
    assert stats.state == "finished" and edit.copied_again()
    assert drive(read_coverage(world.spec), world.client) == 1.0


@pytest.mark.parametrize("layout", LAYOUTS)
def test_points_a_plain_client_rewrites_behind_the_listing_are_migrated_before_the_run_ends(
        layout):
    # no second listing to find none: the count once every partition is done finds them
    world = build_text_world(96, layout=layout)
    rewritten = []

    def rewrite_behind(engine, outcome):
        if not rewritten and engine.stats.written >= 48:
            world.client.set_payload("docs", {"text": doc_text(3, version=1)}, points=[3])
            if layout == "named":  # a plain upsert of the point drops its new vector
                world.client.delete_vectors("docs", ["new"], points=[3])
            else:  # ... and the blue-green marker
                world.client.delete_payload("docs", ["_drift_migrated"], points=[3])
            rewritten.append(3)

    stats = backfill(world, on_batch=rewrite_behind, write_batches=1,
                     options={"order": Sweep()}).run()
    assert rewritten and stats.state == "finished" and stats.written == 97
    assert wrong_vectors(world) == []
    assert drive(count_migrated(world.spec), world.client) == (96, 96)


def test_poison_items_on_ray_are_dead_lettered_and_the_rest_is_written():
    world = build_text_world(40)
    world.client.set_payload("docs", {"text": ""}, points=[4])
    world.client.set_payload("docs", {"text": "EXPLODE"}, points=[5])
    world.client.set_payload("docs", {"text": "NAN"}, points=[6])
    stats = backfill(world, fragile_embedder).run()
    assert stats.written == 37 and stats.dead_lettered == 3 and stats.state == "finished"
    dead = {d["point_id"]: d["reason"] for d in drive(read_dead_letters("upgrade"), world.client)}
    assert "no text" in dead[4] and "tokenizer crashed" in dead[5] and "NaN" in dead[6]


def test_one_bad_text_among_batches_without_text_is_a_dead_letter_not_an_outage():
    # a write group of text-less batches and one that fails: one failed item, not three
    # failed batches (the breaker counts items with content, whatever the grouping)
    world = build_text_world(200)
    world.client.set_payload("docs", {"text": ""}, points=list(range(200)))
    world.client.set_payload("docs", {"text": "EXPLODE"}, points=[5])
    stats = backfill(world, fragile_embedder, options={"batch_size": 8}).run()
    assert stats.state == "finished" and stats.dead_lettered == 200


def test_an_embedder_that_fails_on_everything_stops_a_ray_backfill_long_before_the_end():
    world = build_text_world(400)
    with pytest.raises(BackfillError, match="failed on the last .* items it was given, every one"):
        backfill(world, unreachable_embedder, options={"batch_size": 8}).run()
    dead = len(drive(read_dead_letters("upgrade"), world.client))
    assert 24 <= dead < 400 and drive(count_migrated(world.spec), world.client) == (0, 400)
    assert drive(requeue_dead_letters("upgrade"), world.client) == dead
    stats = backfill(world).run()
    assert stats.written == 400 and wrong_vectors(world) == []


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_driver_writes_ready_batches_in_groups_and_loses_no_neighbour_of_a_poison_item(
        layout):
    world = build_text_world(200, layout=layout)  # 13 batches of 16
    world.client.set_payload("docs", {"text": "EXPLODE"}, points=[37])  # in the third batch
    world.client.set_payload("docs", {"text": ""}, points=[150])
    writes: list[int] = []
    engine = backfill(world, fragile_embedder, write_batches=4,
                      on_batch=lambda e, outcome: writes.append(len(outcome.migrated)))
    stats = engine.run()
    # a near-free embedder keeps the driver behind: its writes carry several batches, never
    # more than write_batches (4 x 16 points, less the poison)
    assert max(writes) > 16 and all(n <= 64 for n in writes)
    assert sum(writes) == stats.written == 198 and stats.batches == 13
    assert stats.dead_lettered == 2 and stats.state == "finished"
    dead = {d["point_id"]: d["reason"] for d in drive(read_dead_letters("upgrade"), world.client)}
    assert "tokenizer crashed" in dead[37] and "no text" in dead[150]
    assert sorted(wrong_vectors(world)) == [37, 150]  # every neighbour written, and right


def test_a_stop_during_a_pass_checkpoints_only_what_its_writes_landed():
    world = build_text_world(192)  # 12 batches of 16
    # stopped in its first write: the batches embedded and waiting are dropped, not written
    engine = backfill(world, write_batches=3, on_batch=lambda e, outcome: e.stop())
    first = engine.run()
    assert first.state == "stopped" and 0 < first.written <= 48
    written = round(drive(read_coverage(world.spec), world.client) * 192)
    leases = drive(read_leases("upgrade", 1), world.client)
    assert written == first.written == sum(lease.processed for lease in leases.values())
    rest = backfill(world).run()  # the next run lists what is left, and only that
    assert rest.written == 192 - first.written and rest.state == "finished"
    assert wrong_vectors(world) == []


def test_an_operators_stop_writes_the_batches_the_driver_holds_then_stops():
    # Ctrl-C: what is embedded and in the driver's hands is written, not thrown away
    class StoppedAtTheFirstBatch(RayBackfill):
        def _embedded_batches(self, listing, pass_key):
            for n, batch in enumerate(super()._embedded_batches(listing, pass_key)):
                if n == 0:
                    self.stop()
                yield batch

    world = build_text_world(400)  # 25 batches; a write group holds 8 at most
    stats = StoppedAtTheFirstBatch(
        world.client, "upgrade", plain_embedder, PayloadField("text"),
        options=BackfillOptions(batch_size=16, **FAST), ray=SHAPES["tasks"]).run()
    assert stats.state == "stopped" and 16 <= stats.written <= 8 * 16
    assert round(drive(read_coverage(world.spec), world.client) * 400) == stats.written


class SlowAndSaysSo:
    """A 0.3 s a batch embedder that leaves a file under ``log`` as each batch starts."""

    def __init__(self, log: str) -> None:
        self.log = log

    def __call__(self) -> CallableEmbedder:
        def embed(texts):
            Path(self.log, uuid.uuid4().hex).touch()
            time.sleep(0.3)
            return embed_texts(texts)
        return CallableEmbedder(embed, normalize=False)


def test_a_stop_while_ray_embeds_a_block_does_not_wait_for_the_block(tmp_path):
    # a block of 8 batches at 0.3 s each: Ctrl-C must not wait the 2.4 s of its embedding
    world = build_text_world(256)  # 16 batches of 16, two blocks of 8 for the one process
    engine = backfill(world, SlowAndSaysSo(str(tmp_path)), concurrency=1)

    def stop_once_embedding() -> None:
        while not any(tmp_path.iterdir()):
            time.sleep(0.05)
        stopped_at.append(time.monotonic())
        engine.stop()

    stopped_at: list[float] = []
    threading.Thread(target=stop_once_embedding, daemon=True).start()
    stats = engine.run()
    assert stats.state == "stopped" and stats.written == 0  # the block never came back
    assert time.monotonic() - stopped_at[0] < 1.5
    assert backfill(world).run().written == 256  # the next run lists it all again
    assert wrong_vectors(world) == []


@pytest.mark.parametrize("layout", LAYOUTS)
def test_abandon_mid_backfill_stops_the_driver_quietly(layout):
    # abandon drops what the driver writes to: a write that fails on it ends the backfill
    world = build_text_world(400, layout=layout)
    abandoned: list[bool] = []

    def abandon_once(engine, outcome):
        if not abandoned:
            abandoned.append(True)
            drive(abandon_steps("upgrade"), world.client)

    stats = backfill(world, write_batches=1, block_batches=1, on_batch=abandon_once).run()
    assert abandoned and stats.state == "stopped"


def test_ready_groups_wait_a_little_for_company_and_raise_what_the_source_raised():
    def source():
        yield from (1, 2, 3)
        time.sleep(0.3)  # longer than the wait: 4 starts a group of its own
        yield 4
        raise RuntimeError("ray task failed")

    groups = ready_groups(source(), most=2, wait_s=0.1)
    assert [next(groups), next(groups), next(groups)] == [[1, 2], [3], [4]]
    with pytest.raises(RuntimeError, match="ray task failed"):
        next(groups)
    with pytest.raises(ValueError, match="write_batches must be 1 or more"):
        RaySettings(write_batches=0)


def test_ready_groups_fill_up_to_most_batches_and_a_bigger_block_goes_alone():
    blocks = ready_groups(iter([3, 1, 2, 9, 1]), most=4, wait_s=0.5, size=lambda n: n)
    # 3+1 fit; 2 does not fit after them; 9 is over on its own; 1 follows it
    assert list(blocks) == [[3, 1], [2], [9], [1]]


def test_a_stop_ends_the_groups_without_waiting_for_the_next_block():
    stop = threading.Event()

    def source():
        yield 1
        time.sleep(5)  # Ray embedding a block of a slow model
        yield 2

    groups = ready_groups(source(), most=1, wait_s=0.0, stopped=stop.is_set)
    assert next(groups) == [1]
    stop.set()
    started = time.monotonic()
    with pytest.raises(StopIteration):
        next(groups)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("shape", SHAPES)
def test_a_ray_worker_killed_mid_batch_loses_nothing_writes_nothing_stale_and_redoes_one_batch(
        tmp_path, shape):
    world = build_text_world(120)
    world.client.delete("docs", points_selector=models.PointIdsList(points=[7, 8]))
    (tmp_path / "log").mkdir()
    # 8 batches of 16 in two blocks of 4, one at a time: it dies in the third batch of the
    # first block
    stats = backfill(world, DiesOnce(str(tmp_path / "died"), str(tmp_path / "log")),
                     shape=shape, block_batches=4, concurrency=1).run()
    assert (tmp_path / "died").exists()  # the task's worker or the actor did die mid-batch
    assert stats.state == "finished" and stats.written == 118
    assert wrong_vectors(world) == []  # 0 lost, 0 stale
    assert world.client.retrieve("docs", [7, 8]) == []  # 0 resurrected
    # the batch it died in is embedded again, and nothing else: Ray replays the whole block
    # (the task, or the actor's call once Ray Data restarted it), and the replay takes the
    # two batches the first attempt had kept in the ledger (without that: 48 texts twice)
    assert 0 < len(embedded_twice(tmp_path / "log")) <= 16
    assert len(os.listdir(tmp_path / "log")) == 9  # 8 batches, one of them embedded twice


def test_a_backfill_after_ray_was_shut_down_and_started_again_in_the_same_process():
    # a notebook or a long-running service: the hand-off ledger of the first Ray instance
    # is gone with it, and its handle must not be used on the second
    world = build_text_world(40)
    assert backfill(world).run().written == 40
    ray.shutdown()
    start_local_ray()
    again = build_text_world(40)
    assert backfill(again).run().written == 40
    assert wrong_vectors(again) == []


def test_a_block_holds_up_to_block_batches_and_every_process_gets_two_blocks():
    settings = RaySettings(block_batches=16)
    assert settings.batches_per_block(32, width=1) == 16  # 2 blocks for the one process
    assert settings.batches_per_block(3200, width=1) == 16  # at most block_batches
    assert settings.batches_per_block(32, width=4) == 4  # 8 blocks: two for each process
    assert settings.batches_per_block(3, width=2) == 1  # too few for two each: one a block
    assert settings.batches_per_block(0, width=1) == 1
    with pytest.raises(ValueError, match="block_batches must be 1 or more"):
        RaySettings(block_batches=0)


def test_a_batch_travels_back_as_one_packed_row():
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    rows = {key: np.concatenate([a[key], b[key]]) for a, b in [(
        packed(10, vectors, ["", "no text", ""]), packed(40, np.zeros((0, 2)), []))]
        for key in a}
    index, back, problems = unpacked(rows, dim=2)
    assert index.tolist() == [10, 11, 12]  # an empty batch (count 0) adds nothing
    assert np.array_equal(back, vectors) and problems == ["", "no text", ""]


def test_pause_and_resume_through_the_state_stop_and_restart_the_writes():
    world = build_text_world(96)
    client = world.client
    paused_at: list[float] = []

    def set_paused(value: bool) -> None:
        (pause if value else resume)(client, "upgrade")  # a checked write, as operators do

    def pause_once(engine, outcome):
        if not paused_at:
            set_paused(True)
            paused_at.append(drive(read_coverage(world.spec), client))

    # 6 batches of 0.3 s: the backfill outlasts the pause's way to the driver (its next
    # heartbeat, within 1 s; warm Ray workers embed 96 points faster than that)
    engine = backfill(world, slow_embedder, on_batch=pause_once)
    runner = threading.Thread(target=engine.run)
    runner.start()
    deadline = time.time() + 60
    while engine.stats.state != "paused" and time.time() < deadline:
        time.sleep(0.05)
    assert engine.stats.state == "paused"
    held = drive(read_coverage(world.spec), client)
    time.sleep(1.0)
    assert drive(read_coverage(world.spec), client) == held < 1.0  # nothing written while paused
    set_paused(False)
    runner.join(60)
    assert engine.stats.state == "finished" and wrong_vectors(world) == []


def test_a_ray_driver_started_on_a_paused_backfill_with_nothing_left_ends_as_finished():
    world = build_text_world(40)
    assert backfill(world).run().state == "finished"
    pause(world.client, "upgrade")
    engine = backfill(world)
    runner = threading.Thread(target=engine.run)
    runner.start()
    runner.join(60)
    alive = runner.is_alive()
    if alive:
        engine.stop()
        runner.join(60)
    assert not alive and engine.stats.state == "finished" and engine.stats.written == 0


def test_a_ray_driver_killed_mid_backfill_is_resumed_by_the_next(tmp_path):
    db = tmp_path / "qdrant"
    n = 3000  # enough that the first driver is still at work at its first progress line (5 s)
    client = QdrantClient(path=str(db))
    build_legacy_collection(client, n)
    path = tmp_path / "m.toml"
    path.write_text(MIGRATION_FILE)
    Migration(client, path).fit()
    Migration(client, path).start()
    client.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen(
        [sys.executable, "-m", "qdrant_drift", "backfill", str(path), "--path", str(db),
         "--engine", "ray", "--address", "auto"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    said = []
    for line in driver.stdout:  # a progress line every 5 s: kill once some are written
        said.append(line)
        written = re.search(rb"this worker (\d+) written", line)
        if written and int(written.group(1)) > 0:
            break
    # the CLI's own lines only: Ray's (a dataset's start, its progress-bar notice) are hidden
    assert not [line for line in said if b"streaming_executor" in line or b"Progress bar" in line]
    assert driver.poll() is None, "the first driver finished before it could be killed"
    driver.kill()  # SIGKILL: no checkpoint, no goodbye
    driver.wait(30)
    client = QdrantClient(path=str(db))
    try:
        migration = Migration(client, path)
        left = n - migration.progress().migrated
        assert 0 < left < n  # killed mid-backfill
        stats = migration.start_backfill(background=False, engine="ray")
        assert stats.state == "finished" and stats.written == left
        points, _ = client.scroll("docs", limit=n, with_vectors=True, with_payload=True)
        wrong = [p.id for p in points if "new" not in p.vector or not np.allclose(
            p.vector["new"], text_vector(p.payload["text"]), atol=1e-5)]
        assert len(points) == n and wrong == []
    finally:
        client.close()


def _started_ray_driver(tmp_path: Path, *args: str
                        ) -> tuple[Path, Path, subprocess.Popen]:
    """A started 3,000-point migration on embedded Qdrant, and `qdrant-drift backfill
    --engine ray [args]` just launched on it (a local Ray instance unless ``args`` say
    --address), in a process group of its own, its output piped."""
    db = tmp_path / "qdrant"
    client = QdrantClient(path=str(db))
    build_legacy_collection(client, 3000)
    path = tmp_path / "m.toml"
    path.write_text(MIGRATION_FILE)
    Migration(client, path).fit()
    Migration(client, path).start()
    client.close()
    driver = subprocess.Popen(
        [sys.executable, "-m", "qdrant_drift", "backfill", str(path), "--path", str(db),
         "--engine", "ray", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    return path, db, driver


def test_sigterm_stops_a_ray_driver_gracefully(tmp_path):
    # how Kubernetes (KubeRay) stops a pod: the driver writes what it holds, hands its
    # partitions back and says it stopped; Ray's own handler used to dump a stack and abort
    path, db, driver = _started_ray_driver(tmp_path)
    said = []
    for line in driver.stdout:
        said.append(line)
        written = re.search(rb"this worker (\d+) written", line)
        if written and int(written.group(1)) > 0:
            break
    driver.terminate()
    said += driver.stdout.readlines()
    assert driver.wait(60) == 128 + signal.SIGTERM, b"".join(said).decode()
    text = b"".join(said).decode()
    assert "SIGTERM received" not in text and " stopped: " in text
    client = QdrantClient(path=str(db))
    try:
        (worker,) = Migration(client, path).progress().workers
        assert worker.state == "stopped" and not worker.partitions
    finally:
        client.close()


@pytest.mark.parametrize("signum, after, group", [
    (signal.SIGINT, 4, False), (signal.SIGTERM, 6, False), (signal.SIGTERM, 5, True),
    (signal.SIGTERM, 8, True)], ids=["ctrl-c", "sigterm", "sigterm-to-the-group",
                                     "sigterm-to-the-group-later"])
def test_a_signal_while_ray_starts_stops_the_driver_before_its_first_batch(
        tmp_path, signum, after, group):
    # a Ctrl-C in the first seconds (Ray starting a local instance) was lost: the driver ran
    # to the end and exited 0; a SIGTERM there met Ray's native handler, which dumped a
    # stack; a SIGTERM to the whole group (timeout, systemd) killed Ray's own processes
    # under the driver, which then hung or died with exit 1 a minute later
    path, db, driver = _started_ray_driver(tmp_path)
    time.sleep(after)  # imported and set up; a local Ray instance takes longer to start
    if group:
        os.killpg(driver.pid, signum)
    else:
        driver.send_signal(signum)
    said = driver.communicate(timeout=120)[0].decode()
    assert driver.returncode == 128 + signum, said
    assert f"signal {int(signum)}: " in said and " stopped: " in said, said
    assert "Traceback" not in said and "SIGTERM received" not in said, said
    client = QdrantClient(path=str(db))
    try:
        assert Migration(client, path).progress().migrated < 3000
    finally:
        client.close()


def test_a_stop_while_the_driver_waits_for_a_ray_that_never_answers_ends_it_at_once(tmp_path):
    # nothing listens at port 9: ray.init retried for ever, deaf to Ctrl-C and SIGTERM
    path, db, driver = _started_ray_driver(tmp_path, "--address", "127.0.0.1:9")
    time.sleep(5)
    stopped = time.monotonic()
    driver.send_signal(signal.SIGINT)
    said = driver.communicate(timeout=60)[0].decode()
    assert driver.returncode == 128 + signal.SIGINT, said
    assert time.monotonic() - stopped < 10 and " stopped: 0 written" in said, said


def test_a_wrong_ray_address_is_one_clear_error(tmp_path):
    path, db, driver = _started_ray_driver(tmp_path, "--address", "garbage")
    said = driver.communicate(timeout=120)[0].decode()
    assert driver.returncode == 2, said
    assert "could not reach Ray at garbage: Invalid address format" in said, said
    assert "Traceback" not in said, said


def test_an_unknown_engine_is_one_clear_error(tmp_path):
    from qdrant_drift.errors import DriftError

    path = tmp_path / "m.toml"
    path.write_text(MIGRATION_FILE)
    with pytest.raises(DriftError, match="'worker' or 'ray'"):
        Migration(build_text_world(4).client, path).backfill_engine("spark")


MIGRATION_FILE = """
[migration]
name = "upgrade"
collection = "docs"
old_vector = "old"
new_vector = "new"
old_model = "old-m"
new_model = "new-m"

[embedder]
kind = "callable"
callable = "tests.backfill_fixtures:slow_embed_texts"
normalize = false
batch_size = 16

[source]
payload_field = "text"

[adapter]
kind = "procrustes"
sample_size = 150

[backfill]
batch_size = 16
heartbeat_timeout = 2.0
"""
