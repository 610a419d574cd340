"""A pytest plugin that runs a framework's own test suite with every Qdrant client it makes
wrapped by qdrant-drift, a migration running on each collection the framework creates.

Loaded with ``-p drift_suite_plugin`` (this folder on ``PYTHONPATH``); ``DRIFT_SUITE_MODE``:

- ``plain``: nothing is wrapped (the baseline);
- ``adapted``: every collection the framework creates gets a migration in phase
  ``serving_adapted`` the moment it exists; from then on calls on it go through
  ``qdrant_drift.wrap`` (queries adapted onto the legacy vector, writes mirrored to both
  sides);
- ``hybrid``: the same migration in phase ``backfilling``, served by the hybrid plan, and
  before every read the points whose id hashes odd are put back to "not migrated yet" (their
  new-side copy removed), so each query merges legacy and native hits.

The adapter is the identity (old model = new model): a migration that must change no
result, so any difference from the plain run is the wrapper's. Each test's outcome, and
which of its calls went through the wrapper under which plan, is written as JSON to
``DRIFT_SUITE_REPORT``: a read through the plan counts as ``<plan>:<method>``, any other
call on a migrated collection as ``mirrored``, ``passthrough`` or ``refused`` (the surface
table's treatment). ``async def`` tests pytest-asyncio leaves alone run on asyncio (LangChain's
own ``asyncio_mode = "auto"``); LlamaIndex's are marked and its fixtures need pytest-asyncio.
``DRIFT_SUITE_FRAMEWORK`` names the framework to load (default: both).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
import zlib
from collections import Counter
from functools import lru_cache
from typing import Any

import numpy as np
import pytest
import qdrant_client
from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_client.http import models

import qdrant_drift
from qdrant_drift.adapters import Adapter, ModelFingerprint
from qdrant_drift.adapters.maps import LinearMap
from qdrant_drift.errors import DriftError
from qdrant_drift.lifecycle.commands import acreate, create
from qdrant_drift.migration.layouts import MIGRATED_MARKER, layout_of
from qdrant_drift.migration.phases import Phase
from qdrant_drift.migration.spec import DEFAULT_VECTOR, MigrationSpec
from qdrant_drift.serving.client import AsyncDriftClient, DriftClient
from qdrant_drift.serving.router import Plan, Router
from qdrant_drift.serving.surface import SURFACE, Treatment
from qdrant_drift.store.collection import STATE_COLLECTION

MODE = os.environ.get("DRIFT_SUITE_MODE", "plain")
# the framework whose suite runs (importing the other one costs seconds); default: both
FRAMEWORKS = tuple(os.environ.get("DRIFT_SUITE_FRAMEWORK", "").split() or (
    "langchain_qdrant", "llama_index.vector_stores.qdrant"))
NEW_SUFFIX = "__drift_new"
READS = frozenset({"query_points", "query_batch_points", "query_points_groups",
                   "search_matrix_pairs", "search_matrix_offsets"})
CREATES = frozenset({"create_collection", "recreate_collection"})
DISTANCES = {models.Distance.COSINE: "cosine", models.Distance.DOT: "dot",
             models.Distance.EUCLID: "euclid", models.Distance.MANHATTAN: "manhattan"}

_current: list[str] = [""]  # the running test's node id
_routed: dict[str, Counter] = {}  # node id -> Counter of "plan:method" through the wrapper
_unmigrated: dict[str, list[str]] = {}  # node id -> why a collection got no migration


def identity_adapter(dim: int, distance: str) -> Adapter:
    """The old model is the new model: the adapter maps a vector onto itself."""
    return Adapter(kind="procrustes",
                   map=LinearMap(weight=np.eye(dim, dtype=np.float32),
                                 bias=np.zeros(dim, dtype=np.float32)),
                   fingerprint=ModelFingerprint(new_model="suite-new", old_model="suite-old",
                                                new_dim=dim, old_dim=dim),
                   distance=distance)


def migration_name(collection: str) -> str:
    return f"suite-{collection}"


def plan_spec(collection: str, info: Any) -> tuple[MigrationSpec, Adapter]:
    """The migration of a collection the framework just created (blue-green, identity), or
    DriftError saying why it has none."""
    vectors = info.config.params.vectors
    if isinstance(vectors, dict):
        if len(vectors) != 1:
            raise DriftError(f"{len(vectors)} dense vectors: the suite migrates exactly one")
        (old_vector, params), = vectors.items()
    else:
        old_vector, params = DEFAULT_VECTOR, vectors
    if info.config.params.sparse_vectors:  # blue-green would lose them: the named layout
        spec = MigrationSpec(name=migration_name(collection), collection=collection,
                             old_vector=old_vector, new_vector=(old_vector or "dense") +
                             NEW_SUFFIX, old_model="suite-old", new_model="suite-new")
    else:
        spec = MigrationSpec(name=migration_name(collection), collection=collection,
                             layout="collection", new_collection=collection + NEW_SUFFIX,
                             old_vector=old_vector, new_vector=old_vector,
                             old_model="suite-old", new_model="suite-new")
    return spec, identity_adapter(params.size, DISTANCES[params.distance])


def _phase() -> Phase:
    return Phase.BACKFILLING if MODE == "hybrid" else Phase.SERVING_ADAPTED


def _router() -> Router:
    return Router(policies=[], fallback=Plan.HYBRID if MODE == "hybrid" else Plan.ADAPTED)


def _ours(collection: str | None) -> bool:
    return collection is None or collection == STATE_COLLECTION or collection.endswith(
        NEW_SUFFIX)


@lru_cache(maxsize=None)
def _signature(cls: type, method: str) -> inspect.Signature | None:
    try:
        return inspect.signature(getattr(cls, method))
    except (TypeError, ValueError, AttributeError):
        return None


def collection_of(raw: Any, method: str, args: tuple, kwargs: dict) -> str | None:
    """The collection a call names, if any."""
    signature = _signature(type(raw), method)
    if signature is None or "collection_name" not in signature.parameters:
        return None
    try:
        return signature.bind_partial(None, *args, **kwargs).arguments.get("collection_name")
    except TypeError:
        return None


def _count(what: str) -> None:
    _routed.setdefault(_current[0], Counter())[what] += 1


def _treatment(method: str) -> str:
    """How the wrapper treats a call that is not a routed read: mirrored, passthrough or
    refused (the last one raises, unless the call spares the migrating collection)."""
    entry = SURFACE.get(method)
    if entry is None:
        return "unclassified"
    return "refused" if entry.treatment is Treatment.REFUSED else entry.treatment.value


def _odd(point_id: Any) -> bool:
    return zlib.crc32(str(point_id).encode()) % 2 == 1


def unmigrate_calls(spec: MigrationSpec, ids: list[Any]) -> list[tuple[str, dict]]:
    """The calls that put migrated points back to "not migrated yet" (backfill pending)."""
    if not ids:
        return []
    layout = layout_of(spec)
    if layout.mirror_collection() is None:  # named: the new vector and its marker go
        return [("delete_vectors", {"collection_name": spec.collection, "points": ids,
                                    "vectors": [spec.new_vector, layout.marker_vector]})]
    return [("delete", {"collection_name": spec.native_collection, "points_selector": ids}),
            ("delete_payload", {"collection_name": spec.collection, "points": ids,
                                "keys": [MIGRATED_MARKER]})]


def _note_unmigrated(collection: str, why: str) -> None:
    _unmigrated.setdefault(_current[0], []).append(f"{collection}: {why}")


def _claims(wrapper: type, client: type) -> type | None:
    """The client class a wrapper passes for in ``isinstance`` checks, if it does."""
    return client if isinstance(object.__new__(wrapper), client) else None


def _claimed_class(proxy: Any) -> type:
    """The proxy passes ``isinstance`` checks exactly when a wrapped client does."""
    return proxy._claims if proxy._claims is not None else type(proxy)


class SuiteClient:
    """A QdrantClient as the framework sees it: calls on a migrated collection go through
    that collection's ``DriftClient``, the rest reach the client itself."""

    def __init__(self, raw: QdrantClient) -> None:
        self._raw = raw
        self._drifts: dict[str, Any] = {}

    _claims = _claims(DriftClient, QdrantClient)
    __class__ = property(_claimed_class)  # type: ignore[assignment]

    def _drift(self, collection: str | None) -> Any:
        if _ours(collection):
            return None
        if collection not in self._drifts:
            try:  # a collection migrated through another client on the same storage
                self._drifts[collection] = qdrant_drift.wrap(
                    self._raw, migration_name(collection), refresh_interval=0,
                    router=_router())
            except DriftError:
                return None
        return self._drifts[collection]

    def _migrate(self, collection: str) -> None:
        try:
            spec, adapter = plan_spec(collection, self._raw.get_collection(collection))
            create(self._raw, spec, adapter, phase=_phase())
        except DriftError as exc:
            _note_unmigrated(collection, str(exc))
            return
        self._drifts.pop(collection, None)

    def _unmigrate_odd(self, drift: Any) -> None:
        spec = drift._core.current().spec
        layout = layout_of(spec)
        found, _ = self._raw.scroll(spec.collection, scroll_filter=layout.migrated_filter(),
                                    limit=100_000, with_payload=False, with_vectors=False)
        odd = [p.id for p in found if _odd(p.id)]
        for method, kwargs in unmigrate_calls(spec, odd):
            getattr(self._raw, method)(**kwargs)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._raw, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            collection = collection_of(self._raw, name, args, kwargs)
            drift = self._drift(collection)
            if drift is None or name in CREATES:
                result = attr(*args, **kwargs) if drift is None else getattr(drift, name)(
                    *args, **kwargs)
                if name in CREATES and not _ours(collection) and MODE != "plain":
                    self._migrate(collection)
                return result
            if name in READS:
                if MODE == "hybrid":
                    self._unmigrate_odd(drift)
                drift.refresh()
                _count(f"{drift.plan.value}:{name}")
            else:
                _count(f"{_treatment(name)}:{name}")
            return getattr(drift, name)(*args, **kwargs)

        return call


