"""QC verdicts: dummy volumes (nipype's ``NonSteadyStateDetector``, or fMRIPrep's confounds),
framewise displacement, frame and run rules, censor files, and the exit status they give.

The tree in ``tests/data/qc`` (see its ``make_tree.py``) has five runs that each start with
dummy volumes; run ``sub-03 run-1`` has a spike at frame 50, ``sub-03 run-2`` a burst of
head motion in its confounds. ``golden.json`` holds what the real nipype 1.11 made of them
(``make_golden.py``, run once in a throwaway venv)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from smoothcli.cli import app
from smoothcli.qc import (
    ConfoundsError,
    Rules,
    censor_table,
    judge,
    nonsteady_volumes,
    power_fd,
    read_confounds,
)

from .conftest import ROOT, ROUND_TRIP, cli_runner, rows_of

runner = cli_runner()
DATA = ROOT / "tests" / "data"
QC = DATA / "qc"
TREE = QC / "tree"
GOLDEN = json.loads((QC / "golden.json").read_text())
REAL_CONFOUNDS = DATA / "real" / "test-v21_desc-confounds_timeseries.tsv"
RUNS = sorted(TREE.rglob("*_desc-preproc_bold.nii.gz"), key=lambda p: p.parts)
SPIKE = next(p for p in RUNS if "run-1" in p.name)
MOTION = next(p for p in RUNS if "run-2" in p.name)
SPIKE_FRAMES = [50, 51]  # the spike on frame 50: the differences 49->50 and 50->51
#: the real runs, with the masks their DVARS needs
MASKS = {
    "tests/data/real/fmri2.nii.gz": DATA / "dvars" / "fmri2_mask.nii.gz",
    "tests/data/dvars/synth_bold.nii.gz": DATA / "dvars" / "synth_mask.nii.gz",
}


def dvars(*args):
    return runner.invoke(app, ["dvars", *map(str, args)])


def lines_of(run: Path) -> list[str]:
    """The lines of a run's confounds table."""
    name = run.name.replace("desc-preproc_bold.nii.gz", "desc-confounds_timeseries.tsv")
    return (run.parent / name).read_text().splitlines()


def by_path(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["path"], []).append(row)
    return out


# -- dummy volumes ---------------------------------------------------------------------------


@pytest.mark.parametrize("image", sorted(GOLDEN["NonSteadyStateDetector"]))
def test_the_dummy_count_equals_nipype(image):
    """smoothcli's count on every run equals nipype's NonSteadyStateDetector (golden values
    from nipype 1.11.0): through ``dvars`` (the global signal kept by the reader, before the
    mask) and ``score --dummy-scans auto`` (a first read of the image)."""
    want = GOLDEN["NonSteadyStateDetector"][image]
    path = ROOT / image
    mask = MASKS.get(image, "auto")
    result = dvars(path, "--mask", mask, "--summary")
    (row,) = rows_of(result.stdout)
    assert row["status"] == "ok", row["error"]
    assert int(row["dummy"]) == want
    scored = runner.invoke(app, ["score", str(path), "--dummy-scans", "auto", "--summary"])
    assert scored.exit_code == 0, scored.output
    (row,) = rows_of(scored.stdout)
    assert int(row["dummy"]) == want
    signal = np.asarray(nib.load(path).dataobj[..., :50], np.float64).mean(axis=(0, 1, 2))
    assert nonsteady_volumes(signal) == want


def test_the_detector_counts_only_the_leading_run_of_outliers():
    flat = np.full(50, 100.0)
    assert nonsteady_volumes(flat) == 0  # nipype: 0/0 makes every frame an outlier
    bright = flat.copy()
    bright[:3] = [160, 130, 115]
    assert nonsteady_volumes(bright) == 3  # a MAD of 0: the differing frames only
    noisy = 100 + np.random.default_rng(1).normal(0, 1, 80)
    noisy[[0, 1, 40]] += 30  # frame 40 is an outlier too, but not a leading one
    assert nonsteady_volumes(noisy) == 2
    late = noisy.copy()
    late[60] += 1000  # beyond the first 50 frames: not looked at
    assert nonsteady_volumes(late) == 2
    with pytest.raises(ValueError, match="not finite"):
        nonsteady_volumes(np.r_[np.nan, flat])


