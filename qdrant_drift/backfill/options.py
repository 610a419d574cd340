"""How a backfill worker runs (options) and what it did (stats)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..errors import InvalidOptionError
from .ordering import HotFirst, OrderPolicy


@dataclass(frozen=True)
class BackfillOptions:
    batch_size: int = 64
    partitions: int = 1  # how many slices the points are split into (>= the worker count)
    order: OrderPolicy = field(default_factory=HotFirst)
    rate_limit: float | None = None  # items per second, None = as fast as it goes
    heartbeat_timeout: float = 30.0  # a worker silent this long loses its partitions
    hot_refresh_s: float = 5.0
    sample_interval_s: float = 5.0
    max_attempts: int = 8  # per Qdrant call, on transient faults
    max_retry_wait: float = 10.0
    exit_when_done: bool = True  # False: keep polling for new work (a long-running service)
    # embedded batches not yet written, at most: a kill -9 loses (re-embeds) at most this
    # many. 1 still overlaps fetching with embedding, and writing with the next fetch.
    unwritten_batches: int = 1

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.partitions < 1 or self.unwritten_batches < 1:
            raise InvalidOptionError(
                f"batch_size, partitions and unwritten_batches must be 1 or more, got "
                f"{self.batch_size}, {self.partitions} and {self.unwritten_batches}")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise InvalidOptionError(f"rate_limit must be above 0 items/s, got "
                                     f"{self.rate_limit:g} (leave it out for no limit)")


@dataclass
class BackfillStats:
    """What this worker did (``processed`` = items that left the pipeline, any outcome)."""

    written: int = 0
    skipped: int = 0  # deleted meanwhile, or given a new vector by the app meanwhile
    dead_lettered: int = 0
    redone: int = 0  # re-embedded because their content changed during the batch
    batches: int = 0
    retries: int = 0
    started_at: float = field(default_factory=time.time)
    state: str = "starting"

    @property
    def processed(self) -> int:
        return self.written + self.skipped + self.dead_lettered

    @property
    def items_per_s(self) -> float:
        return self.written / max(1e-9, time.time() - self.started_at)
