"""One round trip for a batch of routed queries (sans-I/O, shared by both clients).

An app's ``query_batch_points`` is one request to Qdrant. Routed one query at a time it would
become one round trip per query; here the routed queries advance in lockstep instead: at
each step the requests they all need are regrouped into one ``query_batch_points`` per target
collection, and the answers are handed back to each query's own steps. Requests that cannot
travel in a batch (another method, arguments a ``QueryRequest`` cannot hold) go on their own,
in the same step. As with qdrant-client's own batch, one request that fails (for the
wrapper: a query kind it cannot route before cut-over) fails the whole batch.
"""

from __future__ import annotations

from typing import Any, Sequence, TypeVar

import numpy as np
from pydantic import ValidationError
from qdrant_client.http import models

from .queries import QUERY_DEFAULTS
from ..sansio import Call, Gather, Request, Steps, call

T = TypeVar("T")

# arguments of a batch call (not of each request in it)
_BATCH_ARGS = ("consistency", "timeout")


def request_kwargs(request: models.QueryRequest) -> dict[str, Any]:
    """``query_points`` keyword arguments equivalent to one batch request."""
    return dict(
        query=request.query, using=request.using, prefetch=request.prefetch,
        query_filter=request.filter, search_params=request.params,
        limit=request.limit if request.limit is not None else QUERY_DEFAULTS["limit"],
        offset=request.offset,
        # unset in a batch request means false (Qdrant's default there), unlike query_points
        with_payload=request.with_payload if request.with_payload is not None else False,
        with_vectors=request.with_vector if request.with_vector is not None else False,
        score_threshold=request.score_threshold, lookup_from=request.lookup_from,
        shard_key_selector=request.shard_key,
    )


def query_request(kwargs: dict[str, Any]) -> models.QueryRequest:
    """The batch request equivalent to ``query_points`` keyword arguments (the inverse of
    :func:`request_kwargs`); raises ``ValueError`` for arguments a request cannot hold."""
    unknown = sorted(set(kwargs) - set(QUERY_DEFAULTS))
    if unknown:
        raise ValueError(f"not batchable: {unknown}")
    kw = {**QUERY_DEFAULTS, **kwargs}
    query = kw["query"]
    if isinstance(query, np.ndarray):
        query = query.tolist()
    try:
        return models.QueryRequest(
            query=query, using=kw["using"], prefetch=kw["prefetch"],
            filter=kw["query_filter"], params=kw["search_params"], limit=kw["limit"],
            offset=kw["offset"], with_payload=kw["with_payload"],
            with_vector=kw["with_vectors"], score_threshold=kw["score_threshold"],
            lookup_from=kw["lookup_from"], shard_key=kw["shard_key_selector"],
        )
    except ValidationError as exc:
        raise ValueError(str(exc)) from exc


def _as_batch(leaf: Call) -> tuple[tuple[Any, ...], list[models.QueryRequest]] | None:
    """(group key, requests) when ``leaf`` can ride in a shared ``query_batch_points``."""
    if leaf.method == "query_batch_points" and len(leaf.args) == 2:
        if set(leaf.kwargs) - set(_BATCH_ARGS):
            return None
        collection, requests = leaf.args
        batch_args = leaf.kwargs
    elif leaf.method == "query_points" and len(leaf.args) == 1:
        collection = leaf.args[0]
        try:
            requests = [query_request(leaf.kwargs)]
        except ValueError:
            return None
        batch_args = {k: leaf.kwargs.get(k) for k in _BATCH_ARGS}
    else:
        return None
    key = (collection, *(batch_args.get(k) for k in _BATCH_ARGS))
    return key, list(requests)


def _unbatched(leaf: Call, answers: list[Any]) -> Any:
    """What ``leaf`` itself would have returned, from its share of a batch answer."""
    return answers[0] if leaf.method == "query_points" else answers


def batched_steps(queries: Sequence[Steps[Any]]) -> Steps[list[Any]]:
    """Drive several routed queries' steps together; their results, in order."""
    results: list[Any] = [None] * len(queries)
    pending: dict[int, Request] = {}
    for i, steps in enumerate(queries):
        try:
            pending[i] = next(steps)
        except StopIteration as stop:
            results[i] = stop.value
    while pending:
        leaves = [(i, j, leaf) for i, request in pending.items()
                  for j, leaf in enumerate(request.calls if isinstance(request, Gather)
                                           else (request,))]
        groups: dict[tuple[Any, ...], list[tuple[int, int, Call, int]]] = {}
        outgoing: list[Call] = []
        batched: dict[tuple[Any, ...], list[models.QueryRequest]] = {}
        alone: list[tuple[int, int, Call]] = []
        for i, j, leaf in leaves:
            shared = _as_batch(leaf)
            if shared is None:
                alone.append((i, j, leaf))
                continue
            key, requests = shared
            groups.setdefault(key, []).append((i, j, leaf, len(requests)))
            batched.setdefault(key, []).extend(requests)
        for key, requests in batched.items():
            collection, *batch_args = key
            outgoing.append(call("query_batch_points", collection, requests,
                                 **dict(zip(_BATCH_ARGS, batch_args))))
        outgoing.extend(leaf for _, _, leaf in alone)
        answers = yield Gather(tuple(outgoing))
        per_leaf: dict[tuple[int, int], Any] = {}
        for (key, members), answer in zip(groups.items(), answers):
            start = 0
            for i, j, leaf, count in members:
                per_leaf[i, j] = _unbatched(leaf, answer[start : start + count])
                start += count
        for (i, j, _), answer in zip(alone, answers[len(groups):]):
            per_leaf[i, j] = answer
        for i, request in list(pending.items()):
            if isinstance(request, Gather):
                reply: Any = [per_leaf[i, j] for j in range(len(request.calls))]
            else:
                reply = per_leaf[i, 0]
            try:
                pending[i] = queries[i].send(reply)
            except StopIteration as stop:
                results[i] = stop.value
                del pending[i]
    return results


def coalesced(steps: Steps[T]) -> Steps[T]:
    """One query's steps with the independent query requests of each step sent as one
    ``query_batch_points`` per collection (e.g. the anchors of a grouped hybrid search)."""
    results = yield from batched_steps([steps])
    return results[0]
