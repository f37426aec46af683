"""Bounded memory for every input kind: `smoothcli score`'s peak RSS on big and endless inputs.

Writes, into a temporary folder under /tmp (deleted afterwards), a 2 GiB float32 NPY, a 1 GB
float32 NPY of 2 rows x 1.25e8 samples (read along its long axis), an NPZ whose one member is
1 GiB of zeros (about 1 MB on disk), a `.nii.gz` of 1 GiB of int16 voxels (written frame by
frame, gzip level 1), a CIFTI-2 dense series of 91k brainordinates x 1200 float32 (439 MB:
scored by default, per frame, per brainordinate, and on stdin) and a 500 MB CSV, then runs the
installed CLI on each in a fresh process (files, and stdin where it matters) and reads the
child's peak RSS. The baseline is the same CLI scoring a tiny NPY in the same run (imports and
an initialised JAX runtime). Endless inputs (`x.csv -> /dev/zero`, `/dev/zero` piped into
stdin) must end with an error quickly, or are killed after a few seconds; either way their
memory must stay bounded. Exits non-zero if any input needs 200 MB or more above the baseline.

    python benchmarks/bench_memory.py [--only npy,wide,cifti,csv] [--limit-mb 200] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

GiB = 1 << 30

# A wrapper process runs the CLI (its stdin a file, or a pipe from `cat /dev/zero`), kills it
# after a timeout, reaps it and reports the peak RSS of its children: the CLI (and `cat`).
_WRAPPER = r"""
import json, resource, subprocess, sys, time
timeout, stdin, cmd = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
feeder = None
if stdin == "zero":
    feeder = subprocess.Popen(["cat", "/dev/zero"], stdout=subprocess.PIPE)
    source = feeder.stdout
elif stdin:
    source = open(stdin, "rb")
else:
    source = subprocess.DEVNULL
