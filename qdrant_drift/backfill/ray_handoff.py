"""Which batches of a block a Ray task has already handed on, so that a retried task
re-embeds only the batch it was killed in.

Why blocks of several batches: Ray Data's executor costs the driver about 20 ms per block
on 2 cores whatever the block holds (32 one-batch blocks: 0.70 s; 4 blocks of 8: 0.14 s,
benchmarks/README.md), which held a near-free embedder to 0.56x of a bare loop. But Ray
retries a task, not a batch: it replays a killed task from its start, and without this
ledger the replay would re-embed every batch of the block that the task had finished.

How:
- A task yields one row per batch, and every row leaves as a block of its own (the dataset's
  target block size is one byte), so Ray stores and reports each batch's output as soon as
  the task yields it.
- When the task resumes after a yield, Ray has stored that output and queued it for the
  driver. The task then marks the batch *handed* in the ledger and waits for the mark, so
  a kill while embedding batch j always finds j-1 marked.
- A replay first asks which batches of its block are handed. For each of them it yields an
  empty row (``count`` 0) instead of embedding it again. Ray keeps the first attempt's
  output where it reached the driver. A replay also yields as many rows as the first
  attempt did, which Ray requires of a replayed generator.

The windows: a kill after a batch's output was stored but before its report reached the
driver (Ray sends the report asynchronously, and an output under 100 KiB travels inside
it); and a lost node, whose finished blocks Ray rebuilds by running their tasks again. The
replay then yields the empty row for a handed batch, its points keep lacking the new
vector, and the driver's next pass lists and embeds them. The batch is redone later, never
lost, and nothing stale is written: every write is the target's conditional write.

The ledger is a Ray actor with no CPU, one per driver process and Ray job, keyed by pass
(a batch is named by its first row in the pass's listing). If the actor itself is lost,
Ray restarts it empty, and a replay then re-embeds its whole block, which is safe.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

Row = dict[str, np.ndarray]
LEDGER_TIMEOUT_S = 30.0  # a ledger call's longest wait (it asks no CPU: normally ~1 ms)


class HandedBatches:
    """The ledger's state: per pass key, the first rows of the batches handed on."""

    def __init__(self) -> None:
        self._handed: dict[str, set[int]] = {}

    def hand(self, key: str, first: int) -> None:
        self._handed.setdefault(key, set()).add(first)

    def handed(self, key: str, firsts: Sequence[int]) -> list[int]:
        done = self._handed.get(key, set())
        return [first for first in firsts if first in done]

    def forget(self, key: str) -> None:
        self._handed.pop(key, None)


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
        actor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(HandedBatches)
        _LEDGERS[key] = actor.remote()
    return _LEDGERS[key]


def hand_on_once(block: Mapping[str, np.ndarray], embed: Callable[[int, str], Row],
                 empty: Callable[[int], Row], ledger: Any, key: str) -> Iterator[Row]:
    """The rows of one block's batches, each embedded by ``embed(first, records)`` unless
    an earlier attempt of this task handed it on (then ``empty(first)``), and each marked
    handed once the task resumes after yielding it."""
    firsts = [int(first) for first in block["first"]]
    done = set(_asked(ledger.handed.remote(key, firsts)) or ())
    for first, records in zip(firsts, block["records"]):
        if first in done:
            yield empty(first)
            continue
        yield embed(first, records)
        _asked(ledger.hand.remote(key, first))


def _asked(call: Any) -> Any:
    """A ledger call's answer, or None when the ledger does not answer in time. The ledger
    only saves work: without its answer a replay embeds its whole block again, and without
    a mark a batch may be embedded twice, both safe, so it never holds the embedding up."""
    import ray

    try:
        return ray.get(call, timeout=LEDGER_TIMEOUT_S)
    except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError):
        return None


__all__: Sequence[str] = ("HandedBatches", "driver_ledger", "hand_on_once")
