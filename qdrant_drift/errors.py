"""Exceptions raised by qdrant-drift.

Every error a user can trigger derives from :class:`DriftError`, so an application can catch
one type; the subclasses say which promise was broken.
"""

from __future__ import annotations


class DriftError(Exception):
    """Base class of every qdrant-drift error."""


class InvalidVectorsError(DriftError, ValueError):
    """Input vectors are malformed: wrong shape, wrong dimension, NaN/inf, too few pairs."""


class AdapterMismatchError(DriftError):
    """An adapter is used for models or dimensions other than the ones it was fitted for."""


class AdapterFileError(DriftError):
    """An adapter file is missing, truncated, corrupt or of an unknown format version."""


class MissingDependencyError(DriftError, ImportError):
    """An optional dependency (e.g. torch for iterative adapters) is not installed."""


class StateError(DriftError):
    """The migration state is missing, inconsistent, or a transition is not allowed."""
