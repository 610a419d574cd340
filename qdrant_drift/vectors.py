"""Validation and normalisation of embedding matrices.

Garbage in would silently become a garbage adapter, so every public entry point that takes
vectors funnels them through :func:`as_matrix` / :func:`as_pairs` first.
"""

from __future__ import annotations

import warnings

import numpy as np

from .errors import InvalidVectorsError


def as_matrix(x: np.ndarray, *, name: str = "vectors", dim: int | None = None) -> np.ndarray:
    """Return ``x`` as a C-contiguous float32 2-D array, or raise a clear error."""
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidVectorsError(f"{name}: cannot be read as a float array ({exc})") from exc
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InvalidVectorsError(f"{name}: expected a 2-D array (n, dim), got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise InvalidVectorsError(f"{name}: vectors have dimension 0")
    if dim is not None and arr.shape[1] != dim:
        raise InvalidVectorsError(f"{name}: expected dimension {dim}, got {arr.shape[1]}")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise InvalidVectorsError(f"{name}: {bad} row(s) contain NaN or inf")
    return np.ascontiguousarray(arr)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Unit-normalise rows; all-zero rows stay zero instead of becoming NaN."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Unit-normalised float32 rows (what a cosine collection stores)."""
    return l2_normalize(np.asarray(x, dtype=np.float32))


def as_pairs(
    new: np.ndarray, old: np.ndarray, *, min_pairs: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Validate paired (new, old) vectors of the same items and drop unusable rows.

    Rows that are all-zero on either side (e.g. a TF-IDF model that knows none of an item's
    words) carry no pairing information; they are dropped with a warning.
    """
    new = as_matrix(new, name="new_vectors")
    old = as_matrix(old, name="old_vectors")
    if new.shape[0] != old.shape[0]:
        raise InvalidVectorsError(
            f"new_vectors has {new.shape[0]} rows but old_vectors has {old.shape[0]}: "
            "row i of both must be the same item"
        )
    usable = (np.abs(new).sum(axis=1) > 0) & (np.abs(old).sum(axis=1) > 0)
    if not usable.all():
        warnings.warn(
            f"dropping {int((~usable).sum())} pair(s) with an all-zero vector", stacklevel=3
        )
        new, old = new[usable], old[usable]
    if new.shape[0] < min_pairs:
        raise InvalidVectorsError(
            f"need at least {min_pairs} usable pairs, got {new.shape[0]}"
        )
    return new, old
