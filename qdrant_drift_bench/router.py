"""``qdrant-drift bench router``: what serving returns while a collection migrates.

A real drift pair is loaded into embedded Qdrant (legacy vectors only), an adapter is fitted
and a migration is started; the backfill then runs in steps of coverage, and at each step
the test queries are measured (Recall@10, MRR@10) for:

- ``adapted_only``: the adapted query over ALL legacy vectors (exact search, constant);
- ``native_only``: the new query over the new vectors of migrated items only (exact search);
- ``routed``: what :class:`~qdrant_drift.DriftClient` returns (embedded Qdrant);
- ``routed_uncalibrated``: the same with an identity score calibration;
- ``full_reembed``: the new query over every new vector (exact search, constant).

Then again with HOT-FIRST and MIXED backfill orders (the worker's own policies): Zipf(s)
traffic over the test queries is served at every step, its (traffic-weighted) legacy hits
rank the items the backfill takes next, and the query-weighted Recall@10 of routed search is
reported at each step; the random order's weighted figure stands for the plain sweep.

Embedded Qdrant is pure Python and scans every vector per request, so by default only a
fixed, seeded sample of the test queries goes through the router (``queries_used`` in the
result); every test query is routed by emulation (:func:`emulated_routed`), and its
per-query hits are kept so that two runs can be compared query by query (:mod:`.paired`).
Routed and uncalibrated queries ask Qdrant the same requests; a replay proxy answers the
second with the first's response (see :class:`_ReplayProxy`), so the pair costs one round of
Qdrant work.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client.http import models

from qdrant_drift.adapters import Adapter, fit
from qdrant_drift.backfill.ordering import HotFirst, Mixed
from qdrant_drift.serving.client import DriftClient
from .evaluation import (
    exact_search,
    exact_search_scored,
    hit_ranks,
    in_top_k,
    mrr_at_k,
    recall_at_k,
)
from qdrant_drift.serving.merge import anchored, merge_partitioned
from qdrant_drift.lifecycle.commands import create, cutover, set_phase
from qdrant_drift.migration.phases import Phase
from qdrant_drift.migration.layouts import coverage, layout_of
from qdrant_drift.migration.spec import MigrationSpec
from qdrant_drift.serving.overfetch import OverFetch
from qdrant_drift.vectors import unit_rows
from .adapters import training_docs
from .data import PairData, load_pair
from .paired import compare_hits

K = 10
PROTOCOL = "disjoint"  # no test query's answer in the fit sample (benchmarks/README.md)
DEFAULT_QUERIES = 100  # routed queries per variant and coverage point (embedded Qdrant is slow)
COLLECTION = "docs"
MIGRATION = "bench-router"
BATCH = 1000

Log = Callable[[str], None]


def uncalibrated(adapter: Adapter) -> Adapter:
    """A copy of ``adapter`` whose score calibrations are the identity."""
    return Adapter(kind=adapter.kind, map=adapter.map, fingerprint=adapter.fingerprint,
                   distance=adapter.distance,
                   info={k: v for k, v in adapter.info.items()
                         if k not in ("calibration", "old_calibration")})


def zipf_weights(n: int, s: float, rng: np.random.Generator) -> np.ndarray:
    """Weights (sum 1) of ``n`` queries: a random permutation gets p_r ∝ 1 / r^s."""
    weights = np.empty(n, dtype=np.float64)
    weights[rng.permutation(n)] = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    return weights / weights.sum()


def _exact_ranks(queries: np.ndarray, docs: np.ndarray, relevant: np.ndarray,
                 rows: np.ndarray | None = None) -> np.ndarray:
    """Hit ranks of exact top-10 search over ``docs`` (or only ``docs[rows]``)."""
    if rows is None:
        return hit_ranks(exact_search(queries, docs, K), relevant)
    if len(rows) == 0:
        return np.zeros(len(queries), dtype=np.int64)
    ids = exact_search(queries, docs[rows], min(K, len(rows)))
    mapped = np.where(ids >= 0, rows[np.clip(ids, 0, None)], -1)
    return hit_ranks(mapped, relevant)


def _scored_lists(queries: np.ndarray, docs: np.ndarray, rows: np.ndarray,
                  k: int = K) -> list[list[models.ScoredPoint]]:
    """Exact top-``k`` over ``docs[rows]`` as qdrant-client points (ids are doc rows)."""
    if len(rows) == 0:
        return [[] for _ in range(len(queries))]
    ids, scores = exact_search_scored(queries, docs[rows], min(k, len(rows)))
    return [[models.ScoredPoint.model_construct(id=int(rows[i]), version=0, score=float(s))
             for i, s in zip(row_ids, row_scores) if i >= 0]
            for row_ids, row_scores in zip(ids, scores)]


@dataclass(frozen=True)
class Emulated:
    """The hybrid plan's answer to every query: the relevant item's rank (0: not in the top
    ``K``) and the merged top-``K`` scores (NaN where fewer came back)."""

    ranks: np.ndarray
    scores: np.ndarray


def emulated_routed(adapted_queries: np.ndarray, new_queries: np.ndarray,
                    old_docs: np.ndarray, new_docs: np.ndarray, relevant: np.ndarray,
                    migrated: np.ndarray, calibration: Any, *,
                    filtered: bool = False) -> Emulated:
    """The hybrid plan, its Qdrant requests answered by exact search.

    The two requests DriftClient sends (the adapted query over ALL legacy vectors, as deep
    as :class:`~qdrant_drift.serving.overfetch.OverFetch` says for this coverage, split
    into not-migrated hits and anchors by the marker; the new query over new vectors) are
    answered by faiss, and the answers go through the client's own merge
    (:func:`merge.anchored`, :func:`merge.merge_partitioned`): the routed figure for every
    test query, where embedded Qdrant is too slow to route them all.

    ``filtered``: the plan before the over-fetch instead, its legacy side two filtered
    requests (the best ``K`` not-migrated points, the best ``K`` migrated ones as anchors),
    which the over-fetch must not do worse than (see ``overfetch.py``).
    """
    is_migrated = np.zeros(len(old_docs), dtype=bool)
    is_migrated[migrated] = True
    native = _scored_lists(new_queries, new_docs, np.flatnonzero(is_migrated))
    if filtered:
        unmigrated = _scored_lists(adapted_queries, old_docs, np.flatnonzero(~is_migrated))
        anchors = _scored_lists(adapted_queries, old_docs, np.flatnonzero(is_migrated))
    else:
        depth = OverFetch().limit(K, coverage(len(migrated), len(old_docs)))
        sides = _scored_lists(adapted_queries, old_docs, np.arange(len(old_docs)), depth)
        unmigrated = [[p for p in side if not is_migrated[p.id]][:K] for side in sides]
        anchors = [[p for p in side if is_migrated[p.id]][:K] for side in sides]
    ranks = np.zeros(len(relevant), dtype=np.int64)
    scores = np.full((len(relevant), K), np.nan)
    for q, (leg, anc, nat, rel) in enumerate(zip(unmigrated, anchors, native, relevant)):
        merged = merge_partitioned(leg, nat, calibrate=anchored(calibration, anc, nat), limit=K)
        ranks[q] = next((i for i, p in enumerate(merged, start=1) if p.id == int(rel)), 0)
        scores[q, : len(merged)] = [p.score for p in merged]
    return Emulated(ranks, scores)


def emulated_routed_ranks(*args: Any, **kwargs: Any) -> np.ndarray:
    """:func:`emulated_routed`'s ranks."""
    return emulated_routed(*args, **kwargs).ranks


