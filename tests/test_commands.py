"""The command layer: each rule once (legal moves naming the command to run, cut-over only at
full coverage, finish only after cut-over), and every change to the migration record a
checked write that concurrent commands cannot silently undo."""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_client.http import models

from qdrant_drift import DriftError, MigrationSpec, StateError, fit
from qdrant_drift.backfill import PayloadField, run_backfill
from qdrant_drift.embedders import CallableEmbedder
from qdrant_drift.local import SerializedClient
from qdrant_drift.lifecycle import commands
from qdrant_drift.migration.layouts import MIGRATED_MARKER, STAMP_KEY
from qdrant_drift.migration.phases import ALLOWED, Phase, check_transition, next_command
from qdrant_drift.sansio import drive
from qdrant_drift.store.records import load_record, phase_change, update_record, write_record

from .conftest import make_client
from .backfill_fixtures import (
    DIM, build_legacy_collection, build_text_world, doc_text, embed_texts, old_vectors,
    text_vector)


def migrate_everything(world) -> None:
    new = embed_texts([doc_text(i) for i in range(world.n)])
    world.client.update_vectors("docs", [models.PointVectors(id=i, vector={"new": new[i].tolist()})
                                         for i in range(world.n)])


# -- legal moves -------------------------------------------------------------------------
@pytest.mark.parametrize("current", list(Phase))
@pytest.mark.parametrize("target", list(Phase))
def test_every_move_is_allowed_exactly_when_the_table_says_so(current, target):
    if target in ALLOWED[current]:
        check_transition(current, target)
    else:
        with pytest.raises(StateError, match=f"cannot go from '{current.value}' to "
                                             f"'{target.value}': "):
            check_transition(current, target)


@pytest.mark.parametrize("current, target, advice", [
    (Phase.ROLLED_BACK, Phase.CUT_OVER, "run `qdrant-drift start` first"),
    (Phase.FITTED, Phase.CUT_OVER, "run `qdrant-drift start` first"),
    (Phase.SERVING_ADAPTED, Phase.FINISHED,
     "run `qdrant-drift start`, then `qdrant-drift cutover` first"),
    (Phase.ROLLED_BACK, Phase.FINISHED,
     "run `qdrant-drift start`, then `qdrant-drift cutover` first"),
    (Phase.PLANNED, Phase.BACKFILLING, "run `qdrant-drift fit`"),
    # a finished blue-green migration's collection is gone: the next one names the new one
    # (NEW_FILE: the CLI must not fill in the finished migration's own file)
    (Phase.FINISHED, Phase.ROLLED_BACK, "a next upgrade is a new migration: a new migration "
                                        "file (a new [migration] name, on the collection that "
                                        "now holds the data), then `qdrant-drift fit NEW_FILE`"),
    (Phase.CUT_OVER, Phase.CUT_OVER, "already 'cut-over'"),
    (Phase.ABANDONED, Phase.BACKFILLING, "start a new one with `qdrant-drift fit`"),
])
def test_a_refused_move_names_the_command_to_run(current, target, advice):
    assert advice in next_command(current, target)


# -- the rules, through the plain functions ----------------------------------------------
def test_cutover_is_refused_while_points_lack_the_new_vector_unless_forced():
    world = build_text_world(40)
    with pytest.raises(StateError, match="cut-over refused: 40 of 40 points still lack"):
        commands.cutover(world.client, "upgrade")
    with pytest.raises(StateError, match="cut-over refused"):
        commands.set_phase(world.client, "upgrade", "cut-over")  # no way around the rule
    assert commands.cutover(world.client, "upgrade", force=True).phase is Phase.CUT_OVER


def test_cutover_and_rollback_repeated_change_nothing_and_succeed():
    world = build_text_world(20)
    commands.cutover(world.client, "upgrade", force=True)
    revision = drive(load_record("upgrade"), world.client).revision
    assert commands.cutover(world.client, "upgrade").phase is Phase.CUT_OVER
    commands.rollback(world.client, "upgrade")
    assert commands.rollback(world.client, "upgrade").phase is Phase.ROLLED_BACK
    assert drive(load_record("upgrade"), world.client).revision == revision + 1  # one move


def test_cutover_after_rollback_names_the_command_to_run_first():
    world = build_text_world(20)
    migrate_everything(world)
    commands.rollback(world.client, "upgrade")
    with pytest.raises(StateError, match="cannot go from 'rolled-back' to 'cut-over': run "
                                         "`qdrant-drift start` first"):
        commands.cutover(world.client, "upgrade")
    commands.start(world.client, "upgrade")
    assert commands.cutover(world.client, "upgrade").phase is Phase.CUT_OVER


