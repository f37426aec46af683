"""Time a function and the memory it adds, in this process (Linux ``/proc``): shared by the
in-process benchmarks, each of which runs every method in a fresh process of its own."""

from __future__ import annotations

import time
from collections.abc import Callable


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:  # "5" resets VmHWM, the peak RSS
        fh.write("5")


def measure(run: Callable[[], object], repeat: int) -> tuple[float, int]:
    """The best time of ``repeat`` calls of ``run`` and the most memory (bytes of peak RSS
    above the RSS before the call) any of them added. Warm ``run`` up first."""
    times, peaks = [], []
    for _ in range(repeat):
        base = _status("VmRSS")
        _reset_peak()
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
        peaks.append(_status("VmHWM") - base)
    return min(times), max(peaks)
