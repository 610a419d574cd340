"""Logged queries for ``fit``: where the texts come from (``[adapter] queries`` or
``qdrant-drift fit --queries FILE``). No relevance labels: the texts only.

Three sources: a text file with one query per line, a loader callable
(``"package.module:attribute"``, called with no arguments, returning the texts) or a payload
field of a collection holding a query log (``"qdrant://collection/payload_field"``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from qdrant_client.http import models

from ..errors import DriftError
from ..sansio import Steps, call
from ..store.collection import require_collection_steps
from .file import QUERY_LOG_SCHEME, MigrationFile, is_callable_reference

SCROLL_PAGE = 256


def read_query_log_steps(collection: str, payload_field: str, limit: int) -> Steps[list[str]]:
    """Up to ``limit`` non-empty texts of ``payload_field`` from a query-log collection."""
    yield from require_collection_steps(collection, "query log collection")
    texts: list[str] = []
    offset = None
    while len(texts) < limit:
        batch, offset = yield call(
            "scroll", collection, limit=SCROLL_PAGE, offset=offset,
            with_payload=models.PayloadSelectorInclude(include=[payload_field]),
            with_vectors=False)
        texts.extend(_text(point.payload or {}, payload_field) for point in batch)
        texts = [t for t in texts if t]
        if offset is None:
            break
    return texts[:limit]


def _text(payload: dict[str, Any], dotted: str) -> str:
    value: Any = payload
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value.strip() if isinstance(value, str) else ""


def load_query_texts(
    source: str, file: MigrationFile, *, limit: int, seed: int,
    read_log: Callable[[Steps[list[str]]], list[str]],
) -> list[str]:
    """The logged query texts named by ``source``: a seeded sample of at most ``limit``.

    ``read_log`` drives the query-log steps against the migration's client."""
    from ..embedders import load_callable

    if source.startswith(QUERY_LOG_SCHEME):
        collection, _, payload_field = source[len(QUERY_LOG_SCHEME):].partition("/")
        texts = read_log(read_query_log_steps(collection, payload_field, 50 * limit))
    elif is_callable_reference(source):
        texts = [str(t).strip() for t in load_callable(source, "logged queries")()]
    else:
        path = file.resolve(source)
        if not path.is_file():
            raise DriftError(f"logged queries file {path} does not exist")
        texts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    texts = [t for t in dict.fromkeys(texts) if t]  # unique, in order, no blanks
    if not texts:
        raise DriftError(f"no logged queries in {source}")
    if len(texts) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(texts), limit, replace=False))
        texts = [texts[i] for i in keep]
    return texts