class AsyncSuiteClient:
    """:class:`SuiteClient` for an ``AsyncQdrantClient``."""

    def __init__(self, raw: AsyncQdrantClient) -> None:
        self._raw = raw
        self._drifts: dict[str, Any] = {}

    _claims = _claims(AsyncDriftClient, AsyncQdrantClient)
    __class__ = property(_claimed_class)  # type: ignore[assignment]

    async def _drift(self, collection: str | None) -> Any:
        if _ours(collection):
            return None
        if collection not in self._drifts:
            drift = qdrant_drift.wrap(self._raw, migration_name(collection),
                                      refresh_interval=0, router=_router())
            try:
                await drift.refresh()
            except DriftError:
                return None
            self._drifts[collection] = drift
        return self._drifts[collection]

    async def _migrate(self, collection: str) -> None:
        try:
            spec, adapter = plan_spec(collection, await self._raw.get_collection(collection))
            await acreate(self._raw, spec, adapter, phase=_phase())
        except DriftError as exc:
            _note_unmigrated(collection, str(exc))
            return
        self._drifts.pop(collection, None)

    async def _unmigrate_odd(self, drift: Any) -> None:
        spec = drift._core.current().spec
        layout = layout_of(spec)
        found, _ = await self._raw.scroll(spec.collection,
                                          scroll_filter=layout.migrated_filter(),
                                          limit=100_000, with_payload=False,
                                          with_vectors=False)
        odd = [p.id for p in found if _odd(p.id)]
        for method, kwargs in unmigrate_calls(spec, odd):
            await getattr(self._raw, method)(**kwargs)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._raw, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            collection = collection_of(self._raw, name, args, kwargs)
            drift = await self._drift(collection)
            if drift is None or name in CREATES:
                result = await (attr(*args, **kwargs) if drift is None
                                else getattr(drift, name)(*args, **kwargs))
                if name in CREATES and not _ours(collection) and MODE != "plain":
                    await self._migrate(collection)
                return result
            if name in READS:
                if MODE == "hybrid":
                    await self._unmigrate_odd(drift)
                await drift.refresh()
                _count(f"{drift.plan.value}:{name}")
            else:
                _count(f"{_treatment(name)}:{name}")
            return await getattr(drift, name)(*args, **kwargs)

        return call