def lost_beyond_ties(before: Emulated, after: Emulated) -> int:
    """Queries ``before`` answers and ``after`` does not, other than by a tie: where both
    return the same top-``K`` scores, which of two equally scored items made the cut is
    arbitrary (exact search breaks ties one way at one depth and another at the next; so
    does Qdrant)."""
    same_scores = np.isclose(before.scores, after.scores, atol=1e-6, equal_nan=True).all(axis=1)
    return int((in_top_k(before.ranks, K) & ~in_top_k(after.ranks, K) & ~same_scores).sum())


@dataclass(frozen=True)
class TestSetting:
    """What a run measures on: unit vectors, the test queries (those with an answer) and the
    fit sample's rows under the disjoint protocol (benchmarks/README.md: no test query's
    answer in the sample). A baseline built elsewhere must measure on the same."""

    old_docs: np.ndarray
    new_docs: np.ndarray
    queries: np.ndarray  # the new model's, unit, of the test queries
    relevant: np.ndarray  # each test query's answer (a doc row)
    valid: np.ndarray  # the test queries' rows among all queries
    rows: np.ndarray  # the fit sample's doc rows

    __test__ = False  # not a pytest class

    @classmethod
    def of(cls, data: PairData, *, seed: int, train_pairs: int) -> "TestSetting":
        queries = unit_rows(data.new_queries)
        relevant = data.relevant[: len(queries)]
        valid = np.flatnonzero(relevant >= 0)
        rows = training_docs(len(data.old_docs), relevant[valid], train_pairs, seed=seed)
        return cls(unit_rows(data.old_docs), unit_rows(data.new_docs), queries[valid],
                   relevant[valid], valid, rows)

    @property
    def query_set(self) -> str:
        """A fingerprint of the test queries and their answers (paired runs must share it)."""
        digest = hashlib.sha256(np.ascontiguousarray(self.valid, np.int64).tobytes())
        digest.update(np.ascontiguousarray(self.relevant, np.int64).tobytes())
        return digest.hexdigest()[:16]


