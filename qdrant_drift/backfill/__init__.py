"""Lazy backfill: re-embed points with the new model in the background, hot items first.

The names below load on first use (PEP 562): a Ray actor imports only the content source and
the embedding code (:mod:`.ray_stage`), not the worker and its Qdrant client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


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
