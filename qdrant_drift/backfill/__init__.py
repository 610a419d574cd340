"""Lazy backfill: re-embed points with the new model in the background, hot items first."""

from .content import ContentSource, Item, Loader, PayloadField
from .ordering import HotFirst, Mixed, OrderPolicy, Sweep, order_policy
from .partitions import Lease, partition_of
from .retry import RetryingClient, TransientFaultsExhausted, is_transient
from ..store.backfill import read_dead_letters, requeue_dead_letters
from .targets import Outcome
from .handle import BackfillHandle, run_backfill, start_backfill
from ..errors import BackfillError
from .options import BackfillOptions, BackfillStats
from .pipeline import BackfillWorker

__all__ = [
    "BackfillError", "BackfillHandle", "BackfillOptions", "BackfillStats", "BackfillWorker",
    "ContentSource", "HotFirst", "Item", "Lease", "Loader", "Mixed", "OrderPolicy", "Outcome",
    "PayloadField", "RetryingClient", "Sweep", "TransientFaultsExhausted", "is_transient",
    "order_policy", "partition_of", "read_dead_letters", "requeue_dead_letters",
    "run_backfill", "start_backfill",
]
