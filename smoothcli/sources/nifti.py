"""NIfTI-1/2 images (``.nii``, ``.nii.gz``, or bytes): frames read in order, as float32.

A 4D image is read a few frames at a time, straight from the (decompressed) byte stream, so
a multi-GB ``.nii.gz`` is decompressed once, not once per block, and never held whole. The
header's scale factors are applied. With a mask, the data is voxels x time.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import Loaded


def _load_image(where: Path | bytes) -> Any:
    import nibabel as nib

    if isinstance(where, bytes):
        for cls in (nib.Nifti1Image, nib.Nifti2Image):
            try:
                return cls.from_bytes(where)
            except Exception:  # try the next header kind
                continue
        raise ValueError("not a NIfTI-1 or NIfTI-2 image")
    try:
        img = nib.load(str(where))
    except Exception as exc:
        raise ValueError(f"not a readable NIfTI image ({exc})") from None
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise ValueError(f"not a NIfTI image but {type(img).__name__}")
    return img


def load_mask(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A 3D mask (nonzero is in) and its affine."""
    img = _load_image(Path(path))
    data = np.asarray(img.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(f"the mask must be 3D, not shape {data.shape}")
    return data != 0, np.asarray(img.affine)


class NiftiSource:
    """Frames of a 4D image as a chunked source; masked to voxels x time if given a mask."""

    order = "F"
    dtype = np.dtype(np.float32)

    def __init__(self, img: Any, where: Path | bytes, mask: tuple[np.ndarray, Any] | None):
        shape = tuple(int(s) for s in img.shape)
        if len(shape) != 4:
            raise ValueError(f"a {len(shape)}D image has no time axis; expected 4D, not {shape}")
        self._where = where
        self._raw = np.dtype(img.header.get_data_dtype())
        proxy = img.dataobj
        self._offset = int(proxy.offset)
        self._slope = float(proxy.slope)
        self._inter = float(proxy.inter)
        self._frame = shape[:3]
        self.frames = shape[3]
        self.mask = None
        if mask is not None:
            m, affine = mask
            if m.shape != self._frame:
                raise ValueError(f"mask shape {m.shape} does not match the image's {self._frame}")
            if not np.allclose(affine, img.affine, atol=1e-3):
                raise ValueError("the mask is not on the image's grid (their affines differ)")
            self.mask = m
            self.shape: tuple[int, ...] = (int(m.sum()), self.frames)
            self.chunk_axis = 1
        else:
            self.shape = shape
            self.chunk_axis = 3

    def _open(self) -> Any:
        if isinstance(self._where, bytes):
            return io.BytesIO(self._where)
        with open(self._where, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        return open_gzip(self._where) if gz else open(self._where, "rb")

    def _block(self, raw: bytes, k: int) -> np.ndarray:
        block = np.frombuffer(raw, self._raw).reshape((*self._frame, k), order="F")
        block = block.astype(np.float32, order="F")
        if self._slope != 1.0 or self._inter != 0.0:
            block *= np.float32(self._slope)
            block += np.float32(self._inter)
        return block if self.mask is None else block[self.mask]

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """Blocks of ``rows`` frames. The next block is read, decompressed and converted in a
        helper thread while the caller works on this one (zlib and NumPy release the GIL)."""
        from concurrent.futures import ThreadPoolExecutor

        frame_bytes = math.prod(self._frame) * self._raw.itemsize
        with self._open() as fh, ThreadPoolExecutor(1, "smoothcli-read") as pool:
            fh.seek(self._offset)

            def load(start: int) -> np.ndarray:
                k = min(rows, self.frames - start)
                raw = fh.read(k * frame_bytes)
                if len(raw) != k * frame_bytes:
                    missing = start + len(raw) // frame_bytes
                    raise ValueError(
                        f"the image is truncated: frame {missing} of {self.frames} is missing"
                    )
                return self._block(raw, k)

            starts = range(0, self.frames, rows)
            pending = pool.submit(load, starts[0]) if starts else None
            for nxt in [*starts[1:], None]:
                assert pending is not None
                block = pending.result()
                pending = pool.submit(load, nxt) if nxt is not None else None
                yield block

    def read(self) -> np.ndarray:
        return np.concatenate(list(self.chunks(max(self.frames, 1))), axis=self.chunk_axis)


def open_gzip(path: Path, *, prefer_isal: bool = True) -> Any:
    """A gzip file for sequential reading: through ISA-L (the optional ``isal`` package,
    about twice as fast here) when it is installed, else the standard library."""
    if prefer_isal:
        try:
            from isal import igzip
        except ImportError:
            pass
        else:
            return igzip.open(path, "rb")
    import gzip

    return gzip.open(path, "rb")


def open_nifti(where: Path | bytes, *, mask: tuple[np.ndarray, Any] | None = None) -> Loaded:
    img = _load_image(where)
    src = NiftiSource(img, where, mask)
    return Loaded(src, src.chunk_axis, "nifti")
