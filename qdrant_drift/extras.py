"""Optional dependencies, each behind one named extra: a missing one is one clear error.

The core install is what an app that wraps its client needs. Everything heavier is an
extra, imported only by the feature that needs it, through :func:`require`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

# module -> (extra that brings it, what needs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "torch": ("train", "this adapter kind is trained with torch"),
    "sentence_transformers": ("embed", "the sentence-transformers embedder"),
    "matplotlib": ("report", "`report` (it draws the migration's plots)"),
    "faiss": ("bench", "benchmarks, the demo and retrieval evaluation (exact search)"),
    "scipy": ("bench", "`bench router --baseline` (its exact sign test and interval)"),
    "ray": ("ray", "the Ray backfill engine"),
    "llama_index": ("frameworks", '[source] text_from = "llamaindex" (it reads the nodes)'),
}


def require(module: str) -> ModuleType:
    """Import ``module`` (a key of :data:`EXTRAS`), or raise naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra, purpose = EXTRAS[module.split(".")[0]]
        hint = " (install torch==2.13.0 first for the CPU build)" if extra in (
            "train", "embed") else ""
        raise MissingDependencyError(
            f"{purpose} needs the '{extra}' extra: pip install 'qdrant-drift[{extra}]'{hint}"
        ) from exc
