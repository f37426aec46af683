"""NIfTI-1/2 images (``.nii``, ``.nii.gz``, or a stream): frames read in order, verified.

The header is parsed from the (decompressed) byte stream with nibabel's header classes and
checked before anything is allocated: a real, numeric data type, four dimensions, and as
much data as the file can hold (a ``.nii`` must hold ``vox_offset`` plus the data; a
``.nii.gz`` cannot hold more than deflate's maximum ratio allows). A 4D image is then read a
few frames at a time with ``readinto``, in a helper thread, so a multi-GB ``.nii.gz`` is
decompressed once and never held whole. After the last frame the gzip stream is read to its
end, so its CRC and length are checked (and trailing garbage is found) before the engine
returns a value. Blocks are scaled by the header's slope and intercept, as float32 when the
scaled values fit float32 comfortably, else float64 (see :func:`value_dtype`). With a mask,
the data is voxels x time.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import Loaded
from ._base import (
    InputError,
    drain,
    open_binary,
    prefetch,
    read_block,
    read_exact,
    stream_errors,
)
from ._registry import GZIP_MAGIC

#: deflate never compresses better than 1032:1
DEFLATE_MAX_RATIO = 1032
#: allowance for the gzip header, the NIfTI header and its extensions
GZIP_SLACK = 1 << 16
#: scaled values up to this size are computed in float32 (float32's maximum is 3.4e38: the
#: margin leaves room for differences, which can grow by 2**n)
FLOAT32_SAFE = 1e30
#: bytes of a mask read at a time
MASK_SLAB_BYTES = 8 << 20


# -- opening streams ---------------------------------------------------------------------------


#: read gzip through ISA-L when it is installed (``False``: always the standard library)
USE_ISAL = True


def open_gzip(path: Any, *, prefer_isal: bool | None = None) -> Any:
    """A gzip file (a path or a binary stream) for sequential reading: through ISA-L (the
    optional ``isal`` package, about twice as fast here) when it is installed and
    ``prefer_isal`` (default :data:`USE_ISAL`), else the standard library. Both check the CRC
    and length of each member at its end."""
    is_stream = hasattr(path, "read")
    if USE_ISAL if prefer_isal is None else prefer_isal:
        try:
            from isal import igzip
        except ImportError:
            pass
        else:
            return igzip.IGzipFile(fileobj=path, mode="rb") if is_stream else igzip.open(path)
    import gzip

    return gzip.GzipFile(fileobj=path, mode="rb") if is_stream else gzip.open(path, "rb")


def _gzip_problem(exc: BaseException) -> InputError:
    text = " ".join(str(exc).split())
    if isinstance(exc, EOFError):
        return InputError("the gzip stream is truncated (it ends before its end-of-stream marker)")
    if "Not a gzipped file" in text:
        return InputError(f"not gzip data, or trailing garbage after the gzip stream ({text})")
    if "CRC" in text or "length" in text:
        return InputError(f"the gzip stream is corrupt: {text}")
    return InputError(f"the gzip stream is corrupt: {text or type(exc).__name__}")


@dataclass
class _Stream:
    """Where the bytes of an image come from: a path (opened anew for each pass), or a
    stream (``.nii.gz`` streams already wrapped in a gzip reader), read once."""

    path: str | None
    stream: Any = None
    gzipped: bool = False
    used: bool = False

    def open(self) -> Any:
        if self.path is None:
            if self.used:
                raise InputError("stdin can be read only once")
            self.used = True
            return _Unclosed(self.stream)
        if self.gzipped:
            open_binary(self.path).close()  # an OS error becomes an InputError
            return open_gzip(self.path)
        return open_binary(self.path)


class _Unclosed:
    """A stream that ``with`` does not close (stdin belongs to the caller)."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh

    def __enter__(self) -> Any:
        return self._fh

    def __exit__(self, *exc: object) -> None:
        pass


def _where(where: Any) -> _Stream:
    if isinstance(where, bytes):
        import io

        where = io.BufferedReader(io.BytesIO(where))
    if hasattr(where, "read"):
        if not hasattr(where, "peek"):
            import io

            where = io.BufferedReader(where)
        gz = where.peek(2)[:2] == GZIP_MAGIC
        return _Stream(None, open_gzip(where) if gz else where, gzipped=gz)
    path = os.fspath(where)
    with open_binary(path) as fh:
        head = fh.read(2)
    return _Stream(path, gzipped=head == GZIP_MAGIC)


