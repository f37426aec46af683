"""``smoothcli bids DERIV_DIR OUTPUT_DIR participant|group`` on a copy of the QC tree
(tests/data/qc/tree: four participants, a session with two runs, two tasks; sub-03's run-1
has a spike on frame 50, its run-2 a burst of head motion on frames 30-32)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from .conftest import ROOT, ROUND_TRIP, posix_only, smoothcli

TREE = ROOT / "tests" / "data" / "qc" / "tree"
BIN = Path(sys.executable).parent
REAL = ROOT / "tests" / "data" / "real" / "fmri2.nii.gz"
RUN_NAMES = {
    "sub-01_task-rest": "sub-01/func",
    "sub-02_task-rest": "sub-02/func",
    "sub-03_ses-1_task-rest_run-1": "sub-03/ses-1/func",
    "sub-03_ses-1_task-rest_run-2": "sub-03/ses-1/func",
    "sub-04_task-nback": "sub-04/func",
}
FAILING = {"sub-03_ses-1_task-rest_run-1", "sub-03_ses-1_task-rest_run-2"}


cli = smoothcli


def bids(deriv, out, *args):
    return cli("bids", deriv, out, *args)


@pytest.fixture
def deriv(tmp_path) -> Path:
    """A copy of the QC tree: fMRIPrep's derivatives."""
    return Path(shutil.copytree(TREE, tmp_path / "fmriprep"))


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def outputs_of(stem: str) -> set[str]:
    where = RUN_NAMES[stem]
    return {
        f"{where}/{stem}_desc-dvars_timeseries.tsv",
        f"{where}/{stem}_desc-dvars_timeseries.json",
        f"{where}/{stem}_desc-censor_timeseries.tsv",
    }


def read_tsv(path: Path) -> pd.DataFrame:
    """A TSV as BIDS has it: n/a for a missing value, labels kept as text (01 is not 1)."""
    labels = dict.fromkeys(("sub", "ses", "task", "run", "path", "bids_name"), str)
    return pd.read_csv(
        path, sep="\t", na_values="n/a", keep_default_na=False, dtype=labels, **ROUND_TRIP
    )


# -- participant -----------------------------------------------------------------------------


def test_participant_for_one_label_writes_only_that_subjects_files(deriv, tmp_path):
    out = tmp_path / "qc"
    result = bids(deriv, f"{out}/", "participant", "--participant-label", "03")  # as in README
    assert result.exit_code == 1, result.stderr  # both of sub-03's runs fail
    expected = outputs_of("sub-03_ses-1_task-rest_run-1") | outputs_of(
        "sub-03_ses-1_task-rest_run-2"
    )
    assert files_under(out) == expected | {"sub-03.html", "dataset_description.json"}
    assert "2 failed QC" in result.stderr and "frames 50, 51" in result.stderr
    assert files_under(deriv) == files_under(TREE)  # nothing written into the input


def test_labels_as_bids_apps_take_them(deriv, tmp_path):
    """``--participant-label 01 02`` (several after one flag), ``sub-`` prefixes, ``=`` and
    the underscore spelling, and the session and task filters."""
    for i, args in enumerate(
        (
            ["--participant-label", "01", "sub-02"],
            ["--participant_label", "01", "--participant-label=02"],
            ["--participant-label", "01", "02", "04", "--task", "rest"],
        )
    ):
        out = tmp_path / f"out{i}"
        result = bids(deriv, out, "participant", *args, "--no-reports")
        assert result.exit_code == 0, result.stderr
        subjects = {p.name for p in out.iterdir() if p.is_dir()}
        assert subjects == {"sub-01", "sub-02"}, args
    out = tmp_path / "ses"
    result = bids(deriv, out, "participant", "--session-label", "ses-1", "--no-reports")
    assert result.exit_code == 1
    assert {p.name for p in out.iterdir() if p.is_dir()} == {"sub-03"}


