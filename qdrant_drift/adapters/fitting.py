"""``fit``: the one controller every adapter kind goes through.

It validates the pairs, holds out a share of the DOCUMENTS that no fitter ever sees, fits,
writes the pre-flight quality report by searching the held-out documents only (with the
logged queries when given, see :mod:`.quality`), then (by default) refits on every pair with
the hyperparameters already chosen, so no training data is wasted. Logged queries choose
hyperparameters and kinds; they are never regression targets (the old model's vectors of
the same queries, tried as targets, pulled every pair of benchmarks/README.md down).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from .._version import __version__
from ..errors import InvalidVectorsError, NoPreflightReport
from ..vectors import as_pairs, l2_normalize
from ..scores import METRIC_DISTANCES
from .base import DISTANCES, Adapter, Distance, ModelFingerprint
from .kinds import KINDS, FitContext, Log, register, split_indices
from .maps import Map
from .calibration import fit_calibration, fit_old_query_calibration
from .cost import DEFAULT_MAX_TRANSFORM_US, transform_costs_us
from .quality import K, preflight_report

MIN_PREFLIGHT_PAIRS = 4 * (K + 1)  # a quarter held out: K + 1 documents at least


def _torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _as_served(fitted: Map, distance: str) -> Any:
    """The map as Qdrant scores it: cosine collections normalise the query."""
    if distance == "cosine":
        return lambda x: l2_normalize(fitted.apply(x))
    return fitted.apply


def make_fitter(kind: str, **options: Any) -> Any:
    """Instantiate the fitter registered under ``kind`` with its options."""
    try:
        cls = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown adapter kind {kind!r}; known: {sorted(KINDS)}") from None
    try:
        return cls(**options)
    except TypeError as exc:
        raise ValueError(f"bad options for adapter kind {kind!r}: {exc}") from None


def served_costs_us(fitted: dict[str, Map], distance: str, queries: np.ndarray
                    ) -> dict[str, float]:
    """Microseconds per query of each map as the query path runs it (``Adapter.transform``
    on one query: checks, map, normalisation), timed side by side here and now (see
    :func:`.cost.transform_costs_us`)."""
    def served(map_: Map) -> Any:
        fingerprint = ModelFingerprint(None, None, map_.in_dim, map_.out_dim)
        return Adapter(kind=map_.name, map=map_, fingerprint=fingerprint,
                       distance=distance).transform  # type: ignore[arg-type]

    return transform_costs_us({name: served(m) for name, m in fitted.items()}, queries)


# auto times a would-be winner over the budget again (up to SECOND_LOOKS times, pausing
# between) when it measured within this factor of the budget
SECOND_LOOK_FACTOR = 2.0
SECOND_LOOKS = 3
SECOND_LOOK_PAUSE_S = 0.25


@register
@dataclass
class Auto:
    """Fits several kinds and keeps the one with the best held-out RETRIEVAL score among
    those whose single-query transform fits ``max_transform_us`` (measured; None: no
    budget). When none fits, the cheapest is kept, and the log says so. A kind is scored by
    its ``judged_by`` map where it sets one (see :class:`.whitened.Whitened`), its cost by
    the map it serves."""

    candidates: Sequence[str] | None = None
    max_transform_us: float | None = DEFAULT_MAX_TRANSFORM_US

    name: ClassVar[str] = "auto"
    needs_torch: ClassVar[bool] = False
    DEFAULT: ClassVar[tuple[str, ...]] = (
        "procrustes", "affine", "low_rank_affine", "lambda_orthogonal", "residual_mlp",
        "whitened",
    )

    def kinds(self, distance: str = "cosine") -> list[str]:
        chosen = list(self.candidates or self.DEFAULT)
        if "auto" in chosen:
            raise ValueError("auto cannot be one of its own candidates")
        if distance in METRIC_DISTANCES and self.candidates is None:
            chosen = [k for k in chosen if not _inner_product_only(k)]
        if not _torch_available():
            skipped = [k for k in chosen if KINDS[k].needs_torch]
            if skipped and self.candidates is None:
                warnings.warn(f"torch not installed: auto skips {skipped}", stacklevel=4)
                chosen = [k for k in chosen if not KINDS[k].needs_torch]
        return chosen

    def min_pairs(self, new_dim: int, old_dim: int) -> int:
        return max(make_fitter(k).min_pairs(new_dim, old_dim) for k in self.kinds())

    def __call__(self, new: np.ndarray, old: np.ndarray, ctx: FitContext) -> Map:
        train, val = split_indices(len(new), 0.2, ctx.rng)
        scores: dict[str, float] = {}
        fitted: dict[str, Map] = {}
        for kind in self.kinds(ctx.distance):
            started = time.perf_counter()
            fitter = make_fitter(kind)
            fitted[kind] = fitter(new[train], old[train], ctx)
            judged = getattr(fitter, "judged_by", None)
            judged = fitted[kind] if judged is None else judged
            scores[kind] = ctx.selection_score(judged, new[val], old[val])
            ctx.log(f"auto: {kind} held-out score {scores[kind]:.4f} "
                    f"({time.perf_counter() - started:.1f}s)")
        costs = served_costs_us(fitted, ctx.distance, new[val])  # side by side
        costs = self._second_look(costs, scores, fitted, ctx, new[val])
        ctx.log("auto: transform us per query: " + ", ".join(
            f"{kind} {cost:.1f}" for kind, cost in costs.items()))
        budget = self.max_transform_us
        self.passed_over = [k for k in scores if budget is not None and costs[k] > budget]
        within = [k for k in scores if k not in self.passed_over]
        if within:
            self.chosen = max(within, key=scores.__getitem__)
        else:
            self.chosen = min(costs, key=costs.__getitem__)
            ctx.log(f"auto: no kind within {budget:g} us per query: keeping the cheapest")
        self.scores, self.costs = scores, costs
        if self.passed_over:
            ctx.log(f"auto: passed over {self.passed_over} (over {budget:g} us per query)")
        ctx.log(f"auto: chose {self.chosen}")
        self._winner = make_fitter(self.chosen)
        return self._winner(new, old, ctx)

    def frozen(self) -> Any:
        return self._winner.frozen()

    def _second_look(self, costs: dict[str, float], scores: dict[str, float],
                     fitted: dict[str, Map], ctx: FitContext, queries: np.ndarray
                     ) -> dict[str, float]:
        """Time again, after a pause, a kind that would win but measured over the budget by
        less than :data:`SECOND_LOOK_FACTOR`: a fit often runs beside other work, and one
        busy moment must not cost users the better adapter for the whole migration (on
        this 2-core class a neighbour's load put ``whitened`` at 1.5-1.8x its quiet cost
        and over the budget). A kind stays passed over if no look brings it within."""
        budget = self.max_transform_us
        if budget is None:
            return costs
        bar = max((scores[k] for k in scores if costs[k] <= budget), default=-np.inf)
        contenders = {k: fitted[k] for k in scores
                      if budget < costs[k] <= SECOND_LOOK_FACTOR * budget and scores[k] > bar}
        for _ in range(SECOND_LOOKS):
            if not contenders:
                break
            time.sleep(SECOND_LOOK_PAUSE_S)
            for kind, us in served_costs_us(contenders, ctx.distance, queries).items():
                costs[kind] = min(costs[kind], us)
            contenders = {k: m for k, m in contenders.items() if costs[k] > budget}
        return costs


def _inner_product_only(kind: str) -> bool:
    return bool(getattr(KINDS[kind], "inner_product_only", False))


def _check_kind_serves(fitter: Any, kind: str, distance: str) -> None:
    """A Euclid or Manhattan collection scores the distance to the predicted vector itself:
    a kind whose output is only an inner-product query cannot serve it."""
    if distance not in METRIC_DISTANCES:
        return
    kinds = fitter.kinds(distance) if isinstance(fitter, Auto) else [kind]
    bad = [k for k in kinds if _inner_product_only(k)]
    if bad:
        raise ValueError(f"adapter kind(s) {bad} rank by inner product and cannot serve a "
                         f"{distance} collection: choose affine, procrustes or another kind")


def _logged_queries(
    queries: np.ndarray | None, old_queries: np.ndarray | None, new: np.ndarray,
    old: np.ndarray, distance: str,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Validated logged query vectors (all-zero rows, e.g. no known term, are dropped)."""
    if queries is None:
        if old_queries is not None:
            raise ValueError("old_queries needs queries: the same queries by the new model")
        return None, None
    q = np.asarray(queries, dtype=np.float32)
    if q.ndim != 2 or q.shape[1] != new.shape[1] or not np.isfinite(q).all():
        raise InvalidVectorsError(
            f"queries must be finite {new.shape[1]}-d new-model vectors, got shape {q.shape}")
    oq = None
    if old_queries is not None:
        oq = np.asarray(old_queries, dtype=np.float32)
        if oq.shape != (len(q), old.shape[1]) or not np.isfinite(oq).all():
            raise InvalidVectorsError(
                f"old_queries must be {len(q)} finite {old.shape[1]}-d old-model vectors "
                f"(one per query), got shape {oq.shape}")
    keep = np.linalg.norm(q, axis=1) > 0
    if oq is not None:
        keep &= np.linalg.norm(oq, axis=1) > 0
    q = q[keep]
    oq = None if oq is None else oq[keep]
    if distance == "cosine":
        q = l2_normalize(q)
        oq = None if oq is None else l2_normalize(oq)
    return (q, oq) if len(q) else (None, None)


