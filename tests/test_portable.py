"""What keeps smoothcli working off Linux, exercised here on Linux by taking each Linux (or
POSIX) call away: the fallbacks of atomic writes, ``--resume``'s positioned writes, name
limits, ``--jobs`` without ``prctl``, progress without ``/proc``; and shell completion, which
a real ``bash`` runs."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from smoothcli.cli import app
from smoothcli.output import OutputError, check_target
from smoothcli.output import _write as target_mod

from .conftest import ROOT, cli_runner, posix_only, rows_of

runner = cli_runner()
EVENTS = ROOT / "sample_data" / "sub-02_task-events_timeseries.csv"
SLABS = ROOT / "sample_data" / "sub-01_task-rest_desc-slabs_timeseries.npy"
BIN = Path(sys.executable).parent


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write(path: Path, text: str = "a\tb\n") -> None:
    with check_target(str(path), sidecar=False).open() as stream:
        stream.write(text)


# -- atomic writes ---------------------------------------------------------------------------


@posix_only
@pytest.mark.parametrize("without", ["O_TMPFILE", "/proc", "O_DIRECTORY"])
def test_atomic_writes_without_linux_calls(tmp_path, monkeypatch, without):
    """No O_TMPFILE (macOS), no /proc to link it from, no *at() calls (Windows): the same
    file, with the mode the umask gives, and no temporary file left, written or not."""
    if without == "O_TMPFILE":
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    elif without == "/proc":
        monkeypatch.setattr(target_mod, "PROC_FD", str(tmp_path / "no-proc"))
    else:
        monkeypatch.delattr(os, "O_DIRECTORY", raising=False)
    out = tmp_path / "t.tsv"
    _write(out, "x\ty\n")
    assert out.read_text() == "x\ty\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_umask()
    out.chmod(0o640)
    _write(out, "again\n")  # an existing file keeps its mode
    assert out.read_text() == "again\n" and stat.S_IMODE(out.stat().st_mode) == 0o640
    with pytest.raises(RuntimeError), check_target(str(out), sidecar=False).open() as stream:
        stream.write("half")
        raise RuntimeError("a failure while writing")
    assert out.read_text() == "again\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "no-proc") == ["t.tsv"]


def test_the_cli_writes_its_table_and_sidecar_without_dir_fd(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "O_DIRECTORY", raising=False)
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    out = tmp_path / "s.tsv"
    result = runner.invoke(app, ["score", str(EVENTS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert rows_of(out.read_text())[0]["status"] == "ok"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "s.tsv"]


def test_a_name_too_long_without_pathconf(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "pathconf", raising=False)  # Windows: the usual 255 bytes
    with pytest.raises(OutputError, match="the name is too long"):
        check_target(str(tmp_path / ("x" * 300 + ".tsv")))
    check_target(str(tmp_path / ("x" * 250 + ".tsv")), sidecar=False)


def test_resume_without_pwrite_ends_with_the_same_table(tmp_path, monkeypatch):
    inputs = [str(EVENTS), str(SLABS)]
    whole = tmp_path / "whole.tsv"
    assert runner.invoke(app, ["score", *inputs, "-o", str(whole)]).exit_code == 0
    monkeypatch.delattr(os, "pwrite", raising=False)  # Windows: a seek and a write
    out = tmp_path / "r.tsv"
    first = runner.invoke(app, ["score", inputs[0], "-o", str(out), "--resume"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["score", *inputs, "-o", str(out), "--resume"])
    assert again.exit_code == 0, again.output
    assert "1 already in" in again.stderr
    assert out.read_bytes() == whole.read_bytes()


# -- worker processes and progress -----------------------------------------------------------


def test_die_with_parent_is_skipped_where_there_is_no_prctl(monkeypatch):
    import ctypes

    from smoothcli.batch import _executors

    def no_libc(*args, **kwargs):  # Windows: ctypes.CDLL(None) raises TypeError
        raise TypeError("expected str, bytes or os.PathLike object, not NoneType")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    _executors._die_with_parent()  # returns, the worker goes on
    monkeypatch.setattr(sys, "platform", "darwin")
    _executors._die_with_parent()


def test_jobs_2_without_prctl_gives_the_same_table(tmp_path):
    """Every process (the CLI and its spawned workers) gets a ``ctypes.CDLL`` that fails
    as Windows' does: the workers start and score all the same."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "import ctypes\n"
        "def _no_libc(*args, **kwargs):\n"
        "    raise TypeError('no C library by that name here')\n"
        "ctypes.CDLL = _no_libc\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")]),
    }
    args = [str(BIN / "smoothcli"), "score", str(EVENTS), str(SLABS), "--format", "tsv"]
    one = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    two = subprocess.run(
        [*args, "--jobs", "2"], capture_output=True, text=True, env=env, timeout=120
    )
    assert one.returncode == two.returncode == 0, two.stderr
    assert two.stdout == one.stdout and "Traceback" not in two.stderr


