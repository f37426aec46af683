"""Strict JAX for every test (implicit rank promotion is an error); a fixed hypothesis
profile on CI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("JAX_NUMPY_RANK_PROMOTION", "raise")
os.environ.setdefault("SMOOTHCLI_CACHE_DIR", "off")  # tests never write a user's cache
# the tests' inputs are small: --jobs N starts its workers all the same (test_batch.py has
# the tests of the rule that scores small inputs in this process)
os.environ.setdefault("SMOOTHCLI_WORKER_BYTES", "0")
# and this process scores one input at a time, whatever their size, so that --jobs 2 on big
# inputs starts workers (test_batch.py has the tests of two inputs at once, in threads)
os.environ.setdefault("SMOOTHCLI_OVERLAP_BYTES", str(2**62))

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
#: small real fMRI files (copied from nitime and nilearn: see tests/data/real/README.md)
SHARED_DATA = ROOT / "tests" / "data" / "real"


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


#: resident memory of this process above which the compiled kernels are dropped after a test
KEEP_COMPILED_BYTES = 900 << 20


def _resident_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


@pytest.fixture(autouse=True)
def _forget_compiled_kernels():
    """Drop JAX's compilations after a test once this process holds more than
    :data:`KEEP_COMPILED_BYTES`: JAX keeps every kernel and every small jitted operation the
    tests run on the side, and over the whole suite that grew this process to 1.7 GB. (Not
    after every test: compiling again costs more time than the suite can spare.)"""
    yield
    import sys

    if "jax" in sys.modules and _resident_bytes() > KEEP_COMPILED_BYTES:
        import gc

        import jax

        from smoothcli.engine import clear_caches

        clear_caches()
        jax.clear_caches()
        gc.collect()
        _trim()


def _trim() -> None:
    """Give the freed memory back to the system (glibc keeps it otherwise)."""
    import contextlib
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def cli_runner():
    """A ``CliRunner`` whose ``result.stdout`` is stdout alone and ``result.stderr`` all of
    stderr: click 8.2 keeps the two apart by itself; click 8.1 (what typer's lowest version
    brings) when asked, and then it reads stderr without flushing it: made write-through."""
    import contextlib

    from typer.testing import CliRunner

    class Runner(CliRunner):
        @contextlib.contextmanager
        def isolation(self, *args, **kwargs):
            with super().isolation(*args, **kwargs) as streams:
                with contextlib.suppress(AttributeError, ValueError):
                    sys.stderr.reconfigure(write_through=True)
                yield streams

    try:
        return Runner(mix_stderr=False)
    except TypeError:  # click 8.2 and newer: no such option, the streams are apart
        return Runner()


#: tests that need Linux itself: /proc, O_TMPFILE, prctl
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs Linux (/proc, O_TMPFILE or prctl)"
)
#: tests that need a POSIX system: signals sent to a process, FIFOs, file modes, symlinks,
#: devices such as /dev/full, a pseudo-terminal
posix_only = pytest.mark.skipif(
    os.name != "posix", reason="needs POSIX (signals, FIFOs, file modes, symlinks, /dev, a pty)"
)


def _round_trip() -> dict:
    """What ``pandas.read_csv`` needs to read floats back exactly: its default from pandas 3
    on, ``float_precision="round_trip"`` before (the option is deprecated since)."""
    from importlib.metadata import version

    return {} if int(version("pandas").split(".")[0]) >= 3 else {"float_precision": "round_trip"}


#: keywords of ``pandas.read_csv`` that read every float back to the same value
ROUND_TRIP = _round_trip()


# -- helpers the test files share ----------------------------------------------------------


def smoothcli(*args, input=None):
    """The app run in this process on ``args`` (each made text), as the shell would run
    ``smoothcli ARGS``: ``result.stdout`` and ``result.stderr`` apart (see
    :func:`cli_runner`)."""
    from smoothcli.cli import app

    return _RUNNER.invoke(app, [str(a) for a in args], input=input)


def score(*args, input=None):
    """``smoothcli score ARGS``."""
    return smoothcli("score", *args, input=input)


def dvars(*args, input=None):
    """``smoothcli dvars ARGS``."""
    return smoothcli("dvars", *args, input=input)


def linked_inputs(folder: Path, shape: tuple[int, int], count: int) -> list[str]:
    """``count`` inputs of seconds of work each, on disk once: hard links to one float32 NPY
    of ``shape`` (distinct paths, so each is scored once)."""
    import numpy as np

    big = folder / "big.npy"
    np.save(big, np.random.default_rng(0).standard_normal(shape, dtype=np.float32))
    paths = []
    for i in range(count):
        os.link(big, folder / f"big{i:03d}.npy")
        paths.append(str(folder / f"big{i:03d}.npy"))
    return paths


def rows_of(text: str) -> list[dict]:
    """The rows of a TSV table (smoothcli's stdout), as dicts of text."""
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


_RUNNER = cli_runner()
