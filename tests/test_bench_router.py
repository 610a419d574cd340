"""The router benchmark on a tiny synthetic corpus (embedded Qdrant, a few coverage steps)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from qdrant_drift_bench.paired import paired_change
from qdrant_drift_bench.router import run_router_bench, uncalibrated, zipf_weights

from .synthetic import write_bench_corpus

STEPS = 4


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    root = write_bench_corpus(tmp_path_factory.mktemp("bench") / "c", n_docs=600,
                              n_queries=60, dim=16)
    return run_router_bench(str(root), "rot", train_pairs=400, kind="procrustes",
                            n_queries=40, coverage_steps=STEPS)


def test_schema_and_lengths(result):
    json.dumps(result)  # JSON-ready
    assert result["corpus"] == "synthetic" and result["pair"] == "rot"
    assert result["coverage"] == pytest.approx(np.linspace(0, 1, STEPS).tolist())
    assert isinstance(result["full_reembed"], float)
    assert set(result["random"]) == {"adapted_only", "native_only", "routed",
                                     "routed_uncalibrated"}
    for values in (*result["random"].values(), *result["random_mrr"].values(),
                   result["hot_first"]["routed"], result["hot_first_mrr"]["routed"]):
        assert len(values) == STEPS
        assert all(0.0 <= v <= 1.0 for v in values)
    assert result["queries_used"] == 40
    assert result["chosen_kind"] == "procrustes"
    assert result["random_plans"][0] == "adapted" and result["random_plans"][-1] == "hybrid"


def test_routed_matches_full_reembed_at_full_coverage(result):
    assert result["random"]["routed"][-1] == pytest.approx(result["full_reembed"])
    assert result["routed_mismatches_vs_full_at_100"] == 0
    assert result["routed_after_cutover"] == pytest.approx(result["full_reembed"])
    assert result["hot_first"]["routed"][-1] == pytest.approx(result["full_reembed_weighted"])


def test_routed_is_never_worse_than_native_only(result):
    rnd = result["random"]
    assert all(r >= n for r, n in zip(rnd["routed"], rnd["native_only"]))
    assert rnd["native_only"][0] == 0.0
    # at coverage 0 routed search is the adapted search, over the same legacy vectors
    assert rnd["routed"][0] == pytest.approx(rnd["adapted_only"][0])


def test_the_exact_search_emulation_of_the_hybrid_plan_matches_the_client(result):
    """Every test query is routed by emulation (exact search through the client's own merge);
    on the queries that went through DriftClient it must give the very same ranks."""
    every = result["all_queries"]
    assert every["emulation_mismatches_on_routed_sample"] == [0] * STEPS
    assert len(every["random"]["emulated_routed"]) == STEPS
    assert every["random"]["emulated_routed"][0] == pytest.approx(every["adapted_only"])
    assert every["random"]["emulated_routed"][-1] == pytest.approx(every["full_reembed"])


def test_every_test_querys_hits_are_kept_for_a_paired_comparison(result):
    every = result["all_queries"]
    hits = every["random"]["emulated_hits"]
    assert len(hits) == STEPS and {len(h) for h in hits} == {every["n"]}
    assert [h.count("1") / len(h) for h in hits] == pytest.approx(
        every["random"]["emulated_routed"])
    assert len(result["query_set"]) == 16
    compared = paired_change(result, result)
    assert [(s["gained"], s["lost"], s["verdict"]) for s in compared] == [
        (0, 0, "no significant difference")] * STEPS


def test_the_over_fetch_loses_none_of_the_filtered_plans_answers(result):
    every = result["all_queries"]
    assert every["overfetch_lost_beyond_ties"] == [0] * STEPS
    assert result["targets"]["overfetch_loses_nothing"]
    assert len(every["overfetch_vs_filtered"]) == STEPS


def test_zipf_weights_and_identity_calibration(result):
    p = zipf_weights(50, 1.1, np.random.default_rng(0))
    assert p.sum() == pytest.approx(1.0)
    assert sorted(p, reverse=True)[0] / sorted(p, reverse=True)[1] == pytest.approx(2 ** 1.1)
    assert result["replayed_requests"] > 0


def test_uncalibrated_copy_keeps_the_map():
    from qdrant_drift import fit

    rng = np.random.default_rng(0)
    new = rng.normal(size=(300, 8)).astype(np.float32)
    adapter = fit("procrustes", new, new, new_model="n", old_model="o")
    assert not adapter.calibration.is_identity
    plain = uncalibrated(adapter)
    assert plain.calibration.is_identity and plain.old_calibration.is_identity
    np.testing.assert_allclose(plain.transform(new[:3]), adapter.transform(new[:3]))


def test_cli_prints_the_table_and_writes_json(tmp_path):
    from typer.testing import CliRunner

    from qdrant_drift.cli.app import app

    root = write_bench_corpus(tmp_path / "c", n_docs=400, n_queries=30, dim=16)
    out = tmp_path / "router.json"
    result = CliRunner().invoke(app, [
        "bench", "router", "--data", str(root), "--pair", "rot", "--train-pairs", "300",
        "--kind", "procrustes", "--queries", "20", "--steps", "3", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "hot-first" in result.output
    payload = json.loads(out.read_text())
    assert len(payload["random"]["routed"]) == 3

    # the same run again, compared with the first query by query: nothing gained or lost
    again = CliRunner().invoke(app, [
        "bench", "router", "--data", str(root), "--pair", "rot", "--train-pairs", "300",
        "--kind", "procrustes", "--queries", "20", "--steps", "3", "--baseline", str(out),
        "--json", str(tmp_path / "again.json")])
    assert again.exit_code == 0, again.output
    paired = json.loads((tmp_path / "again.json").read_text())["paired_vs_baseline"]
    assert paired["not_worse_at_any_step"]
    assert [s["verdict"] for s in paired["steps"]] == ["no significant difference"] * 3
    assert "sign test" in again.output

    # a baseline of other queries is found out after the run: the run's own JSON stands
    other = {**payload, "query_set": "0" * 16}
    (tmp_path / "other.json").write_text(json.dumps(other))
    refused = CliRunner().invoke(app, [
        "bench", "router", "--data", str(root), "--pair", "rot", "--train-pairs", "300",
        "--kind", "procrustes", "--queries", "20", "--steps", "3", "--baseline",
        str(tmp_path / "other.json"), "--json", str(tmp_path / "third.json")])
    assert refused.exit_code == 2 and "differ in query_set" in refused.output
    assert "paired_vs_baseline" not in json.loads((tmp_path / "third.json").read_text())


@pytest.mark.parametrize("baseline, said", [
    ({"corpus": "synthetic"}, "no per-query hits"),
    ({"pair": "rot", "seed": 1, "protocol": "disjoint", "coverage": [0.0, 0.5, 1.0],
      "all_queries": {"random": {"emulated_hits": ["1", "1", "1"]}}},
     "the runs differ in seed \\(1 in the baseline, 0 here\\)"),
    ({"pair": "rot", "seed": 0, "protocol": "disjoint", "coverage": [0.0, 1.0],
      "all_queries": {"random": {"emulated_hits": ["1", "1"]}}}, "the runs differ in coverage"),
])
def test_cli_refuses_a_baseline_it_cannot_pair_before_running(tmp_path, baseline, said):
    from typer.testing import CliRunner

    from qdrant_drift.cli.app import app

    (tmp_path / "old.json").write_text(json.dumps(baseline))
    result = CliRunner().invoke(app, [
        "bench", "router", "--data", str(tmp_path / "nowhere"), "--pair", "rot",
        "--steps", "3", "--baseline", str(tmp_path / "old.json")])
    assert result.exit_code == 2
    assert re.search(said, " ".join(result.output.split())), result.output
    assert "Traceback" not in result.output


def test_every_backfill_order_reaches_full_quality_at_full_coverage(result):
    orders = result["orders_weighted"]
    assert set(orders) == {"sweep", "mixed", "hot_first"}
    for series in orders.values():
        assert len(series) == len(result["coverage"])
        assert series[-1] == pytest.approx(result["full_reembed_weighted"])


def test_policy_order_follows_the_backfill_policies():
    import numpy as np

    from qdrant_drift.backfill.ordering import HotFirst, Mixed, Sweep
    from qdrant_drift_bench.router import policy_order

    hot, sweep = np.array([9, 8, 7, 6]), np.arange(10)
    assert list(policy_order(HotFirst(), hot, sweep, batch_size=2)) == [9, 8, 7, 6, 0, 1, 2, 3, 4, 5]
    assert list(policy_order(Sweep(), hot, sweep, batch_size=2)) == list(range(10))
    assert list(policy_order(Mixed(0.5), hot, sweep, batch_size=2)) == [9, 0, 8, 1, 7, 2, 6, 3, 4, 5]


def test_the_adapter_is_fitted_on_no_document_a_measured_query_looks_for(result):
    from qdrant_drift_bench.adapters import training_docs

    answers = np.array([3, 17, 17, 40])
    rows = training_docs(50, answers, 30, seed=0)
    assert len(rows) == 30 and not set(rows.tolist()) & {3, 17, 40}
    assert result["protocol"] == "disjoint"


def test_the_over_fetch_check_fails_when_the_over_fetch_reads_too_shallow(monkeypatch):
    """The benchmark's check of the over-fetch can fail: read too shallow at 90% coverage,
    the legacy side misses not-migrated points the filtered requests would have returned."""
    import numpy as np

    import qdrant_drift_bench.router as bench
    from qdrant_drift.adapters import fit
    from qdrant_drift.vectors import unit_rows

    rng = np.random.default_rng(0)
    old = unit_rows(rng.normal(size=(800, 16)))
    new = unit_rows(old @ np.linalg.qr(rng.normal(size=(16, 16)))[0]
                    + 0.3 * rng.normal(size=(800, 16)))
    relevant = rng.choice(800, 200, replace=False)
    queries = unit_rows(new[relevant] + 0.3 * rng.normal(size=(200, 16)))
    adapter = fit("procrustes", new[:400], old[:400])
    adapted = adapter.transform(queries)
    migrated = rng.permutation(800)[:720]  # 90%
    args = (adapted, queries, old, new, relevant, migrated, adapter.calibration)
    filtered = bench.emulated_routed(*args, filtered=True)

    class Reads:
        def __init__(self, depth):
            self.depth = depth

        def __call__(self):
            return self

        def limit(self, wanted, coverage):
            return self.depth

    monkeypatch.setattr(bench, "OverFetch", Reads(800))
    deep = bench.emulated_routed(*args)
    assert (deep.ranks == filtered.ranks).all()
    assert bench.lost_beyond_ties(filtered, deep) == 0
    monkeypatch.setattr(bench, "OverFetch", Reads(10))
    assert bench.lost_beyond_ties(filtered, bench.emulated_routed(*args)) > 0


def test_a_tie_is_not_a_loss():
    import numpy as np

    from qdrant_drift_bench.router import Emulated, lost_beyond_ties

    scores = np.array([[0.9, 0.5, 0.5], [0.9, 0.8, 0.7]])
    before = Emulated(np.array([3, 2]), scores)
    # query 0: its answer dropped for another item of the same score; query 1: a real loss
    after = Emulated(np.array([0, 0]), np.array([[0.9, 0.5, 0.5], [0.9, 0.8, 0.6]]))
    assert lost_beyond_ties(before, after) == 1
