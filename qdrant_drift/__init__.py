"""qdrant-drift: upgrade the embedding model behind a Qdrant collection without downtime.

Importing this package (and everything on the query path) never imports torch.
"""

from ._version import __version__
from .adapters import Adapter, ModelFingerprint, fit, load_adapter, save_adapter
from .client import AsyncDriftClient, DriftClient, wrap
from .errors import (
    AdapterFileError,
    AdapterMismatchError,
    DriftError,
    InvalidVectorsError,
    MissingDependencyError,
)
from .lifecycle import Migration
from .router import Phase, Plan, Router, RoutingState
from .spec import MigrationSpec
from .state import StateError

__all__ = [
    "Adapter",
    "AdapterFileError",
    "AdapterMismatchError",
    "AsyncDriftClient",
    "DriftClient",
    "DriftError",
    "InvalidVectorsError",
    "Migration",
    "MigrationSpec",
    "MissingDependencyError",
    "ModelFingerprint",
    "Phase",
    "Plan",
    "Router",
    "RoutingState",
    "StateError",
    "__version__",
    "fit",
    "load_adapter",
    "save_adapter",
    "wrap",
]
