"""The backfill worker: every point ends with the right new vector, nothing is clobbered,
resurrected or lost, whatever races it, whatever fails, however often it is stopped."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from qdrant_client.http import models

from qdrant_drift.backfill import (
    BackfillError,
    BackfillOptions,
    BackfillWorker,
    HotFirst,
    Loader,
    Mixed,
    PayloadField,
    Sweep,
    TransientFaultsExhausted,
    read_dead_letters,
    requeue_dead_letters,
    run_backfill,
    start_backfill,
)
from qdrant_drift.store.backfill import read_leases, read_samples
from qdrant_drift.local import SerializedClient
from qdrant_drift.embedders import CallableEmbedder
from qdrant_drift.errors import EmbedderSetupError
from qdrant_drift_bench.faults import FaultInjectingClient
from qdrant_drift.serving.hits import HitCounter
from qdrant_drift.lifecycle.commands import set_phase
from qdrant_drift.sansio import drive
from qdrant_drift.store.records import count_migrated, read_coverage

from .conftest import BACKENDS, make_client
from .backfill_fixtures import (
    DIM, PayloadEditAfterCopy, build_text_world, doc_text, embed_texts, fragile_embed_texts,
    old_vectors, text_vector, wrong_vectors)

LAYOUTS = ("named", "collection")
FAST = dict(sample_interval_s=0.2, hot_refresh_s=0.1, heartbeat_timeout=2.0, max_retry_wait=0.05)


def embedder(fn=embed_texts):
    return CallableEmbedder(fn, normalize=False)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_point_ends_with_the_embedding_of_its_text(layout, backend, request):
    world = build_text_world(200, layout=layout, client=make_client(backend, request))
    stats = run_backfill(world.client, "upgrade", embedder(), PayloadField("text"),
                         options=BackfillOptions(batch_size=16, **FAST))
    assert stats.written == 200 and stats.state == "finished"
    assert wrong_vectors(world) == []
    assert drive(read_coverage(world.spec), world.client) == 1.0


class _UpdateSizes:
    """The embedded client, with the number of points of each ``update_vectors`` request."""

    def __init__(self, client):
        self._client, self.sizes = client, []

    def __getattr__(self, name):
        target = getattr(self._client, name)
        if name != "update_vectors":
            return target

        def counted(collection_name, points, **kwargs):
            self.sizes.append(len(points))
            return target(collection_name, points, **kwargs)
        return counted


def test_on_embedded_qdrant_the_compare_and_set_goes_out_sixteen_points_at_a_time():
    world = build_text_world(100)
    client = _UpdateSizes(world.client)
    stats = run_backfill(client, "upgrade", embedder(), PayloadField("text"),
                         options=BackfillOptions(batch_size=40, **FAST))
    assert stats.written == 100 and wrong_vectors(world) == []
    assert client.sizes == [16, 16, 8] * 2 + [16, 4]


@pytest.mark.parametrize("seconds_per_batch, embedded_in", [
    (0.0, {"select"}),              # near-free: every batch inline, in the select thread
    (0.05, {"select", "embed"}),    # slow: the first inline, then in the embed stage
])
def test_on_embedded_qdrant_a_near_free_embedder_runs_inline_and_a_slow_one_overlaps(
        seconds_per_batch, embedded_in):
    # 600 points: selecting and writing a batch takes milliseconds (on a collection of a
    # hundred, a lookup's own overhead came near a quarter of it)
    world = build_text_world(600)
    threads = []
    known = {doc_text(i): text_vector(doc_text(i)) for i in range(600)}

    def embed(texts):  # a lookup: near-free, and what the sleep adds is all it costs
        select = threading.current_thread().name.startswith("drift-select")
        threads.append("select" if select else "embed")
        if seconds_per_batch:
            time.sleep(seconds_per_batch)
        return np.stack([known[t] for t in texts])

    stats = run_backfill(world.client, "upgrade", embedder(embed), PayloadField("text"),
                         options=BackfillOptions(batch_size=32, **FAST))
    assert stats.written == 600 and wrong_vectors(world) == []
    assert set(threads) == embedded_in and threads[0] == "select", threads


def test_a_run_samples_first_right_before_its_first_write_not_during_its_start_up():
    world = build_text_world(64)
    calls = []

    def embed(texts):  # the first batch waits like a model loading
        calls.append(len(texts))
        time.sleep(1.2 if len(calls) == 1 else 0.0)
        return embed_texts(texts)

    started = time.time()
    run_backfill(world.client, "upgrade", embedder(embed), PayloadField("text"),
                 options=BackfillOptions(batch_size=32, **{**FAST, "sample_interval_s": 30}))
    samples = drive(read_samples("upgrade"), world.client)
    # the one right before the first write (the rate is read from there), then the end: a
    # sample during the start-up would only repeat the first one's counts
    assert [(s.migrated, s.writes_begin) for s in samples] == [(0, True), (64, False)]
    assert samples[0].at - started >= 1.2


def test_a_run_ends_on_the_count_it_ran_out_of_work_on_not_a_second_one():
    # on embedded Qdrant each count of points lacking (or having) the new vector is a scan
    world = build_text_world(64)
    scans = []

    class Counting:
        def __init__(self, client):
            self._client = client

        def __getattr__(self, name):
            target = getattr(self._client, name)
            if name == "count":
                def counted(collection, *args, **kwargs):
                    if collection == "docs" and kwargs.get("count_filter") is not None:
                        scans.append(time.time())
                    return target(collection, *args, **kwargs)
                return counted
            return target

    run_backfill(Counting(world.client), "upgrade", embedder(), PayloadField("text"),
                 options=BackfillOptions(batch_size=16, **{**FAST, "sample_interval_s": 30}))
    samples = drive(read_samples("upgrade"), world.client)
    assert [(s.migrated, s.total) for s in samples] == [(0, 64), (64, 64)]
    assert len(scans) == 2  # the sample before the first write, the count at the end
    assert samples[-1].at == pytest.approx(scans[-1], abs=0.05)  # the end's sample is it


def test_blue_green_copies_the_payload_and_marks_the_legacy_point():
    world = build_text_world(50, layout="collection")
    run_backfill(world.client, "upgrade", embedder(), PayloadField("text"),
                 options=BackfillOptions(batch_size=16, **FAST))
    copy = world.client.retrieve("docs_v2", [7], with_payload=True)[0].payload
    assert copy["text"] == doc_text(7) and copy["n"] == 7
    assert copy["_drift"]["new_vector_by"] == "backfill"
    legacy = world.client.retrieve("docs", [7], with_payload=True)[0].payload
    assert legacy["_drift_migrated"] is True


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_plain_client_s_edits_and_deletes_behind_the_sweep_are_caught_up(layout):
    """An app that is not wrapped rewrites and deletes points in the legacy collection after
    they were backfilled: the next run re-embeds the edits (replacing the stale copies) and
    removes the copies of the deleted points; coverage counts what is really migrated."""
    world = build_text_world(60, layout=layout)
    run_backfill(world.client, "upgrade", embedder(), PayloadField("text"),
                 options=BackfillOptions(batch_size=16, **FAST))
    old = old_vectors(60)
    world.client.upsert("docs", [models.PointStruct(  # a plain upsert replaces the point
        id=i, vector={"old": old[i].tolist()}, payload={"text": doc_text(i, version=1)})
        for i in range(5)])
    world.client.delete("docs", points_selector=models.PointIdsList(points=[10, 11, 12]))
    assert drive(count_migrated(world.spec), world.client) == (52, 57)
    run_backfill(world.client, "upgrade", embedder(), PayloadField("text"),
                 options=BackfillOptions(batch_size=16, **FAST))
    assert wrong_vectors(world) == []  # the edited texts' embeddings, not the stale ones
    for gone in (10, 11, 12):
        assert world.new_vector(gone) is None  # not resurrected on the new side
    assert drive(count_migrated(world.spec), world.client) == (57, 57)


@pytest.mark.parametrize("layout", ["named", "collection"])
def test_a_point_a_plain_client_rewrites_behind_the_sweep_is_migrated_before_the_run_ends(
        layout):
    """The end-of-work count is what finds points rewritten behind the sweep (no pass per
    partition to find none): the run opens the partitions again and migrates them."""
    world = build_text_world(96, layout=layout)
    old = old_vectors(96)

    def rewrite_behind(worker, outcome):
        if worker.stats.batches == 3:  # points 0-47 are written: rewrite two of them
            world.client.upsert("docs", [models.PointStruct(
                id=i, vector={"old": old[i].tolist()}, payload={"text": doc_text(i, version=1)})
                for i in (3, 40)])

    stats = BackfillWorker(world.client, "upgrade", embedder(), PayloadField("text"),
                           options=BackfillOptions(batch_size=16, order=Sweep(), partitions=3,
                                                   **FAST), on_batch=rewrite_behind).run()
    assert stats.state == "finished" and stats.written >= 97  # 96, and at least one again
    assert wrong_vectors(world) == []  # the rewritten texts' embeddings
    assert drive(count_migrated(world.spec), world.client) == (96, 96)


def test_a_plain_clients_payload_edit_of_a_point_copied_earlier_in_the_run_is_copied_again():
    # blue-green: set_payload keeps the legacy point's marker, so the sweep would not see
    # it; the run tidies when it runs out of work and copies the point again before it ends
    world = build_text_world(64, layout="collection")
    edit = PayloadEditAfterCopy(world)
    stats = BackfillWorker(world.client, "upgrade", embedder(), PayloadField("text"),
                           options=BackfillOptions(batch_size=16, **FAST), on_batch=edit).run()
    assert stats.state == "finished" and edit.copied_again()
    assert drive(count_migrated(world.spec), world.client) == (64, 64)


def test_the_named_layout_stamps_backfilled_vectors_with_their_model():
    world = build_text_world(20)
    run_backfill(world.client, "upgrade", embedder(), PayloadField("text"),
                 options=BackfillOptions(**FAST))
    stamp = world.client.retrieve("docs", [3], with_payload=True)[0].payload["_drift"]
    assert stamp == {"new_vector_model": "new-m", "old_vector_model": "old-m",
                     "new_vector_by": "backfill"}


def test_a_loader_supplies_content_that_qdrant_does_not_hold():
    world = build_text_world(60)
    texts = {i: f"row {i} from the database" for i in range(60)}
    loader = Loader(lambda ids: [texts[i] for i in ids])
    run_backfill(world.client, "upgrade", embedder(), loader,
                 options=BackfillOptions(batch_size=16, **FAST))
    assert np.allclose(world.new_vector(5), text_vector(texts[5]), atol=1e-5)


def first_batch_after_hits(hits: list, order) -> list:
    """Ids the first batch of 8 migrates once a replica has flushed these legacy hits."""
    world = build_text_world(200)
    counter = HitCounter("upgrade")
    counter.record(hits)
    drive(counter.flush_steps(), world.client)
    first: list = []

    def on_batch(worker, outcome):
        if not first:
            first.extend(outcome.migrated)
            worker.stop()

    BackfillWorker(world.client, "upgrade", embedder(), PayloadField("text"),
                   options=BackfillOptions(batch_size=8, order=order, **FAST),
                   on_batch=on_batch).run()
    return first


def test_hot_items_are_backfilled_first():
    hot = [150, 7, 99, 180]
    assert set(hot) <= set(first_batch_after_hits(hot * 3, HotFirst()))


@pytest.mark.parametrize("order, hot_in_first", [(Sweep(), 0), (Mixed(0.5), 4)])
def test_order_policies_decide_the_share_of_hot_items(order, hot_in_first):
    hot = [150, 151, 152, 153, 154, 155, 156, 157]
    first = first_batch_after_hits(hot, order)
    assert len(set(hot) & set(first)) == hot_in_first


class RacingEmbedder:
    """Runs the app's writes while the batch is being embedded: after the backfill read the
    points and before it writes them, the worst moment for a race."""

    def __init__(self, race):
        self.race, self.done = race, False

    def __call__(self, texts):
        if not self.done:
            self.done = True
            self.race()
        return embed_texts(texts)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_app_writes_racing_the_backfill_are_never_clobbered_or_resurrected(layout, backend,
                                                                          request):
    world = build_text_world(40, layout=layout, client=make_client(backend, request))
    client = world.client
    fresh = np.full(DIM, 0.25, dtype=np.float32)

    def race():
        from qdrant_drift.serving.client import DriftClient

        # the same lock as the worker's: local mode is not thread-safe (a server is)
        app = DriftClient(SerializedClient(client), "upgrade", refresh_interval=0)
        app.upsert("docs", [models.PointStruct(id=1, vector={"new": fresh.tolist()},
                                               payload={"text": doc_text(1), "n": 1})])
        app.delete("docs", points_selector=models.PointIdsList(points=[2]))
        app.set_payload("docs", payload={"text": doc_text(3, version=1)}, points=[3])

    run_backfill(client, "upgrade", CallableEmbedder(RacingEmbedder(race), normalize=False),
                 PayloadField("text"), options=BackfillOptions(batch_size=8, **FAST))
    assert np.allclose(world.new_vector(1), fresh, atol=1e-6)  # the app's vector stands
    assert client.retrieve("docs", [2]) == []  # deleted stays deleted
    assert world.new_vector(2) is None
    assert np.allclose(world.new_vector(3), text_vector(doc_text(3, 1)), atol=1e-5)  # re-embedded
    assert wrong_vectors(world) == [1]  # 1 holds the app's own vector, by design


def test_poison_items_go_to_dead_letters_with_a_reason_and_the_rest_goes_on():
    world = build_text_world(40)
    world.client.set_payload("docs", {"text": ""}, points=[4])
    world.client.set_payload("docs", {"text": "EXPLODE"}, points=[5])
    world.client.set_payload("docs", {"text": "NAN"}, points=[6])

    stats = run_backfill(world.client, "upgrade", embedder(fragile_embed_texts), PayloadField("text"),
                         options=BackfillOptions(batch_size=8, **FAST))
    assert stats.written == 37 and stats.dead_lettered == 3 and stats.state == "finished"
    dead = {d["point_id"]: d["reason"] for d in drive(read_dead_letters("upgrade"), world.client)}
    assert set(dead) == {4, 5, 6}
    assert "no text" in dead[4] and "tokenizer crashed" in dead[5] and "NaN" in dead[6]

    world.client.set_payload("docs", {"text": "fixed"}, points=[4, 5, 6])
    assert drive(requeue_dead_letters("upgrade"), world.client) == 3
    again = run_backfill(world.client, "upgrade", embedder(fragile_embed_texts), PayloadField("text"),
                         options=BackfillOptions(batch_size=8, **FAST))
    assert again.written == 3 and wrong_vectors(world) == []


def test_a_wrong_dimension_from_the_embedder_is_a_dead_letter_not_a_write():
    world = build_text_world(10)  # one batch: below what stops the backfill (three)
    run_backfill(world.client, "upgrade", embedder(lambda t: np.ones((len(t), DIM + 1))),
                 PayloadField("text"), options=BackfillOptions(**FAST))
    dead = drive(read_dead_letters("upgrade"), world.client)
    assert len(dead) == 10 and "dimension 17" in dead[0]["reason"]
    assert world.new_vector(0) is None


@pytest.mark.parametrize("fails", ["raises", "wrong dimension"])
def test_an_embedder_that_fails_on_everything_stops_the_backfill_after_three_batches(fails):
    world = build_text_world(200)

    def broken(texts):
        if fails == "raises":
            raise ConnectionError("embedding service unreachable")
        return np.ones((len(texts), DIM + 1))

    with pytest.raises(BackfillError, match=r"failed on the last 24 items it was given, every "
                                            r"one \(now dead letters; the first: .*requeue"):
        run_backfill(world.client, "upgrade", embedder(broken), PayloadField("text"),
                     options=BackfillOptions(batch_size=8, **FAST))
    # three batches' worth of dead letters, not the collection's; nothing written
    assert len(drive(read_dead_letters("upgrade"), world.client)) == 24
    assert drive(count_migrated(world.spec), world.client) == (0, 200)
    # the way on that the error gives: fix the embedder, requeue, run again
    assert drive(requeue_dead_letters("upgrade"), world.client) == 24
    stats = run_backfill(world.client, "upgrade", embedder(), PayloadField("text"),
                         options=BackfillOptions(batch_size=8, **FAST))
    assert stats.written == 200 and stats.dead_lettered == 0 and wrong_vectors(world) == []


def test_whole_batches_of_bad_items_among_good_ones_are_dead_letters_not_a_stop():
    world = build_text_world(96)
    bad = set(range(16, 32)) | set(range(48, 64))  # two whole batches, good ones between
    world.client.set_payload("docs", {"text": "EXPLODE"}, points=sorted(bad))

    stats = run_backfill(world.client, "upgrade", embedder(fragile_embed_texts), PayloadField("text"),
                         options=BackfillOptions(batch_size=16, order=Sweep(), **FAST))
    assert stats.state == "finished" and stats.written == 64 and stats.dead_lettered == 32


def test_bad_texts_scattered_through_batches_that_hold_little_else_do_not_stop_the_backfill():
    world = build_text_world(64)
    world.client.set_payload("docs", {"text": ""}, points=list(range(64)))
    world.client.set_payload("docs", {"text": "EXPLODE"}, points=[5, 13, 21])

    stats = run_backfill(world.client, "upgrade", embedder(fragile_embed_texts), PayloadField("text"),
                         options=BackfillOptions(batch_size=8, order=Sweep(), **FAST))
    assert stats.state == "finished" and stats.dead_lettered == 64


def test_the_embedder_breaker_trips_on_three_batches_worth_of_items_failed_in_a_row():
    from qdrant_drift.backfill.breaker import EmbedderBreaker

    def run(*batches):  # each batch: (items with content tried, items failed)
        breaker = EmbedderBreaker.for_batches(8)
        for tried, failed in batches:
            breaker.observe(tried, [(i, f"failure {i}") for i in range(failed)])
        return breaker.tripped

    assert run((8, 8), (8, 8), (8, 8))
    assert not run((8, 8), (8, 8))
    assert not run((8, 8), (8, 8), (8, 7))  # one item embedded: the embedder works
    assert run((8, 7), (8, 8), (8, 8), (8, 8))  # a working batch before the run of failures
    assert not run((8, 8), (8, 8), (8, 1), (8, 8), (8, 8))  # a good batch resets the count
    assert run((8, 8), (0, 0), (8, 8), (8, 8))  # a batch with nothing to embed counts nothing
    # batches that hold one text each (the rest have none): three bad texts are not an outage
    assert not run((1, 1), (1, 1), (1, 1), (1, 1))
    assert run(*[(1, 1)] * 24)  # ... but three batches' worth of them in a row is
    breaker = EmbedderBreaker.for_batches(8)
    breaker.observe(24, [(i, "down") for i in range(24)])  # one Ray write group of 3 batches
    assert breaker.tripped and "the last 24 items it was given" in str(breaker.error())


@pytest.mark.parametrize("backend", BACKENDS)
def test_transient_faults_are_retried_and_nothing_is_lost(backend, request):
    world = build_text_world(200, client=make_client(backend, request))
    faulty = FaultInjectingClient(world.client, rate=0.2, seed=3)
    stats = run_backfill(faulty, "upgrade", embedder(), PayloadField("text"),
                         options=BackfillOptions(batch_size=16, max_attempts=12, **FAST))
    # how many calls a run makes depends on timing (heartbeats, samples): not a constant
    assert faulty.log.injected >= 5 and stats.retries >= faulty.log.injected
    assert wrong_vectors(world) == []


def test_a_permanent_error_fails_fast_with_the_servers_message():
    world = build_text_world(20)
    faulty = FaultInjectingClient(world.client, rate=1.0, kinds=("400",),
                                  methods={"update_vectors"})
    with pytest.raises(Exception, match="400"):
        run_backfill(faulty, "upgrade", embedder(), PayloadField("text"),
                     options=BackfillOptions(**FAST))
    assert faulty.log.injected == 1  # no retry of a bad request


def test_transient_faults_that_never_end_give_up_with_a_clear_error():
    world = build_text_world(20)
    faulty = FaultInjectingClient(world.client, rate=1.0, kinds=("503",),
                                  methods={"update_vectors"})
    with pytest.raises(TransientFaultsExhausted, match="update_vectors still failing after 3"):
        run_backfill(faulty, "upgrade", embedder(), PayloadField("text"),
                     options=BackfillOptions(max_attempts=3, **FAST))


def test_a_stopped_worker_resumes_from_its_checkpoint():
    world = build_text_world(160)
    seen: list = []

    def stop_after_three(worker, outcome):
        seen.extend(outcome.migrated)
        if worker.stats.batches == 3:
            worker.stop()

    first = BackfillWorker(world.client, "upgrade", embedder(), PayloadField("text"),
                           options=BackfillOptions(batch_size=16, order=Sweep(), **FAST),
                           worker_id="w1", on_batch=stop_after_three).run()
    assert first.state == "stopped" and 48 <= first.written < 160
    lease = drive(read_leases("upgrade", 1), world.client)[0]
    assert lease.owner is None and lease.cursor is not None  # handed back, checkpoint kept
    second = run_backfill(world.client, "upgrade", embedder(), PayloadField("text"),
                          options=BackfillOptions(batch_size=16, order=Sweep(), **FAST))
    assert first.written + second.written == 160  # nothing written twice
    assert wrong_vectors(world) == []


def test_a_stop_while_a_slow_embedder_holds_every_queue_full_still_ends_the_worker():
    # the select stage offers its end-of-work mark to a queue the embed stage will not read
    # for one whole (6 s) batch: it must keep offering, not give up and leave the embed and
    # write stages waiting for it forever (what Ctrl-C on a real model did)
    world = build_text_world(160)
    started = threading.Event()

    def slow(texts):
        started.set()
        threading.Event().wait(6.0)
        return embed_texts(texts)

    worker = BackfillWorker(world.client, "upgrade", embedder(slow), PayloadField("text"),
                            options=BackfillOptions(batch_size=16, order=Sweep(), **FAST))
    result: list = []
    runner = threading.Thread(target=lambda: result.append(worker.run()), daemon=True)
    runner.start()
    assert started.wait(30)
    threading.Event().wait(0.5)  # the next batch is selected and waits on the full queue
    worker.stop()
    runner.join(timeout=60)
    assert not runner.is_alive() and result[0].state == "stopped"
    assert result[0].written <= 3 * 16  # at most the batches already in flight


def test_several_workers_split_the_partitions_and_finish_together():
    world = build_text_world(240)
    options = BackfillOptions(batch_size=8, partitions=4, **FAST)
    workers = [BackfillWorker(world.client, "upgrade", embedder(), PayloadField("text"),
                              options=options, worker_id=f"w{i}") for i in range(3)]
    results: dict = {}
    threads = [threading.Thread(target=lambda w=w: results.update({w.worker_id: w.run()}))
               for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(s.written for s in results.values()) == 240
    assert all(s.state == "finished" for s in results.values())
    assert wrong_vectors(world) == []


def test_a_dead_workers_partition_is_taken_over_after_its_heartbeat_expires():
    from qdrant_drift.backfill.partitions import Lease
    from qdrant_drift.store.backfill import write_leases

    world = build_text_world(80)
    import time

    ghost = Lease(partition=0, owner="ghost", heartbeat=time.time() - 60, cursor=None)
    drive(write_leases("upgrade", 1, [ghost]), world.client)
    stats = run_backfill(world.client, "upgrade", embedder(), PayloadField("text"),
                         options=BackfillOptions(batch_size=16, **FAST))
    assert stats.written == 80


def test_after_a_kill_9_on_embedded_qdrant_a_new_worker_takes_over_without_waiting():
    """The dead process's lease and worker record look alive for 30 s, but embedded Qdrant's
    storage is one process's: no engine of this one runs that worker, so it is gone."""
    from qdrant_drift.backfill.partitions import Lease
    from qdrant_drift.lifecycle.progress import WorkerStatus
    from qdrant_drift.store.backfill import write_leases, write_worker

    world = build_text_world(80)
    killed = "host-4242"  # hostname-pid of a worker that was killed mid-backfill
    drive(write_leases("upgrade", 1, [Lease(partition=0, owner=killed,
                                            heartbeat=time.time(), cursor=None)]), world.client)
    drive(write_worker("upgrade", WorkerStatus(worker=killed, partitions=(0,), alive=True,
                                               heartbeat_age_s=0.0, processed=0,
                                               state="running")), world.client)
    from qdrant_drift.backfill.control import engines_running_here
    from qdrant_drift.lifecycle.facade import progress_steps

    def alive(running_here):  # what status counts: here, and as a server would
        return drive(progress_steps("upgrade", running_here=running_here),
                     world.client).workers_alive

    assert alive(engines_running_here()) == 0 and alive(None) == 1
    started = time.monotonic()
    stats = run_backfill(world.client, "upgrade", embedder(), PayloadField("text"),
                         options=BackfillOptions(batch_size=16, **{**FAST,
                                                                   "heartbeat_timeout": 30.0}))
    assert stats.written == 80 and stats.state == "finished"
    assert time.monotonic() - started < 10.0  # not the 30 s of the dead worker's lease


