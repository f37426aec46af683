"""``dvars --censor DIR``: one censor file per run, ``DIR/<input name>_censor.tsv``
(:func:`smoothcli.qc.censor_table`), written by this process as each input's result comes
back (a worker, local or on a cluster, writes nothing)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ._names import Names
from ._run import Usage

__all__ = ["Censor"]


@dataclass
class Censor:
    """Where censor files go (``folder``; ``None``: nowhere), checked before any work; the
    files an input's result asks for, written as it comes back."""

    folder: str | None = None
    protect: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    _names: Names = field(default_factory=lambda: Names("_censor.tsv"))

    def check(self, inputs: list[str]) -> None:
        """A usage error for a folder that cannot be made, or a censor file that would be
        one of the command's inputs (or its table, mask, ...)."""
        if self.folder is None:
            return
        from ..output import OutputError, check_target

        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as exc:
            raise Usage(
                f"cannot make the folder {self.folder}: {exc.strerror}", "--censor"
            ) from None
        names = Names(self._names.ending)  # the names the inputs will get, checked now
        for path in inputs:
            try:
                check_target(self._path(names, path), protect=self.protect, sidecar=False)
            except OutputError as exc:
                raise Usage(str(exc), "--censor") from None

    def _path(self, names: Names, path: str, array: str | None = None) -> str:
        assert self.folder is not None
        return os.path.join(self.folder, names.name(path, array))

    def add(self, result: Any) -> str | None:
        """Write the censor file of each run of ``result``; the error, if one could not be."""
        if self.folder is None:
            return None
        from ..output import OutputError, check_target
        from ..qc import censor_table

        for run in result.runs:
            path = self._path(self._names, result.path, run.array)
            try:
                target = check_target(path, protect=self.protect, sidecar=False)
                with target.open() as stream:
                    stream.write(censor_table(run.frames, run.dummy, run.failed))
            except (OutputError, OSError) as exc:
                return (
                    f"cannot write the censor file {path}: {getattr(exc, 'strerror', None) or exc}"
                )
            self.written.append(path)
        return None
