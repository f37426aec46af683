"""``smoothcli report`` on a large batch: 500 runs x 300 frames (150,000 rows of a per-frame
table, as ``score --scalarise 'rms(axis=space)'`` writes it) against the issue's 10 s.

The table is written with smoothcli's own TSV writer (with a sidecar recording a
``--fail-above``), with a few runs over the threshold and a few failed inputs; the report is
made in fresh processes, the best of N kept. Also shown: reading the table with pandas
alone, a baseline for the reading part.

    python benchmarks/bench_report.py [--runs 500] [--frames 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LIMIT = 10.0


def _write(table: Path, runs: int, frames: int) -> None:
    from smoothcli.output import COLUMN_NAMES, make_writer

    rng = np.random.default_rng(0)
    with open(table, "w", newline="") as fh:
        writer = make_writer("tsv", fh, list(COLUMN_NAMES))
        for i in range(runs):
            path = f"derivatives/sub-{i:03d}/func/sub-{i:03d}_task-rest_desc-preproc_bold.nii.gz"
            if i % 97 == 5:
                writer.add(
                    [{"path": path, "status": "error", "error": "the gzip stream is truncated"}]
                )
                continue
            values = (30 + rng.gamma(2, 2, frames)).astype(np.float32)
            if i % 50 == 3:
                values[rng.integers(frames)] = 300
            rows = [
                {"path": path, "index": t, "frame": t + 1, "score": v, "status": "ok"}
                | {"check": "pass" if v <= 100 else "fail", "shape": "327513x300", "axis": 1}
                for t, v in enumerate(values)
            ]
            writer.add(rows)
        writer.close()
    sidecar = {"Command": "smoothcli score derivatives/ ...", "Options": {"fail_above": 100}}
    table.with_suffix(".json").write_text(json.dumps(sidecar))


def _time(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_report-"))
    table = folder / "scores.tsv"
    _write(table, args.runs, args.frames)
    size = table.stat().st_size / 1e6
    exe = str(Path(sys.executable).with_name("smoothcli"))
    page = folder / "report.html"
    report = [exe, "report", str(table), "-o", str(page), "-q"]
    pandas = [sys.executable, "-c", f"import pandas as pd; pd.read_csv({str(table)!r}, sep='\\t')"]
    best = min(_time(report) for _ in range(args.repeat))
    read = min(_time(pandas) for _ in range(args.repeat))
    ok = best <= LIMIT
    print(f"{args.runs} runs x {args.frames} frames: a {size:.0f} MB table")
    print(f"pandas.read_csv alone (fresh process): {read:.2f} s")
    print(
        f"smoothcli report: {best:.2f} s ({best / read:.1f}x the read), page "
        f"{page.stat().st_size / 1e6:.1f} MB  {'ok' if ok else 'FAIL'} (limit {LIMIT:g} s)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
