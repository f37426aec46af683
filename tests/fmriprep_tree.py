"""An fMRIPrep-like derivatives tree for tests: :func:`make_fmriprep_tree`.

Built from the real 4D run ``tests/data/real/fmri2.nii.gz`` (int16, 10x10x18x40) and small 3D
images made with nibabel. Every 4D run holds distinct data (the real run rolled in time by
its own number of frames) and every brain mask is distinct (the run's mean above its own
percentile), so a run scored with another run's mask gives another score. Layout (``*`` =
a 4D run that a directory scan keeps; everything else is skipped, with the reason given)::

    root/
      dataset_description.json                                    (not a supported type)
      sub-01.html                                                 (not a supported type)
      sub-01/
        anat/
          sub-01_desc-preproc_T1w.nii.gz                          3D
          sub-01_desc-brain_mask.nii.gz                           mask, by name
          sub-01_label-GM_probseg.nii.gz                          mask, by name
          sub-01_dseg.nii.gz                                      mask, by name
        func/  (grid 10x10x18)
          sub-01_task-rest_boldref.nii.gz                         3D
        *  sub-01_task-rest_desc-preproc_bold.nii.gz              4D, 40 frames
          sub-01_task-rest_desc-preproc_bold.json                 (not a supported type)
          sub-01_task-rest_desc-brain_mask.nii.gz                 mask
          sub-01_task-rest_space-MNI152NLin2009cAsym_res-2_boldref.nii.gz        3D
        *  sub-01_task-rest_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz
          sub-01_task-rest_space-MNI152NLin2009cAsym_res-2_desc-brain_mask.nii.gz
      sub-02/  (grid 12x12x16: the run padded in x and y, cropped in z)
        ses-1/
          anat/
            sub-02_ses-1_T1w.nii.gz                               3D
            sub-02_ses-1_label-GM_probseg.nii.gz                  mask, by name
          func/
            sub-02_ses-1_task-rest_run-1_sbref.nii.gz             4D with one frame
        *   sub-02_ses-1_task-rest_run-1_desc-preproc_bold.nii.gz
            sub-02_ses-1_task-rest_run-1_desc-brain_mask.nii.gz
        *   sub-02_ses-1_task-rest_run-2_desc-preproc_bold.nii.gz
            sub-02_ses-1_task-rest_run-2_desc-brain_mask.nii.gz
        *   sub-02_ses-1_task-rest_run-1_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz
            sub-02_ses-1_task-rest_run-1_space-MNI152NLin2009cAsym_res-2_desc-brain_mask.nii.gz
        ses-2/
          func/
            sub-02_ses-2_task-rest_boldref.nii.gz                 3D
        *   sub-02_ses-2_task-rest_desc-preproc_bold.nii.gz
            sub-02_ses-2_task-rest_desc-brain_mask.nii.gz

(No confounds TSV: a directory scan would score it as a table.) The returned dict holds
``Path`` objects:

- ``root``: the tree;
- ``runs``: the six 4D runs, in the order a directory scan lists them;
- ``mask_of``: each run's brain mask (the one ``--mask auto`` must pick);
- ``skipped``: every other ``.nii``/``.nii.gz`` file, mapped to the reason a scan skips it
  (``"a mask or segmentation, by name"``, ``"not a time series: a 3D image"``,
  ``"not a time series: 4D with one frame"``), in scan order;
- ``shape``: each run's shape (x, y, z, t).
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "real"
BOLD = DATA / "fmri2.nii.gz"
MNI = "space-MNI152NLin2009cAsym_res-2"
MASK_REASON = "a mask or segmentation, by name"
THREE_D = "not a time series: a 3D image"
ONE_FRAME = "not a time series: 4D with one frame"


def _save(path: Path, data: np.ndarray, affine: np.ndarray, dtype: type = np.int16) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(np.asarray(data, dtype=dtype), affine)
    img.header.set_data_dtype(dtype)
    img.header.set_xyzt_units("mm", "sec")
    nib.save(img, path)
    return path


def _sub02_grid(data: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The run on a 12x12x16 grid: one voxel of zeros around x and y, one slice off each end
    of z; the affine moved so that the voxels keep their places in space."""
    padded = np.pad(data, ((1, 1), (1, 1), (0, 0), (0, 0)))[:, :, 1:-1, :]
    shifted = affine.copy()
    shifted[:3, 3] = affine[:3, :3] @ np.array([-1.0, -1.0, 1.0]) + affine[:3, 3]
    return padded, shifted


