"""The NIfTI-1/2 header: read from the start of a (decompressed) byte stream with nibabel's
header classes and checked before anything is allocated: a single-file image, a real numeric
data type, a ``vox_offset`` past the header, and no more data than the file can hold. Also
the rule for the dtype of scaled values (:func:`value_dtype`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._text import error_line
from .._base import DEFLATE_MAX_RATIO, read_exact, skip_bytes
from .._errors import InputError

#: allowance for the gzip header, the NIfTI header and its extensions
GZIP_SLACK = 1 << 16
#: scaled values up to this size are computed in float32 (float32's maximum is 3.4e38: the
#: margin leaves room for differences, which can grow by 2**n)
FLOAT32_SAFE = 1e30
#: float32 holds every integer up to 2**24 exactly: scaled values, counted in units of the
#: slope, must stay within it for float32 to keep the stored integers' resolution
FLOAT32_EXACT = 2**24
#: what a file that ends inside its header's extensions is told
TRUNCATED_BEFORE_DATA = "the file is truncated: it ends before its image data starts"


def scales(slope: float | None, inter: float | None) -> bool:
    """Whether a header's slope and intercept change the stored values."""
    return slope is not None and (slope != 1.0 or (inter or 0.0) != 0.0)


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
    intent: int = 0  # the intent code: a CIFTI-2 file is a NIfTI-2 image with a CIFTI one
    tr: float | None = None  # seconds between frames (pixdim[4] in its time unit), if known

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.storage.itemsize

    @property
    def scaled(self) -> bool:
        return scales(self.slope, self.inter)


def read_header(fh: Any) -> Header:
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
        raise InputError(f"not a valid NIfTI header ({error_line(exc)})") from None
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
        intent = int(hdr["intent_code"])
    except Exception as exc:
        raise InputError(f"the NIfTI header is invalid ({error_line(exc)})") from None
    if any(s < 0 for s in shape):
        raise InputError(f"the NIfTI header has a negative dimension: {shape}")
    offset = int(hdr.get_data_offset())
    if offset < size:
        raise InputError(f"the NIfTI header's vox_offset {offset} lies inside the header")
    return Header(shape, storage, label, offset, size, slope, inter, affine, intent, _tr(hdr))


#: seconds per unit of pixdim[4], for the time units a repetition time can be given in
_SECONDS = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}


def _tr(hdr: Any) -> float | None:
    """The repetition time in seconds: pixdim[4] in the header's time unit, when the image
    has a time axis and the unit is one of time (an unknown unit says nothing)."""
    try:
        unit = hdr.get_xyzt_units()[1]
        pixdim = hdr["pixdim"][4]
        step = float(str(pixdim))  # a float32's shortest text: 1.35, not 1.350000023841858
    except Exception:
        return None
    if int(hdr["dim"][0]) < 4 or unit not in _SECONDS or not math.isfinite(step) or step <= 0:
        return None
    return step * _SECONDS[unit]


def skip_extensions(fh: Any, hdr: Header) -> None:
    """Read past the extensions between the header (already read) and the data."""
    skip_bytes(fh, hdr.offset - hdr.size, TRUNCATED_BEFORE_DATA)


def check_size(hdr: Header, path: str, *, gzipped: bool) -> None:
    """The file at ``path`` must be able to hold what its header claims: ``vox_offset`` plus
    the data, or for gzip no more than deflate's best ratio allows. Checked before anything
    is allocated (on a stream the blocks are read in bounded pieces instead)."""
    have = os.stat(path).st_size
    need = hdr.offset + hdr.nbytes
    if gzipped:
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
    """The dtype of scaled blocks: float32 only when float32 holds every scaled value at the
    resolution of the stored integers, else float64. float32 for unscaled float32/float16 and for
    int8/16 or uint8/16 storage (bool too) whose scaled extremes stay under :data:`FLOAT32_SAFE` and
    whose scaled values, counted in units of the slope, stay within float32's exact integers:
    ``(|inter| + |slope| * max|raw|) / |slope| <= 2**24``. A large intercept fails that test (int16
    with slope 0.001 and intercept 1e6: float32's spacing at 1e6 is 0.06, 60 steps of the slope), a
    slope like 1e36 the range test; 32/64-bit integers and float64 are always float64."""
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    scaled = scales(slope, inter)
    if storage.kind in "iub" and storage.itemsize <= 2:
        if not scaled:
            return f32
        assert slope is not None
        info = np.iinfo(storage) if storage.kind != "b" else np.iinfo(np.uint8)
        shift = inter or 0.0
        if slope == 0 or not (math.isfinite(slope) and math.isfinite(shift)):
            return f64
        ends = [float(v) * slope + shift for v in (info.min, info.max)]
        if not all(math.isfinite(e) and abs(e) < FLOAT32_SAFE for e in ends):
            return f64
        biggest = max(abs(info.min), abs(info.max))
        steps = (abs(shift) + abs(slope) * biggest) / abs(slope)
        return f32 if steps <= FLOAT32_EXACT else f64
    if storage.kind == "f" and storage.itemsize <= 4 and not scaled:
        return f32
    return f64
