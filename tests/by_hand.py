"""Driving a sans-I/O step generator by hand, with no Qdrant: what ``sansio.drive`` does, with
each answer written in the test and each request kept for the test to inspect."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pytest

from qdrant_drift.adapters import Adapter, ModelFingerprint
from qdrant_drift.adapters.maps import LinearMap
from qdrant_drift.migration.spec import MigrationSpec
from qdrant_drift.sansio import Call, Gather, Request, Steps

# A migration in each layout, and an adapter whose every output can be worked out by hand: it
# swaps the two coordinates of a 2-d vector; its calibration maps an adapted score s to
# 0.1 + 0.8 s on the native scale (an old-model query's score to 0.5 s).
NAMED = MigrationSpec(name="upgrade", collection="docs", old_vector="old", new_vector="new",
                      old_model="old-m", new_model="new-m")
BLUE_GREEN = MigrationSpec(name="upgrade", collection="docs", old_vector="old",
                           new_vector="new", layout="collection", new_collection="docs_v2",
                           old_model="old-m", new_model="new-m")
ADAPTER = Adapter(
    kind="procrustes",
    map=LinearMap(weight=np.array([[0.0, 1.0], [1.0, 0.0]]), bias=np.zeros(2)),
    fingerprint=ModelFingerprint(new_model="new-m", old_model="old-m", new_dim=2, old_dim=2),
    info={"calibration": {"adapted": [0.0, 1.0], "native": [0.1, 0.9]},
          "old_calibration": {"adapted": [0.0, 1.0], "native": [0.0, 0.5]}},
)
QUERY = [0.6, 0.8]  # a new-model vector ...
ADAPTED = [0.8, 0.6]  # ... and the adapter's output for it, in the legacy space


def called(request: Request) -> str | tuple[str, ...]:
    """A request as the script names it: the method of a call, the methods of a gather."""
    if isinstance(request, Gather):
        return tuple(c.method for c in request.calls)
    assert isinstance(request, Call), f"not a step: {request!r}"
    return request.method


def by_hand(steps: Steps[Any], script: Sequence[tuple[str | tuple[str, ...], Any]]
            ) -> tuple[list[Request], Any]:
    """Run ``steps`` through ``script``, one ``(expected, answer)`` pair per request, in order:
    ``expected`` is the method the request must call (a tuple of methods for a ``Gather``);
    ``answer`` is sent back, or thrown in when it is an exception (as ``drive`` throws a
    failed call's error). Returns (the requests, the generator's return value). A generator
    that asks for a request the script does not have, or returns before the script's end,
    fails the test; an exception it raises propagates."""
    requests: list[Request] = []
    try:
        request = next(steps)
        for expected, answer in script:
            requests.append(request)
            assert called(request) == expected, f"step {len(requests)}: {request!r}"
            if isinstance(answer, BaseException):
                request = steps.throw(answer)
            else:
                request = steps.send(answer)
        pytest.fail(f"an unscripted step after {len(script)}: {request!r}")
    except StopIteration as stop:
        assert len(requests) == len(script), (
            f"returned after {len(requests)} of {len(script)} scripted steps")
        return requests, stop.value


def finish(steps: Steps[Any], result: Any) -> Any:
    """Send the last result; the generator must return (its value is returned)."""
    with pytest.raises(StopIteration) as stop:
        steps.send(result)
    return stop.value.value


def finish_without_calls(steps: Steps[Any]) -> Any:
    """The value of a generator that returns without asking for anything."""
    with pytest.raises(StopIteration) as stop:
        next(steps)
    return stop.value.value