@pytest.mark.parametrize("phase, advice", [
    (Phase.CUT_OVER, "`qdrant-drift finish` completes it"),
    (Phase.FINISHED, "a next upgrade is a new migration"),
])
def test_start_is_refused_after_cutover_and_finish_with_what_to_do(phase, advice):
    world = build_text_world(20)
    migrate_everything(world)
    commands.cutover(world.client, "upgrade")
    if phase is Phase.FINISHED:
        commands.finish(world.client, "upgrade")
    with pytest.raises(StateError, match=advice):
        commands.start(world.client, "upgrade")


def test_start_from_fitted_is_one_write_that_records_both_phase_changes():
    world = build_text_world(20)
    commands.rollback(world.client, "upgrade")
    record = commands.start(world.client, "upgrade")
    assert record.phase is Phase.BACKFILLING
    moves = [(e["from"], e["to"]) for e in record.phase_changes()]
    assert moves == [("serving-adapted", "backfilling"), ("backfilling", "rolled-back"),
                     ("rolled-back", "backfilling")]
    assert commands.start(world.client, "upgrade").revision == record.revision  # no-op


def unnamed_legacy_collection(client: QdrantClient, n: int = 30) -> None:
    """What `init` assumes by default: the legacy vector is the collection's unnamed one."""
    old = old_vectors(n)
    client.create_collection("docs", vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.COSINE))
    client.upsert("docs", [models.PointStruct(id=i, vector=old[i].tolist(),
                                              payload={"text": doc_text(i)}) for i in range(n)])


def plain_bare_upsert(client: QdrantClient, point_id: int) -> None:
    """How a legacy app that is not wrapped writes: a bare list, the unnamed vector."""
    client.upsert("docs", [models.PointStruct(id=point_id, vector=old_vectors(1)[0].tolist(),
                                              payload={"text": doc_text(point_id)})])


def test_embedded_qdrant_refuses_bare_vectors_once_a_named_vector_is_added():
    """The fact behind the refusal below (if a qdrant-client release lifts it, this fails)."""
    client = QdrantClient(":memory:")
    unnamed_legacy_collection(client)
    client.create_vector_name("docs", "new", models.DenseVectorNameConfig(
        dense=models.DenseVectorConfig(size=DIM, distance=models.Distance.COSINE)))
    with pytest.raises(Exception, match="Unnamed vectors are not allowed"):
        plain_bare_upsert(client, 99)


@pytest.mark.parametrize("backend", ["rest", "grpc"])
def test_a_server_keeps_taking_bare_vectors_next_to_the_new_named_vector(backend, request):
    """Why the named layout on an unnamed legacy vector is refused on embedded Qdrant only."""
    client = make_client(backend, request)
    if client.collection_exists("docs"):
        client.delete_collection("docs")
    unnamed_legacy_collection(client)
    new = embed_texts([doc_text(i) for i in range(30)])
    spec = MigrationSpec(name=f"bare-{backend}", collection="docs", new_vector="new")
    commands.create(client, spec, fit("procrustes", new, old_vectors(30)),
                    state_collection=f"_drift_bare_{backend}")
    plain_bare_upsert(client, 99)  # the legacy app, not wrapped, writes as it always did
    vector = client.retrieve("docs", [99], with_vectors=True)[0].vector
    legacy = vector.get("") if isinstance(vector, dict) else vector
    assert legacy is not None and len(legacy) == DIM


def test_a_named_layout_on_an_unnamed_legacy_vector_is_refused_on_embedded_qdrant():
    client = QdrantClient(":memory:")
    unnamed_legacy_collection(client)
    new = embed_texts([doc_text(i) for i in range(30)])
    spec = MigrationSpec(name="first", collection="docs", new_vector="new")
    with pytest.raises(DriftError, match='unnamed vector.*use layout = "collection"'):
        commands.create(client, spec, fit("procrustes", new, old_vectors(30)))
    assert not isinstance(client.get_collection("docs").config.params.vectors, dict)
    plain_bare_upsert(client, 99)  # the legacy app still writes as it always did


def test_blue_green_on_an_unnamed_legacy_vector_keeps_plain_writers_and_finishes():
    client = QdrantClient(":memory:")
    unnamed_legacy_collection(client)
    new = embed_texts([doc_text(i) for i in range(30)])
    spec = MigrationSpec(name="first", collection="docs", new_vector="", layout="collection",
                         new_collection="docs_new")
    commands.create(client, spec, fit("procrustes", new, old_vectors(30)))
    plain_bare_upsert(client, 30)  # a legacy writer, mid-migration
    commands.start(client, "first")
    commands.cutover(client, "first", force=True)  # the backfill is not this test's subject
    assert commands.finish(client, "first", force=True).phase is Phase.FINISHED
    assert not client.collection_exists("docs")
    # nothing is stuck: the new collection is free for the next migration
    again = MigrationSpec(name="second", collection="docs_new", new_vector="newer",
                          old_vector="")
    with pytest.raises(DriftError, match="unnamed vector"):
        commands.create(client, again, fit("procrustes", new, new))
    again = MigrationSpec(name="second", collection="docs_new", new_vector="", layout="collection",
                          new_collection="docs_newer")
    assert commands.create(client, again, fit("procrustes", new, new)).phase \
        is Phase.SERVING_ADAPTED


