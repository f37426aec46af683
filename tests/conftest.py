"""Strict JAX for every test (implicit rank promotion is an error); a fixed hypothesis
profile on CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("JAX_NUMPY_RANK_PROMOTION", "raise")
os.environ.setdefault("SMOOTHCLI_CACHE_DIR", "off")  # tests never write a user's cache

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


def run_on_a_terminal(args: list[str], env: dict, *, stderr_too: bool = False) -> str:
    """Run a command with stdout (and, if asked, stderr) on a pseudo-terminal; return what it
    wrote there, as text."""
    import pty
    import subprocess

    master, slave = pty.openpty()
    err = slave if stderr_too else subprocess.DEVNULL
    proc = subprocess.Popen(args, stdout=slave, stderr=err, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the other end closed: EIO on Linux
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def run_clean_python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter with no JAX_, XLA_FLAGS or SMOOTHCLI_ settings of
    ours (plus ``env``); assert it succeeds and return its stdout, stripped."""
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "SMOOTHCLI_"))}
    clean.pop("XLA_FLAGS", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()
