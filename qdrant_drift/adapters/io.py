"""Saving and loading adapters without pickle.

Format: a safetensors blob (the map's float32 arrays) whose header metadata holds JSON for
everything else (kind, fingerprint, distance, report, library version) and a SHA-256 of the
array bytes, so a flipped bit is caught as surely as a truncated file. The same bytes go to a
file or into Qdrant's migration state.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import AdapterFileError
from .base import Adapter, ModelFingerprint
from .maps import MAPS

FORMAT = "qdrant-drift-adapter"
FORMAT_VERSION = 1


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for key in sorted(arrays):
        arr = np.ascontiguousarray(arrays[key], dtype=np.float32)
        digest.update(key.encode())
        digest.update(str(arr.shape).encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def adapter_to_bytes(adapter: Adapter) -> bytes:
    """Serialise an adapter to self-describing bytes (safetensors + JSON metadata)."""
    from safetensors.numpy import save

    arrays = adapter.map.arrays()
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "library_version": __version__,
        "kind": adapter.kind,
        "map": adapter.map.name,
        "distance": adapter.distance,
        "fingerprint": json.dumps(adapter.fingerprint.__dict__, sort_keys=True),
        "info": json.dumps(adapter.info, sort_keys=True, default=_json_default),
        "checksum": _checksum(arrays),
    }
    return save(arrays, metadata=metadata)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _read_metadata(data: bytes) -> dict[str, str]:
    if len(data) < 8:
        raise AdapterFileError("not an adapter: fewer than 8 bytes")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8:
        raise AdapterFileError("adapter data is truncated (header runs past the end)")
    try:
        header = json.loads(data[8 : 8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdapterFileError(f"adapter header is not valid JSON: {exc}") from exc
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise AdapterFileError("not a qdrant-drift adapter (format marker missing)")
    return metadata


def adapter_from_bytes(data: bytes) -> Adapter:
    """Inverse of :func:`adapter_to_bytes`; raises :class:`AdapterFileError` on bad data."""
    from safetensors.numpy import load

    metadata = _read_metadata(data)
    version = int(metadata.get("format_version", "0"))
    if version > FORMAT_VERSION:
        raise AdapterFileError(
            f"adapter format version {version} is newer than this library understands "
            f"({FORMAT_VERSION}); upgrade qdrant-drift"
        )
    try:
        arrays = load(data)
    except Exception as exc:  # safetensors raises its own error type for every corruption
        raise AdapterFileError(f"adapter arrays are unreadable: {exc}") from exc
    if _checksum(arrays) != metadata.get("checksum"):
        raise AdapterFileError("adapter arrays fail their checksum: the data is corrupt")
    try:
        map_cls = MAPS[metadata["map"]]
        fingerprint = ModelFingerprint(**json.loads(metadata["fingerprint"]))
        return Adapter(
            kind=metadata["kind"],
            map=map_cls(**arrays),
            fingerprint=fingerprint,
            distance=metadata["distance"],  # type: ignore[arg-type]
            info=json.loads(metadata["info"]),
        )
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise AdapterFileError(f"adapter metadata is incomplete or invalid: {exc!r}") from exc


def save_adapter(adapter: Adapter, path: str | os.PathLike[str]) -> None:
    """Write atomically: a crash mid-write leaves the previous file intact."""
    path = Path(path)
    data = adapter_to_bytes(adapter)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_adapter(
    path: str | os.PathLike[str],
    *,
    new_model: str | None = None,
    old_model: str | None = None,
    new_dim: int | None = None,
    old_dim: int | None = None,
) -> Adapter:
    """Load an adapter and check it was fitted for the given models and dimensions."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AdapterFileError(f"cannot read adapter file {path}: {exc}") from exc
    try:
        adapter = adapter_from_bytes(data)
    except AdapterFileError as exc:
        raise AdapterFileError(f"{path}: {exc}") from exc
    adapter.check(new_model=new_model, old_model=old_model, new_dim=new_dim, old_dim=old_dim)
    return adapter
