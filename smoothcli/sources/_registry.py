"""One ordered list of the formats smoothcli reads: names, file suffixes, magic bytes and the
function that opens each (a lazy ``"module:function"`` string, so that naming formats never
imports a reader). Every other list of formats (``FORMATS``, ``--stdin-format``, help texts,
file discovery, sniffing stdin) derives from :data:`READERS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["FORMATS", "READERS", "Reader", "format_of_name", "is_supported", "reader", "sniff"]

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a member, or the end of an empty archive
GZIP_MAGIC = b"\x1f\x8b"


def _is_npy(head: bytes) -> bool:
    return head.startswith(NPY_MAGIC)


def _is_zip(head: bytes) -> bool:
    return head.startswith(ZIP_MAGICS)


def _is_nifti(head: bytes) -> bool:
    """gzip (a ``.nii.gz``) or a NIfTI-1/2 header size, in either byte order."""
    if head.startswith(GZIP_MAGIC):
        return True
    if len(head) < 4:
        return False
    sizes = (348, 540)
    return int.from_bytes(head[:4], "little") in sizes or int.from_bytes(head[:4], "big") in sizes


def _is_tsv(head: bytes) -> bool:
    return b"\t" in head.split(b"\n", 1)[0]


@dataclass(frozen=True)
class Reader:
    """A format: its name, file suffixes (lower case), a test of its first bytes, and the
    function that opens it, as ``"module:function"``. A format without a test of its first
    bytes (``sniff=None``: CSV) is what anything else is taken for. The function is called as
    ``open(where, mask=mask)`` with a path (``str``) or a binary stream, and returns a list of
    :class:`~smoothcli.sources.Loaded`."""

    name: str
    suffixes: tuple[str, ...]
    sniff: Callable[[bytes], bool] | None
    loader: str

    def load(self) -> Callable[..., Any]:
        module, _, func = self.loader.partition(":")
        return getattr(importlib.import_module(module), func)


#: in sniffing order: magic bytes first, text last (TSV if the first line has a tab)
READERS: tuple[Reader, ...] = (
    Reader("nifti", (".nii", ".nii.gz"), _is_nifti, "smoothcli.sources.nifti:open_nifti_input"),
    Reader("npy", (".npy",), _is_npy, "smoothcli.sources.arrays:open_npy"),
    Reader("npz", (".npz",), _is_zip, "smoothcli.sources.arrays:open_npz"),
    Reader("tsv", (".tsv",), _is_tsv, "smoothcli.sources.table:open_tsv"),
    Reader("csv", (".csv",), None, "smoothcli.sources.table:open_csv"),
)

FORMATS: tuple[str, ...] = tuple(r.name for r in READERS)
#: the format of bytes no magic recognises: text (CSV)
_FALLBACK = next(r.name for r in READERS if r.sniff is None)
_BY_NAME = {r.name: r for r in READERS}
_BY_SUFFIX = sorted(
    ((suffix, r) for r in READERS for suffix in r.suffixes), key=lambda p: len(p[0]), reverse=True
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
    """The format of some bytes from their magic: NPY, NPZ (zip), gzip'd or plain NIfTI,
    else text (TSV if its first line has a tab, CSV otherwise)."""
    return next((r.name for r in READERS if r.sniff is not None and r.sniff(head)), _FALLBACK)
