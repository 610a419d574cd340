"""The ``qdrant-drift`` command line (see :mod:`.app`)."""

from .app import app, main

__all__ = ["app", "main"]
