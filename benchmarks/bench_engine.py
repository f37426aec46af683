"""L1 smoothness of a 230000 x 1200 float32 array (1.1 GB): smoothcli.evaluate vs numpy.

Prints GB/s for both, the speed ratio (target >= 3x, aim 5x) and the peak extra memory of
each beyond the input and an initialised JAX runtime (target <= 5% of the input). Each
method runs in its own process so that peaks do not mix; times are the best of --repeat runs
after one warm-up run (which compiles, and touches fresh pages).

    python benchmarks/bench_engine.py [--rows 230000] [--cols 1200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _measure import measure  # benchmarks/, beside this script


def worker(method: str, rows: int, cols: int, repeat: int) -> dict:
    import numpy as np

    X = np.random.default_rng(0).standard_normal((rows, cols), dtype=np.float32)
    if method == "numpy":

        def run() -> float:
            return float(np.abs(np.diff(X)).sum())
    else:
        import smoothcli

        loss = smoothcli.SmoothnessLoss()
        smoothcli.evaluate(loss, X[:64])  # initialise the JAX runtime

        def run() -> float:
            return float(smoothcli.evaluate(loss, X))

    value = run()  # warm-up: compile, fault in pages
    best, extra = measure(run, repeat)
    ref = float(np.abs(np.diff(X.astype(np.float64))).sum()) if method != "numpy" else value
    return {"time": best, "extra": extra, "value": value, "ref": ref, "nbytes": X.nbytes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=230000)
    ap.add_argument("--cols", type=int, default=1200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--worker", choices=["numpy", "smoothcli"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.rows, args.cols, args.repeat)))
        return
    res = {}
    for method in ("numpy", "smoothcli"):
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            method,
            "--rows",
            str(args.rows),
            "--cols",
            str(args.cols),
            "--repeat",
            str(args.repeat),
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        res[method] = json.loads(out.strip().splitlines()[-1])
    nb = res["numpy"]["nbytes"]
    np_, sc = res["numpy"], res["smoothcli"]
    print(f"input: {args.rows} x {args.cols} float32 = {nb / 1e9:.2f} GB")
    print(
        f"numpy  np.abs(np.diff(X)).sum(): {np_['time']:.3f} s  {nb / np_['time'] / 1e9:5.2f} GB/s"
        f"  extra memory {np_['extra'] / 1e6:8.1f} MB"
    )
    print(
        f"smoothcli.evaluate(SmoothnessLoss(), X): {sc['time']:.3f} s  "
        f"{nb / sc['time'] / 1e9:5.2f} GB/s  extra memory {sc['extra'] / 1e6:8.1f} MB"
    )
    speed = np_["time"] / sc["time"]
    mem = sc["extra"] / nb
    rel = abs(sc["value"] - sc["ref"]) / abs(sc["ref"])
    print(f"speed ratio (numpy time / smoothcli time): {speed:.2f}x  (target >= 3x)")
    print(f"extra memory / input: {100 * mem:.2f}%  (target <= 5%)")
    print(
        f"relative error vs float64 numpy: smoothcli {rel:.2e}, "
        f"numpy float32 {abs(np_['value'] - sc['ref']) / abs(sc['ref']):.2e}"
    )
    ok = speed >= 3 and mem <= 0.05
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
