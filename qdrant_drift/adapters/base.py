"""The :class:`Adapter`: a fitted map plus what it was fitted for.

The adapter is what crosses process boundaries (saved to disk, stored in Qdrant, loaded by
every serving replica), so it carries a fingerprint of the models and dimensions it belongs
to and refuses to serve anything else.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .calibration import Calibration
from ..errors import AdapterMismatchError, InvalidVectorsError
from ..scores import DISTANCES, Distance
from ..vectors import as_matrix, l2_normalize
from .maps import Map

__all__ = ["Adapter", "DISTANCES", "Distance", "ModelFingerprint"]


@dataclass(frozen=True)
class ModelFingerprint:
    """Identity of the (new model -> old model) pair an adapter maps between."""

    new_model: str | None
    old_model: str | None
    new_dim: int
    old_dim: int

    @property
    def digest(self) -> str:
        """Short stable hash: equal digests mean the adapter fits the same models and dims."""
        payload = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]

    def check(
        self,
        *,
        new_model: str | None = None,
        old_model: str | None = None,
        new_dim: int | None = None,
        old_dim: int | None = None,
    ) -> None:
        """Raise :class:`AdapterMismatchError` naming every expectation this fingerprint breaks."""
        problems = []
        for label, expected, actual in (
            ("new model", new_model, self.new_model),
            ("old model", old_model, self.old_model),
            ("new dimension", new_dim, self.new_dim),
            ("old dimension", old_dim, self.old_dim),
        ):
            if expected is not None and expected != actual:
                problems.append(f"{label}: adapter has {actual!r}, expected {expected!r}")
        if problems:
            raise AdapterMismatchError(
                "adapter does not fit these models: " + "; ".join(problems)
            )


@dataclass
class Adapter:
    """Maps new-model query vectors into the legacy (old-model) embedding space.

    ``transform`` is plain numpy and safe on the query path (no torch import anywhere here).
    """

    kind: str
    map: Map
    fingerprint: ModelFingerprint
    distance: Distance = "cosine"
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.distance not in DISTANCES:
            raise ValueError(f"distance must be one of {DISTANCES}, got {self.distance!r}")
        if (self.map.in_dim, self.map.out_dim) != (
            self.fingerprint.new_dim,
            self.fingerprint.old_dim,
        ):
            raise AdapterMismatchError(
                f"map is {self.map.in_dim}->{self.map.out_dim} but the fingerprint says "
                f"{self.fingerprint.new_dim}->{self.fingerprint.old_dim}"
            )
        self._normalize = self.distance == "cosine"
        self._in_dim = self.fingerprint.new_dim
        self._apply = self.map.apply  # bound once: the single-query path is microseconds

    @property
    def new_dim(self) -> int:
        return self.fingerprint.new_dim

    @property
    def old_dim(self) -> int:
        return self.fingerprint.old_dim

    @property
    def calibration(self) -> Calibration:
        """Maps this adapter's search scores onto the new model's native score scale."""
        return Calibration.from_dict(self.info.get("calibration"))

    @property
    def old_calibration(self) -> Calibration:
        """Maps the OLD model's own query scores onto the new model's scale (for apps that
        pass an old-model query for the legacy side)."""
        return Calibration.from_dict(self.info.get("old_calibration"))

    @property
    def quality(self) -> dict[str, Any] | None:
        """The pre-flight quality report computed when the adapter was fitted, if any."""
        return self.info.get("quality")

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Map one vector (d_new,) or a batch (n, d_new) into the old space, as float32.

        For cosine collections the output is unit-normalised; for the others it is the
        predicted legacy vector as it is (Dot, Euclid and Manhattan scores see its norm). An
        all-zero input carries no information and maps to an all-zero output, whatever the
        map's offset: what the plain client does with it, not a confident guess.
        """
        if type(x) is np.ndarray and x.ndim == 1 and x.dtype == np.float32:
            return self._transform_one(x)
        arr = np.asarray(x, dtype=np.float32)
        if arr.ndim == 1:
            return self._transform_one(arr)
        arr = as_matrix(arr, name="query vectors", dim=self._in_dim)
        y = self.map.apply(arr)
        y[~arr.any(axis=1)] = 0.0
        return l2_normalize(y) if self._normalize else y

    def _transform_one(self, x: np.ndarray) -> np.ndarray:
        # The hot path: one query. Checks are folded into the output test (NaN and inf in the
        # input propagate through the products) to stay near the bare GEMV cost.
        if x.shape[0] != self._in_dim:
            raise InvalidVectorsError(
                f"query vector: expected dimension {self._in_dim}, got {x.shape[0]}"
            )
        if not x.any():
            return np.zeros(self.fingerprint.old_dim, dtype=np.float32)
        y = self._apply(x)
        sq = y.dot(y)
        if not math.isfinite(sq):
            raise InvalidVectorsError("query vector contains NaN or inf")
        if self._normalize and sq > 0.0:
            y *= 1.0 / math.sqrt(sq)
        return y

    def check(self, **expected: Any) -> None:
        """Raise :class:`AdapterMismatchError` if the adapter was fitted for other models/dims."""
        self.fingerprint.check(**expected)

    def save(self, path: str) -> None:
        from .io import save_adapter

        save_adapter(self, path)

    def __repr__(self) -> str:
        fp = self.fingerprint
        return (
            f"Adapter(kind={self.kind!r}, {fp.new_model or '?'}[{fp.new_dim}] -> "
            f"{fp.old_model or '?'}[{fp.old_dim}], distance={self.distance!r})"
        )


