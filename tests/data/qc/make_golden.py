"""Golden values for smoothcli's QC from the real nipype: its ``NonSteadyStateDetector``
count on every run of ``tree/`` and on the real runs in ``tests/data``, and its
``FramewiseDisplacement`` on the motion columns of every confounds table here and of the
real fMRIPrep table ``tests/data/real/test-v21_desc-confounds_timeseries.tsv``.

Run it from the repository root, in a throwaway venv that has nipype (never the project's):

    python3.11 -m venv /tmp/nipype-venv
    /tmp/nipype-venv/bin/pip install nipype nibabel numpy pandas
    /tmp/nipype-venv/bin/python tests/data/qc/make_golden.py

It writes ``golden.json`` (numbers only; nipype is only called, none of its code is copied).
The test suite never runs this script.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from importlib.metadata import version
from pathlib import Path

os.environ.setdefault("NIPYPE_NO_ET", "1")  # no update check over the network

import numpy as np
import pandas as pd
from nipype.algorithms.confounds import FramewiseDisplacement, NonSteadyStateDetector

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
DATA = ROOT / "tests" / "data"
IMAGES = [
    *sorted((HERE / "tree").rglob("*_desc-preproc_bold.nii.gz")),
    DATA / "real" / "fmri2.nii.gz",
    DATA / "dvars" / "synth_bold.nii.gz",
]
TABLES = [
    *sorted((HERE / "tree").rglob("*_desc-confounds_timeseries.tsv")),
    DATA / "real" / "test-v21_desc-confounds_timeseries.tsv",
]
MOTION = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def dummy(path: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            result = NonSteadyStateDetector(in_file=str(path)).run()
        finally:
            os.chdir(cwd)
    return int(result.outputs.n_volumes_to_discard)


def fd(path: Path) -> list[float | None]:
    table = pd.read_csv(path, sep="\t", na_values="n/a")
    with tempfile.TemporaryDirectory() as tmp:
        params = Path(tmp) / "motion.txt"
        np.savetxt(params, table[MOTION].to_numpy(), fmt="%.17g")
        out = Path(tmp) / "fd.txt"
        FramewiseDisplacement(in_file=str(params), parameter_source="SPM", out_file=str(out)).run(
            cwd=tmp
        )
        values = np.loadtxt(out, skiprows=1)
    return [None, *map(float, values)]


def main() -> None:
    golden = {
        "versions": {
            "python": platform.python_version(),
            "nipype": version("nipype"),
            "numpy": version("numpy"),
            "nibabel": version("nibabel"),
        },
        "NonSteadyStateDetector": {rel(p): dummy(p) for p in IMAGES},
        "FramewiseDisplacement": {rel(p): fd(p) for p in TABLES},
    }
    (HERE / "golden.json").write_text(json.dumps(golden, indent=1) + "\n")


if __name__ == "__main__":
    main()
