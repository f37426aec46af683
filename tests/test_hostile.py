"""Hostile inputs against what was added since the trust work (GIFTI, folder scans, side files,
``--resume``, the report, ``--jobs``/``--dask``): each case runs in a batch with a good file,
and the test looks at the exit status, the rows, what stderr says, the files left behind
and the files outside the named outputs (unchanged). The files come from tests/hostile.py."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from smoothcli.cli import app

from . import hostile
from .conftest import cli_runner, linked_inputs, posix_only, rows_of, smoothcli

runner = cli_runner()
BIN = Path(sys.executable).parent


cli = smoothcli


def by_name(result) -> dict[str, dict]:
    return {Path(r["path"]).name: r for r in rows_of(result.stdout)}


#: what runs a command in a child and reports its peak memory (RSS, bytes) and exit status
_MEASURED = (
    "import json, resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
    "print(json.dumps([p.returncode, p.stdout, p.stderr, peak]))\n"
)


def measured(*args, **env) -> tuple[int, str, str, int]:
    """Run ``smoothcli args`` in a fresh process: exit status, stdout, stderr, peak RSS."""
    command = [sys.executable, "-c", _MEASURED, str(BIN / "smoothcli"), *map(str, args)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=180, env={**os.environ, **env}
    )
    code, out, err, peak = json.loads(done.stdout)
    return code, out, err, peak


def no_traceback(text: str) -> None:
    assert "Traceback" not in text and "Error:" not in text.replace("error: ", ""), text


# -- read only what was named ----------------------------------------------------------------


@pytest.mark.parametrize(
    "where", ["/etc/passwd", "../secret.txt", "inside-link.bin", "missing.bin"]
)
def test_gifti_external_data_is_refused(tmp_path, where):
    folder = tmp_path / "data"
    folder.mkdir()
    hostile.secret(tmp_path)
    (folder / "inside-link.bin").symlink_to(tmp_path / "secret.txt")
    good = hostile.good_csv(folder)
    ext = hostile.gifti_external(folder, where)
    for allow in ([], ["--allow-external-data"]):
        result = cli("score", good, ext, *allow, "--format", "tsv")
        assert result.exit_code == 3
        rows = by_name(result)
        assert rows[good.name]["status"] == "ok" and rows[ext.name]["status"] == "error"
        error = rows[ext.name]["error"]
        if not allow:
            assert "keeps its values in another file" in error and "--allow-external-data" in error
        else:  # outside the folder (or through a link out of it), or not there at all
            assert "not in the input's folder" in error or "No such file" in error
        assert "root:" not in result.output and hostile.SECRET not in result.output


def test_gifti_external_data_inside_the_folder_is_read_when_allowed(tmp_path):
    import numpy as np

    values = np.arange(32, dtype=np.uint8).reshape(4, 8)
    (tmp_path / "data.bin").write_bytes(values.tobytes())
    ext = hostile.gifti(tmp_path / "ext.func.gii", "ExternalFileBinary", [4, 8],
                        external="data.bin", datatype="NIFTI_TYPE_UINT8")  # fmt: skip
    assert cli("score", ext).exit_code == 3
    allowed = cli("score", ext, "--allow-external-data", "--format", "tsv")
    assert allowed.exit_code == 0, allowed.output
    (row,) = rows_of(allowed.stdout)
    assert float(row["score"]) == np.abs(np.diff(values.astype(float))).sum()


def test_a_gifti_bomb_is_an_error_before_it_inflates(tmp_path):
    """128 bytes declared, a gigabyte inflated: refused after 128 bytes, in bounded memory."""
    good = hostile.good_csv(tmp_path)
    bomb = hostile.gifti_bomb(tmp_path, 1 << 30)
    lying = hostile.gifti(tmp_path / "short.func.gii", "Base64Binary", [4, 8],
                          hostile.base64.b64encode(b"\0" * 100).decode())  # fmt: skip
    code, out, err, peak = measured("score", good, bomb, lying, "--format", "tsv")
    assert code == 3
    rows = {Path(r["path"]).name: r for r in rows_of(out)}
    assert rows[good.name]["status"] == "ok"
    assert "inflates to more than its declared 128 bytes" in rows[bomb.name]["error"]
    assert "decodes to 100 bytes, not 128" in rows[lying.name]["error"]
    assert peak < 700 << 20, peak  # the CLI itself is about 250 MB; the bomb 1 GB
    no_traceback(err)


@posix_only
def test_a_folder_scan_does_not_follow_links(tmp_path):
    folder = tmp_path / "tree"
    folder.mkdir()
    hostile.secret(tmp_path)
    good = hostile.good_csv(folder)
    (folder / "passwd.csv").symlink_to(tmp_path / "secret.txt")
    (folder / "loop").symlink_to(folder)  # a link back up
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to(folder)
    result = cli("score", folder, "-v", "--format", "tsv")
    assert result.exit_code == 0, result.output
    assert [r["path"] for r in rows_of(result.stdout)] == [str(good)]
    assert f"skipped: {folder / 'passwd.csv'}: a symbolic link, not followed" in result.stderr
    assert hostile.SECRET not in result.output
    followed = cli("score", folder, "--follow", "--format", "tsv")
    rows = by_name(followed)
    assert sorted(rows) == sorted([good.name, "passwd.csv"])  # each once: no loop
    assert followed.exit_code == 3 and hostile.SECRET not in followed.output
    assert "'TOP-SECRET-TOKEN-0123456'..." in rows["passwd.csv"]["error"]


def test_a_deep_folder_is_scanned_without_recursion(tmp_path):
    root = hostile.deep_folder(tmp_path / "deep", 1200)
    try:
        result = cli("score", root, "--format", "tsv", "--columns", "path,status")
    finally:
        hostile.remove_deep(root)
    assert result.exit_code == 0, result.output[-500:]
    (row,) = rows_of(result.stdout)
    assert row["path"].endswith("sub-09_deep.csv") and Path(row["path"]).parts.count("d") == 1200


def test_a_bad_cell_is_quoted_short_and_escaped(tmp_path):
    good = hostile.good_csv(tmp_path)
    bad = tmp_path / "leak.csv"
    bad.write_text(f"a,{hostile.SECRET}\n1,2\n3,\x1b[31m{hostile.SECRET}\n")
    result = cli("score", good, bad, "--format", "tsv")
    assert result.exit_code == 3
    assert hostile.SECRET not in result.output and "\x1b" not in result.output
    error = by_name(result)["leak.csv"]["error"]
    assert "'TOP-SECRET-TOKEN-0123456'..." in error and "'\\x1b[31mTOP-SECRET-TOKEN-01'..." in error


@posix_only
def test_a_file_name_cannot_drive_the_terminal(tmp_path):
    """A name holding escape sequences (a window title, a colour) or rich markup is shown
    escaped on stderr and in the terminal table, and never breaks it."""
    from smoothcli.output import make_writer

    folder = tmp_path / "tree"
    (folder / "x[").mkdir(parents=True)
    evil = "evil\x1b]0;pwned\x07\x1b[31m\u202e.csv"
    (folder / evil).write_text("a\nx\n")
    hostile.good_csv(folder / "x[", "b].csv")  # its path holds '[/b]', a closing tag
    result = cli("score", folder, "--format", "tsv", "--columns", "path,status")
    assert result.exit_code == 3
    assert "evil\\x1b]0;pwned\\x07\\x1b[31m\\u202e.csv: line 2" in result.stderr
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    rows = rows_of(result.stdout)  # the table keeps the name as it is: it is data
    assert sorted(Path(r["path"]).name for r in rows) == sorted([evil, "b].csv"])
    screen = io.StringIO()
    writer = make_writer("table", screen, ["path", "status"], color=True)
    writer.add([{**r, "path": os.path.relpath(r["path"], tmp_path)} for r in rows])
    writer.close()
    shown = screen.getvalue()
    assert "x[/b].csv" in shown and "evil\\x1b]0;pwned\\x07" in shown
    assert "\x07" not in shown and "]0;" not in shown.replace("\\x1b]0;", "")


# -- write only what was named ---------------------------------------------------------------


@posix_only
@pytest.mark.parametrize("side", ["sidecar", "journal", "plot", "censor"])
def test_a_side_file_is_never_written_through_a_link(tmp_path, side):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    good = hostile.good_csv(tmp_path)
    out = tmp_path / "t.tsv"
    extra: list = []
    if side == "sidecar":
        link = tmp_path / "t.json"
    elif side == "journal":
        link, extra = tmp_path / ".t.tsv.resume.jsonl", ["--resume"]
    elif side == "plot":
        (tmp_path / "plots").mkdir()
        link = tmp_path / "plots" / f"{good.stem}.png"
        extra = ["--plot", tmp_path / "plots", "--scalarise", "rms(axis=space)"]
    else:
        (tmp_path / "censor").mkdir()
        link = tmp_path / "censor" / f"{good.stem}_censor.tsv"
        extra = ["--censor", tmp_path / "censor", "--intensity-normalization", "0"]
    link.symlink_to(victim)
    command = "dvars" if side == "censor" else "score"
    result = cli(command, good, "-o", out, *extra)
    assert result.exit_code == 2, result.output
    assert "symbolic link" in result.stderr and link.name in result.stderr
    assert victim.read_text() == "precious\n" and link.is_symlink()
    assert not out.exists()


@pytest.mark.parametrize(("table", "side"), [("res.tsv", "res.json"), ("X.jsonl", "X.json")])
def test_a_users_json_is_not_replaced_by_a_sidecar(tmp_path, table, side):
    good = hostile.good_csv(tmp_path)
    mine = tmp_path / side
    assert cli("score", good, "-o", mine).exit_code == 0  # the user's JSON table
    before = mine.read_bytes()
    result = cli("score", good, "-o", tmp_path / table)
    assert result.exit_code == 2 and "smoothcli did not write it" in result.stderr
    assert mine.read_bytes() == before and not (tmp_path / table).exists()
    mine.unlink()
    for _ in range(2):  # its own sidecar, smoothcli replaces
        assert cli("score", good, "-o", tmp_path / table).exit_code == 0
    assert json.loads(mine.read_text())["GeneratedBy"][0]["Name"] == "smoothcli"


def test_a_png_that_is_not_smoothclis_is_not_replaced(tmp_path):
    good = hostile.good_csv(tmp_path)
    plots = tmp_path / "plots"
    plots.mkdir()
    photo = plots / f"{good.stem}.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\nsomeone's photo")
    args = ["score", good, "--scalarise", "rms(axis=space)", "--plot", plots]
    result = cli(*args)
    assert result.exit_code == 2 and "smoothcli did not write it" in result.stderr
    assert photo.read_bytes() == b"\x89PNG\r\n\x1a\nsomeone's photo"
    photo.unlink()
    assert cli(*args).exit_code == 0 and cli(*args).exit_code == 0  # its own: replaced
    assert photo.read_bytes().startswith(b"\x89PNG")


@posix_only
def test_a_typed_output_follows_its_link_as_a_shell_does(tmp_path):
    good = hostile.good_csv(tmp_path)
    real = tmp_path / "real.tsv"
    (tmp_path / "link.tsv").symlink_to(real)
    assert cli("score", good, "-o", tmp_path / "link.tsv").exit_code == 0
    assert (tmp_path / "link.tsv").is_symlink() and rows_of(real.read_text())[0]["status"] == "ok"
    out = runner.invoke(app, ["score", str(good), "-o", "/dev/stdout", "--format", "tsv"])
    assert out.exit_code == 0


# -- --resume keeps no row it cannot prove ---------------------------------------------------


def _inputs(folder: Path) -> list[Path]:
    return [hostile.good_csv(folder, f"sub-0{i}_task-x_timeseries.csv") for i in range(1, 4)]


def _journal(out: Path) -> Path:
    return out.with_name(f".{out.name}.resume.jsonl")


def _edit_lines(out: Path, edit) -> None:
    journal = _journal(out)
    head, *lines = journal.read_text().splitlines()
    journal.write_text("\n".join([head, *edit(lines)]) + "\n")


def _swap_paths(lines):
    a, b = json.loads(lines[0]), json.loads(lines[1])
    a["path"], b["path"], a["abspath"], b["abspath"] = (
        b["path"],
        a["path"],
        b["abspath"],
        a["abspath"],
    )
    return [json.dumps(a), json.dumps(b), *lines[2:]]


def _field(name, value):
    def edit(lines):
        first = json.loads(lines[1])
        first[name] = value
        return [lines[0], json.dumps(first), *lines[2:]]

    return edit


JOURNAL_EDITS = {
    "swapped paths": _swap_paths,
    "start is a string": _field("start", "0"),
    "negative start": _field("start", -5),
    "digest edited": _field("digest", "0" * 32),
    "stamp edited": _field("stamp", [1, 2, 3, 4, 5]),
    "stamp of the wrong type": _field("stamp", {"size": 1}),
    "huge end": _field("end", 10**30),
    "path of no input": _field("path", "elsewhere.csv"),
    "a garbage line": lambda lines: [lines[0], "}{ garbage", *lines[1:]],
    "a line that is a list": lambda lines: [lines[0], "[1, 2, 3]", *lines[1:]],
    "a duplicated line": lambda lines: [*lines, lines[0]],
    "the lines reversed": lambda lines: list(reversed(lines)),
    "the journal emptied": lambda lines: [],
    "a nested line": lambda lines: [lines[0], "[" * 100000 + "]" * 100000, *lines[1:]],
}


def _uninterrupted(folder: Path, inputs: list[Path], name: str = "whole.tsv") -> bytes:
    out = folder / name
    result = cli("score", *inputs, "-o", out)
    assert result.exit_code in (0, 3)
    return out.read_bytes()


@pytest.mark.parametrize("edit", list(JOURNAL_EDITS))
def test_resume_after_an_edited_journal_equals_an_uninterrupted_run(tmp_path, edit):
    inputs = _inputs(tmp_path)
    out = tmp_path / "t.tsv"
    assert cli("score", *inputs, "-o", out, "--resume").exit_code == 0
    _edit_lines(out, JOURNAL_EDITS[edit])
    again = cli("score", *inputs, "-o", out, "--resume")
    assert again.exit_code == 0, again.output
    no_traceback(again.output)
    assert out.read_bytes() == _uninterrupted(tmp_path, inputs)


def _rewrite_same_size_same_time(path: Path) -> None:
    st = path.stat()
    text = path.read_text()
    path.write_text(text.replace("1", "7", 1) if "1" in text else text.replace("2", "7", 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the modification time put back
    assert path.stat().st_size == st.st_size


INPUT_EDITS = {
    "rewritten, same size and time": lambda ins: _rewrite_same_size_same_time(ins[1]),
    "rewritten, another size": lambda ins: ins[1].write_text("a,b,c\n1,2,3\n4,5,9\n"),
    "deleted": lambda ins: ins[1].unlink(),
    "replaced by another": lambda ins: shutil.copyfile(ins[2], ins[1]),
}


@pytest.mark.parametrize("edit", list(INPUT_EDITS))
def test_resume_after_an_input_changed_equals_an_uninterrupted_run(tmp_path, edit):
    inputs = _inputs(tmp_path)
    out = tmp_path / "t.tsv"
    assert cli("score", *inputs, "-o", out, "--resume").exit_code == 0
    INPUT_EDITS[edit](inputs)
    again = cli("score", *inputs, "-o", out, "--resume")
    assert again.exit_code in (0, 3)
    assert out.read_bytes() == _uninterrupted(tmp_path, inputs)


@pytest.mark.parametrize("change", ["fewer", "reordered", "more"])
def test_resume_with_other_inputs_equals_an_uninterrupted_run(tmp_path, change):
    inputs = _inputs(tmp_path)
    out = tmp_path / "t.tsv"
    assert cli("score", *inputs, "-o", out, "--resume").exit_code == 0
    now = {
        "fewer": inputs[:2],
        "reordered": inputs[::-1],
        "more": [*inputs, hostile.good_csv(tmp_path, "sub-04_task-x_timeseries.csv")],
    }[change]
    assert cli("score", *now, "-o", out, "--resume").exit_code == 0
    assert out.read_bytes() == _uninterrupted(tmp_path, now)


def test_a_full_disk_during_resume_names_the_file(tmp_path, monkeypatch):
    import errno

    from smoothcli.output import _resume

    inputs = _inputs(tmp_path)
    out = tmp_path / "t.tsv"
    real = _resume._pwrite_all

    def full(fd, data, offset):
        if data.startswith(b'{"path"'):  # the journal's line
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data, offset)

    monkeypatch.setattr(_resume, "_pwrite_all", full)
    result = cli("score", *inputs, "-o", out, "--resume")
    assert result.exit_code == 3
    assert f"cannot write {_journal(out)}: No space left on device" in result.stderr
    no_traceback(result.output)


# -- bounded everywhere ----------------------------------------------------------------------


def test_a_glob_matches_a_long_name_in_linear_time(tmp_path):
    name = "a" * 240 + ".csv"
    hostile.good_csv(tmp_path, name)
    code = (
        "import sys; from smoothcli.discover import discover\n"
        "found = discover([sys.argv[1]], include=['*a*a*a*a*a*a*a*a*a*a*b*'])\n"
        "print(len(found.inputs))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "0"  # and it did not hang


@posix_only
@pytest.mark.parametrize("what", ["report table", "mask", "confounds"])
def test_a_fifo_where_a_file_is_expected_is_an_error_at_once(tmp_path, what):
    good = hostile.good_csv(tmp_path)
    if what == "report table":
        fifo = tmp_path / "t.tsv"
        os.mkfifo(fifo)
        args = ["report", fifo, "-o", tmp_path / "p.html"]
    elif what == "mask":
        run = tmp_path / "sub-01_task-rest_bold.nii.gz"
        shutil.copyfile(Path(__file__).parent / "data" / "real" / "fmri2.nii.gz", run)
        os.mkfifo(tmp_path / "sub-01_task-rest_desc-brain_mask.nii.gz")
        args = ["score", run, good, "--mask", "auto"]
    else:
        run = tmp_path / "sub-02_task-rest_timeseries.csv"
        shutil.copyfile(good, run)
        os.mkfifo(tmp_path / "sub-02_task-rest_desc-confounds_timeseries.tsv")
        args = ["dvars", run, "--confounds", "auto", "--intensity-normalization", "0"]
    done = subprocess.run(
        [str(BIN / "smoothcli"), *map(str, args)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode in (2, 3), done.stderr
    assert "FIFO" in done.stderr or "not a regular file" in done.stderr, done.stderr
    no_traceback(done.stderr)


def test_jobs_starts_no_more_workers_than_inputs_and_cores():
    from smoothcli.cli._run import _executor
    from smoothcli.runtime import cpu_count

    for jobs, inputs, want in ((1000, 12, min(12, cpu_count())), (1000, 1, 1), (0, 3, None)):
        executor = _executor(jobs, None, [f"in{i}.csv" for i in range(inputs)])
        try:
            assert executor.count == (want or min(3, cpu_count()))
        finally:
            executor.close()


def _garbage_server() -> tuple[int, threading.Event]:
    """A local port that answers anything but Dask: a web server's reply."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" * 4)
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1], stop


