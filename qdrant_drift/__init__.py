"""qdrant-drift: upgrade the embedding model behind a Qdrant collection without downtime.

Importing this package (and everything on the query path) never imports torch.
"""

from ._version import __version__
from .adapters import Adapter, ModelFingerprint, fit, load_adapter, save_adapter
from .errors import (
    AdapterFileError,
    AdapterMismatchError,
    DriftError,
    InvalidVectorsError,
    MissingDependencyError,
)

__all__ = [
    "Adapter",
    "AdapterFileError",
    "AdapterMismatchError",
    "DriftError",
    "InvalidVectorsError",
    "MissingDependencyError",
    "ModelFingerprint",
    "__version__",
    "fit",
    "load_adapter",
    "save_adapter",
]
