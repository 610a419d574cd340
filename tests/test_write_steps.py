"""The write path with no Qdrant: each write's steps driven by hand in both layouts, so the
exact points, stamps, markers and mirrored calls that reach Qdrant are specified (and a bad
vector is refused before the first of them)."""

from __future__ import annotations

import httpx
import pytest
from qdrant_client.http import models
from qdrant_client.http.exceptions import UnexpectedResponse

from qdrant_drift.errors import DriftError, InvalidVectorsError
from qdrant_drift.migration.layouts import MIGRATED_MARKER, STAMP_KEY
from qdrant_drift.serving.writes import write_steps

from .by_hand import ADAPTED, ADAPTER, BLUE_GREEN, NAMED, QUERY, by_hand

DONE = models.UpdateResult(operation_id=1, status=models.UpdateStatus.COMPLETED)
BY_ADAPTER = {"new_vector_model": "new-m",
              "old_vector_model": f"adapter:procrustes:{ADAPTER.fingerprint.digest}"}
BY_APP = {"new_vector_model": "new-m", "old_vector_model": "old-m"}


def write(spec, method, adapter=ADAPTER, finished=False, **arguments):
    """The steps of ``client.<method>("docs", **arguments)`` through the wrapper."""
    return write_steps(spec, adapter, method, {"collection_name": "docs", **arguments},
                       finished=finished)


def point(pid=1, vector=None, **payload) -> models.PointStruct:
    return models.PointStruct(id=pid, vector={"new": QUERY} if vector is None else vector,
                              payload=payload or None)


def vectors_of(p) -> dict:
    """A point's vectors, rounded (the adapter computes in float32)."""
    return {name: [round(x, 6) for x in v] for name, v in p.vector.items()}


def only_ids(ids) -> models.FilterSelector:
    """The selector that reaches only points the new collection holds already."""
    return models.FilterSelector(filter=models.Filter(must=[models.HasIdCondition(has_id=ids)]))


# -- upsert ----------------------------------------------------------------------------------

def test_a_named_upsert_writes_one_point_with_both_vectors_the_marker_and_the_stamp():
    [upsert], result = by_hand(write(NAMED, "upsert", points=[point(title="a")], wait=True),
                               [("upsert", DONE)])
    assert upsert.args[0] == "docs" and upsert.kwargs == {"wait": True}
    [written] = upsert.args[1]
    assert vectors_of(written) == {"old": ADAPTED, "new": QUERY, "_drift_migrated_new": [1.0]}
    assert written.payload == {"title": "a", STAMP_KEY: BY_ADAPTER}
    assert result is DONE


def test_a_blue_green_upsert_writes_the_legacy_point_marked_and_its_copy_at_once():
    [both], result = by_hand(write(BLUE_GREEN, "upsert", points=[point(title="a")]),
                             [(("upsert", "upsert"), [DONE, "legacy result"])])
    native_call, legacy_call = both.calls
    assert native_call.args[0] == "docs_v2" and legacy_call.args[0] == "docs"
    [copy], [legacy] = native_call.args[1], legacy_call.args[1]
    assert legacy.vector == {"old": pytest.approx(ADAPTED)}
    assert legacy.payload == {"title": "a", STAMP_KEY: BY_ADAPTER, MIGRATED_MARKER: True}
    assert copy.vector == {"new": pytest.approx(QUERY)}  # float32, as Qdrant keeps it
    assert copy.payload == {"title": "a", STAMP_KEY: BY_ADAPTER}  # no marker on the copy
    assert result == "legacy result"  # what the app's own collection answered


@pytest.mark.parametrize("spec", [NAMED, BLUE_GREEN], ids=["named", "collection"])
def test_the_apps_own_old_model_vector_is_written_instead_of_the_adapters_and_stamped(spec):
    steps = write(spec, "upsert", points=[point(pid=7)], old_vectors={7: [0.0, 1.0]})
    [request], _ = by_hand(steps, [("upsert", DONE)] if spec is NAMED
                           else [(("upsert", "upsert"), [DONE, DONE])])
    upsert = request if spec is NAMED else request.calls[1]
    [legacy] = upsert.args[1]
    assert legacy.vector["old"] == [0.0, 1.0] and legacy.payload[STAMP_KEY] == BY_APP


