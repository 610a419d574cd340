"""Adapter kinds with closed-form solutions (numpy only, no torch).

All three start from centred data: embedding spaces are anisotropic (a large shared mean
direction), and fitting the map on centred pairs keeps that shared direction from dominating
the rotation; the means come back through the bias.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal, Sequence

import numpy as np

from .kinds import FitContext, register, split_indices
from .maps import LinearMap


def orthogonal_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """argmin_R ||x R - y|| over (semi-)orthogonal R: works for differing dimensions too."""
    u, _, vt = np.linalg.svd(x.T.astype(np.float64) @ y.astype(np.float64), full_matrices=False)
    return (u @ vt).astype(np.float32)


def _affine(weight: np.ndarray, x_mean: np.ndarray, y_mean: np.ndarray) -> LinearMap:
    """The map y = (x - x_mean) W + y_mean as a LinearMap."""
    return LinearMap(weight=weight, bias=y_mean - x_mean @ weight)


@register
@dataclass
class Procrustes:
    """Orthogonal Procrustes (Drift-Adapter's OP): a rotation, optionally with centring and a
    per-dimension scale. Preserves query geometry, so it generalises from documents to
    queries better than unconstrained maps."""

    center: bool = True
    scale: Literal["none", "diagonal"] = "none"

    name: ClassVar[str] = "procrustes"
    needs_torch: ClassVar[bool] = False

    def min_pairs(self, new_dim: int, old_dim: int) -> int:
        return 2

    def __call__(self, new: np.ndarray, old: np.ndarray, ctx: FitContext) -> LinearMap:
        if self.scale not in ("none", "diagonal"):
            raise ValueError(f"scale must be 'none' or 'diagonal', got {self.scale!r}")
        x_mean = new.mean(0) if self.center else np.zeros(new.shape[1], np.float32)
        y_mean = old.mean(0) if self.center else np.zeros(old.shape[1], np.float32)
        xc, yc = new - x_mean, old - y_mean
        rotation = orthogonal_map(xc, yc)
        if self.scale == "diagonal":
            rotated = xc @ rotation
            denom = np.maximum((rotated * rotated).sum(0), 1e-12)
            rotation = rotation * ((rotated * yc).sum(0) / denom)[None, :]
        return _affine(rotation, x_mean, y_mean)

    def frozen(self) -> "Procrustes":
        return self


def _ridge_weight(xc: np.ndarray, yc: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge solution with a penalty relative to the mean eigenvalue of x's Gram matrix."""
    gram = xc.T.astype(np.float64) @ xc.astype(np.float64)
    penalty = alpha * np.trace(gram) / gram.shape[0]
    gram[np.diag_indices_from(gram)] += penalty
    return np.linalg.solve(gram, xc.T.astype(np.float64) @ yc.astype(np.float64)).astype(
        np.float32
    )


def _select_alpha(
    alphas: Sequence[float],
    build,
    new: np.ndarray,
    old: np.ndarray,
    ctx: FitContext,
    label: str,
) -> float:
    """Pick the penalty whose map scores best on held-out RETRIEVAL, not on MSE."""
    if len(alphas) == 1:
        return float(alphas[0])
    train, val = split_indices(len(new), 0.2, ctx.rng)
    scores = {}
    for alpha in alphas:
        scores[alpha] = ctx.selection_score(build(new[train], old[train], alpha), new[val], old[val])
        ctx.log(f"{label}: alpha={alpha:g} held-out score {scores[alpha]:.4f}")
    return float(max(scores, key=scores.get))


DEFAULT_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)


@register
@dataclass
class Affine:
    """Full affine map with a ridge penalty chosen on a held-out split by retrieval quality."""

    alphas: Sequence[float] = DEFAULT_ALPHAS

    name: ClassVar[str] = "affine"
    needs_torch: ClassVar[bool] = False

    def min_pairs(self, new_dim: int, old_dim: int) -> int:
        return 20

    @staticmethod
    def _build(new: np.ndarray, old: np.ndarray, alpha: float) -> LinearMap:
        x_mean, y_mean = new.mean(0), old.mean(0)
        return _affine(_ridge_weight(new - x_mean, old - y_mean, alpha), x_mean, y_mean)

    def __call__(self, new: np.ndarray, old: np.ndarray, ctx: FitContext) -> LinearMap:
        self.selected_alpha = _select_alpha(self.alphas, self._build, new, old, ctx, self.name)
        return self._build(new, old, self.selected_alpha)

    def frozen(self) -> "Affine":
        return replace(self, alphas=(self.selected_alpha,))


@register
@dataclass
class LowRankAffine:
    """Procrustes plus a rank-r affine correction (Drift-Adapter's LA): y = x(R + UV) + b.

    The correction is the closed-form reduced-rank ridge regression of the Procrustes
    residual, folded into one dense matrix so a query still costs a single GEMV.
    """

    rank: int = 32
    alphas: Sequence[float] = DEFAULT_ALPHAS

    name: ClassVar[str] = "low_rank_affine"
    needs_torch: ClassVar[bool] = False

    def min_pairs(self, new_dim: int, old_dim: int) -> int:
        return max(20, 2 * self.rank)

    def _build(self, new: np.ndarray, old: np.ndarray, alpha: float) -> LinearMap:
        x_mean, y_mean = new.mean(0), old.mean(0)
        xc, yc = new - x_mean, old - y_mean
        rotation = orthogonal_map(xc, yc)
        residual = yc - xc @ rotation
        full = _ridge_weight(xc, residual, alpha)
        _, _, vt = np.linalg.svd(xc @ full, full_matrices=False)
        top = vt[: self.rank].T  # (d_old, r): the directions the correction may move
        return _affine(rotation + (full @ top) @ top.T, x_mean, y_mean)

    def __call__(self, new: np.ndarray, old: np.ndarray, ctx: FitContext) -> LinearMap:
        if self.rank < 1:
            raise ValueError(f"rank must be >= 1, got {self.rank}")
        self.selected_alpha = _select_alpha(self.alphas, self._build, new, old, ctx, self.name)
        return self._build(new, old, self.selected_alpha)

    def frozen(self) -> "LowRankAffine":
        return replace(self, alphas=(self.selected_alpha,))
