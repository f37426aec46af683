"""smoothcli.output on real files: every format read back by its natural reader, and -o onto
devices, FIFOs, descriptors, protected files, with interruptions and SIGKILL."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smoothcli import __version__
from smoothcli.output import (
    COLUMN_NAMES,
    COLUMNS,
    FORMATS,
    OutputError,
    check_target,
    format_for_path,
    make_writer,
    select_columns,
    sidecar_path,
    write_sidecar,
)
from smoothcli.output._values import number_text
from smoothcli.output._write import _atomic, _copy

from .conftest import ROUND_TRIP, linux_only, posix_only

ENTITIES = ("sub", "ses", "task", "acq", "run", "echo", "space", "desc")

# scores that 7-digit or float32 rounding would change, in their own dtypes
SCORES = [
    np.float64(1063944199.0000001),
    1063944199.0,
    np.float32(2031.9187),
    1e-300,
    5e-324,
    np.float32(1e-45),
    np.float32(3.4028235e38),
    0.1 + 0.2,
    -0.0,
    7,
]


def full_row(score, i: int) -> dict:
    return {
        "path": f"data/sub-{i:02d}/x {i}.csv",
        "index": "bold" if i % 2 else i,
        "score": score,
        "status": "ok",
        "check": "pass",
        "error": "",
        "name": "Smoothness",
        "array": f"arr{i}",
        "mask": f"masks/sub-{i:02d}_desc-brain_mask.nii.gz",
        "shape": "10x40",
        "axis": i % 3,
        "dtype": "float32" if isinstance(score, np.float32) else "float64",
        "frame": i + 1,
        "dummy": i % 4,
        **{e: f"0{i}" for e in ENTITIES},
    }


ROWS = [full_row(s, i) for i, s in enumerate(SCORES)]
# missing values (absent and None), NaN, +-inf, and an error row
SPECIAL = [
    {"path": "nan.npy", "score": math.nan, "status": "ok", "index": None},
    {"path": "f32nan.npy", "score": np.float32("nan"), "status": "ok"},
    {"path": "inf.npy", "score": math.inf, "status": "ok", "check": "fail"},
    {"path": "minf.npy", "score": np.float32("-inf"), "status": "ok"},
    {"path": "gone.npy", "score": None, "status": "error", "error": "no such file: gone.npy"},
]


def write(fmt: str, rows: list[dict], columns=None, **kwargs) -> str:
    stream = io.StringIO()
    writer = make_writer(fmt, stream, list(columns or COLUMN_NAMES), **kwargs)
    writer.add(rows)
    writer.close()
    return stream.getvalue()


def same_score(text_or_number, want) -> None:
    """The written score reads back to exactly ``want`` in ``want``'s own dtype."""
    if isinstance(want, np.float32):
        assert np.float32(text_or_number) == want
        if isinstance(text_or_number, str):
            assert text_or_number == number_text(want)  # the shortest float32 text
    elif isinstance(want, int):
        assert int(text_or_number) == want
    else:
        got = float(text_or_number)
        assert got == want and math.copysign(1, got) == math.copysign(1, want)


def expect_text(row: dict, column: str) -> str:
    value = row[column]
    return value if isinstance(value, str) else str(value)


# -- columns --------------------------------------------------------------------------------------


def test_columns_have_a_fixed_order_and_descriptions():
    want = ("path", "index", "score", "status", "check", "error", "name", "array", "mask", "shape")
    assert (*want, "axis", "dtype", "frame", "dummy", *ENTITIES) == COLUMN_NAMES
    assert all(c.description and c.kind for c in COLUMNS)
    levels = {c.name: dict(c.levels) for c in COLUMNS if c.levels}
    assert set(levels["status"]) == {"ok", "error"}
    assert set(levels["check"]) == {"pass", "fail", "skip"}
    assert select_columns(None) == list(COLUMN_NAMES)
    assert select_columns("score, path,sub") == ["score", "path", "sub"]


@pytest.mark.parametrize("spec", ["score,bogus", "score,score", "", "path,,score"])
def test_bad_column_lists_are_one_line_errors_listing_the_valid_names(spec):
    with pytest.raises(OutputError) as err:
        select_columns(spec)
    assert "\n" not in str(err.value)
    assert "path, index, score, status" in str(err.value)