def coverage_points(steps: int) -> list[float]:
    """``steps`` evenly spaced coverage points from 0 to 100%."""
    return [i / (steps - 1) for i in range(steps)]


def sweep_order(n_docs: int, seed: int) -> np.ndarray:
    """The random backfill order of a run: a baseline must migrate the same items."""
    return np.random.default_rng([seed, 2]).permutation(n_docs)


def hit_string(ranks: np.ndarray) -> str:
    """One character per query, "1" where its relevant item is in the top ``K``: the
    per-query record a later run is compared with (see :mod:`.paired`)."""
    return "".join("1" if hit else "0" for hit in in_top_k(ranks, K).tolist())


def _rank_of(response: models.QueryResponse, relevant: int) -> int:
    for position, point in enumerate(response.points[:K], start=1):
        if int(point.id) == relevant:
            return position
    return 0


class _ReplayProxy:
    """A pass-through to the embedded client that answers a repeated ``query_batch_points``
    request (same collection, same request) with the response it just got, once.

    The calibrated and the uncalibrated DriftClient send Qdrant byte-identical requests (the
    same adapted vector, the same filter; the uncalibrated one omits the anchor request);
    only their merge differs. Replaying the first client's answers to the second halves the
    (slow, pure-Python) Qdrant work without changing what either client sees. Cleared
    whenever the collection changes.
    """

    def __init__(self, client: QdrantClient) -> None:
        self._client = client
        self._memo: dict[str, Any] = {}
        self.replayed = 0

    def clear(self) -> None:
        self._memo.clear()

    def query_batch_points(self, collection_name: str, requests: Sequence[Any],
                           **kwargs: Any) -> Any:
        keys = [repr((collection_name, request, sorted(kwargs.items())))
                for request in requests]
        if keys and all(key in self._memo for key in keys):
            self.replayed += 1
            return [self._memo.pop(key) for key in keys]
        result = self._client.query_batch_points(collection_name, requests, **kwargs)
        # private copies for the replay: DriftClient rewrites scores of its own responses
        self._memo.update(zip(keys, copy.deepcopy(result)))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _World:
    """A fresh embedded Qdrant holding the legacy vectors, with the migration started."""

    def __init__(self, data: PairData, old_docs: np.ndarray, new_docs: np.ndarray,
                 adapter: Adapter, log: Log) -> None:
        self.new_docs = new_docs
        self.client = QdrantClient(":memory:")
        self.client.create_collection(COLLECTION, vectors_config={
            "old": models.VectorParams(size=old_docs.shape[1], distance=models.Distance.COSINE)
        })
        started = time.perf_counter()
        for start in range(0, len(old_docs), BATCH):
            stop = min(len(old_docs), start + BATCH)
            self.client.upsert(COLLECTION, [
                models.PointStruct(id=i, vector={"old": old_docs[i].tolist()})
                for i in range(start, stop)
            ])
        log(f"loaded {len(old_docs)} legacy points in {time.perf_counter() - started:.1f}s")
        self.spec = MigrationSpec(name=MIGRATION, collection=COLLECTION, old_vector="old",
                                  new_vector="new", old_model=data.old_model,
                                  new_model=data.new_model)
        self.layout = layout_of(self.spec)
        create(self.client, self.spec, adapter)
        set_phase(self.client, MIGRATION, Phase.BACKFILLING)
        self.migrated = 0

    def reset(self) -> None:
        """Back to 0% coverage: every new vector (and what marks it) removed."""
        names = list(self.layout.new_vectors([0.0]))
        self.client.delete_vectors(COLLECTION, names, points=models.FilterSelector(
            filter=models.Filter()))
        self.migrated = 0

    def migrate_to(self, order: np.ndarray, target: int) -> np.ndarray:
        """Give the next items of ``order`` their new vector until ``target`` are migrated."""
        for start in range(self.migrated, target, BATCH):
            ids = order[start:min(target, start + BATCH)]
            self.client.update_vectors(COLLECTION, [
                models.PointVectors(id=int(i),
                                    vector=self.layout.new_vectors(self.new_docs[i].tolist()))
                for i in ids
            ])
        self.migrated = max(self.migrated, target)
        return order[: self.migrated]

    def drift_client(self, client: Any = None, adapter: Adapter | None = None,
                     calibrate: bool = True, **options: Any) -> DriftClient:
        return DriftClient(client if client is not None else self.client, MIGRATION,
                           refresh_interval=0, adapter=adapter, calibrate=calibrate, **options)