def test_dummy_frames_keep_their_values_but_are_skipped():
    """Without rules, the values are those of --dummy-scans 0 (nipype's, on every frame);
    frames 0..d are 'skip' and the summary is over the frames after them."""
    auto = dvars(SPIKE, "--mask", "auto")
    every = dvars(SPIKE, "--mask", "auto", "--dummy-scans", "0")
    assert auto.exit_code == every.exit_code == 0
    a, b = rows_of(auto.stdout), rows_of(every.stdout)
    for column in ("dvars", "std_dvars", "vx_std_dvars"):
        assert [r[column] for r in a] == [r[column] for r in b]
    assert [r["check"] for r in a[:5]] == ["skip"] * 4 + ["n/a"]
    assert {r["check"] for r in a[4:]} == {"n/a"} and {r["check"] for r in b} == {"n/a"}
    assert {r["dummy"] for r in a} == {"3"} and {r["dummy"] for r in b} == {"0"}
    assert float(a[1]["std_dvars"]) > 5  # the dummy volumes' differences: far over 1.5
    (summary,) = rows_of(dvars(SPIKE, "--mask", "auto", "--summary").stdout)
    counted = np.array([float(r["std_dvars"]) for r in a[4:]])
    assert float(summary["dvars_std"]) == pytest.approx(counted.mean(), rel=1e-14)
    assert float(summary["dvars_std_max"]) == counted.max()
    assert int(summary["dvars_std_max_frame"]) == 50
    explicit = dvars(SPIKE, "--mask", "auto", "--dummy-scans", "5", "--fail-above", "1.5")
    checks = [r["check"] for r in rows_of(explicit.stdout)]
    assert checks[:7] == ["skip"] * 6 + ["pass"] and checks[50:52] == ["fail", "fail"]


def test_every_frame_a_dummy_is_an_error_row():
    result = dvars(SPIKE, "--mask", "auto", "--dummy-scans", "79")
    assert result.exit_code == 3
    (row,) = rows_of(result.stdout)
    assert "no frame is left to judge: 79 dummy scan(s) in a run of 80 frames" in row["error"]


# -- framewise displacement ------------------------------------------------------------------


