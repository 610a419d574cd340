"""Adapters: learned maps from a new embedding model's space into a legacy model's space.

``fit(kind, new, old)`` trains one; ``Adapter.transform`` applies it in numpy; adapters are
saved and loaded without pickle. Importing this package never imports torch.
"""

from . import closed_form as _closed_form  # noqa: F401  (registers the kinds)
from . import iterative as _iterative  # noqa: F401  (registers; torch loads only on fit)
from . import whitened as _whitened  # noqa: F401  (registers the kind and its map)
from .base import Adapter, ModelFingerprint
from .fitting import Auto, fit, make_fitter
from .io import adapter_from_bytes, adapter_to_bytes, load_adapter, save_adapter
from .kinds import KINDS

__all__ = [
    "Adapter",
    "Auto",
    "KINDS",
    "ModelFingerprint",
    "adapter_from_bytes",
    "adapter_to_bytes",
    "fit",
    "load_adapter",
    "make_fitter",
    "save_adapter",
]
