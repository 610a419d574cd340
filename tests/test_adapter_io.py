"""Adapters round-trip through files without pickle, and refuse the wrong models or bad data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qdrant_drift import (
    AdapterFileError,
    AdapterMismatchError,
    fit,
    load_adapter,
)
from qdrant_drift.adapters import adapter_from_bytes, adapter_to_bytes

from .synthetic import drifted_pairs


@pytest.fixture(scope="module")
def adapter():
    new, old, _ = drifted_pairs(600, 32, 24, noise=0.01)
    return fit("procrustes", new, old, new_model="new-m", old_model="old-m")


@pytest.fixture(scope="module")
def mlp_adapter():
    new, old, _ = drifted_pairs(600, 32, 24, noise=0.01)
    return fit("residual_mlp", new, old, epochs=2, new_model="new-m", old_model="old-m")


@pytest.fixture(scope="module")
def whitened_adapter():
    new, old, _ = drifted_pairs(600, 32, 24, noise=0.01)
    return fit("whitened", new, old, gammas=(0.2,), new_model="new-m", old_model="old-m")


@pytest.mark.parametrize("which", ["adapter", "mlp_adapter", "whitened_adapter"])
def test_save_load_round_trip_is_exact(which, request, tmp_path):
    original = request.getfixturevalue(which)
    path = tmp_path / "a.safetensors"
    original.save(path)
    loaded = load_adapter(path, new_model="new-m", old_model="old-m", new_dim=32, old_dim=24)
    probe = np.random.default_rng(0).normal(size=(5, 32)).astype(np.float32)
    np.testing.assert_array_equal(loaded.transform(probe), original.transform(probe))
    assert loaded.kind == original.kind
    assert loaded.fingerprint == original.fingerprint
    assert loaded.info == original.info


def test_file_is_not_a_pickle(adapter, tmp_path):
    path = tmp_path / "a.safetensors"
    adapter.save(path)
    data = path.read_bytes()
    assert not data.startswith(b"\x80")  # pickle protocol marker
    header_size = int.from_bytes(data[:8], "little")  # safetensors: u64 size, JSON header
    header = json.loads(data[8:8 + header_size])
    assert header["__metadata__"]["format"] == "qdrant-drift-adapter"


@pytest.mark.parametrize(
    "expectation, message",
    [
        ({"new_model": "other-new"}, "new model"),
        ({"old_model": "other-old"}, "old model"),
        ({"new_dim": 768}, "new dimension"),
        ({"old_dim": 384}, "old dimension"),
    ],
)
def test_loading_for_other_models_or_dims_is_a_clear_error(adapter, tmp_path, expectation,
                                                          message):
    path = tmp_path / "a.safetensors"
    adapter.save(path)
    with pytest.raises(AdapterMismatchError, match=message):
        load_adapter(path, **expectation)


def test_fingerprint_digest_differs_between_model_pairs(adapter):
    new, old, _ = drifted_pairs(600, 32, 24, noise=0.01)
    other = fit("procrustes", new, old, new_model="new-m", old_model="another-old")
    assert other.fingerprint.digest != adapter.fingerprint.digest


def test_flipped_bit_in_the_weights_is_caught(adapter):
    data = bytearray(adapter_to_bytes(adapter))
    data[-5] ^= 0x01
    with pytest.raises(AdapterFileError, match="checksum"):
        adapter_from_bytes(bytes(data))


@pytest.mark.parametrize("cut", [4, 100, -10])
def test_truncated_file_is_a_clear_error(adapter, tmp_path, cut):
    data = adapter_to_bytes(adapter)
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[:cut])
    with pytest.raises(AdapterFileError):
        load_adapter(path)


def test_garbage_and_missing_files_are_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(AdapterFileError, match="JSON"):
        load_adapter(garbage)
    with pytest.raises(AdapterFileError, match="cannot read"):
        load_adapter(tmp_path / "missing.safetensors")


def test_a_foreign_safetensors_file_is_refused(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "model.safetensors"
    save_file({"w": np.zeros((2, 2), np.float32)}, str(path))
    with pytest.raises(AdapterFileError, match="not a qdrant-drift adapter"):
        load_adapter(path)


def test_save_is_atomic_and_overwrites(adapter, tmp_path):
    path = tmp_path / "a.safetensors"
    path.write_bytes(b"old content")
    adapter.save(path)
    assert load_adapter(path).kind == "procrustes"
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]
