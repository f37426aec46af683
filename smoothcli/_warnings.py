"""smoothcli's warning class, in a module that imports nothing heavy."""

from __future__ import annotations


class SmoothcliWarning(UserWarning):
    """A smoothcli notice, such as a fall-back to whole-array evaluation."""