def preflight_pairs(fitter: Any, new_dim: int, old_dim: int) -> int:
    """Pairs a sample needs for a pre-flight report: enough to fit on what is not held out,
    and more than 10 held-out documents (the report ranks each one's top 10 among the
    others), i.e. at least MIN_PREFLIGHT_PAIRS."""
    return max(2 * fitter.min_pairs(new_dim, old_dim), MIN_PREFLIGHT_PAIRS)


def fit(
    kind: str,
    new_vectors: np.ndarray,
    old_vectors: np.ndarray,
    *,
    new_model: str | None = None,
    old_model: str | None = None,
    distance: Distance = "cosine",
    holdout: float = 0.2,
    refit: bool = True,
    seed: int = 0,
    device: str = "auto",
    log: Log | None = None,
    queries: np.ndarray | None = None,
    old_queries: np.ndarray | None = None,
    max_transform_us: float | None = DEFAULT_MAX_TRANSFORM_US,
    corpus_size: int | None = None,
    **options: Any,
) -> Adapter:
    """Fit an adapter mapping NEW-model vectors into the OLD model's space.

    ``new_vectors[i]`` and ``old_vectors[i]`` must embed the same item. ``holdout`` is the
    share of pairs kept out of training to write the pre-flight quality report (0 disables
    the report). ``queries``: logged queries embedded by the new model (no relevance labels):
    hyperparameters and ``auto``'s kind are chosen by how candidates search for them, and the
    pre-flight predicts from them. ``old_queries``: the same queries by the old model, when
    it is still available (the old model's own baseline in the drastic-drift verdict).
    ``distance``: the collection's (``cosine`` fits and serves unit vectors; ``dot``,
    ``euclid`` and ``manhattan`` predict the legacy vector, norm included, and every held-out
    ranking uses the collection's own metric).
    ``max_transform_us``: the per-query budget of the transform (single query, p50,
    measured on this machine): ``auto`` passes over kinds that cost more; a named kind over
    it is fitted all the same, with a warning. None: no budget. The measured cost of the
    result is ``info["transform_us_p50"]``.
    ``corpus_size``: how many points the adapter will search (the collection's), when known:
    the pre-flight's interval reaches out to a corpus that size (see :mod:`.quality`).
    Options are passed to the kind (e.g. ``center=False`` for procrustes).
    """
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    if max_transform_us is not None and not max_transform_us > 0:
        raise ValueError(f"max_transform_us must be > 0 (or None), got {max_transform_us}")
    fitter = make_fitter(kind, **options)
    if isinstance(fitter, Auto):
        fitter.max_transform_us = max_transform_us
    _check_kind_serves(fitter, kind, distance)
    new, old = as_pairs(new_vectors, old_vectors)
    if distance == "cosine":
        new, old = l2_normalize(new), l2_normalize(old)
    needed = fitter.min_pairs(new.shape[1], old.shape[1])
    if len(new) < needed:
        raise InvalidVectorsError(
            f"adapter kind {kind!r} needs at least {needed} pairs, got {len(new)}"
        )
    if len(new) < new.shape[1]:
        warnings.warn(
            f"only {len(new)} pairs for {new.shape[1]}-d vectors: the map is underdetermined "
            "and relies on its regularisation; a few thousand pairs are recommended",
            stacklevel=2,
        )
    logged, old_logged = _logged_queries(queries, old_queries, new, old, distance)
    ctx = FitContext(seed=seed, log=log or (lambda _: None), device=device, queries=logged,
                     distance=distance)
    started = time.perf_counter()
    quality = calibration = None
    report_needs = preflight_pairs(fitter, new.shape[1], old.shape[1])
    if holdout > 0 and len(new) >= report_needs:
        train, held = split_indices(len(new), holdout, ctx.rng, minimum=min(50, len(new) // 4))
        fitted = fitter(new[train], old[train], ctx)
        ctx.log("computing the pre-flight quality report on held-out pairs")
        quality = preflight_report(_as_served(fitted, distance), new[held], old[held],
                                   queries=logged, old_queries=old_logged, seed=seed,
                                   distance=distance, corpus_size=corpus_size)
        calibration = {
            "calibration": fit_calibration(_as_served(fitted, distance), new[held], old[held],
                                           distance=distance).to_dict(),
            "old_calibration": fit_old_query_calibration(new[held], old[held],
                                                         distance=distance).to_dict(),
        }
        if refit:
            ctx.log(f"refitting {kind} on all {len(new)} pairs")
            fitted = fitter.frozen()(new, old, ctx)
    else:
        if holdout > 0:
            warnings.warn(f"{len(new)} pairs are below the {report_needs} the pre-flight "
                          "quality report needs: no pre-flight report", NoPreflightReport,
                          stacklevel=2)
        fitted = fitter(new, old, ctx)
    fit_seconds = round(time.perf_counter() - started, 3)
    cost = served_costs_us({"": fitted}, distance, new)[""]
    info: dict[str, Any] = {
        "pairs": int(len(new)),
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()},
        "seed": seed,
        "logged_queries": 0 if logged is None else int(len(logged)),
        "fit_seconds": fit_seconds,
        "library_version": __version__,
        "transform_us_p50": round(cost, 2),
        "max_transform_us": max_transform_us,
    }
    if quality is not None:
        info["quality"] = quality
        info.update(calibration or {})
    elif holdout > 0:  # what a report would have needed, for whoever reads why there is none
        info["preflight_pairs"] = report_needs
    if isinstance(fitter, Auto):
        info["auto"] = {"chosen": fitter.chosen, "scores": fitter.scores,
                        "transform_us": {k: round(v, 2) for k, v in fitter.costs.items()},
                        "passed_over": list(fitter.passed_over)}
        kind = fitter.chosen
    elif max_transform_us is not None and cost > max_transform_us:
        warnings.warn(f"the {kind} adapter costs {cost:.0f} us per query here, over the "
                      f"{max_transform_us:g} us budget (auto would pass it over)",
                      stacklevel=2)
    fingerprint = ModelFingerprint(
        new_model=new_model, old_model=old_model, new_dim=int(new.shape[1]),
        old_dim=int(old.shape[1]),
    )
    return Adapter(kind=kind, map=fitted, fingerprint=fingerprint, distance=distance, info=info)
