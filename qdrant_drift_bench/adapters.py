"""``qdrant-drift bench adapters``: adapter quality and speed on a real drift pair.

Exact search (faiss) over the whole corpus: the old model's own baseline, a full re-embed,
and every adapter kind applied to new-model queries searching the OLD document vectors.

The "disjoint" protocol (issue 16): the queries are permuted with the seed; the first N are
the *logged* queries the adapters may learn from (no labels); of the rest, the first half
(rounded down) are the *test* queries; the training pairs are drawn only from documents
that are not the relevant document of any test query; every figure is computed on the test
queries only. In production the fit sample is a sliver of the corpus, so almost no query's
answer is in it: an adapter must not be scored on answers it was fitted on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from qdrant_drift.adapters import KINDS, fit
from .evaluation import retrieval_quality
from .data import PairData, load_pair
from qdrant_drift.adapters.cost import transform_costs_us
from .timing import gemv_floor


def default_kinds() -> list[str]:
    return [kind for kind in KINDS if kind != "auto"]


@dataclass(frozen=True)
class Split:
    """One draw of the disjoint protocol: logged queries, test queries, training documents."""

    logged: np.ndarray
    test: np.ndarray
    train_docs: np.ndarray


def disjoint_split(
    n_queries: int, relevant: np.ndarray, n_docs: int, *, logged_queries: int,
    train_pairs: int, seed: int,
) -> Split:
    """The protocol above (query order and document draw depend on the seed only)."""
    if not 0 <= logged_queries < n_queries - 1:
        raise ValueError(f"logged queries must be in [0, {n_queries - 2}], got {logged_queries}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_queries)
    logged = order[:logged_queries]
    rest = order[logged_queries:]
    test = rest[: len(rest) // 2]
    rows = training_docs(n_docs, relevant[test], train_pairs, seed=seed + 1)
    return Split(logged=logged, test=test, train_docs=rows)


def training_docs(n_docs: int, answers: np.ndarray, train_pairs: int, *, seed: int
                  ) -> np.ndarray:
    """The fit sample, in row order, drawn with ``seed`` only from documents that answer
    none of the measured queries (``answers``; -1 for a query without one): in production
    the sample is a sliver of the corpus, so an adapter that remembers its training
    documents (``whitened``'s lookup) must not find the answers there."""
    allowed = np.setdiff1d(np.arange(n_docs), answers[answers >= 0])
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(allowed, size=min(train_pairs, len(allowed)), replace=False))