def test_formats_and_extensions():
    assert FORMATS == ("table", "tsv", "csv", "json", "jsonl", "markdown")
    assert format_for_path("a/scores.TSV") == "tsv"
    assert format_for_path("x.ndjson") == "jsonl" and format_for_path("x.weird") is None
    with pytest.raises(OutputError, match="unknown format 'xml'"):
        make_writer("xml", io.StringIO(), ["path"])
    with pytest.raises(OutputError, match="unknown column"):
        make_writer("tsv", io.StringIO(), ["path", "nope"])


# -- values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (np.float32(2031.9187), "2031.9187"),
        (2031.918701171875, "2031.918701171875"),
        (1063944199.0, "1063944199.0"),
        (np.float64(1063944199.0000001), "1063944199.0000001"),
        (np.float32(1e20), "1e+20"),
        (np.float16(0.1), "0.1"),
        (1e-300, "1e-300"),
        (5e-324, "5e-324"),
        (math.inf, "inf"),
        (np.float32("-inf"), "-inf"),
        (math.nan, "nan"),
        (np.int64(-3), "-3"),
        (12, "12"),
    ],
)
def test_numbers_are_written_in_full_precision_of_their_own_dtype(value, text):
    assert number_text(value) == text


def test_random_float32_and_float64_scores_read_back_exactly():
    rng = np.random.default_rng(0)
    bits64 = rng.integers(0, 2**63, 2000, dtype=np.int64).view(np.float64)
    bits32 = rng.integers(0, 2**31, 2000, dtype=np.int32).view(np.float32)
    for value in bits64[np.isfinite(bits64)]:
        assert float(number_text(value)) == value
    for value in bits32[np.isfinite(bits32)]:
        text = number_text(value)
        assert np.float32(text) == value and np.float32(float(text)) == value


# -- every format, every column -------------------------------------------------------------------


def test_tsv_round_trips_every_column_through_csv_and_pandas():
    out = write("tsv", ROWS + SPECIAL)
    lines = out.splitlines()
    assert lines[0].split("\t") == list(COLUMN_NAMES)
    assert all(line.count("\t") == len(COLUMN_NAMES) - 1 for line in lines)
    got = list(csv.DictReader(io.StringIO(out), delimiter="\t"))
    for row, back in zip(ROWS, got, strict=False):
        same_score(back["score"], row["score"])
        for c in COLUMN_NAMES:
            if c != "score":
                assert back[c] == expect_text(row, c), c
    special = got[len(ROWS) :]
    assert [r["score"] for r in special] == ["n/a", "n/a", "inf", "-inf", "n/a"]
    assert special[0]["index"] == "n/a" and special[0]["check"] == "n/a"  # None and absent
    frame = pd.read_csv(io.StringIO(out), sep="\t", dtype={e: str for e in ENTITIES}, **ROUND_TRIP)
    assert list(frame.columns) == list(COLUMN_NAMES)
    for row, score in zip(ROWS, frame["score"], strict=False):
        same_score(score, row["score"])
    assert frame["score"].iloc[len(ROWS) :].tolist()[2:4] == [math.inf, -math.inf]
    assert frame["score"].iloc[len(ROWS) :].isna().tolist() == [True, True, False, False, True]
    assert frame["sub"].tolist()[: len(ROWS)] == [f"0{i}" for i in range(len(ROWS))]  # strings
    assert frame["axis"].tolist()[:3] == [0, 1, 2]


