"""``qdrant-drift bench adapters``: adapter quality and speed on a real drift pair.

Exact search (faiss) over the whole corpus: the old model's own baseline, a full re-embed,
and every adapter kind applied to new-model queries searching the OLD document vectors.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from qdrant_drift.adapters import KINDS, fit
from .evaluation import retrieval_quality
from .data import load_pair
from .timing import gemv_floor, interleaved_p50_us


def default_kinds() -> list[str]:
    return [kind for kind in KINDS if kind != "auto"]


def run_adapter_bench(
    data_dir: str,
    pair: str,
    *,
    train_pairs: int = 5000,
    kinds: Sequence[str] | None = None,
    seed: int = 0,
    timing_rounds: int = 3000,
    log: Callable[[str], None] = lambda _: None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Run the benchmark and return the JSON-ready result (schema in benchmarks/README.md).

    ``progress`` hears one line per step (each kind fitted); ``log`` every fitting detail.
    """
    data = load_pair(data_dir, pair)
    n_docs = len(data.old_docs)
    rng = np.random.default_rng(seed)
    rows = rng.choice(n_docs, size=min(train_pairs, n_docs), replace=False)
    queries, rel = data.new_queries, data.relevant[: len(data.new_queries)]

    old_baseline = retrieval_quality(data.old_queries, data.old_docs, rel)
    full = retrieval_quality(queries, data.new_docs, rel)
    no_adapter = retrieval_quality(queries, data.old_docs, rel) if (
        queries.shape[1] == data.old_docs.shape[1]
    ) else None
    full_r = full["recall_at_10"]

    chosen_kinds = list(kinds or default_kinds())
    steps = len(chosen_kinds) + 1

    def measure(kind: str, **options: Any) -> tuple[dict[str, Any], Any]:
        step = len(rows_out) + 1
        progress(f"[{step}/{steps}] fitting {kind} on {len(rows)} pairs")
        started = time.perf_counter()
        adapter = fit(
            kind, data.new_docs[rows], data.old_docs[rows],
            new_model=data.new_model, old_model=data.old_model, seed=seed, log=log,
            **options,
        )
        fit_seconds = time.perf_counter() - started
        quality = retrieval_quality(adapter.transform(queries), data.old_docs, rel)
        report = adapter.quality or {}
        x = np.ascontiguousarray(queries[0])
        timing = interleaved_p50_us(
            {"transform": lambda: adapter.transform(x),
             "gemv": gemv_floor(adapter.map.weight_matrices(), x)},
            rounds=timing_rounds,
        )
        row = {
            "kind": kind,
            **quality,
            "recovery": quality["recall_at_10"] / full_r if full_r else 0.0,
            "mrr_recovery": quality["mrr_at_10"] / full["mrr_at_10"] if full["mrr_at_10"] else 0.0,
            "predicted_recovery": report.get("predicted_recall_recovery"),
            "predicted_mrr_recovery": report.get("predicted_mrr_recovery"),
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
        "pair": pair,
        "old_model": data.old_model,
        "new_model": data.new_model,
        "train_pairs": int(len(rows)),
        "seed": seed,
        "old_baseline": old_baseline,
        "full_reembed": full,
        "no_adapter": no_adapter,
        "adapters": rows_out,
        "auto": {
            "chosen": auto_adapter.info["auto"]["chosen"],
            "recovery": auto_row["recovery"],
            "predicted_recovery": auto_row["predicted_recovery"],
            "recall_at_10": auto_row["recall_at_10"],
            "mrr_at_10": auto_row["mrr_at_10"],
            "fit_seconds": auto_row["fit_seconds"],
        },
    }
