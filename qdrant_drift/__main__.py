"""``python -m qdrant_drift``: the CLI."""

from .cli.app import main

main()