def test_csv_round_trips_every_column_empty_for_missing_nan_for_nan():
    out = write("csv", ROWS + SPECIAL)
    got = list(csv.DictReader(io.StringIO(out)))
    for row, back in zip(ROWS, got, strict=False):
        same_score(back["score"], row["score"])
        for c in COLUMN_NAMES:
            if c != "score":
                assert back[c] == expect_text(row, c), c
    special = got[len(ROWS) :]
    assert [r["score"] for r in special] == ["nan", "nan", "inf", "-inf", ""]
    assert special[0]["index"] == "" and special[4]["error"] == "no such file: gone.npy"
    frame = pd.read_csv(io.StringIO(out), dtype={e: str for e in ENTITIES}, **ROUND_TRIP)
    for row, score in zip(ROWS, frame["score"], strict=False):
        same_score(score, row["score"])
    assert frame["score"].iloc[len(ROWS) :].isna().tolist() == [True, True, False, False, True]
    assert frame["desc"].tolist()[:2] == ["00", "01"]


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_round_trips_every_column_strictly_with_null(fmt):
    out = write(fmt, ROWS + SPECIAL)
    assert "NaN" not in out and "Infinity" not in out
    got = json.loads(out) if fmt == "json" else [json.loads(line) for line in out.splitlines()]
    for row, back in zip(ROWS, got, strict=False):
        assert list(back) == list(COLUMN_NAMES)
        same_score(back["score"], row["score"])
        assert isinstance(back["score"], int) == isinstance(row["score"], int)
        for c in COLUMN_NAMES:
            if c != "score":
                assert back[c] == row[c], c
    special = got[len(ROWS) :]
    assert [r["score"] for r in special] == [None] * 5  # NaN, inf and missing
    assert special[0]["index"] is None and special[0]["error"] is None
    # the float32 score is written as its own shortest text, not as 2031.918701171875
    assert '"score": 2031.9187,' in out


def test_markdown_round_trips_every_column():
    out = write("markdown", [*ROWS, {"path": "a|b", "score": math.nan}])
    lines = out.splitlines()
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    assert head == list(COLUMN_NAMES) and set(lines[1]) <= {"|", "-"}
    body = [[c.strip() for c in line.strip("| ").split(" | ")] for line in lines[2:]]
    for row, cells in zip(ROWS, body, strict=False):
        back = dict(zip(head, cells, strict=True))
        same_score(back["score"], row["score"])
        assert all(back[c] == expect_text(row, c) for c in COLUMN_NAMES if c != "score")
    assert body[-1][0] == "a\\|b" and body[-1][2] == "nan"


def test_table_rounds_but_never_cuts_a_score_and_hides_empty_columns():
    rows = [
        {"path": "a.npy", "score": np.float32(2031.9187), "status": "ok"},
        {"path": "b.npy", "score": 1063944199.0000001, "status": "ok"},
        {"path": "c.npy", "score": 2031.918701171875, "status": "ok"},  # float32 passed as float
        {"path": "d.npy", "score": None, "status": "error", "error": "bad\nfile"},
    ]
    out = write("table", rows)
    assert "2031.9187 " in out and "1063944199 " in out and "\x1b[" not in out
    header = out.splitlines()[0].split()
    assert [h for h in header if h.isidentifier()] == ["path", "score", "status", "error"]
    assert "bad file" in out
    explicit = write("table", rows, ["path", "score", "array"], hide_empty=False)
    assert "array" in explicit.splitlines()[0]
    coloured = write("table", rows, color=True)
    assert "\x1b[31m" in coloured  # the error row is red


def test_tsv_cells_never_break_a_row_and_other_formats_keep_the_text():
    row = {"path": "tab\there", "score": 1.5, "status": "error", "error": "line one\nline\r\ntwo"}
    out = write("tsv", [row], ["path", "score", "status", "error"])
    assert out.splitlines()[1].split("\t") == ["tab here", "1.5", "error", "line one line two"]
    back = next(csv.DictReader(io.StringIO(write("csv", [row]))))
    assert back["path"] == "tab\there" and back["error"] == row["error"]
    assert json.loads(write("json", [row]))[0]["error"] == row["error"]


def test_streaming_writers_write_the_header_at_once_and_each_add_flushed(tmp_path):
    headers = {"tsv": "path\tscore\n", "csv": "path,score\n", "jsonl": ""}
    for fmt, header in headers.items():
        path = tmp_path / f"s.{fmt}"
        with open(path, "w", newline="") as stream:
            writer = make_writer(fmt, stream, ["path", "score"])
            assert path.read_text() == header
            writer.add([{"path": "a", "score": 1.0}])
            assert path.read_text().startswith(header) and "a" in path.read_text()  # not closed
            writer.close()


def test_empty_outputs_are_valid():
    assert json.loads(write("json", [])) == []
    assert write("jsonl", []) == ""
    assert write("tsv", [], ["path", "score"]) == "path\tscore\n"