@contextmanager
def _errors(src: _Stream) -> Iterator[None]:
    """Turn what a corrupt or unreadable stream raises into :class:`InputError`."""
    try:
        yield
    except InputError:
        raise
    except stream_errors() as exc:
        if src.gzipped:
            raise _gzip_problem(exc) from None
        raise InputError(f"cannot read the image ({_one(exc)})") from None


# -- the header ----------------------------------------------------------------------------------


@dataclass
class Header:
    """What the reader needs from a NIfTI header, checked."""

    shape: tuple[int, ...]
    storage: np.dtype  # as stored, with its byte order
    label: str  # nibabel's name for the data type, e.g. "int16", "complex64", "RGB"
    offset: int  # vox_offset
    size: int  # bytes in the header itself (348 or 540)
    slope: float | None
    inter: float | None
    affine: np.ndarray

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.storage.itemsize


def _parse_header(fh: Any) -> Header:
    """Read a NIfTI-1 or NIfTI-2 header from the start of a byte stream (not its
    extensions); :class:`InputError` if it is not one, or not one smoothcli can read."""
    from nibabel.nifti1 import Nifti1Header
    from nibabel.nifti2 import Nifti2Header

    raw = bytearray(540)
    got = read_exact(fh, memoryview(raw)[:348])
    if got < 4:
        raise InputError("not a NIfTI-1 or NIfTI-2 image (too short)")
    sizes = {int.from_bytes(raw[:4], "little"), int.from_bytes(raw[:4], "big")}
    if 540 in sizes:
        got += read_exact(fh, memoryview(raw)[348:540])
        klass: Any = Nifti2Header
        size = 540
    elif 348 in sizes:
        klass, size = Nifti1Header, 348
    else:
        raise InputError("not a NIfTI-1 or NIfTI-2 image")
    if got < size:
        raise InputError("the NIfTI header is truncated")
    try:
        hdr = klass(bytes(raw[:size]), check=False)
    except Exception as exc:
        raise InputError(f"not a valid NIfTI header ({_one(exc)})") from None
    magic = bytes(hdr["magic"]).rstrip(b"\0")
    if magic in (b"ni1", b"ni2"):
        raise InputError("a NIfTI pair header (.hdr/.img), not a single-file image")
    if magic not in (b"n+1", b"n+2"):
        raise InputError(f"not a NIfTI-1 or NIfTI-2 image (magic {magic!r})")
    code = int(hdr["datatype"])
    try:
        label = str(hdr.get_value_label("datatype"))
    except Exception:
        label = f"code {code}"
    try:
        storage = np.dtype(hdr.get_data_dtype())
    except Exception:
        raise InputError(f"the image's data type is {label}, which smoothcli cannot read") from None
    if storage.fields is not None or storage.kind not in "biuf" or storage.itemsize > 8:
        raise InputError(f"the image's data type is {label}, not real numbers")
    try:
        shape = tuple(int(s) for s in hdr.get_data_shape())
        slope, inter = hdr.get_slope_inter()
        affine = np.asarray(hdr.get_best_affine())
    except Exception as exc:
        raise InputError(f"the NIfTI header is invalid ({_one(exc)})") from None
    if any(s < 0 for s in shape):
        raise InputError(f"the NIfTI header has a negative dimension: {shape}")
    offset = int(hdr.get_data_offset())
    if offset < size:
        raise InputError(f"the NIfTI header's vox_offset {offset} lies inside the header")
    return Header(shape, storage, label, offset, size, slope, inter, affine)


