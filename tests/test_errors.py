"""The error tree: one module holds it, its docstring draws it, the package exports it; and
one function says what an error from Qdrant means."""

from __future__ import annotations

import importlib
import pkgutil
import re

import grpc
import httpx
import pytest
from qdrant_client import QdrantClient
from qdrant_client.http import models
from qdrant_client.http.exceptions import UnexpectedResponse

import qdrant_drift
from qdrant_drift import errors
from qdrant_drift.errors import DriftError, QdrantFault, classify


def _all_drift_errors() -> set[type]:
    """Every DriftError subclass defined anywhere in the package (each module imported)."""
    for module in pkgutil.walk_packages(qdrant_drift.__path__, "qdrant_drift."):
        if module.name.endswith("__main__"):  # runs the CLI
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional extra that is not installed: nothing to define
            continue
    found, todo = set(), [DriftError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return {cls for cls in found if cls.__module__.startswith("qdrant_drift")}


def test_every_drift_error_is_defined_in_the_errors_module():
    outside = {f"{cls.__module__}.{cls.__name__}" for cls in _all_drift_errors()
               if cls.__module__ != "qdrant_drift.errors"}
    assert outside == set()


def test_the_errors_docstring_draws_every_class_of_the_tree():
    drawn = set(re.findall(r"[├└]── (\w+)", errors.__doc__)) | {"DriftError"}
    assert drawn == {cls.__name__ for cls in _all_drift_errors()}


def test_the_package_exports_every_error():
    assert {cls.__name__ for cls in _all_drift_errors()} <= set(qdrant_drift.__all__)


def test_the_package_all_is_sorted_and_lists_every_public_name():
    assert qdrant_drift.__all__ == sorted(qdrant_drift.__all__)
    for name in qdrant_drift.__all__:
        assert getattr(qdrant_drift, name) is not None
    public = {name for name, value in vars(qdrant_drift).items()
              if not name.startswith("_") and not isinstance(value, type(qdrant_drift))}
    assert public <= set(qdrant_drift.__all__)


def http_error(status: int) -> UnexpectedResponse:
    return UnexpectedResponse(status_code=status, reason_phrase="", content=b"",
                              headers=httpx.Headers())


def grpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, None, None, "")


@pytest.mark.parametrize("exc", [
    ConnectionError("reset"), TimeoutError(), httpx.ConnectError("refused"),
    httpx.ReadTimeout("slow"), http_error(429), http_error(500), http_error(503),
    grpc_error(grpc.StatusCode.UNAVAILABLE), grpc_error(grpc.StatusCode.DEADLINE_EXCEEDED),
    grpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED), grpc_error(grpc.StatusCode.ABORTED),
], ids=repr)
def test_transport_failures_and_overload_are_transient(exc):
    assert classify(exc) is QdrantFault.TRANSIENT


@pytest.mark.parametrize("exc", [
    http_error(404), grpc_error(grpc.StatusCode.NOT_FOUND), KeyError(7),
], ids=repr)
def test_a_missing_point_or_collection_is_not_found(exc):
    assert classify(exc) is QdrantFault.NOT_FOUND


@pytest.mark.parametrize("exc", [
    http_error(400), http_error(422), grpc_error(grpc.StatusCode.INVALID_ARGUMENT),
    ValueError("wrong vector name"), DriftError("ours"),
], ids=repr)
def test_a_bad_request_is_permanent(exc):
    assert classify(exc) is QdrantFault.PERMANENT


def test_embedded_qdrant_updating_a_deleted_point_is_classified_not_found():
    client = QdrantClient(":memory:")
    client.create_collection("docs", vectors_config={
        "v": models.VectorParams(size=2, distance=models.Distance.COSINE)})
    with pytest.raises(Exception) as raised:
        client.update_vectors("docs", [models.PointVectors(id=1, vector={"v": [1.0, 0.0]})])
    assert classify(raised.value) is QdrantFault.NOT_FOUND


def test_a_transport_failure_qdrant_client_wraps_is_transient():
    from qdrant_client.http.exceptions import ResponseHandlingException

    refused = ResponseHandlingException(httpx.ConnectError("[Errno 111] Connection refused"))
    assert classify(refused) is QdrantFault.TRANSIENT
    assert classify(ResponseHandlingException(ValueError("bad json"))) is QdrantFault.PERMANENT
