"""Set JAX up for smoothcli, explicitly: the CLI (and each worker process) calls
:func:`configure` before JAX starts a backend. Importing smoothcli changes nothing in JAX.

XLA runs one computation at a time per device, so the engine gets both cores of a 2-core
machine only if JAX exposes two CPU devices. smoothcli only computes on the CPU, so JAX is also
told to use the CPU platform (unless ``JAX_PLATFORMS`` says otherwise): no "a GPU may be
present ... falling back to cpu" warning is ever printed.

Compiled kernels are kept between runs in JAX's persistent compilation cache, in a user cache
folder (:func:`cache_dir`), so that a second ``smoothcli score`` of a small file does not
compile again. A folder that cannot be created or written turns the cache off, silently.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys

__all__ = ["CACHE_OFF", "cache_dir", "configure", "cpu_count"]

_configured = False

#: values of ``SMOOTHCLI_CACHE_DIR`` that turn the compilation cache off (so does empty)
CACHE_OFF = frozenset({"off", "0", "no", "none", "false"})

#: the smallest compile time (seconds) of a kernel kept in the cache: every kernel of
#: smoothcli's compiles in well under JAX's default of one second, and all are worth keeping
_MIN_COMPILE_SECS = 0.0


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


#: the XLA flag that asks for CPU devices, for a JAX older than 0.5 (no jax_num_cpu_devices)
_XLA_DEVICES = "--xla_force_host_platform_device_count="
#: set (and inherited by worker processes) while that flag in XLA_FLAGS is smoothcli's own
_OWN_XLA_FLAG = "SMOOTHCLI_XLA_DEVICE_FLAG"


def jax_version() -> tuple[int, ...]:
    """The installed JAX's version, as numbers (without importing JAX); () if unknown."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = version("jax")
    except PackageNotFoundError:
        return ()
    digits = ["".join(filter(str.isdigit, piece)) for piece in text.split(".")[:3]]
    return tuple(int(d) for d in itertools.takewhile(bool, digits))


def _own_xla_flag(count: int | None) -> None:
    """Put smoothcli's device flag in XLA_FLAGS (``count``), or take it out (``None``)."""
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith(_XLA_DEVICES)]
    if count is not None:
        flags.append(f"{_XLA_DEVICES}{count}")
        os.environ[_OWN_XLA_FLAG] = "1"
    else:
        os.environ.pop(_OWN_XLA_FLAG, None)
    if flags:
        os.environ["XLA_FLAGS"] = " ".join(flags)
    else:
        os.environ.pop("XLA_FLAGS", None)


def _device_count(cpu_devices: int | None) -> int | None:
    """How many CPU devices to ask for; ``None`` when the user has told JAX already."""
    if os.environ.get(_OWN_XLA_FLAG) and "jax" not in sys.modules:
        _own_xla_flag(None)  # inherited from the process that started this one: not ours
    flags = os.environ.get("XLA_FLAGS", "")
    if "JAX_NUM_CPU_DEVICES" in os.environ or "xla_force_host_platform_device_count" in flags:
        return None
    if cpu_devices is not None:
        return max(int(cpu_devices), 1)
    wanted = os.environ.get("SMOOTHCLI_CPU_DEVICES", "").strip()
    return int(wanted) if wanted.isdigit() and int(wanted) > 0 else cpu_count()


def cache_dir() -> str | None:
    """The folder of smoothcli's persistent compilation cache, or ``None`` when it is off. It
    is opt-in: ``SMOOTHCLI_CACHE_DIR`` names its folder, or is ``auto`` for
    ``$XDG_CACHE_HOME/smoothcli/jax`` (else ``~/.cache/smoothcli/jax``); unset, empty or ``off``:
    none (JAX writes its cache files without a lock and never prunes them)."""
    wanted = os.environ.get("SMOOTHCLI_CACHE_DIR", "").strip()
    if not wanted or wanted.lower() in CACHE_OFF:
        return None
    if wanted.lower() != "auto":
        return os.path.abspath(os.path.expanduser(wanted))
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if not os.path.isabs(base):  # unset, empty or relative: the XDG spec says ignore it
        home = os.path.expanduser("~")
        if home == "~":  # no home to speak of
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "smoothcli", "jax")