t = time.perf_counter()
p = subprocess.Popen(cmd, stdin=source, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
if feeder is not None:
    feeder.stdout.close()  # the CLI holds the pipe now
killed = False
try:
    _, err = p.communicate(timeout=timeout)
except subprocess.TimeoutExpired:
    p.kill()
    _, err = p.communicate()
    killed = True
dt = time.perf_counter() - t
if feeder is not None:
    feeder.kill()
    feeder.wait()
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps([peak, dt, p.returncode, killed, err.decode(errors="replace")[-2000:]]))
"""


def measure(cmd: list[str], timeout: float, stdin: str = "") -> dict:
    """Run ``cmd`` with stdin from a file, ``"zero"`` (an endless pipe) or nothing."""
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(timeout), stdin, *cmd],
        capture_output=True,
        text=True,
    )
    peak, dt, rc, killed, err = json.loads(out.stdout)
    return {"peak": peak, "time": dt, "rc": rc, "killed": killed, "stderr": err}


# -- inputs ----------------------------------------------------------------------------------------


def write_npy(path: Path, shape: tuple[int, int]) -> None:
    """A float32 NPY written in row blocks: smooth ramps with a little structure."""
    import numpy as np

    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f4", "fortran_order": False, "shape": shape}
        )
        ramp = np.sin(np.arange(shape[1], dtype=np.float32) / 1000)
        step = max(1, (32 << 20) // (shape[1] * 4))
        for start in range(0, shape[0], step):
            k = min(step, shape[0] - start)
            block = ramp[None, :] * np.arange(start, start + k, dtype=np.float32)[:, None]
            fh.write(block.astype(np.float32).tobytes())


def write_wide_npy(path: Path, shape: tuple[int, int]) -> None:
    """A float32 NPY with few, very long rows (channels x time), each written in 32 MB pieces."""
    import numpy as np

    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f4", "fortran_order": False, "shape": shape}
        )
        step = 8 << 20
        for row in range(shape[0]):
            for start in range(0, shape[1], step):
                t = np.arange(start, min(start + step, shape[1]), dtype=np.float64)
                fh.write(np.sin(t / (1000 + row)).astype(np.float32).tobytes())


def write_npz_zeros(path: Path, shape: tuple[int, int]) -> None:
    """An NPZ (deflated) whose one member is ``shape`` float32 zeros, streamed into the zip."""
    import zipfile

    import numpy as np

    header = {"descr": "<f4", "fortran_order": False, "shape": shape}
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("zeros.npy", "w", force_zip64=True) as fh,
    ):
        np.lib.format.write_array_header_1_0(fh, header)
        piece = bytes(16 << 20)
        left = shape[0] * shape[1] * 4
        while left:
            fh.write(piece[: min(left, len(piece))])
            left -= min(left, len(piece))


def write_nii_gz(path: Path, shape: tuple[int, int, int, int]) -> None:
    """An int16 `.nii.gz`, frame by frame, gzip level 1 (ISA-L when installed)."""
    import nibabel as nib
    import numpy as np

    try:
        from isal import igzip as gz
    except ImportError:
        import gzip as gz
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(np.int16)
    rng = np.random.default_rng(0)
    base = rng.integers(500, 1500, shape[:3]).astype(np.int16)
    noise = rng.integers(-20, 20, (8, *shape[:3])).astype(np.int16)
    with gz.open(path, "wb", compresslevel=1) as fh:
        hdr.write_to(fh)
        fh.write(b"\0" * (int(hdr.get_data_offset()) - 348))
        for t in range(shape[3]):
            fh.write((base + noise[t % 8]).tobytes(order="F"))


def write_dtseries(path: Path, frames: int) -> None:
    """A CIFTI-2 dense series of the HCP's size (two cortical surfaces of 32492 vertices,
    most of them in, and 31870 voxels: about 91k brainordinates) x ``frames`` float32: the
    header and XML written by nibabel (over zeros that cost no memory), then the data, one
    block of brainordinates at a time, each brainordinate's series contiguous."""
    import nibabel as nib
    import numpy as np
    from nibabel import cifti2
    from nibabel.cifti2 import cifti2_axes as axes

    rng = np.random.default_rng(0)
    left = axes.BrainModelAxis.from_mask(rng.random(32492) < 0.914, name="CortexLeft")
    right = axes.BrainModelAxis.from_mask(rng.random(32492) < 0.915, name="CortexRight")
    volume = np.zeros((91, 109, 91), bool)
    volume.reshape(-1)[rng.choice(volume.size, 31870, replace=False)] = True
    affine = np.diag([2.0, 2, 2, 1])
    voxels = axes.BrainModelAxis.from_mask(volume, affine=affine, name="Thalamus_Left")
    bm = left + right + voxels
    zeros = np.broadcast_to(np.float32(0), (frames, len(bm)))
    img = cifti2.Cifti2Image(zeros, header=(axes.SeriesAxis(0.0, 0.72, frames), bm))
    img.nifti_header.set_intent("NIFTI_INTENT_CONNECTIVITY_DENSE_SERIES")
    img.to_filename(path)
    with open(path, "rb") as fh:  # (a loaded image's header says 0)
        offset = int(nib.Nifti2Header.from_fileobj(fh).get_data_offset())
    t = np.arange(frames, dtype=np.float64)
    step = 1024
    with open(path, "r+b") as fh:
        fh.seek(offset)
        for start in range(0, len(bm), step):
            b = np.arange(start, min(start + step, len(bm)), dtype=np.float64)[:, None]
            fh.write(np.sin(t / (50 + b % 97) + b).astype(np.float32).tobytes())