def test_the_worker_refuses_to_run_unless_the_migration_is_backfilling_and_says_what_to_run():
    world = build_text_world(10)
    set_phase(world.client, "upgrade", "rolled-back")
    with pytest.raises(BackfillError, match="'rolled-back'.*run `qdrant-drift start` to open "
                                            "the backfill again"):
        run_backfill(world.client, "upgrade", embedder(), PayloadField("text"))
    set_phase(world.client, "upgrade", "abandoned", force=True)
    with pytest.raises(BackfillError, match="'abandoned'.*start a new one with `qdrant-drift "
                                            "fit`") as refused:
        run_backfill(world.client, "upgrade", embedder(), PayloadField("text"))
    assert "start it" not in str(refused.value)  # start refuses an abandoned migration


def test_a_background_handle_pauses_resumes_and_stops():
    world = build_text_world(200)
    import time

    slow = embedder(lambda t: (time.sleep(0.02), embed_texts(t))[1])
    handle = start_backfill(world.client, "upgrade", slow, PayloadField("text"),
                            options=BackfillOptions(batch_size=8, **FAST))
    time.sleep(0.3)
    handle.pause()
    time.sleep(0.5)
    paused_at = handle.progress().written
    time.sleep(0.5)
    assert handle.progress().written - paused_at <= 16  # at most the batches in flight
    handle.resume()
    stats = handle.join(60)
    assert stats.written == 200 and wrong_vectors(world) == []