def run_on_pair(
    data: PairData,
    *,
    train_pairs: int = 5000,
    kinds: Sequence[str] | None = None,
    seed: int = 0,
    logged_queries: int = 0,
    timing_rounds: int = 10,
    log: Callable[[str], None] = lambda _: None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The benchmark on one loaded pair for N logged queries (schema in
    benchmarks/README.md). ``progress`` hears one line per kind fitted; ``log`` every
    fitting detail."""
    n_docs = len(data.old_docs)
    n_queries = len(data.new_queries)
    relevant = data.relevant[:n_queries]
    split = disjoint_split(n_queries, relevant, n_docs, logged_queries=logged_queries,
                           train_pairs=train_pairs, seed=seed)
    rows = split.train_docs
    queries, rel = data.new_queries[split.test], relevant[split.test]
    logged = {}
    if len(split.logged):
        logged = {"queries": data.new_queries[split.logged],
                  "old_queries": data.old_queries[split.logged]}

    old_baseline = retrieval_quality(data.old_queries[split.test], data.old_docs, rel)
    full = retrieval_quality(queries, data.new_docs, rel)
    no_adapter = retrieval_quality(queries, data.old_docs, rel) if (
        queries.shape[1] == data.old_docs.shape[1]
    ) else None
    full_r = full["recall_at_10"]

    chosen_kinds = list(kinds or default_kinds())
    steps = len(chosen_kinds) + 1

    def measure(kind: str, **options: Any) -> tuple[dict[str, Any], Any]:
        step = len(rows_out) + 1
        progress(f"[{step}/{steps}] fitting {kind} on {len(rows)} pairs, "
                 f"{len(split.logged)} logged queries")
        started = time.perf_counter()
        adapter = fit(
            kind, data.new_docs[rows], data.old_docs[rows],
            new_model=data.new_model, old_model=data.old_model, seed=seed, log=log,
            corpus_size=n_docs, **logged, **options,
        )
        fit_seconds = time.perf_counter() - started
        quality = retrieval_quality(adapter.transform(queries), data.old_docs, rel)
        report = adapter.quality or {}
        # timed as auto times its candidates: side by side, each at its quietest round
        gemv = gemv_floor(adapter.map.weight_matrices(), np.ascontiguousarray(queries[0]))
        timing = transform_costs_us({"transform": adapter.transform, "gemv": lambda _: gemv()},
                                    queries, rounds=timing_rounds)
        row = {
            "kind": kind,
            **quality,
            "recovery": quality["recall_at_10"] / full_r if full_r else 0.0,
            "mrr_recovery": quality["mrr_at_10"] / full["mrr_at_10"] if full["mrr_at_10"] else 0.0,
            "predicted_recovery": report.get("predicted_recall_recovery"),
            "predicted_low": report.get("predicted_recall_low"),
            "predicted_high": report.get("predicted_recall_high"),
            "predicted_mrr_recovery": report.get("predicted_mrr_recovery"),
            "prediction_basis": report.get("basis"),
            "drastic_drift_predicted": report.get("drastic_drift"),
            "fit_seconds": round(fit_seconds, 2),
            "transform_us_p50": round(timing["transform"], 2),
            "gemv_us_p50": round(timing["gemv"], 2),
        }
        return row, adapter

    rows_out: list[dict[str, Any]] = []
    for kind in chosen_kinds:
        rows_out.append(measure(kind)[0])
        progress(f"      {kind}: recovery {rows_out[-1]['recovery']:.3f}, "
                 f"predicted {rows_out[-1]['predicted_recovery']:.3f}")
    auto_row, auto_adapter = measure("auto", candidates=chosen_kinds)
    return {
        "corpus": data.corpus,
        "pair": data.pair,
        "old_model": data.old_model,
        "new_model": data.new_model,
        "train_pairs": int(len(rows)),
        "seed": seed,
        "protocol": "disjoint",
        "logged_queries": int(len(split.logged)),
        "test_queries": int(len(split.test)),
        "old_baseline": old_baseline,
        "full_reembed": full,
        "no_adapter": no_adapter,
        "adapters": rows_out,
        "auto": {
            "chosen": auto_adapter.info["auto"]["chosen"],
            **{key: auto_row[key] for key in (
                "recovery", "predicted_recovery", "predicted_low", "predicted_high",
                "prediction_basis", "drastic_drift_predicted", "recall_at_10", "mrr_at_10",
                "fit_seconds", "transform_us_p50", "gemv_us_p50")},
            # what auto measured when it chose: each kind's cost, the ones over budget
            "max_transform_us": auto_adapter.info.get("max_transform_us"),
            "considered_us": auto_adapter.info["auto"].get("transform_us"),
            "passed_over": auto_adapter.info["auto"].get("passed_over"),
        },
    }


def run_adapter_bench_series(
    data_dir: str, pair: str, *, logged_queries: Sequence[int] = (0,), **options: Any
) -> dict[str, Any]:
    """One run per number of logged queries, the data loaded once. The result is the first
    run's (today's schema); with several numbers ``runs`` holds every run, same schema."""
    data = load_pair(data_dir, pair)
    runs = [run_on_pair(data, logged_queries=n, **options) for n in logged_queries]
    if len(runs) == 1:
        return runs[0]
    return {**runs[0], "runs": runs}
