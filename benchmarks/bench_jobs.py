"""Batch throughput: worker processes, a Dask LocalCluster, and one invocation for many files.

1. 8 NIfTI runs of 64 x 64 x 40 x 400 int16 `.nii.gz`: `--jobs 2` vs `--jobs 1` (target:
   at least 1.6x faster on a 2-core machine);
2. the same 8 runs: `--dask local` vs `--jobs 2` (target: within 1.3x);
3. 200 small CSVs in one invocation vs one invocation each (target: at least 50x faster).

Each timing is a whole run in a fresh process (start-up included), best of ``--repeat``. Uses
the CLI's `--jobs`/`--dask` when `smoothcli score --help` lists them, else the library
(`score_paths(jobs=...)`, `score_paths(client=...)`) in a fresh interpreter. Part 3 runs
``--invocations`` single-file invocations (default all 200) and scales their time to 200.
Prints the ratios; exits non-zero when a target is missed.

    python benchmarks/bench_jobs.py [--repeat 2] [--invocations 200] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHAPE = (64, 64, 40, 400)
RUNS = 8
CSVS = 200

LIBRARY = """
import sys
from smoothcli.batch import score_paths
mode, paths = sys.argv[1], sys.argv[2:]
if __name__ == "__main__":
    if mode == "local":
        from distributed import Client, LocalCluster
        from smoothcli.runtime import cpu_count
        with LocalCluster(n_workers=cpu_count(), threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None) as cluster, \\
                Client(cluster) as client:
            frame = score_paths(paths, client=client)
    else:
        frame = score_paths(paths, jobs=int(mode))
    assert (frame["status"] == "ok").all(), frame
    print(frame.to_csv(sep="\\t", index=False))
"""


def _nifti(path: Path, seed: int) -> None:
    import nibabel as nib

    rng = np.random.default_rng(seed)
    base = rng.integers(-2000, 2000, SHAPE[:3], dtype=np.int16)
    drift = rng.integers(-30, 30, SHAPE, dtype=np.int16)
    data = base[..., None] + drift
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_data_dtype(np.int16)
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(img.to_bytes())


def _cli_has(flag: str) -> bool:
    out = subprocess.run(["smoothcli", "score", "--help"], capture_output=True, text=True)
    return flag in out.stdout


def _time(cmd: list[str], repeat: int) -> tuple[float, str]:
    best, out = float("inf"), ""
    for _ in range(repeat):
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t
        if p.returncode != 0:
            raise SystemExit(f"{cmd[:4]}... failed ({p.returncode}): {p.stderr[-2000:]}")
        best, out = min(best, dt), p.stdout
    return best, out


def _jobs_cmd(paths: list[str], mode: str, script: Path) -> list[str]:
    if mode == "local" and _cli_has("--dask"):
        return ["smoothcli", "score", "--format", "tsv", "--dask", "local", *paths]
    if mode != "local" and _cli_has("--jobs"):
        return ["smoothcli", "score", "--format", "tsv", "--jobs", mode, *paths]
    return [sys.executable, str(script), mode, *paths]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--invocations", type=int, default=CSVS)
    ap.add_argument("--keep", type=Path, help="write the inputs here and keep them")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        runs = [where / f"sub-{i:02d}_task-rest_bold.nii.gz" for i in range(1, RUNS + 1)]
        for i, run in enumerate(runs):
            if not run.exists():
                _nifti(run, i)
        csvs = where / "csvs"
        csvs.mkdir(exist_ok=True)
        rng = np.random.default_rng(0)
        for i in range(CSVS):
            csv = csvs / f"sub-{i:03d}_timeseries.csv"
            if not csv.exists():
                np.savetxt(csv, rng.standard_normal((100, 4)), delimiter=",", header="a,b,c,d")
        script = where / "bench_jobs_library.py"
        script.write_text(LIBRARY)
        paths = [str(r) for r in runs]
        how = "CLI" if _cli_has("--jobs") else "library (score_paths)"
        print(f"{RUNS} runs of {'x'.join(map(str, SHAPE))} int16 .nii.gz, through the {how}")
        one, out1 = _time(_jobs_cmd(paths, "1", script), args.repeat)
        two, out2 = _time(_jobs_cmd(paths, "2", script), args.repeat)
        dask, out3 = _time(_jobs_cmd(paths, "local", script), args.repeat)
        same = out1 == out2 == out3
        print(f"  --jobs 1: {one:.2f} s   --jobs 2: {two:.2f} s   --dask local: {dask:.2f} s")
        print(f"  identical output: {same}")
        files = sorted(str(p) for p in csvs.iterdir())
        batch, _ = _time(["smoothcli", "score", "--format", "tsv", str(csvs)], args.repeat)
        k = max(1, min(args.invocations, CSVS))
        t = time.perf_counter()
        for f in files[:k]:
            _time(["smoothcli", "score", "--format", "tsv", f], 1)
        each = (time.perf_counter() - t) * CSVS / k
        scaled = "" if k == CSVS else f" (scaled from {k} invocations)"
        print(f"{CSVS} CSVs: one invocation {batch:.2f} s; {CSVS} invocations {each:.1f} s{scaled}")
    checks = [
        ("--jobs 2 vs --jobs 1", one / two, ">=", 1.6),
        ("--dask local vs --jobs 2 (slowdown)", dask / two, "<=", 1.3),
        (f"one invocation vs {CSVS}", each / batch, ">=", 50.0),
    ]
    ok = same
    for label, ratio, op, target in checks:
        met = ratio >= target if op == ">=" else ratio <= target
        ok &= met
        print(f"  {label}: {ratio:.2f}x (target {op} {target}x) {'ok' if met else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
