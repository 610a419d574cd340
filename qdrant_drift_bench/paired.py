"""Two router runs compared query by query: did a change make routed recall worse?

Recall@10 over a few thousand queries moves by a query or two between two adapters that are
equally good: a fit's noise, not a change in quality. Both runs route the same queries at the
same coverage steps (same corpus, pair, seed), so the honest comparison is paired: at each
step, the queries only the new run answers (gained) against those only the baseline answers
(lost), and an exact two-sided sign test on those discordant queries. "Worse" means lost
significantly more than gained, not "one query lower".
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

ALPHA = 0.05
# what must agree for two runs to route the same queries at the same steps
SAME_RUN_KEYS = ("corpus", "pair", "seed", "coverage", "protocol", "train_pairs")


def sign_test_p(gained: int, lost: int) -> float:
    """Exact two-sided sign test: the chance of a split at least this uneven between
    ``gained`` and ``lost`` if either were equally likely (1.0 when nothing differs)."""
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(gained, lost) + 1))
    return min(1.0, 2.0 * tail / 2.0 ** n)


def verdict(gained: int, lost: int, alpha: float = ALPHA) -> str:
    """"better" / "worse" when the split is significant at ``alpha``, else "unchanged"."""
    if sign_test_p(gained, lost) >= alpha:
        return "unchanged"
    return "better" if gained > lost else "worse"


def _hits(run: dict[str, Any], name: str) -> list[str]:
    hits = (run.get("all_queries") or {}).get("random", {}).get("emulated_hits")
    if not hits:
        raise ValueError(f"the {name} run has no per-query hits (all_queries.random."
                         "emulated_hits): rerun it with this version of `bench router`")
    return hits


def load_baseline(path: str | Path) -> dict[str, Any]:
    """An earlier run's JSON, checked before a new run starts (ValueError, one line)."""
    try:
        run = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"cannot read the baseline {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"the baseline {path} is not JSON ({exc.msg}, line {exc.lineno})"
                         ) from None
    if not isinstance(run, dict):
        raise ValueError(f"the baseline {path} is not a `bench router` result")
    _hits(run, f"baseline ({path})")
    return run


def paired_change(baseline: dict[str, Any], run: dict[str, Any]) -> list[dict[str, Any]]:
    """Per coverage step: both recalls, gained, lost, the sign test's p and its verdict.

    Raises ValueError (one line) when the two runs do not route the same queries."""
    for key in SAME_RUN_KEYS:
        if baseline.get(key) != run.get(key):
            raise ValueError(f"the runs differ in {key} ({baseline.get(key)!r} in the baseline, "
                             f"{run.get(key)!r} here): a paired comparison needs the same "
                             "queries at the same steps")
    before, after = _hits(baseline, "baseline"), _hits(run, "new")
    if [len(h) for h in before] != [len(h) for h in after]:
        raise ValueError("the runs hold different numbers of queries per step")
    return compare_hits(run["coverage"], before, after)


def compare_hits(coverage: list[float], before: list[str], after: list[str]
                 ) -> list[dict[str, Any]]:
    """Per step, two hit strings of the same queries (see ``router.hit_string``) compared."""
    rows = []
    for step, old, new in zip(coverage, before, after):
        gained = sum(1 for a, b in zip(old, new) if a == "0" and b == "1")
        lost = sum(1 for a, b in zip(old, new) if a == "1" and b == "0")
        rows.append({"coverage": step, "baseline": old.count("1") / len(old),
                     "recall": new.count("1") / len(new), "gained": gained, "lost": lost,
                     "p_value": round(sign_test_p(gained, lost), 4),
                     "verdict": verdict(gained, lost)})
    return rows


def not_worse_at_any_step(rows: list[dict[str, Any]]) -> bool:
    return all(row["verdict"] != "worse" for row in rows)
