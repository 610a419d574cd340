"""Shared fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from .shells import FLAVOURS, Shell
from .synthetic import drifted_pairs

# the frameworks' own suites, run by test_framework_suites.py in a subprocess each
collect_ignore = ["third_party"]


@pytest.fixture
def pairs_64() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return drifted_pairs(1200, 64, 64, noise=0.02)


@pytest.fixture(params=FLAVOURS)
def shell(request):
    """The sync or the async wrapper shell (see tests/shells.py): a test that takes it runs
    once for each."""
    shell = Shell(request.param)
    yield shell
    shell.close()


# Qdrant server image for the server suite (named vectors need >= 1.18).
SERVER_IMAGE = "qdrant/qdrant:v1.18.0"


@pytest.fixture(scope="session")
def qdrant_server():
    """A Qdrant server in Docker (testcontainers); the test skips cleanly without Docker."""
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:  # no engine, no socket, no permission: all mean "no server"
        pytest.skip(f"no Docker engine for the Qdrant server tests: {type(exc).__name__}")
    try:
        from testcontainers.community.qdrant import QdrantContainer
    except ImportError:  # older testcontainers
        from testcontainers.qdrant import QdrantContainer
    with QdrantContainer(SERVER_IMAGE) as container:
        yield container


BACKENDS = ["local", "rest", "grpc"]


def make_client(backend: str, request):
    """A sync client for ``backend``: local mode, or the server over REST or gRPC."""
    if backend == "local":
        return None  # the world builds its own local-mode client
    server = request.getfixturevalue("qdrant_server")
    return server.get_client(prefer_grpc=backend == "grpc")


def make_async_client(backend: str, request):
    if backend == "local":
        return None
    server = request.getfixturevalue("qdrant_server")
    return server.get_async_client(prefer_grpc=backend == "grpc")
