from __future__ import annotations

import subprocess
import sys

HEAVY = ("jax", "pandas", "nibabel")


def test_help_and_cli_import_do_not_load_heavy_modules():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from smoothcli.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_score_help_and_usage_errors_do_not_load_heavy_modules():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from smoothcli.cli import app\n"
        "r = CliRunner()\n"
        "assert r.invoke(app, ['score', '--help']).exit_code == 0\n"
        "assert r.invoke(app, ['score', 'x.npy', '--scalarise', 'nope(']).exit_code == 2\n"
        "assert r.invoke(app, ['score', 'x.npy', '--axis', 'up']).exit_code == 2\n"
        "assert r.invoke(app, ['score']).exit_code == 2\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


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
