"""Batch QC of an fMRIPrep-like tree through the command line: selection, skipped images,
--mask auto, --jobs and --dask local giving the same bytes, --resume after kill -9, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from .conftest import ROOT, linked_inputs, posix_only, rows_of, score
from .fmriprep_tree import make_fmriprep_tree

SAMPLE = ROOT / "sample_data"


run = score


def entry() -> list[str]:
    exe = Path(sys.executable).with_name("smoothcli")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "smoothcli"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_fmriprep_tree(tmp_path_factory.mktemp("derivatives"))


def dvars(run_path: Path, mask_path: Path) -> np.ndarray:
    """A NumPy float64 reference: the RMS over the mask's voxels of each frame's difference."""
    data = np.asarray(nib.load(run_path).dataobj, dtype=np.float64)
    mask = np.asarray(nib.load(mask_path).dataobj) != 0
    return np.sqrt(np.mean(np.diff(data[mask], axis=1) ** 2, axis=0))


def test_a_scan_scores_only_the_4d_runs_and_counts_what_it_skipped(tree):
    result = run(tree["root"], "-v")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert [Path(r["path"]) for r in rows] == tree["runs"]
    assert all(r["status"] == "ok" for r in rows)
    assert f"{len(tree['skipped'])} skipped" in result.stderr
    for path, reason in tree["skipped"].items():  # -v lists each, with its reason
        assert f"skipped: {path}: {reason}" in result.stderr


def test_an_image_named_explicitly_is_never_skipped(tree):
    boldref = next(p for p in tree["skipped"] if p.name.endswith("_boldref.nii.gz"))
    result = run(boldref)
    assert result.exit_code == 3
    assert "no time axis" in rows_of(result.stdout)[0]["error"]


def test_include_and_mask_auto_score_every_run_with_its_own_mask(tree):
    result = run(
        tree["root"],
        "--include", "*desc-preproc_bold*",
        "--exclude", "*space-MNI*",
        "--mask", "auto",
        "--scalarise", "rms(axis=space)",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    runs = [p for p in tree["runs"] if "space-MNI" not in p.name]
    assert sorted({r["path"] for r in rows}) == sorted(str(p) for p in runs)
    for run_path in runs:
        mine = [r for r in rows if r["path"] == str(run_path)]
        assert {r["mask"] for r in mine} == {str(tree["mask_of"][run_path])}
        want = dvars(run_path, tree["mask_of"][run_path])
        got = np.array([float(r["score"]) for r in mine])
        np.testing.assert_allclose(got, want, rtol=1e-6)  # int16 data: float32 precision


def test_mask_auto_without_a_mask_is_an_error_row_naming_what_was_looked_for(tmp_path, tree):
    lonely = tmp_path / "sub-09_task-rest_desc-preproc_bold.nii.gz"
    lonely.write_bytes(tree["runs"][0].read_bytes())
    result = run(lonely, SAMPLE / "sub-01_task-rest_desc-slabs_timeseries.npy", "--mask", "auto")
    assert result.exit_code == 3
    rows = {Path(r["path"]).name: r for r in rows_of(result.stdout)}
    assert "sub-09_task-rest_desc-brain_mask" in rows[lonely.name]["error"]
    assert rows["sub-01_task-rest_desc-slabs_timeseries.npy"]["status"] == "ok"


def _batch(tree, tmp_path: Path) -> list[str]:
    bad = tmp_path / "sub-03_task-rest_desc-preproc_bold.nii.gz"
    bad.write_bytes(tree["runs"][0].read_bytes()[:3000])  # truncated
    return [str(tree["root"]), str(bad), str(tmp_path / "missing.nii.gz"), str(SAMPLE)]


def test_jobs_and_dask_give_the_same_bytes_as_one_process(tree, tmp_path):
    args = [*_batch(tree, tmp_path), "--scalarise", "rms(axis=space)", "--nan", "omit"]
    one = subprocess.run([*entry(), "score", *args], capture_output=True)
    assert one.returncode == 3, one.stderr
    assert len(rows_of(one.stdout.decode())) > 100
    two = subprocess.run([*entry(), "score", *args, "--jobs", "2"], capture_output=True)
    assert (two.returncode, two.stdout) == (3, one.stdout)
    pytest.importorskip("distributed")
    dask = subprocess.run([*entry(), "score", *args, "--dask", "local"], capture_output=True)
    assert (dask.returncode, dask.stdout) == (3, one.stdout), dask.stderr


@posix_only
def test_resume_after_kill_9_ends_with_each_input_once(tree, tmp_path):
    inputs = [str(tree["root"]), str(SAMPLE)]
    whole = tmp_path / "whole.tsv"
    assert run(*inputs, "-o", whole).exit_code == 0
    target = tmp_path / "resumed.tsv"
    proc = subprocess.Popen(
        [*entry(), "score", *inputs, "-o", str(target), "--resume"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:  # kill once a few rows are in
        if target.exists() and target.read_text().count("\n") >= 4:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    again = run(*inputs, "-o", target, "--resume")
    assert again.exit_code == 0, again.output
    assert target.read_text() == whole.read_text()
    changed = run(*inputs, "-o", target, "--resume", "-n", "2")
    assert changed.exit_code == 2 and "other options" in changed.stderr


def _busy_batch(tmp_path: Path, count: int) -> tuple[subprocess.Popen, list[int]]:
    """A ``--jobs 2`` batch with minutes of work, once its two workers are busy; its
    children. Each input is scored once (links, not repeats of one path)."""
    inputs = linked_inputs(tmp_path, (64, 1_000_000), count)
    proc = subprocess.Popen(
        [*entry(), "score", *inputs, "--jobs", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    children: list[int] = []
    while time.time() < deadline and len(children) < 2:  # the workers have started
        time.sleep(0.2)
        children = _children(proc.pid)
    time.sleep(2)  # and are busy
    return proc, children


@posix_only
def test_ctrl_c_with_jobs_exits_130_and_leaves_no_worker(tree, tmp_path):
    proc, children = _busy_batch(tmp_path, 200)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    time.sleep(0.5)
    assert children and not [pid for pid in children if _alive(pid)]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.split(")")[-1].split()[0] != "Z"  # a zombie is gone


def test_resume_redoes_a_run_whose_mask_changed_and_keeps_each_input_once(tree, tmp_path):
    import shutil

    root = tmp_path / "tree"
    shutil.copytree(tree["root"], root)
    target = tmp_path / "dvars.tsv"
    args = ["--include", "*desc-preproc_bold*", "--mask", "auto", "-o", target, "--resume"]
    first = run(root, *args)
    assert first.exit_code == 0, first.output
    before = target.read_text()
    # the same inputs spelled another way: nothing is scored again, nothing doubled
    again = run(f"{tmp_path}/./tree", *args)
    assert again.exit_code == 0 and target.read_text() == before
    assert "6 already in" in again.stderr
    # a mask that changes: its run is scored again, with the new mask
    run_path = next(p for p in tree["runs"] if "sub-01_task-rest_desc" in p.name)
    mask = root / tree["mask_of"][run_path].relative_to(tree["root"])
    data = nib.load(mask)
    flipped = np.asarray(data.dataobj).copy()
    flipped[:2] = 1 - flipped[:2]
    nib.save(nib.Nifti1Image(flipped, data.affine, data.header), mask)
    third = run(root, *args)
    assert third.exit_code == 0, third.output
    rows = rows_of(target.read_text())
    assert len(rows) == len(rows_of(before))  # each input once
    assert rows != rows_of(before)  # and that run's rows are new


def test_a_resumed_run_still_exits_3_for_error_rows_already_in_the_file(tmp_path):
    target = tmp_path / "scores.tsv"
    args = [SAMPLE, tmp_path / "missing.npy", "-o", target, "--resume"]
    assert run(*args).exit_code == 3
    again = run(*args)
    assert again.exit_code == 3, again.output  # nothing scored, but the file holds an error
    assert "5 already in" in again.stderr


def test_kill_9_of_smoothcli_takes_its_workers_with_it(tmp_path):
    proc, children = _busy_batch(tmp_path, 100)
    proc.kill()
    proc.communicate()
    deadline = time.time() + 10
    while time.time() < deadline and [pid for pid in children if _alive(pid)]:
        time.sleep(0.1)
    assert children and not [pid for pid in children if _alive(pid)]