def blue_green_behind(alias: str) -> tuple[QdrantClient, MigrationSpec, np.ndarray]:
    """An unnamed legacy collection "docs", its blue-green spec with ``alias``, new vectors."""
    client = QdrantClient(":memory:")
    unnamed_legacy_collection(client)
    spec = MigrationSpec(name="m", collection="docs", new_vector="", layout="collection",
                         new_collection="docs_new", alias=alias)
    return client, spec, embed_texts([doc_text(i) for i in range(30)])


def backfilled(client: QdrantClient, name: str) -> None:
    run_backfill(client, name, CallableEmbedder(embed_texts, normalize=False),
                 PayloadField("text"))


def finished(client: QdrantClient, spec: MigrationSpec, adapter) -> None:
    """A migration taken to its end: create, start, backfill, cut over, finish."""
    commands.create(client, spec, adapter)
    commands.start(client, spec.name)
    backfilled(client, spec.name)
    commands.cutover(client, spec.name)
    commands.finish(client, spec.name)


def test_an_alias_with_the_legacy_collections_name_is_given_to_the_new_one_at_finish():
    # what a LangChain or LlamaIndex app that is not wrapped needs: its collection's name
    # still works after finish. Qdrant cannot alias a name a collection has, so the name is
    # the legacy collection's until finish drops it (cut-over and rollback leave it alone)
    client, spec, new = blue_green_behind("docs")
    commands.create(client, spec, fit("procrustes", new, old_vectors(30)))
    commands.start(client, "m")
    backfilled(client, "m")
    commands.cutover(client, "m")
    commands.rollback(client, "m")
    commands.start(client, "m")
    commands.cutover(client, "m")
    assert "give its name to 'docs_new' as an alias" in commands.finish_note(spec)
    commands.finish(client, "m")
    (alias,) = client.get_aliases().aliases
    assert (alias.alias_name, alias.collection_name) == ("docs", "docs_new")
    hits = client.query_points("docs", query=text_vector(doc_text(7)).tolist(), limit=1).points
    assert hits[0].id == 7  # a plain client, the old name, the new vectors
    client.upsert("docs", [models.PointStruct(id=99, vector=new[0].tolist(), payload={})])
    assert client.count("docs_new").count == 31


def test_a_second_upgrade_of_a_name_the_first_one_gave_drops_the_collection_behind_it():
    # the first upgrade left "docs" an alias of docs_new; the next migrates "docs" again:
    # finish must drop docs_new (the legacy data), not just the alias, and move the name on
    client, spec, new = blue_green_behind("docs")
    finished(client, spec, fit("procrustes", new, old_vectors(30)))
    second = MigrationSpec(name="m2", collection="docs", new_vector="", layout="collection",
                           new_collection="docs_v3", alias="docs")
    finished(client, second, fit("procrustes", new, new))
    assert not client.collection_exists("docs_new")  # no orphan left holding the old data
    (alias,) = client.get_aliases().aliases
    assert (alias.alias_name, alias.collection_name) == ("docs", "docs_v3")
    assert client.count("docs").count == 30


def half_finished(client: QdrantClient, name: str) -> None:
    """A finish stopped between its record and its drop (a crash, a lost connection)."""
    commands.cutover(client, name)
    drive(update_record(name, phase_change(Phase.FINISHED)), client)


def test_a_second_finish_completes_one_stopped_half_way_and_else_changes_nothing():
    world = build_text_world(20)
    backfilled(world.client, "upgrade")
    half_finished(world.client, "upgrade")
    assert "old" in world.client.get_collection("docs").config.params.vectors
    assert commands.finish(world.client, "upgrade").phase is Phase.FINISHED
    vectors = world.client.get_collection("docs").config.params.vectors
    assert "old" not in vectors and "new" in vectors  # the drop it stopped before
    assert commands.finish(world.client, "upgrade").phase is Phase.FINISHED  # and again
    assert world.client.count("docs").count == 20


