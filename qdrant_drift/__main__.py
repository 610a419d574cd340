"""``python -m qdrant_drift``: the CLI."""

from .cli import main

main()
