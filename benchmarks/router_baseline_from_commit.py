"""A `bench router --baseline` file for the adapter of an earlier commit, served by the plan
before issue 17 (two filtered requests on the legacy side).

Issue 17 asks that routed recall at every coverage step be unchanged or better than before
its changes (commit 71c91e2: the exact neighbour lookup, no transform budget, the filtered
plan). That code writes no per-query hits, so this script rebuilds them: it fits `auto` with
the earlier commit's own adapter code (a git worktree, run in a subprocess) on the very pairs
`bench router` fits on (the disjoint protocol, same seed), then routes every test query by
exact search through the filtered plan at the coverage steps and in the order `bench router`
uses, and writes what `bench router --baseline` pairs with:

    .venv/bin/python benchmarks/router_baseline_from_commit.py --data ../shared/bench/debian \\
        --pair depth --commit 71c91e2 --out benchmarks/results/router-debian-depth-71c91e2.json
    .venv/bin/qdrant-drift bench router --data ../shared/bench/debian --pair depth \\
        --queries 60 --baseline benchmarks/results/router-debian-depth-71c91e2.json

The earlier commit must offer `qdrant_drift.adapters.fit(kind, new, old, new_model=,
old_model=, seed=)`, `Adapter.transform` and `Adapter.calibration.to_dict()` (71c91e2 does).
Only the adapter code and the plan are the commit's: the fit sample (today's disjoint
protocol, which that commit's own benchmark did not have), the test queries, the backfill
order and the merge are today's, so its figures are not the ones that commit measured.
The adapted queries are kept as the old code returns them (float64 where it did), as
`bench router` keeps today's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from qdrant_drift.adapters.calibration import Calibration
from qdrant_drift_bench.data import load_pair
from qdrant_drift_bench.router import (
    PROTOCOL,
    TestSetting,
    coverage_points,
    emulated_routed_ranks,
    hit_string,
    sweep_order,
)

REPO = Path(__file__).resolve().parents[1]

FIT_AT_COMMIT = """
import json, sys
from pathlib import Path
import numpy as np
import qdrant_drift
from qdrant_drift.adapters import fit
tree = Path(sys.argv[4]).resolve()
if tree not in Path(qdrant_drift.__file__).resolve().parents:
    sys.exit(f"imported {qdrant_drift.__file__}, not the code at the commit in {tree}")
given = np.load(sys.argv[1])
adapter = fit("auto", given["new"], given["old"], new_model=str(given["new_model"]),
              old_model=str(given["old_model"]), seed=int(given["seed"]))
np.save(sys.argv[2], adapter.transform(given["queries"]))
json.dump({"calibration": adapter.calibration.to_dict(),
           "chosen": (adapter.info.get("auto") or {}).get("chosen", adapter.kind)},
          open(sys.argv[3], "w"))
"""


def fit_at_commit(commit: str, given: Path, work: Path) -> tuple[np.ndarray, dict]:
    """``auto`` fitted by the adapter code of ``commit`` (a worktree of this repository, in a
    subprocess run away from this tree so that its imports are the commit's)."""
    tree = work / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), commit],
                   check=True, cwd=REPO)
    try:
        subprocess.run([sys.executable, "-c", FIT_AT_COMMIT, str(given), str(work / "q.npy"),
                        str(work / "fit.json"), str(tree)], check=True, cwd=work,
                       env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin",
                            "OPENBLAS_NUM_THREADS": "1"})
    finally:
        removed = subprocess.run(["git", "worktree", "remove", "--force", str(tree)],
                                 cwd=REPO, capture_output=True, text=True)
        if removed.returncode:
            print(f"warning: the worktree {tree} was not removed ({removed.stderr.strip()}): "
                  "`git worktree prune` clears it", file=sys.stderr)
    return np.load(work / "q.npy"), json.loads((work / "fit.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--pair", required=True)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-pairs", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=11)
    args = parser.parse_args()

    data = load_pair(args.data, args.pair)
    setting = TestSetting.of(data, seed=args.seed, train_pairs=args.train_pairs)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        np.savez(work / "given.npz", new=data.new_docs[setting.rows],
                 old=data.old_docs[setting.rows], queries=setting.queries,
                 new_model=data.new_model, old_model=data.old_model, seed=args.seed)
        adapted, fitted = fit_at_commit(args.commit, work / "given.npz", work)
    calibration = Calibration.from_dict(fitted["calibration"])
    n_docs = len(setting.old_docs)
    order = sweep_order(n_docs, args.seed)
    coverage = coverage_points(args.steps)
    hits = [hit_string(emulated_routed_ranks(
        adapted, setting.queries, setting.old_docs, setting.new_docs, setting.relevant,
        order[: int(round(c * n_docs))], calibration, filtered=True)) for c in coverage]
    result = {
        "corpus": data.corpus, "pair": args.pair, "seed": args.seed, "coverage": coverage,
        "protocol": PROTOCOL, "train_pairs": int(len(setting.rows)),
        "query_set": setting.query_set, "commit": args.commit,
        "chosen_kind": fitted["chosen"], "plan": "filtered",
        "all_queries": {"n": int(len(setting.valid)), "random": {
            "emulated_routed": [h.count("1") / len(h) for h in hits],
            "emulated_hits": hits}},
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.pair} at {args.commit} (auto chose {fitted['chosen']}): routed "
          + " ".join(f"{r:.4f}" for r in result["all_queries"]["random"]["emulated_routed"]))


if __name__ == "__main__":
    main()
