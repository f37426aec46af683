"""JAX, imported in one place for smoothcli's computing modules.

Importing this changes nothing in JAX's configuration: :func:`smoothcli.runtime.configure`
does that, when the CLI asks for it.
"""

from __future__ import annotations

from typing import Any

import jax

from . import runtime

runtime.jax_imported()


def enable_x64(on: bool = True) -> Any:
    """A context in which JAX computes in float64: ``jax.enable_x64`` (JAX 0.8 and newer),
    else ``jax.experimental.enable_x64``."""
    native = getattr(jax, "enable_x64", None)
    if native is not None:
        return native(on)
    from jax.experimental import enable_x64 as scoped

    return scoped(on)
