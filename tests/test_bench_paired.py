"""Two router runs compared query by query (qdrant_drift_bench/paired.py)."""

from __future__ import annotations

import json

import pytest

from qdrant_drift_bench.paired import (
    change_interval,
    load_baseline,
    not_worse_at_any_step,
    paired_change,
    sign_test_p,
    verdict,
)


def _run(*hits: str, **overrides) -> dict:
    run = {"corpus": "c", "pair": "p", "seed": 0, "protocol": "disjoint", "train_pairs": 100,
           "query_set": "q", "coverage": [i / max(len(hits) - 1, 1) for i in range(len(hits))],
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


def test_the_sign_test_holds_for_thousands_of_differing_queries():
    assert sign_test_p(600, 500) == pytest.approx(0.00283, rel=0.05)
    assert sign_test_p(2000, 0) == pytest.approx(0.0, abs=1e-300)


@pytest.mark.parametrize("gained, lost, expected", [
    (0, 0, "no significant difference"),
    (13, 14, "no significant difference"),   # one query lower is not worse
    (2, 8, "no significant difference"),     # p = 0.11
    (1, 9, "worse"),                         # p = 0.021
    (9, 1, "better"),
    (113, 74, "better"),
])
def test_a_verdict_needs_a_significant_split(gained, lost, expected):
    assert verdict(gained, lost) == expected


def test_the_interval_of_the_change_spans_what_the_split_cannot_rule_out():
    low, high = change_interval(13, 14, 2000)
    assert low < -1 / 2000 < high and low > -0.01 and high < 0.01
    low, high = change_interval(113, 74, 2000)
    assert 0 < low < (113 - 74) / 2000 < high
    assert change_interval(0, 0, 2000) == (0.0, 0.0)
    assert change_interval(0, 0, 0) == (0.0, 0.0)


def test_steps_count_the_queries_each_run_alone_answers():
    baseline = _run("1100", "1110")
    run = _run("1010", "1111")
    steps = paired_change(baseline, run)
    assert [(s["gained"], s["lost"]) for s in steps] == [(1, 1), (1, 0)]
    assert [s["baseline"] for s in steps] == [0.5, 0.75]
    assert [s["recall"] for s in steps] == [0.5, 1.0]
    assert [s["verdict"] for s in steps] == ["no significant difference"] * 2
    assert steps[0]["change_low"] < 0 < steps[0]["change_high"]
    assert not_worse_at_any_step(steps)


def test_a_significant_loss_at_one_step_is_worse():
    steps = paired_change(_run("1" * 12, "1"), _run("1" * 2 + "0" * 10, "1"))
    assert steps[0]["verdict"] == "worse" and not not_worse_at_any_step(steps)
    assert steps[0]["change_high"] < 0


def test_runs_of_no_queries_compare_as_nothing_changed():
    steps = paired_change(_run("", ""), _run("", ""))
    assert [(s["recall"], s["gained"], s["lost"]) for s in steps] == [(0.0, 0, 0)] * 2


@pytest.mark.parametrize("key, value", [("pair", "q"), ("seed", 1), ("coverage", [0.0, 0.5]),
                                        ("query_set", "other")])
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
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="is not JSON"):
        load_baseline(tmp_path / "binary.json")
    (tmp_path / "old.json").write_text(json.dumps({"corpus": "c", "all_queries": {
        "random": None}}))
    with pytest.raises(ValueError, match="no per-query hits"):
        load_baseline(tmp_path / "old.json")
    (tmp_path / "short.json").write_text(json.dumps(_run("10", coverage=[0.0, 1.0])))
    with pytest.raises(ValueError, match="1 steps of hits for 2 coverage steps"):
        load_baseline(tmp_path / "short.json")
    (tmp_path / "good.json").write_text(json.dumps(_run("10", "11")))
    with pytest.raises(ValueError, match="differ in seed"):
        load_baseline(tmp_path / "good.json", {"pair": "p", "seed": 3})
    assert load_baseline(tmp_path / "good.json", {"pair": "p", "seed": 0})["pair"] == "p"