def test_the_run_table_equals_dvars_on_the_same_run(deriv, tmp_path):
    out = tmp_path / "qc"
    assert bids(deriv, out, "participant", "--participant-label", "03").exit_code == 1
    run = deriv / "sub-03/ses-1/func/sub-03_ses-1_task-rest_run-1_desc-preproc_bold.nii.gz"
    table = tmp_path / "dvars.tsv"
    opts = ["--mask", "auto", "--confounds", "auto", "--fail-above", "1.5", "--fd-above", "0.5"]
    assert cli("dvars", run, *opts, "-o", table).exit_code == 1
    want = read_tsv(table)
    got = read_tsv(out / "sub-03/ses-1/func/sub-03_ses-1_task-rest_run-1_desc-dvars_timeseries.tsv")
    for column in ("frame", "dvars", "std_dvars", "vx_std_dvars", "fd", "dummy", "threshold"):
        pd.testing.assert_series_equal(got[column], want[column])  # to the last bit
    for column in ("check", "verdict", "reason", "status"):
        assert list(got[column]) == list(want[column])
    assert set(got["path"]) == {"sub-03/ses-1/func/" + run.name}  # relative to DERIV_DIR
    assert got["check"].tolist()[50:52] == ["fail", "fail"]
    censor = read_tsv(
        out / "sub-03/ses-1/func/sub-03_ses-1_task-rest_run-1_desc-censor_timeseries.tsv"
    )
    dummy = int(want["dummy"][0])
    assert censor["censor"].tolist() == [
        int(t < dummy or t in (50, 51)) for t in range(len(censor))
    ]


def test_the_sidecar_and_dataset_description(deriv, tmp_path):
    out = tmp_path / "qc"
    command = [str(BIN / "smoothcli"), "bids", str(deriv), str(out), "participant"]
    done = subprocess.run([*command, "--participant-label", "01"], capture_output=True)
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / "dataset_description.json").read_text())
    assert doc["DatasetType"] == "derivative" and doc["BIDSVersion"]
    made = doc["GeneratedBy"][0]
    assert made["Name"] == "smoothcli" and made["Version"]
    assert made["Command"] == shlex.join(["smoothcli", *command[1:], "--participant-label", "01"])
    assert doc["SourceDatasets"][0]["URL"] == deriv.resolve().as_uri()
    assert doc["DatasetLinks"]["preprocessed"] == deriv.resolve().as_uri()
    side = json.loads((out / "sub-01/func/sub-01_task-rest_desc-dvars_timeseries.json").read_text())
    assert side["Sources"] == [
        f"bids:preprocessed:sub-01/func/sub-01_task-rest_{d}"
        for d in (
            "desc-preproc_bold.nii.gz",
            "desc-brain_mask.nii.gz",
            "desc-confounds_timeseries.tsv",
        )
    ]
    header = (out / "sub-01/func/sub-01_task-rest_desc-dvars_timeseries.tsv").read_text()
    for column in header.splitlines()[0].split("\t"):
        assert side[column]["Description"]  # every column described
    assert "sub" not in side and "task" not in side  # entities are in the name
    assert "array" not in side and "fMRIPrep folder" in side["path"]["Description"]


def test_pybids_reads_the_derivatives_back_with_their_entities(deriv, tmp_path):
    from bids import layout as bidslayout

    out = tmp_path / "qc"
    assert bids(deriv, out, "participant").exit_code == 1
    assert bids(deriv, out, "group").exit_code == 1
    layout = bidslayout.BIDSLayout(out, validate=False, is_derivative=True)
    assert sorted(layout.get_subjects()) == ["01", "02", "03", "04"]
    assert sorted(layout.get_tasks()) == ["nback", "rest"]
    tables = layout.get(desc="dvars", suffix="timeseries", extension=".tsv")
    assert len(tables) == 5
    for f in tables:
        ents = f.get_entities()
        source = TREE / f.relpath.replace("desc-dvars_timeseries.tsv", "desc-preproc_bold.nii.gz")
        assert source.exists(), f.relpath
        assert ents["datatype"] == "func" and ents["subject"] in f.filename
        assert f.get_metadata()["Sources"][0].endswith(source.name)
    assert len(layout.get(desc="censor", suffix="timeseries")) == 5
    assert layout.get(subject="03", session="1", run=2, desc="dvars", extension=".tsv")
    # and as the derivatives of a raw dataset, as fMRIPrep's outputs are read
    raw = tmp_path / "raw"
    (raw / "sub-01").mkdir(parents=True)
    (raw / "dataset_description.json").write_text('{"Name": "raw", "BIDSVersion": "1.9.0"}')
    whole = bidslayout.BIDSLayout(raw, validate=False, derivatives=str(out))
    assert len(whole.get(desc="dvars", extension=".tsv")) == 5


