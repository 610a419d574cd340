"""Running a worker: in the foreground, or on a background thread behind a handle."""

from __future__ import annotations

import threading
from typing import Any

from ..embedders import Embedder
from .content import ContentSource
from .options import BackfillStats
from .pipeline import BackfillWorker


def run_backfill(client: Any, migration: str, embedder: Embedder, source: ContentSource,
                 **kwargs: Any) -> BackfillStats:
    """Run one worker in the foreground until the backfill is done."""
    return BackfillWorker(client, migration, embedder, source, **kwargs).run()


class BackfillHandle:
    """A worker running on a background thread: progress, pause, resume, stop, join."""

    def __init__(self, worker: BackfillWorker) -> None:
        self.worker = worker
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"drift-backfill-{worker.worker_id}")
        self._thread.start()

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as exc:  # noqa: BLE001 - surfaced by join()
            self._error = exc

    def progress(self) -> BackfillStats:
        """This worker's counts (written, skipped, items/s); where the whole collection
        stands (coverage, ETA) is ``Migration.progress()``."""
        return self.worker.stats

    def pause(self) -> None:
        self.worker.pause()

    def resume(self) -> None:
        self.worker.resume()

    def stop(self, *, abandon: bool = False) -> None:
        self.worker.stop(abandon=abandon)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> BackfillStats:
        """Wait for the worker; re-raises what stopped it, if anything did."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"backfill still running after {timeout} s")
        if self._error is not None:
            raise self._error
        return self.worker.stats


def start_backfill(client: Any, migration: str, embedder: Embedder, source: ContentSource,
                   *, background: bool = True, **kwargs: Any) -> BackfillHandle | BackfillStats:
    """Start a worker: on a background thread (a :class:`BackfillHandle`) or in the foreground."""
    worker = BackfillWorker(client, migration, embedder, source, **kwargs)
    return BackfillHandle(worker) if background else worker.run()
