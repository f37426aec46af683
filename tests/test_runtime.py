"""runtime: where JAX's persistent compilation cache goes, that a second process uses it, and
that a cache folder that cannot be written, or ``SMOOTHCLI_CACHE_DIR=off``, changes nothing
but the speed. Every CLI run here has its own cache folder (or none): never the user's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from smoothcli import runtime


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _env(tmp_path: Path, cache: str | None, **more: str) -> dict[str, str]:
    """The test's environment, with a home and XDG cache folder of its own, and
    ``SMOOTHCLI_CACHE_DIR=cache`` (unset if ``None``), without the JAX cache settings that
    ``runtime.configure()`` in this process may have put in the environment."""
    env = {k: v for k, v in os.environ.items() if "CACHE" not in k}
    env.update(HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "xdg"), **more)
    if cache is not None:
        env["SMOOTHCLI_CACHE_DIR"] = cache
    return env


def _score(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "smoothcli", "score", str(path), "-q"],
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.csv"
    values = np.arange(30, dtype=float).reshape(10, 3) ** 2
    np.savetxt(path, values, delimiter=",", header="a,b,c", comments="")
    return path


# --- where the cache goes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SMOOTHCLI_CACHE_DIR": "/c/here"}, "/c/here"),
        ({"SMOOTHCLI_CACHE_DIR": " /c/here "}, "/c/here"),
        ({"SMOOTHCLI_CACHE_DIR": "/c/here", "XDG_CACHE_HOME": "/x"}, "/c/here"),
        ({"SMOOTHCLI_CACHE_DIR": "auto", "XDG_CACHE_HOME": "/x"}, "/x/smoothcli/jax"),
        ({"SMOOTHCLI_CACHE_DIR": "auto", "XDG_CACHE_HOME": "rel/x"}, "/h/.cache/smoothcli/jax"),
        ({"SMOOTHCLI_CACHE_DIR": "auto", "XDG_CACHE_HOME": ""}, "/h/.cache/smoothcli/jax"),
        ({"SMOOTHCLI_CACHE_DIR": "auto"}, "/h/.cache/smoothcli/jax"),
        ({}, None),  # opt-in
        ({"XDG_CACHE_HOME": "/x"}, None),
        ({"SMOOTHCLI_CACHE_DIR": ""}, None),
        ({"SMOOTHCLI_CACHE_DIR": "off"}, None),
        ({"SMOOTHCLI_CACHE_DIR": "OFF", "XDG_CACHE_HOME": "/x"}, None),
    ],
)
def test_cache_dir_follows_smoothcli_cache_dir_then_xdg_then_home(monkeypatch, env, expected):
    for name in ("SMOOTHCLI_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", "/h")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert runtime.cache_dir() == expected


def test_cache_dir_is_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMOOTHCLI_CACHE_DIR", "rel/cache")
    assert runtime.cache_dir() == str(tmp_path / "rel" / "cache")


# --- the CLI, in fresh processes ------------------------------------------------------------


def test_cache_folder_is_created_and_a_second_process_uses_it(tmp_path, tiny_csv):
    cache = tmp_path / "deep" / "cache"
    first = _score(tiny_csv, _env(tmp_path, str(cache)))
    assert (first.returncode, first.stderr) == (0, "")
    entries = _files(cache)
    assert entries, "the first run left no compiled kernel in the cache"
    # the second process reads the kernel back instead of compiling it (JAX says so when it
    # logs compilations), gives the same table and adds no entry
    second = _score(tiny_csv, _env(tmp_path, str(cache), JAX_LOG_COMPILES="1"))
    assert second.returncode == 0, second.stderr
    assert "Persistent compilation cache hit" in second.stderr
    assert second.stdout == first.stdout
    assert _files(cache) == entries
    assert not (tmp_path / "home").exists()
    assert not (tmp_path / "xdg").exists()


def test_auto_puts_the_cache_under_xdg_cache_home(tmp_path, tiny_csv):
    done = _score(tiny_csv, _env(tmp_path, "auto"))
    assert (done.returncode, done.stderr) == (0, "")
    assert _files(tmp_path / "xdg" / "smoothcli" / "jax")
    assert not (tmp_path / "home").exists()


def test_a_cache_folder_that_cannot_be_created_is_ignored_silently(tmp_path, tiny_csv):
    # a path under a regular file can never be a folder, even for root
    (tmp_path / "file").write_text("not a folder")
    cache = tmp_path / "file" / "cache"
    done = _score(tiny_csv, _env(tmp_path, str(cache)))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("path\t")
    assert (tmp_path / "file").read_text() == "not a folder"
    assert not (tmp_path / "home").exists()
    assert not (tmp_path / "xdg").exists()


def test_an_unwritable_cache_folder_wins_over_a_jax_setting(tmp_path, tiny_csv):
    # SMOOTHCLI_CACHE_DIR decides, even over a JAX_COMPILATION_CACHE_DIR inherited by the CLI
    (tmp_path / "file").write_text("")
    env = _env(tmp_path, str(tmp_path / "file" / "cache"))
    env["JAX_COMPILATION_CACHE_DIR"] = str(tmp_path / "jax-cache")
    done = _score(tiny_csv, env)
    assert (done.returncode, done.stderr) == (0, "")
    assert not (tmp_path / "jax-cache").exists()


@pytest.mark.parametrize("off", ["off", ""])
def test_smoothcli_cache_dir_off_writes_nothing(tmp_path, tiny_csv, off):
    before = sorted(tmp_path.rglob("*"))
    done = _score(tiny_csv, _env(tmp_path, off))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("path\t")
    assert sorted(tmp_path.rglob("*")) == before


def test_with_worker_processes_the_cache_is_used_too(tmp_path, tiny_csv):
    second = tmp_path / "second.csv"
    second.write_bytes(tiny_csv.read_bytes())
    cache = tmp_path / "cache"
    args = [sys.executable, "-m", "smoothcli", "score", str(tiny_csv), str(second), "-q"]
    done = subprocess.run(
        [*args, "--jobs", "2"], capture_output=True, text=True, env=_env(tmp_path, str(cache))
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert _files(cache)
