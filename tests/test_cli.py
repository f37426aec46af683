"""The real CLI on real files: CliRunner in-process, and the installed entry point."""

from __future__ import annotations

import csv
import gzip
import io
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from smoothcli import score_paths

from .conftest import ROOT, posix_only, run_on_a_terminal, score

SAMPLE = ROOT / "sample_data"
BOLD = SAMPLE / "sub-01_task-rest_bold.nii.gz"
MASK = SAMPLE / "masks" / "sub-01_desc-brain_mask.nii.gz"
SLABS = SAMPLE / "sub-01_task-rest_desc-slabs_timeseries.npy"
EVENTS = SAMPLE / "sub-02_task-events_timeseries.csv"
CONFOUNDS = SAMPLE / "sub-01_task-rest_desc-confounds_timeseries.tsv"


run = score


def tsv(result) -> list[dict]:
    return list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t"))


def bold64() -> np.ndarray:
    return np.asarray(nib.load(BOLD).dataobj, dtype=np.float64)


def mask_bool() -> np.ndarray:
    return np.asarray(nib.load(MASK).dataobj) != 0


def events64() -> np.ndarray:
    return pd.read_csv(EVENTS).to_numpy(np.float64)


# -- inputs and values ----------------------------------------------------------------------


def test_sample_data_scores_with_exit_0_and_values_match_numpy():
    result = run(SAMPLE)
    assert result.exit_code == 0, result.output
    rows = {Path(r["path"]).name: r for r in tsv(result)}
    assert set(rows) == {BOLD.name, SLABS.name, EVENTS.name, CONFOUNDS.name}  # mask skipped
    assert all(r["status"] == "ok" and r["error"] == "n/a" for r in rows.values())
    # NIfTI: time is the last axis
    assert float(rows[BOLD.name]["score"]) == pytest.approx(
        np.abs(np.diff(bold64())).sum(), rel=1e-6
    )
    assert rows[BOLD.name]["axis"] == "3" and rows[BOLD.name]["shape"] == "10x10x18x40"
    # NPY: the last axis
    slabs = np.load(SLABS).astype(np.float64)
    assert float(rows[SLABS.name]["score"]) == pytest.approx(np.abs(np.diff(slabs)).sum(), rel=1e-6)
    # CSV: rows are time
    want = np.abs(np.diff(events64(), axis=0)).sum()
    assert float(rows[EVENTS.name]["score"]) == pytest.approx(want, rel=1e-6)
    assert rows[EVENTS.name]["axis"] == "0"
    # BIDS entities became columns
    assert rows[EVENTS.name]["sub"] == "02" and rows[EVENTS.name]["task"] == "events"
    assert rows[CONFOUNDS.name]["desc"] == "confounds"
    # the confounds table has n/a in its first row: propagate gives NaN (written n/a in
    # TSV), still status ok
    assert rows[CONFOUNDS.name]["score"] == "n/a"


def test_int16_nifti_is_scaled_and_promoted_not_wrapped(tmp_path):
    data = np.zeros((2, 2, 1, 3), np.int16)
    data[..., 1] = 30000
    data[..., 2] = -30000
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_slope_inter(0.5, 10.0)
    nib.save(img, tmp_path / "scaled.nii")
    result = run(tmp_path / "scaled.nii", "--format", "json")
    (row,) = json.loads(result.stdout)
    # per voxel |15010 - 10| + |-14990 - 15010| = 15000 + 30000, over 4 voxels
    assert row["score"] == pytest.approx(4 * 45000.0)


def test_mask_gives_voxels_by_time_and_space_means_axis_0():
    result = run(BOLD, "--mask", MASK, "--scalarise", "rms(axis=space)")
    assert result.exit_code == 0, result.output
    rows = tsv(result)
    masked = bold64()[mask_bool()]  # voxels x time
    dvars = np.sqrt(np.mean(np.diff(masked, axis=1) ** 2, axis=0))
    assert [int(r["index"]) for r in rows] == list(range(39))
    np.testing.assert_allclose([float(r["score"]) for r in rows], dvars, rtol=1e-5)
    assert {r["shape"] for r in rows} == {f"{mask_bool().sum()}x40"}
    assert {r["axis"] for r in rows} == {"1"}


