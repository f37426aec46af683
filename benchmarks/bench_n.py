"""Does the time of a score grow with the order of differences n beyond the work itself?

Writes a 3000 x 1 CSV, then times the installed ``smoothcli score`` on it with ``-n 1`` and
``-n 300`` (each in fresh processes, so compilation and start-up count, as they do for a
user), and ``smoothcli.evaluate`` in this process on the same array (compiled once, then
timed). Prints the times and the ratio; exits 1 if ``-n 300`` takes more than 3x ``-n 1``.

    python benchmarks/bench_n.py [--rows 3000] [--n 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cli() -> list[str]:
    exe = shutil.which("smoothcli") or str(Path(sys.executable).with_name("smoothcli"))
    if not Path(exe).exists():
        return [sys.executable, "-m", "smoothcli"]
    return [exe]


def time_cli(path: Path, n: int, repeat: int) -> tuple[float, str]:
    """Best wall time of ``smoothcli score PATH -n N`` over ``repeat`` fresh processes."""
    best, out = float("inf"), ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [*_cli(), "score", str(path), "-n", str(n), "-q"],
            capture_output=True,
            text=True,
            check=False,
        )
        best = min(best, time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"smoothcli score -n {n} exited {proc.returncode}:\n{proc.stderr}")
        out = proc.stdout
    return best, out


def time_evaluate(X, n: int, repeat: int) -> tuple[float, float, float]:
    """(first call including compilation, best later call, value) of ``evaluate``."""
    from smoothcli import SmoothnessLoss, evaluate

    loss = SmoothnessLoss(n=n, axis=0)
    t0 = time.perf_counter()
    value = float(evaluate(loss, X))
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(max(repeat, 3)):
        t0 = time.perf_counter()
        evaluate(loss, X)
        best = min(best, time.perf_counter() - t0)
    return first, best, value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import numpy as np

    X = np.random.default_rng(0).standard_normal((args.rows, 1))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "signal.csv"
        np.savetxt(path, X, delimiter=",", header="signal", comments="", fmt="%.17g")
        X = np.loadtxt(path, delimiter=",", skiprows=1).reshape(-1, 1)
        cli = {n: time_cli(path, n, args.repeat)[0] for n in (1, args.n)}
    ev = {n: time_evaluate(X, n, args.repeat) for n in (1, args.n)}

    big = args.n
    print(f"input: {args.rows} x 1 CSV (float64)")
    for n in (1, big):
        first, best, _ = ev[n]
        print(
            f"-n {n:<4d} smoothcli score (fresh process): {cli[n]:7.3f} s   "
            f"evaluate: first call {first:7.3f} s, then {best * 1e3:8.3f} ms"
        )
    ratio = cli[big] / cli[1]
    print(f"CLI ratio -n {big} / -n 1: {ratio:.2f}x  (target <= 3x)")
    print(f"evaluate ratio (compiled): {ev[big][1] / ev[1][1]:.2f}x")
    ok = ratio <= 3
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