def make_fmriprep_tree(root: Path) -> dict:
    """Build the tree described in this module's docstring under ``root``; return what is in
    it (see the module docstring)."""
    root = Path(root)
    real = nib.load(BOLD)
    data = np.asarray(real.dataobj, dtype=np.int16)
    affine = real.affine
    grids = {"sub-01": (data, affine), "sub-02": _sub02_grid(data, affine)}

    runs: list[Path] = []
    mask_of: dict[Path, Path] = {}
    skipped: dict[Path, str] = {}
    shape: dict[Path, tuple[int, ...]] = {}

    def run(folder: Path, stem: str, sub: str, number: int) -> Path:
        """A 4D run ``stem_desc-preproc_bold`` and its own mask."""
        grid, aff = grids[sub]
        series = np.roll(grid, 3 * number, axis=3)
        path = _save(folder / f"{stem}_desc-preproc_bold.nii.gz", series, aff)
        mean = series.mean(axis=3)
        inside = mean > np.percentile(mean, 30 + 5 * number)
        mask = _save(folder / f"{stem}_desc-brain_mask.nii.gz", inside, aff, np.uint8)
        runs.append(path)
        mask_of[path] = mask
        shape[path] = series.shape
        return path

    def three_d(path: Path, sub: str, reason: str = THREE_D, *, frame: bool = False) -> None:
        grid, aff = grids[sub]
        image = grid[..., :1] if frame else grid.mean(axis=3)
        _save(path, image, aff)
        skipped[path] = reason

    def by_name(path: Path, sub: str, dtype: type = np.uint8) -> None:
        grid, aff = grids[sub]
        mean = grid.mean(axis=3)
        _save(path, (mean > np.median(mean)).astype(dtype), aff, dtype)
        skipped[path] = MASK_REASON

    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text(
        '{"Name": "fMRIPrep - test tree", "BIDSVersion": "1.8.0", "DatasetType": "derivative"}\n'
    )
    (root / "sub-01.html").write_text("<html><body>report</body></html>\n")

    anat = root / "sub-01" / "anat"
    three_d(anat / "sub-01_desc-preproc_T1w.nii.gz", "sub-01")
    by_name(anat / "sub-01_desc-brain_mask.nii.gz", "sub-01")
    by_name(anat / "sub-01_label-GM_probseg.nii.gz", "sub-01", np.float32)
    by_name(anat / "sub-01_dseg.nii.gz", "sub-01")

    func = root / "sub-01" / "func"
    three_d(func / "sub-01_task-rest_boldref.nii.gz", "sub-01")
    run(func, "sub-01_task-rest", "sub-01", 0)
    (func / "sub-01_task-rest_desc-preproc_bold.json").write_text('{"RepetitionTime": 2.0}\n')
    three_d(func / f"sub-01_task-rest_{MNI}_boldref.nii.gz", "sub-01")
    run(func, f"sub-01_task-rest_{MNI}", "sub-01", 1)

    ses1 = root / "sub-02" / "ses-1"
    three_d(ses1 / "anat" / "sub-02_ses-1_T1w.nii.gz", "sub-02")
    by_name(ses1 / "anat" / "sub-02_ses-1_label-GM_probseg.nii.gz", "sub-02", np.float32)
    func = ses1 / "func"
    three_d(func / "sub-02_ses-1_task-rest_run-1_sbref.nii.gz", "sub-02", ONE_FRAME, frame=True)
    run(func, "sub-02_ses-1_task-rest_run-1", "sub-02", 2)
    run(func, "sub-02_ses-1_task-rest_run-2", "sub-02", 3)
    run(func, f"sub-02_ses-1_task-rest_run-1_{MNI}", "sub-02", 4)

    func = root / "sub-02" / "ses-2" / "func"
    three_d(func / "sub-02_ses-2_task-rest_boldref.nii.gz", "sub-02")
    run(func, "sub-02_ses-2_task-rest", "sub-02", 5)

    # the brain masks of the runs are skipped by name as well
    for mask in mask_of.values():
        skipped[mask] = MASK_REASON

    def order(p: Path) -> tuple[str, ...]:
        return p.parts

    return {
        "root": root,
        "runs": sorted(runs, key=order),
        "mask_of": mask_of,
        "skipped": dict(sorted(skipped.items(), key=lambda kv: order(kv[0]))),
        "shape": shape,
    }
