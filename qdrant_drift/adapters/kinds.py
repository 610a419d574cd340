"""The fitter protocol and the registry of adapter kinds.

Like tenacity's strategies, each kind is a small callable object configured at construction
(``Procrustes(center=True)``) and called by one controller (:func:`qdrant_drift.adapters.fit`)
with the training pairs. A fitter returns a numpy :class:`~.maps.Map`; it never sees the
held-out pairs used for the pre-flight report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar, Protocol

import numpy as np

from .maps import Map

Log = Callable[[str], None]


def _silent(_: str) -> None:
    return None


@dataclass
class FitContext:
    """What a fitter may use besides its pairs: randomness, a log, a device, the scorer and
    the logged queries the scorer searches with (validation documents are never fitted on,
    so a candidate is never chosen by answers it has seen)."""

    seed: int = 0
    log: Log = _silent
    device: str = "auto"
    # held-out retrieval score of a candidate map on validation pairs (higher is better)
    score: Callable[[Map, np.ndarray, np.ndarray], float] | None = None
    # logged new-model query vectors: candidates are chosen by how they search for these
    queries: np.ndarray | None = None
    # the collection's distance: the scorer ranks as Qdrant will (L2 for euclid, ...)
    distance: str = "cosine"

    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def selection_score(self, candidate: Map, new: np.ndarray, old: np.ndarray) -> float:
        terms = self.selection_terms(candidate, new, old)
        return float(terms.mean()) if len(terms) else 0.0

    def selection_terms(self, candidate: Map, new: np.ndarray, old: np.ndarray
                        ) -> np.ndarray:
        """Per held-out query, its share of the score (one term for a custom scorer)."""
        if self.score is None:
            from .quality import selection_terms

            return selection_terms(candidate, new, old, self.queries, self.distance)
        return np.array([self.score(candidate, new, old)])


class Fitter(Protocol):
    name: ClassVar[str]
    needs_torch: ClassVar[bool]
    # True: the map's output is a query for inner-product search, not a predicted vector, so
    # it cannot serve Euclid or Manhattan collections (scored by distance to the vector)
    inner_product_only: ClassVar[bool]

    def min_pairs(self, new_dim: int, old_dim: int) -> int: ...

    def __call__(self, new: np.ndarray, old: np.ndarray, ctx: FitContext) -> Map: ...

    # Optional, set by a call: the map ``auto`` should score this kind by, when the served
    # one is a map held-out data misjudges (``whitened``'s averaged settings); None: the
    # served map itself.
    judged_by: Map | None

    def frozen(self) -> "Fitter":
        """This fitter with the hyperparameters its last call selected held fixed, so a refit
        on more pairs reuses them instead of searching again."""
        ...


KINDS: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator adding a fitter to :data:`KINDS` under its ``name``."""
    KINDS[cls.name] = cls
    return cls


def split_indices(
    n: int, fraction: float, rng: np.random.Generator, *, minimum: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Random (train, validation) index split; validation gets ``fraction`` but >= ``minimum``."""
    n_val = min(max(int(round(n * fraction)), minimum), n // 2)
    order = rng.permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])
