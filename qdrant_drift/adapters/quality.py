"""Pre-flight quality: how much of a full re-embed's retrieval quality an adapter keeps,
estimated before any query is served, with an interval, on documents the adapter never saw.

The estimator (assumptions in ``README.md``, "Pre-flight"):

- *Stand-in corpus.* The held-out documents (both vectors known, never fitted on) play the
  corpus. Nothing the adapter was fitted on is searched, so an adapter that remembers its
  training documents (``whitened``'s neighbour lookup) gains nothing here.
- *Stand-in relevance.* No relevance labels exist. A query's relevant document is taken to be
  the one the NEW model ranks first among the stand-in corpus (a full re-embed returns it
  first by construction); the adapter is judged by the rank its search over the OLD vectors
  gives that document: Recall@10 recovery = share ranked in the top 10, MRR@10 recovery =
  mean reciprocal rank. The queries are the logged queries when there are some (basis
  ``logged_queries``), else the held-out documents' own new vectors (basis ``documents``,
  a document never counting as its own answer).
- *Interval.* Three sources of error, added: sampling of the queries (a percentile bootstrap,
  95%); the size of the stand-in corpus: the real corpus is larger (a fit sample is a
  sliver of it), and a figure moves with the corpus's size about linearly in its logarithm,
  so the interval extends on both sides by how much the figure moves per halving of the
  stand-in corpus (read off random halves and quarters) times how many doublings separate
  it from the collection (at least one; the collection's size when the caller knows it);
  and the stand-in answers' own bias, which no label-free reading sees: for the document-
  only basis :data:`DOCUMENTS_ARE_NOT_QUERIES`, for logged queries how far the documents'
  reading of the same figure lies from theirs (two readings d apart: at least one is off
  by d / 2; ``stand_in_disagreement``), a heuristic, not a bound. Both directions, since a
  larger corpus both crowds the top 10 and makes the stand-in answers rarer. What that
  still misses, and why no estimate from a few hundred queries can be much closer (labels
  or not): ``bench standins`` in ``benchmarks/README.md``.

Every ranking here is the collection's own (``distance``: inner product for Cosine and Dot,
L2 for Euclid, L1 for Manhattan, see :func:`qdrant_drift.scores.similarity`), so the figures
predict what Qdrant will return.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from ..scores import similarity
from .maps import Map

K = 10
BOOTSTRAP_ROUNDS = 1000
# random halves and quarters of the stand-in corpus drawn to read how the figures move
# with its size: the slope is multiplied by the doublings up to the collection (4-10 for a
# sample of 1,000 documents), so its noise must be small (2 draws of each put one reading
# at 3x another on the same data; 8 keep them within about 0.02 per halving of each other)
SIZE_DRAWS = 8
# Added on both sides of a document-only interval: documents are longer and more alike than
# queries. 0.15 is the largest document-only error measured over the corpora and drift
# pairs of issues 3 and 16 (0.153 on debian lsa, 0.14 and 0.13 on two held-back corpora).
DOCUMENTS_ARE_NOT_QUERIES = 0.15
# Below this share of held-out items whose adapted new vector finds its OWN legacy vector
# first, the map loses item identity: short queries, which carry less information than
# documents, then search the legacy vectors worse than the old model's own queries would.
MIN_IDENTITY_PRESERVATION = 0.9

Transform = Callable[[np.ndarray], np.ndarray]


def _apply(candidate: Map | Transform) -> Transform:
    return candidate.apply if isinstance(candidate, Map) else candidate


def answer_ranks(
    searched: np.ndarray, docs: np.ndarray, answers: np.ndarray, *, self_excluded: bool = False,
    distance: str = "cosine",
) -> np.ndarray:
    """1-based rank of each row's answer document among ``docs`` as ``distance`` ranks.

    ``self_excluded``: row i of the queries is document i itself, which never competes.
    """
    scores = similarity(searched, docs, distance)
    if self_excluded:
        np.fill_diagonal(scores, -np.inf)
    target = scores[np.arange(len(answers)), answers]
    return (scores > target[:, None]).sum(axis=1) + 1


def stand_in_answers(
    new_queries: np.ndarray, new_docs: np.ndarray, *, self_excluded: bool = False,
    distance: str = "cosine",
) -> np.ndarray:
    """Each query's stand-in relevant document: the new model's first among ``new_docs``."""
    scores = similarity(new_queries, new_docs, distance)
    if self_excluded:
        np.fill_diagonal(scores, -np.inf)
    return scores.argmax(axis=1)


def adapted_ranks(
    candidate: Map | Transform, new: np.ndarray, old: np.ndarray,
    queries: np.ndarray | None = None, distance: str = "cosine",
) -> np.ndarray:
    """Ranks, in adapted search over the old vectors, of each query's stand-in answer.

    Without ``queries`` the documents' own new vectors are the queries (self excluded)."""
    own = queries is None
    q = new if own else queries
    answers = stand_in_answers(q, new, self_excluded=own, distance=distance)
    return answer_ranks(_apply(candidate)(q), old, answers, self_excluded=own,
                        distance=distance)


