"""The Typer app: ``smoothcli score`` and ``smoothcli spec``.

Heavy modules (jax, pandas, nibabel) load inside the commands only, after the options are
valid, so ``--help``, completion and usage errors stay fast.
"""

from __future__ import annotations

from ._app import app

__all__ = ["app"]
