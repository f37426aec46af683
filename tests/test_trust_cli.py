"""The trust corpus, through the command line: one test (at least) per problem that issue 6
found. Each builds its bad input in a temporary folder, puts a good input beside it, and
asserts the exact outcome: the right score, or an error row whose message names the problem,
the exit status, no traceback, and the good input still scored."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import signal
import stat
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from smoothcli.cli import app

from .conftest import ROOT, cli_runner, posix_only, run_on_a_terminal, score

SAMPLE = ROOT / "sample_data"
BOLD = SAMPLE / "sub-01_task-rest_bold.nii.gz"
MASK = SAMPLE / "masks" / "sub-01_desc-brain_mask.nii.gz"
SLABS = SAMPLE / "sub-01_task-rest_desc-slabs_timeseries.npy"
EVENTS = SAMPLE / "sub-02_task-events_timeseries.csv"
SLABS_L1 = float(np.abs(np.diff(np.load(SLABS).astype(np.float64))).sum())

runner = cli_runner()


run = score


def rows_of(result) -> list[dict]:
    return list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t"))


def by_name(result) -> dict[str, dict]:
    return {Path(r["path"]).name: r for r in rows_of(result)}


def entry() -> list[str]:
    exe = Path(sys.executable).with_name("smoothcli")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "smoothcli"]


def assert_error_beside_good(result, bad: str, *words: str, code: int = 3) -> dict:
    """``bad`` is an error row naming the problem, SLABS beside it is scored, no traceback."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    rows = by_name(result)
    row = rows[bad]
    assert row["status"] == "error"
    assert row["score"] == "n/a"
    for word in words:
        assert word.lower() in row["error"].lower(), row["error"]
    assert "error: " in result.stderr and bad in result.stderr
    good = rows[SLABS.name]
    assert good["status"] == "ok" and float(good["score"]) == pytest.approx(SLABS_L1, rel=1e-6)
    return row


def score_of(result, name: str) -> float:
    row = by_name(result)[name]
    assert row["status"] == "ok", row
    return float(row["score"])


def save_nifti(path: Path, data: np.ndarray, *, slope: float | None = None) -> Path:
    img = nib.Nifti1Image(data, np.eye(4))
    if slope is not None:
        img.header.set_slope_inter(slope, 0.0)
    nib.save(img, path)
    return path


# -- silently wrong numbers -----------------------------------------------------------------


def test_float64_input_is_differenced_in_float64(tmp_path):
    np.save(tmp_path / "big.npy", 1e9 + np.arange(100, dtype=np.float64))
    result = run(tmp_path / "big.npy", SLABS)
    assert result.exit_code == 0, result.output
    row = by_name(result)["big.npy"]
    assert row["score"] == "99.0" and row["dtype"] == "float64"


def test_int32_input_is_differenced_in_float64(tmp_path):
    np.save(tmp_path / "ints.npy", (2_000_000_000 + np.arange(100)).astype(np.int32))
    result = run(tmp_path / "ints.npy", SLABS)
    assert result.exit_code == 0
    assert by_name(result)["ints.npy"]["score"] == "99.0"


def test_csv_of_unix_times_keeps_every_digit(tmp_path):
    times = 1.7e9 + np.arange(200)
    (tmp_path / "times.csv").write_text("t\n" + "\n".join(f"{t:.1f}" for t in times) + "\n")
    result = run(tmp_path / "times.csv", SLABS)
    assert result.exit_code == 0
    assert by_name(result)["times.csv"]["score"] == "199.0"


def test_huge_finite_float64_values_follow_ieee_like_numpy(tmp_path):
    near_f32_max = 1e39 * np.array([1.0, 3.0, 2.0, 7.0])
    near_f64_max = 1e308 * np.array([1.0, 1.5, 1.2, 1.7])
    overflow = np.array([1.7e308, -1.7e308, 0.0])
    for name, x in (("a.npy", near_f32_max), ("b.npy", near_f64_max), ("c.npy", overflow)):
        np.save(tmp_path / name, x)
    result = run(tmp_path / "a.npy", tmp_path / "b.npy", tmp_path / "c.npy", SLABS)
    assert result.exit_code == 0, result.output
    with np.errstate(over="ignore"):
        for name, x in (("a.npy", near_f32_max), ("b.npy", near_f64_max), ("c.npy", overflow)):
            want = np.abs(np.diff(x)).sum()
            got = score_of(result, name)
            assert got == want or (np.isinf(want) and got == want), (name, got, want)
    assert score_of(result, "c.npy") == np.inf  # -3.4e308 overflows to -inf, as in NumPy


