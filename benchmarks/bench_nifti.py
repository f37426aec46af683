"""Bounded memory on a big 4D NIfTI: peak memory of `smoothcli score` vs the image's size.

Writes a synthetic int16 run (default 128 x 128 x 64 x 500 = 1.05 GB of voxel data) as
`.nii` and `.nii.gz` into a temporary folder, then runs the installed CLI on each in a fresh
process and reads the child's peak RSS. The baseline is the same CLI scoring a tiny image
(an initialised JAX runtime and the imports), measured in the same run.

    python benchmarks/bench_nifti.py [--shape 128 128 64 500] [--keep DIR]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=4, default=[128, 128, 64, 500])
    ap.add_argument("--keep", type=Path, help="write the images here and keep them")
    args = ap.parse_args()

    import nibabel as nib
    import numpy as np

    folder = args.keep or Path(tempfile.mkdtemp(prefix="smoothcli-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    shape = tuple(args.shape)
    nbytes = int(np.prod(shape)) * 2
    big_nii, big_gz, tiny = folder / "big.nii", folder / "big.nii.gz", folder / "tiny.nii"
    if not big_gz.exists():
        t0 = time.perf_counter()
        img = nib.Nifti1Image(np.zeros(shape, np.int16), np.eye(4))
        hdr = img.header
        hdr.set_data_dtype(np.int16)
        rng = np.random.default_rng(0)
        # write frame by frame, so the benchmark itself never holds the image
        with open(big_nii, "wb") as fh:
            hdr.write_to(fh)
            fh.write(b"\0" * (int(hdr.get_data_offset()) - fh.tell()))
            base = rng.integers(500, 1500, shape[:3]).astype(np.int16)
            for _ in range(shape[3]):
                frame = base + rng.integers(-20, 20, shape[:3]).astype(np.int16)
                fh.write(frame.tobytes(order="F"))
        subprocess.run(f"gzip -1 -c {big_nii} > {big_gz}", shell=True, check=True)
        print(f"wrote {nbytes / 1e9:.2f} GB images in {time.perf_counter() - t0:.1f} s")
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4, 5), np.int16), np.eye(4)), tiny)

    exe = str(Path(sys.executable).with_name("smoothcli"))
    base_peak, _, _ = _peak_of([exe, "score", str(tiny), "-q"])
    print(f"baseline (CLI on a tiny image): peak RSS {base_peak / 1e6:.0f} MB")
    ok = True
    for path in (big_nii, big_gz):
        peak, dt, out = _peak_of([exe, "score", str(path), "-q", "--format", "tsv"])
        extra = peak - base_peak
        score = out.splitlines()[1].split("\t")[3]
        print(
            f"{path.name:12s} {dt:6.2f} s  {nbytes / dt / 1e6:7.0f} MB/s of voxels  "
            f"peak RSS {peak / 1e6:6.0f} MB  extra {extra / 1e6:6.0f} MB "
            f"= {100 * extra / nbytes:.1f}% of the voxel data  (score {score})"
        )
        ok &= extra < 0.05 * nbytes
    if not args.keep:
        for p in (big_nii, big_gz, tiny):
            p.unlink()
        os.rmdir(folder)
    print("PASS: extra memory under 5% of the image" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
