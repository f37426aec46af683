"""Selection on a real fMRIPrep-like tree: what a directory scan finds and skips (with the
reasons), what --include/--exclude select, which mask --mask auto pairs with each run; the
glob translator; the header-only probe."""

from __future__ import annotations

import gzip
import os
import re
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from smoothcli._glob import GlobError, compile_glob
from smoothcli.discover import Discovery, Unlisted, discover
from smoothcli.pairing import MaskPairing, bids_name, pair_mask
from smoothcli.sources.probe import time_series_problem

from .conftest import posix_only
from .fmriprep_tree import MASK_REASON, MNI, make_fmriprep_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> dict:
    return make_fmriprep_tree(tmp_path_factory.mktemp("derivatives") / "fmriprep")


def rel(tree: dict, paths) -> list[str]:
    return [str(Path(p).relative_to(tree["root"])) for p in paths]


def test_a_scan_keeps_the_4d_runs_and_skips_the_rest_with_reasons(tree):
    found = discover([str(tree["root"])])
    assert isinstance(found, Discovery)
    assert found.inputs == [str(p) for p in tree["runs"]]
    assert found.skipped == [(str(p), why) for p, why in tree["skipped"].items()]
    assert rel(tree, found.inputs) == [
        "sub-01/func/sub-01_task-rest_desc-preproc_bold.nii.gz",
        f"sub-01/func/sub-01_task-rest_{MNI}_desc-preproc_bold.nii.gz",
        "sub-02/ses-1/func/sub-02_ses-1_task-rest_run-1_desc-preproc_bold.nii.gz",
        f"sub-02/ses-1/func/sub-02_ses-1_task-rest_run-1_{MNI}_desc-preproc_bold.nii.gz",
        "sub-02/ses-1/func/sub-02_ses-1_task-rest_run-2_desc-preproc_bold.nii.gz",
        "sub-02/ses-2/func/sub-02_ses-2_task-rest_desc-preproc_bold.nii.gz",
    ]
    reasons = {rel(tree, [p])[0]: why for p, why in found.skipped}
    assert reasons["sub-01/anat/sub-01_desc-preproc_T1w.nii.gz"] == "not a time series: a 3D image"
    assert reasons["sub-01/func/sub-01_task-rest_boldref.nii.gz"] == "not a time series: a 3D image"
    sbref = "sub-02/ses-1/func/sub-02_ses-1_task-rest_run-1_sbref.nii.gz"
    assert reasons[sbref] == "not a time series: 4D with one frame"
    for name in ("sub-01_dseg", "sub-01_label-GM_probseg", "sub-01_desc-brain_mask"):
        assert reasons[f"sub-01/anat/{name}.nii.gz"] == MASK_REASON
    assert reasons["sub-01/func/sub-01_task-rest_desc-brain_mask.nii.gz"] == MASK_REASON
    assert len(reasons) == 16  # 5 x 3D, 1 x one frame, 10 masks and segmentations
    # the two subjects really are on different grids
    assert {tree["shape"][p][:3] for p in tree["runs"]} == {(10, 10, 18), (12, 12, 16)}


def test_explicit_files_are_never_skipped_nor_filtered(tree):
    boldref = tree["root"] / "sub-01" / "func" / "sub-01_task-rest_boldref.nii.gz"
    mask = tree["mask_of"][tree["runs"][0]]
    found = discover([str(boldref), str(mask), "-"], exclude=["*"], include=["nothing"])
    assert found.inputs == [str(boldref), str(mask), "-"] and found.skipped == []


def test_old_callers_can_still_iterate_over_the_inputs(tree):
    found = discover([str(tree["root"] / "sub-01")])
    assert list(found) == found.inputs == [str(p) for p in tree["runs"][:2]]


def select(tree: dict, include=(), exclude=()) -> list[str]:
    found = discover([str(tree["root"])], include=include, exclude=exclude)
    return [Path(p).name for p in found.inputs]


