"""The layout strategies: what "migrated" means in each, specified without a server (their
steps driven by hand) and, where Qdrant's answer matters, on embedded Qdrant."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from qdrant_client import QdrantClient
from qdrant_client.http import models

from qdrant_drift.errors import DriftError
from qdrant_drift.migration.layouts import (
    MIGRATED_MARKER,
    BlueGreenLayout,
    NamedLayout,
    coverage,
    layout_of,
    stamp,
    unstamp_steps,
)
from qdrant_drift.migration.spec import MigrationSpec
from qdrant_drift.sansio import Call, Gather, drive

NAMED = MigrationSpec(name="m", collection="docs", old_vector="old", new_vector="new",
                      old_model="old-m", new_model="new-m")
BLUE_GREEN = MigrationSpec(name="m", collection="docs", old_vector="old", new_vector="new",
                           layout="collection", new_collection="docs_v2", alias="live")


def record(vector=None, payload=None) -> models.Record:
    return models.Record(id=1, vector=vector, payload=payload)


def count(n: int) -> models.CountResult:
    return models.CountResult(count=n)


def test_layout_of_gives_the_strategy_the_spec_names():
    assert isinstance(layout_of(NAMED), NamedLayout)
    assert isinstance(layout_of(BLUE_GREEN), BlueGreenLayout)


def test_a_named_point_is_migrated_when_it_has_the_new_vector():
    layout = layout_of(NAMED)
    assert layout.record_vectors() == ["new"]
    assert layout.is_migrated(record(vector={"new": [1.0]}))
    assert not layout.is_migrated(record(vector={}))
    assert not layout.is_migrated(record(payload={MIGRATED_MARKER: True}))


def test_a_blue_green_legacy_point_is_migrated_when_it_carries_the_marker():
    layout = layout_of(BLUE_GREEN)
    assert layout.record_vectors() is False
    assert layout.is_migrated(record(payload={MIGRATED_MARKER: True, "n": 1}))
    assert not layout.is_migrated(record(payload={"n": 1}))


@pytest.mark.parametrize("spec", [NAMED, BLUE_GREEN], ids=["named", "collection"])
def test_the_migrated_and_unmigrated_filters_split_the_users_filter_in_two(spec):
    layout = layout_of(spec)
    user = models.Filter(must=[models.FieldCondition(key="group",
                                                     match=models.MatchValue(value=1))])
    migrated, unmigrated = layout.migrated_filter(user), layout.unmigrated_filter(user)
    assert migrated.must == [user, layout.migrated_condition()] and not migrated.must_not
    assert unmigrated.must == [user] and unmigrated.must_not == [layout.migrated_condition()]
    assert layout.unmigrated_filter().must is None


@pytest.mark.parametrize("spec", [NAMED, BLUE_GREEN])
def test_each_layout_counts_the_legacy_points_it_marks_migrated(spec):
    """Blue-green too: the new collection's size is no measure (a plain delete leaves a copy
    there, a plain upsert of a changed point drops the legacy point's marker)."""
    steps = layout_of(spec).count_steps()
    request = next(steps)
    assert isinstance(request, Gather)
    assert [(c.method, c.args) for c in request.calls] == [("count", ("docs",))] * 2
    assert request.calls[0].kwargs["count_filter"] == layout_of(spec).migrated_filter()
    with pytest.raises(StopIteration) as done:
        steps.send([count(3), count(10)])
    assert done.value.value == (3, 10)


def test_coverage_is_the_migrated_share_and_an_empty_collection_is_covered():
    assert coverage(25, 100) == 0.25
    assert coverage(0, 0) == 1.0
    assert coverage(11, 10) == 1.0  # counts read a moment apart never exceed everything


def test_the_stamp_names_both_models_and_the_writer_only_when_given():
    assert stamp(NAMED, "old-m") == {"new_vector_model": "new-m", "old_vector_model": "old-m"}
    assert stamp(NAMED, None, "backfill")["new_vector_by"] == "backfill"


