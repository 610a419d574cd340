"""The backfill's bookkeeping on its own, with no Qdrant: the pure ledger and lease book as
truth tables, and the claim, sweep, select and commit step generators driven by hand (each
result fed in with ``.send()``, each call they yield asserted)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client.http import models

from qdrant_drift.backfill import Lease, PayloadField, Sweep, partition_of
from qdrant_drift.backfill.commit import commit_steps, release
from qdrant_drift.backfill.leases import (
    LeaseBook,
    LeaseView,
    read_lease_view,
    remaining_steps,
    reopened,
)
from qdrant_drift.backfill.ledger import Ledger
from qdrant_drift.backfill.selection import Batch, select_steps
from qdrant_drift.backfill.sweep import Sweeps
from qdrant_drift.backfill.options import BackfillOptions
from qdrant_drift.backfill.overlap import StageOverlap
from qdrant_drift.backfill.targets import TidySchedule, target_for
from qdrant_drift.backfill.content import Item, no_content_reason
from qdrant_drift.migration.layouts import BACKFILL_COPIES, MIGRATED_MARKER, layout_of
from qdrant_drift.migration.spec import MigrationSpec
from qdrant_drift.sansio import Call, Gather, drive
from qdrant_drift.store.collection import STATE_COLLECTION as STATE, ensure_state_collection

from .by_hand import BLUE_GREEN, by_hand, finish, finish_without_calls

SPEC = MigrationSpec(name="upgrade", collection="docs", old_vector="old", new_vector="new")
TARGET = target_for(SPEC, PayloadField("text"))


def record(pid, text="some text", **payload):
    return models.Record(id=pid, payload={"text": text, **payload}, vector=None)


# -- the ledger ------------------------------------------------------------------------------

@pytest.mark.parametrize("in_flight, dead, written_early, selectable, sweepable", [
    (False, False, False, True, True),
    (True, False, False, False, False),
    (False, True, False, False, False),
    (False, False, True, True, False),
    (True, True, True, False, False),
])
def test_the_ledger_says_which_ids_may_be_selected_and_swept(in_flight, dead, written_early,
                                                            selectable, sweepable):
    ledger = Ledger()
    if in_flight:
        ledger.start([7])
    if dead:
        ledger.bury([7])
    if written_early:
        ledger.settle(migrated=[7], redo=[], out_of_order=[7])
    assert ledger.selectable(7) is selectable
    assert ledger.sweepable(7) is sweepable


def test_redo_and_hot_ids_skip_what_is_in_flight_or_dead():
    ledger = Ledger()
    ledger.settle(migrated=[], redo=[1, 2, 3])
    ledger.start([2])
    ledger.bury([3])
    ledger.set_hot([4, 3, 5, 6])
    assert ledger.take_redo(10) == [1]
    assert list(ledger.hot) == [4, 5, 6]  # the dead letter never enters the hot list
    ledger.start([5])
    assert ledger.take_hot(2) == [4, 6]
    assert ledger.take_hot(2) == []


def test_an_item_whose_content_keeps_changing_is_dead_lettered_after_max_redo_tries():
    ledger = Ledger(max_redo=2)
    assert ledger.settle(migrated=[], redo=[9]) == []
    assert ledger.settle(migrated=[], redo=[9]) == []
    exhausted = ledger.settle(migrated=[], redo=[9])
    assert [pid for pid, _ in exhausted] == [9]
    assert "2 re-embeds" in exhausted[0][1]
    assert list(ledger.redo) == [9, 9]  # the earlier tries are still queued ...
    ledger.bury([9])
    assert ledger.take_redo(5) == []  # ... but a dead letter is never selected again


def test_a_write_that_lands_resets_the_redo_count():
    ledger = Ledger(max_redo=1)
    ledger.settle(migrated=[], redo=[9])
    ledger.settle(migrated=[9], redo=[])
    assert ledger.settle(migrated=[], redo=[9]) == []


def test_only_ids_written_out_of_order_are_skipped_by_the_sweep():
    ledger = Ledger()
    ledger.settle(migrated=[1, 2], redo=[], out_of_order=[2])
    assert ledger.sweepable(1) and not ledger.sweepable(2)


def test_redo_pending_asks_about_the_ids_waiting_for_a_re_embed():
    ledger = Ledger()
    ledger.settle(migrated=[], redo=[10, 11])
    assert ledger.redo_pending(lambda pid: pid == 11)
    assert not ledger.redo_pending(lambda pid: pid > 20)


# -- overlapping the stages ---------------------------------------------------------------------

@pytest.mark.parametrize("embedded, inline_shares, handed_down, inline", [
    (False, [], 0, False),                    # a server: the threads, from the first batch
    (False, [0.01] * 3, 0, False),
    (True, [], 0, True),                      # embedded: the first batches are measured inline
    (True, [2.0, 2.0], 0, True),              # ... three of them
    (True, [0.01, 0.01, 0.01], 0, True),      # a near-free embedder: inline
    (True, [0.2, 0.3, 0.2], 0, True),         # under a quarter of selecting and writing
    (True, [0.25, 0.3, 0.2], 0, False),       # a quarter: the threads
    (True, [85.0, 80.0, 90.0], 0, False),     # a model on a CPU
    (True, [0.01, 9.0, 0.01], 0, True),       # one slow batch (a garbage collection) is not a trend
    (True, [85.0, 80.0, 90.0], 30, False),
    (True, [85.0, 80.0, 90.0], 31, True),     # every 32nd batch is measured inline again
])
def test_batches_overlap_their_stages_unless_embedded_qdrant_and_the_embedder_is_a_small_share(
        embedded, inline_shares, handed_down, inline):
    policy = StageOverlap(embedded=embedded)
    for share in inline_shares:
        policy.observe(share * 0.02, 0.02)
    policy.overlapped = handed_down
    assert policy.inline_next() is inline


def test_a_probe_batch_starts_a_new_count_of_batches_handed_down():
    policy = StageOverlap(embedded=True)
    for _ in range(3):
        assert policy.inline_next()
        policy.observe(1.0, 0.02)
    decisions = [policy.inline_next() for _ in range(64)]
    assert [i for i, inline in enumerate(decisions) if inline] == [31, 63]


# -- the lease book ---------------------------------------------------------------------------

def view(*leases, live=1):
    stored = {k: Lease(partition=k) for k in range(4)}
    stored.update({lease.partition: lease for lease in leases})
    return LeaseView(stored, live)


def test_a_lone_worker_claims_every_open_partition_from_its_checkpoint():
    book = LeaseBook("w1", 4)
    renewal = book.renew(view(Lease(2, cursor=40), Lease(3, done=True)), now=100.0, timeout=30)
    assert sorted(renewal.claimed) == [0, 1, 2]
    assert renewal.claimed[2].cursor == 40 and renewal.claimed[2].owner == "w1"
    assert book.open_partitions() == [0, 1, 2]
    assert {lease.heartbeat for lease in renewal.to_write} == {100.0}
    assert not renewal.all_done


def test_a_second_live_worker_makes_the_first_release_above_its_fair_share():
    book = LeaseBook("w1", 4)
    book.renew(view(), now=100.0, timeout=30)
    renewal = book.renew(view(*(Lease(k, owner="w1", heartbeat=100.0) for k in range(4)),
                              live=2), now=110.0, timeout=30)
    assert renewal.released == (2, 3) and sorted(book.owned) == [0, 1]
    assert [lease.owner for lease in renewal.to_write if lease.partition in (2, 3)] == [None,
                                                                                      None]


@pytest.mark.parametrize("owner, heartbeat, claimed", [
    (None, 0.0, True),  # free
    ("w2", 95.0, False),  # another worker, alive
    ("w2", 10.0, True),  # another worker, silent past the timeout
    ("w1", 95.0, True),  # its own from before a restart under the same id: at once
])
def test_a_worker_claims_free_and_expired_leases_only(owner, heartbeat, claimed):
    book = LeaseBook("w1", 1)
    stored = LeaseView({0: Lease(0, owner=owner, heartbeat=heartbeat)}, 2)
    assert (0 in book.renew(stored, now=100.0, timeout=30).claimed) is claimed


@pytest.mark.parametrize("gone, claimed", [
    (frozenset(), False),  # alive by its heartbeat: wait
    (frozenset({"w2"}), True),  # known to have exited (embedded Qdrant): at once
    (frozenset({"w3"}), False),  # someone else exited
])
def test_a_lease_of_a_worker_known_to_be_gone_is_claimed_without_waiting(gone, claimed):
    book = LeaseBook("w1", 1)
    stored = LeaseView({0: Lease(0, owner="w2", heartbeat=95.0)}, 1, gone)
    assert (0 in book.renew(stored, now=100.0, timeout=30).claimed) is claimed


def test_on_embedded_qdrant_only_the_engines_of_this_process_are_alive():
    from qdrant_drift.backfill.leases import read_lease_view
    from qdrant_drift.store.backfill import write_leases, write_worker
    from qdrant_drift.lifecycle.progress import WorkerStatus

    client = QdrantClient(":memory:")
    drive(ensure_state_collection(), client)
    drive(write_leases("m", 2, [Lease(0, owner="dead-1", heartbeat=time.time()),
                                Lease(1, owner="here-2", heartbeat=time.time())]), client)
    for worker in ("dead-1", "here-2"):
        drive(write_worker("m", WorkerStatus(worker=worker, partitions=(), alive=True,
                                             heartbeat_age_s=0.0, processed=0,
                                             state="running")), client)

    def view(running_here):
        return drive(read_lease_view("m", "me", 2, timeout=30, state_collection=STATE,
                                     running_here=running_here), client)

    on_a_server = view(None)  # any process may run a worker: heartbeats decide
    assert on_a_server.live_workers == 3 and on_a_server.gone == frozenset()
    embedded = view({"here-2"})
    assert embedded.live_workers == 2 and embedded.gone == {"dead-1"}


def test_a_worker_restarted_under_its_id_takes_its_leases_back_at_once_from_their_cursor():
    book = LeaseBook("w1", 4)  # a new process: it holds nothing yet
    renewal = book.renew(view(*(Lease(k, owner="w1", heartbeat=95.0, cursor=10 * k)
                                for k in range(4))), now=100.0, timeout=30)
    assert sorted(renewal.claimed) == [0, 1, 2, 3]  # not after the 30 s timeout
    assert [renewal.claimed[k].cursor for k in range(4)] == [0, 10, 20, 30]
    assert book.open_partitions() == [0, 1, 2, 3]


def test_a_lease_taken_over_while_this_worker_was_silent_is_lost():
    book = LeaseBook("w1", 1)
    book.renew(LeaseView({0: Lease(0)}, 1), now=0.0, timeout=30)
    renewal = book.renew(LeaseView({0: Lease(0, owner="w2", heartbeat=99.0)}, 2),
                         now=100.0, timeout=30)
    assert renewal.lost == (0,) and book.owned == {}


@pytest.mark.parametrize("written, redo_pending, done, next_pass", [
    (0, False, True, 0),  # a pass that wrote nothing: the partition is done
    (3, False, True, 0),  # ... and one that wrote: what arrived behind it is counted at the
    #                       end, once for every partition (no pass each to find nothing)
    (0, True, False, 1),  # ... unless a re-embed is still pending there: sweep again
    (3, True, False, 1),
])
def test_the_end_of_a_pass_finishes_the_partition_or_starts_another(written, redo_pending,
                                                                   done, next_pass):
    book = LeaseBook("w1", 1)
    book.owned[0] = Lease(0, owner="w1", processed=written, cursor=5)
    cp = book.checkpoint(migrated=[], partition=0, cursor=None, ends_pass=True,
                         redo_pending=lambda k: redo_pending, now=1.0)
    assert cp.pass_ended == 0 and cp.partition_done is done
    assert book.owned[0].done is done and book.owned[0].pass_no == next_pass
    assert book.owned[0].cursor is None


def test_a_checkpoint_counts_each_write_in_its_partition_and_moves_the_cursor():
    book = LeaseBook("w1", 2)
    book.renew(LeaseView({0: Lease(0), 1: Lease(1)}, 1), now=0.0, timeout=30)
    ids = list(range(20))
    cp = book.checkpoint(migrated=ids, partition=0, cursor=77, ends_pass=False,
                         redo_pending=lambda k: False, now=1.0)
    per_partition = {k: sum(partition_of(i, 2) == k for i in ids) for k in (0, 1)}
    assert {lease.partition: lease.processed for lease in cp.to_write} == per_partition
    assert book.owned[0].cursor == 77 and book.owned[1].cursor is None
    assert cp.pass_ended is None


def test_release_all_hands_every_lease_back_unowned():
    book = LeaseBook("w1", 2)
    book.renew(LeaseView({0: Lease(0), 1: Lease(1)}, 1), now=0.0, timeout=30)
    assert {lease.owner for lease in book.release_all()} == {None} and book.owned == {}


def test_a_lease_stored_by_an_older_version_still_loads():
    # stop 29's leases also counted each pass's writes (``pass_writes``), which nothing reads
    stored = {"partition": 3, "owner": "w1", "cursor": 41, "pass_no": 2, "pass_writes": 7,
              "done": False, "processed": 90, "heartbeat": 5.0}
    assert Lease.from_payload(stored) == Lease(3, owner="w1", heartbeat=5.0, cursor=41,
                                               pass_no=2, processed=90)


def test_late_arrivals_reopen_only_done_partitions_for_a_new_pass():
    stored = view(Lease(0, done=True, cursor=9, pass_no=2), Lease(1, done=False, cursor=4))
    opened = {lease.partition: lease for lease in reopened(stored)}
    assert sorted(opened) == [0]
    assert opened[0] == Lease(0, done=False, cursor=None, pass_no=3)


# -- the step generators -----------------------------------------------------------------------

def test_the_claim_read_asks_for_the_workers_then_the_leases():
    steps = read_lease_view("upgrade", "w1", 2, timeout=30, state_collection="state")
    first = next(steps)
    assert isinstance(first, Call) and first.method == "scroll" and first.args == ("state",)
    second = steps.send(([], None))  # no worker has reported yet
    assert second.method == "retrieve" and len(second.args[1]) == 2
    stored = Lease(1, owner="w9", heartbeat=5.0).to_payload()
    result = finish(steps, [models.Record(id="x", payload=stored)])
    assert result.live_workers == 1
    assert result.stored[1].owner == "w9" and result.stored[0] == Lease(0)


def test_the_count_of_points_left_excludes_the_dead_letters_that_still_lack_the_vector():
    steps = remaining_steps(TARGET, [3, 4, 5])
    counts = next(steps)
    assert isinstance(counts, Gather) and [c.method for c in counts.calls] == ["count"] * 2
    assert counts.calls[0].kwargs["count_filter"].must_not  # lacking the new vector
    assert "count_filter" not in counts.calls[1].kwargs  # all points
    dead = steps.send([SimpleNamespace(count=7), SimpleNamespace(count=50)])
    assert dead.method == "retrieve" and dead.args[1] == [3, 4, 5]
    # 4 was given its new vector by the app since it was dead-lettered, 5 was deleted
    remaining = finish(steps, [models.Record(id=3, vector={}),
                               models.Record(id=4, vector={"new": [1.0] * 4})])
    assert (remaining.left, remaining.migrated, remaining.total) == (6, 43, 50)


def test_the_sweep_reads_ahead_a_page_and_serves_batches_from_its_buffer():
    sweeps = Sweeps(partitions=1, page=5)
    sweeps.open(0)
    steps = sweeps.take_steps(0, TARGET, 2, lambda pid: pid != 1)
    scroll = next(steps)
    assert scroll.method == "scroll" and scroll.kwargs["offset"] is None
    assert scroll.kwargs["limit"] == 5
    swept = finish(steps, ([record(i) for i in range(5)], 5))
    assert [r.id for r in swept.records] == [0, 2] and swept.cursor == 3
    assert not swept.ends_pass
    again = sweeps.take_steps(0, TARGET, 2, lambda pid: True)
    assert [r.id for r in finish_without_calls(again).records] == [3, 4]


def test_the_sweep_ends_its_pass_on_the_last_page_and_then_awaits_the_write():
    sweeps = Sweeps(partitions=1, page=5)
    sweeps.open(0, cursor=10)
    steps = sweeps.take_steps(0, TARGET, 5, lambda pid: True)
    assert next(steps).kwargs["offset"] == 10
    swept = finish(steps, ([record(10), record(11)], None))
    assert swept.ends_pass and swept.cursor is None
    assert sweeps.awaiting(0) and sweeps.next_partition([0]) is None
    sweeps.open(0)  # the write started a new pass
    assert sweeps.next_partition([0]) == 0


def test_the_sweep_keeps_only_its_own_partitions_points():
    sweeps = Sweeps(partitions=3, page=30)
    steps = sweeps.take_steps(1, TARGET, 30, lambda pid: True)
    next(steps)
    swept = finish(steps, ([record(i) for i in range(30)], None))
    assert [r.id for r in swept.records] == [i for i in range(30) if partition_of(i, 3) == 1]


def owned_book(partitions=1):
    book = LeaseBook("w1", partitions)
    book.renew(LeaseView({k: Lease(k) for k in range(partitions)}, 1), now=0.0, timeout=30)
    return book


def test_select_takes_redo_then_hot_ids_by_id_and_fills_the_rest_from_the_sweep():
    ledger, book, sweeps = Ledger(), owned_book(), Sweeps(1)
    ledger.settle(migrated=[], redo=[1])
    ledger.set_hot([2, 3])
    steps = select_steps(TARGET, PayloadField("text"), size=5, order=lambda n, hot: 1,
                         ledger=ledger, sweeps=sweeps, leases=book)
    fetch = next(steps)
    assert fetch.method == "retrieve" and fetch.args == ("docs", [1, 2])
    scroll = steps.send([record(1), record(2)])
    assert scroll.method == "scroll"
    batch = finish(steps, ([record(1), record(5), record(6, text=""), record(7)], None))
    assert [item.id for item in batch.items] == [1, 2, 5, 7]
    assert batch.out_of_order == {1, 2}
    assert batch.poison == [(6, "no text in payload field 'text': it is empty")]
    assert batch.ends_pass and batch.partition == 0
    assert ledger.in_flight == {1, 2, 5, 6, 7}


def test_select_returns_none_when_there_is_nothing_to_do():
    book = owned_book()
    book.owned[0] = Lease(0, owner="w1", done=True)
    steps = select_steps(TARGET, PayloadField("text"), size=4, order=Sweep(), ledger=Ledger(),
                         sweeps=Sweeps(1), leases=book)
    assert finish_without_calls(steps) is None


def test_commit_writes_conditionally_then_dead_letters_then_the_checkpoint():
    ledger, book, sweeps = Ledger(), owned_book(), Sweeps(1)
    items = [Item(1, "a", "a"), Item(2, "b", "b")]
    ledger.start([1, 2, 3])
    batch = Batch(items=items, poison=[(3, "no text")], partition=0, cursor_after=None,
                  ends_pass=True, vectors=np.ones((2, 4), dtype=np.float32))
    steps = commit_steps(TARGET, batch, migration="upgrade", state_collection="state",
                         ledger=ledger, leases=book, sweeps=sweeps)
    update = next(steps)
    assert update.method == "update_vectors" and update.kwargs["update_filter"].must_not
    check = steps.send(None)
    assert check.method == "retrieve"
    stamp = steps.send([models.Record(id=1, vector={"new": [1.0] * 4}),
                        models.Record(id=2, vector={})])  # 2 changed meanwhile: redo
    assert stamp.method == "set_payload"
    dead = steps.send(None)
    assert dead.method == "upsert" and dead.args[0] == "state"
    assert [p.payload["point_id"] for p in dead.args[1]] == [3]
    lease_write = steps.send(None)
    assert lease_write.method == "upsert"
    [lease] = [p.payload for p in lease_write.args[1]]
    assert lease["pass_no"] == 1 and not lease["done"] and lease["cursor"] is None
    committed = finish(steps, None)
    assert committed.outcome.migrated == [1] and committed.outcome.redo == [2]
    assert committed.dead == [(3, "no text")]
    assert ledger.in_flight == set() and ledger.dead == {3} and list(ledger.redo) == [2]


@pytest.mark.parametrize("chunk, embedded, items, sizes", [
    (None, False, 40, [40]),          # a server: one request for the whole write
    (None, True, 40, [16, 16, 8]),    # embedded Qdrant: at most 16 points a request
    (64, False, 130, [64, 64, 2]),    # the Ray driver's group: a batch a request
    (64, True, 40, [16, 16, 8]),      # ... and on embedded Qdrant the smaller of the two
    (8, True, 20, [8, 8, 4]),
])
def test_a_compare_and_set_goes_out_in_requests_of_the_batch_and_embedded_qdrants_size(
        chunk, embedded, items, sizes):
    target = target_for(SPEC, PayloadField("text"), embedded=embedded)
    written = [Item(i, f"text {i}", f"text {i}") for i in range(items)]
    steps = target.write_steps(written, np.ones((items, 4), dtype=np.float32), chunk=chunk)
    requests, answers = [], [None] * len(sizes)
    request = next(steps)
    for answer in answers:
        requests.append(request)
        request = steps.send(answer)
    assert [r.method for r in requests] == ["update_vectors"] * len(sizes)
    assert [len(r.args[1]) for r in requests] == sizes
    for r in requests:  # each request's filter names exactly the points it carries
        clauses = r.kwargs["update_filter"].should
        assert [c.must[0].has_id for c in clauses] == [[p.id] for p in r.args[1]]
    assert request.method == "retrieve" and len(request.args[1]) == items


def test_an_unwritten_batch_is_released_and_its_partition_swept_again_from_the_checkpoint():
    ledger, book, sweeps = Ledger(), owned_book(), Sweeps(1)
    book.owned[0] = Lease(0, owner="w1", cursor=42)
    ledger.start([1, 2])
    release(Batch(items=[Item(1, "a")], poison=[(2, "x")], partition=0), ledger=ledger,
            leases=book, sweeps=sweeps)
    assert ledger.in_flight == set()
    steps = sweeps.take_steps(0, TARGET, 1, lambda pid: True)
    assert next(steps).kwargs["offset"] == 42


def test_a_done_lease_reopened_in_the_store_is_swept_again_by_its_owner():
    book = LeaseBook("w1", 1)
    book.owned[0] = Lease(0, owner="w1", done=True, cursor=None, pass_no=1)
    renewal = book.renew(LeaseView({0: Lease(0, owner="w1", pass_no=2)}, 1), now=5.0,
                         timeout=30)
    assert 0 in renewal.claimed and book.open_partitions() == [0]
    assert not renewal.all_done


def test_a_claim_another_worker_wrote_over_is_dropped_on_the_verifying_read():
    book = LeaseBook("w1", 2)
    renewal = book.renew(LeaseView({0: Lease(0), 1: Lease(1)}, 1), now=0.0, timeout=30)
    stored = {0: Lease(0, owner="w1"), 1: Lease(1, owner="w2")}
    assert book.confirm(stored, renewal.claimed) == (1,)
    assert book.open_partitions() == [0]


def test_a_claim_is_a_compare_and_set_on_the_owner_and_heartbeat_as_read():
    from qdrant_drift.store.backfill import claim_leases

    never_stored, expired = Lease(0), Lease(1, owner="w2", heartbeat=5.0)
    steps = claim_leases("upgrade", 2, [(never_stored, Lease(0, owner="w1", heartbeat=9.0)),
                                        (expired, Lease(1, owner="w1", heartbeat=9.0))],
                         state_collection="state")
    create = next(steps)
    assert create.method == "upsert" and create.kwargs["update_mode"] == "insert_only"
    first = steps.send(None)
    assert first.method == "set_payload" and first.kwargs["payload"]["owner"] == "w1"
    assert isinstance(first.kwargs["points"].filter.must[1], models.IsNullCondition)
    second = steps.send(None)
    owner, heartbeat = second.kwargs["points"].filter.must[1:]
    assert owner.match.value == "w2" and (heartbeat.range.gte, heartbeat.range.lte) == (5.0, 5.0)
    read = steps.send(None)
    assert read.method == "retrieve"
    won = finish(steps, [models.Record(id="a", payload=Lease(0, owner="w1").to_payload()),
                         models.Record(id="b", payload=Lease(1, owner="w3").to_payload())])
    assert won[0].owner == "w1" and won[1].owner == "w3"  # w3 got there first


def test_a_backfill_that_exits_tidies_each_time_it_runs_out_of_work():
    schedule = TidySchedule(300.0, every_time=True)
    assert [schedule.due(t) for t in (0.0, 1.0, 2.0)] == [True, True, True]


def test_a_backfill_that_keeps_running_tidies_at_most_once_per_interval():
    schedule = TidySchedule(300.0, every_time=False)
    # recounts every few seconds: the scan of the new collection runs on the first and then
    # once the interval has passed
    assert [schedule.due(t) for t in (0.0, 7.5, 299.0, 300.0, 307.5, 600.0)] == [
        True, False, False, True, False, True]
    assert TidySchedule.for_backfill(BackfillOptions(heartbeat_timeout=30.0,
                                                     exit_when_done=False)).interval_s == 300.0


def test_the_tidy_removes_copies_of_deleted_points_and_unmarks_one_re_inserted_meanwhile():
    # copy 7's legacy point is gone; 8's too at the look-up, but it is re-inserted and
    # copied again before the delete lands, so its fresh copy went too: it is unmarked, to be
    # swept and copied again (else it would count as migrated with no copy to serve)
    steps = layout_of(BLUE_GREEN).tidy_steps()
    Record = models.Record
    marked = {MIGRATED_MARKER: True}
    requests, tidied = by_hand(steps, [
        ("scroll", ([Record(id=6, payload={}), Record(id=7, payload={}),
                     Record(id=8, payload={})], None)),
        ("retrieve", [Record(id=6, payload=marked)]),
        ("delete", None),
        ("retrieve", [Record(id=8)]),
        ("delete_payload", None),
    ])
    scroll, look_up, delete, look_again, unmark = requests
    assert scroll.args == ("docs_v2",) and look_up.args == ("docs", [6, 7, 8])
    deleted = delete.kwargs["points_selector"].filter.must
    assert deleted[0].has_id == [7, 8] and deleted[1:] == BACKFILL_COPIES.must  # only ours
    assert look_again.args == ("docs", [7, 8])
    assert unmark.args == ("docs",) and unmark.kwargs["keys"] == [MIGRATED_MARKER]
    assert unmark.kwargs["points"].filter.must[0].has_id == [8]
    assert tidied == 3  # two copies removed, one point unmarked


def backfill_copies(*ids: int) -> list[models.Record]:
    """Copies the backfill made in the new collection, text ``t<id>``."""
    stamp = {"_drift": {"new_vector_by": "backfill"}}
    return [models.Record(id=i, payload={"text": f"t{i}", **stamp}) for i in ids]


def test_the_tidy_unmarks_points_whose_payload_a_plain_client_edited_after_the_copy():
    # set_payload and delete_payload keep the marker: without the tidy the sweep never sees
    # the edit, and finish would drop the legacy point and keep the copy's old payload
    steps = layout_of(BLUE_GREEN).tidy_steps()
    Record = models.Record
    requests, tidied = by_hand(steps, [
        ("scroll", (backfill_copies(1, 2, 3), None)),
        ("retrieve", [
            Record(id=1, payload={"text": "t1", MIGRATED_MARKER: True}),  # current
            Record(id=2, payload={"text": "t2 edited", MIGRATED_MARKER: True}),  # stale
            Record(id=3, payload={"text": "t3 edited"}),  # unmarked already: swept anyway
        ]),
        ("delete_payload", None),
    ])
    scroll, look_up, unmark = requests
    assert scroll.kwargs["with_payload"] is True and look_up.kwargs["with_payload"] is True
    assert unmark.kwargs["keys"] == [MIGRATED_MARKER]
    assert unmark.kwargs["points"].filter.must[0].has_id == [2]
    assert tidied == 1


def test_the_stale_count_makes_the_tidys_comparison_and_writes_nothing():
    # what the check before `finish` asks: how many points the tidy would unmark, read-only
    steps = layout_of(BLUE_GREEN).count_stale_steps()
    Record = models.Record
    requests, stale = by_hand(steps, [
        ("scroll", (backfill_copies(1, 2, 3, 4), None)),
        ("retrieve", [
            Record(id=1, payload={"text": "t1", MIGRATED_MARKER: True}),  # current
            Record(id=2, payload={"text": "t2 edited", MIGRATED_MARKER: True}),  # stale
            Record(id=3, payload={"text": "t3 edited"}),  # unmarked already: not counted
        ]),  # 4's legacy point is gone: an orphan copy, not a stale one
    ])
    assert [request.method for request in requests] == ["scroll", "retrieve"]
    assert stale == 1


def test_a_tidy_by_ids_only_reads_no_payload_and_unmarks_nothing():
    # what a backfill that keeps running does every few minutes: deletes only
    steps = layout_of(BLUE_GREEN).tidy_steps(payloads=False)
    Record = models.Record
    requests, tidied = by_hand(steps, [
        ("scroll", ([Record(id=1), Record(id=2)], None)),
        ("retrieve", [Record(id=1), Record(id=2)]),
    ])
    scroll, look_up = requests
    assert scroll.kwargs["with_payload"] is False and look_up.kwargs["with_payload"] is False
    assert tidied == 0


def test_a_done_backfill_reopens_while_points_are_left_but_not_twice_without_progress():
    from qdrant_drift.backfill.leases import ReopenGuard

    guard = ReopenGuard()
    # (points left, processed so far) at each moment the backfill runs out of work
    assert [guard.reopen(left, processed) for left, processed in [
        (0, 10),   # nothing left: done
        (5, 10),   # arrived behind the sweep: another pass
        (5, 10),   # that pass processed none of them: no way forward
        (5, 10),   # still none: still no
        (3, 12),   # progress since: another pass
        (0, 15),   # done
    ]] == [False, True, False, False, True, False]


@pytest.mark.parametrize("payload, reason", [
    ({"text": ""}, "no text in payload field 'text': it is empty"),
    ({"text": "  "}, "no text in payload field 'text': it is empty"),
    ({"text": None}, "no text in payload field 'text': it is empty"),
    ({}, "no text in payload field 'text': the point has no such field"),
    ({"text": 42}, "no text in payload field 'text': it holds int, not text"),
    ({"text": ["a", "b"]}, "no text in payload field 'text': it holds list, not text"),
])
def test_a_point_without_text_is_dead_lettered_with_what_its_field_holds(payload, reason):
    ledger, book, sweeps = Ledger(), owned_book(), Sweeps(1)
    steps = select_steps(TARGET, PayloadField("text"), size=5, order=lambda n, hot: 1,
                         ledger=ledger, sweeps=sweeps, leases=book)
    next(steps)  # the sweep's scroll
    point = models.Record(id=8, payload=payload, vector=None)
    batch = finish(steps, ([record(1), point], None))
    assert batch.poison == [(8, reason)]
    assert reason.startswith(no_content_reason(PayloadField("text")))  # the Ray engine's test