def test_include_and_exclude(tree):
    names = [p.name for p in tree["runs"]]
    assert select(tree, include=["*desc-preproc_bold*"]) == names
    assert select(tree, include=[f"*{MNI}*"]) == [n for n in names if MNI in n]
    # several includes are alternatives; an exclude wins
    assert select(tree, include=["*run-1*", "sub-01/**"], exclude=[f"*{MNI}*"]) == [
        "sub-01_task-rest_desc-preproc_bold.nii.gz",
        "sub-02_ses-1_task-rest_run-1_desc-preproc_bold.nii.gz",
    ]
    # a glob with a '/' is anchored at the folder given; '**' crosses folders
    assert select(tree, include=["sub-02/**/func/*_desc-preproc_bold.nii.gz"]) == names[2:]
    assert select(tree, include=["ses-*/func/*"]) == []
    assert select(tree, include=["**/ses-2/**"]) == names[5:]
    # a glob that matches a folder matches what it holds; a trailing '/': folders only
    assert select(tree, exclude=["sub-02"]) == names[:2]
    assert select(tree, exclude=["ses-1/"]) == names[:2] + names[5:]
    assert (
        select(tree, include=["sub-0[!1]"], exclude=["*run-[12]_desc*"]) == names[3:4] + names[5:]
    )
    assert select(tree, include=["*_{run-2,ses-2_task-rest}_desc-preproc_bold.nii.gz"]) == [
        names[4],
        names[5],
    ]
    # matched against the path relative to the folder given, not the whole path
    assert select(tree, include=[f"{tree['root'].name}/**"]) == []
    sub02 = discover([str(tree["root"] / "sub-02")], include=["ses-2/**"]).inputs
    assert [Path(p).name for p in sub02] == names[5:]


def test_selection_happens_before_skipping(tree):
    found = discover([str(tree["root"])], include=["sub-01/func/*"], exclude=[f"*{MNI}*"])
    assert rel(tree, found.inputs) == ["sub-01/func/sub-01_task-rest_desc-preproc_bold.nii.gz"]
    assert rel(tree, (p for p, _ in found.skipped)) == [
        "sub-01/func/sub-01_task-rest_boldref.nii.gz",
        "sub-01/func/sub-01_task-rest_desc-brain_mask.nii.gz",
    ]


@posix_only
def test_an_excluded_folder_is_not_entered(tmp_path):
    (tmp_path / "keep").mkdir()
    np.save(tmp_path / "keep" / "a.npy", np.arange(3.0))
    (tmp_path / "work").mkdir()
    np.save(tmp_path / "work" / "b.npy", np.arange(3.0))
    (tmp_path / "work").chmod(0o000)
    try:
        found = discover([str(tmp_path)], exclude=["work"])
        assert found.inputs == [str(tmp_path / "keep" / "a.npy")]
        assert not any(isinstance(p, Unlisted) for p in found.inputs)
    finally:
        (tmp_path / "work").chmod(0o755)


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("*.nii.gz", "a.nii.gz", True),
        ("*.nii.gz", "a/b/c.nii.gz", True),  # no '/': a name at any depth
        ("*.nii", "a.nii.gz", False),  # the whole name
        ("a/*.npy", "a/b/c.npy", False),  # '*' does not cross folders
        ("a/**/*.npy", "a/c.npy", True),  # '**/' may be no folder at all
        ("a/**/*.npy", "a/b/c/d.npy", True),
        ("**/c.npy", "c.npy", True),
        ("**", "a/b/c.npy", True),
        ("a/**", "a", False),  # everything under a folder, not a file named a
        ("/c.npy", "c.npy", True),  # a leading '/' anchors
        ("/c.npy", "a/c.npy", False),
        ("./a/*", "a/c.npy", True),
        ("?.npy", "ab.npy", False),
        ("a?c", "a/c", False),
        ("[ab].npy", "b.npy", True),
        ("[!ab].npy", "b.npy", False),
        ("[^ab].npy", "c.npy", True),
        ("[a-c]x", "bx", True),
        ("[]]x", "]x", True),
        ("x[/]y", "x/y", False),
        ("{a,b/c}", "b/c", True),  # alternatives may hold a '/'
        ("{a,b/c}", "x/b/c", False),  # and then anchor the glob
        ("{a,b/c}", "x/a", False),
        ("*.{npy,npz}", "d/e.npz", True),
        ("\\*.npy", "*.npy", True),
        ("\\*.npy", "a.npy", False),
        ("a.b", "axb", False),  # no regex leaks through
        ("(x)+", "(x)+", True),
        ("a**b", "a/b", False),  # '**' inside a name is '*'
        ("a**b", "axxb", True),
        ("sub-01", "sub-01/func/x.nii", True),  # a folder holds what is in it
        ("func/", "sub-01/func/x.nii", True),
        ("x.nii/", "sub-01/func/x.nii", False),  # a trailing '/': folders only
    ],
)
def test_globs(glob, path, matches):
    assert compile_glob(glob).match(path) is matches