def test_mask_of_another_shape_is_an_error_row(tmp_path):
    nib.save(nib.Nifti1Image(np.ones((3, 3, 3), np.uint8), np.eye(4)), tmp_path / "m.nii")
    result = run(BOLD, SLABS, "--mask", tmp_path / "m.nii")
    assert result.exit_code == 3
    rows = {Path(r["path"]).name: r for r in tsv(result)}
    assert "does not match" in rows[BOLD.name]["error"]
    assert rows[SLABS.name]["status"] == "ok"  # the mask only applies to NIfTI


def test_3d_image_is_an_error_row_not_a_crash(tmp_path):
    nib.save(nib.Nifti1Image(np.ones((3, 3, 3), np.float32), np.eye(4)), tmp_path / "vol.nii.gz")
    result = run(tmp_path / "vol.nii.gz")
    assert result.exit_code == 3
    (row,) = tsv(result)
    assert row["status"] == "error" and "no time axis" in row["error"]
    assert "Traceback" not in result.output


def test_vector_scalarisation_gives_one_row_per_column_named_by_the_csv_header():
    result = run(EVENTS, "--scalarise", "vnorm(p=2, axis=time)", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["index"] for r in rows] == ["bold", "events"]
    want = np.sqrt((np.diff(events64(), axis=0) ** 2).sum(axis=0))
    np.testing.assert_allclose([float(r["score"]) for r in rows], want, rtol=1e-6)


def test_csv_without_header_and_with_na_cells(tmp_path):
    (tmp_path / "plain.csv").write_text("1,2\n2,4\n4,8\n")
    (tmp_path / "na.tsv").write_text("a\tb\nn/a\t1\n1\tNA\n3\t\n5\t2\n")
    result = run(tmp_path, "--nan", "omit", "--scalarise", "vnorm(p=1, axis=time)")
    rows = tsv(result)
    by = {(Path(r["path"]).name, r["index"]): float(r["score"]) for r in rows}
    assert by[("plain.csv", "0")] == 3.0 and by[("plain.csv", "1")] == 6.0
    assert by[("na.tsv", "a")] == 4.0  # n/a, 1, 3, 5: the first difference is left out
    assert by[("na.tsv", "b")] == 0.0  # no finite difference at all: an empty sum


def test_non_numeric_column_is_an_error_that_names_it(tmp_path):
    (tmp_path / "t.csv").write_text("time,label\n1,a\n2,b\n")
    result = run(tmp_path / "t.csv")
    assert result.exit_code == 3
    assert "column 'label' is not numeric" in tsv(result)[0]["error"]


def test_npz_scores_each_array_with_an_array_column(tmp_path):
    a = np.arange(10.0).reshape(2, 5)
    b = np.cumsum(np.ones(7)) ** 2
    np.savez(tmp_path / "two.npz", first=a, second=b)
    result = run(tmp_path / "two.npz", "--format", "json")
    rows = {r["array"]: r for r in json.loads(result.stdout)}
    assert rows["first"]["score"] == pytest.approx(8.0)
    assert rows["second"]["score"] == pytest.approx(np.abs(np.diff(b)).sum())


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (lambda: SLABS.read_bytes(), None),
        (lambda: BOLD.read_bytes(), None),
        (lambda: gzip.decompress(BOLD.read_bytes()), None),
        (lambda: EVENTS.read_bytes(), None),
        (lambda: EVENTS.read_bytes(), "csv"),
        (lambda: CONFOUNDS.read_bytes(), "tsv"),
        (lambda: SLABS.read_bytes(), "npy"),
        (lambda: BOLD.read_bytes(), "nifti"),
    ],
)
def test_stdin_is_sniffed_or_told_its_format(data, fmt):
    extra = ["--stdin-format", fmt] if fmt else []
    stdin_result = run("-", *extra, "--nan", "omit", input=data())
    assert stdin_result.exit_code == 0, stdin_result.output
    (row,) = tsv(stdin_result)
    assert row["path"] == "-"
    src = {b"\x93NUMPY": SLABS, b"bold,e": EVENTS, b"global": CONFOUNDS}.get(data()[:6], BOLD)
    file_row = tsv(run(src, "--nan", "omit"))[0]
    assert row["score"] == file_row["score"] and row["shape"] == file_row["shape"]


# -- options --------------------------------------------------------------------------------


