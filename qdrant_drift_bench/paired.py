"""Two router runs compared query by query: did a change make routed recall worse?

Two adapters of about the same quality each answer queries the other misses (hundreds of
2,000 on the debian pairs), so their recalls at a step differ by a few queries either way
without either being worse. Both runs route the same queries at the same coverage steps
(same corpus, pair, seed, query set), so the comparison is paired: at each step, the queries
only the new run answers (gained) against those only the baseline answers (lost), an exact
two-sided sign test on them, and an exact 95% interval for the change in recall. "worse"
means lost significantly more than gained; "no significant difference" is not "unchanged":
the interval says how large a change the step cannot rule out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qdrant_drift.extras import require

ALPHA = 0.05
# what must agree for two runs to route the same queries at the same steps
SAME_RUN_KEYS = ("corpus", "pair", "seed", "coverage", "protocol", "train_pairs", "query_set")
# checked against the command line before a run starts (the rest once it has loaded its data)
SETTINGS_KEYS = ("pair", "seed", "coverage", "protocol")


def sign_test_p(gained: int, lost: int) -> float:
    """Exact two-sided sign test: the chance of a split at least this uneven between
    ``gained`` and ``lost`` if either were equally likely (1.0 when nothing differs)."""
    n = gained + lost
    if n == 0:
        return 1.0
    stats = require("scipy.stats")
    return float(stats.binomtest(gained, n, 0.5).pvalue)


def change_interval(gained: int, lost: int, n_queries: int) -> tuple[float, float]:
    """Exact 95% interval for the change in recall, (gained - lost) / n_queries: the
    Clopper-Pearson interval of the gained share among the queries that differ, scaled."""
    n = gained + lost
    if n == 0 or n_queries == 0:
        return 0.0, 0.0
    stats = require("scipy.stats")
    share = stats.binomtest(gained, n, 0.5).proportion_ci(confidence_level=1 - ALPHA)
    return n * (2 * share.low - 1) / n_queries, n * (2 * share.high - 1) / n_queries


def verdict(gained: int, lost: int, alpha: float = ALPHA) -> str:
    """"better" / "worse" when the split is significant at ``alpha``, else "no significant
    difference"."""
    return _verdict_of(sign_test_p(gained, lost), gained, lost, alpha)


def _verdict_of(p: float, gained: int, lost: int, alpha: float = ALPHA) -> str:
    if p >= alpha:
        return "no significant difference"
    return "better" if gained > lost else "worse"


def _hits(run: dict[str, Any], name: str) -> list[str]:
    every = run.get("all_queries") or {}
    hits = (every.get("random") or {}).get("emulated_hits")
    if not hits or not isinstance(hits, list):
        raise ValueError(f"the {name} run has no per-query hits (all_queries.random."
                         "emulated_hits): rerun it with this version of `bench router`")
    return hits


def load_baseline(path: str | Path, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """An earlier run's JSON, checked before a new run starts (ValueError, one line):
    readable, with per-query hits, and ``settings`` (pair, seed, coverage, protocol of the
    run to come) the same as its own."""
    try:
        run = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"cannot read the baseline {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"the baseline {path} is not JSON (not text)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the baseline {path} is not JSON ({exc.msg}, line {exc.lineno})"
                         ) from None
    if not isinstance(run, dict):
        raise ValueError(f"the baseline {path} is not a `bench router` result")
    hits = _hits(run, f"baseline ({path})")
    if len(hits) != len(run.get("coverage") or []):
        raise ValueError(f"the baseline {path} holds {len(hits)} steps of hits for "
                         f"{len(run.get('coverage') or [])} coverage steps")
    _same_run(run, settings or {}, keys=SETTINGS_KEYS)
    return run


def _same_run(baseline: dict[str, Any], run: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in run and baseline.get(key) != run[key]:
            raise ValueError(f"the runs differ in {key} ({baseline.get(key)!r} in the baseline, "
                             f"{run[key]!r} here): a paired comparison needs the same "
                             "queries at the same steps")


def paired_change(baseline: dict[str, Any], run: dict[str, Any]) -> list[dict[str, Any]]:
    """Per coverage step: both recalls, gained, lost, the sign test's p, the interval of
    the change and the verdict. Raises ValueError (one line) when the two runs do not route
    the same queries."""
    _same_run(baseline, {k: run.get(k) for k in SAME_RUN_KEYS}, keys=SAME_RUN_KEYS)
    before, after = _hits(baseline, "baseline"), _hits(run, "new")
    if [len(h) for h in before] != [len(h) for h in after]:
        raise ValueError("the runs hold different numbers of queries or steps")
    return compare_hits(run["coverage"], before, after)


def compare_hits(coverage: list[float], before: list[str], after: list[str]
                 ) -> list[dict[str, Any]]:
    """Per step, two hit strings of the same queries (see ``router.hit_string``) compared."""
    if not len(coverage) == len(before) == len(after):
        raise ValueError(f"{len(coverage)} coverage steps, {len(before)} and {len(after)} "
                         "steps of hits")
    rows = []
    for step, old, new in zip(coverage, before, after):
        gained = sum(1 for a, b in zip(old, new) if a == "0" and b == "1")
        lost = sum(1 for a, b in zip(old, new) if a == "1" and b == "0")
        n = len(new)
        low, high = change_interval(gained, lost, n)
        p = sign_test_p(gained, lost)
        rows.append({"coverage": step, "baseline": old.count("1") / n if n else 0.0,
                     "recall": new.count("1") / n if n else 0.0, "gained": gained,
                     "lost": lost, "p_value": round(p, 4),
                     "change_low": round(low, 4), "change_high": round(high, 4),
                     "verdict": _verdict_of(p, gained, lost)})
    return rows


def not_worse_at_any_step(rows: list[dict[str, Any]]) -> bool:
    return all(row["verdict"] != "worse" for row in rows)