def test_readers_report_how_far_they_have_read(tmp_path):
    """Progress comes from the readers (the fraction of the rows read), not from /proc."""
    import numpy as np

    from smoothcli.sources import _consumed, open_path

    data = tmp_path / "x.npy"
    np.save(data, np.arange(4000.0).reshape(2000, 2))
    seen: list[float] = []
    _consumed.set_sink(seen.append)
    try:
        (item,) = open_path(str(data))
        for _ in item.source.chunks(300):
            pass
    finally:
        _consumed.set_sink(None)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and len(seen) == 1 + 7
    assert seen == sorted(seen) and _consumed.fraction() == 1.0


def test_a_worker_reports_its_progress_through_the_shared_table(monkeypatch):
    from smoothcli.batch import _executors
    from smoothcli.sources import _consumed

    table = [_executors.IDLE, 0] * 2
    monkeypatch.setattr(_executors, "_slot", (table, 1))  # as _init_worker sets it in a worker
    _consumed.set_sink(_executors._report_progress)
    try:
        _executors.mark_running(7)
        _consumed.report(0.25)
    finally:
        _consumed.set_sink(None)
    workers = _executors.ProcessWorkers.__new__(_executors.ProcessWorkers)
    workers._table = table
    assert workers.position(7) == 0.25 and workers.position(3) is None


# -- shell completion ------------------------------------------------------------------------


def _bash_complete(words: list[str]) -> list[str]:
    """What a real bash offers for ``words`` (the last one being completed) with smoothcli's
    completion script sourced: COMPREPLY."""
    script = runner.invoke(app, ["--show-completion", "bash"]).stdout
    line = " ".join(f"'{w}'" for w in words)
    program = (
        f"{script}\n"
        f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}\n"
        "_smoothcli_completion smoothcli\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_commands_options_choices_and_specs():
    assert _bash_complete(["smoothcli", "sc"]) == ["score"]
    assert _bash_complete(["smoothcli", "dvars", "--ma"]) == ["--mask", "--max-fail-fraction"]
    formats = _bash_complete(["smoothcli", "score", "--format", ""])
    assert formats == ["auto", "table", "tsv", "csv", "json", "jsonl", "markdown"]
    assert _bash_complete(["smoothcli", "score", "--scalarise", "r"]) == ["rms(axis=space)", "rms"]
    assert _bash_complete(["smoothcli", "dvars", "--mask", "au"]) == ["auto"]
    assert _bash_complete(["smoothcli", "score", "sam"]) == []  # bash completes file names


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_shell_gets_a_script_that_asks_smoothcli(shell):
    script = runner.invoke(app, ["--show-completion", shell])
    assert script.exit_code == 0 and "_SMOOTHCLI_COMPLETE=complete_" + shell in script.stdout


@pytest.mark.parametrize(
    ("shell", "words", "want"),
    [("zsh", "smoothcli sc", "score"), ("fish", "smoothcli dvars --ma", "--mask")],
)
def test_zsh_and_fish_are_answered(shell, words, want):
    """What zsh's and fish's scripts ask for (their words in _TYPER_COMPLETE_ARGS)."""
    env = {
        **os.environ,
        "_SMOOTHCLI_COMPLETE": f"complete_{shell}",
        "_TYPER_COMPLETE_ARGS": words,
        "_TYPER_COMPLETE_FISH_ACTION": "get-args",
    }
    done = subprocess.run(
        [str(BIN / "smoothcli")], capture_output=True, text=True, env=env, timeout=120
    )
    assert want in done.stdout, done.stderr


def test_completion_imports_neither_numpy_nor_jax():
    env = {
        **os.environ,
        "_SMOOTHCLI_COMPLETE": "complete_bash",
        "COMP_WORDS": "smoothcli score --sc",
        "COMP_CWORD": "2",
        "PYTHONPROFILEIMPORTTIME": "1",  # python -X importtime: every import on stderr
    }
    done = subprocess.run(
        [str(BIN / "smoothcli")], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.stdout.split() == ["--scalarise"]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "typer" in imported and not {"numpy", "jax", "pandas", "nibabel"} & imported


def test_the_completion_names_are_the_spec_languages():
    from smoothcli.cli._complete import MAPS
    from smoothcli.scalarise import MAP_NAMES

    assert tuple(MAPS) == tuple(MAP_NAMES)
