"""Batching routed queries: pure sans-I/O logic, specified without Qdrant."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client.http import models

from qdrant_drift.serving.batching import batched_steps, query_request, request_kwargs
from qdrant_drift.sansio import Gather, call, drive


def test_a_request_and_query_points_arguments_convert_both_ways():
    request = models.QueryRequest(query=[0.1, 0.2], using="new", limit=3, offset=2,
                                  filter=models.Filter(), score_threshold=0.5,
                                  with_payload=False, with_vector=True)
    assert query_request(request_kwargs(request)) == request
    unset = request_kwargs(models.QueryRequest(query=[0.1]))  # Qdrant's batch defaults
    assert (unset["with_payload"], unset["with_vectors"], unset["limit"]) == (False, False, 10)
    assert query_request({"query": np.array([1.0, 2.0], dtype=np.float32)}).query == [1.0, 2.0]
    with pytest.raises(ValueError):
        query_request({"query": [1.0], "unknown": 1})


class Answering:
    """A client that answers query_batch_points with one response per request (its limit
    as the only point id) and counts its calls."""

    def __init__(self):
        self.calls = []

    def query_batch_points(self, collection, requests, consistency=None, timeout=None):
        self.calls.append((collection, len(requests)))
        return [models.QueryResponse(points=[models.ScoredPoint(id=r.limit, version=0,
                                                                score=1.0)])
                for r in requests]

    def retrieve(self, collection, ids):
        self.calls.append(("retrieve", collection))
        return ids


def one_query(limit):
    response = yield call("query_points", "docs", query=[1.0], limit=limit)
    return response.points[0].id


def two_sides(limit):
    first, second = yield Gather((
        call("query_batch_points", "docs", [models.QueryRequest(query=[1.0], limit=limit)]),
        call("query_batch_points", "other", [models.QueryRequest(query=[1.0], limit=limit + 1)]),
    ))
    again = yield call("query_points", "docs", query=[1.0], limit=limit + 2)
    return first[0].points[0].id, second[0].points[0].id, again.points[0].id


def with_an_unbatchable_call():
    ids = yield call("retrieve", "docs", [7])
    return ids


def test_queries_advance_together_one_batch_per_collection_and_step():
    client = Answering()
    results = drive(batched_steps([one_query(3), two_sides(10), one_query(4),
                                   with_an_unbatchable_call()]), client)
    assert results == [3, (10, 11, 12), 4, [7]]
    # step 1: "docs" (3 requests), "other" (1), the retrieve alone; step 2: "docs" (1)
    assert client.calls == [("docs", 3), ("other", 1), ("retrieve", "docs"), ("docs", 1)]


def test_an_empty_batch_makes_no_call():
    client = Answering()
    assert drive(batched_steps([]), client) == []
    assert client.calls == []


def test_one_query_s_independent_requests_coalesce_into_one_batch_per_collection():
    from qdrant_drift.serving.batching import coalesced

    def anchors_and_groups():
        first, second, groups = yield Gather((
            call("query_points", "docs", query=[1.0], limit=5),
            call("query_points", "docs", query=[2.0], limit=6),
            call("retrieve", "docs", ["groups"]),
        ))
        return first.points[0].id, second.points[0].id, groups

    client = Answering()
    assert drive(coalesced(anchors_and_groups()), client) == (5, 6, ["groups"])
    assert client.calls == [("docs", 2), ("retrieve", "docs")]