def test_a_blue_green_upsert_without_the_new_vector_drops_the_stale_copy_if_there_is_one():
    plain = point(pid=4, vector={}, edited=True)
    [upsert, delete], result = by_hand(write(BLUE_GREEN, "upsert", points=[plain], wait=True),
                                       [("upsert", DONE), ("delete", DONE)])
    assert upsert.args == ("docs", [plain])  # passed through as the app wrote it
    assert delete.args == ("docs_v2",)
    assert delete.kwargs == {"points_selector": only_ids([4]), "wait": True}
    assert result is DONE


def test_a_named_upsert_without_the_new_vector_is_one_plain_upsert():
    plain = point(pid=4, vector={"title": [1.0]})
    [upsert], _ = by_hand(write(NAMED, "upsert", points=[plain]), [("upsert", DONE)])
    assert upsert.args == ("docs", [plain])


# -- refused before anything is written -------------------------------------------------------

@pytest.mark.parametrize("spec", [NAMED, BLUE_GREEN], ids=["named", "collection"])
@pytest.mark.parametrize("method, arguments, message", [
    ("upsert", {"points": [point(pid=1), point(pid=2, vector={"new": [1.0, 0.0, 0.0]})]},
     r"vector 'new': expected dimension 2, got 3"),
    ("upsert", {"points": [point(pid=1, vector={"old": [float("nan"), 0.0]})]},
     r"vector 'old' contains NaN"),
    ("upsert", {"points": [point()], "old_vectors": [[1.0, 0.0, 0.0]]},
     r"old_vectors \('old'\): expected dimension 2, got 3"),
    ("upsert", {"points": [point(vector={"old": QUERY, "new": ADAPTED})]},
     "'old' and 'new' are both the migrating vector"),
    ("batch_update_points", {"update_operations": [
        models.UpsertOperation(upsert=models.PointsList(points=[point()])),
        models.UpdateVectorsOperation(update_vectors=models.UpdateVectors(points=[
            models.PointVectors(id=1, vector={"new": [1.0]})]))]},
     "'new': expected dimension 2, got 1"),
], ids=["a new vector", "a NaN", "an old vector", "two different", "a later operation"])
def test_a_bad_vector_anywhere_in_a_write_is_refused_before_the_first_step(spec, method,
                                                                           arguments, message):
    with pytest.raises(InvalidVectorsError, match=message):
        next(write(spec, method, **arguments))


def test_without_an_adapter_a_write_needs_the_apps_old_vectors():
    with pytest.raises(DriftError, match="no adapter to derive the legacy vector"):
        next(write(NAMED, "upsert", adapter=None, points=[point()]))
    [upsert], _ = by_hand(write(NAMED, "upsert", adapter=None, points=[point()],
                                old_vectors=[[0.0, 1.0]]), [("upsert", DONE)])
    assert upsert.args[1][0].vector["old"] == [0.0, 1.0]


def test_old_vectors_are_only_taken_where_they_mean_something():
    with pytest.raises(DriftError, match="delete takes no old_vectors="):
        next(write(NAMED, "delete", points_selector=[1], old_vectors=[[0.0, 1.0]]))
    with pytest.raises(DriftError, match="not 'other'"):
        next(write_steps(NAMED, ADAPTER, "upsert", {
            "collection_name": "other", "points": [point()], "old_vectors": [[0.0, 1.0]]}))


# -- deletes and payload edits: mirrored in blue-green ----------------------------------------

def test_a_named_delete_is_the_apps_own_call():
    [delete], _ = by_hand(write(NAMED, "delete", points_selector=[5]), [("delete", DONE)])
    assert (delete.args, delete.kwargs) == (("docs",), {"points_selector": [5]})


def test_a_blue_green_delete_reaches_the_legacy_collection_first_then_the_copies():
    [legacy, copies], result = by_hand(write(BLUE_GREEN, "delete", points_selector=[5, 6]),
                                       [("delete", DONE), ("delete", "copies deleted")])
    assert (legacy.args, legacy.kwargs) == (("docs",), {"points_selector": [5, 6]})
    assert (copies.args, copies.kwargs) == (("docs_v2",), {"points_selector": only_ids([5, 6])})
    assert result is DONE


