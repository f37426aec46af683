"""Masks: a 3D NIfTI image (nonzero is in) read slab by slab as bool, and the check that a
mask lies on an image's grid before the image is read as voxels x time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._base import drain, read_rows
from .._errors import InputError, check_regular
from .._gzip import InputBytes
from ._header import check_size, read_header, skip_extensions

#: bytes of a mask read at a time
MASK_SLAB_BYTES = 8 << 20


@dataclass(frozen=True)
class Mask:
    """A 3D mask (nonzero is in) on an image grid."""

    voxels: np.ndarray  # bool, shape (X, Y, Z)
    affine: np.ndarray
    count: int

    def positions(self, frame: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
        """The selected voxels as positions in an F-ordered frame of shape ``frame``, in
        NumPy's order (that of ``data[mask]``); :class:`InputError` unless the mask is on
        the image's grid and selects a voxel."""
        if self.voxels.shape != frame:
            raise InputError(f"mask shape {self.voxels.shape} does not match the image's {frame}")
        if not np.allclose(self.affine, affine, atol=1e-3):
            raise InputError("the mask is not on the image's grid (their affines differ)")
        if self.count == 0:
            raise InputError("the mask selects no voxel")
        return np.ravel_multi_index(np.nonzero(self.voxels), frame, order="F")


def load_mask(path: str | Path) -> Mask:
    """A 3D mask (or 4D with one frame): nonzero voxels are in. Read slab by slab as bool,
    after the header is checked against the file size; :class:`InputError` if it is not a
    NIfTI image, not 3D, bigger than its file, or selects no voxel."""
    file = str(Path(path))  # a path, never bytes or a stream
    check_regular(file)  # a FIFO or a device named as a mask is an error, not a wait
    src = InputBytes(file)

    def body(fh: Any) -> Mask:
        hdr = read_header(fh)
        shape = hdr.shape[:3] if hdr.shape[3:] == (1,) else hdr.shape
        if len(shape) != 3:
            raise InputError(f"the mask must be 3D, not shape {hdr.shape}")
        check_size(hdr, file, gzipped=src.gzipped)
        skip_extensions(fh, hdr)
        x, y, z = shape
        slice_bytes = x * y * hdr.storage.itemsize
        voxels = np.zeros(shape, bool, order="F")
        per = max(1, MASK_SLAB_BYTES // max(slice_bytes, 1))

        def short(missing: int) -> InputError:
            return InputError(f"the mask is truncated: slice {missing} of {z}")

        for z0, k, raw in read_rows(fh, z, per, slice_bytes, short=short):
            values = raw.view(hdr.storage)
            if hdr.scaled:
                assert hdr.slope is not None
                values = values * hdr.slope + (hdr.inter or 0.0)
            voxels[:, :, z0 : z0 + k] = (values != 0).reshape((k, y, x)).transpose(2, 1, 0)
        if src.gzipped:
            drain(fh)
        count = int(np.count_nonzero(voxels))
        if count == 0:
            raise InputError("the mask selects no voxel")
        return Mask(voxels, hdr.affine, count)

    return src.read(body)
