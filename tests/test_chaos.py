"""The reliability scenarios, small: kills, races, faults, load through phases, bad input.
Nothing is lost, clobbered or resurrected; serving never fails because of the wrapper."""

from __future__ import annotations

from pathlib import Path

import pytest

from qdrant_drift_bench.chaos import run_chaos_bench

DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "debian"


@pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/bench/debian")
def test_chaos_loses_nothing_and_every_bad_input_fails_clearly():
    result = run_chaos_bench(DATA, docs=600, kills=2, operations=200, threads=2,
                             log=lambda _: None)
    assert result["kills"] == 2 and result["batches_redone"] <= 2
    assert (result["lost"], result["stale"]) == (0, 0)
    assert (result["clobbered"], result["resurrected"]) == (0, 0)
    assert result["faults_injected"] > 0 and result["query_errors_from_wrapper"] == 0
    assert result["query_errors"] == 0 and result["wrong_size_results"] == 0
    assert result["degraded_plan_after_state_loss"] == "adapted"
    assert result["degraded_queries_counted"] > 0  # and the metric counted them
    assert result["bad_inputs_clear_error"] == result["bad_inputs_tried"] >= 10
    assert result["bad_inputs_nothing_written"] == result["bad_inputs_tried"]
