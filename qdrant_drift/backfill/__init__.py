"""Lazy backfill: re-embed points with the new model in the background, hot items first.

The names below load on first use (PEP 562): a Ray actor imports only the content source and
the embedding code (:mod:`.ray_stage`), not the worker and its Qdrant client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ContentSource": ".content", "Item": ".content", "Loader": ".content",
    "PayloadField": ".content",
    "HotFirst": ".ordering", "Mixed": ".ordering", "OrderPolicy": ".ordering",
    "Sweep": ".ordering", "order_policy": ".ordering",
    "Lease": ".partitions", "partition_of": ".partitions",
    "RetryingClient": ".retry", "TransientFaultsExhausted": ".retry", "is_transient": ".retry",
    "read_dead_letters": "..store.backfill", "requeue_dead_letters": "..store.backfill",
    "Outcome": ".targets",
    "BackfillHandle": ".handle", "run_backfill": ".handle", "start_backfill": ".handle",
    "BackfillError": "..errors",
    "BackfillOptions": ".options", "BackfillStats": ".options",
    "BackfillWorker": ".pipeline",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from ..errors import BackfillError
    from ..store.backfill import read_dead_letters, requeue_dead_letters
    from .content import ContentSource, Item, Loader, PayloadField
    from .handle import BackfillHandle, run_backfill, start_backfill
    from .options import BackfillOptions, BackfillStats
    from .ordering import HotFirst, Mixed, OrderPolicy, Sweep, order_policy
    from .partitions import Lease, partition_of
    from .pipeline import BackfillWorker
    from .retry import RetryingClient, TransientFaultsExhausted, is_transient
    from .targets import Outcome

__all__ = sorted(_EXPORTS)
