"""Score calibration: puts adapted (legacy-space) scores on the native score scale.

Adapted scores ``f(q) . d_old`` and native scores ``q . d_new`` live on different scales, so
a hybrid result list cannot be merged on raw scores. The calibration is a monotone
piecewise-linear map fitted, with the adapter, by matching quantiles of the two score
distributions *near the top of each ranking*, where merging decisions are made: a legacy
item at the adapted search's rank r gets the score a native item at rank r would have.
Pure numpy, so it runs on the query path.

Scores here are similarities (higher is better) whatever the collection's distance: for
Euclid and Manhattan the negated distance (see :mod:`qdrant_drift.scores`, where the query
path turns Qdrant's scores into similarities and back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..scores import similarity

TOP = 20  # ranks per pseudo-query whose scores are matched
KNOTS = 33


@dataclass(frozen=True)
class Calibration:
    """Monotone map from adapted scores to native scores (identity when empty)."""

    adapted: tuple[float, ...] = ()
    native: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.adapted) != len(self.native):
            raise ValueError("calibration knots must pair up")
        if any(b < a for a, b in zip(self.adapted, self.adapted[1:])):
            raise ValueError("calibration knots must be non-decreasing")
        x = np.asarray(self.adapted, dtype=np.float64)
        y = np.asarray(self.native, dtype=np.float64)
        if len(x) >= 2:
            # Far-out knots on the end segments' lines: np.interp alone then extrapolates
            # linearly (one vectorised call on the query path).
            reach = 1e6
            lo = _slope(x[0], x[1], y[0], y[1])
            hi = _slope(x[-2], x[-1], y[-2], y[-1])
            x = np.concatenate([[x[0] - reach], x, [x[-1] + reach]])
            y = np.concatenate([[y[0] - reach * lo], y, [y[-1] + reach * hi]])
        object.__setattr__(self, "_x", x)
        object.__setattr__(self, "_y", y)

    @property
    def is_identity(self) -> bool:
        return not self.adapted

    def __call__(self, scores: np.ndarray | float) -> np.ndarray | float:
        """Map adapted scores onto the native scale; linear extrapolation past the knots."""
        if self.is_identity:
            return scores
        out = np.interp(scores, self._x, self._y)  # type: ignore[attr-defined]
        return float(out) if np.ndim(scores) == 0 else out

    def to_dict(self) -> dict[str, Any]:
        return {"adapted": list(self.adapted), "native": list(self.native)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Calibration":
        if not data:
            return cls()
        return cls(tuple(map(float, data["adapted"])), tuple(map(float, data["native"])))


def _slope(x0: float, x1: float, y0: float, y1: float) -> float:
    return (y1 - y0) / (x1 - x0) if x1 > x0 else 1.0


def _top_scores(queries: np.ndarray, docs: np.ndarray, top: int, distance: str) -> np.ndarray:
    scores = similarity(queries, docs, distance)
    np.fill_diagonal(scores, -np.inf)  # a pseudo-query's own document is not a result
    top = min(top, scores.shape[1] - 1)
    return -np.sort(-scores, axis=1)[:, :top]


def fit_calibration(
    transform: Callable[[np.ndarray], np.ndarray],
    new: np.ndarray,
    old: np.ndarray,
    *,
    top: int = TOP,
    knots: int = KNOTS,
    distance: str = "cosine",
) -> Calibration:
    """Fit on held-out pairs: held-out docs' new vectors are the pseudo-queries, the
    adapted search runs over their old vectors and the native search over their new ones."""
    if len(new) < 3:
        return Calibration()
    return _quantile_map(_top_scores(transform(new), old, top, distance),
                         _top_scores(new, new, top, distance), knots)


def fit_old_query_calibration(
    new: np.ndarray, old: np.ndarray, *, top: int = TOP, knots: int = KNOTS,
    distance: str = "cosine",
) -> Calibration:
    """For apps that pass their OLD-model query next to the new one: old-model scores on the
    legacy vectors, mapped onto the new model's scale (same held-out pairs, same method)."""
    if len(new) < 3:
        return Calibration()
    return _quantile_map(_top_scores(old, old, top, distance),
                         _top_scores(new, new, top, distance), knots)


def _quantile_map(source: np.ndarray, target: np.ndarray, knots: int) -> Calibration:
    qs = np.linspace(0.0, 1.0, knots)
    x = np.maximum.accumulate(np.quantile(source.ravel(), qs))
    y = np.quantile(target.ravel(), qs)
    return Calibration(tuple(float(v) for v in x), tuple(float(v) for v in y))