def _route(client: DriftClient, queries: np.ndarray) -> list[models.QueryResponse]:
    return [client.query_points(COLLECTION, query=q, using="new", limit=K, with_payload=False)
            for q in queries]


def policy_order(policy: Any, hot: np.ndarray, sweep: np.ndarray,
                 batch_size: int = 64) -> np.ndarray:
    """The order a backfill with ``policy`` migrates points in: per batch, the policy's share
    from the hot ids (hottest first), the rest from the sweep order (what the worker does)."""
    hot_left, sweep_left = list(hot), deque(sweep)
    out: list[int] = []
    seen: set[int] = set()
    while sweep_left or hot_left:
        quota = policy(batch_size, len(hot_left))
        batch = [pid for pid in hot_left[:quota] if pid not in seen]
        del hot_left[:quota]
        while sweep_left and len(batch) < batch_size:
            pid = sweep_left.popleft()
            if pid not in seen and pid not in batch:
                batch.append(pid)
        if not batch and not sweep_left and policy(batch_size, len(hot_left)) == 0:
            break  # a policy that takes no hot ids, and the sweep is over
        seen.update(batch)
        out.extend(batch)
    return np.asarray(out, dtype=int)


def run_router_bench(
    data_dir: str,
    pair: str,
    *,
    train_pairs: int = 5000,
    kind: str = "auto",
    seed: int = 0,
    n_queries: int | None = DEFAULT_QUERIES,
    coverage_steps: int = 11,
    zipf_s: float = 1.1,
    hit_depth: int = 50,
    log: Log = lambda _: None,
) -> dict[str, Any]:
    """Run the router benchmark; return the JSON-ready result.

    ``n_queries``: how many test queries (a fixed sample drawn with ``seed``) go through the
    router; ``None`` or 0 for all of them. ``coverage_steps`` evenly spaced coverage points
    from 0 to 100% (at least 2). Traffic: each distinct query is served once per step and
    its legacy hits are weighted by its Zipf probability (the exact expectation). ``hit_depth``: the
    serving replicas' deep hit sampling (``DriftClient(hit_depth=...)``), 0 = off.
    """
    if coverage_steps < 2:
        raise ValueError("coverage_steps must be at least 2 (0% and 100%)")
    began = time.perf_counter()
    data = load_pair(data_dir, pair)
    setting = TestSetting.of(data, seed=seed, train_pairs=train_pairs)
    old_docs, new_docs, rows = setting.old_docs, setting.new_docs, setting.rows
    n_docs = len(old_docs)
    valid = setting.valid
    query_rng = np.random.default_rng([seed, 1])
    if n_queries and n_queries < len(valid):  # positions among the test queries
        chosen = np.sort(query_rng.choice(len(valid), size=n_queries, replace=False))
    else:
        chosen = np.arange(len(valid))
    picked = valid[chosen]
    queries, relevant = setting.queries[chosen], setting.relevant[chosen]
    nq = len(picked)
    log(f"{data.corpus}/{pair}: {n_docs} docs, {nq} of {len(valid)} queries routed")

    log(f"fitting {kind} on {len(rows)} pairs")
    started = time.perf_counter()
    adapter = fit(kind, data.new_docs[rows], data.old_docs[rows], new_model=data.new_model,
                  old_model=data.old_model, seed=seed)
    fit_seconds = time.perf_counter() - started
    chosen = (adapter.info.get("auto") or {}).get("chosen", adapter.kind)
    plain = uncalibrated(adapter)
    adapted_queries = adapter.transform(queries)

    full_ranks = _exact_ranks(queries, new_docs, relevant)
    adapted_ranks = _exact_ranks(adapted_queries, old_docs, relevant)
    full_r, full_m = recall_at_k(full_ranks), mrr_at_k(full_ranks)
    adapted_r = recall_at_k(adapted_ranks)
    all_full = _exact_ranks(setting.queries, new_docs, setting.relevant)
    all_adapted_queries = adapter.transform(setting.queries)
    all_adapted = _exact_ranks(all_adapted_queries, old_docs, setting.relevant)

    coverage = coverage_points(coverage_steps)
    targets = [int(round(c * n_docs)) for c in coverage]
    query_seconds = 0.0

    # -- random backfill order ------------------------------------------------------------
    world = _World(data, old_docs, new_docs, adapter, log)
    proxy = _ReplayProxy(world.client)
    routed_client = world.drift_client(proxy)
    plain_client = world.drift_client(proxy, plain, calibrate=False)
    order = sweep_order(n_docs, seed)
    random_r: dict[str, list[float]] = {k: [] for k in (
        "adapted_only", "native_only", "routed", "routed_uncalibrated")}
    random_m: dict[str, list[float]] = {k: [] for k in random_r}
    plans: list[str] = []
    random_routed_ranks: list[np.ndarray] = []
    mismatch_at_full = None
    # every test query, the hybrid plan's requests answered by exact search (see
    # emulated_routed_ranks); checked against DriftClient on the routed sample
    emulated: dict[str, list[float]] = {"native_only": [], "routed": []}
    emulation_mismatches: list[int] = []
    emulated_hits: list[str] = []  # per step, per query: "1" found in the top 10 (paired.py)
    filtered_hits: list[str] = []  # the same queries served by the plan before the over-fetch
    overfetch_losses: list[int] = []  # queries it answered that the over-fetch does not
    for c, target in zip(coverage, targets):
        covered = world.migrate_to(order, target)
        proxy.clear()
        plan = routed_client.refresh()
        plain_client.refresh()
        plans.append(plan.value)
        started = time.perf_counter()
        routed_ranks, plain_ranks = [], []
        for q, rel in zip(queries, relevant):
            routed_ranks.append(_rank_of(_route(routed_client, q[None])[0], int(rel)))
            plain_ranks.append(_rank_of(_route(plain_client, q[None])[0], int(rel)))
        query_seconds += time.perf_counter() - started
        routed_ranks_a, plain_ranks_a = np.array(routed_ranks), np.array(plain_ranks)
        random_routed_ranks.append(routed_ranks_a)
        native_ranks = _exact_ranks(queries, new_docs, relevant, covered)
        for name, ranks in (("adapted_only", adapted_ranks), ("native_only", native_ranks),
                            ("routed", routed_ranks_a), ("routed_uncalibrated", plain_ranks_a)):
            random_r[name].append(recall_at_k(ranks))
            random_m[name].append(mrr_at_k(ranks))
        if target == n_docs:
            mismatch_at_full = int((routed_ranks_a != full_ranks).sum())
        emulation_mismatches.append(int((emulated_routed_ranks(
            adapted_queries, queries, old_docs, new_docs, relevant, covered,
            adapter.calibration) != routed_ranks_a).sum()))
        every = (all_adapted_queries, setting.queries, old_docs, new_docs,
                 setting.relevant, covered, adapter.calibration)
        overfetched, filtered = emulated_routed(*every), emulated_routed(*every, filtered=True)
        emulated["routed"].append(recall_at_k(overfetched.ranks))
        emulated_hits.append(hit_string(overfetched.ranks))
        filtered_hits.append(hit_string(filtered.ranks))
        overfetch_losses.append(lost_beyond_ties(filtered, overfetched))
        emulated["native_only"].append(recall_at_k(
            _exact_ranks(setting.queries, new_docs, setting.relevant, covered)))
        log(f"random {c:4.0%} [{plan.value}]: routed {random_r['routed'][-1]:.3f} "
            f"uncal {random_r['routed_uncalibrated'][-1]:.3f} "
            f"adapted {adapted_r:.3f} native {random_r['native_only'][-1]:.3f} "
            f"({time.perf_counter() - started:.0f}s)")
    cutover(world.client, MIGRATION, force=True)  # whatever coverage the sweep reached
    routed_client.refresh()
    started = time.perf_counter()
    after_cutover = np.array([_rank_of(r, int(rel)) for r, rel in
                              zip(_route(routed_client, queries), relevant)])
    query_seconds += time.perf_counter() - started
    replayed = proxy.replayed
    world.client.close()

    # -- hot-first backfill under Zipf traffic ----------------------------------------------
    # The traffic is served at every coverage step (that is also the measurement); its legacy
    # hits (and, with hit_depth, each query's best unmigrated items) keep flowing to the heat
    # the backfill orders by, as in a running system where replicas flush hits continuously.
    traffic_rng = np.random.default_rng([seed, 3])
    p = zipf_weights(nq, zipf_s, traffic_rng)
    tie_break = traffic_rng.random(n_docs)
    world = _World(data, old_docs, new_docs, adapter, log)
    hot_client = world.drift_client(hit_depth=hit_depth, hit_sample_rate=1.0 if hit_depth else 0)
    hot_r, hot_w, hot_wm, mixed_w = [], [], [], []
    items_hit = 0
    for name, policy, into in (("hot-first", HotFirst(), hot_w), ("mixed", Mixed(0.5), mixed_w)):
        world.reset()
        heat: Counter[int] = Counter()
        done: list[int] = []
        for c, target in zip(coverage, targets):
            if target > len(done):
                migrated = set(done)
                hot = sorted((pid for pid in heat if pid not in migrated),
                             key=lambda i: (-heat[i], tie_break[i]))
                sweep = np.array([i for i in order.tolist() if i not in migrated], dtype=int)
                nxt = policy_order(policy, np.array(hot, dtype=int), sweep)
                done += nxt[: target - len(done)].tolist()
            world.migrate_to(np.array(done, dtype=int), target)
            hot_client.refresh()
            started = time.perf_counter()
            ranks = []
            for q, rel, weight in zip(queries, relevant, p):
                before = hot_client.legacy_hits.snapshot()
                ranks.append(_rank_of(_route(hot_client, q[None])[0], int(rel)))
                hot_client.drain()
                for pid, count in (hot_client.legacy_hits.snapshot() - before).items():
                    heat[int(pid)] += weight * count
            query_seconds += time.perf_counter() - started
            ranks_a = np.array(ranks)
            hit = in_top_k(ranks_a, K)
            into.append(float((p * hit).sum()))
            if name == "hot-first":
                hot_r.append(recall_at_k(ranks_a))
                hot_wm.append(float((p * np.where(hit, 1.0 / np.maximum(ranks_a, 1), 0.0)).sum()))
                items_hit = max(items_hit, len(heat))
            log(f"{name} {c:4.0%}: weighted recall {into[-1]:.3f} ({len(heat)} items hit)")
    world.client.close()
    sweep_w = [float((p * in_top_k(r, K)).sum()) for r in random_routed_ranks]
    full_hit = in_top_k(full_ranks, K)
    full_weighted = float((p * full_hit).sum())
    full_weighted_mrr = float((p * np.where(full_hit, 1.0 / np.maximum(full_ranks, 1), 0.0)).sum())

    result = {
        "corpus": data.corpus,
        "pair": pair,
        "old_model": data.old_model,
        "new_model": data.new_model,
        "coverage": coverage,
        "full_reembed": full_r,
        "random": random_r,
        "hot_first": {"routed": hot_w},
        # extras
        "full_reembed_mrr": full_m,
        "random_mrr": random_m,
        "random_plans": plans,
        "routed_after_cutover": recall_at_k(after_cutover),
        "routed_mismatches_vs_full_at_100": mismatch_at_full,
        "full_reembed_weighted": full_weighted,
        "full_reembed_weighted_mrr": full_weighted_mrr,
        "hot_first_mrr": {"routed": hot_wm},
        "hot_first_unweighted": {"routed": hot_r},
        "hot_first_items_hit": items_hit,
        # the backfill order policies under the same traffic (query-weighted Recall@10)
        "orders_weighted": {"sweep": sweep_w, "mixed": mixed_w, "hot_first": hot_w},
        "zipf_s": zipf_s,
        "hit_depth": hit_depth,
        "traffic": "weighted, served at every step",
        "all_queries": {"n": int(len(valid)), "full_reembed": recall_at_k(all_full),
                        "adapted_only": recall_at_k(all_adapted),
                        "random": {"emulated_routed": emulated["routed"],
                                   "native_only": emulated["native_only"],
                                   "emulated_hits": emulated_hits},
                        # the over-fetch against the filtered requests it replaced, query by
                        # query: it must lose none of their answers (ties aside)
                        "overfetch_vs_filtered": compare_hits(coverage, filtered_hits,
                                                              emulated_hits),
                        "overfetch_lost_beyond_ties": overfetch_losses,
                        "emulation_mismatches_on_routed_sample": emulation_mismatches},
        "queries_used": int(nq),
        "query_rows": [int(i) for i in picked] if nq < len(valid) else None,
        "train_pairs": int(len(rows)),
        "protocol": PROTOCOL,
        "query_set": setting.query_set,
        "kind": kind,
        "chosen_kind": chosen,
        "seed": seed,
        "fit_seconds": round(fit_seconds, 2),
        "query_seconds": round(query_seconds, 1),
        "replayed_requests": replayed,
    }
    result["targets"] = _targets(result)
    result["seconds"] = round(time.perf_counter() - began, 1)
    return result


