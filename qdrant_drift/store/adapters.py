"""Adapter blobs in the state collection: split in chunks, verified by digest on load."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from qdrant_client.http import models

from ..adapters import Adapter, adapter_from_bytes, adapter_to_bytes
from ..errors import StateError
from ..sansio import Steps, call
from .collection import STATE_COLLECTION, point_id
from .records import Change, MigrationRecord, update_record

CHUNK_BYTES = 1 << 20  # adapter bytes per state point (base64 adds a third)


def write_adapter_chunks(
    name: str, adapter: Adapter, state_collection: str = STATE_COLLECTION
) -> Steps[tuple[str, int]]:
    """Write the adapter's bytes in chunks keyed by their digest; (digest, chunk count).
    Written before any record points at them, so a reader never sees a half-written one."""
    data = adapter_to_bytes(adapter)
    digest = hashlib.sha256(data).hexdigest()
    chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
    points = [
        models.PointStruct(
            id=point_id("adapter", name, digest, str(i)), vector={},
            payload={"record": "adapter_chunk", "name": name, "digest": digest,
                     "index": i, "data": base64.b64encode(chunk).decode("ascii")},
        )
        for i, chunk in enumerate(chunks)
    ]
    for start in range(0, len(points), 8):
        yield call("upsert", state_collection, points[start : start + 8])
    return digest, len(chunks)


def adapter_change(digest: str, chunks: int) -> Change:
    """Point the record at stored adapter chunks."""
    def change(record: MigrationRecord) -> list[dict[str, Any]]:
        record.adapter_digest, record.adapter_chunks = digest, chunks
        return [{"adapter": digest}]

    return change


def store_adapter(
    name: str, adapter: Adapter, state_collection: str = STATE_COLLECTION
) -> Steps[MigrationRecord]:
    """Write the adapter's chunks, then point the migration's record at them (a checked
    write: replicas pick the new adapter up on their next refresh)."""
    digest, chunks = yield from write_adapter_chunks(name, adapter, state_collection)
    return (yield from update_record(name, adapter_change(digest, chunks), state_collection))


def load_stored_adapter(
    record: MigrationRecord, state_collection: str = STATE_COLLECTION
) -> Steps[Adapter]:
    if not record.adapter_digest:
        raise StateError(f"migration {record.spec.name!r} has no adapter yet")
    ids = [point_id("adapter", record.spec.name, record.adapter_digest, str(i))
           for i in range(record.adapter_chunks)]
    points = yield call("retrieve", state_collection, ids, with_payload=True, with_vectors=False)
    by_index = {p.payload["index"]: p.payload["data"] for p in points if p.payload}
    if len(by_index) != record.adapter_chunks:
        raise StateError(
            f"adapter of {record.spec.name!r}: {len(by_index)} of {record.adapter_chunks} "
            "chunks found in the state collection"
        )
    data = b"".join(base64.b64decode(by_index[i]) for i in range(record.adapter_chunks))
    if hashlib.sha256(data).hexdigest() != record.adapter_digest:
        raise StateError(f"adapter of {record.spec.name!r} fails its digest: state is corrupt")
    return adapter_from_bytes(data)
