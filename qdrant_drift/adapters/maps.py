"""The numeric forms an adapter can take at query time.

A map is pure numpy: it is what runs on the query path, so it must never import torch and
must stay within a small constant factor of the bare matrix-vector products it is made of.
Every adapter kind, however it was trained, ends up as one of these maps.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np


class Map:
    """A function from new-model vectors (n, d_new) to legacy-space vectors (n, d_old)."""

    name: ClassVar[str]
    array_names: ClassVar[tuple[str, ...]]

    def __init__(self, **arrays: np.ndarray) -> None:
        missing = set(self.array_names) - set(arrays)
        if missing:
            raise ValueError(f"{type(self).__name__} needs arrays {sorted(missing)}")
        for key in self.array_names:
            setattr(self, key, np.ascontiguousarray(arrays[key], dtype=np.float32))

    @property
    def in_dim(self) -> int:
        return int(self.weight_matrices()[0].shape[0])

    @property
    def out_dim(self) -> int:
        return int(self.weight_matrices()[-1].shape[1])

    def arrays(self) -> dict[str, np.ndarray]:
        return {key: getattr(self, key) for key in self.array_names}

    def weight_matrices(self) -> list[np.ndarray]:
        """The matrices a single query is multiplied by: the memory-bound floor of a transform."""
        raise NotImplementedError

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Map a float32 batch (n, d_new) or a single vector (d_new,)."""
        raise NotImplementedError


class LinearMap(Map):
    """``y = x W + b``: Procrustes, ridge affine, low-rank affine and lambda-orthogonal maps."""

    name = "linear"
    array_names = ("weight", "bias")

    def weight_matrices(self) -> list[np.ndarray]:
        return [self.weight]

    def apply(self, x: np.ndarray) -> np.ndarray:
        y = x @ self.weight
        y += self.bias
        return y


class ResidualMLPMap(Map):
    """``y = x W + b + relu(x W1 + b1) W2 + b2``: an affine map plus a small learned residual."""

    name = "residual_mlp"
    array_names = ("weight", "bias", "w1", "b1", "w2", "b2")

    def weight_matrices(self) -> list[np.ndarray]:
        return [self.weight, self.w1, self.w2]

    def apply(self, x: np.ndarray) -> np.ndarray:
        hidden = x @ self.w1
        hidden += self.b1
        np.maximum(hidden, 0.0, out=hidden)
        y = x @ self.weight
        y += hidden @ self.w2
        y += self.bias
        y += self.b2
        return y


MAPS: dict[str, type[Map]] = {cls.name: cls for cls in (LinearMap, ResidualMLPMap)}


def register_map(cls: type[Map]) -> type[Map]:
    """Make a map class loadable from files by its ``name``."""
    MAPS[cls.name] = cls
    return cls
