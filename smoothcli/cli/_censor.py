"""``dvars --censor DIR``: one censor file per run, ``DIR/<input name>_censor.tsv``
(:func:`smoothcli.qc.censor_table`), written by this process as each input's result comes
back (a worker, local or on a cluster, writes nothing)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ._names import Names
from ._usage import Usage, as_usage, make_folder

ENDING = "_censor.tsv"


def is_censor(head: bytes) -> bool:
    """Whether a file's first bytes are a censor file's (only such a file is replaced)."""
    return head.startswith(b"frame\tcensor")


def _target(path: str, protect: list[str]) -> Any:
    """A censor file's target: never a link, never a file smoothcli did not write."""
    from ..output import check_target

    return check_target(path, protect=protect, derived=True, ours=is_censor)


@dataclass
class Censor:
    """Where censor files go (``folder``; ``None``: nowhere), checked before any work; the
    files an input's result asks for, written as it comes back."""

    folder: str | None = None
    protect: list[str] = field(default_factory=list)  # what the command reads
    outputs: list[str] = field(default_factory=list)  # what it writes (may not exist yet)
    written: list[str] = field(default_factory=list)
    _names: Names = field(default_factory=lambda: Names(ENDING))

    def check(self, inputs: list[str]) -> None:
        """Name every input's censor file (the whole batch, so that a resumed batch gives
        each its name again); a usage error for a folder that cannot be made, or a censor
        file that would be one of the command's inputs, its mask, or what it writes."""
        if self.folder is None:
            return
        from ..output import OutputError

        self._names = Names(ENDING, inputs)
        make_folder(self.folder, "--censor")
        ours = {os.path.realpath(p) for p in self.outputs}
        for path in inputs:
            where = self._path(path)
            if os.path.realpath(where) in ours:
                message = f"{where} is where the table, its sidecar or the report goes"
                raise Usage(message, "--censor")
            with as_usage("--censor", OutputError):
                _target(where, self.protect)

    def _path(self, path: str, array: str | None = None) -> str:
        assert self.folder is not None
        return os.path.join(self.folder, self._names.name(path, array))

    def add(self, result: Any) -> str | None:
        """Write the censor file of each run of ``result``; the error, if one could not be."""
        if self.folder is None:
            return None
        from ..output import OutputError
        from ..qc import censor_table

        for run in result.runs:
            path = self._path(result.path, run.array)
            try:
                target = _target(path, self.protect)
                with target.open() as stream:
                    stream.write(censor_table(run.frames, run.dummy, run.failed))
            except (OutputError, OSError) as exc:
                reason = getattr(exc, "strerror", None) or exc
                return f"cannot write the censor file {path}: {reason}"
            self.written.append(path)
        return None

    def finish(self, meta: dict) -> str:
        """The words for the summary line."""
        return f"; {len(self.written)} censor file(s) in {self.folder}" if self.folder else ""
