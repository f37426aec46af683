"""Make the DVARS golden values in this folder with the real nipype.

Run it from the repository root, in a throwaway venv that has nipype (never the project's):

    python3.11 -m venv /tmp/nipype-venv
    /tmp/nipype-venv/bin/pip install nipype nitime nibabel numpy scipy
    /tmp/nipype-venv/bin/python tests/data/dvars/make_golden.py

It rewrites every file in this folder except README.md and itself: the two masks, the synthetic
run, one TSV per case that nipype computes with finite values, and golden.json. The inputs come
from a fixed seed (and the real run tests/data/real/fmri2.nii.gz); nipype and nitime are
only called, none of their code is copied here. The test suite never runs this script.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform
import struct
import tempfile
import traceback
import warnings
from importlib.metadata import version
from pathlib import Path

os.environ.setdefault("NIPYPE_NO_ET", "1")  # no update check over the network

import nibabel as nib
import numpy as np
from nipype.algorithms.confounds import ComputeDVARS, compute_dvars

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
FMRI2 = ROOT / "tests" / "data" / "real" / "fmri2.nii.gz"

SEED = 20240607
VARIANCE_TOL = 1e-7
NORMS = (1000, 0)
DROPS = (True, False)

# fmri2 mask: temporal mean above this fraction of the 98th percentile of the temporal means
MASK_FRACTION = 0.7
MASK_PERCENTILE = 98

# synthetic run
SYN_SHAPE = (9, 8, 7)
SYN_T = 60
SYN_SLOPE = 0.5
SYN_INTER = 10.0
SYN_ZOOMS = (3.0, 3.0, 3.5, 2.0)
SPIKE_FRAME = 37
N_CONSTANT = 6
N_NEAR_CONSTANT = 3
OUTLIER_FRAMES = (12, 45)


def rel(path: Path) -> str:
    """Path as the repository root sees it."""
    return os.path.relpath(path, ROOT)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def robust_sd(data: np.ndarray) -> np.ndarray:
    """(P75 - P25) / 1.349 over time with NumPy's method="lower" (own code, for the checks)."""
    q75 = np.percentile(data, 75, axis=-1, method="lower")
    q25 = np.percentile(data, 25, axis=-1, method="lower")
    return (q75 - q25) / 1.349


def masked(in_file: Path, in_mask: Path, norm: float) -> tuple[np.ndarray, np.ndarray]:
    """float32 data of the mask voxels (voxels x time) and their median, as a run reads them."""
    data = np.float32(nib.load(in_file).dataobj)[np.asanyarray(nib.load(in_mask).dataobj) > 0]
    median = np.median(data)
    if norm:
        data = (data / median) * norm
    return data, median


def save_mask(
    mask: np.ndarray, affine: np.ndarray, path: Path, header: nib.Nifti1Header | None = None
) -> None:
    """uint8 0/1 mask on the grid of affine (and of header: same voxel sizes, if given)."""
    img = nib.Nifti1Image(mask.astype(np.uint8), affine, header=header)
    img.header.set_data_dtype(np.uint8)
    img.header.set_slope_inter(None, None)
    if header is None:
        img.header.set_xyzt_units("mm", "sec")
        img.set_qform(affine, code=1)
        img.set_sform(affine, code=1)
    nib.save(img, path)


def make_fmri2_mask(path: Path) -> dict:
    img = nib.load(FMRI2)
    mean = np.asanyarray(img.dataobj).astype(np.float64).mean(axis=-1)
    threshold = MASK_FRACTION * np.percentile(mean, MASK_PERCENTILE)
    mask = mean > threshold
    assert 0 < mask.sum() < mask.size
    save_mask(mask, img.affine, path, header=img.header)
    back = nib.load(path)
    assert back.get_data_dtype() == np.uint8
    assert np.array_equal(back.affine, img.affine) and back.shape == img.shape[:3]
    assert back.header.get_zooms() == img.header.get_zooms()[:3]
    return {
        "rule": (
            f"temporal mean (float64, of the stored int16 values) > {MASK_FRACTION} x the "
            f"{MASK_PERCENTILE}th percentile (NumPy default 'linear') of the temporal means "
            "of all voxels"
        ),
        "threshold": float(threshold),
        "voxels": int(mask.sum()),
        "of": int(mask.size),
    }


