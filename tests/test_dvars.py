"""``smoothcli dvars`` against nipype's ``compute_dvars`` golden values (tests/data/dvars,
made once with nipype 1.11.0; see its README), a float64 NumPy reference, and the shared
batch machinery (--mask auto, --summary, --jobs, exit statuses)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import smoothcli
from smoothcli.metrics._select import kth_values, middle
from smoothcli.metrics._series import gather
from smoothcli.metrics.dvars import dvars as compute_dvars
from smoothcli.sources import open_path
from smoothcli.sources.nifti import load_mask

from .conftest import ROOT, ROUND_TRIP, SHARED_DATA, dvars, rows_of
from .fmriprep_tree import make_fmriprep_tree
from .reference import ref_dvars

DATA = ROOT / "tests" / "data" / "dvars"
GOLDEN = json.loads((DATA / "golden.json").read_text())
IMAGES = {
    "fmri2": (SHARED_DATA / "fmri2.nii.gz", DATA / "fmri2_mask.nii.gz"),
    "synth": (DATA / "synth_bold.nii.gz", DATA / "synth_mask.nii.gz"),
}
MEASURES = ("dvars", "std_dvars", "vx_std_dvars")
#: the issue's agreement with nipype (which works in float32 in places)
RTOL = 5e-5


run = dvars


def golden_table(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name, sep="\t", na_values="n/a", **ROUND_TRIP)


def _cases():
    for case in GOLDEN["cases"]:
        yield pytest.param(case, id=Path(case.get("file") or case["image"]).stem)


def _options(case: dict) -> list[str]:
    args = []
    if case["intensity_normalization"] == 0:
        args += ["--intensity-normalization", "0"]
    if not case["remove_zerovariance"]:
        args += ["--keep-zero-variance"]
    return args


@pytest.mark.parametrize("case", list(_cases()))
def test_per_frame_values_equal_nipype(case):
    bold, mask = IMAGES[case["image"]]
    result = run(bold, "--mask", mask, *_options(case))
    if case["status"] != "ok":  # nipype raised: zero-variance voxels kept
        assert result.exit_code == 3
        (row,) = rows_of(result.stdout)
        assert row["status"] == "error"
        zero = case["zero_variance_voxels"]
        assert f"{zero} of {case['mask_voxels']} voxels have a robust SD" in row["error"]
        return
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    golden = golden_table(case["file"])
    assert [int(r["frame"]) for r in rows] == list(golden["frame"])
    assert all(rows[0][m] == "n/a" for m in MEASURES)  # frame 0 has no difference
    for m in MEASURES:
        got = np.array([float(r[m]) for r in rows[1:]])
        np.testing.assert_allclose(got, golden[m][1:].to_numpy(), rtol=RTOL)
    assert {r["voxels"] for r in rows} == {str(case["voxels_used"])}
    assert {r["dropped"] for r in rows} == {str(case["mask_voxels"] - case["voxels_used"])}
    if case["intensity_normalization"]:
        assert float(rows[0]["median"]) == float(case["masked_median"])
    else:
        assert rows[0]["median"] == "n/a"


@pytest.mark.parametrize("image", ["fmri2", "synth"])
def test_summary_equals_the_interface_averages_and_groupby_of_frames(image):
    """With every frame counted (--dummy-scans 0), the means are nipype's averages."""
    bold, mask = IMAGES[image]
    per_frame = run(bold, "--mask", mask, "--dummy-scans", "0")
    summary = run(bold, "--mask", mask, "--summary", "--dummy-scans", "0")
    assert per_frame.exit_code == summary.exit_code == 0, summary.output
    (row,) = rows_of(summary.stdout)
    interface = GOLDEN["interface"][image]
    averages = (("dvars_nstd", "avg_nstd"), ("dvars_std", "avg_std"), ("dvars_vstd", "avg_vxstd"))
    for iqm, key in averages:
        assert float(row[iqm]) == pytest.approx(float(interface[key]), rel=RTOL)
    frames = pd.read_csv(io.StringIO(per_frame.stdout), sep="\t", na_values="n/a", **ROUND_TRIP)
    stats = frames.groupby("path")[list(MEASURES)].agg(["mean", "max", "idxmax"])
    for column, iqm in zip(MEASURES, ("dvars_nstd", "dvars_std", "dvars_vstd"), strict=True):
        assert float(row[iqm]) == pytest.approx(stats[(column, "mean")].iloc[0], rel=1e-12)
        assert float(row[f"{iqm}_max"]) == stats[(column, "max")].iloc[0]
        assert int(row[f"{iqm}_max_frame"]) == frames["frame"][stats[(column, "idxmax")].iloc[0]]