def test_a_second_blue_green_finish_completes_one_stopped_half_way_and_else_changes_nothing():
    client, spec, new = blue_green_behind("docs")
    commands.create(client, spec, fit("procrustes", new, old_vectors(30)))
    commands.start(client, "m")
    backfilled(client, "m")
    half_finished(client, "m")
    assert not client.get_aliases().aliases  # the legacy collection still holds the name
    commands.finish(client, "m")
    (alias,) = client.get_aliases().aliases
    assert (alias.alias_name, alias.collection_name) == ("docs", "docs_new")
    commands.finish(client, "m")
    assert client.count("docs").count == 30 and client.collection_exists("docs_new")


def test_fitting_a_finished_named_migration_again_says_it_is_finished_not_what_it_dropped():
    world = build_text_world(20)
    run_backfill(world.client, "upgrade", CallableEmbedder(embed_texts, normalize=False),
                 PayloadField("text"))
    commands.cutover(world.client, "upgrade")
    commands.finish(world.client, "upgrade")  # drops the legacy vector the file names
    new = embed_texts([doc_text(i) for i in range(world.n)])
    with pytest.raises(StateError, match="migration 'upgrade' is finished; a next upgrade is "
                                         "a new migration"):
        commands.create(world.client, world.spec, fit("procrustes", new, old_vectors(world.n)))


def test_a_finished_migration_or_a_new_side_behind_the_legacy_name_is_never_fitted_again():
    # after a finish that gave the legacy name to the new collection, "docs" IS docs_new: a
    # re-fit of the finished migration, or a next one whose new_collection is docs_new, would
    # make both sides one collection, and abandon or finish would drop all the data
    client, spec, new = blue_green_behind("docs")
    finished(client, spec, fit("procrustes", new, old_vectors(30)))
    with pytest.raises(StateError, match="migration 'm' is finished; a next upgrade is a new "
                                         "migration"):
        commands.create(client, spec, fit("procrustes", new, new))
    same_side = MigrationSpec(name="m2", collection="docs", new_vector="", layout="collection",
                              new_collection="docs_new", alias="docs")
    with pytest.raises(DriftError, match="collection 'docs' is an alias of 'docs_new', the "
                                         "new_collection this file names"):
        commands.create(client, same_side, fit("procrustes", new, new))
    assert client.count("docs_new").count == 30  # nothing was touched


def test_an_alias_that_names_another_collection_is_refused_before_anything_moves():
    client, spec, new = blue_green_behind("live")
    client.create_collection("live", vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.COSINE))
    with pytest.raises(DriftError, match="alias 'live' .* is the name of an existing collection"):
        commands.create(client, spec, fit("procrustes", new, old_vectors(30)))
    client.delete_collection("live")
    commands.create(client, spec, fit("procrustes", new, old_vectors(30)))
    commands.start(client, "m")
    client.create_collection("live", vectors_config=models.VectorParams(
        size=DIM, distance=models.Distance.COSINE))  # made since: cut-over refuses, unmoved
    with pytest.raises(DriftError, match="is the name of an existing collection"):
        commands.cutover(client, "m", force=True)
    assert drive(load_record("m"), client).phase is Phase.BACKFILLING
    with pytest.raises(ValueError, match="so new_vector must be '' too"):
        # the legacy name's apps write the unnamed vector: the new collection must hold it
        MigrationSpec(name="m", collection="docs", new_vector="minilm", layout="collection",
                      new_collection="docs_new", alias="docs")
    with pytest.raises(ValueError, match="alias 'docs_new' is new_collection's own name"):
        MigrationSpec(name="m", collection="docs", new_vector="", layout="collection",
                      new_collection="docs_new", alias="docs_new")


def run_backfill_world(world) -> None:
    run_backfill(world.client, "upgrade", CallableEmbedder(embed_texts, normalize=False),
                 PayloadField("text"))


@pytest.mark.parametrize("layout", ["named", "collection"])
def test_points_written_after_cut_over_by_a_plain_client_keep_finish_from_dropping_them(layout):
    # after cut-over a client that is not wrapped still writes the legacy side only: finish
    # would drop those points with it, so it refuses until a backfill gives them the new
    # vector (or the operator gives them up)
    world = build_text_world(20, layout=layout)
    run_backfill_world(world)
    commands.cutover(world.client, "upgrade")
    vector = {"old": old_vectors(21)[20].tolist()}
    world.client.upsert("docs", [models.PointStruct(id=20, vector=vector,
                                                    payload={"text": doc_text(20)})])
    with pytest.raises(StateError, match="finish refused: 1 of 21 points lack the new vector"):
        commands.finish(world.client, "upgrade")
    assert world.client.collection_exists("docs")
    run_backfill_world(world)  # the backfill runs after cut-over too
    assert commands.finish(world.client, "upgrade").phase is Phase.FINISHED
    # the migration's stamps go with it: an app reads its own payloads again
    remaining = world.spec.native_collection
    assert [p.payload for p in world.client.scroll(remaining, limit=100)[0]
            if STAMP_KEY in p.payload] == []
    assert world.client.count(remaining).count == 21


