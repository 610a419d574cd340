"""Package roots whose names load on first use (PEP 562), in one place.

A Ray actor embedding a backfill batch imports one small module; a package root that imported
everything it re-exports would make it pay for qdrant-client (seconds per actor).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, exports: dict[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: each name of ``exports`` (name ->
    module, relative to ``package``) is imported the first time it is asked for, then kept."""
    module_globals = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name], package), name)
        module_globals[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*module_globals, *exports])

    return __getattr__, __dir__
