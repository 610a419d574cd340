"""`bench standins`: what a label-free pre-flight can see of the measured recovery."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from qdrant_drift.cli.app import app
from qdrant_drift_bench.standins import recovery_decomposition

from .synthetic import write_bench_corpus

runner = CliRunner()


def test_recovery_splits_into_what_the_new_model_finds_and_what_it_misses():
    # ten queries: the new model finds 8 answers; the adapter finds 6 of those and 1 of the
    # 2 the new model misses
    native = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], dtype=bool)
    adapted = np.array([1, 1, 1, 1, 1, 1, 0, 0, 1, 0], dtype=bool)
    parts = recovery_decomposition(adapted, native)
    assert parts["native_recall_at_10"] == pytest.approx(0.8)
    assert parts["recovery"] == pytest.approx(0.7 / 0.8)
    assert parts["found_where_native_finds"] == pytest.approx(6 / 8)
    assert parts["found_where_native_misses"] == pytest.approx(1 / 2)
    assert parts["invisible_to_stand_ins"] == pytest.approx(0.5 * 0.2 / 0.8)
    assert (parts["found_where_native_finds"] + parts["invisible_to_stand_ins"]
            == pytest.approx(parts["recovery"]))


def test_recovery_is_undefined_when_the_new_model_finds_nothing():
    with pytest.raises(ValueError, match="finds no answer"):
        recovery_decomposition(np.ones(3, bool), np.zeros(3, bool))


def test_bench_standins_reports_each_stand_in_against_the_measured_recovery(tmp_path):
    corpus = write_bench_corpus(tmp_path / "corpus")
    out = tmp_path / "result.json"
    result = runner.invoke(app, [
        "bench", "standins", "--data", str(corpus), "--pair", "rot", "--kind", "procrustes",
        "--train-pairs", "600", "--logged-queries", "50", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "measured recovery" in result.output and "the whole corpus" in result.output
    payload = json.loads(out.read_text())
    assert payload["protocol"] == "disjoint" and payload["chosen"] == "procrustes"
    assert (payload["logged_queries"], payload["test_queries"]) == (50, 75)
    measured = payload["measured"]
    assert measured["found_where_native_finds"] + measured["invisible_to_stand_ins"] == (
        pytest.approx(measured["recovery"]))
    assert set(payload["stand_in"]) == {"preflight", "fit_sample", "corpus",
                                        "corpus_on_test_queries"}
    for name, value in payload["stand_in"].items():
        assert 0.0 <= value <= 1.0
        assert payload["stand_in_error"][name] == pytest.approx(value - measured["recovery"])
    labelled = payload["labelled"]
    assert labelled["queries"] == 50 and labelled["draws"] > 0
    assert labelled["error_low"] <= labelled["error_high"]
    assert 0.0 <= labelled["within_tolerance"] <= 1.0
    assert "an unbiased estimate from 50 queries WITH their real answers" in result.output


def test_bench_standins_without_logged_queries_has_no_logged_stand_ins(tmp_path):
    corpus = write_bench_corpus(tmp_path / "corpus", n_docs=600, n_queries=60)
    out = tmp_path / "result.json"
    result = runner.invoke(app, [
        "bench", "standins", "--data", str(corpus), "--pair", "rot", "--kind", "procrustes",
        "--train-pairs", "300", "--logged-queries", "0", "--json", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["stand_in"]["fit_sample"] is None and payload["stand_in"]["corpus"] is None
    assert payload["stand_in"]["preflight"] is not None
    assert payload["labelled"] is None
