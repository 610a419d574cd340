"""qdrant-drift: upgrade the embedding model behind a Qdrant collection without downtime.

Importing this package (and everything on the query path) never imports torch. The names
below load on first use (PEP 562), so a process that needs one small module (a Ray actor
embedding a backfill batch) does not pay for qdrant-client's import.
"""

import importlib as _importlib
import typing as _typing

from ._version import __version__

_EXPORTS = {
    "Adapter": ".adapters", "ModelFingerprint": ".adapters", "fit": ".adapters",
    "load_adapter": ".adapters", "save_adapter": ".adapters",
    "AsyncDriftClient": ".serving.client", "DriftClient": ".serving.client",
    "wrap": ".serving.client",
    "AdapterFileError": ".errors", "AdapterMismatchError": ".errors",
    "BackfillError": ".errors", "DriftError": ".errors", "InvalidVectorsError": ".errors",
    "MigrationFileError": ".errors", "MissingDependencyError": ".errors",
    "StateError": ".errors", "TransientFaultsExhausted": ".errors",
    "Migration": ".lifecycle.facade", "Phase": ".migration.phases",
    "Plan": ".serving.router", "Router": ".serving.router",
    "RoutingState": ".serving.router", "MigrationSpec": ".migration.spec",
}


def __getattr__(name: str) -> "_typing.Any":
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if _typing.TYPE_CHECKING:
    from .adapters import Adapter, ModelFingerprint, fit, load_adapter, save_adapter
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
    from .migration.spec import MigrationSpec
    from .serving.client import AsyncDriftClient, DriftClient, wrap
    from .serving.router import Plan, Router, RoutingState

__all__ = sorted(["__version__", *_EXPORTS])
