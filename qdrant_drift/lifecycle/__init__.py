"""A migration's lifecycle: migration files, the plain command functions, the ``Migration``
facade over them, and the progress numbers ``status`` shows.

``Migration`` loads on first use (PEP 562): the backfill imports :mod:`.progress` without
the facade, which imports the backfill.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {"Migration": ".facade"})


if TYPE_CHECKING:
    from .facade import Migration

__all__ = ["Migration"]
