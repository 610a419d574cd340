"""Exceptions raised by qdrant-drift, and the one place Qdrant's own errors are classified.

Every error a user can trigger derives from :class:`DriftError`, so an application can catch
one type; the subclasses say which promise was broken. The whole tree lives in this module::

    DriftError
    ├── InvalidVectorsError        (also a ValueError)
    ├── AdapterMismatchError
    ├── AdapterFileError
    ├── MissingDependencyError     (also an ImportError)
    ├── MigrationFileError         (also a ValueError)
    ├── InvalidOptionError         (also a ValueError)
    ├── EmbedderSetupError
    ├── StateError
    ├── BackfillError
    └── TransientFaultsExhausted

Errors raised by Qdrant or its transport (HTTP status errors, gRPC errors, connection
failures, embedded Qdrant's own exceptions) are not wrapped; :func:`classify` says what one
means, by duck typing (qdrant-client's REST and gRPC errors share no base class), so the
retrying client and the backfill's writes decide from the same answer.
"""

from __future__ import annotations

import difflib
from enum import Enum
from typing import Callable, Iterable


def did_you_mean(word: str, candidates: Iterable[str], *,
                 show: Callable[[str], str] = str) -> str:
    """`` (did you mean X?)`` for the closest of ``candidates`` to a mistyped ``word``, or
    "": the one hint every "no such name" error gives."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {show(close[0])}?)" if close else ""


def there_are(kind: str, names: Iterable[str], most: int = 10) -> str:
    """`` (collections here: 'a', 'b')``: what exists, for an error naming one that does not."""
    names = sorted(names)
    if not names:
        return f" (there are no {kind})"
    shown = ", ".join(map(repr, names[:most])) + (", ..." if len(names) > most else "")
    return f" ({kind} here: {shown})"


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


class EmbedderSetupError(DriftError):
    """The embedder cannot be set up at all (a model that cannot load, a device the machine
    lacks): no item is to blame, so nothing is dead-lettered; the backfill stops."""


class StateError(DriftError):
    """The migration state is missing, inconsistent, or a transition is not allowed."""


class NoPreflightReport(UserWarning):
    """An adapter was fitted on too few pairs for a pre-flight report (its recall is
    unknown). A category of its own, so that a caller that says it better (the lifecycle's
    fit, with the migration file's fix; the CLI's report line) can hide the plainer one."""


class MigrationFileError(DriftError, ValueError):
    """A migration file is unreadable, not TOML, or breaks a rule.

    ``str(error)`` reads ``migrations/docs.toml: [backfill] batch_size must be a positive
    integer, got -3``; the parts are also attributes: ``path``, ``section``, ``key``,
    ``problem`` and, for TOML syntax errors, ``line`` and ``column``.
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | None = None,
        section: str | None = None,
        key: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.problem = problem
        self.path = path
        self.section = section
        self.key = key
        self.line = line
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}: "
        if self.line is not None:
            where += f"line {self.line}" + (
                f", column {self.column}: " if self.column is not None else ": "
            )
        if self.section is not None:
            where += f"[{self.section}] "
        return where + self.problem

    def in_file(self, path: str) -> "MigrationFileError":
        """The same error, naming ``path`` as the file."""
        return MigrationFileError(
            self.problem, path=path, section=self.section, key=self.key,
            line=self.line, column=self.column,
        )


class InvalidOptionError(DriftError, ValueError):
    """An option given in code or on the command line is out of its range."""


class BackfillError(DriftError):
    """The backfill cannot go on (a permanent fault, or the migration is not backfilling)."""


class TransientFaultsExhausted(DriftError):
    """A call kept failing with transient faults until the retry budget ran out."""


class QdrantFault(str, Enum):
    """What an error from Qdrant (or the way to it) means for the caller."""

    NOT_FOUND = "not-found"  # the collection or point is not there (deleted meanwhile)
    TRANSIENT = "transient"  # worth retrying: the same call may well succeed shortly
    PERMANENT = "permanent"  # a bug or a misconfiguration: retrying would only hide it


_GRPC = {"NOT_FOUND": QdrantFault.NOT_FOUND, "UNAVAILABLE": QdrantFault.TRANSIENT,
         "DEADLINE_EXCEEDED": QdrantFault.TRANSIENT, "RESOURCE_EXHAUSTED": QdrantFault.TRANSIENT,
         "ABORTED": QdrantFault.TRANSIENT}


def _http_status(status: int) -> QdrantFault:
    if status == 404:
        return QdrantFault.NOT_FOUND
    return QdrantFault.TRANSIENT if status == 429 or status >= 500 else QdrantFault.PERMANENT


def classify(exc: BaseException) -> QdrantFault:
    """Not found, transient or permanent: connection errors and timeouts, HTTP 429 and 5xx,
    gRPC UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED / ABORTED are transient; HTTP
    404, gRPC NOT_FOUND and embedded Qdrant's ``KeyError`` for a missing point are not found;
    anything else is permanent."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return QdrantFault.TRANSIENT
    source = getattr(exc, "source", None)  # qdrant-client wraps transport failures
    if isinstance(source, BaseException) and source is not exc:
        return classify(source)
    if isinstance(exc, KeyError):
        return QdrantFault.NOT_FOUND
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return _http_status(status)
    code = getattr(exc, "code", None)
    if callable(code):
        try:
            return _GRPC.get(getattr(code(), "name", ""), QdrantFault.PERMANENT)
        except Exception:  # noqa: BLE001 - not a gRPC error after all
            return QdrantFault.PERMANENT
    try:
        import httpx
    except ImportError:  # pragma: no cover - qdrant-client depends on httpx
        return QdrantFault.PERMANENT
    if isinstance(exc, (httpx.TransportError, httpx.TimeoutException)):
        return QdrantFault.TRANSIENT
    return QdrantFault.PERMANENT
