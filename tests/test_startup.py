from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("jax", "pandas", "nibabel")


def heavy_modules_after(*invocations: list[str]) -> list[str]:
    """Run CLI invocations in a fresh interpreter; return the heavy modules they imported.
    Each entry is ``[expected exit code, *args]``."""
    lines = ["import sys", "from typer.testing import CliRunner", "from smoothcli.cli import app"]
    for code, *args in invocations:
        lines.append(f"r = CliRunner().invoke(app, {args!r})")
        lines.append(f"assert r.exit_code == {code}, (r.exit_code, r.output)")
    lines.append(
        f"import json; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "\n".join(lines)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_help_does_not_load_heavy_modules():
    assert heavy_modules_after([0, "--help"], [0, "score", "--help"]) == []


def test_usage_errors_do_not_load_heavy_modules():
    assert (
        heavy_modules_after(
            [2, "score", "x.npy", "--scalarise", "nope("],
            [2, "score", "x.npy", "--axis", "up"],
            [2, "score"],
            [2, "score", "x.npy", "--format", "xml"],
        )
        == []
    )


def test_python_dash_m_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "smoothcli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.startswith("smoothcli ")


def test_spec_command_prints_canonical_form_or_exits_2():
    ok = subprocess.run(
        [sys.executable, "-m", "smoothcli", "spec", "l1"], capture_output=True, text=True
    )
    assert (ok.returncode, ok.stdout.strip()) == (0, "vnorm(p=1, axis=None)")
    bad = subprocess.run(
        [sys.executable, "-m", "smoothcli", "spec", "vnorm(q=1)"], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert "has no argument 'q'" in bad.stderr
    assert "Traceback" not in bad.stderr
