"""File names derived from an input's name, for the files written beside the table
(``--plot`` PNGs, ``--censor`` TSVs): the input's name without its extensions, an NPZ
member's name after it, made unique within a batch."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

#: suffixes taken off an input's name (longest first)
_SUFFIXES = re.compile(r"(\.(dtseries|ptseries)\.nii(\.gz)?|\.(func|shape)\.gii|\.nii(\.gz)?|"
                       r"\.(tsv|csv)(\.gz)?|\.npy|\.npz)$", re.I)  # fmt: skip


def stem(path: str) -> str:
    """The input's file name without its extensions (``stdin`` for ``-``)."""
    return "stdin" if path == "-" else _SUFFIXES.sub("", os.path.basename(path)) or "input"


class Names:
    """Names for one kind of file (``ending``), one per input: two inputs of one name in
    different folders get ``NAME`` and ``NAME-2``, numbered in the order of ``inputs`` (the
    whole batch, given up front, so that a resumed batch gives each input the name it had)."""

    def __init__(self, ending: str, inputs: Iterable[str] = ()) -> None:
        self.ending = ending
        self._stems: dict[str, str] = {}
        self._given: set[str] = set()
        for path in inputs:
            self._stem(path)

    def _stem(self, path: str) -> str:
        if path not in self._stems:
            base = stem(path)
            name, n = base, 1
            while name in self._given:
                n += 1
                name = f"{base}-{n}"
            self._given.add(name)
            self._stems[path] = name
        return self._stems[path]

    def name(self, path: str, array: str | None = None) -> str:
        return self._stem(path) + (f"_{array}" if array else "") + self.ending