def _one(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _check_size(hdr: Header, src: _Stream) -> None:
    """The file must be able to hold what the header claims, before anything is allocated."""
    if src.path is None:
        return  # a stream: the blocks are read in bounded pieces and any shortfall is found
    have = os.stat(src.path).st_size
    need = hdr.offset + hdr.nbytes
    if src.gzipped:
        most = DEFLATE_MAX_RATIO * have + GZIP_SLACK
        if need > most:
            raise InputError(
                f"the header claims {need} bytes of image data, more than a {have}-byte gzip "
                f"file can hold (at most {DEFLATE_MAX_RATIO}:1)"
            )
    elif need > have:
        raise InputError(
            f"the file is truncated: the header claims {hdr.nbytes} bytes of data from byte "
            f"{hdr.offset}, but the file holds {max(have - hdr.offset, 0)}"
        )


def value_dtype(storage: np.dtype, slope: float | None, inter: float | None) -> np.dtype:
    """The dtype of scaled blocks: float32 when every scaled value fits float32 comfortably
    (int8/16 or uint8/16 storage with a finite slope and intercept whose extreme results stay
    under 1e30; unscaled float32), else float64 (32/64-bit integers, float64, or a slope like
    1e36)."""
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    scaled = slope is not None and (slope != 1.0 or (inter or 0.0) != 0.0)
    if storage.kind in "iub" and storage.itemsize <= 2:
        if not scaled:
            return f32
        assert slope is not None
        info = np.iinfo(storage) if storage.kind != "b" else np.iinfo(np.uint8)
        ends = [float(v) * slope + (inter or 0.0) for v in (info.min, info.max)]
        return f32 if all(math.isfinite(e) and abs(e) < FLOAT32_SAFE for e in ends) else f64
    if storage.kind == "f" and storage.itemsize <= 4 and not scaled:
        return f32
    return f64


def _skip(fh: Any, nbytes: int) -> None:
    """Skip ``nbytes`` (extensions between the header and the data) in bounded pieces."""
    if nbytes <= 0:
        return
    buf = memoryview(bytearray(min(nbytes, 1 << 20)))
    left = nbytes
    while left:
        n = read_exact(fh, buf[: min(left, len(buf))])
        if n == 0:
            raise InputError("the file is truncated: it ends before its image data starts")
        left -= n


def _guarded(src: _Stream, body: Callable[[Any], Any]) -> Any:
    """Run ``body(fh)`` on the opened stream; read problems become :class:`InputError`."""
    with _errors(src), src.open() as fh:
        return body(fh)


# -- masks ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mask:
    """A 3D mask (nonzero is in) on an image grid."""

    voxels: np.ndarray  # bool, shape (X, Y, Z)
    affine: np.ndarray
    count: int

    def __iter__(self) -> Iterator[Any]:  # unpacks as the (voxels, affine) pair it once was
        return iter((self.voxels, self.affine))


def load_mask(path: str | Path) -> Mask:
    """A 3D mask (or 4D with one frame): nonzero voxels are in. Read slab by slab as bool,
    after the header is checked against the file size; :class:`InputError` if it is not a
    NIfTI image, not 3D, bigger than its file, or selects no voxel."""
    src = _where(Path(path) if not isinstance(path, (str, Path)) else path)
    if src.path is None:
        raise InputError("a mask must be a file")

    def body(fh: Any) -> Mask:
        hdr = _parse_header(fh)
        shape = hdr.shape
        if len(shape) == 4 and shape[3] == 1:
            shape = shape[:3]
        if len(shape) != 3:
            raise InputError(f"the mask must be 3D, not shape {hdr.shape}")
        _check_size(hdr, src)
        _skip(fh, hdr.offset - hdr.size)
        x, y, z = shape
        plane = x * y
        voxels = np.zeros(shape, bool, order="F")
        per = max(1, MASK_SLAB_BYTES // max(plane * hdr.storage.itemsize, 1))
        scaled = hdr.slope is not None and (hdr.slope != 1.0 or (hdr.inter or 0.0) != 0.0)
        for z0 in range(0, z, per):
            k = min(per, z - z0)
            raw, got = read_block(fh, k * plane * hdr.storage.itemsize)
            if got < k * plane * hdr.storage.itemsize:
                raise InputError(f"the mask is truncated: slice {z0 + got // max(plane, 1)} of {z}")
            values = raw.view(hdr.storage)
            if scaled:
                assert hdr.slope is not None
                values = values * hdr.slope + (hdr.inter or 0.0)
            slab = (values != 0).reshape((k, y, x))
            voxels[:, :, z0 : z0 + k] = slab.transpose(2, 1, 0)
        if src.gzipped:
            drain(fh)
        count = int(np.count_nonzero(voxels))
        if count == 0:
            raise InputError("the mask selects no voxel")
        return Mask(voxels, hdr.affine, count)

    return _guarded(src, body)


def _as_mask(mask: Any) -> Mask:
    if isinstance(mask, Mask):
        return mask
    voxels, affine = mask
    voxels = np.asarray(voxels, bool)
    return Mask(voxels, np.asarray(affine), int(np.count_nonzero(voxels)))


# -- images ----------------------------------------------------------------------------------------


class NiftiSource:
    """Frames of a 4D image as a chunked source; masked to voxels x time if given a mask.

    ``dtype`` is the dtype of the blocks (see :func:`value_dtype`); ``storage``, ``slope``
    and ``inter`` describe the file."""

    order = "F"

    def __init__(self, hdr: Header, src: _Stream, mask: Any = None) -> None:
        shape = hdr.shape
        if len(shape) != 4:
            raise InputError(f"a {len(shape)}D image has no time axis; expected 4D, not {shape}")
        self._hdr = hdr
        self._src = src
        self.storage = hdr.storage
        self.slope, self.inter = hdr.slope, hdr.inter
        self.dtype = value_dtype(hdr.storage, hdr.slope, hdr.inter)
        self._frame = shape[:3]
        self.frames = shape[3]
        self.mask: Mask | None = None
        self._index: np.ndarray | None = None
        if mask is not None:
            m = _as_mask(mask)
            if m.voxels.shape != self._frame:
                raise InputError(
                    f"mask shape {m.voxels.shape} does not match the image's {self._frame}"
                )
            if not np.allclose(m.affine, hdr.affine, atol=1e-3):
                raise InputError("the mask is not on the image's grid (their affines differ)")
            if m.count == 0:
                raise InputError("the mask selects no voxel")
            self.mask = m
            # voxels in NumPy's order for ``data[mask]``, as positions in an F-ordered frame
            self._index = np.ravel_multi_index(np.nonzero(m.voxels), self._frame, order="F")
            self.shape: tuple[int, ...] = (m.count, self.frames)
            self.chunk_axis = 1
        else:
            self.shape = shape
            self.chunk_axis = 3

    def _convert(self, raw: np.ndarray, k: int) -> np.ndarray:
        """``k`` frames of raw bytes -> a scaled block: (X, Y, Z, k) or (voxels, k), F-order."""
        frames = raw.view(self.storage).reshape(k, -1)  # one frame per row, as stored
        if self._index is not None:
            frames = np.take(frames, self._index, axis=1)
        native = self.storage.newbyteorder("=")
        if frames.dtype == self.dtype and self.storage.isnative:
            block = frames  # float32 as stored: no copy
        else:
            block = frames.astype(native if native == self.dtype else self.dtype)
            if block.dtype != self.dtype:
                block = block.astype(self.dtype)
        if self.slope is not None and (self.slope != 1.0 or (self.inter or 0.0) != 0.0):
            block *= self.dtype.type(self.slope)
            block += self.dtype.type(self.inter or 0.0)
        if self._index is not None:
            return block.T
        x, y, z = self._frame
        return block.reshape(k, z, y, x).transpose(3, 2, 1, 0)

    def _blocks(self, rows: int) -> Iterator[np.ndarray]:
        frame_bytes = math.prod(self._frame) * self.storage.itemsize
        src = self._src
        with _errors(src), src.open() as fh:
            if src.path is not None:
                if src.gzipped:
                    _skip(fh, self._hdr.offset)
                else:
                    fh.seek(self._hdr.offset)
            # the raw bytes are converted into a new block, so one buffer serves every read
            copies = self.dtype != self.storage or self._index is not None
            spare: np.ndarray | None = None
            for start in range(0, self.frames, rows):
                k = min(rows, self.frames - start)
                raw, got = read_block(fh, k * frame_bytes, spare)
                spare = raw if copies else None
                if got < k * frame_bytes:
                    missing = start + got // max(frame_bytes, 1)
                    raise InputError(
                        f"the image is truncated: frame {missing} of {self.frames} is missing"
                    )
                yield self._convert(raw, k)
            if src.gzipped:
                drain(fh)  # the CRC, the length and anything after them are checked here

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """Blocks of ``rows`` frames, read, decompressed and converted in a helper thread
        while the caller works on the previous one. After the last block the stream has been
        read to its end and verified."""
        return prefetch(self._blocks(max(int(rows), 1)))

    def read(self) -> np.ndarray:
        blocks = list(self.chunks(max(self.frames, 1)))
        if not blocks:
            return np.zeros(self.shape, self.dtype)
        return np.concatenate(blocks, axis=self.chunk_axis)


def _open_source(where: Any, mask: Any) -> NiftiSource:
    src = _where(where)
    if src.path is None:  # a stream is read once: parse the header and skip to the data
        with _errors(src):
            hdr = _parse_header(src.stream)
            _skip(src.stream, hdr.offset - hdr.size)
    else:
        hdr = _guarded(src, _parse_header)
        _check_size(hdr, src)
    return NiftiSource(hdr, src, mask)


def open_nifti(where: Any, *, mask: Any = None) -> Loaded:
    """One 4D image (a path, a binary stream or bytes) as a :class:`Loaded`."""
    src = _open_source(where, mask)
    return Loaded(src, src.chunk_axis, "nifti")


def open_nifti_input(where: Any, *, mask: Any = None) -> list[Loaded]:
    """The registry's entry point: :func:`open_nifti` as a list."""
    return [open_nifti(where, mask=mask)]