class _StandIn(type):
    """The class frameworks call to make a client: a real client comes back, wrapped;
    ``isinstance`` answers as for the real class."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls.real)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls.real)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.proxy(cls.real(*args, **kwargs))


class StandInClient(QdrantClient, metaclass=_StandIn):  # (a subclass: mocks spec it)
    real, proxy = QdrantClient, SuiteClient


class StandInAsyncClient(AsyncQdrantClient, metaclass=_StandIn):
    real, proxy = AsyncQdrantClient, AsyncSuiteClient


def _install() -> None:
    """Every name bound to a qdrant-client class in the frameworks' modules (and in
    ``qdrant_client`` itself, for tests that import it) now makes wrapped clients."""
    swaps = {QdrantClient: StandInClient, AsyncQdrantClient: StandInAsyncClient}
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == "qdrant_client" or module_name.startswith(
                ("langchain_qdrant", "llama_index.vector_stores.qdrant"))):
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, type) and value in swaps:
                setattr(module, attr, swaps[value])


def pytest_configure(config: pytest.Config) -> None:
    if MODE not in ("plain", "adapted", "hybrid"):
        raise pytest.UsageError(f"DRIFT_SUITE_MODE must be plain, adapted or hybrid: {MODE}")
    for framework in FRAMEWORKS:
        try:
            __import__(framework)
        except ImportError:
            pass
    if MODE != "plain":
        _install()
    assert qdrant_client.QdrantClient is (QdrantClient if MODE == "plain" else StandInClient)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """``async def`` tests on asyncio (the suites' ``asyncio_mode = "auto"``)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**args))
    return True


def pytest_runtest_setup(item: pytest.Item) -> None:
    _current[0] = item.nodeid


_outcomes: dict[str, dict[str, Any]] = {}


def _error_line(text: str) -> str:
    """The failure's own message: its last ``E`` line."""
    errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    return (errors[-1] if errors else text.strip().splitlines()[-1:][0] if text else "")[:300]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    row = _outcomes.setdefault(report.nodeid, {"outcome": "passed"})
    if report.failed:
        row["outcome"] = "failed" if report.when == "call" else "error"
        row["why"] = _error_line(report.longreprtext or "")
    elif report.skipped and row["outcome"] == "passed":
        row["outcome"] = "skipped"
        row["why"] = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("DRIFT_SUITE_REPORT")
    if not path:
        return
    for nodeid, row in _outcomes.items():
        row["routed"] = dict(_routed.get(nodeid, {}))
        row["unmigrated"] = _unmigrated.get(nodeid, [])
    with open(path, "w") as out:
        json.dump({"mode": MODE, "tests": _outcomes}, out, indent=1, sort_keys=True)
