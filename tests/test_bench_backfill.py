"""``bench backfill``: the worker, a raw loop and a bare loop with the worker's own writes,
side by side, with where the worker's time went."""

from __future__ import annotations

import numpy as np

from qdrant_drift_bench.backfill import fast_embedder, run_backfill_bench


def test_the_fast_embedder_is_deterministic_unit_rows():
    rows = fast_embedder(["a", "bb", "a"])
    assert rows.shape == (3, 64) and np.allclose(np.linalg.norm(rows, axis=1), 1.0)
    assert np.array_equal(rows[0], rows[2]) and not np.array_equal(rows[0], rows[1])


def test_the_bench_reports_every_side_and_the_workers_breakdown():
    texts = [f"item {i} " + "word " * (i % 5) for i in range(150)]
    old = np.random.default_rng(0).normal(size=(150, 8)).astype(np.float32)
    result = run_backfill_bench(texts, old, fast_embedder, batch_size=32, rounds=1,
                                log=lambda _: None)
    for key in ("items", "raw_items_per_s", "bare_items_per_s", "worker_items_per_s",
                "ratio", "worker_vs_bare"):
        assert result[key] > 0, key
    breakdown = result["worker_breakdown"]
    assert breakdown["qdrant_update_vectors_s"] > 0 and breakdown["outside_qdrant_s"] >= 0
    inside = sum(v for k, v in breakdown.items() if k.startswith("qdrant_"))
    assert inside + breakdown["outside_qdrant_s"] <= breakdown["wall_s"] + 1e-3
