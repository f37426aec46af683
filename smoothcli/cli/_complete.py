"""Shell completion (bash, zsh, fish, PowerShell): Typer's scripts and completion classes,
and what the options complete to.

Commands, options and the choices of ``--format``, ``--stdin-format``, ``--nan`` complete
from the command's parameters; ``--scalarise`` from the spec language's map names; an option
that takes ``auto`` or a file offers ``auto``. Where nothing is offered (a ``PATH``, a file),
each shell's script falls back to completing file names. Nothing here imports NumPy or JAX.
"""

from __future__ import annotations

import os

#: the environment variable a completion script sets when it asks for completions
COMPLETE_VAR = "_SMOOTHCLI_COMPLETE"
#: the spec language's maps (``smoothcli.scalarise.MAP_NAMES``; a test keeps them equal), and
#: a few whole specs worth offering
MAPS = ("sum", "mean", "meansq", "max", "rms", "norm", "vnorm", "l1", "l2", "linf")
SPECS = ("vnorm(p=1, axis=None)", "rms(axis=space)", "vnorm(p=2, axis=time)")


def init() -> None:
    """Register Typer's completion classes when a completion script is asking (the app is
    made with ``add_completion=False``, for its own ``--show-completion SHELL``)."""
    if os.environ.get(COMPLETE_VAR):
        from typer._completion_classes import completion_init

        completion_init()


def scalarisations(incomplete: str) -> list[str]:
    """Map names and whole specs that start with what was typed."""
    return [s for s in (*SPECS, *MAPS) if s.startswith(incomplete)]


def auto_or_file(incomplete: str) -> list[str]:
    """``auto`` once typed far enough to mean it; else nothing, so the shell completes a
    file name."""
    return ["auto"] if incomplete and "auto".startswith(incomplete) else []
