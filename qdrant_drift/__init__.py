"""qdrant-drift: upgrade the embedding model behind a Qdrant collection without downtime.

Importing this package (and everything on the query path) never imports torch.
"""

from ._version import __version__
from .adapters import Adapter, ModelFingerprint, fit, load_adapter, save_adapter
from .serving.client import AsyncDriftClient, DriftClient, wrap
from .errors import (
    AdapterFileError,
    AdapterMismatchError,
    BackfillError,
    DriftError,
    InvalidVectorsError,
    MigrationFileError,
    MissingDependencyError,
    StateError,
    TransientFaultsExhausted,
)
from .lifecycle.facade import Migration
from .migration.phases import Phase
from .serving.router import Plan, Router, RoutingState
from .migration.spec import MigrationSpec

__all__ = [
    "Adapter",
    "AdapterFileError",
    "AdapterMismatchError",
    "AsyncDriftClient",
    "BackfillError",
    "DriftClient",
    "DriftError",
    "InvalidVectorsError",
    "Migration",
    "MigrationFileError",
    "MigrationSpec",
    "MissingDependencyError",
    "ModelFingerprint",
    "Phase",
    "Plan",
    "Router",
    "RoutingState",
    "StateError",
    "TransientFaultsExhausted",
    "__version__",
    "fit",
    "load_adapter",
    "save_adapter",
    "wrap",
]