@pytest.mark.parametrize("glob", ["[ab", "*.{npy", "a\\", "/", "{a,{b,c}}"])
def test_a_malformed_glob_is_an_error_before_anything_is_listed(glob, tmp_path):
    with pytest.raises(GlobError):
        discover([str(tmp_path / "does-not-exist")], include=[glob])
    assert issubclass(GlobError, ValueError)


def test_pair_mask_picks_each_runs_own_mask(tree):
    pairing = MaskPairing()
    for run in tree["runs"]:
        assert pair_mask(str(run), pairing) == str(tree["mask_of"][run])
        assert pair_mask(str(run)) == str(tree["mask_of"][run])
    # the masks are all different, so a wrong pairing would show in the scores
    masks = [np.asarray(nib.load(m).dataobj) for m in tree["mask_of"].values()]
    assert len({m.tobytes() for m in masks}) == len(masks)
    # relative paths stay relative
    here = os.getcwd()
    try:
        os.chdir(tree["root"] / "sub-01" / "func")
        assert pair_mask("sub-01_task-rest_desc-preproc_bold.nii.gz") == (
            "sub-01_task-rest_desc-brain_mask.nii.gz"
        )
    finally:
        os.chdir(here)


def test_pair_mask_names_what_it_looked_for(tree, tmp_path):
    func = tmp_path / "func"
    shutil.copytree(tree["root"] / "sub-02" / "ses-1" / "func", func)
    run1 = func / "sub-02_ses-1_task-rest_run-1_desc-preproc_bold.nii.gz"
    (func / "sub-02_ses-1_task-rest_run-1_desc-brain_mask.nii.gz").unlink()
    with pytest.raises(ValueError) as none:
        pair_mask(str(run1))
    assert str(none.value) == (
        "no mask for --mask auto: looked for "
        f"sub-02_ses-1_task-rest_run-1_desc-brain_mask.nii[.gz] in {func}"
    )
    # an entity absent from the image must be absent from the mask: the run-2 and MNI masks
    # are not run-1's
    run2 = func / "sub-02_ses-1_task-rest_run-2_desc-preproc_bold.nii.gz"
    shutil.copy(
        func / "sub-02_ses-1_task-rest_run-2_desc-brain_mask.nii.gz",
        func / "sub-02_ses-1_task-rest_run-2_desc-brain_mask.nii",
    )
    with pytest.raises(ValueError) as two:
        pair_mask(str(run2))
    assert str(two.value) == (
        "more than one mask for --mask auto: sub-02_ses-1_task-rest_run-2_desc-brain_mask.nii, "
        "sub-02_ses-1_task-rest_run-2_desc-brain_mask.nii.gz in "
        f"{func} all match sub-02_ses-1_task-rest_run-2_desc-brain_mask.nii[.gz]"
    )
    with pytest.raises(ValueError, match=re.escape("needs a BIDS-named image")):
        pair_mask(str(func / "bold.nii.gz"))


def test_pair_mask_entities_are_strings_and_all_must_agree(tmp_path):
    for name in (
        "sub-1_task-rest_desc-brain_mask.nii.gz",  # sub 1 is not sub 01
        "sub-01_task-rest_echo-1_desc-brain_mask.nii.gz",  # an entity the image lacks
        "sub-01_task-rest_dir-PA_desc-brain_mask.nii.gz",  # another entity, disagreeing
        "sub-01_task-rest_dir-AP_desc-brain_mask.nii.gz",
        "sub-01_task-rest_desc-aseg_mask.nii.gz",  # not a brain mask
        "sub-01_task-rest_desc-brain_mask.json",
    ):
        (tmp_path / name).write_bytes(b"")
    image = str(tmp_path / "sub-01_task-rest_dir-AP_desc-preproc_bold.nii.gz")
    assert pair_mask(image) == str(tmp_path / "sub-01_task-rest_dir-AP_desc-brain_mask.nii.gz")
    assert bids_name("sub-01_task-rest_bold.nii.gz") == ([("sub", "01"), ("task", "rest")], "bold")
    assert bids_name("bold.nii.gz") is None and bids_name("sub-01_x_bold.nii") is None