def test_nifti_with_a_huge_slope_is_scaled_in_float64(tmp_path):
    data = np.zeros((2, 1, 1, 3), np.int16)
    data[..., 1] = 300
    data[..., 2] = -100
    save_nifti(tmp_path / "slope.nii.gz", data, slope=1e36)
    result = run(tmp_path / "slope.nii.gz", SLABS)
    assert result.exit_code == 0
    slope = float(np.float32(1e36))  # scl_slope is a float32 field of the header
    want = np.abs(np.diff(data.astype(np.float64) * slope, axis=3)).sum()
    assert score_of(result, "slope.nii.gz") == pytest.approx(want, rel=1e-12)
    assert by_name(result)["slope.nii.gz"]["dtype"] == "float64"


def test_float16_extremes_are_promoted_before_the_difference(tmp_path):
    np.save(tmp_path / "half.npy", np.array([65504, -65504, 65504], np.float16))
    result = run(tmp_path / "half.npy", SLABS)
    assert result.exit_code == 0
    assert by_name(result)["half.npy"]["score"] == "262016.0"


def _gzip_of(path: Path) -> bytearray:
    return bytearray(path.read_bytes())


def test_gzip_with_random_bytes_in_the_middle_is_an_error_row(tmp_path):
    data = _gzip_of(BOLD)
    middle = len(data) // 2
    data[middle : middle + 64] = np.random.default_rng(1).integers(0, 256, 64, np.uint8).tobytes()
    (tmp_path / "noisy.nii.gz").write_bytes(bytes(data))
    result = run(tmp_path / "noisy.nii.gz", SLABS)
    row = assert_error_beside_good(result, "noisy.nii.gz")
    assert row["error"].startswith("the gzip stream is corrupt: ")


def test_gzip_with_a_crc_mismatch_is_an_error_row(tmp_path):
    data = _gzip_of(BOLD)
    crc = struct.unpack("<I", data[-8:-4])[0]
    data[-8:-4] = struct.pack("<I", crc ^ 0xFFFF)
    (tmp_path / "crc.nii.gz").write_bytes(bytes(data))
    result = run(tmp_path / "crc.nii.gz", SLABS)
    assert_error_beside_good(result, "crc.nii.gz", "crc")


def test_complex_nifti_is_an_error_row_naming_the_type(tmp_path):
    save_nifti(tmp_path / "cplx.nii", np.ones((2, 2, 2, 4), np.complex64))
    result = run(tmp_path / "cplx.nii", SLABS)
    assert_error_beside_good(result, "cplx.nii", "complex64")


def test_csv_with_a_bom_and_no_header_keeps_its_first_row(tmp_path):
    (tmp_path / "bom.csv").write_bytes("\ufeff7\n0\n30\n".encode())  # |0-7| + |30-0| = 37
    result = run(tmp_path / "bom.csv", SLABS)
    assert result.exit_code == 0, result.output
    row = by_name(result)["bom.csv"]
    assert row["score"] == "37.0" and row["shape"] == "3x1"


def test_mask_that_selects_no_voxel_is_a_usage_error(tmp_path):
    save_nifti(tmp_path / "empty_mask.nii.gz", np.zeros((10, 10, 18), np.uint8))
    result = run(BOLD, "--mask", tmp_path / "empty_mask.nii.gz")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "no voxel" in result.stderr and "Traceback" not in result.output


# -- crashes, tracebacks and memory ---------------------------------------------------------


def _lying_header(path: Path, shape: tuple[int, ...]) -> None:
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(np.int16)
    raw = io.BytesIO()
    hdr.write_to(raw)
    raw.write(b"\0" * (int(hdr.get_data_offset()) - raw.tell()) + b"\1\2" * 500)
    data = raw.getvalue()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