@pytest.mark.parametrize("layout", ["named", "collection"])
def test_finish_names_dead_letters_as_the_reason_points_lack_the_new_vector(layout):
    # a point with no text is a dead letter: cut-over was forced past it, and finish must
    # point at the dead letters, not at a plain client's writes since cut-over
    world = build_text_world(20, layout=layout)
    world.client.delete_payload("docs", keys=["text"], points=[5])
    run_backfill_world(world)
    commands.cutover(world.client, "upgrade", force=True)
    with pytest.raises(StateError) as refused:
        commands.finish(world.client, "upgrade")
    said = str(refused.value)
    assert "1 of 20 points lack the new vector" in said and "not wrapped" not in said
    assert "(1 in dead letters: `qdrant-drift dead-letters` says why)" in said
    assert "`qdrant-drift dead-letters --requeue`" in said
    late = models.PointStruct(id=21, vector={"old": old_vectors(22)[21].tolist()},
                              payload={"text": doc_text(21)})
    world.client.upsert("docs", [late])  # a plain client, after cut-over
    with pytest.raises(StateError, match=r"2 of 21 points lack the new vector.* \(1 in dead "
                                         r"letters.*; the others not backfilled yet: written or "
                                         r"edited since cut-over"):
        commands.finish(world.client, "upgrade")
    world.client.delete("docs", points_selector=models.PointIdsList(points=[5]))
    # the dead letter is gone from the collection: only the late point is named
    with pytest.raises(StateError, match=r"1 of 20 points lack the new vector.* \(not "
                                         r"backfilled yet: written or edited since cut-over by"):
        commands.finish(world.client, "upgrade")
    commands.pause(world.client, "upgrade")  # a backfill run now would wait: say so
    with pytest.raises(StateError, match=r"The backfill is paused: `qdrant-drift resume` first"):
        commands.finish(world.client, "upgrade")


def test_payload_edits_a_plain_client_makes_after_cut_over_reach_the_new_collection():
    # set_payload and delete_payload keep the legacy point's "migrated" marker: finish must
    # not drop the legacy collection while a copy still holds the payload from before
    world = build_text_world(20, layout="collection")
    run_backfill_world(world)
    commands.cutover(world.client, "upgrade")
    world.client.set_payload("docs", {"text": doc_text(3, version=1), "tag": "kept"}, points=[3])
    world.client.delete_payload("docs", keys=["n"], points=[4])
    with pytest.raises(StateError, match="finish refused: 2 of 20 points lack the new vector "
                                         "or were edited since they were copied"):
        commands.finish(world.client, "upgrade")
    assert world.client.collection_exists("docs")
    run_backfill_world(world)  # re-embeds the edited text, copies the payloads again
    assert commands.finish(world.client, "upgrade").phase is Phase.FINISHED
    three, four = world.client.retrieve("docs_v2", [3, 4], with_payload=True, with_vectors=True)
    assert three.payload["text"] == doc_text(3, version=1) and three.payload["tag"] == "kept"
    assert np.allclose(three.vector["new"], text_vector(doc_text(3, version=1)), atol=1e-5)
    assert "n" not in four.payload


def test_the_check_before_finish_counts_stale_copies_as_finish_does_and_changes_nothing():
    # the CLI asks "this cannot be undone?" only once the check passed: a check blind to
    # copies a plain client's payload edit left stale passed, and finish refused only after
    # the user confirmed. The check counts them read-only, by the tidy's own comparison.
    world = build_text_world(20, layout="collection")
    run_backfill_world(world)
    commands.cutover(world.client, "upgrade")
    world.client.set_payload("docs", {"text": doc_text(3, version=1)}, points=[3])
    world.client.delete("docs", models.PointIdsList(points=[5]))  # not a stale copy: gone
    refusal = ("finish refused: 1 of 19 points lack the new vector or were edited since they "
               "were copied")
    with pytest.raises(StateError, match=refusal):
        drive(commands.check_finish_steps("upgrade"), world.client)
    three = world.client.retrieve("docs", [3], with_payload=True)[0]
    assert three.payload[MIGRATED_MARKER] is True  # the check unmarked nothing
    assert world.client.retrieve("docs_v2", [5])  # nor removed the orphan copy
    drive(commands.check_finish_steps("upgrade", force=True), world.client)  # given up: allowed
    with pytest.raises(StateError, match=refusal):  # finish, tidying first, counts the same
        commands.finish(world.client, "upgrade")
    with pytest.raises(StateError, match=refusal):  # and so does the check after that tidy
        drive(commands.check_finish_steps("upgrade"), world.client)
    run_backfill_world(world)
    drive(commands.check_finish_steps("upgrade"), world.client)
    assert commands.finish(world.client, "upgrade").phase is Phase.FINISHED


