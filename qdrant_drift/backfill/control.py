"""What an operator or a :class:`~.handle.BackfillHandle` can do to a running backfill, the
same for the worker and the Ray driver: pause and resume (locally, or through the state's
pause flag), and the retry count the metrics show. Stopping differs per engine."""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class Controls:
    """Pause state and retry counting; an engine sets ``migration``, ``stats`` and
    ``metrics`` and reads ``_stop`` and :attr:`paused` in its loop."""

    migration: str
    stats: Any
    metrics: Any

    def _init_controls(self) -> None:
        self._stop = threading.Event()
        self._paused_locally = threading.Event()
        self._paused_by_state = False  # the state's pause flag, as last read

    def pause(self) -> None:
        self._paused_locally.set()

    def resume(self) -> None:
        self._paused_locally.clear()

    @property
    def paused(self) -> bool:
        return self._paused_locally.is_set() or self._paused_by_state

    def _count_retry(self, exc: BaseException) -> None:
        self.stats.retries += 1
        log.warning("transient fault, retrying: %r", exc)
        if self.metrics is not None:
            self.metrics.record_retry(self.migration)