def test_a_routed_point_carries_both_vectors_in_named_and_is_split_in_blue_green():
    legacy, native = layout_of(NAMED).routed_point(7, {"n": 7}, {"sparse": [0.5]}, [1.0], [2.0])
    assert native is None
    assert legacy.vector == {"sparse": [0.5], "old": [1.0], "new": [2.0],
                             "_drift_migrated_new": [1.0]}
    legacy, native = layout_of(BLUE_GREEN).routed_point(7, {"n": 7}, {}, [1.0], [2.0])
    assert legacy.vector == {"old": [1.0]} and legacy.payload == {"n": 7, MIGRATED_MARKER: True}
    assert native.vector == {"new": [2.0]} and native.payload == {"n": 7}


def hit(point_id, payload=None, vector=None) -> models.ScoredPoint:
    return models.ScoredPoint(id=point_id, version=0, score=1.0 - point_id / 10,
                              payload=payload, vector=vector)


def test_named_legacy_hits_say_migrated_by_the_marker_vector_and_come_back_as_asked():
    layout = layout_of(NAMED)
    assert layout.marked_selectors(True, False) == (True, ["_drift_migrated_new"])
    assert layout.marked_selectors(False, ["old"]) == (False, ["old", "_drift_migrated_new"])
    assert layout.marked_selectors(True, True) == (True, True)
    hits = [hit(1, vector={}), hit(2, vector={"_drift_migrated_new": [1.0]}), hit(3, vector={})]
    unmigrated, migrated = layout.split_legacy_hits(hits, True, False)
    assert [h.id for h in unmigrated] == [1, 3] and [h.id for h in migrated] == [2]
    assert all(h.vector is None for h in unmigrated)  # the app asked for no vectors


def test_blue_green_legacy_hits_say_migrated_by_the_payload_marker_and_come_back_as_asked():
    layout = layout_of(BLUE_GREEN)
    assert layout.marked_selectors(False, True) == ([MIGRATED_MARKER], True)
    assert layout.marked_selectors(["n"], False) == (["n", MIGRATED_MARKER], False)
    exclude = models.PayloadSelectorExclude(exclude=[MIGRATED_MARKER, "body"])
    assert layout.marked_selectors(exclude, False)[0].exclude == ["body"]
    hits = [hit(1, payload={}), hit(2, payload={MIGRATED_MARKER: True})]
    unmigrated, migrated = layout.split_legacy_hits(hits, False, False)
    assert [h.id for h in unmigrated] == [1] and [h.id for h in migrated] == [2]
    assert unmigrated[0].payload is None


def test_named_new_vectors_carry_the_marker_and_target_creation_adds_it():
    assert layout_of(NAMED).new_vectors([0.5]) == {"new": [0.5], "_drift_migrated_new": [1.0]}
    assert layout_of(BLUE_GREEN).new_vectors([0.5]) == {"new": [0.5]}


def test_only_blue_green_mirrors_edits_and_refuses_routed_vector_updates():
    assert layout_of(NAMED).mirror_collection() is None
    layout_of(NAMED).check_update_vectors()
    assert layout_of(BLUE_GREEN).mirror_collection() == "docs_v2"
    with pytest.raises(DriftError, match="update_vectors is not routed"):
        layout_of(BLUE_GREEN).check_update_vectors()


def test_a_hybrid_search_is_one_batch_in_named_and_two_concurrent_batches_in_blue_green():
    legacy = [models.QueryRequest(query=[1.0], using="old")]
    native = models.QueryRequest(query=[1.0], using="new")
    request = next(layout_of(NAMED).hybrid_search_steps(legacy, native, {"timeout": 3}))
    assert request == Call("query_batch_points", ("docs", [native, *legacy]), {"timeout": 3})
    steps = layout_of(BLUE_GREEN).hybrid_search_steps(legacy, native, {})
    request = next(steps)
    assert [c.args[0] for c in request.calls] == ["docs", "docs_v2"]
    with pytest.raises(StopIteration) as done:
        steps.send([["legacy"], ["native"]])
    assert done.value.value == ["native", "legacy"]  # native first, like the named batch