def ar1_noise(rng: np.random.Generator, phi: np.ndarray, sd: np.ndarray, n: int) -> np.ndarray:
    """AR(1) series per voxel (rows): x[t] = phi x[t-1] + e[t], stationary start."""
    out = np.empty((phi.size, n))
    out[:, 0] = rng.normal(0, 1, phi.size) * sd / np.sqrt(1 - phi**2)
    for t in range(1, n):
        out[:, t] = phi * out[:, t - 1] + rng.normal(0, 1, phi.size) * sd
    return out


def write_int16_nifti(raw: np.ndarray, affine: np.ndarray, path: Path) -> None:
    """Write raw int16 values with scl_slope/scl_inter as given, without nibabel's rescaling."""
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype(np.int16)
    hdr.set_data_shape(raw.shape)
    hdr.set_zooms(SYN_ZOOMS)
    hdr.set_xyzt_units("mm", "sec")
    hdr.set_qform(affine, code=1)
    hdr.set_sform(affine, code=1)
    hdr["scl_slope"] = SYN_SLOPE
    hdr["scl_inter"] = SYN_INTER
    hdr["vox_offset"] = 352
    hdr["descrip"] = b"smoothcli dvars golden synthetic run"
    block = hdr.binaryblock + b"\x00\x00\x00\x00"  # no extensions
    assert len(block) == 352
    body = raw.astype("<i2").tobytes(order="F")
    with path.open("wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
        gz.write(block + body)


def check_raw_header(path: Path) -> dict:
    """Read the NIfTI-1 header bytes directly: datatype, bitpix, scl_slope, scl_inter."""
    with gzip.open(path, "rb") as f:
        head = f.read(352)
    datatype, bitpix = struct.unpack_from("<hh", head, 70)
    slope, inter = struct.unpack_from("<ff", head, 112)
    vox_offset = struct.unpack_from("<f", head, 108)[0]
    assert (datatype, bitpix) == (4, 16), (datatype, bitpix)  # NIFTI_TYPE_INT16
    assert (slope, inter) == (SYN_SLOPE, SYN_INTER), (slope, inter)
    return {
        "datatype": datatype,
        "bitpix": bitpix,
        "scl_slope": slope,
        "scl_inter": inter,
        "vox_offset": vox_offset,
    }


def make_synth(bold_path: Path, mask_path: Path) -> dict:
    rng = np.random.default_rng(SEED)
    nx, ny, nz = SYN_SHAPE
    affine = np.diag([*SYN_ZOOMS[:3], 1.0])
    affine[:3, 3] = [-12.0, -10.5, -10.5]

    # brain: an ellipsoid filling most of the grid
    i, j, k = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij")
    mask = ((i - 4) / 3.8) ** 2 + ((j - 3.5) / 3.3) ** 2 + ((k - 3) / 2.8) ** 2 <= 1
    assert 0 < mask.sum() < mask.size
    n_in = int(mask.sum())

    t = np.arange(SYN_T)
    real = np.empty((*SYN_SHAPE, SYN_T))
    # background: low, white noise
    n_out = mask.size - n_in
    real[~mask] = rng.uniform(20, 80, (n_out, 1)) + rng.normal(0, 5, (n_out, SYN_T))
    # brain: baseline, slow drift and oscillation, AR(1) noise, one spike frame
    base = rng.uniform(500, 1100, n_in)
    drift = rng.uniform(-0.01, 0.01, n_in)[:, None] * base[:, None] * (t / SYN_T)
    amp = rng.uniform(0, 0.02, n_in)[:, None] * base[:, None]
    osc = amp * np.sin(2 * np.pi * t / 20 + rng.uniform(0, 2 * np.pi, n_in)[:, None])
    phi = rng.uniform(0.2, 0.7, n_in)
    noise = ar1_noise(rng, phi, rng.uniform(0.01, 0.02, n_in) * base, SYN_T)
    brain = base[:, None] + drift + osc + noise
    brain[:, SPIKE_FRAME] += rng.uniform(0.05, 0.1, n_in) * base
    real[mask] = brain

    # voxels inside the mask that are constant, or constant but for two outlier frames
    inside = np.argwhere(mask)
    picks = rng.choice(len(inside), N_CONSTANT + N_NEAR_CONSTANT, replace=False)
    constant = [tuple(int(v) for v in inside[p]) for p in picks[:N_CONSTANT]]
    near = [tuple(int(v) for v in inside[p]) for p in picks[N_CONSTANT:]]
    for vox in constant:
        real[vox] = real[vox].mean()
    for n, vox in enumerate(near):
        level = real[vox].mean()
        real[vox] = level
        real[vox][list(OUTLIER_FRAMES)] = level + np.array([60.0, -45.0]) * (1 + n)

    raw = np.rint((real - SYN_INTER) / SYN_SLOPE)
    assert raw.min() >= -32768 and raw.max() <= 32767
    raw = raw.astype(np.int16)
    write_int16_nifti(raw, affine, bold_path)
    save_mask(mask, affine, mask_path)

    header = check_raw_header(bold_path)
    img = nib.load(bold_path)
    assert img.get_data_dtype() == np.int16 and img.shape == (*SYN_SHAPE, SYN_T)
    scaled = np.asanyarray(img.dataobj)
    assert np.array_equal(scaled, raw * SYN_SLOPE + SYN_INTER)

    # own checks of the zero-variance voxels (robust SD 0 on the float32 masked data)
    data32 = np.float32(scaled)
    sd = robust_sd(data32)
    flat = np.ptp(data32, axis=-1) == 0
    assert all(sd[v] == 0 and flat[v] for v in constant)
    assert all(sd[v] == 0 and not flat[v] for v in near)
    assert int((sd[mask] == 0).sum()) == N_CONSTANT + N_NEAR_CONSTANT
    return {
        "rule": (
            "ellipsoid ((i-4)/3.8)^2 + ((j-3.5)/3.3)^2 + ((k-3)/2.8)^2 <= 1 on voxel indices; "
            "the run is synthesised around it"
        ),
        "voxels": n_in,
        "of": int(mask.size),
        "seed": SEED,
        "shape": [*SYN_SHAPE, SYN_T],
        "stored_dtype": "int16",
        "raw_header": header,
        "nibabel_scaled_dtype": str(scaled.dtype),
        "spike_frame": SPIKE_FRAME,
        "constant_voxels": [list(v) for v in constant],
        "near_constant_voxels": [list(v) for v in near],
        "near_constant_outlier_frames": list(OUTLIER_FRAMES),
        "robust_sd_zero_in_mask": int((sd[mask] == 0).sum()),
        "constant_in_mask": int((flat & mask).sum()),
    }


def call_text(in_file: Path, in_mask: Path, drop: bool, norm: int) -> str:
    return (
        f"nipype.algorithms.confounds.compute_dvars({rel(in_file)!r}, {rel(in_mask)!r}, "
        f"remove_zerovariance={drop}, variance_tol={VARIANCE_TOL!r}, "
        f"intensity_normalization={norm})"
    )


def write_table(path: Path, std: np.ndarray, nstd: np.ndarray, vxstd: np.ndarray) -> None:
    lines = ["frame\tdvars\tstd_dvars\tvx_std_dvars", "0\tn/a\tn/a\tn/a"]
    for n, row in enumerate(zip(nstd, std, vxstd, strict=True), start=1):
        lines.append("\t".join([str(n), *(repr(float(x)) for x in row)]))
    path.write_text("\n".join(lines) + "\n")


def run_case(name: str, in_file: Path, in_mask: Path, drop: bool, norm: int) -> dict:
    table = f"golden_{name}_norm{norm}_{'dropzero' if drop else 'keepzero'}.tsv"
    data, median = masked(in_file, in_mask, norm)
    sd = robust_sd(data)
    case = {
        "image": name,
        "remove_zerovariance": drop,
        "variance_tol": VARIANCE_TOL,
        "intensity_normalization": norm,
        "call": call_text(in_file, in_mask, drop, norm),
        "masked_median": repr(float(median)),
        "mask_voxels": int(data.shape[0]),
        "zero_variance_voxels": int((sd <= VARIANCE_TOL).sum()),
        "voxels_used": int((sd > VARIANCE_TOL).sum()) if drop else int(data.shape[0]),
        "frames": int(data.shape[1]),
    }
    (HERE / table).unlink(missing_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            std, nstd, vxstd = compute_dvars(
                str(in_file),
                str(in_mask),
                remove_zerovariance=drop,
                variance_tol=VARIANCE_TOL,
                intensity_normalization=norm,
            )
        except Exception as exc:
            case["status"] = "raised"
            case["error"] = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"
            case["traceback"] = [
                f"{f.filename.rpartition('site-packages/')[2]}:{f.lineno} {f.name}"
                for f in traceback.extract_tb(exc.__traceback__)
                if "site-packages/" in f.filename
            ]
            std = None
    case["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
    if std is None:
        case["file"] = None
        return case
    case["dtypes"] = {"std": str(std.dtype), "nstd": str(nstd.dtype), "vxstd": str(vxstd.dtype)}
    finite = {
        k: int(np.isfinite(v).sum())
        for k, v in zip(("std", "nstd", "vxstd"), (std, nstd, vxstd), strict=True)
    }
    if min(finite.values()) < std.size:
        case["status"] = "non-finite"
        case["finite_counts"] = finite
        case["file"] = None
        return case
    case["status"] = "ok"
    case["file"] = table
    write_table(HERE / table, std, nstd, vxstd)
    return case


def run_interface(in_file: Path, in_mask: Path, **inputs: object) -> dict:
    cwd = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            result = ComputeDVARS(in_file=str(in_file), in_mask=str(in_mask), **inputs).run()
            outputs = result.outputs
            out = {
                "avg_std": repr(outputs.avg_std),
                "avg_nstd": repr(outputs.avg_nstd),
                "avg_vxstd": repr(outputs.avg_vxstd),
            }
            if inputs.get("save_all"):
                # what MRIQC reports: column means of out_all (written with %0.8f)
                cols = np.loadtxt(outputs.out_all, skiprows=1, usecols=range(3)).mean(axis=0)
                out["mriqc_dvars"] = dict(
                    zip(("std", "nstd", "vstd"), (repr(float(c)) for c in cols), strict=True)
                )
        finally:
            os.chdir(cwd)
    return out


def main() -> None:
    fmri2_mask = HERE / "fmri2_mask.nii.gz"
    synth_bold = HERE / "synth_bold.nii.gz"
    synth_mask = HERE / "synth_mask.nii.gz"
    images = {
        "fmri2": {"bold": FMRI2, "mask": fmri2_mask, "info": make_fmri2_mask(fmri2_mask)},
        "synth": {
            "bold": synth_bold,
            "mask": synth_mask,
            "info": make_synth(synth_bold, synth_mask),
        },
    }

    cases = [
        run_case(name, im["bold"], im["mask"], drop, norm)
        for name, im in images.items()
        for norm in NORMS
        for drop in DROPS
    ]

    defaults = {
        k: getattr(ComputeDVARS().inputs, k)
        for k in ("remove_zerovariance", "variance_tol", "intensity_normalization")
    }
    interface = {}
    for name, im in images.items():
        interface[name] = {
            "call": (
                f"ComputeDVARS(in_file={rel(im['bold'])!r}, in_mask={rel(im['mask'])!r}).run() "
                "in a temporary directory"
            ),
            "defaults": defaults,
            **run_interface(im["bold"], im["mask"]),
            "mriqc_call": "ComputeDVARS(in_file=..., in_mask=..., save_all=True).run()",
            **run_interface(im["bold"], im["mask"], save_all=True),
        }

    summary = {
        "made_by": f"/tmp/nipype-venv/bin/python {rel(Path(__file__))}",
        "versions": {
            "python": platform.python_version(),
            **{p: version(p) for p in ("nipype", "nitime", "numpy", "scipy", "nibabel")},
        },
        "columns": {
            "dvars": "compute_dvars(...)[1] (nstd)",
            "std_dvars": "compute_dvars(...)[0] (std)",
            "vx_std_dvars": "compute_dvars(...)[2] (vxstd)",
            "row 0": "n/a: DVARS has T-1 values, for frames 1..T-1",
            "format": "repr(float(x)) of the value nipype returned",
        },
        "inputs": {
            name: {
                "bold": rel(im["bold"]),
                "bold_sha256": sha256(im["bold"]),
                "mask": rel(im["mask"]),
                "mask_sha256": sha256(im["mask"]),
                **im["info"],
            }
            for name, im in images.items()
        },
        "cases": cases,
        "interface": interface,
    }
    buf = io.StringIO()
    json.dump(summary, buf, indent=2)
    (HERE / "golden.json").write_text(buf.getvalue() + "\n")
    for case in cases:
        print(case["file"] or f"{case['call']}: {case['status']} {case.get('error', '')}")


if __name__ == "__main__":
    main()
