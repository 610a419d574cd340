"""Embedded batches kept until their block leaves its Ray task, so that a retried task
re-embeds only the batch it was killed in.

Why blocks of several batches, answered as one: Ray Data's executor costs the driver a
fixed time per block it hands on, whatever the block holds (a scheduling step, metrics,
the object's reference and metadata, all under the driver's GIL, where the writes run): a
near-free embedder's 2,000-point backfill took 1.05 s with an output block per batch and
0.69 s with one per block of eight (benchmarks/README.md). But Ray retries a task, not a
batch: it replays a killed task from its start, and its output leaves only at its end, so
without this ledger a kill in the last batch of a block would re-embed the whole block.

How:
- A task embeds its block a batch at a time. After each batch but the last it hands the
  batch's answer (a packed row) to the ledger to *keep*, and waits for the ledger to say it
  has it, so a kill while embedding batch j finds batches 1 to j-1 kept.
- A task first asks the ledger which batches of its block are kept. A replay takes those
  answers as they are and embeds only the others.
- The task yields its block's answer once (one output block, one object to the driver), and
  when Ray resumes it after that yield, the output is stored: it tells the ledger to
  *release* the block's batches.

The windows: a kill between the store and the release leaves the batches kept until the
pass ends (``forget``), a few rows; a lost node, whose finished blocks Ray rebuilds by
running their tasks again, re-embeds them (released already). Either way nothing is lost
and nothing stale is written: every write is the target's conditional write.

The ledger is a Ray actor with no CPU, one per driver process and Ray job, keyed by pass (a
batch is named by its first row in the pass's listing). It holds at most the answers of the
blocks being embedded (embedding processes x ``block_batches`` batches). If the actor is
lost, Ray restarts it empty, and a replay then re-embeds its whole block, which is safe.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

Row = dict[str, np.ndarray]
LEDGER_TIMEOUT_S = 30.0  # a ledger call's longest wait (it asks no CPU: normally ~1 ms)


class KeptBatches:
    """The ledger's state: per pass key, the answers of batches whose block has not left
    its task yet, by the batch's first row."""

    def __init__(self) -> None:
        self._kept: dict[str, dict[int, Row]] = {}

    def keep(self, key: str, first: int, row: Row) -> None:
        self._kept.setdefault(key, {})[first] = row

    def kept(self, key: str, firsts: Sequence[int]) -> dict[int, Row]:
        rows = self._kept.get(key, {})
        return {first: rows[first] for first in firsts if first in rows}

    def release(self, key: str, firsts: Sequence[int]) -> None:
        rows = self._kept.get(key, {})
        for first in firsts:
            rows.pop(first, None)

    def forget(self, key: str) -> None:
        self._kept.pop(key, None)


_LEDGERS: dict[str, Any] = {}


def driver_ledger() -> Any:
    """This driver's ledger actor in the current Ray cluster and job (started once, then
    reused: an actor's start is a process importing Ray, a second or two on 2 cores). The
    key holds the cluster's session: a new local instance numbers its jobs from 1 again, and
    a handle from a cluster that is gone crashes the process that sends it."""
    import ray

    context = ray.get_runtime_context()
    key = f"{context.get_session_name()}/{context.get_job_id()}"
    if key not in _LEDGERS:
        _LEDGERS.clear()  # a ledger of an earlier cluster or job is gone with it
        actor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(KeptBatches)
        _LEDGERS[key] = actor.remote()
    return _LEDGERS[key]


def joined(rows: Sequence[Row]) -> Row:
    """Packed rows as one (the same columns, rows one after another)."""
    if len(rows) == 1:
        return rows[0]
    return {key: np.concatenate([row[key] for row in rows]) for key in rows[0]}


def embed_once(block: Mapping[str, np.ndarray], embed: Callable[[int, str], Row],
               ledger: Any, key: str) -> Iterator[Row]:
    """The answer of one block (one row per batch), each batch embedded by
    ``embed(first, records)`` unless an earlier attempt of this task kept it."""
    firsts = [int(first) for first in block["first"]]
    kept = _asked(ledger.kept.remote(key, firsts)) or {}
    rows = []
    for n, (first, records) in enumerate(zip(firsts, block["records"])):
        row = kept.get(first)
        if row is None:
            row = embed(first, records)
            if n < len(firsts) - 1:  # the last one leaves with the block at once
                _asked(ledger.keep.remote(key, first, row))
        rows.append(row)
    yield joined(rows)
    ledger.release.remote(key, firsts)  # resumed: Ray stored the block's answer


def _asked(call: Any) -> Any:
    """A ledger call's answer, or None when the ledger does not answer in time. The ledger
    only saves work: without its answer a replay embeds its whole block again, and without
    a keep a batch may be embedded twice, both safe, so it never holds the embedding up."""
    import ray

    try:
        return ray.get(call, timeout=LEDGER_TIMEOUT_S)
    except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError):
        return None


__all__: Sequence[str] = ("KeptBatches", "driver_ledger", "embed_once", "joined")
