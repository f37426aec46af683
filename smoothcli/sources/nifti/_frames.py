"""A 4D image read a few frames at a time: :class:`NiftiSource` and :func:`open_nifti`.

Frames are read with ``readinto`` in a helper thread, so a multi-GB ``.nii.gz`` is
decompressed once and never held whole; after the last frame the gzip stream is read to its
end, so its CRC and length are checked before the engine returns a value. Blocks are scaled
by the header's slope and intercept in the dtype :func:`value_dtype` chooses; with a mask
they are voxels x time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._base import drain, finite_sums, read_rows, skip_bytes
from .._errors import InputError
from .._gzip import InputBytes
from .._loaded import Loaded
from .._magic import CIFTI_KINDS
from .._prefetch import Buffers, Prefetch
from .._source import Source
from ._header import (
    TRUNCATED_BEFORE_DATA,
    Header,
    check_size,
    read_header,
    skip_extensions,
    value_dtype,
)
from ._mask import Mask

#: bytes of stored frames read ahead of the engine (see :meth:`NiftiSource.stored_chunks`)
READ_AHEAD = 64 << 20
#: bytes of stored frames in one block read by :meth:`NiftiSource.start`
PIECE_BYTES = 8 << 20


class _Frames:
    """How an image's frames are read: the reading generator holds this, never the
    :class:`NiftiSource`, so that a source dropped while its read-ahead thread waits is
    freed, and its thread stopped."""

    def __init__(self, hdr: Header, src: InputBytes, index: np.ndarray | None, dtype: Any):
        self.hdr, self.src, self.index, self.dtype = hdr, src, index, dtype
        self.storage = hdr.storage
        self.frame = hdr.shape[:3]
        self.frames = hdr.shape[3]
        self.frame_bytes = math.prod(self.frame) * self.storage.itemsize
        self.count = len(index) if index is not None else 0
        #: what a stream that ends early is told (``missing`` and ``total`` frames)
        self.truncated = "the image is truncated: frame {missing} of {total} is missing"
        #: with :meth:`NiftiSource.keep_global`: the sum over the whole frame (every voxel,
        #: before any mask) of each of the first ``global_frames`` frames, as stored, and
        #: how many voxels it is of (the finite ones: a NaN background is left out)
        self.global_frames = 0
        self.global_sums: list[float] = []
        self.global_counts: list[float] = []

    def _keep_global(self, start: int, k: int, raw: np.ndarray) -> None:
        """Sum the whole frames among the first :attr:`global_frames` (in float64: exact for
        integers) before a mask gathers them, for the dummy-volume detector."""
        take = min(k, self.global_frames - start)
        if take <= 0:
            return
        sums, counts = finite_sums(raw.view(self.storage).reshape(k, -1)[:take], (1,))
        self.global_sums.extend(sums.tolist())
        self.global_counts.extend(counts.tolist())

    def stored(self, raw: np.ndarray, k: int, pool: Buffers | None = None) -> np.ndarray:
        """``k`` frames of raw bytes -> a block as stored: (X, Y, Z, k) or (voxels, k),
        F-order, in the file's byte order (a view of ``raw`` without a mask; with one,
        gathered into a buffer of ``pool``, and ``raw`` given back to it)."""
        frames = raw.view(self.storage).reshape(k, -1)  # one frame per row, as stored
        if self.index is not None:
            out = None
            if pool is not None:
                size = k * self.count * self.storage.itemsize
                out = pool.get(size).view(self.storage).reshape(k, self.count)
            gathered = np.take(frames, self.index, axis=1, out=out)
            if pool is not None:
                pool.put(raw)
            return gathered.T
        x, y, z = self.frame
        return frames.reshape(k, z, y, x).transpose(3, 2, 1, 0)

    def scaled(self, block: np.ndarray) -> np.ndarray:
        """A block as stored -> its values in ``dtype`` (the same layout), always a copy."""
        out = block.astype(self.dtype)
        if self.hdr.scaled:
            out *= self.dtype.type(self.hdr.slope)
            out += self.dtype.type(self.hdr.inter or 0.0)
        return out

    def blocks(
        self, rows: int, scale: bool = True, pool: Buffers | None = None
    ) -> Iterator[np.ndarray]:
        src, hdr = self.src, self.hdr
        with src.errors(), src.open() as fh:
            if src.path is not None:  # a stream is already at its data
                if src.gzipped:
                    skip_bytes(fh, hdr.offset, TRUNCATED_BEFORE_DATA)
                else:
                    fh.seek(hdr.offset)

            def short(missing: int) -> InputError:
                return InputError(self.truncated.format(missing=missing, total=self.frames))

            # a gathered or converted block is a copy: one buffer serves every read
            reuse = self.index is not None or scale
            blocks = read_rows(
                fh, self.frames, rows, self.frame_bytes, short=short, reuse=reuse, pool=pool
            )
            for start, k, raw in blocks:
                if start < self.global_frames:
                    self._keep_global(start, k, raw)
                block = self.stored(raw, k, pool)
                yield self.scaled(block) if scale else block
            if src.gzipped:
                drain(fh)  # the CRC, the length and anything after them are checked here


class NiftiSource(Source):
    """Frames of a 4D image as a chunked source; masked to voxels x time if given a mask. ``dtype``
    is the dtype of the blocks (see :func:`value_dtype`); ``storage``, ``slope`` and ``inter``
    describe the file."""

    order = "F"

    def __init__(self, hdr: Header, src: InputBytes, mask: Mask | None = None) -> None:
        shape = hdr.shape
        if len(shape) != 4:
            raise InputError(f"a {len(shape)}D image has no time axis; expected 4D, not {shape}")
        self.storage = hdr.storage
        self.slope, self.inter = hdr.slope, hdr.inter
        self.dtype = value_dtype(hdr.storage, hdr.slope, hdr.inter)
        #: the dtype to stage the blocks of :meth:`stored_chunks` in: values as stored, in
        #: native byte order (the blocks are in the file's; the engine's copy swaps them)
        self.stored = hdr.storage.newbyteorder("=")
        #: ``(slope, inter)``: a value is ``stored * slope + inter`` in :attr:`dtype`
        self.scale = (float(hdr.slope), float(hdr.inter or 0.0)) if hdr.scaled else None
        self.frames = shape[3]
        self._started: Prefetch | None = None
        self.mask = mask
        index = None  # the masked voxels' positions in a frame
        if mask is not None:
            if not isinstance(mask, Mask):
                raise TypeError(f"a mask is a Mask from load_mask, not {type(mask).__name__}")
            index = mask.positions(shape[:3], hdr.affine)
            self.shape: tuple[int, ...] = (mask.count, self.frames)
            self.chunk_axis = 1
        else:
            self.shape = shape
            self.chunk_axis = 3
        self._reader = _Frames(hdr, src, index, self.dtype)

    def _blocks(
        self, rows: int, scale: bool = True, pool: Buffers | None = None
    ) -> Iterator[np.ndarray]:
        return self._reader.blocks(rows, scale, pool)

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """Blocks of ``rows`` frames, read, decompressed and converted in a helper thread while
        the caller works on the previous one (those of :meth:`start`, converted here, once it
        was called); after the last one the stream has been read to its end and verified."""
        started = self._take_started()
        if started is not None:
            return self._converted(started)
        return Prefetch(self._blocks(max(int(rows), 1)))

    def _converted(self, started: Prefetch) -> Iterator[np.ndarray]:
        try:
            for block in started:
                yield self._reader.scaled(block)  # a copy: the block goes back to the pool
        finally:
            started.close()

    def stored_chunks(self, rows: int) -> Iterator[np.ndarray]:
        """Like :meth:`chunks`, with the values as stored (:attr:`stored`), unscaled: the engine
        applies :attr:`scale` where it computes, and the helper thread only reads, decompresses
        and (with a mask) gathers, up to :data:`READ_AHEAD` bytes ahead, so that the reading
        goes on while a kernel compiles."""
        started = self._take_started()
        return started if started is not None else self._prefetch_stored(max(int(rows), 1))

    def _prefetch_stored(self, rows: int) -> Prefetch:
        pool = Buffers()  # the engine is done with a block when it asks for the next
        return Prefetch(self._blocks(rows, scale=False, pool=pool), READ_AHEAD, pool.put)

    def start(self) -> None:
        """Start reading now, in the helper thread, before the engine asks: the CLI calls
        this before JAX is imported, so that decompression overlaps JAX's start-up. The
        first :meth:`chunks` or :meth:`stored_chunks` then continues from this read."""
        if self._started is None:
            rows = max(PIECE_BYTES // max(self._reader.frame_bytes, 1), 1)
            self._started = self._prefetch_stored(rows)

    def keep_global(self, frames: int) -> None:
        """Have the reader keep the global signal of the first ``frames`` frames: each
        frame's mean over the whole image (every voxel, not only a mask's), as nipype's
        ``NonSteadyStateDetector`` takes it. Call it before reading starts."""
        self._reader.global_frames = frames

    def global_signal(self) -> np.ndarray:
        """The means :meth:`keep_global` asked for, in values (scaled), once read: over the
        finite voxels (NaN where a frame has none)."""
        sums = np.asarray(self._reader.global_sums, np.float64)
        counts = np.asarray(self._reader.global_counts, np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / counts
        if self.scale is not None:
            means = means * self.scale[0] + self.scale[1]
        return means

    def close(self) -> None:
        """Stop a read begun by :meth:`start` that the engine has not taken."""
        started = self._take_started()
        if started is not None:
            started.close()

    def _take_started(self) -> Prefetch | None:
        started, self._started = self._started, None
        return started


class CiftiFile(InputError):
    """A file named as a NIfTI image that is a CIFTI-2 file: the registry reads it as one."""

    def __init__(self, path: str) -> None:
        super().__init__("a CIFTI-2 file, not a NIfTI image: read it as format 'cifti'")
        self.path = path


def _is_cifti(hdr: Header) -> bool:
    """A NIfTI-2 header with a CIFTI-2 intent code: a CIFTI-2 file, whatever its name."""
    return hdr.size == 540 and hdr.intent in CIFTI_KINDS


def open_nifti(where: Any, *, mask: Any = None) -> Loaded:
    """One 4D image (a path, a binary stream or bytes) as a :class:`Loaded`. A file that
    is a CIFTI-2 file (a NIfTI-2 header with a CIFTI intent code) raises :class:`CiftiFile`
    (the registry's ``open_image_input`` then reads it as one, as nibabel does)."""
    src = InputBytes(where)
    if src.path is None:  # a stream is read once: parse the header and skip to the data
        with src.errors():
            hdr = read_header(src.stream)
            if _is_cifti(hdr):
                raise InputError("a CIFTI-2 file, not a NIfTI image: read it as format 'cifti'")
            skip_extensions(src.stream, hdr)
    else:
        hdr = src.read(read_header)
        if _is_cifti(hdr):
            raise CiftiFile(src.path)
        check_size(hdr, src.path, gzipped=src.gzipped)
    source = NiftiSource(hdr, src, mask)
    return Loaded(source, source.chunk_axis, "nifti", tr=hdr.tr)
