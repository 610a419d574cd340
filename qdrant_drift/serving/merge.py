"""Merging a hybrid search: legacy hits (adapted query on old vectors of items not yet
migrated) and native hits (new query on new vectors) into one ranking.

The two lists partition the collection, so there is nothing to fuse: legacy scores are put on
the native scale by the adapter's calibration and the lists are interleaved by score. Pure
functions over qdrant-client's own ``ScoredPoint``; no I/O.

Hits come in and go out in Qdrant's convention for the collection's distance (``scores``,
an :class:`~qdrant_drift.scores.Orientation`: similarities descending, or Euclid / Manhattan
distances ascending); calibrations and anchoring work on similarities, and the orientation
converts at this boundary only.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from qdrant_client.http import models

from ..scores import SIMILARITY, Orientation

# Maps an array of adapted scores onto the native scale (vectorised: it is on the query path).
Calibrate = Callable[[np.ndarray], np.ndarray]


def calibrated(points: Sequence[models.ScoredPoint], calibrate: Calibrate, *,
               in_place: bool = False, scores: Orientation = SIMILARITY
               ) -> list[models.ScoredPoint]:
    """``points`` with scores mapped onto the native scale (one vectorised call).

    ``in_place`` rewrites the given objects instead of copying them: for the query path,
    where the points come from a response made for this very call and nobody else holds them.
    """
    if not points:
        return []
    mapped = scores.on_scores(calibrate)(np.array([p.score for p in points], dtype=np.float64))
    if in_place:
        for point, score in zip(points, mapped.tolist()):
            # straight into the model's field storage: pydantic's validating __setattr__
            # costs more than the rest of the merge, and a float needs no validation
            point.__dict__["score"] = score  # a Python float already (tolist)
        return list(points)
    return [p.model_copy(update={"score": float(score)}) for p, score in zip(points, mapped)]


def anchored(
    calibrate: Calibrate,
    anchors: Sequence[models.ScoredPoint],
    native: Sequence[models.ScoredPoint],
    scores: Orientation = SIMILARITY,
) -> Calibrate:
    """Per-query correction of a global calibration, by matching ranks on migrated items.

    ``anchors`` are the adapted query's top hits over the legacy vectors of MIGRATED items;
    ``native`` are the new query's top hits over their new vectors: two rankings of the same
    items, one per scale. The i-th best score of one and the i-th best of the other mark the
    same place in this query's ranking, so the median gap between native scores and
    calibrated adapted scores at equal ranks shifts the calibration for this query. The
    global map, fitted on documents, drifts for queries whose scores sit elsewhere on the
    scale (short queries score lower than documents); matching ranks needs no item to come
    back from both sides, so it holds at low coverage too, and it stays unbiased when the
    migrated items are not a random sample (hot-first backfill). Both rankings are read as
    similarities (``scores``), and the shifted map is one on similarities, like ``calibrate``.
    """
    n = min(len(anchors), len(native))
    if n == 0:
        return calibrate

    def best_first(points: Sequence[models.ScoredPoint]) -> np.ndarray:
        raw = np.fromiter((p.score for p in points), np.float64, len(points))
        return np.sort(scores.to_similarity(raw))[::-1]

    adapted, matched = best_first(anchors), best_first(native)
    gap = float(np.median(matched[:n] - calibrate(adapted[:n])))

    def shifted(scores: np.ndarray) -> np.ndarray:
        return calibrate(scores) + gap

    return shifted


def merge_partitioned(
    legacy: Sequence[models.ScoredPoint],
    native: Sequence[models.ScoredPoint],
    *,
    calibrate: Calibrate,
    limit: int,
    offset: int = 0,
    score_threshold: float | None = None,
    in_place: bool = False,
    scores: Orientation = SIMILARITY,
) -> list[models.ScoredPoint]:
    """One ranking from both sides; ``offset``/``limit``/``score_threshold`` apply to it,
    as Qdrant applies them for the collection's distance (``scores``).

    Each side must have been asked for ``offset + limit`` hits. Should a point appear on both
    sides (it was migrated between the two sub-queries), the native hit wins. ``in_place``:
    see :func:`calibrated`.
    """
    legacy = calibrated(legacy, calibrate, in_place=in_place, scores=scores)
    if native:
        native_ids = {p.id for p in native}
        merged = scores.best_first(
            list(native) + [p for p in legacy if p.id not in native_ids], _score)
    else:  # one side only: already ranked, and calibration is monotone
        merged = legacy
    if score_threshold is not None:
        merged = [p for p in merged if scores.keeps(p.score, score_threshold)]
    return merged[offset : offset + limit]


def overlap_at_k(first: Sequence[models.ScoredPoint], second: Sequence[models.ScoredPoint],
                 k: int) -> float:
    """Share of the top-k ids two rankings agree on (shadow-sampling agreement)."""
    if k <= 0:
        return 1.0
    a = {p.id for p in first[:k]}
    b = {p.id for p in second[:k]}
    return len(a & b) / k


def merge_groups(
    legacy: Sequence[models.PointGroup],
    native: Sequence[models.PointGroup],
    *,
    calibrate: Calibrate,
    limit: int,
    group_size: int,
    score_threshold: float | None = None,
    scores: Orientation = SIMILARITY,
) -> list[models.PointGroup]:
    """Groups from both sides, united by group id: hits merged by calibrated score, groups
    ordered by their best hit (best as the collection's distance ranks, ``scores``). A group
    that misses one side's top groups may lack that side's hits (each side only returns its
    own top ``limit`` groups)."""
    merged: dict[Any, models.PointGroup] = {}
    native_ids = {p.id for g in native for p in g.hits}  # a point on both sides: native wins
    for group, hits in [
        (g, [p for p in calibrated(g.hits, calibrate, scores=scores)
             if p.id not in native_ids])
        for g in legacy
    ] + [(g, list(g.hits)) for g in native]:
        key = repr(group.id)
        if key in merged:
            hits = list(merged[key].hits) + hits
        kept = [p for p in scores.best_first(hits, _score)
                if scores.keeps(p.score, score_threshold)]
        merged[key] = group.model_copy(update={"hits": _dedupe(kept)[:group_size]})
    groups = scores.best_first([g for g in merged.values() if g.hits],
                               lambda g: g.hits[0].score)
    return groups[:limit]


def _score(point: models.ScoredPoint) -> float:
    return point.score


def _dedupe(points: list[models.ScoredPoint]) -> list[models.ScoredPoint]:
    seen: set[Any] = set()
    out = []
    for p in points:
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out