def _targets(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, checked on this run."""
    rnd = result["random"]
    coverage = result["coverage"]
    best_single = [max(a, n) for a, n in zip(rnd["adapted_only"], rnd["native_only"])]
    at_20 = next((i for i, c in enumerate(coverage) if c >= 0.2 - 1e-9), len(coverage) - 1)
    hot = result["hot_first"]["routed"]
    every = result["all_queries"]
    return {
        "routed_ge_best_single": all(r >= b - 1e-12 for r, b in zip(rnd["routed"], best_single)),
        "routed_minus_best_single": [round(r - b, 4) for r, b in zip(rnd["routed"], best_single)],
        "routed_equals_full_at_100": abs(rnd["routed"][-1] - result["full_reembed"]) < 1e-12,
        "hot_first_share_of_full_at_20": (hot[at_20] / result["full_reembed_weighted"]
                                          if result["full_reembed_weighted"] else None),
        "hot_first_98pct_by_20": hot[at_20] >= 0.98 * result["full_reembed_weighted"],
        "calibrated_beats_uncalibrated": sum(rnd["routed"]) > sum(rnd["routed_uncalibrated"]),
        "calibrated_minus_uncalibrated": [
            round(a - b, 4) for a, b in zip(rnd["routed"], rnd["routed_uncalibrated"])],
        "all_queries_emulated_routed_minus_best_single": [
            round(r - max(every["adapted_only"], n), 4) for r, n in
            zip(every["random"]["emulated_routed"], every["random"]["native_only"])],
        "overfetch_loses_nothing": not any(every["overfetch_lost_beyond_ties"]),
    }