# -- non-UTF-8 names ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_surrogate_escaped_names_write_in_every_format(tmp_path, fmt):
    name = os.fsdecode(b"caf\xe9-\xff.csv")  # not UTF-8: 'caf\udce9-\udcff.csv'
    row = {"path": name, "score": 1.0, "status": "error", "error": f"cannot read {name}"}
    target = check_target(str(tmp_path / "out.txt"), protect=[])
    with target.open() as stream:
        writer = make_writer(fmt, stream, ["path", "score", "status", "error"])
        writer.add([row])
        writer.close()
    text = (tmp_path / "out.txt").read_text(encoding="utf-8")
    assert "caf\\xe9-\\xff.csv" in text.replace("\\\\", "\\")
    # the stream itself escapes what a writer might pass on raw
    with check_target(str(tmp_path / "raw.txt")).open() as stream:
        stream.write(name)
    assert (tmp_path / "raw.txt").read_text() == "caf\\xe9-\\xff.csv"


# -- targets: regular files -----------------------------------------------------------------------


@posix_only
def test_new_file_gets_the_umask_mode_and_an_existing_file_keeps_its_mode(tmp_path):
    old = os.umask(0o022)
    try:
        for anonymous in (True, False):
            new = tmp_path / f"new{anonymous}.tsv"
            target = check_target(str(new), protect=[])
            assert target.regular
            with _atomic(target, anonymous=anonymous) as stream:
                stream.write("x\n")
            assert stat.S_IMODE(new.stat().st_mode) == 0o644
            existing = tmp_path / f"old{anonymous}.tsv"
            existing.write_text("old\n")
            existing.chmod(0o640)
            with _atomic(check_target(str(existing)), anonymous=anonymous) as stream:
                stream.write("new\n")
            assert existing.read_text() == "new\n"
            assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "newFalse.tsv", "newTrue.tsv", "oldFalse.tsv", "oldTrue.tsv"
    ]  # fmt: skip


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("anonymous", [True, False])
def test_an_exception_inside_open_leaves_the_old_file_and_no_temp_file(tmp_path, error, anonymous):
    old = tmp_path / "scores.tsv"
    old.write_text("old\n")
    fresh = tmp_path / "fresh.tsv"
    for path in (old, fresh):
        with pytest.raises(error), _atomic(check_target(str(path)), anonymous=anonymous) as stream:
            stream.write("half\n")
            stream.flush()
            raise error()
    assert old.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.tsv"]


@posix_only
def test_writing_through_a_symlink_replaces_the_file_it_points_to(tmp_path):
    real = tmp_path / "real.tsv"
    real.write_text("old\n")
    (tmp_path / "link.tsv").symlink_to(real)
    with check_target(str(tmp_path / "link.tsv")).open() as stream:
        stream.write("new\n")
    assert (tmp_path / "link.tsv").is_symlink() and real.read_text() == "new\n"