def test_the_spike_frame_of_the_synthetic_run_is_the_max_and_fails_the_threshold():
    bold, mask = IMAGES["synth"]
    result = run(bold, "--mask", mask, "--summary", "--fail-above", "1.5")
    assert result.exit_code == 1
    (row,) = rows_of(result.stdout)
    assert int(row["dvars_std_max_frame"]) in (37, 38)  # the spike at frame 37: 36->37, 37->38
    assert int(row["n_fail"]) == 2 and row["check"] == "fail"
    assert row["reason"] == "2 of 59 frames failed (frames 37, 38)"  # no dummy volume here
    assert f"fail: {bold}: 2 of 59 frames failed (frames 37, 38)\n" in result.stderr
    per_frame = run(bold, "--mask", mask, "--fail-above", "1.5")
    assert per_frame.exit_code == 1
    failed = [int(r["frame"]) for r in rows_of(per_frame.stdout) if r["check"] == "fail"]
    assert failed == [37, 38]
    assert "2 of 59 frames failed (frames 37, 38)" in per_frame.stderr


def test_the_scale_factor_is_applied_and_the_median_is_exact():
    """The synthetic run stores int16 with slope 0.5 and intercept 10: the median of the
    scaled values is exact from the stored ones (np.median of the float64 values)."""
    bold, mask = IMAGES["synth"]
    (item,) = open_path(str(bold), mask=load_mask(str(mask)))
    series = gather(item.source, item.time_axis)
    assert series.data.dtype == np.int16  # held as stored: the memory bound of the issue
    assert (series.slope, series.inter) == (0.5, 10.0)
    img = nib.load(bold)
    values = img.get_fdata()[np.asarray(nib.load(mask).dataobj) != 0]
    found = compute_dvars(series)
    assert found.median == np.median(values)
    want = ref_dvars(values)
    for got, ref in zip((found.dvars, found.std_dvars, found.vx_std_dvars), want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_a_table_needs_no_mask_and_matches_the_reference(tmp_path):
    rng = np.random.default_rng(3)
    data = 500 + np.cumsum(rng.normal(size=(50, 6)), axis=0)  # frames x columns
    path = tmp_path / "series.csv"
    pd.DataFrame(data, columns=list("abcdef")).to_csv(path, index=False)
    result = run(path, "--summary", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)
    dv, std, vx = ref_dvars(data.T)
    assert row["dvars_nstd"] == pytest.approx(dv.mean(), rel=1e-12)
    assert row["dvars_std"] == pytest.approx(std.mean(), rel=1e-12)
    assert row["dvars_vstd"] == pytest.approx(vx.mean(), rel=1e-12)
    assert row["voxels"] == 6 and row["shape"] == "50x6"


def test_a_nifti_run_without_a_mask_is_an_error_row_that_says_so():
    result = run(IMAGES["fmri2"][0])
    assert result.exit_code == 3
    (row,) = rows_of(result.stdout)
    assert row["status"] == "error" and "needs a brain mask" in row["error"]


def test_intensity_normalization_scales_dvars_but_not_the_standardised_ones():
    bold, mask = IMAGES["fmri2"]
    a = rows_of(run(bold, "--mask", mask).stdout)
    b = rows_of(run(bold, "--mask", mask, "--intensity-normalization", "100").stdout)
    for ra, rb in zip(a[1:], b[1:], strict=True):
        assert float(ra["dvars"]) == pytest.approx(10 * float(rb["dvars"]), rel=1e-12)
        assert float(ra["std_dvars"]) == pytest.approx(float(rb["std_dvars"]), rel=1e-12)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--intensity-normalization", "-1"], "normalization must be a finite number >= 0"),
        (["--variance-tol", "nan"], "tolerance must be a finite number >= 0"),
        (["--fail-above", "1", "--fail-below", "2"], "--fail-below 2 is above --fail-above 1"),
        (["--fail-above", "high"], "'high' is neither a number nor 'auto'"),
        (["--dummy-scans", "-1"], "--dummy-scans takes a number of frames or 'auto'"),
        (["--max-fail-fraction", "0.1"], "--max-fail-fraction needs a frame rule"),
        (["--fail-above", "1", "--max-fail-fraction", "2"], "a fraction from 0 to 1"),
        (["--fd-above", "0.5"], "--fd-above needs framewise displacement: give --confounds"),
    ],
)
def test_bad_options_are_usage_errors(args, message):
    result = run(IMAGES["fmri2"][0], *args)
    assert result.exit_code == 2
    assert message in result.stderr and "smoothcli dvars --help" in result.stderr


def test_errors_of_the_data_are_error_rows(tmp_path):
    short = tmp_path / "one.csv"
    short.write_text("a,b\n1,2\n")
    constant = tmp_path / "flat.csv"
    constant.write_text("a,b\n" + "3,3\n" * 10)
    zero = tmp_path / "zero.csv"
    zero.write_text("a,b\n" + "0,0\n0,1\n" * 5)
    result = run(short, constant, zero, "--intensity-normalization", "1000")
    assert result.exit_code == 3
    errors = [r["error"] for r in rows_of(result.stdout)]
    assert "at least 2 frames" in errors[0]
    assert "no voxel is left" in errors[1]
    assert "the median of the data is 0" in errors[2]