def drop_with(spec: MigrationSpec, *vectors: str) -> list[Call]:
    """The calls a named layout's finish makes once it reads a collection with ``vectors``."""
    steps = layout_of(spec).drop_legacy_steps()
    assert next(steps) == Call("get_collection", ("docs",), {})
    info = SimpleNamespace(config=SimpleNamespace(params=SimpleNamespace(
        vectors={name: None for name in vectors})))
    calls, request = [], steps.send(info)
    try:
        while True:
            calls.append(request)
            request = steps.send(None)
    except StopIteration:
        return calls


def test_finish_drops_the_legacy_vector_or_collection_and_keeps_an_unnamed_vector():
    unstamp = list(unstamp_steps("docs"))[0]
    assert (unstamp.method, unstamp.kwargs["keys"]) == ("delete_payload", ["_drift"])
    assert drop_with(NAMED, "old", "new", "_drift_migrated_new") == [
        Call("delete_vector_name", ("docs", "old"), {}),
        Call("delete_vector_name", ("docs", "_drift_migrated_new"), {}), unstamp]
    # a finish stopped half way, run again: what is gone already is not dropped again
    assert drop_with(NAMED, "new", "_drift_migrated_new") == [
        Call("delete_vector_name", ("docs", "_drift_migrated_new"), {}), unstamp]
    steps = layout_of(BLUE_GREEN).drop_legacy_steps()
    assert next(steps).method == "get_aliases"  # is "docs" a collection or an alias?
    assert steps.send(SimpleNamespace(aliases=[])) == Call("delete_collection", ("docs",), {})
    assert list(steps) == list(unstamp_steps("docs_v2"))  # stamps go from the copies
    unnamed = MigrationSpec(name="m", collection="docs", new_vector="new")
    assert drop_with(unnamed, "", "new", "_drift_migrated_new") == [  # only the marker goes
        Call("delete_vector_name", ("docs", "_drift_migrated_new"), {}), unstamp]
    assert "keep the legacy unnamed vector" in layout_of(unnamed).finish_note()
    assert layout_of(NAMED).finish_note() == "drop the legacy vector 'old' of 'docs'"
    assert layout_of(BLUE_GREEN).finish_note().startswith("drop the legacy collection 'docs' ")
    # where the data is afterwards, for apps that are not wrapped
    assert layout_of(BLUE_GREEN).finish_note() == (
        "drop the legacy collection 'docs' (the data stays in the alias 'live' or 'docs_v2', "
        "vector 'new': apps that are not wrapped must name that; wrapped ones keep their names)")
    no_alias = MigrationSpec(name="m", collection="docs", new_vector="", layout="collection",
                             new_collection="docs_v2")
    assert "(the data stays in 'docs_v2': apps" in layout_of(no_alias).finish_note()


def test_only_blue_green_with_an_alias_switches_it():
    assert list(layout_of(NAMED).alias_steps(serve_new=True)) == []
    (switch,) = list(layout_of(BLUE_GREEN).alias_steps(serve_new=True))
    create = switch.kwargs["change_aliases_operations"][1].create_alias
    assert (create.alias_name, create.collection_name) == ("live", "docs_v2")


def test_blue_green_refuses_a_collection_with_vectors_it_would_not_carry_over():
    info = SimpleNamespace(config=SimpleNamespace(params=SimpleNamespace(
        vectors={"old": None, "title": None}, sparse_vectors={"bm25": None})))
    with pytest.raises(DriftError, match=r"\['title', 'bm25'\]"):
        layout_of(BLUE_GREEN).check_source(info)
    layout_of(NAMED).check_source(info)


@pytest.mark.parametrize("spec", [NAMED, BLUE_GREEN], ids=["named", "collection"])
def test_target_creation_makes_room_for_the_new_vector_once(spec):
    client = QdrantClient(":memory:")
    client.create_collection("docs", vectors_config={
        "old": models.VectorParams(size=4, distance=models.Distance.COSINE)})
    params = models.VectorParams(size=3, distance=models.Distance.COSINE)
    layout = layout_of(spec)
    for _ in range(2):  # idempotent
        drive(layout.create_target_steps(client.get_collection("docs"), params), client)
    vectors = client.get_collection(spec.native_collection).config.params.vectors
    assert vectors["new"].size == 3
    if isinstance(layout, NamedLayout):
        assert vectors[layout.marker_vector].size == 1
