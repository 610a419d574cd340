"""The latency benchmark runs every plan through a real DriftClient and reports its keys."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from qdrant_drift.cli.app import app


def test_bench_latency_reports_every_plan(tmp_path):
    out = tmp_path / "latency.json"
    result = CliRunner().invoke(app, ["bench", "latency", "--points", "300", "--dim", "16",
                                      "--queries", "20", "--json", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert {"plain_ms_p50", "adapted_ms_p50", "hybrid_ms_p50", "wrapper_us_p50"} <= set(payload)
    assert set(payload["plans"]) == {"adapted", "hybrid", "native"}
    assert all(row["wrapper_us_p50"] > 0 for row in payload["plans"].values())


def test_bench_latency_takes_several_collection_sizes_side_by_side(tmp_path):
    out = tmp_path / "latency.json"
    result = CliRunner().invoke(app, ["bench", "latency", "--points", "300,500", "--dim", "16",
                                      "--queries", "10", "--json", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["points"] == 300  # the first size's figures stay at the top level
    assert set(payload["by_points"]) == {"300", "500"}
    for size, run in payload["by_points"].items():
        assert run["points"] == int(size)
        for row in run["plans"].values():
            assert {"plain_ms_p50", "wrapped_ms_p50", "ratio", "wrapper_us_p50"} <= set(row)
            assert row["ratio"] == row["wrapped_ms_p50"] / row["plain_ms_p50"]


def test_bench_latency_refuses_a_size_that_is_not_a_count():
    result = CliRunner().invoke(app, ["bench", "latency", "--points", "5000,lots"])
    assert result.exit_code != 0
    assert "--points takes comma-separated counts" in result.output