def _writable(path: str) -> bool:
    """Create ``path`` if needed and check that a file can be written in it; never raises."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".probe-{os.getpid()}")
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        os.unlink(probe)
    except (OSError, ValueError):  # not a folder, read-only, no permission, NUL in the name
        return False
    return True


def _set(option: str, value: object) -> None:
    """A JAX option: in JAX's config if JAX is imported, else in the environment it reads."""
    jax = sys.modules.get("jax")
    if jax is not None:
        with contextlib.suppress(RuntimeError, AttributeError, ValueError):
            jax.config.update(option, value)
    else:
        os.environ[option.upper()] = str(value)


def _configure_cache() -> None:
    """Turn JAX's persistent compilation cache on in :func:`cache_dir` if that folder can be
    written, else off. ``SMOOTHCLI_CACHE_DIR`` decides when set; when it is not, a cache the
    user has given JAX (``JAX_COMPILATION_CACHE_DIR``, or JAX's config) is left as it is."""
    if "SMOOTHCLI_CACHE_DIR" not in os.environ:
        if "JAX_COMPILATION_CACHE_DIR" in os.environ:
            return
        jax = sys.modules.get("jax")
        if jax is not None and getattr(jax.config, "jax_compilation_cache_dir", None):
            return
    path = cache_dir()
    if path is None or not _writable(path):
        _set("jax_enable_compilation_cache", False)  # also over an inherited JAX setting
        return
    _set("jax_enable_compilation_cache", True)
    _set("jax_compilation_cache_dir", path)
    _set("jax_persistent_cache_min_compile_time_secs", _MIN_COMPILE_SECS)


def configure(*, cpu_devices: int | None = None) -> None:
    """Configure JAX for smoothcli before it starts a backend (only the first call acts; a
    started backend keeps its devices). ``cpu_devices``: CPU devices for JAX, by default
    ``SMOOTHCLI_CPU_DEVICES``, else one per CPU this process may use; ``JAX_NUM_CPU_DEVICES``
    or XLA's ``--xla_force_host_platform_device_count``, when set, win over both. Also sets
    ``JAX_PLATFORMS=cpu`` (inherited by workers) unless the user has, and turns the
    compilation cache on or off (:func:`_configure_cache`). Settings go to JAX's config, or to
    ``os.environ`` before JAX is imported."""
    global _configured
    if _configured:
        return
    _configured = True
    jax = sys.modules.get("jax")
    if "JAX_PLATFORMS" not in os.environ:
        os.environ["JAX_PLATFORMS"] = "cpu"
        if jax is not None:  # imported already: its config read the environment
            with contextlib.suppress(RuntimeError, AttributeError, ValueError):
                if not jax.config.jax_platforms:
                    jax.config.update("jax_platforms", "cpu")
    _configure_cache()
    count = _device_count(cpu_devices)
    if count is None or count <= 1:
        return
    if jax is None and jax_version() < (0, 5):  # no jax_num_cpu_devices: XLA's own flag
        _own_xla_flag(count)
        return
    if jax is None:  # JAX reads it when imported; smoothcli._jax then takes it back out
        os.environ["JAX_NUM_CPU_DEVICES"] = str(count)
        _for_this_process.add("JAX_NUM_CPU_DEVICES")
        return
    with contextlib.suppress(RuntimeError, AttributeError):  # a started backend keeps its own
        jax.config.update("jax_num_cpu_devices", count)


#: settings put in the environment for this process's JAX only, not for its children
_for_this_process: set[str] = set()


def jax_imported() -> None:
    """JAX has read its settings: take those meant for this process alone out of the
    environment, so that a worker process does not inherit this one's device count."""
    while _for_this_process:
        os.environ.pop(_for_this_process.pop(), None)
