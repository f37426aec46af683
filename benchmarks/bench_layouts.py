"""smoothcli.evaluate vs NumPy on a 91 x 109 x 91 x 300 float32 array (1.08 GB, time last)
in C and in Fortran order (as nibabel returns it), for the default L1 and for DVARS.

The four cases, each against the NumPy expression in the same run:

    L1:   np.abs(np.diff(X, axis=-1)).sum()
    rms:  np.sqrt((np.diff(X, axis=-1) ** 2).mean(axis=(0, 1, 2), dtype=np.float64))
          (smoothcli: SmoothnessLoss(scalarisation=rms_scalarise(axis="space")))

Every method and case runs in its own process, so that peaks do not mix; times are the best of
--repeat runs after one warm-up run (which compiles, and touches fresh pages), and the extra
memory is the peak RSS beyond the input and an initialised JAX runtime. Targets: smoothcli at
least 3x faster than NumPy in every case, with at most 5% of the input in extra memory.

    python benchmarks/bench_layouts.py [--shape 91,109,91,300] [--repeat 5] [--cases C-l1,F-rms]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _measure import measure  # benchmarks/, beside this script

CASES = ("C-l1", "C-rms", "F-l1", "F-rms")


def _array(shape: tuple[int, ...], order: str):
    import numpy as np

    rng = np.random.default_rng(0)
    if order == "F":  # generated time-first and viewed reversed: F-ordered, no copy
        return rng.standard_normal(shape[::-1], dtype=np.float32).T
    return rng.standard_normal(shape, dtype=np.float32)


def worker(method: str, case: str, shape: tuple[int, ...], repeat: int) -> dict:
    import numpy as np

    order, kind = case.split("-")
    X = _array(shape, order)
    assert X.flags.f_contiguous if order == "F" else X.flags.c_contiguous
    space = tuple(range(X.ndim - 1))
    if method == "numpy":
        if kind == "l1":

            def run() -> np.ndarray:
                return np.asarray(np.abs(np.diff(X, axis=-1)).sum())
        else:

            def run() -> np.ndarray:
                return np.sqrt((np.diff(X, axis=-1) ** 2).mean(axis=space, dtype=np.float64))
    else:
        import smoothcli

        if kind == "l1":
            loss = smoothcli.SmoothnessLoss()
        else:
            loss = smoothcli.SmoothnessLoss(
                scalarisation=smoothcli.parse_scalarisation("rms(axis=space)")
            )
        small = np.asfortranarray(X[..., :8]) if order == "F" else X[:2]
        smoothcli.evaluate(loss, small)  # initialise the JAX runtime

        def run() -> np.ndarray:
            return np.asarray(smoothcli.evaluate(loss, X))

    value = run()  # warm-up: compile, fault in pages
    best, extra = measure(run, repeat)
    error = None
    if method != "numpy":  # against float64, computed after the timed runs
        D = np.diff(X, axis=-1).astype(np.float64)
        ref = np.abs(D).sum() if kind == "l1" else np.sqrt((D**2).mean(axis=space))
        error = float(np.max(np.abs(value / ref - 1)))
    return {
        "time": best,
        "extra": extra,
        "error": error,
        "nbytes": X.nbytes,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="91,109,91,300")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--worker", choices=["numpy", "smoothcli"], help=argparse.SUPPRESS)
    ap.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    shape = tuple(int(s) for s in args.shape.split(","))
    if args.worker:
        print(json.dumps(worker(args.worker, args.case, shape, args.repeat)))
        return
    cases = [c for c in args.cases.split(",") if c]
    for c in cases:
        if c not in CASES:
            ap.error(f"unknown case {c!r}; use {', '.join(CASES)}")
    print(f"input: {' x '.join(map(str, shape))} float32, time last; best of {args.repeat}")
    print(
        f"{'case':<7} {'numpy':>8} {'smoothcli':>10} {'speed-up':>9} "
        f"{'numpy extra':>12} {'smoothcli extra':>16} {'rel. error':>10}"
    )
    ok = True
    for case in cases:
        res = {}
        for method in ("numpy", "smoothcli"):
            cmd = [sys.executable, __file__, "--worker", method, "--case", case]
            cmd += ["--shape", args.shape, "--repeat", str(args.repeat)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            res[method] = json.loads(out.strip().splitlines()[-1])
        np_, sc = res["numpy"], res["smoothcli"]
        nb = np_["nbytes"]
        speed = np_["time"] / sc["time"]
        mem = sc["extra"] / nb
        good = speed >= 3 and mem <= 0.05
        ok &= good
        print(
            f"{case:<7} {np_['time']:7.3f}s {sc['time']:9.3f}s {speed:8.2f}x "
            f"{np_['extra'] / 1e6:9.0f} MB {sc['extra'] / 1e6:8.1f} MB ({100 * mem:4.2f}%) "
            f"{sc['error']:10.1e}  {'ok' if good else 'MISS'}",
            flush=True,
        )
    print("targets: speed-up >= 3x, extra memory <= 5% of the input")
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