def test_pair_mask_lists_each_folder_once(tmp_path):
    runs = [tmp_path / f"sub-01_task-rest_run-{i}_bold.nii.gz" for i in (1, 2)]
    (tmp_path / "sub-01_task-rest_run-1_desc-brain_mask.nii.gz").write_bytes(b"")
    pairing = MaskPairing()
    assert pair_mask(str(runs[0]), pairing).endswith("run-1_desc-brain_mask.nii.gz")
    (tmp_path / "sub-01_task-rest_run-2_desc-brain_mask.nii.gz").write_bytes(b"")
    with pytest.raises(ValueError, match="no mask"):  # the listing was kept
        pair_mask(str(runs[1]), pairing)
    assert pair_mask(str(runs[1])).endswith("run-2_desc-brain_mask.nii.gz")


def test_the_probe_reads_headers_only(tree, tmp_path):
    run = tree["runs"][0]
    assert time_series_problem(str(run)) is None
    for path, why in tree["skipped"].items():
        if why.startswith("not a time series: "):
            assert time_series_problem(str(path)) == why.removeprefix("not a time series: ")
    # plain .nii, NIfTI-2, and a 2D image
    plain = tmp_path / "plain.nii"
    plain.write_bytes(gzip.decompress(run.read_bytes()))
    assert time_series_problem(str(plain)) is None
    nib.save(nib.Nifti2Image(np.zeros((3, 4, 5, 1), np.float32), np.eye(4)), tmp_path / "n2.nii")
    assert time_series_problem(str(tmp_path / "n2.nii")) == "4D with one frame"
    nib.save(nib.Nifti1Image(np.zeros((3, 4), np.int16), np.eye(4)), tmp_path / "flat.nii.gz")
    assert time_series_problem(str(tmp_path / "flat.nii.gz")) == "a 2D image"
    # a 3D header whose data is cut off or corrupt: the header alone decides
    whole = gzip.decompress((tree["root"] / "sub-01" / "anat" / "sub-01_dseg.nii.gz").read_bytes())
    (tmp_path / "cut.nii").write_bytes(whole[:400])
    assert time_series_problem(str(tmp_path / "cut.nii")) == "a 3D image"
    # what cannot be read is left for the reader to report as an error row
    (tmp_path / "junk.nii.gz").write_bytes(b"\x1f\x8b not really gzip")
    (tmp_path / "text.nii").write_text("hello")
    (tmp_path / "short.nii.gz").write_bytes(gzip.compress(b"\x5c\x01\x00\x00"))
    for bad in ("junk.nii.gz", "text.nii", "short.nii.gz", "missing.nii", "."):
        assert time_series_problem(str(tmp_path / bad)) is None, bad
    found = discover([str(tmp_path)])
    assert str(tmp_path / "junk.nii.gz") in found.inputs
    assert (str(tmp_path / "cut.nii"), "not a time series: a 3D image") in found.skipped


def test_the_probe_reads_only_headers_on_a_big_tree(tmp_path):
    """Only headers are read: 600 images whose headers claim 8 MB of data each, of which
    599 hold the header alone, are all found (reading their data would find nothing)."""
    big = nib.Nifti1Image(np.zeros((64, 64, 32, 16), np.int16), np.eye(4))
    big.header.set_data_dtype(np.int16)
    head = big.header.binaryblock + b"\0" * 4  # vox_offset 352
    one = head + b"\0" * (64 * 64 * 32 * 16 * 2)
    for i in range(600):
        (tmp_path / f"sub-{i:03d}_bold.nii").write_bytes(one[:352])  # header only, on disk
    (tmp_path / "sub-000_bold.nii").write_bytes(one)
    found = discover([str(tmp_path)])
    assert len(found.inputs) == 600 and found.skipped == []