def test_a_blue_green_copy_of_a_point_deleted_by_a_plain_client_is_not_served_after_cut_over():
    world = build_text_world(20, layout="collection")
    run_backfill_world(world)
    world.client.delete("docs", models.PointIdsList(points=[5]))  # behind the finished sweep
    commands.cutover(world.client, "upgrade")
    assert not world.client.retrieve("docs_v2", [5])


def test_finish_is_checked_before_anything_is_dropped():
    world = build_text_world(20)
    with pytest.raises(StateError, match="cannot go from 'backfilling' to 'finished': run "
                                         "`qdrant-drift cutover` first"):
        commands.finish(world.client, "upgrade")
    assert "old" in world.client.get_collection("docs").config.params.vectors


def test_any_phase_before_finish_can_be_abandoned_and_only_those():
    for phase in Phase:
        allowed = Phase.ABANDONED in ALLOWED[phase]
        assert allowed == (phase not in (Phase.FINISHED, Phase.ABANDONED)), phase


@pytest.mark.parametrize("layout", ["named", "collection"])
@pytest.mark.parametrize("phase", ["backfilling", "cut-over", "rolled-back"])
def test_abandon_drops_the_new_side_keeps_the_legacy_one_and_frees_the_collection(
        layout, phase):
    world = build_text_world(20, layout=layout)
    if layout == "named":
        migrate_everything(world)
    if phase != "backfilling":
        commands.set_phase(world.client, "upgrade", phase, force=True)
    if world.spec.layout == "collection":  # a point the backfill had marked migrated
        world.client.set_payload("docs", {"_drift_migrated": True}, points=[3])
    # what a wrapped write leaves on its legacy point (the named backfill stamps every one)
    world.client.set_payload("docs", {STAMP_KEY: {"new_vector_model": "new-m"}}, points=[5])
    record = commands.abandon(world.client, "upgrade")
    assert record.phase is Phase.ABANDONED
    vectors = world.client.get_collection("docs").config.params.vectors
    assert set(vectors) == {"old"}  # the new vector and the marker are gone
    assert world.client.count("docs").count == 20
    assert not world.client.collection_exists("docs_v2")
    assert world.client.count("docs", count_filter=models.Filter(must=[models.FieldCondition(
        key="_drift_migrated", match=models.MatchValue(value=True))])).count == 0
    # nor any stamp the backfill or the wrapper left on the legacy points
    assert [p.id for p in world.client.scroll("docs", limit=100)[0] if STAMP_KEY in p.payload] \
        == []
    with pytest.raises(StateError, match="it is abandoned; start a new one"):
        commands.start(world.client, "upgrade")
    again = MigrationSpec(name="next", collection="docs", old_vector="old", new_vector="new")
    new = embed_texts([doc_text(i) for i in range(20)])
    assert commands.create(world.client, again, fit("procrustes", new, old_vectors(20))).phase \
        is Phase.SERVING_ADAPTED
    assert drive(commands.count_migrated(again), world.client) == (0, 20)


def test_abandon_after_finish_is_refused_and_a_second_abandon_completes_a_first():
    world = build_text_world(20)
    migrate_everything(world)
    commands.cutover(world.client, "upgrade")
    commands.finish(world.client, "upgrade")
    with pytest.raises(StateError, match="cannot go from 'finished' to 'abandoned'"):
        commands.abandon(world.client, "upgrade")
    other = build_text_world(20)
    drive(update_record("upgrade", phase_change(Phase.ABANDONED)),
          other.client)  # recorded abandoned, but the drop never ran (a crash in between)
    assert "new" in other.client.get_collection("docs").config.params.vectors
    commands.abandon(other.client, "upgrade")
    assert "new" not in other.client.get_collection("docs").config.params.vectors


def test_a_second_migration_of_a_collection_is_refused_naming_the_first():
    world = build_text_world(20)
    spec = MigrationSpec(name="another", collection="docs", old_vector="old", new_vector="x")
    with pytest.raises(StateError, match="already has a migration that has not ended, "
                                         "'upgrade'.*`qdrant-drift abandon <its file>`"):
        drive(commands.preflight_steps(spec), world.client)


def test_a_rolled_back_migration_still_holds_its_collection_until_it_is_abandoned():
    # A rolled-back migration may be started again and its marks are still on the
    # collection: a second one beside it would count them as its own coverage and could cut
    # over (and finish) with points missing from its new side.
    world = build_text_world(20)
    commands.rollback(world.client, "upgrade")
    spec = MigrationSpec(name="another", collection="docs", old_vector="old", new_vector="x")
    with pytest.raises(StateError, match="'upgrade' \\(phase 'rolled-back'\\)"):
        drive(commands.preflight_steps(spec), world.client)
    commands.abandon(world.client, "upgrade")
    drive(commands.preflight_steps(spec), world.client)  # free once the first has ended