@linux_only
def test_where_linkat_is_refused_the_anonymous_file_is_copied_into_place(tmp_path):
    """The path taken when /proc cannot link an O_TMPFILE file (EXDEV, EPERM)."""
    old = tmp_path / "scores.tsv"
    old.write_text("old\n")
    old.chmod(0o640)
    source = os.open(tmp_path, os.O_TMPFILE | os.O_RDWR)
    dir_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.write(source, b"x" * 3_000_000)
        _copy(source, dir_fd, "scores.tsv", check_target(str(old)))
    finally:
        os.close(source)
        os.close(dir_fd)
    assert old.read_bytes() == b"x" * 3_000_000
    assert stat.S_IMODE(old.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["scores.tsv"]


_KILLED_CHILD = """
import os, signal, sys
from smoothcli.output import check_target
target = check_target(sys.argv[1], protect=[])
with target.open() as stream:
    stream.write("path\\tscore\\n" * 10000)
    stream.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_sigkill_while_writing_leaves_the_old_file_and_no_temp_file(tmp_path):
    old = tmp_path / "scores.tsv"
    old.write_text("old\n")
    for path in (old, tmp_path / "fresh.tsv"):
        proc = subprocess.run([sys.executable, "-c", _KILLED_CHILD, str(path)], check=False)
        assert proc.returncode == -9
    assert old.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.tsv"]


# -- targets: devices, FIFOs and descriptors are written into -------------------------------------


@posix_only
def test_dev_null_stays_a_character_device():
    target = check_target("/dev/null", protect=[])
    assert not target.regular and target.sidecar is None
    with target.open() as stream:
        make_writer("tsv", stream, ["path"]).add([{"path": "a"}])
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@posix_only
def test_a_fifo_is_written_into_and_still_exists(tmp_path):
    fifo = tmp_path / "scores.tsv"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    target = check_target(str(fifo), protect=[])
    assert not target.regular and target.sidecar is None
    with target.open() as stream:
        writer = make_writer("tsv", stream, ["path", "score"])
        writer.add([{"path": "a", "score": np.float32(2031.9187)}])
        writer.close()
    reader.join(timeout=10)
    assert received == ["path\tscore\na\t2031.9187\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["scores.tsv"]


@linux_only
def test_a_proc_self_fd_path_writes_into_the_pipe_it_names():
    read_end, write_end = os.pipe()
    try:
        target = check_target(f"/proc/self/fd/{write_end}", protect=[])
        assert not target.regular
        with target.open() as stream:
            stream.write("rows\n")
        os.close(write_end)
        assert os.read(read_end, 100) == b"rows\n"
    finally:
        os.close(read_end)
    with pytest.raises(OutputError, match="file descriptor 987 is not open"):
        check_target("/dev/fd/987")


_STDOUT_CHILD = """
import sys
from smoothcli.output import check_target, make_writer
print("before", flush=True)
target = check_target("/dev/stdout", protect=[])
assert not target.regular
with target.open() as stream:
    make_writer("tsv", stream, ["path"]).add([{"path": "a"}])
"""


def test_dev_stdout_writes_into_a_pipe_or_the_file_the_shell_opened(tmp_path):
    piped = subprocess.run([sys.executable, "-c", _STDOUT_CHILD], capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "before\npath\na\n"
    log = tmp_path / "log.txt"
    log.write_text("kept\n")
    with open(log, "a") as append:  # like '>> log.txt': nothing before is lost
        subprocess.run([sys.executable, "-c", _STDOUT_CHILD], stdout=append, check=True)
    assert log.read_text() == "kept\nbefore\npath\na\n"
    assert stat.S_ISREG(log.stat().st_mode)


# -- targets: refused before any work -------------------------------------------------------------


def test_bad_targets_are_one_line_output_errors(tmp_path):
    (tmp_path / "file").write_text("")
    cases = {
        str(tmp_path): "is a directory",
        str(tmp_path / ("x" * 300 + ".tsv")): "name is too long",
        str(tmp_path / "nowhere" / "x.tsv"): "no such folder",
        str(tmp_path / "file" / "x.tsv"): "not a folder",
        "": "empty",
    }
    for path, reason in cases.items():
        with pytest.raises(OutputError, match=reason) as err:
            check_target(path, protect=[])
        assert "\n" not in str(err.value) and isinstance(err.value, ValueError)
    assert os.listdir(tmp_path) == ["file"]


@posix_only
def test_a_folder_that_cannot_be_written_is_refused(tmp_path):
    if os.getuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        with pytest.raises(OutputError, match="cannot write to the folder"):
            check_target(str(locked / "x.tsv"))
        return
    # root may write anywhere: check as an unprivileged user in a forked child, in a folder
    # that user can reach (pytest's own temporary folders are private to root)
    import shutil
    import tempfile
    import warnings

    reachable = Path(tempfile.mkdtemp(prefix="smoothcli-test-"))
    try:
        reachable.chmod(0o755)
        locked = reachable / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():  # JAX warns that forking a threaded process is risky
            warnings.simplefilter("ignore", RuntimeWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            message = b"no error"
            try:
                os.setgid(65534)
                os.setuid(65534)
                check_target(str(locked / "x.tsv"))
            except OutputError as exc:
                message = str(exc).encode()
            except BaseException as exc:
                message = repr(exc).encode()
            os.write(write_end, message)
            os._exit(0)
        os.close(write_end)
        _, status = os.waitpid(pid, 0)
        message = os.read(read_end, 4096).decode()
        os.close(read_end)
    finally:
        shutil.rmtree(reachable)
    assert status == 0
    assert "cannot write to the folder" in message, message


@posix_only
def test_files_the_command_reads_are_protected_also_through_links(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("1\n2\n")
    mask = tmp_path / "mask.tsv"
    mask.write_text("m\n")
    (tmp_path / "alias.tsv").symlink_to(mask)
    os.link(data, tmp_path / "hard.csv")
    protect = ["-", str(data), str(mask), str(tmp_path / "missing.csv"), str(tmp_path)]
    for path in (mask, tmp_path / "alias.tsv", data, tmp_path / "hard.csv"):
        with pytest.raises(OutputError, match="the command also reads it"):
            check_target(str(path), protect=protect)
    # the sidecar of out.tsv would be out.json: an input of that name is protected too
    (tmp_path / "out.json").write_text("{}")
    with pytest.raises(OutputError, match=r"sidecar: cannot write .*out\.json"):
        check_target(str(tmp_path / "out.tsv"), protect=[str(tmp_path / "out.json")])
    assert (tmp_path / "out.json").read_text() == "{}" and data.read_text() == "1\n2\n"
    assert check_target(str(tmp_path / "new.tsv"), protect=protect).regular


# -- sidecar --------------------------------------------------------------------------------------


def test_sidecar_path_only_for_tsv_csv_and_jsonl():
    assert sidecar_path("out/scores.tsv") == "out/scores.json"
    assert sidecar_path("scores.csv") == "scores.json" and sidecar_path("s.jsonl") == "s.json"
    assert sidecar_path("scores.json") is None and sidecar_path("scores.md") is None


def test_sidecar_describes_each_column_with_version_options_and_time(tmp_path):
    os.umask(old := os.umask(0o022))
    out = tmp_path / "scores.tsv"
    target = check_target(str(out), protect=[])
    columns = select_columns("path,score,status,check,sub")
    with target.open() as stream:
        make_writer("tsv", stream, columns).add(ROWS[:2])
    meta = {
        "Command": "smoothcli score data/ -o scores.tsv",
        "Options": {"n": 1, "scalarise": "vnorm(p=1, axis=None)", "fail_above": None},
        "Date": "2025-01-01T00:00:00+00:00",
    }
    assert write_sidecar(target, columns, meta) == str(tmp_path / "scores.json")
    doc = json.loads((tmp_path / "scores.json").read_text())
    assert list(doc)[:5] == columns
    assert all(doc[c]["Description"] for c in columns)
    assert doc["status"]["Levels"].keys() == {"ok", "error"}
    assert doc["check"]["Levels"].keys() == {"pass", "fail", "skip"}
    assert "string" in doc["sub"]["Description"]
    assert doc["GeneratedBy"][0]["Name"] == "smoothcli"
    assert doc["GeneratedBy"][0]["Version"] == __version__
    assert doc["Command"] == meta["Command"] and doc["Options"] == meta["Options"]
    assert doc["Date"] == meta["Date"]
    assert stat.S_IMODE((tmp_path / "scores.json").stat().st_mode) == 0o666 & ~old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.json", "scores.tsv"]


@posix_only
def test_no_sidecar_for_json_markdown_or_a_device(tmp_path):
    for name in ("s.json", "s.md"):
        assert write_sidecar(check_target(str(tmp_path / name)), ["path"], {}) is None
    assert write_sidecar(check_target("/dev/null"), ["path"], {}) is None
    assert check_target(str(tmp_path / "s.tsv"), sidecar=False).sidecar is None
    assert os.listdir(tmp_path) == []


def test_sidecar_meta_with_odd_values_is_still_strict_json(tmp_path):
    target = check_target(str(tmp_path / "s.csv"))
    meta = {"Options": {"nu": math.nan, "paths": (Path("a"), os.fsdecode(b"\xff"))}}
    write_sidecar(target, ["path"], meta)
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["Options"] == {"nu": None, "paths": ["a", "\\xff"]}


def test_writing_a_whole_report_file_end_to_end(tmp_path):
    """The CLI's sequence: check, open, stream rows, close, sidecar."""
    out = tmp_path / "scores.tsv"
    target = check_target(str(out), protect=[])
    with target.open() as stream:
        writer = make_writer("tsv", stream, list(COLUMN_NAMES))
        for row in ROWS:
            writer.add([row])
        writer.close()
        assert not out.exists()  # atomic: nothing until the block ends
    write_sidecar(target, COLUMN_NAMES, {"Date": "now"})
    frame = pd.read_csv(out, sep="\t", dtype={e: str for e in ENTITIES}, **ROUND_TRIP)
    assert len(frame) == len(ROWS)
    for row, score in zip(ROWS, frame["score"], strict=True):
        same_score(score, row["score"])
    assert sorted(os.listdir(tmp_path)) == ["scores.json", "scores.tsv"]
