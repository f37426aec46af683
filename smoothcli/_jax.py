"""Import JAX configured for smoothcli: one CPU device per core, set before JAX starts.

XLA runs one computation at a time per device, so the engine gets both cores of a 2-core
machine only if JAX exposes two CPU devices. This is set only when JAX has not started a
backend yet and neither ``JAX_NUM_CPU_DEVICES`` nor ``SMOOTHCLI_CPU_DEVICES`` nor an XLA
host-device-count flag says otherwise. ``SMOOTHCLI_CPU_DEVICES=1`` turns it off.
"""

from __future__ import annotations

import contextlib
import os

import jax


def _cpu_count() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _configure() -> None:
    if "JAX_NUM_CPU_DEVICES" in os.environ:
        return
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    wanted = os.environ.get("SMOOTHCLI_CPU_DEVICES", "").strip()
    count = int(wanted) if wanted.isdigit() and int(wanted) > 0 else _cpu_count()
    if count > 1:
        # a backend that already started keeps what the user has
        with contextlib.suppress(RuntimeError, AttributeError):
            jax.config.update("jax_num_cpu_devices", count)


_configure()

__all__ = ["jax"]