def test_rerunning_a_participant_replaces_only_its_files(deriv, tmp_path):
    out = tmp_path / "qc"
    assert bids(deriv, out, "participant", "--participant-label", "01", "02").exit_code == 0
    others = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "sub-02").rglob("*.*")}
    others[out / "sub-02.html"] = ((out / "sub-02.html").read_bytes(), 0)
    first = (out / "sub-01/func/sub-01_task-rest_desc-dvars_timeseries.tsv").read_text()
    result = bids(deriv, out, "participant", "--participant-label", "01", "--fail-above", "0.9")
    assert result.exit_code == 1  # a lower threshold: now sub-01 fails
    again = (out / "sub-01/func/sub-01_task-rest_desc-dvars_timeseries.tsv").read_text()
    assert again != first and "\tfail\t" in again
    for path, (data, mtime) in others.items():
        assert path.read_bytes() == data
        assert not mtime or path.stat().st_mtime_ns == mtime
    assert bids(deriv, out, "group", "--no-reports").exit_code == 1


def test_jobs_2_writes_the_same_tables(deriv, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert bids(deriv, one, "participant", "--no-reports").exit_code == 1
    assert bids(deriv, two, "participant", "--no-reports", "--jobs", "2").exit_code == 1
    tables = sorted(p.relative_to(one) for p in one.rglob("*.tsv"))
    assert len(tables) == 10
    for rel in tables:
        assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel


def test_a_run_that_cannot_be_read_is_an_error_row_and_exit_3(deriv, tmp_path):
    bad = deriv / "sub-02/func/sub-02_task-rest_desc-preproc_bold.nii.gz"
    bad.write_bytes(bad.read_bytes()[:2000])
    out = tmp_path / "qc"
    result = bids(deriv, out, "participant", "--participant-label", "02")
    assert result.exit_code == 3, result.stderr
    rows = read_tsv(out / "sub-02/func/sub-02_task-rest_desc-dvars_timeseries.tsv")
    assert rows["status"].tolist() == ["error"] and rows["error"][0]
    assert not (out / "sub-02/func/sub-02_task-rest_desc-censor_timeseries.tsv").exists()
    assert bids(deriv, out, "participant", "--participant-label", "01").exit_code == 0
    result = bids(deriv, out, "group")
    assert result.exit_code == 3
    group = read_tsv(out / "group_bold.tsv")
    assert group.set_index("bids_name")["status"].to_dict() == {
        "sub-01_task-rest_bold": "ok",
        "sub-02_task-rest_bold": "error",
    }


# -- group -----------------------------------------------------------------------------------


def test_group_gives_one_row_per_run_with_the_right_verdicts(deriv, tmp_path):
    out = tmp_path / "qc"
    assert bids(deriv, out, "participant", "--participant-label", "01", "02").exit_code == 0
    assert bids(deriv, out, "participant", "--participant-label", "sub-03", "04").exit_code == 1
    result = bids(deriv, out, "group")
    assert result.exit_code == 1, result.stderr
    assert "5 run(s): 2 failed" in result.stderr
    group = read_tsv(out / "group_bold.tsv")
    names = [f"{stem}_bold" for stem in RUN_NAMES]
    assert group["bids_name"].tolist() == names
    assert list(group.columns[:6]) == ["bids_name", "sub", "ses", "task", "run", "dvars_nstd"]
    assert {"dvars_nstd_max", "dvars_vstd_max_frame", "fd_max", "frames"} <= set(group.columns)
    verdicts = dict(zip(group["bids_name"], group["verdict"], strict=True))
    assert verdicts == {n: "fail" if n[:-5] in FAILING else "pass" for n in names}
    assert group["sub"].tolist() == ["01", "02", "03", "03", "04"]  # labels stay strings
    assert group["task"].tolist() == ["rest"] * 4 + ["nback"]
    side = json.loads((out / "group_bold.json").read_text())
    for column in group.columns:
        assert side[column]["Description"], column
    assert side["Sources"][0] == "bids::sub-01/func/sub-01_task-rest_desc-dvars_timeseries.tsv"
    spike = group.set_index("bids_name").loc["sub-03_ses-1_task-rest_run-1_bold"]
    assert spike["n_fail"] == 2 and spike["dvars_std_max_frame"] == 50
    assert "frames 50, 51" in spike["reason"]
    motion = group.set_index("bids_name").loc["sub-03_ses-1_task-rest_run-2_bold"]
    assert motion["n_fail"] == 3 and motion["fd_max"] > 0.5


def test_group_statistics_equal_dvars_summary(deriv, tmp_path):
    out = tmp_path / "qc"
    args = ["--fail-above", "1.5", "--fd-above", "0.5", "--max-fail-fraction", "0.03"]
    assert bids(deriv, out, "participant", *args, "--no-reports").exit_code == 1
    assert bids(deriv, out, "group", "--no-reports").exit_code == 1
    summary = tmp_path / "summary.tsv"
    runs = sorted(deriv.rglob("*_desc-preproc_bold.nii.gz"), key=lambda p: p.parts)
    opts = ["--mask", "auto", "--confounds", "auto", *args, "--summary", "-o", summary]
    assert cli("dvars", *runs, *opts).exit_code == 1
    want = read_tsv(summary)
    got = read_tsv(out / "group_bold.tsv")
    assert len(got) == len(want) == 5
    numbers = (
        "dvars_nstd", "dvars_std", "dvars_vstd", "dvars_std_max", "dvars_std_max_frame",
        "fd_mean", "fd_max", "dummy", "n_fail", "fail_fraction",
    )  # fmt: skip
    for column in numbers:
        assert got[column].tolist() == want[column].tolist(), column  # to the last bit
    assert got["verdict"].tolist() == want["check"].tolist()
    assert got["reason"].fillna("").tolist() == want["reason"].fillna("").tolist()
    # only the motion run has more than 3 % of its frames failed
    assert got["verdict"].tolist() == ["pass", "pass", "pass", "fail", "pass"]


def test_pages_rank_the_failed_runs_first(deriv, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "qc"
    assert bids(deriv, out, "participant").exit_code == 1
    assert bids(deriv, out, "group").exit_code == 1
    page = (out / "group_bold.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "smoothcli DVARS QC: group" in page
    first_fail = min(page.index(f"{stem}_desc-preproc_bold") for stem in FAILING)
    first_pass = page.index("sub-01_task-rest_desc-preproc_bold")
    assert first_fail < first_pass
    sub03 = (out / "sub-03.html").read_text()
    assert "sub-03_ses-1_task-rest_run-2" in sub03 and "sub-01_task" not in sub03
    assert "<svg" in sub03  # the traces (and the failed runs' carpets) are drawn


# -- what is refused -------------------------------------------------------------------------


def test_a_folder_that_is_not_fmripreps_output_is_a_usage_error(deriv, tmp_path):
    raw = tmp_path / "raw"
    (raw / "sub-01/func").mkdir(parents=True)
    (raw / "dataset_description.json").write_text('{"Name": "x", "DatasetType": "raw"}')
    (raw / "sub-01/func/sub-01_task-rest_bold.nii.gz").write_bytes(REAL.read_bytes())
    result = bids(raw, tmp_path / "o1", "participant")
    assert result.exit_code == 2
    assert "raw BIDS dataset, not derivatives" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = bids(empty, tmp_path / "o2", "participant")
    assert result.exit_code == 2 and "looked for sub-<label>/[ses-<label>/]func/" in result.stderr
    result = bids(tmp_path / "nowhere", tmp_path / "o3", "participant")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    for args in (["--participant-label", "09"], ["--participant-label", "01", "--task", "x"]):
        result = bids(deriv, tmp_path / "o4", "participant", *args)
        assert result.exit_code == 2, args
        assert "looked for" in result.stderr and "Traceback" not in result.output
    assert (
        "sub-09" in bids(deriv, tmp_path / "o4", "participant", "--participant-label", "09").stderr
    )
    result = bids(deriv, tmp_path / "o5", "participant", "--participant-label", "0/1")
    assert result.exit_code == 2 and "not a sub label" in result.stderr
    assert not any((tmp_path / f"o{i}").exists() for i in (3, 4, 5))


def test_outputs_never_overwrite_the_input_or_a_users_file(deriv, tmp_path):
    result = bids(deriv, deriv, "participant")
    assert result.exit_code == 2 and "OUTPUT_DIR is DERIV_DIR" in result.stderr
    out = tmp_path / "qc"
    out.mkdir()
    (out / "sub-01.html").write_text("my notes\n")
    result = bids(deriv, out, "participant", "--participant-label", "01")
    assert result.exit_code == 2 and "smoothcli did not write it" in result.stderr
    assert (out / "sub-01.html").read_text() == "my notes\n"
    assert not (out / "sub-01").exists() or not any((out / "sub-01").rglob("*.tsv"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "dataset_description.json").write_text('{"Name": "mine"}')
    result = bids(deriv, other, "participant", "--participant-label", "01", "--no-reports")
    assert result.exit_code == 2
    assert json.loads((other / "dataset_description.json").read_text()) == {"Name": "mine"}


@posix_only
def test_a_link_in_the_output_folder_is_not_written_through(deriv, tmp_path):
    out, elsewhere = tmp_path / "qc", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "sub-01")
    result = bids(deriv, out, "participant", "--participant-label", "01")
    assert result.exit_code == 2 and "symbolic link" in result.stderr
    assert list(elsewhere.iterdir()) == []
    os.unlink(out / "sub-01")
    (out / "sub-01/func").mkdir(parents=True)
    victim = tmp_path / "victim.tsv"
    victim.write_text("keep\n")
    os.symlink(victim, out / "sub-01/func/sub-01_task-rest_desc-censor_timeseries.tsv")
    result = bids(deriv, out, "participant", "--participant-label", "01")
    assert result.exit_code == 2 and victim.read_text() == "keep\n"


def test_group_before_participant_is_a_usage_error(deriv, tmp_path):
    result = bids(deriv, tmp_path / "qc", "group")
    assert result.exit_code == 2
    assert "run 'participant' first" in result.stderr
    assert not (tmp_path / "qc").exists()


def test_a_run_gone_from_deriv_dir_leaves_no_stale_outputs(deriv, tmp_path):
    """Re-running a participant replaces its files: the tables of a run no longer in
    DERIV_DIR go (unless a filter chose some of its runs only)."""
    out = tmp_path / "qc"
    assert bids(deriv, out, "participant", "--participant-label", "03").exit_code == 1
    func = out / "sub-03/ses-1/func"
    gone = "sub-03_ses-1_task-rest_run-2"
    assert (func / f"{gone}_desc-dvars_timeseries.tsv").exists()
    for f in (deriv / "sub-03/ses-1/func").glob(f"{gone}_*"):
        f.unlink()
    args = ["participant", "--participant-label", "03", "--task", "rest"]
    assert bids(deriv, out, *args).exit_code == 1  # a filter: nothing removed
    assert (func / f"{gone}_desc-censor_timeseries.tsv").exists()
    assert bids(deriv, out, "participant", "--participant-label", "03").exit_code == 1
    assert sorted(p.name for p in func.iterdir()) == sorted(
        f"sub-03_ses-1_task-rest_run-1_desc-{d}" for d in (
            "censor_timeseries.tsv", "dvars_timeseries.json", "dvars_timeseries.tsv"
        )
    )  # fmt: skip
    assert bids(deriv, out, "group", "--no-reports").exit_code == 1
    assert len(read_tsv(out / "group_bold.tsv")) == 1


def test_another_deriv_dir_into_the_same_output_is_refused(deriv, tmp_path):
    out = tmp_path / "qc"
    assert bids(deriv, out, "participant", "--participant-label", "01").exit_code == 0
    other = Path(shutil.copytree(TREE, tmp_path / "other"))
    result = bids(other, out, "participant", "--participant-label", "02")
    assert result.exit_code == 2 and "another fMRIPrep folder" in result.stderr
    assert not (out / "sub-02").exists()


@posix_only
def test_symbolic_links_in_deriv_dir_are_said_and_followed_on_request(deriv, tmp_path):
    """DataLad's annexed files are links: passed over with a warning, read with --follow."""
    func = deriv / "sub-02/func"
    store = tmp_path / "annex"
    store.mkdir()
    for f in func.iterdir():
        f.rename(store / f.name)
        os.symlink(store / f.name, f)
    out = tmp_path / "qc"
    result = bids(deriv, out, "participant", "--no-reports")
    assert result.exit_code == 1
    assert "symbolic link(s)" in result.stderr and "--follow" in result.stderr
    assert not (out / "sub-02").exists()
    result = bids(deriv, out, "participant", "--no-reports", "--follow")
    assert result.exit_code == 1 and "symbolic link" not in result.stderr
    assert (out / "sub-02/func/sub-02_task-rest_desc-dvars_timeseries.tsv").exists()


def test_odd_calls_are_one_line_errors_and_make_nothing(deriv, tmp_path):
    out = tmp_path / "qc"
    result = bids(deriv, out, "participant", "--fail-above", "abc")
    assert result.exit_code == 2 and "'abc' is not a number" in result.stderr
    assert not out.exists()  # the options are checked before any folder is made
    out.mkdir()
    result = bids(tmp_path / "nowhere", out, "group")
    assert result.exit_code == 2 and "run 'participant' first" in result.stderr
    assert "Traceback" not in result.output
    result = bids(deriv, out, "participant", "--participant-label", "01", "sub-01")
    assert result.exit_code == 0 and "1 input(s)" in result.stderr  # one label, said twice


def test_a_stray_table_does_not_stop_a_participant(deriv, tmp_path):
    out = tmp_path / "qc"
    assert bids(deriv, out, "participant", "--participant-label", "01").exit_code == 0
    stray = out / "sub-01/func/sub-01_task-x_desc-dvars_timeseries.tsv"
    stray.write_text("path\tframe\tstatus\nx\tnot a number\tok\n")
    result = bids(deriv, out, "participant", "--participant-label", "01")
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.output and (out / "sub-01.html").exists()
    assert json.loads((out / "dataset_description.json").read_text())["DatasetType"]


@posix_only
def test_a_run_skipped_as_a_link_keeps_its_earlier_outputs(deriv, tmp_path):
    func = deriv / "sub-01/func"
    run = func / "sub-01_task-rest_desc-preproc_bold.nii.gz"
    store = tmp_path / "annex"
    store.mkdir()
    run.rename(store / run.name)
    os.symlink(store / run.name, run)
    out = tmp_path / "qc"
    assert bids(deriv, out, "participant", "--participant-label", "01", "--follow").exit_code == 0
    table = out / "sub-01/func/sub-01_task-rest_desc-dvars_timeseries.tsv"
    before = table.read_bytes()
    result = bids(deriv, out, "participant", "--participant-label", "01")
    assert result.exit_code == 2 and "--follow" in result.stderr  # its only run is a link
    assert table.read_bytes() == before
