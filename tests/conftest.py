"""Shared fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from .synthetic import drifted_pairs


@pytest.fixture
def pairs_64() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return drifted_pairs(1200, 64, 64, noise=0.02)
