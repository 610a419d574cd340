"""``python -m qdrant_drift``: the CLI."""

from ._entry import main

main()
