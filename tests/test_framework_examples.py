"""LangChain and LlamaIndex, unchanged, on a wrapped client mid-migration: every document the
framework writes is found by wrapped readers and by the unwrapped legacy app, in every plan,
after a rollback, sync and async (needs the `frameworks` extra, part of `test`)."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("example,framework", [("langchain_app", "langchain_qdrant"),
                                               ("llamaindex_app", "llama_index")])
def test_a_framework_app_loses_nothing_through_a_whole_migration(example, framework):
    if importlib.util.find_spec(framework) is None:
        pytest.skip(f"needs the frameworks extra: pip install -e '.[frameworks]' ({framework})")
    run = subprocess.run([sys.executable, f"{example}.py"], cwd=EXAMPLES, capture_output=True,
                         text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(EXAMPLES.parent)})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert lines[-1] == "done"
    for step in ("adapted", "hybrid", "rolled back", "native", "finished"):
        row = ast.literal_eval(next(line for line in lines
                                    if line.startswith(step + " {"))[len(step) + 1:])
        missed = {k: v for k, v in row.items() if "missed" in k and v is not None}
        assert missed and set(missed.values()) == {0}, (step, row)
