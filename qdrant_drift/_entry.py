"""The ``qdrant-drift`` console script. It imports the CLI itself so that a Ctrl-C during
that import (Typer, Rich, qdrant-client: about a second) ends the command as a Ctrl-C later
does, with no traceback (``qdrant_drift.cli`` imports all of it before any handler exists)."""

from __future__ import annotations

import sys

INTERRUPTED = 130  # 128 + SIGINT, the shell's convention


def main() -> None:
    try:
        from .cli.app import main as cli
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        sys.exit(INTERRUPTED)
    cli()
