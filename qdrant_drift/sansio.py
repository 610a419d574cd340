"""One core for the sync and the async client (the httpx idea, sans-I/O style).

Logic that talks to Qdrant is written once, as a generator that *yields* the client calls it
needs (:class:`Call`, or :class:`Gather` for calls that may run concurrently) and receives
their results. :func:`drive` runs such a generator against a ``QdrantClient``;
:func:`adrive` against an ``AsyncQdrantClient``. Errors raised by a call are thrown back into
the generator, so the core decides how to degrade.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field
from typing import Any, Generator, TypeVar, Union

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """``client.<method>(*args, **kwargs)``."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Gather:
    """Independent calls; their results come back as a list, in order."""

    calls: tuple[Call, ...]


Request = Union[Call, Gather]
Steps = Generator[Request, Any, T]


def call(method: str, *args: Any, **kwargs: Any) -> Call:
    return Call(method, args, kwargs)


def _run(client: Any, request: Call) -> Any:
    return getattr(client, request.method)(*request.args, **request.kwargs)


def drive(steps: Steps[T], client: Any) -> T:
    """Run a core generator against a synchronous client."""
    try:
        request = next(steps)
        while True:
            try:
                if isinstance(request, Gather):
                    result: Any = [_run(client, c) for c in request.calls]
                else:
                    result = _run(client, request)
            except Exception as exc:  # handed to the core, which re-raises or degrades
                request = steps.throw(exc)
            else:
                request = steps.send(result)
    except StopIteration as stop:
        return stop.value


async def _arun(client: Any, request: Call) -> Any:
    """A call on an async client; the few plain methods it has (qdrant-client's
    ``upload_points``, ``upload_collection``) return their result as it is."""
    result = _run(client, request)
    return (await result) if inspect.isawaitable(result) else result


async def adrive(steps: Steps[T], client: Any) -> T:
    """Run a core generator against an asynchronous client; Gather runs concurrently."""
    try:
        request = next(steps)
        while True:
            try:
                if isinstance(request, Gather):
                    result: Any = list(
                        await asyncio.gather(*(_arun(client, c) for c in request.calls))
                    )
                else:
                    result = await _arun(client, request)
            except Exception as exc:
                request = steps.throw(exc)
            else:
                request = steps.send(result)
    except StopIteration as stop:
        return stop.value