def selection_score(
    candidate: Map | Transform, new: np.ndarray, old: np.ndarray,
    queries: np.ndarray | None = None, distance: str = "cosine",
) -> float:
    """Held-out retrieval score used to choose hyperparameters and kinds (higher is better):
    how often adapted search over documents the candidate was not fitted on ranks each
    query's stand-in answer in its top 10 (logged queries when given, else the documents).
    MRR@10 breaks ties: it adds less than one query's share of Recall@10, so it only orders
    candidates whose recall is equal (two kinds that find the same answers, one ranking
    them higher)."""
    terms = selection_terms(candidate, new, old, queries, distance)
    return float(terms.mean()) if len(terms) else 0.0


def selection_terms(
    candidate: Map | Transform, new: np.ndarray, old: np.ndarray,
    queries: np.ndarray | None = None, distance: str = "cosine",
) -> np.ndarray:
    """Per query, its share of :func:`selection_score` (the score is their mean): what
    :func:`clearly_better` compares query by query."""
    ranks = adapted_ranks(candidate, new, old, queries, distance)
    return (ranks <= K) + _reciprocal_ranks(ranks) / (len(ranks) + 1)


def clearly_better(richer: Sequence[np.ndarray], plainer: Sequence[np.ndarray]) -> bool:
    """Whether a richer candidate beats a plainer one by more than one standard error of
    their paired difference: the one-standard-error rule of model selection. Each argument
    holds one array per selection round, of per-query terms (:func:`selection_terms`) on
    that round's held-out queries, the same queries for both candidates.

    The gain is the mean over rounds of each round's mean difference; its standard error the
    mean of the rounds' own, not shrunk by the number of rounds, since rounds re-use queries
    (the same logged queries, overlapping validation documents). A round of one term (a
    custom scorer's figure) has no noise to measure: there the gain must only be positive.

    Why: a held-out margin smaller than its own noise is no evidence, and some richer parts
    are flattered by the held-out queries themselves (``whitened``'s neighbour lookup copies
    training documents' legacy vectors, which helps documents and stand-in answers drawn from
    the new model's neighbourhood more than real queries), so the plainer one keeps ties."""
    gains, errors = [], []
    for rich, plain in zip(richer, plainer):
        gain = np.asarray(rich, np.float64) - np.asarray(plain, np.float64)
        if not len(gain):
            continue
        gains.append(gain.mean())
        errors.append(gain.std(ddof=1) / math.sqrt(len(gain)) if len(gain) > 1 else 0.0)
    return bool(gains) and float(np.mean(gains)) > float(np.mean(errors))


def _reciprocal_ranks(ranks: np.ndarray) -> np.ndarray:
    """Per query, 1 / rank inside the top 10, else 0 (MRR@10's terms)."""
    return np.where(ranks <= K, 1.0 / ranks, 0.0)


def _recall(ranks: np.ndarray) -> float:
    return float((ranks <= K).mean()) if len(ranks) else 0.0


def top_k_overlap(
    transform: Transform, new: np.ndarray, old: np.ndarray, queries: np.ndarray | None,
    distance: str = "cosine",
) -> np.ndarray:
    """Per query, the share of the native top 10 that adapted search also returns: what
    shadow sampling measures live (overlap@k of the two plans)."""
    own = queries is None
    q = new if own else queries
    native = similarity(q, new, distance)
    adapted = similarity(transform(q), old, distance)
    if own:
        np.fill_diagonal(native, -np.inf)
        np.fill_diagonal(adapted, -np.inf)
    k = min(K, new.shape[0] - 1)
    top_native = np.argpartition(-native, k - 1, axis=1)[:, :k]
    top_adapted = np.argpartition(-adapted, k - 1, axis=1)[:, :k]
    return np.array([len(np.intersect1d(a, b)) / k for a, b in zip(top_native, top_adapted)])


