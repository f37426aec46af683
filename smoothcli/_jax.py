"""JAX, imported in one place for smoothcli's computing modules.

Importing this changes nothing in JAX's configuration: :func:`smoothcli.runtime.configure`
does that, when the CLI asks for it.
"""

from __future__ import annotations

import jax

from . import runtime

runtime.jax_imported()

__all__ = ["jax"]
