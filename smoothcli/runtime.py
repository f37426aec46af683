"""Set JAX up for smoothcli, explicitly: the CLI (and each worker process) calls
:func:`configure` before JAX starts a backend. Importing smoothcli changes nothing in JAX.

XLA runs one computation at a time per device, so the engine gets both cores of a 2-core
machine only if JAX exposes two CPU devices. smoothcli only computes on the CPU, so JAX is also
told to use the CPU platform (unless ``JAX_PLATFORMS`` says otherwise): no "a GPU may be
present ... falling back to cpu" warning is ever printed.
"""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["configure", "cpu_count"]

_configured = False


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _device_count(cpu_devices: int | None) -> int | None:
    """How many CPU devices to ask for; ``None`` when the user has told JAX already."""
    if "JAX_NUM_CPU_DEVICES" in os.environ:
        return None
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return None
    if cpu_devices is not None:
        return max(int(cpu_devices), 1)
    wanted = os.environ.get("SMOOTHCLI_CPU_DEVICES", "").strip()
    return int(wanted) if wanted.isdigit() and int(wanted) > 0 else cpu_count()


def configure(*, cpu_devices: int | None = None) -> None:
    """Configure JAX for smoothcli's computations; call it before JAX starts a backend.

    Parameters
    ----------
    cpu_devices
        How many CPU devices JAX should expose. By default ``SMOOTHCLI_CPU_DEVICES`` if
        set, else one per CPU this process may use. ``JAX_NUM_CPU_DEVICES`` or an XLA
        ``--xla_force_host_platform_device_count`` flag, when set, win over both.

    Notes
    -----
    Sets ``JAX_PLATFORMS=cpu`` in ``os.environ`` (inherited by worker processes) unless the
    user has set ``JAX_PLATFORMS``. Idempotent: only the first call in a process acts, and a
    backend that has already started keeps the devices it has.
    """
    global _configured
    if _configured:
        return
    _configured = True
    if "JAX_PLATFORMS" not in os.environ:
        os.environ["JAX_PLATFORMS"] = "cpu"
        if "jax" in sys.modules:  # imported already: its config read the environment
            jax = sys.modules["jax"]
            with contextlib.suppress(RuntimeError, AttributeError, ValueError):
                if not jax.config.jax_platforms:
                    jax.config.update("jax_platforms", "cpu")
    count = _device_count(cpu_devices)
    if count is None or count <= 1:
        return
    import jax

    with contextlib.suppress(RuntimeError, AttributeError):  # a started backend keeps its own
        jax.config.update("jax_num_cpu_devices", count)