def test_a_worker_started_on_a_paused_backfill_with_nothing_left_ends_as_finished():
    # paused, but every point has its vector: nothing to wait for (a worker that sat there
    # until a Ctrl-C then said "finished" with a "stopped" exit code)
    from qdrant_drift.lifecycle.commands import pause

    world = build_text_world(40)
    options = BackfillOptions(batch_size=16, **FAST)
    assert start_backfill(world.client, "upgrade", embedder(embed_texts),
                          PayloadField("text"), options=options).join(60).state == "finished"
    pause(world.client, "upgrade")
    handle = start_backfill(world.client, "upgrade", embedder(embed_texts),
                            PayloadField("text"), options=options)
    stats = handle.join(30)
    assert stats.state == "finished" and stats.written == 0


def _late_insert(world, ids):
    """A writer that does not go through the wrapper (the legacy app): old vector only."""
    old = np.random.default_rng(1).normal(size=(len(ids), DIM))
    world.client.upsert("docs", [models.PointStruct(id=i, vector={"old": row.tolist()},
                                                    payload={"text": doc_text(i)})
                                 for i, row in zip(ids, old)])
    world.n = max(world.n, max(ids) + 1)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_points_inserted_behind_a_finished_backfill_are_found_by_the_next_run(layout):
    world = build_text_world(60, layout=layout)
    options = BackfillOptions(batch_size=16, **FAST)
    assert run_backfill(world.client, "upgrade", embedder(), PayloadField("text"),
                        options=options).written == 60
    _late_insert(world, [60, 61])
    stats = run_backfill(world.client, "upgrade", embedder(), PayloadField("text"),
                         options=options)
    assert stats.written == 2 and stats.state == "finished"
    assert wrong_vectors(world) == []
    assert drive(read_coverage(world.spec), world.client) == 1.0


