"""Either wrapper shell behind one sync-looking face, so that one test body specifies both.

``sync``: ``DriftClient`` over a ``QdrantClient``. ``async``: ``AsyncDriftClient`` over an
``AsyncQdrantClient``, each awaitable it returns run to completion on the shell's one event
loop (one loop for every call, so the tasks the async client starts in the background, state
refreshes and sampled shadow queries, go on running between calls, as in an app).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

from qdrant_client import AsyncQdrantClient, QdrantClient

from qdrant_drift import AsyncDriftClient, DriftClient

FLAVOURS = ("sync", "async")


class Blocking:
    """A sync-looking face on an async object: a method that returns an awaitable blocks
    until it is done; anything else is the object's own."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.target, name)
        if not callable(value):
            return value

        async def in_the_loop(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)  # called inside the loop, as an app calls it
            return (await result) if inspect.isawaitable(result) else result

        def blocking(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run_until_complete(in_the_loop(*args, **kwargs))

        return blocking


def unblocked(client: Any) -> Any:
    """The client itself, from under its :class:`Blocking` face if it has one."""
    return client.target if isinstance(client, Blocking) else client


class Shell:
    """One of the two wrapper shells, driven from a sync test."""

    def __init__(self, flavour: str) -> None:
        assert flavour in FLAVOURS, flavour
        self.flavour = flavour
        self.loop = asyncio.new_event_loop() if flavour == "async" else None

    @property
    def is_async(self) -> bool:
        return self.loop is not None

    def __repr__(self) -> str:
        return f"Shell({self.flavour!r})"

    def local_client(self) -> Any:
        """A new embedded Qdrant client of this flavour, seen sync."""
        return self.blocking(AsyncQdrantClient(":memory:") if self.is_async
                             else QdrantClient(":memory:"))

    def blocking(self, client: Any) -> Any:
        """``client`` (of this flavour) seen sync."""
        if not self.is_async or isinstance(client, Blocking):
            return client
        return Blocking(client, self.loop)

    def wrap(self, client: Any, migration: str = "upgrade", **options: Any) -> Any:
        """This shell's wrapper around ``client`` (seen sync, or a proxy of the client
        itself), its first state read done: ``DriftClient`` reads the state in its
        constructor, ``AsyncDriftClient`` on its first call, here an explicit refresh."""
        raw = unblocked(client)
        if not self.is_async:
            return DriftClient(raw, migration, **options)
        wrapper = Blocking(AsyncDriftClient(raw, migration, **options), self.loop)
        wrapper.refresh()
        return wrapper

    def sleep(self, seconds: float) -> None:
        """Wait, letting the shell's background work run meanwhile."""
        if self.is_async:
            self.loop.run_until_complete(asyncio.sleep(seconds))
        else:
            time.sleep(seconds)

    def close(self) -> None:
        """Cancel what still runs on the loop, and close it."""
        if not self.is_async:
            return
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.wait(pending))
        self.loop.close()
