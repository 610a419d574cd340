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
