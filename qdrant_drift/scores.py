"""Score orientation: which way is better for a collection's distance, in one place.

Qdrant scores Cosine and Dot collections by similarity (higher is better, results
descending, ``score_threshold`` a minimum) and Euclid and Manhattan collections by the
distance itself (lower is better, results ascending, ``score_threshold`` a maximum).

Everything inside qdrant-drift that compares scores (calibration, the anchored merge, the
pre-flight ranks) works on one convention, a *similarity*: higher is better. For a distance
that similarity is the negated distance. Negation is the one choice that keeps every
existing rule exact: it is strictly decreasing (ranks do not change), it is its own inverse
(what the app gets back is bit for bit the distance Qdrant computed for a native hit), and
it keeps the scale (a calibration's linear pieces and an anchored shift stay linear pieces
and a shift in distance units). So hits are turned into similarities where they enter a
merge or a calibration, and back into Qdrant's convention on the way out: the app sees what
a plain client shows for the same collection (distances, ascending).

Pure and vectorised: the functions here run on the query path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, TypeVar

import numpy as np

from .errors import DriftError

Distance = Literal["cosine", "dot", "euclid", "manhattan"]
DISTANCES: tuple[str, ...] = ("cosine", "dot", "euclid", "manhattan")
# Scored by the distance itself: the adapter must predict the legacy vector, norm included.
METRIC_DISTANCES: tuple[str, ...] = ("euclid", "manhattan")

Scores = Callable[[np.ndarray], np.ndarray]
P = TypeVar("P")


@dataclass(frozen=True)
class Orientation:
    """How a collection's scores are ordered, and the way to and from similarities."""

    distance: str = "cosine"

    @property
    def ascending(self) -> bool:
        """Best first means smallest first (the score is a distance)."""
        return self.distance in METRIC_DISTANCES

    def to_similarity(self, scores: np.ndarray) -> np.ndarray:
        """Qdrant's scores as similarities (higher is better)."""
        return -scores if self.ascending else scores

    def from_similarity(self, similarities: np.ndarray) -> np.ndarray:
        """Similarities back in Qdrant's convention (negation is its own inverse)."""
        return -similarities if self.ascending else similarities

    def threshold(self, score_threshold: float | None) -> float | None:
        """The app's ``score_threshold`` as the minimum similarity it keeps."""
        if score_threshold is None or not self.ascending:
            return score_threshold
        return -score_threshold

    @property
    def ceiling(self) -> float:
        """The highest similarity this distance can give: 1 for Cosine, 0 for a distance
        (its negation), none for Dot."""
        return 1.0 if self.distance == "cosine" else 0.0 if self.ascending else math.inf

    def on_scores(self, calibrate: Scores) -> Scores:
        """A similarity-space map (a calibration) applied to scores in Qdrant's convention,
        held under :attr:`ceiling`: a calibration extrapolates linearly past its knots, and
        a legacy hit put above any score the collection can give would outrank an exact
        native match (a merged Cosine score of 1.01 was seen)."""
        top = self.ceiling
        bounded = calibrate if top == math.inf else (
            lambda scores: np.minimum(calibrate(scores), top))
        if not self.ascending:
            return bounded
        return lambda scores: -bounded(-scores)

    def best_first(self, points: Iterable[P], score: Callable[[P], float]) -> list[P]:
        """``points`` ranked as Qdrant ranks them for this distance."""
        return sorted(points, key=score, reverse=not self.ascending)

    def keeps(self, score: float, score_threshold: float | None) -> bool:
        """Does a hit with this score pass the app's ``score_threshold`` (as Qdrant reads it)?"""
        if score_threshold is None:
            return True
        return score <= score_threshold if self.ascending else score >= score_threshold


SIMILARITY = Orientation("cosine")


def distance_name(distance: object) -> str:
    """Our name of a Qdrant ``models.Distance`` (or of its value): 'cosine', 'euclid', ..."""
    name = str(getattr(distance, "value", distance)).lower()
    if name not in DISTANCES:
        raise DriftError(f"{distance} distance is not one qdrant-drift knows how to serve "
                         f"(it serves {', '.join(DISTANCES)})")
    return name


def orientation(distance: object | None) -> Orientation:
    """The orientation of a distance (None: a record from before distances were kept, which
    could only be Cosine or Dot)."""
    return SIMILARITY if distance is None else Orientation(distance_name(distance))


CHUNK_ELEMENTS = 1 << 23  # Manhattan: at most this many differences (64 MiB) held at once


def similarity(queries: np.ndarray, docs: np.ndarray, distance: str = "cosine") -> np.ndarray:
    """(n_queries, n_docs) similarity matrix as the collection ranks: the inner product for
    Cosine (rows already unit) and Dot, the negated L2 / L1 distance for Euclid / Manhattan.

    Neighbour ranks and calibrations computed from it agree with what Qdrant returns."""
    if distance not in METRIC_DISTANCES:
        return queries @ docs.T
    q = np.asarray(queries, dtype=np.float64)
    d = np.asarray(docs, dtype=np.float64)
    if distance == "euclid":
        squared = (q * q).sum(1)[:, None] + (d * d).sum(1)[None, :] - 2.0 * (q @ d.T)
        return -np.sqrt(np.maximum(squared, 0.0))
    out = np.empty((len(q), len(d)))
    rows = max(1, CHUNK_ELEMENTS // max(1, d.size))
    for start in range(0, len(q), rows):
        block = q[start : start + rows]
        out[start : start + len(block)] = -np.abs(block[:, None, :] - d[None, :, :]).sum(2)
    return out
