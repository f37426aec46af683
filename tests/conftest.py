"""Strict JAX for every test: implicit rank promotion is an error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("JAX_NUMPY_RANK_PROMOTION", "raise")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def hypercoil_X():
    import numpy as np

    return np.array([[0, 0.1, 0.2, 0.3], [0.2, 0.3, 0.4, 0.5], [0.4, 0.5, 0.6, 0.7]])