def test_dask_at_an_address_that_is_not_dask_is_a_usage_error(tmp_path):
    pytest.importorskip("distributed")
    good = hostile.good_csv(tmp_path)
    port, stop = _garbage_server()
    try:
        started = time.monotonic()
        code, out, err, peak = measured("score", good, "--dask", f"tcp://127.0.0.1:{port}")
    finally:
        stop.set()
    assert code == 2 and "is not a Dask scheduler" in err, err
    assert time.monotonic() - started < 60 and peak < 700 << 20
    assert out == ""


@pytest.mark.parametrize(
    "content", ['{"address": 5}', "[1, 2]", "not json", "{" * 100000, '{"address": "x"}']
)
def test_a_scheduler_file_that_is_not_one_is_a_usage_error(tmp_path, content):
    pytest.importorskip("distributed")
    good = hostile.good_csv(tmp_path)
    sched = tmp_path / "sched.json"
    sched.write_text(content)
    result = cli("score", good, "--dask", sched)
    assert result.exit_code == 2 and "not a Dask scheduler file" in result.stderr
    no_traceback(result.output)


# -- no traceback, no leftover ---------------------------------------------------------------


def test_reports_of_odd_tables_and_sidecars_are_one_line(tmp_path):
    good = hostile.good_csv(tmp_path)
    table = tmp_path / "t.tsv"
    assert cli("score", good, "-o", table).exit_code == 0
    side = tmp_path / "t.json"
    for doc in ({"Options": [1, 2]}, {"Options": "x", "Command": 5}, ["a"]):
        side.write_text(json.dumps(doc))
        made = cli("report", table, "-o", tmp_path / "p.html")
        assert made.exit_code == 0, made.output  # no options shown, a page all the same
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    result = cli("report", deep, "-o", tmp_path / "d.html")
    assert result.exit_code == 2 and "nested too deeply" in result.stderr
    no_traceback(result.output)


