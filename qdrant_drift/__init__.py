"""qdrant-drift: upgrade the embedding model behind a Qdrant collection without downtime.

Importing this package (and everything on the query path) never imports torch. The names
below load on first use (PEP 562), so a process that needs one small module (a Ray actor
embedding a backfill batch) does not pay for qdrant-client's import.
"""

import typing as _typing

from ._lazy import lazy_exports as _lazy_exports
from ._version import __version__

_EXPORTS = {
    "Adapter": ".adapters", "ModelFingerprint": ".adapters", "fit": ".adapters",
    "load_adapter": ".adapters", "save_adapter": ".adapters",
    "AsyncDriftClient": ".serving.client", "DriftClient": ".serving.client",
    "wrap": ".serving.client",
    "AdapterFileError": ".errors", "AdapterMismatchError": ".errors",
    "BackfillError": ".errors", "DriftError": ".errors", "EmbedderSetupError": ".errors",
    "InvalidOptionError": ".errors", "InvalidVectorsError": ".errors",
    "MigrationFileError": ".errors", "MissingDependencyError": ".errors",
    "NoPreflightReport": ".errors",
    "StateError": ".errors", "TransientFaultsExhausted": ".errors",
    "Migration": ".lifecycle.facade", "Phase": ".migration.phases",
    "Plan": ".serving.router", "Router": ".serving.router",
    "RoutingState": ".serving.router", "MigrationSpec": ".migration.spec",
}
__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)


if _typing.TYPE_CHECKING:
    from .adapters import Adapter, ModelFingerprint, fit, load_adapter, save_adapter
    from .errors import (
        AdapterFileError,
        AdapterMismatchError,
        BackfillError,
        DriftError,
        EmbedderSetupError,
        InvalidOptionError,
        InvalidVectorsError,
        MigrationFileError,
        MissingDependencyError,
        NoPreflightReport,
        StateError,
        TransientFaultsExhausted,
    )
    from .lifecycle.facade import Migration
    from .migration.phases import Phase
    from .migration.spec import MigrationSpec
    from .serving.client import AsyncDriftClient, DriftClient, wrap
    from .serving.router import Plan, Router, RoutingState

__all__ = sorted(["__version__", *_EXPORTS])