def test_axis_n_pad_nu_and_name_match_numpy():
    X = np.load(SLABS).astype(np.float64)
    result = run(SLABS, "--axis", "0", "-n", "2", "--pad-value", "-1.5", "--nu", "0.5",
                 "--name", "curvature", "--format", "json")  # fmt: skip
    (row,) = json.loads(result.stdout)
    padded = np.concatenate([np.full((1, X.shape[1]), -1.5), X], axis=0)
    want = 0.5 * np.abs(np.diff(padded, n=2, axis=0)).sum()
    assert row["score"] == pytest.approx(want, rel=1e-6)
    assert (row["name"], row["axis"]) == ("curvature", 0)
    # time is the default axis: the NPY's last
    (row,) = json.loads(run(SLABS, "--axis", "time", "--format", "json").stdout)
    assert row["axis"] == 1


def test_axis_out_of_range_for_one_input_is_an_error_row():
    result = run(SLABS, EVENTS, "--axis", "2")
    assert result.exit_code == 3
    assert all("out of range" in r["error"] for r in tsv(result))


def test_space_and_time_names_in_specs():
    X = np.load(SLABS).astype(np.float64)  # regions x time
    D = np.diff(X, axis=1)
    result = run(SLABS, "--scalarise", "max(meansq(axis=space), axis=0)", "--format", "json")
    assert json.loads(result.stdout)[0]["score"] == pytest.approx((D**2).mean(0).max(), rel=1e-6)
    result = run(SLABS, "--scalarise", "vnorm(p=1, axis=time)", "--format", "json")
    np.testing.assert_allclose(
        [r["score"] for r in json.loads(result.stdout)], np.abs(D).sum(1), rtol=1e-6
    )


@pytest.mark.parametrize("fmt", ["tsv", "csv", "json", "jsonl", "markdown", "table"])
def test_every_output_format_parses_back_to_the_same_rows(fmt):
    result = run(SAMPLE, "--format", fmt)
    assert result.exit_code == 0
    out = result.stdout
    if fmt == "tsv":
        rows = list(csv.DictReader(io.StringIO(out), delimiter="\t"))
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
    elif fmt == "json":
        rows = json.loads(out)
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
    elif fmt == "markdown":
        lines = out.strip().splitlines()
        head = [c.strip() for c in lines[0].strip("|").split("|")]
        assert set(lines[1]) <= {"|", "-"}
        rows = [
            dict(zip(head, (c.strip() for c in line.strip("|").split("|")), strict=True))
            for line in lines[2:]
        ]
    else:
        assert "score" in out.splitlines()[0]
        assert all(Path(p).name in out for p in (BOLD, SLABS, EVENTS))
        return
    assert len(rows) == 4
    scores = {Path(r["path"]).name: r["score"] for r in rows}
    ref = tsv(run(SAMPLE))
    for r in ref:
        got = scores[Path(r["path"]).name]
        if r["score"] == "n/a":
            assert got in (None, "nan", "n/a", "")  # JSON writes NaN as null
        else:
            assert float(got) == float(r["score"])


def test_json_is_strict_with_nan_as_null():
    out = run(CONFOUNDS, "--format", "json").stdout
    assert "NaN" not in out
    assert json.loads(out)[0]["score"] is None


