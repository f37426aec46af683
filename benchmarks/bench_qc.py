"""What QC verdicts cost: ``dvars --summary --confounds auto --censor DIR`` against ``dvars``
alone, on the 300-frame 2 mm MNI run (bench_gzip's synthetic 91 x 109 x 91 int16
``.nii.gz``, 542 MB of voxels, with its brain mask), named as fMRIPrep names it and with a
confounds table of fMRIPrep's width (300 rows, 250 columns) beside it.

Target: at most 10% more time than ``dvars --summary --dummy-scans 0`` (no QC at all). Also
shown: the default ``--dummy-scans auto`` (nipype's detector on the global signal the reader
keeps). Each command runs in a fresh process, in turns (A, B, C, A, B, C, ...), so that the
machine's load falls on each alike; the best time of N is kept.

    python benchmarks/bench_qc.py [--repeat 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gzip import _run, _write

STEM = "sub-01_task-rest_space-MNI152NLin2009cAsym_res-2"
LIMIT = 1.10


def _confounds(path: Path, frames: int, columns: int = 250) -> None:
    """fMRIPrep's confounds table: FD, the six motion columns, and CompCor-like filler."""
    import numpy as np

    rng = np.random.default_rng(1)
    motion = np.cumsum(rng.normal(0, [0.02, 0.02, 0.03, 3e-4, 3e-4, 3e-4], (frames, 6)), axis=0)
    diff = np.abs(np.diff(motion, axis=0))
    diff[:, 3:] *= 50
    fd = np.r_[np.nan, diff.sum(axis=1)]
    names = ["framewise_displacement", "trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]
    names += [f"a_comp_cor_{i:02d}" for i in range(columns - len(names))]
    filler = rng.normal(size=(frames, columns - 7))
    with open(path, "w") as fh:
        fh.write("\t".join(names) + "\n")
        for t in range(frames):
            row = [fd[t], *motion[t], *filler[t]]
            cells = ["n/a" if t == 0 else repr(float(v)) for v in row[:1]]
            cells += [repr(float(v)) for v in row[1:]]
            fh.write("\t".join(cells) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="rounds (the best time is kept)")
    ap.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = ap.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench_qc-"))
    folder.mkdir(parents=True, exist_ok=True)
    bold = folder / f"{STEM}_desc-preproc_bold.nii.gz"
    mask = folder / f"{STEM}_desc-brain_mask.nii.gz"
    table = folder / "sub-01_task-rest_desc-confounds_timeseries.tsv"
    if not bold.exists() or not mask.exists():
        _write(bold, 300, mask)
    if not table.exists():
        _confounds(table, 300)
    censor = folder / "censor"
    env = {"SMOOTHCLI_CACHE_DIR": "off", "PATH": "/usr/bin:/bin"}
    exe = str(Path(sys.executable).with_name("smoothcli"))
    common = [exe, "dvars", str(bold), "--mask", str(mask), "-q", "--summary"]
    qc = ["--confounds", "auto", "--censor", str(censor)]
    commands = {
        "dvars --summary --dummy-scans 0 (no QC)": [*common, "--dummy-scans", "0"],
        "dvars --summary (dummy scans detected)": common,
        "dvars --summary --confounds auto --censor DIR": [*common, *qc],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, cmd in commands.items():
            times[name].append(_run(cmd, env)[0])
    base = min(times[next(iter(commands))])
    load = os.getloadavg()[0]
    print(f"300-frame MNI run, best of {args.repeat} fresh processes (load {load:.2f}):")
    ok = True
    for name, found in times.items():
        ratio = min(found) / base
        verdict = ""
        if "censor" in name:
            verdict = "ok" if ratio <= LIMIT else "FAIL"
            ok &= verdict == "ok"
            verdict = f"  (at most {LIMIT:.2f}x: {verdict})"
        print(f"  {name:48s} {min(found):6.2f} s  {ratio:.3f}x{verdict}")
    assert (censor / f"{STEM}_desc-preproc_bold_censor.tsv").is_file()
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
