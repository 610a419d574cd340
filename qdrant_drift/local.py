"""Embedded (local-mode) Qdrant is not thread-safe: one call at a time per client.

:class:`SerializedClient` is the lock proxy that makes one embedded client safe to share
between threads (backfill workers, an app, a test). Apps and the demo use it directly.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

_LOCKS: "weakref.WeakKeyDictionary[Any, threading.RLock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


class SerializedClient:
    """One call at a time per underlying client, shared by every wrapper of that client in
    the process. ``lock`` is re-entrant: hold it to make several calls one atomic step."""

    def __init__(self, client: Any) -> None:
        if isinstance(client, SerializedClient):  # wrapping twice keeps the one lock
            client = client._client
        self._client = client
        with _LOCKS_GUARD:
            self.lock = self._lock = _LOCKS.setdefault(client, threading.RLock())

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target):
            return target

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return target(*args, **kwargs)

        return locked


def is_local(client: Any) -> bool:
    """Whether ``client`` (or what it wraps, through proxies that keep the wrapped client
    as ``_client`` or ``client``, or forward attribute access to it) is embedded Qdrant."""
    for _ in range(8):  # proxies of proxies, never a cycle
        if type(client).__name__ in _EMBEDDED:
            return True
        own = vars(client) if hasattr(client, "__dict__") else {}
        inner = own.get("_client", own.get("client"))
        if inner is None:
            inner = getattr(client, "_client", None)  # a proxy forwarding __getattr__
        if inner is None or inner is client:
            return False
        client = inner
    return False


_EMBEDDED = ("QdrantLocal", "AsyncQdrantLocal")