@pytest.mark.parametrize("name", ["huge.nii", "huge.nii.gz"])
def test_header_claiming_1e12_voxels_is_an_error_row_not_memoryerror(tmp_path, name):
    _lying_header(tmp_path / name, (10000, 10000, 100, 100))
    result = run(tmp_path / name, SLABS)
    row = assert_error_beside_good(result, name)
    assert "MemoryError" not in row["error"]
    assert "the header claims 2000000000" in row["error"]  # 1e12 int16 voxels, in bytes
    if name.endswith(".gz"):
        assert "more than a 64-byte gzip file can hold" in row["error"]
    else:
        assert row["error"].startswith("the file is truncated: ")


def test_mask_with_a_lying_header_is_a_usage_error(tmp_path):
    _lying_header(tmp_path / "liar_mask.nii.gz", (1200, 1200, 1200))  # 1.5 GiB of int8... claimed
    result = run(BOLD, "--mask", tmp_path / "liar_mask.nii.gz")
    assert result.exit_code == 2
    assert "liar_mask" in result.stderr and "Traceback" not in result.output


def test_high_order_differences_are_exact(tmp_path):
    x = np.random.default_rng(0).integers(-5, 5, 3000).astype(np.float64)
    (tmp_path / "long.csv").write_text("x\n" + "\n".join(str(v) for v in x) + "\n")
    for n in (100, 300):
        result = run(tmp_path / "long.csv", "-n", n, "--format", "json")
        assert result.exit_code == 0, result.output
        (row,) = json.loads(result.stdout)
        want = np.abs(np.diff(x, n=n)).sum()
        assert row["score"] == pytest.approx(want, rel=1e-12)


def test_too_long_a_path_is_an_error_row(tmp_path):
    long = tmp_path / ("x" * 300 + ".npy")
    result = run(long, SLABS)
    assert_error_beside_good(result, long.name, "too long")


