"""``score --summary`` (one row per input) against pandas over the per-element rows, and the
``frame`` column of per-frame scores."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pandas as pd
import pytest

from .conftest import ROUND_TRIP, SHARED_DATA, score
from .fmriprep_tree import make_fmriprep_tree

PER_FRAME = ["--scalarise", "rms(axis=space)"]


run = score


def table(text: str) -> pd.DataFrame:
    return pd.read_csv(
        io.StringIO(text),
        sep="\t",
        na_values="n/a",
        keep_default_na=False,
        **ROUND_TRIP,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_fmriprep_tree(tmp_path_factory.mktemp("derivatives"))


def test_summary_equals_pandas_groupby_of_the_per_frame_rows(tree):
    args = [tree["root"], "--include", "*desc-preproc_bold*", "--mask", "auto", *PER_FRAME]
    per_frame = run(*args, "--fail-above", "45")
    summary = run(*args, "--fail-above", "45", "--summary")
    assert per_frame.exit_code == summary.exit_code == 1, summary.output
    frames, rows = table(per_frame.stdout), table(summary.stdout)
    grouped = frames.groupby("path", sort=False)
    want = grouped["score"].agg(["mean", "median", "max", "min", "idxmax"])
    assert list(rows["path"]) == list(want.index) == [str(p) for p in tree["runs"]]
    for stat in ("mean", "median"):  # of the float32 scores; the table holds their shortest text
        np.testing.assert_allclose(rows[stat], want[stat], rtol=1e-7)
    np.testing.assert_array_equal(rows["max"], want["max"])
    np.testing.assert_array_equal(rows["min"], want["min"])
    np.testing.assert_array_equal(rows["argmax"], frames["index"][want["idxmax"]])
    np.testing.assert_array_equal(rows["frame"], frames["frame"][want["idxmax"]])
    n_fail = grouped["check"].agg(lambda c: int((c == "fail").sum()))
    np.testing.assert_array_equal(rows["n_fail"], n_fail)
    assert (rows["check"] == np.where(n_fail > 0, "fail", "pass")).all()
    assert (n_fail > 0).any() and (n_fail < grouped.size()).all()  # a real test of the threshold


def test_frames_are_where_each_difference_ends(tmp_path):
    data = np.arange(24.0).reshape(8, 3) ** 2  # frames x columns: a CSV's time is its rows
    path = tmp_path / "series.csv"
    pd.DataFrame(data, columns=list("abc")).to_csv(path, index=False)
    for extra, shift in (([], 1), (["-n", "2"], 2), (["--pad-value", "0"], 0)):
        result = run(path, *PER_FRAME, *extra)
        assert result.exit_code == 0, result.output
        rows = table(result.stdout)
        assert list(rows["frame"]) == [i + shift for i in rows["index"]]
    per_column = table(run(path, "--scalarise", "vnorm(p=2, axis=time)").stdout)
    assert list(per_column["index"]) == ["a", "b", "c"]
    assert per_column["frame"].isna().all()  # not along time
    single = table(run(path).stdout)
    assert single["frame"].isna().all()


def test_a_nifti_run_per_frame_is_numbered_like_fmriprep_confounds():
    bold = SHARED_DATA / "fmri2.nii.gz"
    rows = table(run(bold, *PER_FRAME).stdout)
    assert list(rows["frame"]) == list(range(1, 40))  # 40 frames: 39 differences, frame 1..39


def test_a_nan_in_the_scores_shows_in_the_summary(tmp_path):
    data = np.ones((6, 2))
    data[3, 1] = np.nan
    path = tmp_path / "gap.csv"
    pd.DataFrame(data, columns=["a", "b"]).to_csv(path, index=False)
    result = run(path, *PER_FRAME, "--summary", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    row = pd.read_json(io.StringIO(result.stdout), lines=True).iloc[0]
    assert all(math.isnan(row[s]) or row[s] is None for s in ("mean", "median", "max", "min"))
    assert row["argmax"] == 2 and row["frame"] == 3  # the first NaN: the difference 2 -> 3


def test_a_single_score_summary_is_the_score(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.array([0.0, 1.0, 3.0]))
    (row,) = csv.DictReader(io.StringIO(run(path, "--summary").stdout), delimiter="\t")
    assert row["mean"] == row["median"] == row["max"] == row["min"] == "3.0"
    assert row["argmax"] == "n/a" and row["status"] == "ok"
