"""Strict JAX for every test (implicit rank promotion is an error); a fixed hypothesis
profile on CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("JAX_NUMPY_RANK_PROMOTION", "raise")

# what the CLI does at start-up: one CPU device per core, so that tests exercise the engine
# spreading blocks over several devices (importing smoothcli no longer does this)
from smoothcli import runtime

runtime.configure()

# CI replays the same examples every run, so a red build always means a change did it;
# locally, hypothesis keeps exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def hypercoil_X():
    import numpy as np

    return np.array([[0, 0.1, 0.2, 0.3], [0.2, 0.3, 0.4, 0.5], [0.4, 0.5, 0.6, 0.7]])
