"""A migration's lifecycle: migration files, the plain command functions, the ``Migration``
facade over them, and the progress numbers ``status`` shows.

``Migration`` loads on first use (PEP 562): the backfill imports :mod:`.progress` without
the facade, which imports the backfill.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any


def __getattr__(name: str) -> Any:
    if name != "Migration":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .facade import Migration

    globals()["Migration"] = Migration
    return Migration


if TYPE_CHECKING:
    from .facade import Migration

__all__ = ["Migration"]
