"""LangChain's (and, given its sources, LlamaIndex's) own vector-store test suites pass through
the wrapper exactly as they pass with the plain client, a migration running on every
collection they create (see tests/framework_suites/drift_suite_plugin.py).

Each suite runs in a subprocess per mode (plain, hybrid, adapted) and the outcome of every
test must be the same, Euclid and Manhattan collections included.

By default LangChain's suite runs plain and hybrid (about 25 s each on an idle machine: the
hybrid plan exercises the adapter, the merge and the mirrored writes at once); adapted, and
LlamaIndex's suite, run only with ``DRIFT_FRAMEWORK_SUITES=1``. LlamaIndex's tests are not in
its sdist: ``DRIFT_SUITE_LLAMAINDEX_TESTS`` names a folder holding them (its ``tests/``, from
the run-llama/llama_index repository); they need pytest-asyncio.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "tests" / "framework_suites"
OPTED_IN = os.environ.get("DRIFT_FRAMEWORK_SUITES") == "1"


class Suite(NamedTuple):
    framework: str
    folder: Path
    # the share of the suite's passing tests whose reads must go through the plan: LangChain
    # searches in most tests; LlamaIndex's reads are mostly scroll/retrieve (passthrough)
    # and its one query test that needs no fastembed is one in eighteen
    routed_share: float
    by_default: bool


SUITES = {
    "langchain": Suite("langchain_qdrant", ROOT / "tests" / "third_party" / "langchain_qdrant",
                       0.2, True),
    "llamaindex": Suite("llama_index.vector_stores.qdrant",
                        Path(os.environ.get("DRIFT_SUITE_LLAMAINDEX_TESTS", "/nonexistent")),
                        0.05, False),
}

pytestmark = pytest.mark.slow


def run_suite(suite: str, mode: str, report: Path) -> dict[str, dict]:
    """One run of a framework's suite; each test's outcome and what went through the wrapper."""
    framework, folder = SUITES[suite].framework, SUITES[suite].folder
    if importlib.util.find_spec(framework.split(".")[0]) is None:
        pytest.skip(f"needs the frameworks extra ({framework})")
    if not folder.is_dir():
        pytest.skip(f"no {suite} test sources at {folder} (DRIFT_SUITE_LLAMAINDEX_TESTS)")
    env = {**os.environ, "DRIFT_SUITE_MODE": mode, "DRIFT_SUITE_REPORT": str(report),
           "DRIFT_SUITE_FRAMEWORK": framework,
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(PLUGIN_DIR),
                                          os.environ.get("PYTHONPATH", "")])}
    # --tb=line: rendering full tracebacks of the suite's failing tests doubled the run time
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "drift_suite_plugin",
                          "-p", "no:cacheprovider", "-o", "console_output_style=classic",
                          "--tb=line"],
                         cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(report.read_text())["tests"]


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> dict[str, dict[str, dict]]:
    cache: dict[str, dict[str, dict]] = {}

    def outcomes(suite: str) -> dict[str, dict]:
        if suite not in cache:
            cache[suite] = run_suite(suite, "plain",
                                     tmp_path_factory.mktemp(suite) / "plain.json")
        return cache[suite]
    return outcomes


def differences(plain: dict[str, dict], wrapped: dict[str, dict]) -> list[str]:
    """Every test whose outcome changed."""
    out = []
    for test in sorted(set(plain) | set(wrapped)):
        before = plain.get(test, {}).get("outcome")
        after = wrapped.get(test, {})
        if before != after.get("outcome"):
            out.append(f"{test}: {before} plain, {after.get('outcome')} wrapped "
                       f"({after.get('why', '')})")
    return out


def _modes() -> list:
    adapted = pytest.mark.skipif(not OPTED_IN, reason="set DRIFT_FRAMEWORK_SUITES=1 to run "
                                 "the adapted mode too (hybrid covers the adapter by default)")
    return ["hybrid", pytest.param("adapted", marks=adapted)]


def _suites() -> list:
    opt_in = pytest.mark.skipif(not OPTED_IN, reason="set DRIFT_FRAMEWORK_SUITES=1 (and "
                                "DRIFT_SUITE_LLAMAINDEX_TESTS) to run it")
    return [name if suite.by_default else pytest.param(name, marks=opt_in)
            for name, suite in sorted(SUITES.items())]


@pytest.mark.parametrize("suite", _suites())
@pytest.mark.parametrize("mode", _modes())
def test_a_framework_suite_passes_through_the_wrapper_as_it_passes_plain(
        suite, mode, plain, tmp_path):
    baseline = plain(suite)
    wrapped = run_suite(suite, mode, tmp_path / f"{mode}.json")
    assert differences(baseline, wrapped) == []
    # and the wrapper was really on the path: passing tests routed their reads by the plan
    routed = [t for t, row in wrapped.items() if row["outcome"] == "passed"
              and any(key.startswith(f"{mode}:") for key in row["routed"])]
    other_plans = [t for t, row in wrapped.items()
                   if any(key.split(":")[0] not in (mode, "mirrored", "passthrough", "refused")
                          for key in row["routed"])]
    passed = sum(row["outcome"] == "passed" for row in baseline.values())
    assert len(routed) >= SUITES[suite].routed_share * passed
    assert other_plans == []
