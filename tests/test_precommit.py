"""The hooks of ``.pre-commit-hooks.yaml`` under the real pre-commit, in a temporary git
repository of data files: pre-commit installs smoothcli from this checkout into its own
environment (from the package index), runs the hook on the files given, and passes or fails
the way a commit would. Each installation takes half a minute or so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import ROOT

BIN = Path(sys.executable).parent
TREE = ROOT / "tests" / "data" / "qc" / "tree"
GOOD_RUN = "sub-01/func/sub-01_task-rest_desc-preproc_bold.nii.gz"
SPIKE_RUN = "sub-03/ses-1/func/sub-03_ses-1_task-rest_run-1_desc-preproc_bold.nii.gz"

pytestmark = pytest.mark.skipif(
    not (ROOT / ".git").exists() or shutil.which("git") is None,
    reason="pre-commit installs hooks from a git repository: needs git and a git checkout",
)


def pre_commit(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run(
        [str(BIN / "pre-commit"), *args], cwd=repo, env=env, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip


@pytest.fixture
def data_repo(tmp_path) -> Path:
    """A git repository of data: two fMRIPrep runs (with their masks) and two tables, one
    smooth and one rough."""
    repo = tmp_path / "data"
    for sub in ("sub-01", "sub-03"):
        shutil.copytree(TREE / sub, repo / sub)
    t = np.linspace(0, 1, 50)
    np.savetxt(repo / "smooth.csv", np.sin(2 * np.pi * t), delimiter=",")
    rough = np.random.default_rng(0).standard_normal(50) * 10
    np.savetxt(repo / "rough.csv", rough, delimiter=",")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    return repo


def test_try_repo_dvars_passes_a_good_run_and_fails_a_run_with_a_spike(data_repo, tmp_path):
    home = tmp_path / "pre-commit-home"
    good = pre_commit(
        data_repo, home, "try-repo", str(ROOT), "smoothcli-dvars", "--verbose", "--files",
        GOOD_RUN,
    )  # fmt: skip
    assert good.returncode == 0, good.stdout + good.stderr
    assert "smoothcli dvars" in good.stdout and "Passed" in good.stdout
    assert GOOD_RUN in good.stdout  # --verbose shows the summary row
    bad = pre_commit(
        data_repo, home, "try-repo", str(ROOT), "smoothcli-dvars", "--files", SPIKE_RUN
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout and "exit code: 1" in bad.stdout
    row = next(line for line in bad.stdout.splitlines() if line.startswith(SPIKE_RUN))
    cells = row.split("\t")
    assert "fail" in cells and "2 of 76 frames failed (frames 50, 51)" in cells
    assert "fail: " + SPIKE_RUN in bad.stdout  # and the one-line reason from stderr


def test_score_hook_with_a_threshold_in_args(data_repo, tmp_path):
    """A data repository's own config: the hook at this checkout's commit, a threshold in
    ``args``; one environment serves both runs."""
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (data_repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {ROOT}\n  rev: {rev}\n  hooks:\n"
        "  - id: smoothcli-score\n    args: [--fail-above, '10']\n"
    )
    home = tmp_path / "pre-commit-home"
    good = pre_commit(data_repo, home, "run", "--files", "smooth.csv")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "smoothcli score" in good.stdout and "Passed" in good.stdout
    bad = pre_commit(data_repo, home, "run", "--files", "smooth.csv", "rough.csv")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    rows = [line.split("\t") for line in bad.stdout.splitlines() if ".csv\t" in line]
    assert {r[0]: "fail" in r for r in rows} == {"smooth.csv": False, "rough.csv": True}
    assert "fail: rough.csv" in bad.stdout
