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
- *Neighbour lookup* (``gamma > 0``, opt-in: see :data:`DEFAULT_GAMMAS`). Drastic drift
  (e.g. TF-IDF -> transformer) is not linear. The whitened old vectors of the query's nearest
  training docs in the NEW space are blended in, carrying the new model's notion of
  relatedness into the old space. Among candidates, a lookup is chosen only where it beats
  the best one without clearly (one standard error, paired).

Both lookups run on every query, so they are kept small (issue 17: a scan of thousands of
rows cost 0.2-10 ms per query, the BLAS going multi-threaded on a busy machine). The level
is read from a seeded sample of ``references`` rows (256), its rank scaled to the sample
(on the debian pairs this changed Recall@10 by under 0.01, either way). The neighbour lookup
needs the individual training docs (a sample or k-means centroids of them lost 0.06
Recall@10 on the drastic pair): it searches a small inverted index instead, ``lists``
k-means lists of the docs (128) of which the ``probes`` nearest (4) are scanned: about 3% of
the docs, in one product for the rotation and the lists and four small ones.

The settings are averaged into one rotation, and a lookup's blend, when asked for, is chosen
on held-out pairs by retrieval quality (see :class:`Whitened` for why averaged, and how
``auto`` judges the kind all the same).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar, Sequence

import numpy as np

from .kinds import FitContext, register, split_indices
from .maps import Map, register_map
from .quality import clearly_better

# (whitening power on the new side, on the old side, correlation weighting power)
DEFAULT_SETTINGS: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.5, 0.0),
    (0.25, 0.5, 1.0),
    (0.5, 0.5, 1.0),
)
# The neighbour lookup is opt-in (``gammas=(0.0, 0.15, 0.3)``). Measured on real queries
# under the disjoint protocol, where held-out selection had chosen it: drastic drift (debian
# lsa) +0.02 Recall@10 recovery, where no adapter reaches the old model's own queries (0.59)
# and the drastic-drift verdict keeps adapted search from serving anyway; medium drift (depth)
# -0.03, where adapted search does serve. Held-out documents cannot tell the two apart (they
# favour the lookup on both), and it costs 40-50 us per query and an index in the file.
DEFAULT_GAMMAS: tuple[float, ...] = (0.0,)
KMEANS_ROUNDS = 10


