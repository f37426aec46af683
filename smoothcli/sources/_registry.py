"""One ordered list of the formats smoothcli reads: names, file suffixes, magic bytes and the
function that opens each (a lazy ``"module:function"`` string, so that naming formats never
imports a reader). Every other list of formats (``FORMATS``, ``--stdin-format``, help texts,
file discovery, sniffing stdin) derives from :data:`READERS`.

A file's name decides its format, by its longest known suffix (``.dtseries.nii`` before
``.nii``, ``.tsv.gz`` before anything gzip). A name with no known suffix, and stdin, are
sniffed: the first bytes, by magic (see :mod:`._magic`). A gzip'd table on stdin is told from
a ``.nii.gz`` by what the head of its gzip stream decompresses to; a file with an unknown
suffix is read only when its magic says what it is (text is never guessed from a name).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._magic import is_cifti, is_gifti, is_nifti, is_npy, is_tsv, is_zip

#: the CIFTI-2 kinds that are not time series: recognised (so that a directory scan skips
#: them with a reason, and naming one says what it is), never scored
_CIFTI_OTHER = ("dscalar", "dlabel", "pscalar", "dconn", "pconn", "pdconn", "dpconn")
_CIFTI_OTHER += ("pconnseries", "pconnscalar")


@dataclass(frozen=True)
class Reader:
    """A format: its name, file suffixes (lower case; those shown in help texts and messages),
    a test of its first bytes, and the function that opens it, ``"module:function"``, called
    as ``open(where, mask=mask)`` with a path (``str``) or a binary stream to return a list of
    :class:`~smoothcli.sources.Loaded`. ``also``: suffixes recognised but not listed (kinds
    named to say why they are not scored, gzip'd variants). A format without a test
    (``sniff=None``: CSV) is what anything else is taken for on stdin; a ``text`` format is
    never chosen for a file with an unknown suffix."""

    name: str
    suffixes: tuple[str, ...]
    sniff: Callable[[bytes], bool] | None
    loader: str
    also: tuple[str, ...] = ()
    text: bool = False

    def load(self) -> Callable[..., Any]:
        module, _, func = self.loader.partition(":")
        return getattr(importlib.import_module(module), func)


#: in sniffing order: magic bytes first (CIFTI-2 before the NIfTI-2 it is), text last (TSV if
#: the first line has a tab)
READERS: tuple[Reader, ...] = (
    Reader(
        "cifti",
        (".dtseries.nii", ".ptseries.nii"),
        is_cifti,
        "smoothcli.sources.cifti:open_cifti_input",
        also=(
            ".dtseries.nii.gz",
            ".ptseries.nii.gz",
            *(f".{kind}.nii{gz}" for kind in _CIFTI_OTHER for gz in ("", ".gz")),
        ),
    ),
    Reader("nifti", (".nii", ".nii.gz"), is_nifti, "smoothcli.sources.cifti:open_image_input"),
    Reader("npy", (".npy",), is_npy, "smoothcli.sources.arrays:open_npy"),
    Reader("npz", (".npz",), is_zip, "smoothcli.sources.arrays:open_npz"),
    Reader("gifti", (".func.gii", ".shape.gii"), is_gifti, "smoothcli.sources.gifti:open_gifti"),
    Reader("tsv", (".tsv", ".tsv.gz"), is_tsv, "smoothcli.sources.table:open_tsv", text=True),
    Reader("csv", (".csv", ".csv.gz"), None, "smoothcli.sources.table:open_csv", text=True),
)

FORMATS: tuple[str, ...] = tuple(r.name for r in READERS)
#: the suffixes shown in help texts and messages, in the registry's order
SUFFIXES: tuple[str, ...] = tuple(s for r in READERS for s in r.suffixes)
#: the format of bytes no magic recognises: text (CSV)
_FALLBACK = next(r.name for r in READERS if r.sniff is None)
_BY_NAME = {r.name: r for r in READERS}
_BY_SUFFIX = sorted(
    ((suffix, r) for r in READERS for suffix in (*r.suffixes, *r.also)),
    key=lambda p: len(p[0]),
    reverse=True,
)


def reader(name: str) -> Reader:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; use one of {', '.join(FORMATS)}") from None


def format_of_name(name: str) -> str | None:
    """The format a file name implies (its longest matching suffix), or ``None``."""
    low = name.lower()
    for suffix, r in _BY_SUFFIX:
        if low.endswith(suffix):
            return r.name
    return None


def is_supported(name: str) -> bool:
    return format_of_name(name) is not None


def sniff(head: bytes) -> str:
    """The format of some bytes (stdin) from their magic: CIFTI-2, NIfTI (plain or gzip'd), NPY, NPZ
    (zip), GIFTI; else text (TSV if its first line has a tab, CSV otherwise), gzip'd or not."""
    return next((r.name for r in READERS if r.sniff is not None and r.sniff(head)), _FALLBACK)


def recognise(head: bytes) -> str | None:
    """The format of a file with no known suffix: what its magic says, never text."""
    fmt = sniff(head)
    return None if _BY_NAME[fmt].text else fmt


def unsupported(name: str) -> str:
    """The one line for a file of a type smoothcli does not read."""
    return f"unsupported file type: {name} (smoothcli reads {', '.join(SUFFIXES)})"
