"""A fault-injecting wrapper around a real Qdrant client, for reliability tests and benchmarks.

Faults look like the real thing: ``ConnectionError``, ``httpx.ReadTimeout``, HTTP 503, and
HTTP 429 with a Retry-After header (qdrant-client's own ``UnexpectedResponse``). A fault is
injected *before* the call (nothing happened) or, for timeouts, *after* it (the call took
effect but the caller never heard back: the hard case for anything that retries writes).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Collection

import httpx
from qdrant_client.http.exceptions import UnexpectedResponse

KINDS = ("connection", "timeout", "503", "429")


def make_fault(kind: str) -> Exception:
    if kind == "connection":
        return ConnectionError("injected: connection reset by peer")
    if kind == "timeout":
        return httpx.ReadTimeout("injected: read timed out")
    if kind in ("503", "429", "400"):
        status = int(kind)
        headers = httpx.Headers({"retry-after": "0.01"} if status == 429 else {})
        return UnexpectedResponse(status_code=status, reason_phrase="injected",
                                  content=b'{"status":{"error":"injected fault"}}',
                                  headers=headers)
    raise ValueError(f"unknown fault kind {kind!r}; known: {KINDS + ('400',)}")


@dataclass
class FaultLog:
    injected: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    calls: int = 0


class FaultInjectingClient:
    """Wraps ``client``; each call of a method in ``methods`` (all, when None) fails with
    probability ``rate``. Attribute reads and non-callables pass through untouched."""

    def __init__(self, client: Any, *, rate: float = 0.1, seed: int | None = 0,
                 kinds: Collection[str] = KINDS, methods: Collection[str] | None = None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be in [0, 1], got {rate}")
        for kind in kinds:
            make_fault(kind)
        self.client, self.rate, self.kinds = client, rate, tuple(kinds)
        self.methods = set(methods) if methods is not None else None
        self.log = FaultLog()
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def _draw(self, method: str) -> str | None:
        if self.methods is not None and method not in self.methods:
            return None
        with self._lock:
            self.log.calls += 1
            if self._random.random() >= self.rate:
                return None
            kind = self._random.choice(self.kinds)
            self.log.injected += 1
            self.log.by_kind[kind] = self.log.by_kind.get(kind, 0) + 1
            return kind

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.client, name)
        if not callable(target) or name.startswith("_"):
            return target

        def faulty(*args: Any, **kwargs: Any) -> Any:
            kind = self._draw(name)
            if kind is None:
                return target(*args, **kwargs)
            if kind == "timeout":  # the request went through; the answer was lost
                target(*args, **kwargs)
            raise make_fault(kind)

        return faulty
