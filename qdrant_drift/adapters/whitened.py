"""``whitened``: partially whitened, correlation-weighted rotation with a per-query
norm-bias correction and an optional neighbour lookup (numpy only, closed form).

Why each piece:

- *Whitening.* Many legacy spaces are anisotropic (a few directions carry most of the
  variance, e.g. shallow mean-pooled transformers): raw inner products are dominated by them.
  The rotation is fitted between partially whitened spaces (covariance powers ``-a``) and
  its components may be weighted by their canonical correlation, so directions the two models
  agree on count more.
- *Norm-bias correction.* The right score in the whitened old space is a cosine,
  ``v . z_d / |z_d|``, but the stored vectors cannot be re-normalised. For unit-norm docs
  ``|z_d|`` is close to a linear function ``a . d + c``, so ``v . z_d - beta |z_d|`` is a
  linear score against the raw stored vectors, and it equals ``|z_d| (cos - beta)``: flat in
  the norm exactly for docs whose cosine is near ``beta``. Setting ``beta`` per query to the
  cosine of its ``level_rank``-th best reference doc puts that flat point at the top-k cut,
  where ranking errors cost recall.
- *Neighbour lookup* (``gamma > 0``). Drastic drift (e.g. TF-IDF -> transformer) is not
  linear. The whitened old vectors of the query's nearest training docs in the NEW space are
  blended in, carrying the new model's notion of relatedness into the old space.

The candidate settings are chosen on held-out pairs by retrieval quality.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Sequence

import numpy as np

from .kinds import FitContext, register, split_indices
from .maps import Map, register_map

# (whitening power on the new side, on the old side, correlation weighting power)
DEFAULT_SETTINGS: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.5, 0.0),
    (0.25, 0.5, 1.0),
    (0.5, 0.5, 1.0),
)
DEFAULT_GAMMAS: tuple[float, ...] = (0.0, 0.15, 0.3)


def _rows_normalized(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


@register_map
class WhitenedMap(Map):
    """Query-time form of the ``whitened`` kind (see the module docstring)."""

    name = "whitened"
    array_names = ("x_mean", "rotation", "back", "norm_dir", "ref_old", "ref_new", "settings")

    def __init__(self, **arrays: np.ndarray) -> None:
        super().__init__(**arrays)
        gamma, temperature, neighbours, level_rank = (float(v) for v in self.settings)
        self._gamma, self._temperature = gamma, temperature
        self._neighbours = int(min(neighbours, max(len(self.ref_new) - 1, 1)))
        self._level = int(min(max(level_rank, 1), len(self.ref_old))) - 1

    def weight_matrices(self) -> list[np.ndarray]:
        products = [self.rotation]
        if self._gamma > 0:
            products.append(self.ref_new.T)
        return products + [self.ref_old.T, self.back]

    def apply(self, x: np.ndarray) -> np.ndarray:
        if x.ndim == 1:
            return self._apply_one(x)
        u = _rows_normalized((x - self.x_mean) @ self.rotation)
        if self._gamma > 0:
            u = _rows_normalized(u + self._gamma * self._lookup(x))
        sims = u @ self.ref_old.T
        level = -np.partition(-sims, self._level, axis=1)[:, self._level]
        out = u @ self.back
        out -= level[:, None] * self.norm_dir[None, :]
        return out

    def _apply_one(self, x: np.ndarray) -> np.ndarray:
        # The same computation as ``apply`` for one query, without batch-axis overheads.
        u = (x - self.x_mean) @ self.rotation
        u *= 1.0 / max(float(np.sqrt(u @ u)), 1e-30)
        if self._gamma > 0:
            sims = self.ref_new @ x
            cut = len(sims) - self._neighbours
            idx = np.argpartition(sims, cut)[cut:]
            top = sims[idx]
            weights = np.exp((top - top.max()) / self._temperature)
            look = weights @ self.ref_old[idx]
            u += self._gamma * look / max(float(np.sqrt(look @ look)), 1e-30)
            u *= 1.0 / max(float(np.sqrt(u @ u)), 1e-30)
        sims = self.ref_old @ u
        pos = len(sims) - 1 - self._level
        level = np.partition(sims, pos)[pos]
        out = u @ self.back
        out -= level * self.norm_dir
        return out

    def _lookup(self, x: np.ndarray) -> np.ndarray:
        sims = x @ self.ref_new.T
        k = self._neighbours
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(sims, idx, axis=1)
        weights = np.exp((top - top.max(axis=1, keepdims=True)) / self._temperature)
        weights /= weights.sum(axis=1, keepdims=True)
        return _rows_normalized(np.einsum("nk,nkd->nd", weights, self.ref_old[idx]))


def _matrix_power(cov: np.ndarray, power: float, shrinkage: float) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    values = np.maximum(values, 0.0) + shrinkage * max(values.mean(), 1e-12)
    return (vectors * values ** (-power)) @ vectors.T


@register
@dataclass
class Whitened:
    """Whitened, correlation-weighted rotation + per-query norm-bias correction (+ lookup).

    Options: ``settings`` (whitening powers and correlation weighting candidates),
    ``gammas`` (lookup blend candidates; 0 disables the lookup), ``shrinkage`` (covariance
    regularisation, relative to the mean eigenvalue), ``temperature`` and ``neighbours`` of
    the lookup, ``level_rank`` (which reference cosine sets the per-query level).
    """

    settings: Sequence[Sequence[float]] = DEFAULT_SETTINGS
    gammas: Sequence[float] = DEFAULT_GAMMAS
    shrinkage: float = 0.1
    temperature: float = 0.02
    neighbours: int = 50
    level_rank: int = 3
    selection_rounds: int = 2

    name: ClassVar[str] = "whitened"
    needs_torch: ClassVar[bool] = False
    # its output is a corrected inner-product query (norm-bias term), not the legacy vector
    inner_product_only: ClassVar[bool] = True

    def min_pairs(self, new_dim: int, old_dim: int) -> int:
        return max(100, 2 * self.neighbours)

    def build(
        self, new: np.ndarray, old: np.ndarray, setting: Sequence[float], gamma: float
    ) -> WhitenedMap:
        power_new, power_old, correlation_power = (float(v) for v in setting)
        x = new.astype(np.float64)
        y = old.astype(np.float64)
        x_mean, y_mean = x.mean(0), y.mean(0)
        xc, yc = x - x_mean, y - y_mean
        n = len(x)
        white_new = _matrix_power(xc.T @ xc / n, power_new, self.shrinkage)
        white_old = _matrix_power(yc.T @ yc / n, power_old, self.shrinkage)
        u, s, vt = np.linalg.svd(white_new @ (xc.T @ yc / n) @ white_old, full_matrices=False)
        weights = (s / max(s.max(), 1e-12)) ** correlation_power
        rotation = white_new @ (u * weights) @ vt
        z = yc @ white_old
        z_norm = np.linalg.norm(z, axis=1)
        design = np.c_[y, np.ones(n)]
        norm_dir = np.linalg.lstsq(design, z_norm, rcond=None)[0][:-1]
        ref_new = new if gamma > 0 else np.zeros((0, new.shape[1]), np.float32)
        return WhitenedMap(
            x_mean=x_mean, rotation=rotation, back=white_old.T, norm_dir=norm_dir,
            ref_old=z / np.maximum(z_norm, 1e-12)[:, None], ref_new=ref_new,
            settings=np.array([gamma, self.temperature, self.neighbours, self.level_rank]),
        )

    def __call__(self, new: np.ndarray, old: np.ndarray, ctx: FitContext) -> Map:
        candidates = [(tuple(s), float(g)) for s in self.settings for g in self.gammas]
        if len(candidates) > 1:
            scores = dict.fromkeys(candidates, 0.0)
            for _ in range(self.selection_rounds):
                train, val = split_indices(len(new), 0.4, ctx.rng)
                for setting in self.settings:
                    for gamma in self.gammas:
                        built = self.build(new[train], old[train], setting, gamma)
                        score = ctx.selection_score(built, new[val], old[val])
                        scores[(tuple(setting), float(gamma))] += score / self.selection_rounds
            self.selected = max(scores, key=scores.get)
            ctx.log(f"{self.name}: chose setting {self.selected[0]} gamma {self.selected[1]} "
                    f"(held-out score {scores[self.selected]:.4f})")
        else:
            self.selected = candidates[0]
        return self.build(new, old, *self.selected)

    def frozen(self) -> "Whitened":
        return replace(self, settings=(self.selected[0],), gammas=(self.selected[1],))