def test_fd_from_the_motion_columns_equals_fmripreps_and_nipypes(tmp_path):
    """The real fMRIPrep table: Power's FD from trans_*/rot_* equals its
    framewise_displacement column and nipype's FramewiseDisplacement."""
    table = pd.read_csv(REAL_CONFOUNDS, sep="\t", na_values="n/a", **ROUND_TRIP)
    motion = table[["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]].to_numpy()
    fd = power_fd(motion)
    want = table["framewise_displacement"].to_numpy()
    assert math.isnan(fd[0]) and math.isnan(want[0])
    np.testing.assert_allclose(fd[1:], want[1:], rtol=0, atol=1e-9)
    nipype = GOLDEN["FramewiseDisplacement"][
        "tests/data/real/test-v21_desc-confounds_timeseries.tsv"
    ]
    np.testing.assert_allclose(fd[1:], nipype[1:], rtol=0, atol=1e-12)
    no_fd = tmp_path / "sub-01_task-rest_desc-confounds_timeseries.tsv"
    table.drop(columns="framewise_displacement").to_csv(no_fd, sep="\t", index=False, na_rep="n/a")
    found = read_confounds(str(no_fd))
    assert found.fd_from.startswith("trans_*/rot_*") and found.frames == 30
    np.testing.assert_allclose(found.fd[1:], want[1:], rtol=0, atol=1e-9)
    assert found.dummy == 3  # its three non_steady_state_outlier columns
    given = read_confounds(str(REAL_CONFOUNDS))
    assert given.fd_from == "framewise_displacement"
    np.testing.assert_array_equal(given.fd[1:], want[1:])


@pytest.mark.parametrize("table", sorted(GOLDEN["FramewiseDisplacement"]))
def test_the_fd_column_is_fmripreps_and_nipypes(table):
    found = read_confounds(str(ROOT / table))
    np.testing.assert_allclose(found.fd[1:], GOLDEN["FramewiseDisplacement"][table][1:], atol=1e-9)


def test_confounds_auto_adds_fd_and_the_dummy_columns():
    result = dvars(MOTION, "--mask", "auto", "--confounds", "auto")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    confounds = MOTION.with_name(
        MOTION.name.replace("desc-preproc_bold.nii.gz", "desc-confounds_timeseries.tsv")
    )
    table = pd.read_csv(confounds, sep="\t", na_values="n/a", **ROUND_TRIP)
    assert {r["confounds"] for r in rows} == {str(confounds)}
    assert rows[0]["fd"] == "n/a"
    assert [float(r["fd"]) for r in rows[1:]] == list(table["framewise_displacement"][1:])
    assert {r["dummy"] for r in rows} == {"4"}  # its four non_steady_state_outlier columns
    failed = dvars(MOTION, "--mask", "auto", "--confounds", "auto", "--fd-above", "0.5")
    assert failed.exit_code == 1
    fails = [int(r["frame"]) for r in rows_of(failed.stdout) if r["check"] == "fail"]
    assert fails == list(np.flatnonzero(table["framewise_displacement"] > 0.5))
    assert fails == [30, 31, 32]


def test_confounds_that_do_not_fit_are_error_rows(tmp_path):
    run = tmp_path / "sub-01_task-rest_desc-preproc_bold.nii.gz"
    shutil.copyfile(RUNS[0], run)
    shutil.copyfile(
        RUNS[0].with_name("sub-01_task-rest_desc-brain_mask.nii.gz"),
        tmp_path / "sub-01_task-rest_desc-brain_mask.nii.gz",
    )
    missing = dvars(run, "--mask", "auto", "--confounds", "auto")
    assert missing.exit_code == 3
    looked = "looked for sub-01_task-rest_desc-confounds_timeseries.tsv in"
    assert (
        f"no confounds file for --confounds auto: {looked}" in rows_of(missing.stdout)[0]["error"]
    )
    short = tmp_path / "sub-01_task-rest_desc-confounds_timeseries.tsv"
    lines = (
        (RUNS[0].parent / "sub-01_task-rest_desc-confounds_timeseries.tsv").read_text().splitlines()
    )
    short.write_text("\n".join(lines[:41]) + "\n")
    result = dvars(run, "--mask", "auto", "--confounds", "auto")
    assert result.exit_code == 3
    assert (
        f"the confounds file {short} has 40 rows, but the run has 80 frames"
        in rows_of(result.stdout)[0]["error"]
    )
    cells = [line.split("\t") for line in lines_of(RUNS[0])]
    cells[5][1] = "not-a-number-and-a-long-cell-to-cut"  # framewise_displacement, line 6
    short.write_text("\n".join("\t".join(c) for c in cells) + "\n")
    result = dvars(run, "--mask", "auto", "--confounds", short)
    error = rows_of(result.stdout)[0]["error"]
    assert "line 6, column framewise_displacement: 'not-a-number-and-a-long-'... is not" in error
    gap = [line.split("\t") for line in lines_of(RUNS[0])]
    gap[10][1] = "n/a"
    short.write_text("\n".join("\t".join(c) for c in gap) + "\n")
    result = dvars(run, "--mask", "auto", "--confounds", short)
    assert (
        "framewise_displacement is missing or not finite at frame 9"
        in rows_of(result.stdout)[0]["error"]
    )
    with pytest.raises(ConfoundsError, match="not a regular file"):
        read_confounds(str(tmp_path))


def test_dummy_columns_must_mark_the_first_frames(tmp_path):
    table = tmp_path / "c.tsv"
    table.write_text(
        "non_steady_state_outlier00\tnon_steady_state_outlier01\n0\t0\n1\t0\n0\t1\n0\t0\n"
    )
    with pytest.raises(ConfoundsError, match="mark frames 1, 2, not the first frames"):
        read_confounds(str(table))
    table.write_text("global_signal\n1\n2\n3\n")
    found = read_confounds(str(table))
    assert (found.frames, found.fd, found.dummy) == (3, None, 0)


# -- frame rules and run rules on the tree ---------------------------------------------------


def test_frame_rule_alone_fails_only_the_run_with_a_spike():
    """--fail-above 1.5 alone: the dummy volumes' differences (std_dvars 5-25) are skipped,
    so the frames that fail are the spike's; only its run fails (a frame rule fails a run)."""
    result = dvars(TREE, "--mask", "auto", "--fail-above", "1.5")
    assert result.exit_code == 1, result.output
    runs = by_path(rows_of(result.stdout))
    assert list(runs) == list(map(str, RUNS))
    for path, rows in runs.items():
        dummy = int(rows[0]["dummy"])
        assert [r["check"] for r in rows[: dummy + 1]] == ["skip"] * (dummy + 1)
        counted = rows[dummy + 1 :]
        fails = [int(r["frame"]) for r in counted if r["check"] == "fail"]
        assert fails == [int(r["frame"]) for r in counted if float(r["std_dvars"]) > 1.5]
        assert fails == (SPIKE_FRAMES if path == str(SPIKE) else [])
        assert {r["verdict"] for r in rows} == {"fail" if path == str(SPIKE) else "pass"}
    assert (
        result.stderr.count("fail: ") == 1
        and f"fail: {SPIKE}: 2 of 76 frames failed (frames 50, 51)" in result.stderr
    )


def test_without_dummy_scans_every_run_fails():
    """The problem that made verdicts useless: with every frame counted, every run fails."""
    result = dvars(TREE, "--mask", "auto", "--fail-above", "1.5", "--dummy-scans", "0", "--summary")
    assert result.exit_code == 1
    assert [r["check"] for r in rows_of(result.stdout)] == ["fail"] * 5


def test_a_run_rule_fails_exactly_the_run_with_a_spike_and_exits_1(tmp_path):
    table = tmp_path / "qc.tsv"
    args = ["--mask", "auto", "--fail-above", "1.5", "--max-fail-fraction", "0.005", "--summary"]
    result = dvars(TREE, *args, "-o", table)
    assert result.exit_code == 1, result.output
    rows = rows_of(table.read_text())
    assert [r["path"] for r in rows if r["check"] == "fail"] == [str(SPIKE)]
    spike = next(r for r in rows if r["path"] == str(SPIKE))
    assert (spike["n_fail"], spike["dummy"]) == ("2", "3")
    assert float(spike["fail_fraction"]) == 2 / 76
    assert spike["reason"] == "2 of 76 frames failed (2.6% > 0.5%)"
    assert {r["reason"] for r in rows if r["path"] != str(SPIKE)} == {"n/a"}
    assert {r["n_fail"] for r in rows if r["path"] != str(SPIKE)} == {"0"}
    assert f"fail: {SPIKE}: 2 of 76 frames failed (2.6% > 0.5%)" in result.stderr
    assert "1 failed QC" in result.stderr
    side = json.loads(table.with_suffix(".json").read_text())
    assert (
        side["Options"]["max_fail_fraction"] == 0.005 and side["Options"]["dummy_scans"] == "auto"
    )


def test_frame_failures_alone_do_not_fail_the_command_when_a_run_rule_is_given():
    args = ["--mask", "auto", "--fail-above", "1.5", "--max-fail-fraction", "0.05"]
    result = dvars(TREE, *args, "--summary")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert {r["check"] for r in rows} == {"pass"}
    spike = next(r for r in rows if r["path"] == str(SPIKE))
    assert spike["n_fail"] == "2" and spike["reason"] == "2 of 76 frames failed (2.6% <= 5%)"
    assert f"flagged: {SPIKE}: 2 of 76 frames failed (2.6% <= 5%) (the run passed)" in result.stderr
    quiet = dvars(TREE, *args, "--summary", "-q")
    assert "flagged" not in quiet.stderr


def test_fd_and_std_dvars_rules_together_fail_the_spike_and_the_motion_runs():
    args = ["--mask", "auto", "--confounds", "auto", "--fail-above", "1.5", "--fd-above", "0.5"]
    result = dvars(TREE, *args, "--max-fail-fraction", "0.005", "--summary")
    assert result.exit_code == 1
    rows = rows_of(result.stdout)
    assert [r["path"] for r in rows if r["check"] == "fail"] == [str(SPIKE), str(MOTION)]
    motion = next(r for r in rows if r["path"] == str(MOTION))
    assert motion["n_fail"] == "3" and float(motion["fd_max"]) > 0.5
    assert motion["reason"] == "3 of 75 frames failed (4% > 0.5%)"


def test_the_mean_rule_and_the_auto_threshold():
    result = dvars(TREE, "--mask", "auto", "--fail-mean-above", "1.07", "--summary")
    rows = rows_of(result.stdout)
    means = {r["path"]: float(r["dvars_std"]) for r in rows}
    failed = sorted(p for p, m in means.items() if m > 1.07)
    assert failed and len(failed) < 5
    assert sorted(r["path"] for r in rows if r["check"] == "fail") == failed
    assert result.exit_code == 1
    for row in rows:
        if row["check"] == "fail":
            assert row["reason"] == f"mean std_dvars {means[row['path']]:.4g} > 1.07"
    per_frame = rows_of(dvars(TREE, "--mask", "auto", "--fail-above", "auto").stdout)
    for path, rows in by_path(per_frame).items():
        dummy = int(rows[0]["dummy"])
        counted = np.array([float(r["std_dvars"]) for r in rows[dummy + 1 :]])
        q25, q75 = np.percentile(counted, [25, 75])
        limit = q75 + 1.5 * (q75 - q25)
        assert {float(r["threshold"]) for r in rows} == {limit}
        want = [int(r["frame"]) for r in rows[dummy + 1 :] if float(r["std_dvars"]) > limit]
        assert [int(r["frame"]) for r in rows if r["check"] == "fail"] == want
        if path == str(SPIKE):
            assert set(SPIKE_FRAMES) <= set(want)


def test_judge_on_its_own():
    values = np.array([np.nan, 9, 8, 1, 1, 2, 1, 1, 3, 1])
    fd = np.array([np.nan, 0, 0, 0, 0.9, 0, 0, 0, 0, 0])
    rules = Rules(fail_above=1.5, fd_above=0.5, max_fail_fraction=0.25)
    found = judge(values, fd, 2, rules)
    assert found.checks == [
        "skip",
        "skip",
        "skip",
        "pass",
        "fail",
        "fail",
        "pass",
        "pass",
        "fail",
        "pass",
    ]
    assert found.failed == (4, 5, 8) and found.counted == 7 and found.verdict == "fail"
    assert found.reason == "3 of 7 frames failed (42.9% > 25%)"
    assert judge(values, None, 2, Rules()).verdict is None
    assert judge(values, None, 2, Rules()).checks[3:] == [None] * 7
    close = judge(
        np.array([np.nan, 1, 2] + [1] * 98), None, 0, Rules(fail_above=1.5, max_fail_fraction=0.01)
    )
    assert close.reason == "1 of 100 frames failed (1% <= 1%)" and close.verdict == "pass"
    with pytest.raises(ValueError, match="needs a frame rule"):
        Rules(max_fail_fraction=0.1)


# -- censor files ----------------------------------------------------------------------------


def test_censor_files_drop_the_dummy_volumes_and_the_failed_frames(tmp_path):
    folder = tmp_path / "censor"
    args = ["--mask", "auto", "--fail-above", "1.5", "--censor", folder, "--summary"]
    result = dvars(TREE, *args)
    assert result.exit_code == 1
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(p.name.replace(".nii.gz", "_censor.tsv") for p in RUNS)
    spike = pd.read_csv(
        folder / SPIKE.name.replace(".nii.gz", "_censor.tsv"),
        sep="\t",
        **ROUND_TRIP,
    )
    assert list(spike.columns) == ["frame", "censor", *(f"outlier_0{i}" for i in range(5))]
    assert list(spike["frame"]) == list(range(80))
    assert list(np.flatnonzero(spike["censor"])) == [0, 1, 2, 50, 51]  # 3 dummy volumes
    spikes = spike.filter(like="outlier_").to_numpy()
    assert (spikes.sum(axis=0) == 1).all() and list(spikes.argmax(axis=0)) == [0, 1, 2, 50, 51]
    clean = pd.read_csv(
        folder / RUNS[1].name.replace(".nii.gz", "_censor.tsv"),
        sep="\t",
        **ROUND_TRIP,
    )
    assert list(np.flatnonzero(clean["censor"])) == [0, 1]  # sub-02: 2 dummy volumes
    assert "5 censor file(s) in" in result.stderr
    # usable as confounds: nilearn takes each column of this file as a regressor
    assert spike.drop(columns=["frame", "censor"]).shape == (80, 5)


def test_censor_table_text():
    assert censor_table(4, 0, []) == "frame\tcensor\n0\t0\n1\t0\n2\t0\n3\t0\n"
    assert censor_table(3, 1, [2]) == (
        "frame\tcensor\toutlier_00\toutlier_01\n0\t1\t1\t0\n1\t0\t0\t0\n2\t1\t0\t1\n"
    )


def test_a_censor_file_never_replaces_an_input(tmp_path):
    run = tmp_path / "x_bold.nii.gz"
    shutil.copyfile(RUNS[0], run)
    mask = tmp_path / "m.nii.gz"
    shutil.copyfile(RUNS[0].with_name("sub-01_task-rest_desc-brain_mask.nii.gz"), mask)
    precious = tmp_path / "x_bold_censor.tsv"  # named as the censor file of x_bold would be
    precious.write_text("mine\n")
    result = dvars(run, precious, "--mask", mask, "--censor", tmp_path)
    assert result.exit_code == 2 and "smoothcli did not write it" in result.stderr
    assert precious.read_text() == "mine\n"


# -- trees, -n and messages ------------------------------------------------------------------


def test_dvars_on_a_folder_takes_only_images():
    result = dvars(TREE, "--mask", "auto", "--summary", "-v")
    assert result.exit_code == 0, result.output
    assert [r["path"] for r in rows_of(result.stdout)] == list(map(str, RUNS))
    assert (
        "10 skipped: 5 masks or segmentations (by name); 5 not images (tables and arrays)"
        in result.stderr
    )
    table = next(TREE.rglob("*_desc-confounds_timeseries.tsv"))
    assert f"skipped: {table}: not an image: a table" in result.stderr
    events = DATA / "real" / "event_related_fmri.csv"
    named = dvars(events, "--summary", "--intensity-normalization", "0")  # named: a run
    assert named.exit_code == 0 and rows_of(named.stdout)[0]["status"] == "ok"


def test_score_dummy_scans_drop_frames_before_differencing(tmp_path):
    data = np.asarray(nib.load(SPIKE).dataobj, np.float64)
    scored = runner.invoke(app, ["score", str(SPIKE), "--dummy-scans", "3"])
    (row,) = rows_of(scored.stdout)
    want = np.abs(np.diff(data[..., 3:], axis=-1)).sum()
    assert float(row["score"]) == pytest.approx(want, rel=1e-6)
    assert (row["dummy"], row["shape"]) == ("3", "10x10x8x77")
    plain = rows_of(runner.invoke(app, ["score", str(SPIKE)]).stdout)[0]
    assert plain["dummy"] == "n/a" and plain["shape"] == "10x10x8x80"
    per_frame = runner.invoke(
        app, ["score", str(SPIKE), "--mask", str(SPIKE).replace("preproc_bold", "brain_mask"),
              "--scalarise", "rms(axis=space)", "--dummy-scans", "auto", "--fail-above", "30"],
    )  # fmt: skip
    rows = rows_of(per_frame.stdout)
    assert [int(r["frame"]) for r in rows] == list(range(4, 80))  # after 3 dummy volumes
    assert [int(r["index"]) for r in rows] == list(range(76))
    first = next(r for r in rows if r["check"] == "fail")
    assert f"the first, frame {first['frame']} (index {first['index']})" in per_frame.stderr
    npy = tmp_path / "x.npy"
    series = np.random.default_rng(0).normal(size=(6, 30))
    np.save(npy, series)
    (row,) = rows_of(runner.invoke(app, ["score", str(npy), "--dummy-scans", "4"]).stdout)
    assert float(row["score"]) == pytest.approx(np.abs(np.diff(series[:, 4:])).sum(), rel=1e-12)
    csv_file = tmp_path / "x.csv"
    pd.DataFrame(series.T, columns=list("abcdef")).to_csv(csv_file, index=False)
    (row,) = rows_of(runner.invoke(app, ["score", str(csv_file), "--dummy-scans", "4"]).stdout)
    assert float(row["score"]) == pytest.approx(np.abs(np.diff(series[:, 4:])).sum(), rel=1e-12)
    stdin = runner.invoke(app, ["score", "-", "--dummy-scans", "auto"], input=npy.read_bytes())
    assert stdin.exit_code == 3 and "stdin can be read once" in stdin.stdout


def test_an_n_that_leaves_no_differences_is_an_error_row_not_zero(tmp_path):
    result = runner.invoke(app, ["score", str(SPIKE), "-n", "1000", "--fail-above", "1"])
    assert result.exit_code == 3
    (row,) = rows_of(result.stdout)
    assert row["status"] == "error" and row["score"] == "n/a"
    assert (
        row["error"]
        == "-n 1000 leaves no differences along axis 3 (length 80): there is nothing to score"
    )
    edge = runner.invoke(app, ["score", str(SPIKE), "-n", "80"])
    assert edge.exit_code == 3
    fine = runner.invoke(app, ["score", str(SPIKE), "-n", "79"])
    assert fine.exit_code == 0
    zero = runner.invoke(app, ["score", str(SPIKE), "-n", "0"])
    assert zero.exit_code == 0  # n=0 is the data itself, as jnp.diff gives it


# -- the report decides ----------------------------------------------------------------------


def page_data(page: str) -> dict:
    import re

    found = re.search(r'<script type="application/json" id="runs">(.*?)</script>', page, re.S)
    assert found, "the page carries its numbers as JSON"
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The tree's per-frame table and its page, made by ``dvars --report`` with fMRIPrep's
    rules: the spike run fails, the others pass."""
    folder = tmp_path_factory.mktemp("qc-report")
    table, page = folder / "dvars.tsv", folder / "qc.html"
    args = ["--mask", "auto", "--fail-above", "1.5", "--max-fail-fraction", "0.005"]
    result = dvars(TREE, *args, "-o", table, "--report", page)
    assert result.exit_code == 1, result.output
    return {"table": table, "page": page.read_text(), "folder": folder}


def test_the_report_puts_the_failed_run_first_with_its_verdict_and_reason(report):
    import re

    page = report["page"]
    data = page_data(page)
    runs = data["runs"]
    assert runs[0]["path"] == str(SPIKE)
    assert [r["verdict"] for r in runs] == ["fail", "pass", "pass", "pass", "pass"]
    assert runs[0]["reasons"][0] == "2 of 76 frames failed (2.6% > 0.5%)"
    assert (runs[0]["sub"], runs[0]["ses"], runs[0]["task"], runs[0]["run"]) == (
        "03",
        "1",
        "rest",
        "1",
    )
    assert {r["dummy"] for r in runs} == {2, 3, 4}
    spike = runs[0]
    assert spike["max"] == max(
        float(r["std_dvars"])
        for r in rows_of(report["table"].read_text())
        if r["path"] == str(SPIKE) and r["check"] != "skip" and r["std_dvars"] != "n/a"
    )  # the max of the counted frames, not of the dummy volumes' differences (12.9)
    # the table of runs and the traces follow the same order
    table = page[page.index("<h2>Runs</h2>") : page.index("<h2>Distribution</h2>")]
    shown = re.findall(r'<span class="name" title="([^"]+)"', table)
    assert shown == [r["path"] for r in runs]
    assert (
        '<td class="fail">fail</td>' in table
        and table.count('<td class="pass">pass</td>')
        + table.count('<td class="flagged">flagged</td>')
        == 4
    )
    traces = re.findall(r'<div class="trace" id="(run-\d+)"', page)
    anchors = {
        r["path"]: f"run-{i}"
        for i, r in enumerate(sorted(runs, key=lambda r: RUNS.index(Path(r["path"]))))
    }
    assert traces == [anchors[r["path"]] for r in runs]
    # numbers shown to 4 significant digits, sorted by their full value
    assert f'data-v="{spike["max"]!r}">{spike["max"]:.4g}<' in table


def test_the_report_draws_dummies_tooltips_seconds_and_a_carpet_of_the_failed_run(report):
    import re

    page = report["page"]
    distribution = page[page.index("<h2>Distribution</h2>") : page.index("<h2>Per-run traces</h2>")]
    titles = re.findall(r"<title>([^<]+)</title>", distribution)
    assert len(titles) == 2 * 5  # a point per run for the mean and the max, each named
    assert any(t.startswith(str(SPIKE)) and "\nfail;" in t for t in titles)
    assert 'target="_blank"' not in page  # a click stays in the page
    assert "annotate" not in distribution and SPIKE.name not in re.sub(
        r"<title>[^<]*</title>", "", distribution
    )
    traces = page[page.index("<h2>Per-run traces</h2>") :]
    assert traces.count(">seconds<") == 5  # the TR (2 s) is in the headers
    assert traces.count('style="fill: #bbbbbb') >= 5  # the dummy volumes, shaded
    assert traces.count("<image") == 1  # one carpet: the failed run's
    first = traces[: traces.index('<div class="trace" id="run-', traces.index("<image"))]
    assert "carpet: " in first and "data:image/png;base64," in first
    # frame axes have integer ticks
    svg = traces[: traces.index("<image")]
    ticks = re.findall(r'<g id="xtick_\d+">.*?<text[^>]*>([^<]*)</text>', svg, re.S)
    assert len(ticks) > 5 and all(re.fullmatch(r"-?\d+", t.replace("\u2212", "-")) for t in ticks)


def test_score_takes_the_dummy_count_from_the_confounds(tmp_path):
    args = ["score", str(MOTION), "--dummy-scans", "auto", "--confounds", "auto"]
    (row,) = rows_of(runner.invoke(app, args).stdout)
    assert row["dummy"] == "4" and row["shape"] == "10x10x8x76"
    wrong = runner.invoke(app, ["score", str(MOTION), "--confounds", "auto"])
    assert wrong.exit_code == 2 and "only for --dummy-scans auto" in wrong.stderr


# -- what a review found ----------------------------------------------------------------------


def _copy_run(src: Path, folder: Path, stem: str = "sub-01_task-rest") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    run = folder / f"{stem}_desc-preproc_bold.nii.gz"
    shutil.copyfile(src, run)
    mask = src.name.replace("desc-preproc_bold", "desc-brain_mask")
    shutil.copyfile(src.with_name(mask), folder / f"{stem}_desc-brain_mask.nii.gz")
    return run


def test_a_resumed_batch_gives_each_run_its_own_censor_file(tmp_path):
    """Two runs of one name in two folders: NAME and NAME-2, numbered over the whole batch,
    so resuming after the first does not write the second's file over the first's."""
    a, b = _copy_run(SPIKE, tmp_path / "a"), _copy_run(RUNS[0], tmp_path / "b")
    out, folder = tmp_path / "t.tsv", tmp_path / "c"
    common = ["--mask", "auto", "--fail-above", "1.5", "--censor", folder, "-o", out, "--resume"]
    assert dvars(a, *common).exit_code == 1
    first = (folder / "sub-01_task-rest_desc-preproc_bold_censor.tsv").read_text()
    assert dvars(a, b, *common).exit_code == 1  # a is done already: only b is computed
    assert (folder / "sub-01_task-rest_desc-preproc_bold_censor.tsv").read_text() == first
    second = pd.read_csv(
        folder / "sub-01_task-rest_desc-preproc_bold-2_censor.tsv",
        sep="\t",
        **ROUND_TRIP,
    )
    assert list(np.flatnonzero(second["censor"])) == [0, 1, 2]  # b: dummies only, no spike
    assert "50\t1" in first


def test_a_nan_background_leaves_the_dummy_count_alone(tmp_path):
    img = nib.load(SPIKE)
    data = np.asarray(img.dataobj, np.float32)
    inside = np.asarray(nib.load(str(SPIKE).replace("preproc_bold", "brain_mask")).dataobj) > 0
    data[~inside] = np.nan  # as a skull-stripped float image stores its background
    folder = tmp_path / "nan"
    folder.mkdir()
    run = folder / SPIKE.name
    nib.save(nib.Nifti1Image(data, img.affine, img.header), run)
    shutil.copyfile(
        str(SPIKE).replace("preproc_bold", "brain_mask"),
        str(run).replace("preproc_bold", "brain_mask"),
    )
    result = dvars(run, "--mask", "auto", "--summary")
    assert result.exit_code == 0, result.output
    assert rows_of(result.stdout)[0]["dummy"] == "3"
    scored = runner.invoke(app, ["score", str(run), "--dummy-scans", "auto", "--nan", "omit"])
    assert rows_of(scored.stdout)[0]["dummy"] == "3"


def test_the_table_and_the_censor_files_never_take_each_others_place(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    table = folder / SPIKE.name.replace(".nii.gz", "_censor.tsv")
    result = dvars(SPIKE, "--mask", "auto", "--censor", folder, "-o", table)
    assert (
        result.exit_code == 2
        and "is where the table, its sidecar or the report goes" in result.stderr
    )
    assert not table.exists()


def test_confounds_auto_on_stdin_and_a_table_without_fd_say_so():
    stdin = runner.invoke(
        app, ["dvars", "-", "--confounds", "auto", "--intensity-normalization", "0"],
        input="a,b\n1,2\n3,5\n2,2\n",
    )  # fmt: skip
    assert stdin.exit_code == 3
    assert "stdin has no name: give --confounds FILE" in rows_of(stdin.stdout)[0]["error"]
    bare = DATA / "real" / "event_related_fmri.csv"  # no FD, no motion columns
    result = dvars(SPIKE, "--mask", "auto", "--confounds", bare, "--fd-above", "0.5")
    assert result.exit_code == 3
    error = rows_of(result.stdout)[0]["error"]
    assert "has 3360 rows, but the run has 80 frames" in error  # the rows are checked first
