"""LangChain's (and, given its sources, LlamaIndex's) own vector-store test suites pass through
the wrapper exactly as they pass with the plain client, a migration running on every
collection they create: adapted, then hybrid (see tests/framework_suites/drift_suite_plugin.py).

Each suite runs three times in a subprocess (plain, adapted, hybrid) and the outcome of every
test must be the same, Euclid and Manhattan collections included.
About 2.5 minutes for LangChain's suite (three runs), so it runs only with
``DRIFT_FRAMEWORK_SUITES=1``.
LlamaIndex's tests are not in its sdist: ``DRIFT_SUITE_LLAMAINDEX_TESTS`` names a folder
holding them (its ``tests/``, from the run-llama/llama_index repository at the release that
is installed); they need pytest-asyncio.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "tests" / "framework_suites"
SUITES = {
    "langchain": ("langchain_qdrant", ROOT / "tests" / "third_party" / "langchain_qdrant"),
    "llamaindex": ("llama_index.vector_stores.qdrant",
                   Path(os.environ.get("DRIFT_SUITE_LLAMAINDEX_TESTS", "/nonexistent"))),
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("DRIFT_FRAMEWORK_SUITES") != "1",
                       reason="about 2.5 minutes: set DRIFT_FRAMEWORK_SUITES=1 to run"),
]


def run_suite(suite: str, mode: str, report: Path) -> dict[str, dict]:
    """One run of a framework's suite; each test's outcome and what went through the wrapper."""
    framework, folder = SUITES[suite]
    if importlib.util.find_spec(framework.split(".")[0]) is None:
        pytest.skip(f"needs the frameworks extra ({framework})")
    if not folder.is_dir():
        pytest.skip(f"no {suite} test sources at {folder} (DRIFT_SUITE_LLAMAINDEX_TESTS)")
    env = {**os.environ, "DRIFT_SUITE_MODE": mode, "DRIFT_SUITE_REPORT": str(report),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(PLUGIN_DIR),
                                          os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "drift_suite_plugin",
                          "-p", "no:cacheprovider", "-o", "console_output_style=classic"],
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


@pytest.mark.parametrize("suite", sorted(SUITES))
@pytest.mark.parametrize("mode", ["adapted", "hybrid"])
def test_a_framework_suite_passes_through_the_wrapper_as_it_passes_plain(
        suite, mode, plain, tmp_path):
    baseline = plain(suite)
    wrapped = run_suite(suite, mode, tmp_path / f"{mode}.json")
    assert differences(baseline, wrapped) == []
    # and the wrapper was really on the path: passing tests routed their reads by the plan
    routed = [t for t, row in wrapped.items() if row["outcome"] == "passed"
              and any(key.startswith(f"{mode}:") for key in row["routed"])]
    other_plans = [t for t, row in wrapped.items()
                   if any(key.split(":")[0] not in (mode, "mirrored") for key in row["routed"])]
    assert len(routed) >= 0.2 * sum(row["outcome"] == "passed" for row in baseline.values())
    assert other_plans == []