def test_output_file_format_from_extension_atomic_and_inputs_protected(tmp_path):
    target = tmp_path / "scores.json"
    target.write_text("old")
    result = run(SLABS, EVENTS, "-o", target)
    assert result.exit_code == 0
    assert result.stdout == ""  # the table went to the file
    assert [Path(r["path"]).name for r in json.loads(target.read_text())] == [
        SLABS.name,
        EVENTS.name,
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.json"]  # no temp file left
    copy = tmp_path / "x.csv"
    shutil.copy(EVENTS, copy)
    before = copy.read_bytes()
    bad = run(copy, "-o", copy)
    assert bad.exit_code == 2 and copy.read_bytes() == before
    assert run(SLABS, "-o", tmp_path / "scores.weird").exit_code == 2


def test_files_from_reads_paths_from_a_file_and_from_stdin(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"# inputs\n{SLABS}\n\n{EVENTS}\n")
    rows = tsv(run("--files-from", listing))
    assert [Path(r["path"]).name for r in rows] == [SLABS.name, EVENTS.name]
    rows = tsv(run("--files-from", "-", input=f"{EVENTS}\n"))
    assert [Path(r["path"]).name for r in rows] == [EVENTS.name]


def test_quiet_verbose_and_debug():
    assert run(SAMPLE, "-q").stderr == ""
    verbose = run(SLABS, "-v").stderr
    assert "1 row(s), status ok" in verbose and "1 input(s): 1 scored" in verbose
    debug = run(SLABS, "missing.npy", "--debug").stderr
    assert "Traceback" in debug and "missing.npy" in debug
    plain = run(SLABS, "missing.npy").stderr
    assert "Traceback" not in plain and "no such file: missing.npy" in plain


# -- exit codes -----------------------------------------------------------------------------


def test_exit_codes_0_1_2_3():
    assert run(SLABS).exit_code == 0
    assert run(SLABS, "--fail-above", "10").exit_code == 1
    assert run(SLABS, "--fail-below", "1e9").exit_code == 1
    assert run(SLABS, "--fail-above", "1e9", "--fail-below", "1").exit_code == 0
    assert run(SLABS, "--scalarise", "vnorm(q=1)").exit_code == 2
    assert run(SLABS, "--axis", "sideways").exit_code == 2
    assert run(SLABS, "--format", "xml").exit_code == 2
    assert run(SLABS, "-n", "-1").exit_code == 2
    assert run().exit_code == 2
    assert run(SLABS, "nothing-here.npy").exit_code == 3


def test_bad_spec_is_a_usage_error_with_a_caret():
    result = run(SLABS, "--scalarise", "mean(vnorm(p=2, axis=plane))")
    assert result.exit_code == 2
    assert "^" in result.stderr and "axis names: time, space" in result.stderr
    assert result.stdout == ""


def test_batch_with_bad_files_scores_every_good_one(tmp_path):
    shutil.copy(SLABS, tmp_path / "a_good.npy")
    shutil.copy(EVENTS, tmp_path / "b_good.csv")
    shutil.copy(BOLD, tmp_path / "c_good.nii.gz")
    (tmp_path / "d_corrupt.nii.gz").write_bytes(BOLD.read_bytes()[:5000])
    with open(tmp_path / "e_pickled.npy", "wb") as fh:
        pickle.dump({"x": 1}, fh)
    np.save(tmp_path / "f_objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    result = run(tmp_path, tmp_path / "g_missing.npy")
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    rows = {Path(r["path"]).name: r for r in tsv(result)}
    assert [rows[f]["status"] for f in ("a_good.npy", "b_good.csv", "c_good.nii.gz")] == ["ok"] * 3
    bad = ("d_corrupt.nii.gz", "e_pickled.npy", "f_objects.npy", "g_missing.npy")
    assert [rows[f]["status"] for f in bad] == ["error"] * 4
    assert all(rows[f]["error"] and "\n" not in rows[f]["error"] for f in bad)
    assert "never unpickled" in rows["e_pickled.npy"]["error"]
    assert "never unpickled" in rows["f_objects.npy"]["error"]
    assert "no such file" in rows["g_missing.npy"]["error"]
    for f in bad:
        assert "error: " in result.stderr and f in result.stderr


def test_nan_input_fails_threshold_and_passes_with_nan_omit(tmp_path):
    X = np.load(SLABS).copy()
    X[2, 5] = np.nan
    np.save(tmp_path / "holes.npy", X)
    fail = run(tmp_path / "holes.npy", "--fail-above", "1e9")
    assert fail.exit_code == 1
    assert tsv(fail)[0]["score"] == "n/a" and tsv(fail)[0]["check"] == "fail"
    assert "holes.npy: score nan" in fail.stderr
    ok = run(tmp_path / "holes.npy", "--fail-above", "1e9", "--nan", "omit")
    assert ok.exit_code == 0
    D = np.diff(X.astype(np.float64))
    assert float(tsv(ok)[0]["score"]) == pytest.approx(np.nansum(np.abs(D)), rel=1e-6)


# -- library and entry point ------------------------------------------------------------------


def test_score_paths_returns_the_same_rows_as_a_dataframe():
    df = score_paths(str(SAMPLE), scalarise="rms(axis=space)", mask=str(MASK))
    assert list(df.columns[:4]) == ["path", "index", "score", "status"]
    cli = tsv(run(SAMPLE, "--scalarise", "rms(axis=space)", "--mask", MASK))
    assert len(df) == len(cli)
    np.testing.assert_allclose(
        df["score"].to_numpy(float),
        [float(r["score"].replace("n/a", "nan")) for r in cli],
        rtol=1e-6,
        equal_nan=True,
    )


def _entry_point() -> list[str]:
    exe = Path(sys.executable).with_name("smoothcli")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "smoothcli"]


def test_installed_entry_point_scores_and_pipes():
    proc = subprocess.run(
        [*_entry_point(), "score", str(SAMPLE), "--fail-above", "1e12", "--nan", "omit"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split("\t")[:4] == ["path", "index", "score", "status"]  # TSV, a header
    assert len(lines) == 5
    assert "4 input(s): 4 scored" in proc.stderr


def test_broken_pipe_exits_141_quietly(tmp_path):
    # 50000 rows, about 4 MB: far more than a pipe holds, so smoothcli is still writing
    # when head has gone, whatever the timing
    np.save(tmp_path / "wide.npy", np.arange(100000.0).reshape(2, 50000) % 7)
    cmd = (
        " ".join(_entry_point())
        + f" score {tmp_path / 'wide.npy'} --scalarise 'vnorm(p=2, axis=0)' | head -n 2"
    )
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True)
    assert len(proc.stdout.splitlines()) == 2
    assert proc.returncode == 141
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


@posix_only
def test_ctrl_c_exits_130_without_a_traceback():
    import signal
    import time

    proc = subprocess.Popen(
        [*_entry_point(), "score", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # blocked reading stdin by now (or still starting: 130 all the same)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err


def test_table_format_into_a_pipe_has_no_escape_codes_even_with_force_color():
    env = {**__import__("os").environ, "FORCE_COLOR": "1"}
    proc = subprocess.run(
        [*_entry_point(), "score", str(SLABS), "--format", "table"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0
    assert "\x1b[" not in proc.stdout and "score" in proc.stdout


@posix_only
def test_a_terminal_gets_a_whole_table_in_colour_unless_no_color():
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm-256color"
    args = [*_entry_point(), "score", str(SLABS), "missing.npy"]
    coloured = run_on_a_terminal(args, env)
    assert "\t" not in coloured  # a table, not TSV
    assert "2031.9187" in coloured  # the score is never cut short on an 80-column terminal
    assert "\x1b[31m" in coloured  # the error row is red
    plain = run_on_a_terminal(args, {**env, "NO_COLOR": "1"})
    assert "2031.9187" in plain and "\x1b[31m" not in plain


@pytest.mark.parametrize(
    "variant", ["nifti1.nii.gz", "nifti2.nii.gz", "nifti2.nii", "big_endian.nii", "extension.nii"]
)
def test_nifti_variants_are_read_with_their_scaling(tmp_path, variant):
    data = (np.random.default_rng(0).standard_normal((3, 4, 5, 6)) * 100).astype(np.int16)
    cls = nib.Nifti2Image if variant.startswith("nifti2") else nib.Nifti1Image
    header = nib.Nifti1Header(endianness=">") if variant.startswith("big") else None
    img = cls(data, np.eye(4), header=header)
    img.header.set_slope_inter(2.0, 1.0)
    if variant.startswith("extension"):
        img.header.extensions.append(nib.nifti1.Nifti1Extension("comment", b"note " * 40))
    nib.save(img, tmp_path / variant)
    (row,) = json.loads(run(tmp_path / variant, "--format", "json").stdout)
    want = np.abs(np.diff(data.astype(np.float64) * 2.0 + 1.0, axis=3)).sum()
    assert row["status"] == "ok"
    assert row["score"] == pytest.approx(want, rel=1e-6)


def test_gzip_reading_with_and_without_isal_gives_the_same_bytes():
    from smoothcli.sources.nifti import open_gzip

    want = gzip.decompress(BOLD.read_bytes())
    with open_gzip(BOLD, prefer_isal=False) as plain:
        assert plain.read() == want
    with open_gzip(BOLD) as fast:  # ISA-L when installed (the test extra installs it)
        assert fast.read() == want


def test_truncated_gzip_image_is_an_error_row(tmp_path):
    (tmp_path / "cut.nii.gz").write_bytes(BOLD.read_bytes()[:20000])
    result = run(tmp_path / "cut.nii.gz", SLABS)
    assert result.exit_code == 3
    rows = tsv(result)
    assert rows[0]["status"] == "error" and rows[1]["status"] == "ok"
    assert rows[0]["error"]
    assert "Traceback" not in result.output


def test_array_scores_get_labels_on_every_axis():
    result = run(EVENTS, "--scalarise", "vnorm(p=1, axis=time, keepdims=True)")
    assert result.exit_code == 0, result.output
    rows = tsv(result)
    assert [r["index"] for r in rows] == ["0,bold", "0,events"]
    want = np.abs(np.diff(events64(), axis=0)).sum(axis=0)
    np.testing.assert_allclose([float(r["score"]) for r in rows], want, rtol=1e-12)
