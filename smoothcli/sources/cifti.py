"""CIFTI-2 data series (``.dtseries.nii``, ``.ptseries.nii``): time x brainordinates (or
parcels), read in bounded memory.

A CIFTI-2 file is a NIfTI-2 image whose header extension of code 32 holds the CIFTI XML (read
here with :mod:`nibabel.cifti2`: the axes, the kind of file, the names of the brainordinates
and parcels). Its matrix is the NIfTI-2 payload, dims ``(1, 1, 1, 1, T, B)`` in Fortran order:
element ``(t, b)`` is at ``t + T*b``, so each brainordinate's whole series is contiguous. That
is exactly how a 4D NIfTI image of shape ``(T, 1, 1, B)`` is stored, with each brainordinate a
"frame": :class:`CiftiSource` is the NIfTI reader on those frames (the same header checks
against the file size, plain or gzip, stdin, a read-ahead thread, the gzip CRC checked to the
end), its blocks ``(T, k)`` in Fortran order. So ``chunk_axis`` is 1, the brainordinates:
the axis the storage makes cheap; the time axis (the series axis, 0) is never split, so no
sample is carried between blocks, and every block holds whole series.

The series is the time axis; ``axis=space`` is the brainordinates (surface vertices and
voxels together, in the file's order) or the parcels. The other kinds (``.dscalar.nii``,
``.dlabel.nii``, ``.pscalar.nii``, connectivity matrices) are not time series: opening one is
an :class:`InputError` that says what it is (and a directory scan skips it: see
:mod:`.probe`). nibabel reads CIFTI-2 only uncompressed; a ``.dtseries.nii.gz`` is read here as
a ``.nii.gz`` is.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import replace
from typing import Any

import numpy as np

from .._text import error_line
from .._warnings import recorded
from ._base import read_block, read_exact
from ._errors import InputError
from ._gzip import InputBytes
from ._loaded import Loaded
from ._magic import CIFTI_KINDS
from ._prefetch import Buffers
from .nifti._frames import CiftiFile, NiftiSource, open_nifti
from .nifti._header import TRUNCATED_BEFORE_DATA, Header, check_size, read_header

__all__ = ["CiftiSource", "describe", "open_cifti", "open_cifti_input", "problem_of"]

#: the most header-extension bytes (the CIFTI XML) read: a dense connectome's is a few MB
MAX_EXTENSION_BYTES = 256 << 20
#: the CIFTI-2 kinds smoothcli scores
SCORED = "CIFTI-2 data series (.dtseries.nii, .ptseries.nii)"
_NIFTI2_BYTES = 540
_NOUNS = {
    "BrainModelAxis": "brainordinates",
    "ParcelsAxis": "parcels",
    "SeriesAxis": "a series",
    "ScalarAxis": "scalar maps",
    "LabelAxis": "label maps",
}


def _cifti_xml(blob: bytes, notes: list[str]) -> Any:
    """The CIFTI XML (a ``nibabel`` ``Cifti2Header``) in the extensions of a NIfTI-2 header
    (``blob``: the header and its extensions, up to ``vox_offset``)."""
    import nibabel.cifti2  # noqa: F401  (registers the CIFTI extension, code 32)
    from nibabel.nifti2 import Nifti2Header

    with recorded() as caught:  # this thread's (another may score an input meanwhile)
        try:
            header = Nifti2Header.from_fileobj(io.BytesIO(blob), check=False)
        except Exception as exc:
            problem = error_line(exc)
            raise InputError(f"the NIfTI-2 header extensions are invalid ({problem})") from None
        found = [ext for ext in header.extensions if ext.get_code() == 32]
        if not found:
            raise InputError(
                "not a CIFTI-2 file: a NIfTI-2 image with no CIFTI XML (header extension 32)"
            )
        try:
            xml = found[0].get_content()
        except Exception as exc:
            raise InputError(f"the CIFTI-2 XML cannot be parsed ({error_line(exc)})") from None
    notes.extend(f"CIFTI-2 header: {w.message}" for w in caught)
    return xml


def _axes(xml: Any, shape: tuple[int, ...]) -> list[Any]:
    """The axes the XML gives the matrix, checked against the NIfTI dims."""
    if len(shape) < 5 or any(s != 1 for s in shape[:4]):
        raise InputError(
            f"a CIFTI-2 file has NIfTI dims 1, 1, 1, 1 and then its matrix's, not {shape}"
        )
    try:
        axes = [xml.get_axis(i) for i in range(len(shape) - 4)]
    except Exception as exc:
        raise InputError(f"the CIFTI-2 XML is invalid ({error_line(exc)})") from None
    sizes = tuple(len(a) for a in axes)
    if sizes != shape[4:]:
        raise InputError(
            f"the CIFTI-2 XML describes a {'x'.join(map(str, sizes))} matrix, but the NIfTI "
            f"header one of {'x'.join(map(str, shape[4:]))}"
        )
    return axes


def describe(intent: int, axes: Sequence[Any]) -> tuple[int | None, str]:
    """The series axis of a CIFTI-2 matrix (``None`` when it is not a time series: a series
    and brainordinates or parcels, in a 2D matrix), and what the file is, in words."""
    kinds = [type(a).__name__ for a in axes]
    series = None
    if len(kinds) == 2 and "SeriesAxis" in kinds:
        other = kinds[1 - kinds.index("SeriesAxis")]
        if other in ("BrainModelAxis", "ParcelsAxis"):
            series = kinds.index("SeriesAxis")
    short, title = CIFTI_KINDS.get(intent, ("", ""))
    if short and (series is not None) == (short in ("dtseries", "ptseries")):
        return series, f"a CIFTI-2 {title} file (.{short}.nii)"
    # no intent, or one the axes contradict: the axes say what the file is
    return series, f"a CIFTI-2 file of {' x '.join(_NOUNS.get(k, k) for k in kinds)}"


def problem_of(blob: bytes) -> str | None:
    """Why a CIFTI-2 file is not a time series, from its header and extensions alone
    (``blob``); ``None`` for a time series, and for a file whose XML cannot be read (the
    reader names the problem when it is scored)."""
    try:
        xml = _cifti_xml(blob, [])
        hdr = read_header(io.BytesIO(blob))
        series, what = describe(hdr.intent, _axes(xml, hdr.shape))
    except InputError:
        return None
    return None if series is not None else what


class _Names(Sequence):
    """The names of the brainordinates or parcels along a CIFTI-2 axis, made when asked for
    (a dense series has about 91k): ``CORTEX_LEFT:1234`` (a vertex), ``THALAMUS_LEFT:20:31:40``
    (a voxel's i:j:k), or a parcel's name. Kept compact (a structure number and a vertex or
    voxel index per element), not as nibabel's axis, which spends over 100 bytes each."""

    def __init__(self, axis: Any) -> None:
        self._parcels: list[str] | None = None
        if type(axis).__name__ == "ParcelsAxis":
            self._parcels = [str(n) for n in axis.name]
            return
        structures = [(str(name), part) for name, part, _ in axis.iter_structures()]
        self._structures = [n.removeprefix("CIFTI_STRUCTURE_") for n, _ in structures]
        self._which = np.empty(len(axis), np.int16)
        for k, (_, part) in enumerate(structures):
            self._which[part] = k
        self._vertex = np.asarray(axis.vertex, np.int32)
        self._voxel = np.asarray(axis.voxel, np.int32)
        self._surface = np.asarray(axis.surface_mask, bool)

    def __len__(self) -> int:
        return len(self._parcels) if self._parcels is not None else len(self._which)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if self._parcels is not None:
            return self._parcels[i]
        where = self._structures[self._which[i]]
        if self._surface[i]:
            return f"{where}:{self._vertex[i]}"
        return where + ":" + ":".join(str(v) for v in self._voxel[i])


class CiftiSource(NiftiSource):
    """A 2D CIFTI-2 matrix as a chunked source: the NIfTI frame reader on the matrix stored
    as a ``(rows, 1, 1, columns)`` image (see the module's text), blocks ``(rows, k)`` along
    ``chunk_axis`` 1 in Fortran order. ``dtype``, ``stored``, ``scale``, :meth:`start` and
    :meth:`stored_chunks` are the NIfTI reader's."""

    def __init__(self, hdr: Header, src: InputBytes, noun: str = "frame") -> None:
        rows, columns = hdr.shape[4], hdr.shape[5]
        super().__init__(replace(hdr, shape=(rows, 1, 1, columns)), src)
        self.shape = (rows, columns)
        self.chunk_axis = 1
        short = f"the file is truncated: {noun} {{missing}} of {{total}} is missing"
        self._reader.truncated = short

    def _blocks(
        self, rows: int, scale: bool = True, pool: Buffers | None = None
    ) -> Iterator[np.ndarray]:
        with closing(super()._blocks(rows, scale, pool)) as frames:
            for block in frames:  # (rows, 1, 1, k), F-ordered: a view of (rows, k)
                yield block.reshape(block.shape[0], block.shape[3], order="F")


def _read_head(fh: Any) -> tuple[Header, bytes]:
    """Read a NIfTI-2 header and its extensions from the start of a stream; leave the stream
    at the data."""
    head = bytearray(_NIFTI2_BYTES)
    got = read_exact(fh, memoryview(head))
    hdr = read_header(io.BytesIO(bytes(head[:got])))
    if hdr.size != _NIFTI2_BYTES:
        raise InputError("not a CIFTI-2 file: a NIfTI-1 image (CIFTI-2 files are NIfTI-2)")
    more = hdr.offset - _NIFTI2_BYTES
    if more > MAX_EXTENSION_BYTES:
        raise InputError(
            f"the header's extensions claim {more} bytes, more than smoothcli reads "
            f"({MAX_EXTENSION_BYTES >> 20} MB)"
        )
    raw, have = read_block(fh, more)
    if have < more:
        raise InputError(TRUNCATED_BEFORE_DATA)
    return hdr, bytes(head) + raw.tobytes()


def open_cifti(where: Any, *, mask: Any = None) -> Loaded:
    """A CIFTI-2 data series (a path, a binary stream or bytes, plain or gzip) as a
    :class:`Loaded`: time is its series axis, and the other axis is named. ``mask`` is for
    NIfTI volumes and is ignored."""
    src = InputBytes(where)
    if src.path is None:  # a stream is read once: the header, then on to the data
        with src.errors():
            hdr, blob = _read_head(src.stream)
    else:
        hdr, blob = src.read(_read_head)
        check_size(hdr, src.path, gzipped=src.gzipped)
    notes: list[str] = []
    axes = _axes(_cifti_xml(blob, notes), hdr.shape)
    series, what = describe(hdr.intent, axes)
    if series is None:
        raise InputError(f"{what}, not a time series: smoothcli scores {SCORED}")
    other = 1 - series
    parcels = type(axes[other]).__name__ == "ParcelsAxis"
    noun = "the series of " + ("parcel" if parcels else "brainordinate")
    source = CiftiSource(hdr, src, noun if series == 0 else "frame")
    step = getattr(axes[series], "step", None)
    seconds = getattr(axes[series], "unit", None) == "SECOND" and step is not None and step > 0
    labels: dict[int, Any] = {other: _Names(axes[other])}
    tr = float(step) if seconds else None
    return Loaded(source, series, "cifti", labels=labels, notes=notes, tr=tr)


def open_cifti_input(where: Any, *, mask: Any = None) -> list[Loaded]:
    """The registry's entry point: :func:`open_cifti` as a list."""
    return [open_cifti(where, mask=mask)]


def open_image_input(where: Any, *, mask: Any = None) -> list[Loaded]:
    """The registry's entry point for ``.nii``/``.nii.gz``: a NIfTI image, or a CIFTI-2
    file whatever its name (a NIfTI-2 header with a CIFTI intent code), as nibabel reads it."""
    try:
        return [open_nifti(where, mask=mask)]
    except CiftiFile as exc:
        return [open_cifti(exc.path)]
