"""A migration's lifecycle: migration files, the plain command functions, the ``Migration``
facade over them, and the progress numbers ``status`` shows."""

from .facade import Migration

__all__ = ["Migration"]