def fitted_never_started() -> QdrantClient:
    """A migration recorded by `fit` that nobody started."""
    client = QdrantClient(":memory:")
    build_legacy_collection(client, 20)
    new, old = embed_texts([doc_text(i) for i in range(20)]), old_vectors(20)
    spec = MigrationSpec(name="upgrade", collection="docs", old_vector="old", new_vector="new")
    commands.create(client, spec, fit("procrustes", new, old), phase=Phase.FITTED)
    return client


def rolled_back() -> QdrantClient:
    world = build_text_world(20)
    commands.rollback(world.client, "upgrade")
    return world.client


@pytest.mark.parametrize("setup, phase, instead", [
    (fitted_never_started, "fitted", "run `qdrant-drift start` to serve it and open the backfill"),
    (rolled_back, "rolled-back", "run `qdrant-drift start` to open the backfill again"),
])
def test_resuming_a_migration_with_no_open_backfill_says_its_phase_and_what_to_run(
        setup, phase, instead):
    # it used to write "not paused" over "not paused" and exit 0, leaving a newcomer who
    # never started the migration waiting for a backfill
    client = setup()
    before = drive(load_record("upgrade"), client).revision
    with pytest.raises(StateError) as refused:
        commands.resume(client, "upgrade")
    assert str(refused.value).startswith(
        f"migration 'upgrade' is not paused (phase: {phase}); nothing to resume: {instead}")
    assert drive(load_record("upgrade"), client).revision == before  # nothing written
    assert commands.pause(client, "upgrade").backfill_paused
    assert not commands.resume(client, "upgrade").backfill_paused  # once paused, it resumes


@pytest.mark.parametrize("ended", ["finished", "abandoned"])
def test_pause_and_resume_are_refused_once_the_migration_is_over(ended):
    client = build_text_world(20).client
    commands.pause(client, "upgrade")  # paused while it ran: the flag outlives the run
    if ended == "finished":
        commands.set_phase(client, "upgrade", Phase.CUT_OVER, force=True)
        commands.finish(client, "upgrade", force=True)
    else:
        commands.abandon(client, "upgrade")
    for command, verb in ((commands.pause, "pause"), (commands.resume, "resume")):
        with pytest.raises(StateError, match=f"is {ended}: there is no backfill to {verb}; "):
            command(client, "upgrade")


def test_resuming_an_open_backfill_that_is_not_paused_changes_nothing_and_succeeds():
    # a second operator, or a runbook re-run after a lost response: resumed already
    client = build_text_world(20).client
    before = drive(load_record("upgrade"), client).revision
    record = commands.resume(client, "upgrade")
    assert record.phase is Phase.BACKFILLING and not record.backfill_paused
    assert drive(load_record("upgrade"), client).revision == before  # nothing written


def test_every_phase_either_runs_the_backfill_or_says_what_to_run_instead():
    # a phase added later must say what to run instead, not fail with a KeyError (a resume
    # and a backfill start both say it)
    from qdrant_drift.migration.phases import BACKFILL_CLOSED, BACKFILL_RUNS

    assert set(BACKFILL_CLOSED) | set(BACKFILL_RUNS) == set(Phase)
    assert not set(BACKFILL_CLOSED) & set(BACKFILL_RUNS)
    assert commands.RESUME_REFUSALS is BACKFILL_CLOSED


def test_commands_before_any_fit_say_to_run_fit():
    client = QdrantClient(":memory:")
    for command in (commands.start, commands.pause, commands.cutover, commands.finish):
        with pytest.raises(StateError, match="has not been fitted yet: run `qdrant-drift fit`"):
            command(client, "nothing")


def test_the_async_entry_points_obey_the_same_rules():
    async def scenario() -> list[Any]:
        client = AsyncQdrantClient(":memory:")
        await client.create_collection("docs", vectors_config={
            "old": models.VectorParams(size=DIM, distance=models.Distance.COSINE)})
        old = old_vectors(20)
        await client.upsert("docs", [models.PointStruct(id=i, vector={"old": old[i].tolist()})
                                     for i in range(20)])
        new = embed_texts([doc_text(i) for i in range(20)])
        spec = MigrationSpec(name="upgrade", collection="docs", old_vector="old",
                             new_vector="new")
        await commands.acreate(client, spec, fit("procrustes", new, old))
        seen = [(await commands.astart(client, "upgrade")).phase]
        with pytest.raises(StateError, match="cut-over refused: 20 of 20"):
            await commands.acutover(client, "upgrade")
        seen.append((await commands.apause(client, "upgrade")).backfill_paused)
        seen.append((await commands.aresume(client, "upgrade")).backfill_paused)
        seen.append((await commands.acutover(client, "upgrade", force=True)).phase)
        seen.append((await commands.arollback(client, "upgrade")).phase)
        with pytest.raises(StateError, match="then `qdrant-drift cutover` first"):
            await commands.afinish(client, "upgrade")
        return seen

    assert asyncio.run(scenario()) == [Phase.BACKFILLING, True, False, Phase.CUT_OVER,
                                       Phase.ROLLED_BACK]