def _rows_normalized(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


@register_map
class WhitenedMap(Map):
    """Query-time form of the ``whitened`` kind (see the module docstring).

    ``ref_old``: the level's reference rows; ``ref_new`` / ``look_old``: the neighbour
    lookup's docs (new vectors, whitened old ones), grouped by list; ``lists``: the lists'
    centroids; ``list_ends``: where each list's rows end. Maps saved before the index have
    no ``look_old``/``lists``: they read as one list holding every row (an exact scan)."""

    name = "whitened"
    array_names = ("x_mean", "rotation", "back", "norm_dir", "ref_old", "ref_new", "look_old",
                   "lists", "list_ends", "settings")

    def __init__(self, **arrays: np.ndarray) -> None:
        if "lists" not in arrays:  # the format before the index: one list, exact
            ref_new = np.asarray(arrays["ref_new"])
            arrays = {**arrays, "look_old": arrays["ref_old"] if len(ref_new) else ref_new,
                      "lists": np.ones((1 if len(ref_new) else 0, ref_new.shape[1])),
                      "list_ends": np.array([len(ref_new)] if len(ref_new) else [])}
        super().__init__(**arrays)
        gamma, temperature, neighbours, level_rank, *rest = (float(v) for v in self.settings)
        self._gamma, self._temperature = gamma, temperature
        self._neighbours = int(min(neighbours, max(len(self.ref_new) - 1, 1)))
        self._level = int(min(max(level_rank, 1), len(self.ref_old))) - 1
        self._probes = int(min(rest[0] if rest else len(self.lists), len(self.lists)))
        self._pos = len(self.ref_old) - 1 - self._level
        ends = self.list_ends.astype(np.int64)
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        # per list: its rows of ref_new (a view, no copy) and their row numbers
        self._list_rows = [(self.ref_new[a:b], np.arange(a, b)) for a, b in zip(starts, ends)]
        self._longest = int((ends - starts).max()) if len(ends) else 0
        # one product gives both the rotated query and its similarity to every list
        self._width = self.rotation.shape[1]
        self._fused = np.ascontiguousarray(np.hstack([self.rotation, self.lists.T]))
        self._shift = (self.x_mean @ self.rotation).astype(np.float32)

    def weight_matrices(self) -> list[np.ndarray]:
        return [self._fused, self.ref_old.T, self.back]

    def apply(self, x: np.ndarray) -> np.ndarray:
        if x.ndim == 1:
            return self._apply_one(x)
        if not len(x):
            return np.zeros((0, self.back.shape[1]), np.float32)
        return np.concatenate([self._apply_rows(x[i : i + 512]) for i in range(0, len(x), 512)])

    def _apply_rows(self, x: np.ndarray) -> np.ndarray:
        y = x @ self._fused
        u = _rows_normalized(y[:, : self._width] - self._shift)
        if self._gamma > 0:
            top, idx = self._nearest_rows(x, y[:, self._width :])
            weights = np.exp((top - top.max(axis=1, keepdims=True)) / self._temperature)
            look = _rows_normalized(np.einsum("nk,nkd->nd", weights, self.look_old[idx]))
            u = _rows_normalized(u + self._gamma * look)
        sims = u @ self.ref_old.T
        level = -np.partition(-sims, self._level, axis=1)[:, self._level]
        out = u @ self.back
        out -= level[:, None] * self.norm_dir[None, :]
        return out

    def _apply_one(self, x: np.ndarray) -> np.ndarray:
        # The same computation as ``apply`` for one query, in as few numpy calls as it takes.
        y = x @ self._fused
        u = y[: self._width]
        u -= self._shift
        u *= 1.0 / max(math.sqrt(u @ u), 1e-30)
        if self._gamma > 0:
            top, idx = self._nearest(x, y[self._width :])
            weights = np.exp((top - top.max()) / self._temperature)
            look = weights @ self.look_old[idx]
            u += (self._gamma / max(math.sqrt(look @ look), 1e-30)) * look
            u *= 1.0 / max(math.sqrt(u @ u), 1e-30)
        level = np.partition(self.ref_old @ u, self._pos)[self._pos]
        out = u @ self.back
        out -= level * self.norm_dir
        return out

    def _nearest(self, x: np.ndarray, near: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Similarities and row numbers of the query's nearest docs among the probed lists
        (``near``: the query's similarity to each list, when already at hand)."""
        if self._probes < len(self.lists):
            near = self.lists @ x if near is None else near
            cut = len(near) - self._probes
            chosen = [self._list_rows[i] for i in np.argpartition(near, cut)[cut:].tolist()]
        else:
            chosen = self._list_rows
        sims = np.concatenate([rows @ x for rows, _ in chosen])
        numbers = np.concatenate([numbers for _, numbers in chosen])
        k = min(self._neighbours, len(sims))
        best = np.argpartition(sims, len(sims) - k)[len(sims) - k :]
        return sims[best], numbers[best]

    def _nearest_rows(self, x: np.ndarray, near: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_nearest` for a batch: each list scanned once for the rows that probe it
        (slots no list fills hold -inf, which weighs nothing)."""
        n, probes = len(x), self._probes
        cut = near.shape[1] - probes
        probed = np.argpartition(near, cut, axis=1)[:, cut:]
        sims = np.full((n, probes, self._longest), -np.inf, np.float32)
        numbers = np.zeros((n, probes, self._longest), np.int64)
        for i in np.unique(probed).tolist():
            rows, slots = np.nonzero(probed == i)
            block, block_numbers = self._list_rows[i]
            sims[rows, slots, : len(block_numbers)] = x[rows] @ block.T
            numbers[rows, slots, : len(block_numbers)] = block_numbers
        sims, numbers = sims.reshape(n, -1), numbers.reshape(n, -1)
        k = min(self._neighbours, sims.shape[1])
        best = np.argpartition(sims, sims.shape[1] - k, axis=1)[:, sims.shape[1] - k :]
        return np.take_along_axis(sims, best, 1), np.take_along_axis(numbers, best, 1)


def _spherical_kmeans(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """List number of each unit row: k-means on the sphere (cosine), seeded."""
    centroids = x[rng.choice(len(x), k, replace=False)]
    for _ in range(KMEANS_ROUNDS):
        assign = np.argmax(x @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, x)
        filled = np.bincount(assign, minlength=k) > 0
        centroids = np.where(filled[:, None], _rows_normalized(sums), centroids)
    return np.argmax(x @ centroids.T, axis=1)


def reference_index(new: np.ndarray, old: np.ndarray, lists: int, seed: int = 0
                    ) -> dict[str, np.ndarray]:
    """The neighbour lookup's arrays: docs grouped by k-means list (new vectors ``new``,
    their whitened old vectors ``old``), the lists' centroids and ends."""
    unit = _rows_normalized(new.astype(np.float64))
    k = max(1, min(lists, len(new) // 8))
    assign = _spherical_kmeans(unit, k, np.random.default_rng(seed)) if k > 1 else (
        np.zeros(len(new), np.int64))
    order = np.argsort(assign, kind="stable")
    counts = np.bincount(assign, minlength=k)
    sums = np.zeros((k, new.shape[1]))
    np.add.at(sums, assign, unit)
    keep = counts > 0
    return {"ref_new": new[order], "look_old": old[order],
            "lists": _rows_normalized(sums[keep]), "list_ends": np.cumsum(counts[keep])}


def _held_out_score(rounds: Sequence[np.ndarray]) -> float:
    """A candidate's selection score: the mean over rounds of its per-query terms' mean."""
    return float(np.mean([terms.mean() for terms in rounds]))


def _matrix_power(eig: tuple[np.ndarray, np.ndarray], power: float, shrinkage: float
                  ) -> np.ndarray:
    """``cov ** -power`` from ``np.linalg.eigh(cov)``, shrunk toward its mean eigenvalue."""
    values, vectors = eig
    values = np.maximum(values, 0.0) + shrinkage * max(values.mean(), 1e-12)
    return (vectors * values ** (-power)) @ vectors.T


@register
@dataclass
class Whitened:
    """Whitened, correlation-weighted rotation + per-query norm-bias correction (+ lookup).

    Options: ``settings`` (whitening powers and correlation weightings: held-out retrieval
    picks one, or with ``average`` their rotations are averaged into one), ``gammas``
    (lookup blend candidates; 0 disables the lookup), ``shrinkage`` (covariance
    regularisation, relative to the mean eigenvalue), ``temperature`` and ``neighbours`` of
    the lookup, ``level_rank`` (which reference cosine sets the per-query level, counted
    among every training doc), ``references`` (rows the level is read from: a sample),
    ``lists`` and ``probes`` (the lookup's index: lists, lists scanned per query). The last
    three trade a little quality for a per-query cost that stays flat in the pairs.

    Why ``average``, and why on: which whitening power suits real queries is what held-out
    data cannot tell. On the debian pairs, held-out documents and logged queries alike ranked
    last the setting real queries ranked first on two pairs of three. Each setting's rotation,
    scaled by the typical length of its output on the training docs so that each weighs the
    same, summed into one matrix, came within 0.005 of the best setting there, at one
    setting's cost; on the demo's corpus it measured 0.727 where the chosen setting measured
    0.72-0.753 over three samples (benchmarks/README.md, "Stop 23" and "Stop 28").

    The averaged map scores lower on held-out documents (the same blind spot), so ``auto``
    does not judge the kind by it: held-out data can still tell whether whitening beats the
    other kinds, just not which power, so the best single setting's map (``judged_by``, built
    on the same pairs) is what ``auto`` scores, and the averaged one is what serves. Judged by
    the averaged map itself, ``auto`` passed it over for Procrustes on small samples (the
    demo: 0.63 instead of 0.73). Settings averaged must share the old side's whitening power:
    the back-transform and the level's reference rows depend on it. ``average=False`` serves
    the chosen setting instead.
    """

    settings: Sequence[Sequence[float]] = DEFAULT_SETTINGS
    gammas: Sequence[float] = DEFAULT_GAMMAS
    average: bool = True
    # False once the hyperparameters are chosen (:meth:`frozen`): a refit builds the served
    # map only, with no selection and no map for auto to judge the kind by
    choose: bool = True
    shrinkage: float = 0.1
    temperature: float = 0.02
    neighbours: int = 50
    level_rank: int = 3
    selection_rounds: int = 2
    references: int = 256
    lists: int = 128
    probes: int = 4

    name: ClassVar[str] = "whitened"
    needs_torch: ClassVar[bool] = False
    # its output is a corrected inner-product query (norm-bias term), not the legacy vector
    inner_product_only: ClassVar[bool] = True

    def min_pairs(self, new_dim: int, old_dim: int) -> int:
        return max(100, 2 * self.neighbours)

    def __post_init__(self) -> None:
        for key in ("references", "lists", "probes"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"whitened {key} must be >= 1, got {getattr(self, key)}")
        if not len(self.settings) or not len(self.gammas):
            raise ValueError("whitened needs at least one setting and one gamma")
        if self.average and len({float(s[1]) for s in self.settings}) > 1:
            raise ValueError("whitened settings averaged must share the old side's power "
                             f"(their second value), got {[tuple(s) for s in self.settings]}; "
                             "pass average=False to choose one of them instead")
        if not self.choose and (len(self.gammas) > 1
                                or (len(self.settings) > 1 and not self.average)):
            raise ValueError("whitened with choose=False needs one gamma and one setting "
                             "(or settings averaged): there is nothing it may choose among")

    def build(self, new: np.ndarray, old: np.ndarray, settings: Sequence[Sequence[float]],
              gamma: float) -> WhitenedMap:
        """The map of ``settings`` (one, or several averaged) and lookup blend ``gamma``."""
        return self.build_each(new, old, [settings], gamma)[0]

    def build_each(self, new: np.ndarray, old: np.ndarray,
                   groups: Sequence[Sequence[Sequence[float]]], gamma: float
                   ) -> list[WhitenedMap]:
        """:meth:`build` for each group of settings, from one pass over the pairs: the
        covariances, and per old-side power its whitening, norm direction, reference rows
        and lookup, are the same for every group (they are most of a build's time)."""
        x = new.astype(np.float64)
        y = old.astype(np.float64)
        x_mean, y_mean = x.mean(0), y.mean(0)
        xc, yc = x - x_mean, y - y_mean
        n = len(x)
        cross = xc.T @ yc / n
        eig_old = np.linalg.eigh(yc.T @ yc / n)
        eig_new = np.linalg.eigh(xc.T @ xc / n)
        old_sides: dict[float, dict[str, np.ndarray]] = {}
        maps = []
        for settings in groups:
            power_old = float(settings[0][1])
            if power_old not in old_sides:
                old_sides[power_old] = self._old_side(new, y, yc, eig_old, power_old, gamma)
            side = old_sides[power_old]
            white_old = side["back"].T
            rotation = np.zeros((x.shape[1], y.shape[1]))
            for power_new, _, correlation_power in settings:
                white_new = _matrix_power(eig_new, float(power_new), self.shrinkage)
                u, s, vt = np.linalg.svd(white_new @ cross @ white_old, full_matrices=False)
                weights = (s / max(s.max(), 1e-12)) ** float(correlation_power)
                one = white_new @ (u * weights) @ vt
                # each setting weighs the same: its output's typical length on the docs is 1
                rotation += one / max(float(np.median(np.linalg.norm(xc @ one, axis=1))),
                                      1e-12)
            maps.append(WhitenedMap(x_mean=x_mean, rotation=rotation, **side))
        return maps

    def _old_side(self, new: np.ndarray, y: np.ndarray, yc: np.ndarray,
                  eig_old: tuple[np.ndarray, np.ndarray], power: float, gamma: float
                  ) -> dict[str, np.ndarray]:
        """A map's arrays that depend on the old side's whitening ``power`` only (and on
        ``gamma`` for the lookup): the back-transform, the norm direction, the level's
        reference rows, the lookup's index, the settings row."""
        n = len(y)
        white_old = _matrix_power(eig_old, power, self.shrinkage)
        z = yc @ white_old
        z_norm = np.linalg.norm(z, axis=1)
        design = np.c_[y, np.ones(n)]
        norm_dir = np.linalg.lstsq(design, z_norm, rcond=None)[0][:-1]
        ref_old = z / np.maximum(z_norm, 1e-12)[:, None]
        if gamma > 0:
            index = reference_index(new, ref_old, self.lists)
        else:
            empty = np.zeros((0, new.shape[1]), np.float32)
            index = {"ref_new": empty, "look_old": empty, "lists": empty,
                     "list_ends": np.zeros(0)}
        # the level: the level_rank-th best of n docs is about the same quantile of a sample
        rows = n
        if n > self.references:
            rows = self.references
            ref_old = ref_old[np.sort(np.random.default_rng(0).choice(n, rows, replace=False))]
        level_rank = max(1, round(self.level_rank * rows / n))
        return {"back": white_old.T, "norm_dir": norm_dir, "ref_old": ref_old, **index,
                "settings": np.array([gamma, self.temperature, self.neighbours, level_rank,
                                      self.probes])}

    def _settings(self) -> tuple[tuple[float, ...], ...]:
        return tuple(tuple(float(v) for v in s) for s in self.settings)

    def _candidates(self) -> list[tuple[tuple[tuple[float, ...], ...], float]]:
        """(settings, gamma) pairs held-out retrieval chooses among: one setting each (with
        ``average``, the best one is what ``auto`` judges the kind by)."""
        return [((s,), float(g)) for s in self._settings() for g in self.gammas]

    def __call__(self, new: np.ndarray, old: np.ndarray, ctx: FitContext) -> Map:
        candidates = self._candidates()
        self.judged_by: Map | None = None
        if not self.choose:
            self.selected = (self._settings(), float(self.gammas[0]))
            return self.build(new, old, *self.selected)
        if len(candidates) > 1:
            terms: dict[tuple, list[np.ndarray]] = {c: [] for c in candidates}
            for _ in range(self.selection_rounds):
                train, val = split_indices(len(new), 0.4, ctx.rng)
                for gamma in dict.fromkeys(g for _, g in candidates):
                    groups = [settings for settings, g in candidates if g == gamma]
                    built = self.build_each(new[train], old[train], groups, gamma)
                    for settings, one in zip(groups, built):
                        terms[(settings, gamma)].append(
                            ctx.selection_terms(one, new[val], old[val]))
            best = self._choose(terms)
            ctx.log(f"{self.name}: {'best' if self.average else 'chose'} setting {best[0]} "
                    f"gamma {best[1]} (held-out score {_held_out_score(terms[best]):.4f})")
        else:
            best = candidates[0]
        if not self.average or len(self.settings) == 1:
            self.selected = best
            return self.build(new, old, *best)
        self.selected = (self._settings(), best[1])
        self.judged_by, served = self.build_each(new, old, [best[0], self._settings()], best[1])
        ctx.log(f"{self.name}: serving the {len(self.settings)} settings averaged")
        return served

    @staticmethod
    def _choose(rounds: dict[tuple, list[np.ndarray]]) -> tuple:
        """The best candidate by held-out score (``rounds``: each candidate's per-query terms,
        one array per selection round), but a neighbour lookup only where it beats the best
        candidate without one clearly (:func:`.quality.clearly_better`): on real queries it
        lost 0.01-0.03 Recall@10 wherever it had won the held-out score narrowly
        (benchmarks/README.md, "Stop 23")."""
        def score(candidate: tuple) -> float:
            return _held_out_score(rounds[candidate])

        best = max(rounds, key=score)
        plain = [c for c in rounds if c[1] == 0.0]
        if best[1] == 0.0 or not plain:
            return best
        best_plain = max(plain, key=score)
        return best if clearly_better(rounds[best], rounds[best_plain]) else best_plain

    def frozen(self) -> "Whitened":
        settings, gamma = self.selected
        return replace(self, settings=settings, gammas=(gamma,), choose=False)