def _wait_for_work(proc: subprocess.Popen, scratch: Path | None) -> None:
    """Until the workers are scoring: two of smoothcli's child processes have each spent a
    CPU-second (imported JAX, begun an input), and a Dask cluster has made its scratch
    folder; however loaded the machine is."""
    import psutil

    deadline = time.monotonic() + 120
    parent = psutil.Process(proc.pid)
    while True:
        assert proc.poll() is None, "the run finished before it could be interrupted"
        assert time.monotonic() < deadline, "the workers never started scoring"
        busy = 0
        for child in parent.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                busy += child.cpu_times().user >= 1.0
        if busy >= 2 and (scratch is None or list(scratch.iterdir())):
            break
        time.sleep(0.1)
    time.sleep(0.5)
    assert proc.poll() is None, "the run finished before it could be interrupted"


@posix_only
@pytest.mark.parametrize("how", [["--jobs", "2"], ["--dask", "local"]])
def test_a_signal_to_the_whole_group_leaves_no_warning_and_nothing_behind(tmp_path, how):
    """Ctrl-C in a terminal signals every process of the group (the workers too): one line,
    no semaphore warnings, no Dask scratch space, no table."""
    if how[0] == "--dask":
        pytest.importorskip("distributed")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    inputs = linked_inputs(tmp_path, (32, 1_000_000), 240)  # minutes of work in all
    out = tmp_path / "t.tsv"
    for signum, status in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        proc = subprocess.Popen(
            [str(BIN / "smoothcli"), "score", *inputs, *how, "-o", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            env={**os.environ, "TMPDIR": str(scratch)},
        )  # fmt: skip
        _wait_for_work(proc, scratch if how[0] == "--dask" else None)
        os.killpg(proc.pid, signum)
        _, err = proc.communicate(timeout=60)
        time.sleep(1)  # the resource tracker would say it now
        assert proc.returncode == status, err
        assert err.decode().strip() in ("smoothcli: interrupted", "smoothcli: terminated"), err
        assert not out.exists() and list(scratch.iterdir()) == []
