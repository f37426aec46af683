"""Readers, one module per format family, and a registry from file name or magic bytes.

Every reader returns :class:`Loaded` items: a chunked source for the engine, its time axis
and, where the file has them, names for its axes (CSV/TSV columns). Readers never compute.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMATS = ("nifti", "csv", "tsv", "npy", "npz")
_SUFFIXES = {
    ".nii": "nifti",
    ".nii.gz": "nifti",
    ".csv": "csv",
    ".tsv": "tsv",
    ".npy": "npy",
    ".npz": "npz",
}


@dataclass
class Loaded:
    """One array to score."""

    source: Any  # an engine source: ArraySource or a ChunkedSource
    time_axis: int
    kind: str
    member: str | None = None  # the array's name inside an NPZ
    labels: dict[int, list[str]] = field(default_factory=dict)  # axis -> element names


def format_of_name(name: str) -> str | None:
    low = name.lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if low.endswith(suffix):
            return _SUFFIXES[suffix]
    return None


def is_supported(name: str) -> bool:
    return format_of_name(name) is not None


def sniff(head: bytes) -> str:
    """The format of some bytes from their magic: NPY, NPZ (zip), gzip'd or plain NIfTI,
    else text (TSV if its first line has a tab, CSV otherwise)."""
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    if head.startswith(b"\x1f\x8b"):
        return "nifti"
    if _nifti_header(head):
        return "nifti"
    first = head.split(b"\n", 1)[0]
    return "tsv" if b"\t" in first else "csv"


def _nifti_header(head: bytes) -> bool:
    if len(head) < 4:
        return False
    return int.from_bytes(head[:4], "little") in (348, 540) or int.from_bytes(head[:4], "big") in (
        348,
        540,
    )


def open_path(path: str | Path, *, fmt: str | None = None, mask: Any = None) -> list[Loaded]:
    """Open a file; ``fmt`` overrides the format its name implies. ``mask`` applies to
    NIfTI images only; other formats ignore it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"is a directory: {path}")
    fmt = fmt or format_of_name(path.name)
    if fmt is None:
        with open(path, "rb") as fh:
            fmt = sniff(fh.read(512))
    return _open(fmt, path, mask)


def open_bytes(data: bytes, *, fmt: str | None = None, mask: Any = None) -> list[Loaded]:
    """Open bytes read from stdin; without ``fmt``, sniff them."""
    if not data:
        raise ValueError("stdin is empty")
    fmt = fmt or sniff(data[:512])
    if fmt == "nifti" and data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return _open(fmt, data, mask)


def _open(fmt: str, where: Path | bytes, mask: Any) -> list[Loaded]:
    if fmt == "nifti":
        from .nifti import open_nifti

        return [open_nifti(where, mask=mask)]
    if fmt in ("csv", "tsv"):
        from .table import open_table

        return [open_table(where, sep="," if fmt == "csv" else "\t")]
    if fmt in ("npy", "npz"):
        from .arrays import open_numpy

        return open_numpy(where, npz=fmt == "npz")
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