# -- checked state -----------------------------------------------------------------------
def test_a_write_based_on_a_stale_read_is_never_applied_over_a_newer_one():
    world = build_text_world(20)
    stale = drive(load_record("upgrade"), world.client)
    commands.rollback(world.client, "upgrade")  # moves the record on
    stale.phase = Phase.CUT_OVER
    won = drive(write_record(stale, [{"from": "backfilling", "to": "cut-over"}],
                             expected=stale.revision), world.client)
    assert not won
    assert drive(load_record("upgrade"), world.client).phase is Phase.ROLLED_BACK


OPERATIONS = {
    "pause": lambda c: commands.pause(c, "upgrade"),
    "resume": lambda c: commands.resume(c, "upgrade"),
    "cutover": lambda c: commands.cutover(c, "upgrade"),
    "rollback": lambda c: commands.rollback(c, "upgrade"),
    "start": lambda c: commands.start(c, "upgrade"),
}


def _entry_matches(operation: str, entries: list[dict[str, Any]]) -> bool:
    if operation in ("pause", "resume"):
        return entries == [{"paused": operation == "pause"}]
    target = {"cutover": "cut-over", "rollback": "rolled-back", "start": "backfilling"}
    return [e.get("to") for e in entries][-1:] == [target[operation]]


def test_racing_commands_from_threads_lose_no_change_and_keep_a_serial_history():
    world = build_text_world(20)
    migrate_everything(world)
    shared = SerializedClient(world.client)  # one request at a time, as a server applies them
    start_revision = drive(load_record("upgrade"), shared).revision
    successes: list[tuple[str, Any]] = []
    refused: list[str] = []
    lock = threading.Lock()

    def operator(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(250):
            operation = rng.choice(sorted(OPERATIONS))
            try:
                record = OPERATIONS[operation](shared)
            except StateError as exc:
                with lock:
                    refused.append(str(exc))
            else:
                with lock:
                    successes.append((operation, record))

    threads = [threading.Thread(target=operator, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    final = drive(load_record("upgrade"), shared)
    assert len(successes) + len(refused) == 1000
    assert all("cannot go from" in reason or "cannot start" in reason
               or "nothing to resume" in reason for reason in refused)
    writes: dict[int, list[dict[str, Any]]] = {}
    for entry in final.history:
        if entry["revision"] > start_revision:
            writes.setdefault(entry["revision"], []).append(
                {k: v for k, v in entry.items() if k not in ("at", "revision", "write")})
    # every write is in the history, one per revision, with no gap: none was overwritten
    assert sorted(writes) == list(range(start_revision + 1, final.revision + 1))
    # replaying the history in revision order is a legal serial run ending in the final record
    phase, paused = Phase.BACKFILLING, False
    for revision in sorted(writes):
        for entry in writes[revision]:
            if "paused" in entry:
                # a resume writes only over a pause (one that found none wrote nothing)
                assert entry["paused"] or paused
                paused = entry["paused"]
            else:
                assert entry["from"] == phase.value
                check_transition(phase, Phase(entry["to"]))
                phase = Phase(entry["to"])
    assert (phase, paused) == (final.phase, final.backfill_paused)
    # each successful call that changed something is exactly one of those writes; a start,
    # cutover or rollback may also find the migration there already, a resume find it
    # running, and write nothing
    by_revision: dict[int, str] = {}
    for operation, record in successes:
        idle = operation in ("start", "resume", "cutover", "rollback")
        if idle and record.revision in by_revision:
            continue
        if idle and not _entry_matches(operation, writes.get(record.revision, [])):
            continue  # a no-op: it saw a record another command wrote
        assert record.revision not in by_revision, (operation, record.revision)
        assert _entry_matches(operation, writes[record.revision]), (operation, record.revision)
        by_revision[record.revision] = operation
    assert sorted(by_revision) == sorted(writes)
    phase_changes = sum(1 for op in by_revision.values() if op not in ("pause", "resume"))
    assert phase_changes == len({e["revision"] for e in final.phase_changes()
                                 if e["revision"] > start_revision})
    assert phase_changes > 100  # the race was real: many moves went through