def write_csv(path: Path, nbytes: int) -> None:
    """A CSV of about ``nbytes``: a header and 8 columns of floats, one block repeated."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = rng.standard_normal((50_000, 8)).cumsum(axis=0)
    block = "".join(",".join(f"{v:.6f}" for v in r) + "\n" for r in rows).encode()
    with open(path, "wb") as fh:
        fh.write(b"a,b,c,d,e,f,g,h\n")
        written = 0
        while written < nbytes:
            fh.write(block)
            written += len(block)


# -- the run ---------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exe", default=str(Path(sys.executable).with_name("smoothcli")))
    ap.add_argument("--limit-mb", type=float, default=200.0)
    ap.add_argument("--timeout", type=float, default=8.0, help="seconds for endless inputs")
    ap.add_argument("--only", help="comma-separated: npy,wide,npz,nifti,cifti,csv,endless")
    ap.add_argument("--keep", type=Path, help="write the inputs here and keep them")
    args = ap.parse_args()
    kinds = {"npy", "wide", "npz", "nifti", "cifti", "csv", "endless"}
    only = set(args.only.split(",")) if args.only else kinds

    import numpy as np

    folder = args.keep or Path(tempfile.mkdtemp(prefix="smoothcli-mem-", dir="/tmp"))
    folder.mkdir(parents=True, exist_ok=True)
    exe = args.exe
    quiet = ["-q", "--format", "tsv"]

    def score(*what: object) -> list[str]:
        return [exe, "score", *map(str, what), *quiet]

    try:
        tiny = folder / "tiny.npy"
        np.save(tiny, np.arange(64, dtype=np.float32).reshape(8, 8))
        base = measure(score(tiny), 600)
        if base["rc"] != 0:
            raise SystemExit(f"the CLI fails on a tiny input: {base['stderr']}")
        print(f"baseline (CLI on a tiny NPY): peak RSS {base['peak'] / 1e6:.0f} MB\n")

        # name, command, stdin, size, timeout, the exit statuses that are right
        cases: list[tuple[str, list[str], str, float, float, set[int]]] = []
        if "npy" in only:
            npy = folder / "big.npy"
            if not npy.exists():
                write_npy(npy, (4096, 131072))
            cases.append(("NPY 2 GiB float32 (file)", score(npy), "", 2 * GiB, 900, {0}))
        if "wide" in only:
            wide = folder / "wide.npy"
            if not wide.exists():
                write_wide_npy(wide, (2, 125_000_000))
            size = wide.stat().st_size
            cases += [
                ("NPY 1 GB 2 x 1.25e8 float32 (file)", score(wide), "", size, 900, {0}),
                ("NPY 1 GB 2 x 1.25e8 float32 (stdin)", score("-"), str(wide), size, 900, {0}),
            ]
        if "npz" in only:
            npz = folder / "zeros.npz"
            if not npz.exists():
                write_npz_zeros(npz, (8192, 32768))
            cases += [
                ("NPZ 1 GiB zeros member (file)", score(npz), "", GiB, 900, {0}),
                (
                    "NPZ 1 GiB zeros member (stdin)",
                    score("-", "--stdin-format", "npz"),
                    str(npz),
                    GiB,
                    900,
                    {0},
                ),
            ]
        if "nifti" in only:
            nii = folder / "run.nii.gz"
            if not nii.exists():
                write_nii_gz(nii, (128, 128, 64, 512))
            cases.append(("NIfTI 1 GiB int16 .nii.gz (stdin)", score("-"), str(nii), GiB, 900, {0}))
        if "cifti" in only:
            dts = folder / "run.dtseries.nii"
            if not dts.exists():
                write_dtseries(dts, 1200)
            size = dts.stat().st_size
            name = "CIFTI-2 91k x 1200 float32"
            cases += [
                (f"{name} (file)", score(dts), "", size, 900, {0}),
                (f"{name} (stdin)", score("-"), str(dts), size, 900, {0}),
                (
                    f"{name}, rms(axis=space) (file)",
                    score(dts, "--scalarise", "rms(axis=space)"),
                    "",
                    size,
                    900,
                    {0},
                ),
                (
                    f"{name}, per brainordinate (file)",
                    score(dts, "--scalarise", "vnorm(p=2, axis=time)"),
                    "",
                    size,
                    900,
                    {0},
                ),
            ]
        if "csv" in only:
            csv = folder / "big.csv"
            if not csv.exists():
                write_csv(csv, 500 * 10**6)
            cases.append(("CSV 500 MB (file)", score(csv), "", csv.stat().st_size, 1800, {0}))
        if "endless" in only:
            link = folder / "x.csv"
            if not link.exists():
                link.symlink_to("/dev/zero")
            t = args.timeout
            cases.append(("x.csv -> /dev/zero", score(link), "", 0, t, {3}))
            cases.append(("/dev/zero | score - (sniffed)", score("-"), "zero", 0, t, {3}))
            for fmt in ("npy", "csv", "npz", "nifti"):
                cmd = score("-", "--stdin-format", fmt)
                cases.append((f"/dev/zero | --stdin-format {fmt}", cmd, "zero", 0, t, {3}))

        limit = args.limit_mb * 1e6
        ok = True
        head = f"{'input':36s} {'size':>9s} {'time':>8s} {'extra RSS':>10s}  outcome"
        print(head)
        print("-" * len(head))
        for name, cmd, stdin, size, timeout, want in cases:
            r = measure(cmd, timeout, stdin)
            extra = r["peak"] - base["peak"]
            if r["killed"]:
                outcome = f"killed after {timeout:.0f} s"
            else:
                outcome = f"exit {r['rc']}"
                last = r["stderr"].strip().splitlines()[-1:] if r["stderr"].strip() else []
                if r["rc"] != 0 and last:
                    outcome += f": {last[0][:70]}"
            good = extra < limit and (r["killed"] or r["rc"] in want)
            ok &= good
            shown = f"{size / 1e9:.2f} GB" if size else "endless"
            print(
                f"{name:36s} {shown:>9s} {r['time']:7.1f}s {extra / 1e6:8.0f} MB  "
                f"{outcome}{'' if good else '  <-- FAIL'}",
                flush=True,
            )
        verdict = "PASS" if ok else "FAIL"
        print(f"\n{verdict}: every input within {args.limit_mb:.0f} MB of the baseline")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
