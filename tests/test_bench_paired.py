"""Two router runs compared query by query (qdrant_drift_bench/paired.py)."""

from __future__ import annotations

import json

import pytest

from qdrant_drift_bench.paired import (
    load_baseline,
    not_worse_at_any_step,
    paired_change,
    sign_test_p,
    verdict,
)


def _run(*hits: str, **overrides) -> dict:
    run = {"corpus": "c", "pair": "p", "seed": 0, "protocol": "disjoint", "train_pairs": 100,
           "coverage": [i / max(len(hits) - 1, 1) for i in range(len(hits))],
           "all_queries": {"random": {"emulated_hits": list(hits)}}}
    return {**run, **overrides}


@pytest.mark.parametrize("gained, lost, p", [
    (0, 0, 1.0),             # nothing differs
    (1, 1, 1.0),             # an even split
    (13, 14, 1.0),           # one query apart of 27 that differ
    (0, 10, 2 / 2 ** 10),    # every differing query lost
    (10, 0, 2 / 2 ** 10),
    (2, 8, 0.109375),        # 2 * (1 + 10 + 45) / 1024
])
def test_the_sign_test_is_exact_and_two_sided(gained, lost, p):
    assert sign_test_p(gained, lost) == pytest.approx(p)


@pytest.mark.parametrize("gained, lost, expected", [
    (0, 0, "unchanged"),
    (13, 14, "unchanged"),   # one query lower is not worse
    (2, 8, "unchanged"),     # p = 0.11
    (1, 9, "worse"),         # p = 0.021
    (9, 1, "better"),
    (113, 74, "better"),
])
def test_a_verdict_needs_a_significant_split(gained, lost, expected):
    assert verdict(gained, lost) == expected


def test_steps_count_the_queries_each_run_alone_answers():
    baseline = _run("1100", "1110")
    run = _run("1010", "1111")
    steps = paired_change(baseline, run)
    assert [(s["gained"], s["lost"]) for s in steps] == [(1, 1), (1, 0)]
    assert [s["baseline"] for s in steps] == [0.5, 0.75]
    assert [s["recall"] for s in steps] == [0.5, 1.0]
    assert [s["verdict"] for s in steps] == ["unchanged", "unchanged"]
    assert not_worse_at_any_step(steps)


def test_a_significant_loss_at_one_step_is_worse():
    steps = paired_change(_run("1" * 12, "1"), _run("1" * 2 + "0" * 10, "1"))
    assert steps[0]["verdict"] == "worse" and not not_worse_at_any_step(steps)


@pytest.mark.parametrize("key, value", [("pair", "q"), ("seed", 1), ("coverage", [0.0, 0.5])])
def test_runs_that_route_other_queries_are_refused(key, value):
    with pytest.raises(ValueError, match=f"differ in {key}"):
        paired_change(_run("10", "11"), _run("10", "11", **{key: value}))


def test_runs_of_other_sizes_are_refused():
    with pytest.raises(ValueError, match="different numbers of queries"):
        paired_change(_run("10", "11"), _run("100", "110"))


def test_a_baseline_is_checked_before_a_run_starts(tmp_path):
    with pytest.raises(ValueError, match="cannot read the baseline"):
        load_baseline(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="is not JSON"):
        load_baseline(tmp_path / "bad.json")
    (tmp_path / "old.json").write_text(json.dumps({"corpus": "c", "all_queries": {}}))
    with pytest.raises(ValueError, match="no per-query hits"):
        load_baseline(tmp_path / "old.json")
    (tmp_path / "good.json").write_text(json.dumps(_run("10")))
    assert load_baseline(tmp_path / "good.json")["pair"] == "p"