def _per_query(transform: Transform, new: np.ndarray, old: np.ndarray,
               queries: np.ndarray | None, distance: str) -> dict[str, np.ndarray]:
    ranks = adapted_ranks(transform, new, old, queries, distance)
    return {
        "recall": (ranks <= K).astype(float),
        "mrr": _reciprocal_ranks(ranks),
        "agreement": top_k_overlap(transform, new, old, queries, distance),
    }


def _bootstrap(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """95% percentile interval of the mean of per-query values."""
    if len(values) < 2:
        return 0.0, 1.0
    means = values[rng.integers(0, len(values), (BOOTSTRAP_ROUNDS, len(values)))].mean(1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def _size_slopes(
    transform: Transform, new: np.ndarray, old: np.ndarray, queries: np.ndarray | None,
    full: dict[str, np.ndarray], rng: np.random.Generator, distance: str,
) -> dict[str, float]:
    """Per figure, how much it moves each time the stand-in corpus is halved: the least-
    squares slope, through the full corpus's figure, of the figures on random halves and
    quarters (:data:`SIZE_DRAWS` of each), a steadier reading than one half alone."""
    moved = dict.fromkeys(full, 0.0)
    weight = 0.0
    for halvings in (1, 2):
        size = len(new) >> halvings
        if size < K + 2:
            break
        for _ in range(SIZE_DRAWS):
            keep = np.sort(rng.permutation(len(new))[:size])
            part = _per_query(transform, new[keep], old[keep], queries, distance)
            for name, values in full.items():
                # with documents as queries, the dropped documents are no longer queries
                same = values[keep] if queries is None else values
                moved[name] += halvings * (float(part[name].mean()) - float(same.mean()))
            weight += halvings**2
    return {name: total / weight if weight else 0.0 for name, total in moved.items()}


def size_doublings(corpus_size: int | None, stand_in: int) -> float:
    """How many times the real corpus doubles the stand-in one (at least once: the real
    corpus is never smaller than the sample it was drawn from, and its size may be unknown)."""
    if not corpus_size or corpus_size <= stand_in:
        return 1.0
    return max(1.0, math.log2(corpus_size / stand_in))


def _estimate(
    transform: Transform, new: np.ndarray, old: np.ndarray, queries: np.ndarray | None,
    rng: np.random.Generator, distance: str, corpus_size: int | None = None,
) -> dict[str, float | None]:
    """Point and interval of Recall@10 and MRR@10 recovery and of top-10 agreement."""
    full = _per_query(transform, new, old, queries, distance)
    slopes = _size_slopes(transform, new, old, queries, full, rng, distance)
    doublings = size_doublings(corpus_size, len(new))
    if queries is None:
        margins = dict.fromkeys(full, DOCUMENTS_ARE_NOT_QUERIES)
    else:  # the documents' reading of the same figure: two readings d apart mean at least
        # one is off by d / 2; widening by d is a heuristic for that bias, not a bound
        documents = _per_query(transform, new, old, None, distance)
        margins = {name: abs(float(values.mean()) - float(documents[name].mean()))
                   for name, values in full.items()}
    out: dict[str, float | None] = {}
    for name, values in full.items():
        point = float(values.mean())
        shift = abs(slopes[name]) * doublings
        low, high = _bootstrap(values, rng)
        key = f"predicted_{name}" if name == "agreement" else f"predicted_{name}_recovery"
        out[key] = point
        out[f"predicted_{name}_low"] = max(0.0, low - shift - margins[name])
        out[f"predicted_{name}_high"] = min(1.0, high + shift + margins[name])
    out["stand_in_disagreement"] = margins["recall"] if queries is not None else None
    return out


def _old_model_recovery(
    new: np.ndarray, old: np.ndarray, queries: np.ndarray | None,
    old_queries: np.ndarray | None, distance: str,
) -> float:
    """The same figure for the old model's own queries on the old vectors."""
    if queries is None:
        answers = stand_in_answers(new, new, self_excluded=True, distance=distance)
        return _recall(answer_ranks(old, old, answers, self_excluded=True, distance=distance))
    if old_queries is None:
        return float("nan")
    return _recall(answer_ranks(old_queries, old,
                                stand_in_answers(queries, new, distance=distance),
                                distance=distance))


def preflight_report(
    candidate: Map | Transform, new: np.ndarray, old: np.ndarray, *,
    queries: np.ndarray | None = None, old_queries: np.ndarray | None = None,
    seed: int = 0, distance: str = "cosine", corpus_size: int | None = None,
) -> dict[str, Any]:
    """Predicted Recall@10 / MRR@10 recovery with a 95% interval, and a drastic-drift verdict.

    ``new``/``old`` are held-out documents' vectors (never fitted on); ``queries`` logged
    new-model query vectors (no labels), ``old_queries`` the same queries by the old model
    when available. Drastic drift (adapted queries predicted to search worse than the old
    model's own) is declared when either signal says so: the adapter's predicted recovery is
    below the old model's own (``old_model_recovery``), or the adapter fails to keep item
    identity (``identity_preservation`` below :data:`MIN_IDENTITY_PRESERVATION`).
    ``distance``: the collection's, which ranks every search here. ``corpus_size``: the
    points the adapter will search (the collection's), when known: the interval widens by
    how the figures move per halving of the stand-in corpus, once per doubling up to it.
    """
    if queries is not None and len(queries) == 0:
        queries = old_queries = None
    transform = _apply(candidate)
    rng = np.random.default_rng(seed)
    estimate = _estimate(transform, new, old, queries, rng, distance, corpus_size)
    old_recall = _old_model_recovery(new, old, queries, old_queries, distance)
    old_model = None if np.isnan(old_recall) else old_recall
    own_first = similarity(transform(new), old, distance).argmax(axis=1)
    identity = float((own_first == np.arange(len(new))).mean())
    below_old = _below_old_model(estimate["predicted_recall_recovery"], old_model)
    drastic = below_old or identity < MIN_IDENTITY_PRESERVATION
    report: dict[str, Any] = {
        "basis": "documents" if queries is None else "logged_queries",
        "heldout_pairs": int(len(new)),
        "logged_queries": 0 if queries is None else int(len(queries)),
        "corpus_size": corpus_size,
        "size_doublings": round(size_doublings(corpus_size, len(new)), 2),
        **estimate,
        "old_model_recovery": old_model,
        "identity_preservation": identity,
        "drastic_drift": bool(drastic),
    }
    if drastic:
        report["advice"] = (BELOW_OLD_MODEL if below_old else LOSES_IDENTITY) + DRASTIC_ADVICE
    return report


def _below_old_model(adapted: float, old_model: float | None) -> bool:
    """The first drastic-drift signal: adapted queries are predicted to search worse than
    the old model's own (unknown without them: logged queries and no old-model copy)."""
    return old_model is not None and adapted < old_model


def drastic_figures(report: dict[str, Any]) -> str:
    """The figures a report's drastic-drift verdict rests on, in words (its advice says why;
    the CLI prints both)."""
    adapted, old_model = report["predicted_recall_recovery"], report.get("old_model_recovery")
    if _below_old_model(adapted, old_model):
        return (f"predicted Recall@10 recovery {adapted:.3f} adapted, {old_model:.3f} with "
                "the old model's own queries")
    return (f"{report['identity_preservation']:.1%} of held-out documents find their own "
            f"legacy vector first through the adapter, under {MIN_IDENTITY_PRESERVATION:.0%}")


BELOW_OLD_MODEL = ("Adapted queries are predicted to search the legacy vectors worse than the "
                   "old model's own queries do. ")
LOSES_IDENTITY = (
    f"The adapter loses item identity: under {MIN_IDENTITY_PRESERVATION:.0%} of held-out "
    "documents find their own legacy vector first through it, and short queries, which carry "
    "less than documents, fare worse than the predicted figure. ")
DRASTIC_ADVICE = (
    "Keep encoding queries with the old model for the legacy side while the backfill runs "
    "(pass old_query= next to the new vector to DriftClient), and backfill hot items first."
)