@pytest.mark.parametrize("spec", [NAMED, BLUE_GREEN], ids=["named", "collection"])
def test_set_payload_reaches_every_collection_that_holds_the_point(spec):
    script = [("set_payload", DONE)] + ([("set_payload", DONE)] if spec is BLUE_GREEN else [])
    requests, _ = by_hand(write(spec, "set_payload", payload={"tag": "x"}, points=[7]), script)
    assert [(r.args, r.kwargs["points"]) for r in requests] == [
        (("docs",), [7]), *([(("docs_v2",), only_ids([7]))] if spec is BLUE_GREEN else [])]
    assert all(r.kwargs["payload"] == {"tag": "x"} for r in requests)


def test_a_blue_green_payload_overwrite_keeps_the_copies_stamp_and_the_legacy_marker():
    steps = write(BLUE_GREEN, "overwrite_payload", payload={"n": 3}, points=[3, 5])
    [backfilled, legacy, copies, restamp, which, mark], _ = by_hand(steps, [
        ("scroll", ([models.Record(id=3)], None)),  # 3 is a copy the backfill made
        ("overwrite_payload", DONE), ("overwrite_payload", DONE), ("set_payload", DONE),
        ("retrieve", [models.Record(id=3, payload=None)]),  # only 3 has a copy
        ("set_payload", DONE)])
    assert backfilled.args == ("docs_v2",) and not backfilled.kwargs["with_payload"]
    assert legacy.args == ("docs",) and copies.args == ("docs_v2",)
    # the overwrite took the copy's stamp: it is put back, so the copy stays the backfill's
    assert restamp.args == ("docs_v2",) and restamp.kwargs["points"] == [3]
    assert restamp.kwargs["payload"][STAMP_KEY]["new_vector_by"] == "backfill"
    assert which.args == ("docs_v2", [3, 5])
    assert (mark.args, mark.kwargs) == (("docs",), {"payload": {MIGRATED_MARKER: True},
                                                    "points": [3]})


def test_a_filtered_blue_green_payload_clear_finds_the_migrated_points_page_by_page():
    selector = models.FilterSelector(filter=models.Filter(must=[
        models.FieldCondition(key="group", match=models.MatchValue(value=1))]))
    steps = write(BLUE_GREEN, "clear_payload", points_selector=selector)
    requests, _ = by_hand(steps, [
        ("scroll", ([], None)),  # no copy of the backfill's among them: no stamp to keep
        ("clear_payload", DONE), ("clear_payload", DONE),
        ("scroll", ([models.Record(id=1)], 2)), ("scroll", ([models.Record(id=2)], None)),
        ("set_payload", DONE)])
    first_page, second_page, mark = requests[3:]
    assert first_page.kwargs["scroll_filter"] == selector.filter
    assert (first_page.kwargs["offset"], second_page.kwargs["offset"]) == (None, 2)
    assert mark.kwargs["points"] == [1, 2]


# -- vectors of existing points ----------------------------------------------------------------

def test_a_blue_green_vector_update_copies_the_point_with_its_current_payload():
    steps = write(BLUE_GREEN, "update_vectors", wait=True,
                  points=[models.PointVectors(id=2, vector={"new": QUERY})])
    [update, read, copy, mark], result = by_hand(steps, [
        ("update_vectors", DONE),
        ("retrieve", [models.Record(id=2, payload={"title": "b", MIGRATED_MARKER: True})]),
        ("upsert", DONE), ("set_payload", DONE)])
    [legacy] = update.args[1]
    assert update.args[0] == "docs" and legacy.vector == {"old": pytest.approx(ADAPTED)}
    assert read.args == ("docs", [2]) and read.kwargs["with_payload"] is True
    [copied] = copy.args[1]
    assert copy.args[0] == "docs_v2" and copied.vector == {"new": pytest.approx(QUERY)}
    assert copied.payload == {"title": "b", STAMP_KEY: BY_ADAPTER}  # the marker stays behind
    assert (mark.args, mark.kwargs["points"], mark.kwargs["wait"]) == (("docs",), [2], True)
    assert result is DONE