def test_a_keep_running_worker_backfills_points_that_arrive_after_its_pass():
    import time

    world = build_text_world(40)
    handle = start_backfill(world.client, "upgrade", embedder(), PayloadField("text"),
                            options=BackfillOptions(batch_size=16, exit_when_done=False,
                                                    **FAST))
    deadline = time.time() + 30
    while handle.progress().written < 40 and time.time() < deadline:
        time.sleep(0.1)
    _late_insert(world, [40, 41, 42])
    while handle.progress().written < 43 and time.time() < deadline:
        time.sleep(0.1)
    handle.stop()
    assert handle.join(30).written == 43 and wrong_vectors(world) == []


def test_another_pass_never_loops_on_dead_letters():
    world = build_text_world(30)
    world.client.set_payload("docs", {"text": ""}, points=[3])
    stats = run_backfill(world.client, "upgrade", embedder(), PayloadField("text"),
                         options=BackfillOptions(batch_size=8, **FAST))
    assert stats.state == "finished" and stats.dead_lettered == 1 and stats.written == 29


def test_an_embedder_that_cannot_be_set_up_stops_the_backfill_and_dead_letters_nothing():
    # a model that cannot load, a device the machine lacks: no item is to blame
    world = build_text_world(40)

    def broken(texts):
        raise EmbedderSetupError("cannot put the model on device 'cuda' ([embedder] device)")

    with pytest.raises(EmbedderSetupError, match="device 'cuda'"):
        run_backfill(world.client, "upgrade", embedder(broken), PayloadField("text"),
                     options=BackfillOptions(batch_size=16, **FAST))
    assert drive(read_dead_letters("upgrade"), world.client) == []
