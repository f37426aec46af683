"""Make the QC tree in this folder: five fMRIPrep-style runs with dummy volumes, a brain mask
and a confounds table each; one run has a mid-run spike, one a burst of head motion.

Run it from the repository root (``python tests/data/qc/make_tree.py``); it rewrites
``tree/`` byte for byte (fixed seed, gzip mtime 0). The test suite never runs it: the files
are committed, and ``golden.json`` holds what nipype made of them (``make_golden.py``).

Each run: a 10x10x8 grid of 3 mm voxels, 80 frames, TR 2 s, stored int16. Inside an
ellipsoid "brain" a baseline of 600-1000, AR(1) noise (phi 0.3, SD 1.5 % of baseline) and
a slow drift; outside it, a background of 20-40 with white noise (SD 4). The first
``DUMMY[run]`` frames are brighter in the brain (T1 not yet at steady state: +45 %, +22 %,
+11 %, ...). Run 3 has a spike on frame ``SPIKE_FRAME`` (+7 % of baseline in the brain);
run 4 moves its head (the confounds' translations jump by 0.8 mm over frames 30-32) but its
images do not change. The confounds tables are fMRIPrep's columns that smoothcli reads
(``framewise_displacement`` as Power's FD of the motion columns, ``trans_*``, ``rot_*``,
``non_steady_state_outlier*``), and a ``global_signal`` column that it does not.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import nibabel as nib
import numpy as np

HERE = Path(__file__).resolve().parent
TREE = HERE / "tree"
SEED = 20261207
SHAPE = (10, 10, 8)
FRAMES = 80
TR = 2.0
SPIKE_FRAME = 50
MOTION_FRAMES = (30, 31, 32)
#: each run: (folder, file name stem, dummy volumes)
RUNS = (
    ("sub-01/func", "sub-01_task-rest", 3),
    ("sub-02/func", "sub-02_task-rest", 2),
    ("sub-03/ses-1/func", "sub-03_ses-1_task-rest_run-1", 3),
    ("sub-03/ses-1/func", "sub-03_ses-1_task-rest_run-2", 4),
    ("sub-04/func", "sub-04_task-nback", 3),
)
SPIKE_RUN = 2  # sub-03 run-1
MOTION_RUN = 3  # sub-03 run-2


def _gz_save(img: nib.Nifti1Image, path: Path) -> None:
    """Save gzip'd with mtime 0, so the bytes are the same every time."""
    raw = io.BytesIO()
    img.to_file_map({"image": nib.FileHolder(fileobj=raw)})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())


def _image(data: np.ndarray, dtype: type, affine: np.ndarray) -> nib.Nifti1Image:
    img = nib.Nifti1Image(np.asarray(data, dtype), affine)
    img.header.set_data_dtype(dtype)
    img.header.set_xyzt_units("mm", "sec")
    zooms = (3.0, 3.0, 3.0) + ((TR,) if data.ndim == 4 else ())
    img.header.set_zooms(zooms)
    img.header.set_slope_inter(1.0, 0.0)
    return img


def brain_mask() -> np.ndarray:
    i, j, k = np.indices(SHAPE)
    return ((i - 4.5) / 4.2) ** 2 + ((j - 4.5) / 4.2) ** 2 + ((k - 3.5) / 3.4) ** 2 <= 1


def run_data(rng: np.random.Generator, number: int, dummy: int) -> np.ndarray:
    inside = brain_mask()
    base = np.where(inside, rng.uniform(600, 1000, SHAPE), rng.uniform(20, 40, SHAPE))
    noise = np.zeros((*SHAPE, FRAMES))
    state = rng.normal(size=SHAPE)
    for t in range(FRAMES):
        state = 0.3 * state + np.sqrt(1 - 0.3**2) * rng.normal(size=SHAPE)
        noise[..., t] = state
    drift = 1 + 0.01 * np.linspace(-1, 1, FRAMES)
    data = base[..., None] * drift + np.where(inside, 0.015 * base, 0)[..., None] * noise
    data += np.where(inside, 0, 1)[..., None] * rng.normal(0, 4, (*SHAPE, FRAMES))
    for t in range(dummy):  # T1 saturation: the first frames are brighter
        data[..., t] += np.where(inside, base * 0.45 / 2**t, 0)
    if number == SPIKE_RUN:
        data[..., SPIKE_FRAME] += np.where(inside, 0.07 * base, 0)
    return np.round(data)


def motion(rng: np.random.Generator, number: int) -> np.ndarray:
    """frames x 6: translations (mm) then rotations (radians), a small random walk."""
    steps = rng.normal(0, [0.02, 0.02, 0.03, 0.0003, 0.0003, 0.0003], (FRAMES, 6))
    params = np.cumsum(steps, axis=0)
    if number == MOTION_RUN:
        for t in MOTION_FRAMES:
            params[t:, 2] += 0.8 if t % 2 == 0 else -0.6
    return params


def confounds_text(params: np.ndarray, dummy: int, global_signal: np.ndarray) -> str:
    diff = np.abs(params[:-1] - params[1:])
    diff[:, 3:] *= 50.0
    fd = np.concatenate([[np.nan], diff.sum(axis=1)])
    names = ["global_signal", "framewise_displacement", "trans_x", "trans_y", "trans_z"]
    names += [
        "rot_x",
        "rot_y",
        "rot_z",
        *(f"non_steady_state_outlier{i:02d}" for i in range(dummy)),
    ]
    lines = ["\t".join(names)]
    for t in range(FRAMES):
        cells = [repr(float(global_signal[t])), "n/a" if t == 0 else repr(float(fd[t]))]
        cells += [repr(float(v)) for v in params[t]]
        cells += ["1.0" if t == i else "0.0" for i in range(dummy)]
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def main() -> None:
    rng = np.random.default_rng(SEED)
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    inside = brain_mask()
    for number, (folder, stem, dummy) in enumerate(RUNS):
        where = TREE / folder
        data = run_data(rng, number, dummy)
        _gz_save(_image(data, np.int16, affine), where / f"{stem}_desc-preproc_bold.nii.gz")
        _gz_save(_image(inside, np.uint8, affine), where / f"{stem}_desc-brain_mask.nii.gz")
        text = confounds_text(motion(rng, number), dummy, data[inside].mean(axis=0))
        (where / f"{stem}_desc-confounds_timeseries.tsv").write_text(text)
        (where / f"{stem}_desc-preproc_bold.json").write_text(
            f'{{"RepetitionTime": {TR}, "SkullStripped": false}}\n'
        )
    (TREE / "dataset_description.json").write_text(
        '{"Name": "smoothcli QC test tree", "BIDSVersion": "1.9.0", "DatasetType": "derivative",'
        ' "GeneratedBy": [{"Name": "tests/data/qc/make_tree.py"}]}\n'
    )


if __name__ == "__main__":
    main()
