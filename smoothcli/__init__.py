"""smoothcli: how smooth is a signal? hypercoil's smoothness score, in JAX, with a CLI.

The public API loads lazily, so that ``smoothcli --help`` never pays for importing JAX.
"""

from __future__ import annotations

import os as _os
import sys as _sys


def _named_smoothcli() -> bool:
    """Whether ``sys.argv`` (or the main module) is the ``smoothcli`` program's: its script,
    or ``python -m smoothcli``, during which ``sys.argv[0]`` is ``-m``."""
    main = _sys.modules.get("__main__")
    names = [_sys.argv[0] if _sys.argv else "", getattr(main, "__file__", None) or ""]
    bases = [_os.path.basename(n).lower().removesuffix(".exe") for n in names]
    return "-m" in names or any(b.removesuffix("-script.py") == "smoothcli" for b in bases)


#: a worker process the program spawned (--jobs, --dask local): it has the program's
#: sys.argv, and its own command line is multiprocessing's
_WORKER = "--multiprocessing-fork" in getattr(_sys, "orig_argv", ())

if _WORKER and _named_smoothcli():  # Ctrl-C is the program's, which stops its workers
    import _signal

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
elif _named_smoothcli():  # Ctrl-C from smoothcli's first line on: exit 130, one line
    import _signal  # built in: no time to import (the signal module takes a few ms)

    _early: list[int] = []  # a signal that arrives while the handlers' module loads
    for _signum in (_signal.SIGINT, _signal.SIGTERM):
        _signal.signal(_signum, lambda signum, frame: _early.append(signum))
    from ._signals import take_over

    take_over(_early)

from typing import TYPE_CHECKING, Any  # noqa: E402

from ._version import __version__  # noqa: E402

#: each public name, by the module it is loaded from
_EXPORTS = {
    name: module
    for module, names in {
        "loss": ("SmoothnessLoss", "smoothness"),
        "engine": ("evaluate", "evaluate_info", "Evaluation"),
        "batch": ("score_paths", "ScoreOptions", "dvars_paths", "DvarsOptions"),
        "sources._source": ("ArraySource", "ChunkedSource"),
        "_warnings": ("SmoothcliWarning",),
        "scalarise": (
            "ScalarisationMap", "parse_scalarisation", "sum_scalarise", "mean_scalarise",
            "meansq_scalarise", "max_scalarise", "rms_scalarise", "norm_scalarise",
            "vnorm_scalarise",
        ),
    }.items()
    for name in names
}  # fmt: skip

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from ._warnings import SmoothcliWarning as SmoothcliWarning
    from .batch import DvarsOptions as DvarsOptions
    from .batch import ScoreOptions as ScoreOptions
    from .batch import dvars_paths as dvars_paths
    from .batch import score_paths as score_paths
    from .engine import Evaluation as Evaluation
    from .engine import evaluate as evaluate
    from .engine import evaluate_info as evaluate_info
    from .loss import SmoothnessLoss as SmoothnessLoss
    from .loss import smoothness as smoothness
    from .scalarise import ScalarisationMap as ScalarisationMap
    from .scalarise import max_scalarise as max_scalarise
    from .scalarise import mean_scalarise as mean_scalarise
    from .scalarise import meansq_scalarise as meansq_scalarise
    from .scalarise import norm_scalarise as norm_scalarise
    from .scalarise import parse_scalarisation as parse_scalarisation
    from .scalarise import rms_scalarise as rms_scalarise
    from .scalarise import sum_scalarise as sum_scalarise
    from .scalarise import vnorm_scalarise as vnorm_scalarise
    from .sources._source import ArraySource as ArraySource
    from .sources._source import ChunkedSource as ChunkedSource


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'smoothcli' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