def test_mask_auto_on_an_fmriprep_tree_equals_the_reference(tmp_path):
    tree = make_fmriprep_tree(tmp_path / "derivatives")
    result = run(tree["root"], "--include", "*desc-preproc_bold*", "--mask", "auto", "--summary")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert [Path(r["path"]) for r in rows] == tree["runs"]
    for row, bold in zip(rows, tree["runs"], strict=True):
        mask = tree["mask_of"][bold]
        assert Path(row["mask"]) == mask
        values = nib.load(bold).get_fdata()[np.asarray(nib.load(mask).dataobj) != 0]
        dv, std, vx = ref_dvars(values)
        dummy = int(row["dummy"])  # the means are over the frames after dummy + 1
        assert float(row["dvars_nstd"]) == pytest.approx(dv[dummy:].mean(), rel=1e-10)
        assert float(row["dvars_std"]) == pytest.approx(std[dummy:].mean(), rel=1e-10)
        assert float(row["dvars_vstd"]) == pytest.approx(vx[dummy:].mean(), rel=1e-10)


def test_jobs_2_gives_the_same_bytes(tmp_path):
    bold, mask = IMAGES["fmri2"]
    one, two = tmp_path / "one.tsv", tmp_path / "two.tsv"
    args = [bold, IMAGES["synth"][0], "--mask", mask]
    a = run(*args, "-o", one)
    b = run(*args, "-o", two, "--jobs", "2")
    assert a.exit_code == b.exit_code == 3  # the synth run is not on fmri2's mask grid
    assert one.read_bytes() == two.read_bytes()
    sidecar = json.loads(one.with_suffix(".json").read_text())
    assert sidecar["Options"]["intensity_normalization"] == 1000
    assert "Standardised DVARS" in sidecar["std_dvars"]["Description"]


def test_the_library_gives_the_cli_values():
    bold, mask = IMAGES["fmri2"]
    frame = smoothcli.dvars_paths(str(bold), mask=str(mask))
    rows = rows_of(run(bold, "--mask", mask).stdout)
    assert math.isnan(frame["dvars"][0])
    np.testing.assert_array_equal(frame["dvars"][1:], [float(r["dvars"]) for r in rows[1:]])


@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.int32, np.float32, np.float64])
def test_order_statistics_are_exact(dtype):
    rng = np.random.default_rng(5)
    a = (rng.normal(0, 300, 20001)).astype(dtype)
    s = np.sort(a)
    assert kth_values(a, [0, 7, 10000, 20000]) == [s[0], s[7], s[10000], s[20000]]
    lo, hi = middle(a[:-1])  # an even count: the two middle values
    assert (float(lo) + float(hi)) / 2 == np.median(a[:-1].astype(np.float64))


@pytest.mark.parametrize("slope, inter", [(0.5, 10.0), (-0.5, 10.0), (2.0, -5000.0), (None, 0.0)])
def test_percentiles_of_stored_values_map_to_those_of_the_values(slope, inter):
    """Robust SDs come from the sorted stored values when the map to normalised values
    increases; a negative slope or median reverses the order and takes the float64 path."""
    from smoothcli.metrics._series import Series

    rng = np.random.default_rng(11)
    stored = (rng.normal(0, 30, (40, 25)) + rng.integers(-5, 900, (40, 1))).astype(np.int16)
    stored[3] = 7  # a constant voxel: dropped
    series = Series(stored, slope, inter)
    values = series.scaled(stored)
    for normalization in (1000.0, 0.0):
        found = compute_dvars(series, normalization=normalization)
        want = ref_dvars(values, normalization=normalization)
        assert found.dropped == 1
        for got, ref in zip((found.dvars, found.std_dvars, found.vx_std_dvars), want, strict=True):
            np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_cifti_and_gifti_give_dvars_over_every_brainordinate(tmp_path):
    """CIFTI-2 series (time first, read a brainordinate's series at a time) and GIFTI
    (vertices x time): no mask, every column, equal to the float64 reference."""
    from .test_formats import cifti_image, cifti_values, gifti_bytes, gifti_values, write_cifti

    cifti = write_cifti(tmp_path / "sub-01_task-rest_bold.dtseries.nii", cifti_image(frames=30))
    gifti = tmp_path / "sub-01_hemi-L_bold.func.gii"
    gifti.write_bytes(gifti_bytes())
    result = run(cifti, gifti, "--summary", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    for row, values in zip(rows, (cifti_values(cifti).T, gifti_values(gifti)), strict=True):
        dv, std, vx = ref_dvars(values)
        assert row["voxels"] + row["dropped"] == values.shape[0]
        assert row["dvars_nstd"] == pytest.approx(dv.mean(), rel=1e-10)
        assert row["dvars_std"] == pytest.approx(std.mean(), rel=1e-10)
        assert row["dvars_vstd"] == pytest.approx(vx.mean(), rel=1e-10)
