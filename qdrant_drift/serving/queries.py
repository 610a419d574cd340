"""The routed query path, written once (sans-I/O) for the sync and the async client.

Given the plan the router chose, a ``query_points`` call becomes one Qdrant round trip:
- adapted: the adapted query (or the app's old-model query) on the legacy vector;
- hybrid: legacy vector for points NOT yet migrated (one unfiltered, marked request, see
  :mod:`.overfetch`) + native vector, in one ``query_batch_points`` (named layout) or two
  concurrent calls (collection layout), merged on the native score scale;
- native: the new vector.
Each side asks for ``offset + limit`` hits without a threshold; offset, limit and
``score_threshold`` are applied to the merged, calibrated ranking, so they mean what they
mean to qdrant-client (on the new model's score scale). For Euclid and Manhattan collections
scores are distances (ascending; ``score_threshold`` a maximum): the snapshot's
``orientation`` says so, and :mod:`.merge` converts at its boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from qdrant_client.http import models

from ..adapters import Adapter
from ..adapters.calibration import Calibration
from ..errors import DriftError
from .merge import anchored, calibrated, merge_groups, merge_partitioned
from .overfetch import OverFetch
from .router import Plan
from ..sansio import Gather, Steps, call
from ..migration.layouts import Layout, layout_of
from ..migration.spec import DEFAULT_VECTOR, MigrationSpec
from ..scores import SIMILARITY, Orientation

QUERY_DEFAULTS: dict[str, Any] = {
    "query": None, "using": None, "prefetch": None, "query_filter": None,
    "search_params": None, "limit": 10, "offset": None, "with_payload": True,
    "with_vectors": False, "score_threshold": None, "lookup_from": None,
    "consistency": None, "shard_key_selector": None, "timeout": None,
}


@dataclass(frozen=True)
class Serving:
    """A consistent snapshot of what serving needs: swapped whole on every state refresh."""

    spec: MigrationSpec
    plan: Plan
    adapter: Adapter | None
    calibration: Calibration = Calibration()
    old_calibration: Calibration = Calibration()
    calibrate: bool = True  # False: raw scores, naive merge (for comparison only)
    adapter_problem: str | None = None  # why the stored adapter cannot be used, if it cannot
    coverage: float = 0.0  # share of points migrated, as last read
    over_fetch: OverFetch = OverFetch()
    orientation: Orientation = SIMILARITY  # the legacy vector's distance (the record's)
    abandoned: bool = False  # the migration was given up: every call passes through as is
    embedded: bool = False  # the wrapped client is embedded Qdrant (see :func:`wire_vector`)

    layout: Layout = field(init=False, repr=False, compare=False)  # the spec's, built once

    def __post_init__(self) -> None:
        object.__setattr__(self, "layout", layout_of(self.spec))

    def targets(self, collection_name: str) -> bool:
        """Is a call on ``collection_name`` one the migration routes?"""
        return not self.abandoned and collection_name in (self.spec.collection, self.spec.alias)


def dense_vector(query: Any) -> np.ndarray | None:
    """The dense query vector, or None for any other kind of query (ids, fusion, ...)."""
    if isinstance(query, models.NearestQuery):
        query = query.nearest
    if isinstance(query, np.ndarray):
        if query.ndim == 1 and query.dtype.kind in "fiu":
            return query.astype(np.float32, copy=False)
        return None
    if isinstance(query, list) and query and isinstance(query[0], (int, float, np.number)):
        try:
            vector = np.asarray(query, dtype=np.float32)
        except (TypeError, ValueError):
            return None
        return vector if vector.ndim == 1 else None
    return None


def _refuse_unroutable(query: Any) -> None:
    """Raise if a new-model query is of a kind the legacy side cannot take."""
    if (isinstance(query, list) and query and isinstance(query[0], list)) or (
            isinstance(query, np.ndarray) and query.ndim != 1):
        raise DriftError("multivector queries on the migrating vector are not routed before "
                         "cut-over: the legacy side holds one vector per point (query the "
                         "new vector after cut-over, or send a dense query)")


def _map_input(value: Any, fn: Callable[[np.ndarray], Any]) -> Any:
    vector = None if isinstance(value, models.NearestQuery) else dense_vector(value)
    return value if vector is None else fn(vector)


def _map_pairs(pairs: Any, fn: Callable[[np.ndarray], Any]) -> Any:
    if pairs is None:
        return None
    if isinstance(pairs, list):
        return [_map_pairs(pair, fn) for pair in pairs]
    return pairs.model_copy(update={"positive": _map_input(pairs.positive, fn),
                                    "negative": _map_input(pairs.negative, fn)})


def map_vectors(query: Any, fn: Callable[[np.ndarray], Any]) -> Any:
    """The query with every dense vector in it mapped by ``fn`` (a nearest query, the
    examples of recommend, discover and context queries); point ids, sparse vectors and
    other inputs are kept (ids read each point's own vector on the side searched)."""
    if isinstance(query, models.NearestQuery):
        return query.model_copy(update={"nearest": _map_input(query.nearest, fn)})
    if isinstance(query, models.RecommendQuery):
        examples = query.recommend
        return query.model_copy(update={"recommend": examples.model_copy(update={
            side: [_map_input(v, fn) for v in getattr(examples, side)]
            for side in ("positive", "negative") if getattr(examples, side) is not None})})
    if isinstance(query, models.DiscoverQuery):
        return query.model_copy(update={"discover": query.discover.model_copy(update={
            "target": _map_input(query.discover.target, fn),
            "context": _map_pairs(query.discover.context, fn)})})
    if isinstance(query, models.ContextQuery):
        return query.model_copy(update={"context": _map_pairs(query.context, fn)})
    return _map_input(query, fn)


def wire_vector(serving: Serving, vector: np.ndarray) -> Any:
    """A dense query vector as a routed request carries it (the adapted query, and the native
    half of a hybrid search).

    Embedded Qdrant scores a float32 array against its float32 vectors as it is; handed a
    list (what qdrant-client makes of any array), it builds a float64 array and so scores
    every stored vector in float64, and deep-copies the list float by float first: 1.7x the
    time of the whole search at 5,000 x 384 (``bench latency``). So for an embedded client
    the vector goes as a float32 array in a ``NearestQuery`` (qdrant-client keeps a query
    model as it is), scored in float32 as a Qdrant server scores every query; a server
    needs the list. A query the wrapper passes through (native plan, other collections)
    goes as the app sent it."""
    if serving.embedded:
        return models.NearestQuery.model_construct(nearest=vector)
    return vector.tolist()


def wire_native(serving: Serving, original: Any, vector: np.ndarray) -> Any:
    """The app's dense query as the native half of a hybrid search carries it: a float32
    array for embedded Qdrant (:func:`wire_vector`: two float64 scans made a hybrid search
    1.75x a plain one at 5,000 points, against 1.5x in float32), the app's own list for a
    server."""
    if serving.embedded:
        return wire_vector(serving, vector)
    return _as_list(original, vector)


def _as_list(original: Any, vector: np.ndarray) -> list[float]:
    """The query as a list for the request body, reusing the app's own list when it was one."""
    return original if isinstance(original, list) else vector.tolist()


def _vector_name(name: str) -> str | None:
    return None if name == DEFAULT_VECTOR else name


def _request(kw: dict[str, Any], *, query: Any, using: str | None, limit: int,
             selectors: tuple[Any, Any] | None = None) -> models.QueryRequest:
    """A batch request with the call's filter and options (``selectors``: what each hit
    returns, (with_payload, with_vectors), when not what the app asked for)."""
    with_payload, with_vector = selectors or (kw["with_payload"], kw["with_vectors"])
    return models.QueryRequest(
        query=query, using=using, filter=kw["query_filter"], params=kw["search_params"],
        limit=limit, with_payload=with_payload, with_vector=with_vector,
        lookup_from=kw["lookup_from"], shard_key=kw["shard_key_selector"],
    )


def _native_kw(spec: MigrationSpec, kw: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments pointed at the new vector (native plan): nothing to adapt."""
    return {**kw, "using": _target_using(spec, kw["using"], spec.new_vector),
            "prefetch": rewrite_prefetch(kw["prefetch"], spec, None, spec.new_vector)}


def _ranked(serving: Serving, legacy: list[models.ScoredPoint],
            native: list[models.ScoredPoint], calibration: Any,
            kw: dict[str, Any]) -> models.QueryResponse:
    """One response from both sides, offset/limit/threshold applied on the native scale."""
    merged = merge_partitioned(legacy, native, calibrate=calibration, limit=kw["limit"],
                               offset=kw["offset"] or 0, score_threshold=kw["score_threshold"],
                               in_place=True, scores=serving.orientation)
    return models.QueryResponse.model_construct(points=merged)  # points are validated already


def _legacy_query(serving: Serving, vector: np.ndarray,
                  old_query: Any) -> tuple[np.ndarray, Calibration]:
    """The vector that searches the legacy side, and the calibration of its scores."""
    if old_query is not None:
        old = dense_vector(old_query)
        if old is None:
            raise DriftError("old_query must be a dense vector (list of floats or 1-D array)")
        return old, serving.old_calibration if serving.calibrate else Calibration()
    if serving.adapter is None:
        if serving.adapter_problem:
            raise DriftError(
                f"migration {serving.spec.name!r}: the stored adapter cannot be read "
                f"({serving.adapter_problem}); until cut-over new-model queries need it: run "
                "`qdrant-drift fit` to store a new one (or cut over, or pass old_query=)")
        raise DriftError(
            f"migration {serving.spec.name!r} has no adapter: the legacy side cannot be "
            "searched with a new-model query (fit one, or pass old_query=)"
        )
    return (serving.adapter.transform(vector),
            serving.calibration if serving.calibrate else Calibration())


def _prefetch_touches(spec: MigrationSpec, prefetch: Any) -> bool:
    if prefetch is None:
        return False
    if isinstance(prefetch, list):
        return any(_prefetch_touches(spec, p) for p in prefetch)
    return spec.is_migrating_vector(prefetch.using) or _prefetch_touches(spec, prefetch.prefetch)


def touches_migration(spec: MigrationSpec, kw: dict[str, Any]) -> bool:
    """Does this query read the vector being migrated (directly or in its prefetch tree)?"""
    return spec.is_migrating_vector(kw["using"]) or _prefetch_touches(spec, kw["prefetch"])


def _target_using(spec: MigrationSpec, using: str | None, target: str) -> str | None:
    """``using`` pointed at ``target`` when it named the migrating vector, else kept."""
    return _vector_name(target) if spec.is_migrating_vector(using) else using


def rewrite_prefetch(prefetch: Any, spec: MigrationSpec,
                     map_query: Callable[[Any], Any] | None, target_vector: str) -> Any:
    """The prefetch tree with every dense vector of a query on the migrating vector mapped
    (:func:`map_vectors`) and pointed at
    ``target_vector`` (``map_query`` None: queries kept as the app wrote them); other
    branches are kept as they are."""
    if prefetch is None:
        return None
    if isinstance(prefetch, list):
        return [rewrite_prefetch(p, spec, map_query, target_vector) for p in prefetch]
    update: dict[str, Any] = {
        "prefetch": rewrite_prefetch(prefetch.prefetch, spec, map_query, target_vector)}
    if spec.is_migrating_vector(prefetch.using):
        update["using"] = _vector_name(target_vector)
        if map_query is not None:
            update["query"] = map_vectors(prefetch.query, map_query)
    return prefetch.model_copy(update=update)


def _legacy_prefetch_steps(serving: Serving, kw: dict[str, Any],
                           old_query: Any) -> Steps[models.QueryResponse]:
    spec = serving.spec
    vector = dense_vector(kw["query"])

    def adapt(v: np.ndarray) -> list[float]:
        return _legacy_query(serving, v, None)[0].tolist()

    prefetch = rewrite_prefetch(kw["prefetch"], spec, adapt, spec.old_vector)
    if vector is None or not spec.is_migrating_vector(kw["using"]) or _is_mmr(kw["query"]):
        # fusion / formula / order-by / recommend on top, or a top-level query on another
        # vector: the prefetch tree changes (and the top query's own vectors when it reads
        # the migrating one); its scores are not on the adapted scale
        query = kw["query"]
        if spec.is_migrating_vector(kw["using"]):
            query = map_vectors(query, adapt) if old_query is None else _old_query(
                query, old_query)
        return (yield call("query_points", spec.collection, **{
            **kw, "prefetch": prefetch, "query": query,
            "using": _target_using(spec, kw["using"], spec.old_vector)}))
    legacy_vector, calibration = _legacy_query(serving, vector, old_query)
    response = yield call("query_points", spec.collection, **{
        **kw, "prefetch": prefetch, "query": legacy_vector.tolist(),
        "using": _vector_name(spec.old_vector),
        "limit": (kw["offset"] or 0) + kw["limit"], "offset": None, "score_threshold": None})
    return _ranked(serving, response.points, [], calibration, kw)


def _is_mmr(query: Any) -> bool:
    return isinstance(query, models.NearestQuery) and query.mmr is not None


def _old_query(query: Any, old_query: Any) -> Any:
    """The app's old-model query in place of the dense vector of ``query``."""
    if dense_vector(old_query) is None:
        raise DriftError("old_query must be a dense vector (list of floats or 1-D array)")
    return map_vectors(query, lambda v: _as_list(old_query, dense_vector(old_query)))


def _on_legacy_steps(serving: Serving, kw: dict[str, Any],
                     old_query: Any) -> Steps[models.QueryResponse]:
    """The whole query on the legacy vector, its new-model vectors adapted (or the app's
    old-model query); an MMR ranking keeps its order, its scores mapped onto the native
    scale like a nearest query's."""
    spec = serving.spec
    query = kw["query"]
    if old_query is not None:
        legacy_query = _old_query(query, old_query)
    else:
        legacy_query = map_vectors(query, lambda v: _legacy_query(serving, v, None)[0].tolist())
    legacy_kw = {**kw, "query": legacy_query, "using": _vector_name(spec.old_vector)}
    vector = dense_vector(query)
    if not _is_mmr(query) or vector is None or not vector.any():
        return (yield call("query_points", spec.collection, **legacy_kw))
    response = yield call("query_points", spec.collection,
                          **{**legacy_kw, "score_threshold": None})
    _, calibration = _legacy_query(serving, vector, old_query)
    scores = serving.orientation
    points = [p for p in calibrated(response.points, calibration, in_place=True, scores=scores)
              if scores.keeps(p.score, kw["score_threshold"])]
    return models.QueryResponse.model_construct(points=points)


def query_steps(
    serving: Serving, collection_name: str, kw: dict[str, Any], old_query: Any = None,
    on_legacy: Callable[[list[Any]], None] | None = None,
) -> Steps[models.QueryResponse]:
    """Steps of a routed ``query_points`` call (``kw``: its keyword arguments, defaults filled)."""
    spec = serving.spec
    if not serving.targets(collection_name) or not touches_migration(spec, kw):
        return (yield call("query_points", collection_name, **kw))
    vector = dense_vector(kw["query"])
    plan = serving.plan
    if plan is Plan.NATIVE:
        return (yield call("query_points", spec.native_collection, **_native_kw(spec, kw)))
    _refuse_unroutable(kw["query"])
    if kw["prefetch"] is not None:
        # Prefetch trees (hybrid search, fusion, re-scoring) are served on the legacy
        # vectors, which cover every point: each dense query on the migrating vector is
        # adapted; other branches (e.g. sparse vectors) are untouched.
        return (yield from _legacy_prefetch_steps(serving, kw, old_query))
    if vector is None or _is_mmr(kw["query"]) or not vector.any():
        # Not a plain dense vector (ids, recommend, discover, context, order-by, sample),
        # MMR (diversity needs one vector space, in the hybrid plan too), or an all-zero
        # vector (no information: every score 0.0, as unwrapped): the legacy vectors cover
        # every point, so running it there, its vectors adapted, is complete and correct.
        return (yield from _on_legacy_steps(serving, kw, old_query))
    wanted = (kw["offset"] or 0) + kw["limit"]
    legacy_vector, calibration = _legacy_query(serving, vector, old_query)
    if plan is Plan.ADAPTED:
        # One plain query_points (qdrant-client lists an array itself for a server).
        query = wire_vector(serving, legacy_vector) if serving.embedded else legacy_vector
        response = yield call("query_points", spec.collection, **{
            **kw, "query": query, "using": _vector_name(spec.old_vector), "limit": wanted,
            "offset": None, "score_threshold": None})
        if type(response) is models.QueryResponse:
            # the response made for this call, its points rescored in place and cut to the
            # page: rewritten, not rebuilt (a new response costs more than the merge)
            points = merge_partitioned(
                response.points, [], calibrate=calibration, limit=kw["limit"],
                offset=kw["offset"] or 0, score_threshold=kw["score_threshold"],
                in_place=True, scores=serving.orientation)
            response.__dict__["points"] = points
            if on_legacy is not None:
                on_legacy([p.id for p in points])
            return response
        legacy_points = response.points
        native_points: list[models.ScoredPoint] = []
    else:
        # arguments qdrant-client knows and we do not route go along (and unknown ones are
        # rejected by qdrant-client exactly as without the wrapper)
        extra = {k: v for k, v in kw.items() if k not in QUERY_DEFAULTS}
        batch_kw = {"consistency": kw["consistency"], "timeout": kw["timeout"], **extra}
        layout = serving.layout
        # The legacy side: one unfiltered request, deep enough to hold the best points not
        # migrated yet AND the anchors (the best migrated ones on the adapted scale), each
        # hit marked (see serving.overfetch).
        legacy_req = _request(
            kw, query=wire_vector(serving, legacy_vector), using=_vector_name(spec.old_vector),
            limit=serving.over_fetch.limit(wanted, serving.coverage),
            selectors=layout.marked_selectors(kw["with_payload"], kw["with_vectors"]))
        native_req = _request(kw, query=wire_native(serving, kw["query"], vector),
                              using=_vector_name(spec.new_vector), limit=wanted)
        native_side, legacy_side = yield from layout.hybrid_search_steps(
            [legacy_req], native_req, batch_kw)
        native_points = native_side.points
        legacy_points, anchors = layout.split_legacy_hits(
            legacy_side.points, kw["with_payload"], kw["with_vectors"])
        del legacy_points[wanted:], anchors[wanted:]
        if serving.calibrate:
            # matching the two rankings of migrated items rank by rank corrects the
            # calibration for this query (see merge.anchored)
            calibration = anchored(calibration, anchors, native_points, serving.orientation)
    response = _ranked(serving, legacy_points, native_points, calibration, kw)
    if on_legacy is not None:
        native_ids = {p.id for p in native_points}
        on_legacy([p.id for p in response.points if p.id not in native_ids])
    return response


def groups_steps(
    serving: Serving, collection_name: str, group_by: str, kw: dict[str, Any],
    old_query: Any = None,
) -> Steps[models.GroupsResult]:
    """Steps of a routed ``query_points_groups`` call."""
    spec = serving.spec
    if not serving.targets(collection_name) or not touches_migration(spec, kw):
        return (yield call("query_points_groups", collection_name, group_by, **kw))
    if serving.plan is Plan.NATIVE:
        return (yield call("query_points_groups", spec.native_collection, group_by,
                           **_native_kw(spec, kw)))
    vector = dense_vector(kw["query"])
    _refuse_unroutable(kw["query"])
    if kw["prefetch"] is not None or _is_mmr(kw["query"]):
        raise DriftError("query_points_groups with prefetch or MMR is not routed before "
                         "cut-over: group a plain dense query, or use query_points")
    if vector is None or not vector.any():
        legacy_query = map_vectors(kw["query"],
                                   lambda v: _legacy_query(serving, v, None)[0].tolist())
        return (yield call("query_points_groups", spec.collection, group_by,
                           **{**kw, "query": legacy_query,
                              "using": _vector_name(spec.old_vector)}))
    legacy_vector, calibration = _legacy_query(serving, vector, old_query)
    legacy_kw = {**kw, "query": legacy_vector.tolist(), "using": _vector_name(spec.old_vector),
                 "score_threshold": None}
    if serving.plan is Plan.ADAPTED:
        legacy = yield call("query_points_groups", spec.collection, group_by, **legacy_kw)
        native_groups: list[models.PointGroup] = []
    else:
        legacy_kw["query_filter"] = serving.layout.unmigrated_filter(kw["query_filter"])
        native_query = vector.tolist()
        # anchors: both queries' best migrated points, ungrouped, ids and scores only (see
        # merge.anchored); all four calls are independent
        anchor_kw = {"limit": kw["limit"] * kw["group_size"], "with_payload": False,
                     "with_vectors": False, "search_params": kw["search_params"],
                     "shard_key_selector": kw["shard_key_selector"],
                     "consistency": kw["consistency"], "timeout": kw["timeout"]}
        sides = (
            call("query_points_groups", spec.collection, group_by, **legacy_kw),
            call("query_points_groups", spec.native_collection, group_by,
                 **{**kw, "query": native_query, "using": _vector_name(spec.new_vector)}),
        )
        anchors = (
            call("query_points", spec.collection, query=legacy_kw["query"],
                 using=legacy_kw["using"],
                 query_filter=serving.layout.migrated_filter(kw["query_filter"]), **anchor_kw),
            call("query_points", spec.native_collection, query=native_query,
                 using=_vector_name(spec.new_vector), query_filter=kw["query_filter"],
                 **anchor_kw),
        ) if serving.calibrate else ()
        legacy, native, *anchored_by = yield Gather(sides + anchors)
        native_groups = native.groups
        if anchored_by:
            calibration = anchored(calibration, anchored_by[0].points, anchored_by[1].points,
                                   serving.orientation)
    groups = merge_groups(legacy.groups, native_groups, calibrate=calibration,
                          limit=kw["limit"], group_size=kw["group_size"],
                          score_threshold=kw["score_threshold"], scores=serving.orientation)
    return models.GroupsResult(groups=groups)


def deep_hits_steps(serving: Serving, collection_name: str, kw: dict[str, Any],
                    old_query: Any, depth: int) -> Steps[list[Any]]:
    """Ids of the ``depth`` best not-yet-migrated items for this query, by the legacy side
    (ids only). Run off the query path for a sample of queries: a deeper signal for hot-first
    backfill than the few results a query returns (relevant items the adapter ranks 11th
    to 50th are the ones that gain most from their new vector)."""
    spec = serving.spec
    vector = dense_vector(kw["query"])
    if (serving.plan is Plan.NATIVE or vector is None or kw["prefetch"] is not None
            or not serving.targets(collection_name) or not touches_migration(spec, kw)):
        return []
    legacy_vector, _ = _legacy_query(serving, vector, old_query)
    response = yield call("query_points", spec.collection, query=legacy_vector,
                          using=_vector_name(spec.old_vector),
                          query_filter=serving.layout.unmigrated_filter(kw["query_filter"]),
                          limit=depth,
                          with_payload=False, with_vectors=False)
    return [p.id for p in response.points]


def matrix_steps(serving: Serving, method: str, kw: dict[str, Any]) -> Steps[Any]:
    """``search_matrix_pairs`` / ``search_matrix_offsets``: distances between points on the
    legacy vector (every point has one) before cut-over, on the new vector after."""
    spec = serving.spec
    kw = dict(kw)
    collection_name = kw.pop("collection_name")
    if not serving.targets(collection_name) or not spec.is_migrating_vector(kw.get("using")):
        return (yield call(method, collection_name, **kw))
    if serving.plan is Plan.NATIVE:
        return (yield call(method, spec.native_collection,
                           **{**kw, "using": _vector_name(spec.new_vector)}))
    return (yield call(method, spec.collection, **{**kw, "using": _vector_name(spec.old_vector)}))