def test_non_utf8_file_names_are_scored_and_printed(tmp_path):
    name = os.fsdecode(b"caf\xe9.npy")
    np.save(os.path.join(tmp_path, name), np.arange(4.0))
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    for extra in ([], ["-o", os.fsdecode(bytes(tmp_path) + b"/out\xff.tsv")]):
        proc = subprocess.run(
            [*entry(), "score", str(tmp_path), str(SLABS), *extra],
            capture_output=True,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        assert b"Traceback" not in proc.stderr
    table = (tmp_path / os.fsdecode(b"out\xff.tsv")).read_text()
    assert "caf\\xe9.npy\tn/a\t3.0\tok" in table


@posix_only
def test_files_from_a_binary_file_or_dev_zero_is_a_usage_error(tmp_path):
    (tmp_path / "list.bin").write_bytes(b"\x00\x01\x02" * 100)
    for listing in (tmp_path / "list.bin", "/dev/zero"):
        result = run("--files-from", listing)
        assert result.exit_code == 2, result.output
        assert "binary" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("where", ["dir", "long"])
def test_output_onto_a_directory_or_too_long_a_name_is_a_usage_error(tmp_path, where):
    target = tmp_path if where == "dir" else tmp_path / ("y" * 300 + ".tsv")
    result = run(SLABS, "-o", target)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""


def test_a_401_digit_norm_order_is_a_usage_error():
    result = run(SLABS, "--scalarise", "vnorm(p=1" + "0" * 400 + ")")
    assert result.exit_code == 2
    assert "^" in result.stderr and "Traceback" not in result.output


@posix_only
def test_ctrl_c_at_any_moment_of_start_up_exits_130_with_one_line():
    """A Ctrl-C every 30 ms from the start (then while it waits for stdin, which never ends,
    so it cannot finish first): once smoothcli's own code runs (its first line installs the
    handler), the exit status is 130 and stderr is one line; before that, the
    interpreter's own imports may print their traceback, but never one through smoothcli.
    A Ctrl-C is never lost (exit 0)."""
    seen = set()
    for ms in [*range(0, 450, 30), 700, 1100]:
        proc = subprocess.Popen(
            [*entry(), "score", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(ms / 1000)
        proc.send_signal(signal.SIGINT)
        try:  # the message is short: the pipe cannot fill before the process ends
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"a Ctrl-C at {ms} ms was lost: still waiting for stdin after 60 s")
        err = proc.stderr.read()
        proc.stdin.close()
        proc.stderr.close()
        text = err.decode(errors="replace")
        assert proc.returncode != 0, f"a Ctrl-C at {ms} ms was lost"
        assert f"{os.sep}smoothcli{os.sep}" not in text, f"at {ms} ms:\n{text}"
        if proc.returncode == 130:
            assert text == "smoothcli: interrupted\n", f"at {ms} ms:\n{text}"
        seen.add(proc.returncode)
    assert 130 in seen


SWALLOWED = """
import gc, sys, time
from smoothcli import _signals
_signals.take_over()
_signals.raise_on_signal()
gc.callbacks.append(lambda phase, info: phase == "start" and time.sleep(1))
print("ready", flush=True)
try:
    gc.collect()  # the signal lands in the callback, where Python ignores what it raises
    sys.stdin.read()  # and this never ends unless the signal comes again
except KeyboardInterrupt as exc:
    print("interrupted", type(exc).__name__, flush=True)
    sys.exit(130)
"""


@posix_only
def test_a_ctrl_c_swallowed_in_a_gc_callback_still_ends_a_read_of_stdin():
    """JAX registers a gc callback; an exception raised there is ignored by Python. The
    interruption must not be lost (a ``score -`` blocked on stdin would wait forever)."""
    with subprocess.Popen(
        [sys.executable, "-c", SWALLOWED],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        try:  # stdin stays open (communicate would close it, and end the read)
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("the Ctrl-C swallowed in the gc callback was lost")
        out, err = proc.stdout.read(), proc.stderr.read()
    assert (proc.returncode, out, err) == (130, b"interrupted Interrupted\n", b"")


# -- unclear messages -----------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["1_000", "NAN", "abc"])
def test_a_cell_that_is_not_a_number_is_named_with_its_row_and_column(tmp_path, cell):
    (tmp_path / "cells.csv").write_text(f"a,b\n1,2\n3,{cell}\n5,6\n")
    result = run(tmp_path / "cells.csv", SLABS)
    row = assert_error_beside_good(result, "cells.csv", cell, "'b'")
    assert "3" in row["error"]  # the line it is on


@pytest.mark.parametrize("name", ["text.npy", "text.npz"])
def test_a_text_file_named_like_an_array_says_what_it_is_not(tmp_path, name):
    (tmp_path / name).write_text("1,2,3\n")
    result = run(tmp_path / name, SLABS)
    row = assert_error_beside_good(result, name, "not an np")
    assert "pickle" not in row["error"]


@posix_only
def test_dev_zero_named_as_an_input_is_an_error_row(tmp_path):
    (tmp_path / "zero.npy").symlink_to("/dev/zero")
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    result = run(tmp_path / "zero.npy", tmp_path / "zero.csv", SLABS)
    assert result.exit_code == 3
    rows = by_name(result)
    assert rows["zero.npy"]["status"] == rows["zero.csv"]["status"] == "error"
    assert "pickle" not in rows["zero.npy"]["error"]


def test_a_zip_whose_member_is_not_an_array_names_the_member(tmp_path):
    with zipfile.ZipFile(tmp_path / "odd.npz", "w") as z:
        z.writestr("notes.txt", "hello")
    result = run(tmp_path / "odd.npz", SLABS)
    assert_error_beside_good(result, "odd.npz", "notes")


def test_stdin_format_npz_fed_an_npy_says_so():
    result = run("-", "--stdin-format", "npz", input=SLABS.read_bytes())
    assert result.exit_code == 3
    (row,) = rows_of(result)
    assert "npz" in row["error"].lower() and "context manager" not in row["error"]


# -- output -------------------------------------------------------------------------------


@posix_only
def test_output_onto_a_character_device_or_fifo_writes_into_it(tmp_path):
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    except PermissionError:
        device = Path("/dev/null")  # not root: /dev/null cannot be replaced anyway
    result = run(SLABS, "-o", device)
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.stat(device).st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    result = run(SLABS, "-o", fifo)
    out, _ = reader.communicate(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert out.decode().startswith("path\tindex\tscore\tstatus")
    assert {p.name for p in tmp_path.iterdir()} <= {"null", "pipe"}


@posix_only
def test_output_to_dev_stdout_reaches_stdout():
    proc = subprocess.run(
        [*entry(), "score", str(SLABS), "-o", "/dev/stdout"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("path\tindex\tscore\tstatus")


def test_output_onto_the_mask_or_the_files_from_list_is_refused(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{SLABS}\n")
    before = listing.read_bytes()
    result = run("--files-from", listing, "-o", listing, "--format", "tsv")
    assert result.exit_code == 2 and listing.read_bytes() == before
    mask = tmp_path / "mask.nii.gz"
    mask.write_bytes(MASK.read_bytes())
    result = run(BOLD, "--mask", mask, "-o", mask, "--format", "tsv")
    assert result.exit_code == 2 and mask.read_bytes() == MASK.read_bytes()


def _signal_while_writing(tmp_path: Path, signum: int) -> subprocess.CompletedProcess:
    """Start a batch with -o in tmp_path that blocks reading stdin once its output file is
    open, then send ``signum``."""
    proc = subprocess.Popen(
        [*entry(), "score", str(SLABS), "-", "-o", str(tmp_path / "scores.tsv")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        fds = Path(f"/proc/{proc.pid}/fd")
        with_output = []
        for fd in fds.iterdir():
            try:
                with_output.append(os.readlink(fd).startswith(str(tmp_path)))
            except OSError:
                continue
        if any(with_output):
            break
        time.sleep(0.1)
    time.sleep(0.5)  # SLABS is scored, and stdin is being read
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@posix_only
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGKILL, -9)])
def test_sigterm_and_sigkill_leave_no_temporary_file(tmp_path, signum, code):
    done = _signal_while_writing(tmp_path, signum)
    assert done.returncode == code, done.stderr
    assert list(tmp_path.iterdir()) == []
    if signum == signal.SIGTERM:
        assert b"Traceback" not in done.stderr


@posix_only
def test_output_files_get_the_umask_mode_and_keep_an_existing_mode(tmp_path):
    old = os.umask(0o022)
    try:
        assert run(SLABS, "-o", tmp_path / "new.tsv").exit_code == 0
        assert stat.S_IMODE(os.stat(tmp_path / "new.tsv").st_mode) == 0o644
        (tmp_path / "kept.tsv").write_text("old\n")
        os.chmod(tmp_path / "kept.tsv", 0o640)
        assert run(SLABS, "-o", tmp_path / "kept.tsv").exit_code == 0
        assert stat.S_IMODE(os.stat(tmp_path / "kept.tsv").st_mode) == 0o640
        assert (tmp_path / "kept.tsv").read_text().startswith("path\t")
    finally:
        os.umask(old)


def test_a_bad_mask_is_a_usage_error_even_beside_a_csv(tmp_path):
    save_nifti(tmp_path / "four_d.nii.gz", np.ones((10, 10, 18, 3), np.uint8))
    (tmp_path / "not_nifti.nii").write_text("hello")
    for mask in (tmp_path / "four_d.nii.gz", tmp_path / "not_nifti.nii"):
        result = run(EVENTS, "--mask", mask)
        assert result.exit_code == 2, result.output
        assert result.stdout == "" and "--mask" in result.stderr


# -- as a new user tried it -------------------------------------------------------------------


def test_quiet_still_names_input_errors_and_threshold_failures():
    result = run(SLABS, "missing.npy", "-q")
    assert result.exit_code == 3
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("smoothcli: error: missing.npy: ")
    assert "input(s)" not in result.stderr  # no summary
    result = run(SLABS, "--fail-above", "10", "-q")
    assert result.exit_code == 1
    assert SLABS.name in result.stderr and "above 10" in result.stderr
    silent = run(SLABS, "missing.npy", "--fail-above", "10", "-s")
    assert silent.exit_code == 3 and silent.stderr == ""


def test_the_first_columns_never_move_and_entities_stay_strings(tmp_path):
    np.save(tmp_path / "plain.npy", np.arange(3.0))
    np.save(tmp_path / "sub-01_task-x_bold.npy", np.arange(3.0))
    one = rows_of(run(tmp_path / "plain.npy"))
    two = rows_of(run(tmp_path / "sub-01_task-x_bold.npy"))
    assert list(one[0])[:4] == list(two[0])[:4] == ["path", "index", "score", "status"]
    assert list(one[0]) == list(two[0])
    assert two[0]["sub"] == "01"
    from smoothcli import score_paths

    frame = score_paths(str(tmp_path / "sub-01_task-x_bold.npy"))
    assert frame.loc[0, "sub"] == "01"
    assert list(frame.columns[:4]) == ["path", "index", "score", "status"]


def test_columns_picks_and_orders(tmp_path):
    result = run(SLABS, "--columns", "score,path")
    assert result.stdout.splitlines()[0] == "score\tpath"
    assert run(SLABS, "--columns", "score,nope").exit_code == 2


def test_numbers_are_written_in_full_precision(tmp_path):
    np.save(tmp_path / "precise.npy", np.array([0.0, 1063944199.0000001]))
    result = run(tmp_path / "precise.npy", "--format", "csv")
    row = next(csv.DictReader(io.StringIO(result.stdout)))
    assert float(row["score"]) == 1063944199.0000001
    result = run(tmp_path / "precise.npy", "--format", "json")
    assert json.loads(result.stdout)[0]["score"] == 1063944199.0000001


def test_a_nan_score_says_why(tmp_path):
    x = np.arange(6.0)
    x[2] = np.nan
    np.save(tmp_path / "holes.npy", x)
    result = run(tmp_path / "holes.npy")
    assert result.exit_code == 0
    assert rows_of(result)[0]["score"] == "n/a"
    assert "2 of 5 differences are NaN or infinite" in result.stderr
    assert "--nan omit" in result.stderr


def test_n_longer_than_the_data_is_an_error_row(tmp_path):
    """Not a score of 0.0 that passes any threshold: there is nothing to score."""
    np.save(tmp_path / "short.npy", np.arange(3.0))
    result = run(tmp_path / "short.npy", "-n", "5", "--fail-above", "1")
    assert result.exit_code == 3
    (row,) = by_name(result).values()
    assert row["status"] == "error" and row["score"] == "n/a" and row["check"] == "n/a"
    assert "-n 5 leaves no differences along axis 0 (length 3)" in row["error"]


@pytest.mark.parametrize(
    "args",
    [["--fail-above", "nan"], ["--fail-below", "10", "--fail-above", "5"], ["--nu", "inf"]],
)
def test_nonsense_thresholds_are_usage_errors(args):
    result = run(SLABS, *args)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_a_missing_file_counts_once_as_failed_not_as_a_threshold_failure():
    result = run(SLABS, "missing.npy", "--fail-above", "1e12")
    assert result.exit_code == 3
    rows = by_name(result)
    assert rows["missing.npy"]["check"] == "n/a"
    assert "1 failed to score, 0 failed the threshold" in result.stderr


def test_a_pandas_index_column_is_dropped_with_a_note(tmp_path):
    import pandas as pd

    pd.DataFrame({"a": [1.0, 4.0, 2.0], "b": [0.0, 0.0, 1.0]}).to_csv(tmp_path / "idx.csv")
    result = run(tmp_path / "idx.csv", "--scalarise", "vnorm(p=1, axis=time)")
    assert result.exit_code == 0, result.output
    rows = rows_of(result)
    assert [(r["index"], float(r["score"])) for r in rows] == [("a", 5.0), ("b", 1.0)]
    assert "index" in result.stderr.lower()


def test_a_header_of_pandas_default_names_is_a_header(tmp_path):
    import pandas as pd

    pd.DataFrame(np.array([[1.0, 2.0], [3.0, 7.0]])).to_csv(tmp_path / "nohead.csv", index=False)
    result = run(tmp_path / "nohead.csv", "--scalarise", "vnorm(p=1, axis=time)")
    rows = rows_of(result)
    assert [(r["index"], float(r["score"])) for r in rows] == [("0", 2.0), ("1", 5.0)]


def test_help_has_no_placeholders_and_lists_maps_spec_and_exit_statuses():
    from smoothcli.scalarise import MAP_NAMES

    top = runner.invoke(app, ["--help"]).stdout
    sub = runner.invoke(app, ["score", "--help"]).stdout
    assert "<bool>" not in top + sub
    assert "spec" in top and "Exit status" in top and "143" in top
    flat = " ".join(sub.split())
    for name in MAP_NAMES:
        assert name in flat
    assert "rms(axis=space)" in flat


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_honours_the_shell(shell):
    result = runner.invoke(app, ["--show-completion", shell])
    assert result.exit_code == 0
    marker = {"bash": "COMPREPLY", "zsh": "compdef", "fish": "complete --command"}[shell]
    assert marker in result.stdout


def test_the_cli_keeps_jax_on_the_cpu_so_no_accelerator_warning_is_printed():
    code = (
        "import os, sys\n"
        "os.environ.pop('JAX_PLATFORMS', None)\n"
        "from smoothcli import runtime\n"
        "runtime.configure()\n"
        "print(os.environ['JAX_PLATFORMS'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "cpu"
    proc = subprocess.run(
        [*entry(), "score", str(SLABS), "-q"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"},
    )
    assert proc.returncode == 0 and proc.stderr == ""


def test_zlib_level_does_not_matter_for_integrity(tmp_path):
    raw = gzip.decompress(BOLD.read_bytes())
    good = zlib.compressobj(1, zlib.DEFLATED, 31)
    (tmp_path / "fast.nii.gz").write_bytes(good.compress(raw) + good.flush())
    result = run(tmp_path / "fast.nii.gz", BOLD)
    assert result.exit_code == 0
    rows = rows_of(result)
    assert rows[0]["score"] == rows[1]["score"]


@posix_only
def test_the_progress_bar_is_gone_before_the_table_is_printed():
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm-256color"
    args = [*entry(), "score", str(SAMPLE), "--nan", "omit"]
    screen = run_on_a_terminal(args, env, stderr_too=True)
    bar, table = screen.rfind("/4"), screen.find("┃")  # the bar counts files: k/4
    assert 0 <= bar < table  # the bar ran, then the table came
    assert "\x1b[2K" in screen[bar:table]  # and the bar's line was erased in between
    assert "2031.9187" in screen[table:]


def _as_nobody(work) -> str:
    """Run ``work()`` in a forked child as an unprivileged user; return what it returned
    (a string) or the repr of what it raised. Root may enter any folder, so the permission
    problems of issue 6 can only be made this way when the tests run as root."""
    import warnings

    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # JAX warns that forking a threaded process is risky
        warnings.simplefilter("ignore", RuntimeWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.setgid(65534)
            os.setuid(65534)
            message = str(work())
        except BaseException as exc:
            message = f"{type(exc).__name__}: {exc}"
        os.write(write_end, message.encode(errors="replace"))
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    message = os.read(read_end, 65536).decode()
    os.close(read_end)
    return message


@posix_only
@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make an unprivileged child")
def test_a_file_inside_a_folder_that_cannot_be_entered_is_an_error_row():
    import shutil
    import tempfile

    from smoothcli.discover import discover
    from smoothcli.sources import open_path

    top = Path(tempfile.mkdtemp(prefix="smoothcli-test-"))
    try:
        top.chmod(0o755)
        (top / "open").mkdir(mode=0o755)
        np.save(top / "open" / "a.npy", np.arange(3.0))
        (top / "closed").mkdir()
        np.save(top / "closed" / "b.npy", np.arange(3.0))
        (top / "closed").chmod(0o700)

        def opened() -> str:
            open_path(str(top / "closed" / "b.npy"))
            return "opened"

        said = _as_nobody(opened)
        assert said.startswith("InputError") and "permission denied" in said.lower(), said

        def found() -> str:
            return repr([(str(p), getattr(p, "reason", None)) for p in discover([str(top)])])

        listing = _as_nobody(found)
        assert "a.npy', None" in listing
        assert "closed', 'cannot list folder: Permission denied'" in listing
    finally:
        shutil.rmtree(top)


def test_corrupt_data_is_an_error_even_when_n_leaves_no_differences(tmp_path):
    data = _gzip_of(BOLD)
    crc = struct.unpack("<I", data[-8:-4])[0]
    data[-8:-4] = struct.pack("<I", crc ^ 0xFFFF)
    (tmp_path / "crc.nii.gz").write_bytes(bytes(data))
    (tmp_path / "cut.nii.gz").write_bytes(BOLD.read_bytes()[: len(data) // 2])
    result = run(tmp_path / "crc.nii.gz", tmp_path / "cut.nii.gz", SLABS, "-n", "60")
    assert result.exit_code == 3, result.output
    rows = by_name(result)
    assert "crc" in rows["crc.nii.gz"]["error"].lower()
    assert rows["cut.nii.gz"]["status"] == "error"
    assert "leaves no differences" not in rows["crc.nii.gz"]["error"]  # the data's fault first
    assert rows[SLABS.name]["status"] == "error" and rows[SLABS.name]["score"] == "n/a"
    assert "-n 60 leaves no differences" in rows[SLABS.name]["error"]


@posix_only
def test_a_table_that_cannot_be_written_is_one_line_and_exit_3(tmp_path):
    for args in (["-o", "/dev/full"], ["--format", "tsv"]):
        with open("/dev/full", "w") as full:
            proc = subprocess.run(
                [*entry(), "score", str(SLABS), *args], stdout=full, stderr=subprocess.PIPE
            )
        assert proc.returncode == 3, proc.stderr
        assert b"Traceback" not in proc.stderr
        assert b"cannot write the table" in proc.stderr
        assert b"No space left on device" in proc.stderr


def test_help_texts_name_exactly_the_formats_of_the_registry():
    from smoothcli.cli._options import StdinFormat
    from smoothcli.sources import FORMATS, READERS

    assert {f.value for f in StdinFormat} == set(FORMATS)
    flat = " ".join(runner.invoke(app, ["score", "--help"]).stdout.split())
    for suffix in (s for r in READERS for s in r.suffixes):
        assert suffix in flat


def test_a_blank_line_inside_a_table_is_a_row_of_missing_values(tmp_path):
    (tmp_path / "one.csv").write_text("1\n2\n\n4\n\n")
    (tmp_path / "two.csv").write_text("a,b\n1,10\n\n4,40\n")
    result = run(tmp_path / "one.csv", tmp_path / "two.csv", "--format", "json")
    assert result.exit_code == 0
    rows = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert rows["one.csv"]["score"] is None and rows["one.csv"]["shape"] == "4x1"
    assert rows["two.csv"]["shape"] == "3x2"
    omit = run(tmp_path / "one.csv", "--nan", "omit", "--format", "json")
    assert json.loads(omit.stdout)[0]["score"] == 1.0  # only 2 - 1: 4 has no neighbour


def test_one_bad_npz_member_does_not_hide_the_good_ones(tmp_path):
    np.savez(tmp_path / "mixed.npz", good=np.array([0.0, 2.0, 5.0]), text=np.array(["a", "b"]))
    result = run(tmp_path / "mixed.npz", "--format", "json")
    assert result.exit_code == 3
    rows = {r["array"]: r for r in json.loads(result.stdout)}
    assert rows["good"]["status"] == "ok" and rows["good"]["score"] == 5.0
    assert rows["text"]["status"] == "error" and "str" in rows["text"]["error"]
    assert "mixed.npz [text]" in result.stderr


@posix_only
def test_a_signal_raised_where_python_ignores_exceptions_is_raised_again():
    """A signal whose handler runs inside a ``__del__`` (or a gc callback, as JAX's) raises
    there, and Python ignores the exception: smoothcli keeps stderr clean of the 'Exception
    ignored' report and raises it again, in the program's own code (it is sent again) or at
    its next check, whichever comes first; once, and with its exit status."""
    code = (
        "import os, signal, sys\n"
        "from smoothcli import _signals\n"
        "_signals.take_over(); _signals.raise_on_signal()\n"
        "class Late:\n"
        "    def __del__(self):\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        for _ in range(1000): pass  # the handler runs here, and its raise is lost\n"
        "try:\n"
        "    Late()\n"
        "    for _ in range(10**6): pass  # it comes again here\n"
        "    _signals.check()  # or here\n"
        "    print('not interrupted', flush=True)\n"
        "except KeyboardInterrupt as exc:\n"
        "    _signals.caught(); _signals.check()\n"
        "    print('interrupted', flush=True); sys.exit(_signals.exit_status(exc))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.stdout == b"interrupted\n"
    assert proc.returncode == 143, proc.stderr
    assert b"Exception ignored" not in proc.stderr and b"Traceback" not in proc.stderr
