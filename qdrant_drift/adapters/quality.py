"""Pre-flight quality: how much of a full re-embed's retrieval quality an adapter keeps,
estimated from held-out document pairs alone, before any query is served.

Pseudo-queries are held-out documents' new vectors. The new model's own ranking of the other
held-out documents is the reference (a full re-embed would return exactly it); the adapter is
judged by whether its search over the OLD vectors still finds the new model's nearest
neighbour of each pseudo-query. A document never counts as its own neighbour: self-retrieval
is trivially easy and says nothing about queries.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .maps import Map

K = 10


def _neighbour_targets(new: np.ndarray) -> np.ndarray:
    sims = new @ new.T
    np.fill_diagonal(sims, -np.inf)
    return sims.argmax(axis=1)


def _ranks(queries: np.ndarray, docs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each target among the other docs (self excluded) by inner product."""
    scores = queries @ docs.T
    np.fill_diagonal(scores, -np.inf)
    target_scores = scores[np.arange(len(targets)), targets]
    return (scores > target_scores[:, None]).sum(axis=1) + 1


def neighbour_ranks(
    transform: Callable[[np.ndarray], np.ndarray], new: np.ndarray, old: np.ndarray
) -> np.ndarray:
    """Ranks, in adapted search over old vectors, of each pseudo-query's new-model neighbour."""
    return _ranks(transform(new), old, _neighbour_targets(new))



def _apply(candidate: Map | Callable[[np.ndarray], np.ndarray]) -> Callable:
    return candidate.apply if isinstance(candidate, Map) else candidate


def selection_score(candidate: Map | Callable, new: np.ndarray, old: np.ndarray) -> float:
    """Held-out retrieval score used to choose hyperparameters and kinds (higher is better):
    how often adapted search finds each pseudo-query's new-model neighbour in its top 10."""
    return float((neighbour_ranks(_apply(candidate), new, old) <= K).mean())


# Below this share of held-out items whose adapted new vector finds its OWN legacy vector
# first, the map loses item identity: short queries, which carry less information than
# documents, then search the legacy vectors worse than the old model's own queries would.
MIN_IDENTITY_PRESERVATION = 0.9


def preflight_report(
    candidate: Map | Callable, new: np.ndarray, old: np.ndarray
) -> dict[str, Any]:
    """Predicted Recall@10 / MRR@10 recovery of adapted search, and a drastic-drift verdict.

    Drastic drift (adapted queries predicted to search worse than the old model's own) is
    declared when either signal says so: the adapter is predicted to find the new model's
    neighbours less often than the old model's own vectors do (``old_model_recovery``), or
    the adapter fails to keep item identity (``identity_preservation`` below
    :data:`MIN_IDENTITY_PRESERVATION`).
    """
    transform = _apply(candidate)
    mapped = transform(new)
    targets = _neighbour_targets(new)
    adapted = _ranks(mapped, old, targets)
    own = _ranks(old, old, targets)
    recall = float((adapted <= K).mean())
    mrr = float(np.where(adapted <= K, 1.0 / adapted, 0.0).mean())
    old_recall = float((own <= K).mean())
    identity = float(((mapped @ old.T).argmax(axis=1) == np.arange(len(new))).mean())
    drastic = recall < old_recall or identity < MIN_IDENTITY_PRESERVATION
    report: dict[str, Any] = {
        "heldout_pairs": int(len(new)),
        "predicted_recall_recovery": recall,
        "predicted_mrr_recovery": mrr,
        "old_model_recovery": old_recall,
        "identity_preservation": identity,
        "drastic_drift": bool(drastic),
    }
    if drastic:
        report["advice"] = DRASTIC_ADVICE
    return report


DRASTIC_ADVICE = (
    "Adapted queries are predicted to search the legacy vectors worse than the old model's "
    "own queries do. Keep encoding queries with the old model for the legacy side while the "
    "backfill runs (pass old_query= next to the new vector to DriftClient), and backfill "
    "hot items first."
)
