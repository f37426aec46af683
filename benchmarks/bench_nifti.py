"""Bounded memory on big 4D NIfTI runs: `smoothcli score`'s peak memory vs the run's length.

Writes synthetic int16 runs of 128 x 128 x 64 voxels with 100 and 500 frames (0.21 and
1.05 GB of voxel data) as `.nii` and `.nii.gz` into a folder, then runs the installed CLI on
each in a fresh process and reads the child's peak RSS. The baseline is the same CLI scoring
a tiny image (imports and an initialised JAX runtime), measured in the same run. Memory is
bounded when the extra memory does not grow with the number of frames: the check is that
going from 100 to 500 frames adds less than 5% of the added voxel data.

    python benchmarks/bench_nifti.py [--voxels 128 128 64] [--frames 100 500] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _peak_of(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd`` in a child; return (its peak RSS in bytes, seconds, stdout)."""
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "dt = time.perf_counter() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
        "print(json.dumps([peak, dt, p.stdout, p.returncode, p.stderr]))\n"
    )
    import json

    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True)
    peak, dt, stdout, rc, err = json.loads(out.stdout)
    if rc != 0:
        raise SystemExit(f"{cmd} failed ({rc}): {err}")
    return peak, dt, stdout


def _write(path_nii: Path, path_gz: Path, shape: tuple[int, ...]) -> None:
    import nibabel as nib
    import numpy as np

    hdr = nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(np.int16)
    rng = np.random.default_rng(0)
    # frame by frame, so the benchmark itself never holds the image
    with open(path_nii, "wb") as fh:
        hdr.write_to(fh)
        fh.write(b"\0" * (int(hdr.get_data_offset()) - fh.tell()))
        base = rng.integers(500, 1500, shape[:3]).astype(np.int16)
        for _ in range(shape[3]):
            frame = base + rng.integers(-20, 20, shape[:3]).astype(np.int16)
            fh.write(frame.tobytes(order="F"))
    subprocess.run(f"gzip -1 -c {path_nii} > {path_gz}", shell=True, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voxels", type=int, nargs=3, default=[128, 128, 64])
    ap.add_argument("--frames", type=int, nargs=2, default=[100, 500])
    ap.add_argument("--keep", type=Path, help="write the images here and keep them")
    args = ap.parse_args()

    import nibabel as nib
    import numpy as np

    folder = args.keep or Path(tempfile.mkdtemp(prefix="smoothcli-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    tiny = folder / "tiny.nii"
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4, 5), np.int16), np.eye(4)), tiny)
    exe = str(Path(sys.executable).with_name("smoothcli"))
    base_peak, _, _ = _peak_of([exe, "score", str(tiny), "-q"])
    print(f"baseline (CLI on a tiny image): peak RSS {base_peak / 1e6:.0f} MB")
    try:
        import isal  # noqa: F401

        print("gzip: ISA-L (isal installed)")
    except ImportError:
        print("gzip: the standard library (pip install 'smoothcli[fast]' for ISA-L)")
    extras: dict[str, list[float]] = {".nii": [], ".nii.gz": []}
    sizes = []
    made = [tiny]
    for frames in args.frames:
        shape = (*args.voxels, frames)
        nbytes = int(np.prod(shape)) * 2
        sizes.append(nbytes)
        nii, gz = folder / f"run{frames}.nii", folder / f"run{frames}.nii.gz"
        if not gz.exists():
            t0 = time.perf_counter()
            _write(nii, gz, shape)
            print(f"wrote {nbytes / 1e9:.2f} GB of voxels in {time.perf_counter() - t0:.1f} s")
        made += [nii, gz]
        for path, ext in ((nii, ".nii"), (gz, ".nii.gz")):
            peak, dt, out = _peak_of([exe, "score", str(path), "-q", "--format", "tsv"])
            extra = peak - base_peak
            extras[ext].append(extra)
            score = out.splitlines()[1].split("\t")[3]
            print(
                f"{path.name:16s} {dt:6.2f} s  {nbytes / dt / 1e6:6.0f} MB/s of voxels  "
                f"peak RSS {peak / 1e6:5.0f} MB  extra {extra / 1e6:5.0f} MB "
                f"({100 * extra / nbytes:.1f}% of the voxels)  score {score}"
            )
    added = sizes[1] - sizes[0]
    ok = True
    for ext, (small, big) in extras.items():
        growth = (big - small) / added
        print(
            f"{ext:8s} extra memory grew {(big - small) / 1e6:+.0f} MB for "
            f"{added / 1e9:.2f} GB more voxels: {100 * growth:+.1f}% (target < 5%)"
        )
        ok &= growth < 0.05
    if not args.keep:
        for p in made:
            p.unlink()
        os.rmdir(folder)
    print("PASS: memory does not grow with the run" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