@pytest.mark.parametrize("spec", [NAMED, BLUE_GREEN], ids=["named", "collection"])
def test_deleting_the_migrating_vector_deletes_both_of_its_copies(spec):
    script = [("delete_vectors", DONE)] + ([("delete_vectors", DONE)] if spec is BLUE_GREEN
                                           else [])
    requests, _ = by_hand(write(spec, "delete_vectors", vectors=["new", "title"], points=[7]),
                          script)
    if spec is NAMED:
        assert requests[0].kwargs["vectors"] == ["title", "old", "new", "_drift_migrated_new"]
    else:
        legacy, copy = requests
        assert legacy.kwargs["vectors"] == ["title", "old"]
        assert (copy.args, copy.kwargs["vectors"]) == (("docs_v2",), ["new"])
        assert copy.kwargs["points"] == only_ids([7])


# -- Qdrant's errors, other collections, after finish -------------------------------------------

def test_upload_points_retries_a_failed_batch_then_gives_up_with_qdrants_error():
    unavailable = UnexpectedResponse(503, "Service Unavailable", b"{}", httpx.Headers())
    points = [point(pid=i) for i in range(3)]
    requests, _ = by_hand(write(NAMED, "upload_points", points=points, batch_size=2,
                                max_retries=1),
                          [("upsert", unavailable), ("upsert", DONE), ("upsert", DONE)])
    assert requests[0] == requests[1]  # the same batch again
    assert [[p.id for p in r.args[1]] for r in requests[1:]] == [[0, 1], [2]]
    assert requests[0].kwargs == {"wait": False}  # upload_points' default
    steps = write(NAMED, "upload_points", points=points, max_retries=1)
    first = next(steps)
    assert steps.throw(unavailable) == first  # its one retry
    with pytest.raises(UnexpectedResponse) as raised:
        steps.throw(unavailable)
    assert raised.value is unavailable


def test_an_upsert_that_qdrant_refuses_fails_with_qdrants_own_error():
    steps = write(BLUE_GREEN, "upsert", points=[point()])
    next(steps)
    refused = UnexpectedResponse(400, "Bad Request", b"{}", httpx.Headers())
    with pytest.raises(UnexpectedResponse) as raised:
        steps.throw(refused)
    assert raised.value is refused


def test_writes_to_another_collection_pass_through_untouched():
    odd = point(vector={"new": [1.0, 2.0, 3.0]})  # any dimension: not the migration's
    [upsert], _ = by_hand(write_steps(NAMED, ADAPTER, "upsert", {
        "collection_name": "other", "points": [odd]}), [("upsert", DONE)])
    assert upsert.args == ("other",) and upsert.kwargs == {"points": [odd]}


@pytest.mark.parametrize("spec", [NAMED, BLUE_GREEN], ids=["named", "collection"])
def test_after_finish_a_write_lands_on_the_new_side_under_the_new_name(spec):
    steps = write(spec, "upsert", finished=True, points=[point(vector={"old": QUERY})])
    [upsert], _ = by_hand(steps, [("upsert", DONE)])
    assert upsert.args == (spec.native_collection,)
    assert upsert.kwargs["points"][0].vector == {"new": QUERY}  # no adapter, no legacy side


@pytest.mark.parametrize("method, kwargs, edits", [
    ("set_payload", {"payload": {"text": "new"}}, True),
    ("set_payload", {"payload": {"tag": "x"}}, False),
    ("set_payload", {"payload": {"x": 1}, "key": "text"}, True),  # inside the field
    ("set_payload", {"payload": {"x": 1}, "key": "meta"}, False),
    ("overwrite_payload", {"payload": {"text": "same?"}}, True),  # replaces it all
    ("delete_payload", {"keys": ["text"]}, True),
    ("delete_payload", {"keys": ["tag"]}, False),
    ("clear_payload", {}, True),
    ("delete", {}, False),
])
def test_which_payload_writes_may_change_the_embedded_text(method, kwargs, edits):
    from qdrant_drift.serving.writes import _edits_field

    assert _edits_field(method, kwargs, "text") is edits
