"""What readers share: reading bytes and rows from a stream exactly, bounded (``read_rows``
with recycled buffers and a read-ahead thread), the errors of a stream as one
:class:`InputError`, and reading a source whole (``verify``, ``global_signal``). The source
contract itself is :mod:`._source`. NumPy only, never JAX.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import numpy as np

from ._consumed import report
from ._errors import InputError
from ._prefetch import Buffers
from ._source import take

#: deflate never compresses better than 1032:1, so a compressed size bounds the data it holds
DEFLATE_MAX_RATIO = 1032
#: a block larger than this is read in pieces of this size, so that a header that lies about
#: the size of its data (on a stream, where the size cannot be checked first) allocates only
#: as much memory as the stream really holds
PIECE_BYTES = 64 << 20
#: most bytes asked of one ``readinto``. A gzip reader's output stays in the CPU's cache
#: for its checksum in small pieces (ISA-L inflates 541 MB in 1.00 s in 1 MB pieces, 1.07 s
#: in 16 MB, 1.33 s in 64 MB on this project's 2-core machine), but each call also takes
#: the GIL, which a reader thread waits for (up to 5 ms a time) while the main thread
#: imports JAX: 8 MB is the better trade while JAX starts, and costs ~3% after
READ_PIECE = 8 << 20


def read_exact(fh: Any, out: memoryview) -> int:
    """Fill ``out`` from ``fh`` with ``readinto``, at most :data:`READ_PIECE` bytes at a
    time; return how many bytes it holds (fewer only at the end of the stream)."""
    got = 0
    size = len(out)
    while got < size:
        n = fh.readinto(out[got : got + READ_PIECE])
        if not n:
            break
        got += n
    return got


def read_block(fh: Any, nbytes: int, reuse: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Read ``nbytes`` into a new byte array; return it and how many bytes were there. Up to
    :data:`PIECE_BYTES` are read straight into it (into ``reuse``, a byte buffer the caller no
    longer needs, if large enough); more piece by piece, put together only once all of it has
    arrived, so a short stream never allocates the size its header claimed."""
    fits = reuse is not None and reuse.size >= nbytes  # a buffer the caller has done with
    if fits or nbytes <= PIECE_BYTES:
        out = reuse[:nbytes] if fits else np.empty(nbytes, np.uint8)
        return out, read_exact(fh, memoryview(out))
    pieces = []
    got = 0
    while got < nbytes:
        piece = np.empty(min(PIECE_BYTES, nbytes - got), np.uint8)
        n = read_exact(fh, memoryview(piece))
        pieces.append(piece[:n])
        got += n
        if n < piece.size:
            break
    if got < nbytes:
        return np.empty(0, np.uint8), got
    return np.concatenate(pieces), got


def read_rows(
    fh: Any,
    total: int,
    rows: int,
    row_bytes: int,
    *,
    short: Callable[[int], InputError],
    reuse: bool = False,
    pool: Buffers | None = None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Read ``total`` rows of ``row_bytes`` each, ``rows`` at a time (a row is a frame, a
    slice, an array row): yield ``(first row, row count, raw bytes)``. Where the stream ends
    early, raise ``short(the first missing row)``. With ``reuse``, the caller has finished
    with each block's bytes when it asks for the next, so one buffer serves every read;
    with ``pool``, buffers come from there (the caller gives them back)."""
    spare: np.ndarray | None = None
    report(0.0)
    for start in range(0, total, rows):
        k = min(rows, total - start)
        if pool is not None and k * row_bytes <= PIECE_BYTES:
            spare = pool.get(k * row_bytes)
        raw, got = read_block(fh, k * row_bytes, spare)
        if got < k * row_bytes:
            raise short(start + got // max(row_bytes, 1))
        spare = raw if reuse and pool is None else None  # a pool's buffers go back there
        report((start + k) / total)  # for the progress bar: the readers say how far they are
        yield start, k, raw


def copy_bytes(fh: Any, nbytes: int, out: Any = None) -> int:
    """Read ``nbytes`` from ``fh`` in bounded pieces, written to the file ``out`` if given;
    return how many there were (fewer only where the stream ends first)."""
    buf = memoryview(bytearray(min(max(nbytes, 1), 1 << 20)))
    done = 0
    while done < nbytes and (n := read_exact(fh, buf[: min(nbytes - done, len(buf))])):
        if out is not None:
            out.write(buf[:n])
        done += n
    return done


def skip_bytes(fh: Any, nbytes: int, short: str) -> None:
    """Read past ``nbytes`` (a header's extensions, or all of it on a stream that cannot
    seek); :class:`InputError` ``short`` if the stream ends first."""
    if copy_bytes(fh, nbytes) < nbytes:
        raise InputError(short)


def drain(fh: Any, piece: int = 1 << 20) -> int:
    """Read ``fh`` to its end (a gzip or zip stream checks its CRC and length there);
    return how many bytes were left."""
    buf = memoryview(bytearray(piece))
    left = 0
    while n := fh.readinto(buf):
        left += n
    return left


def stream_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a corrupt gzip or zip stream raises, with either gzip backend."""
    import zlib

    try:
        from isal import isal_zlib
    except ImportError:
        return (OSError, EOFError, zlib.error)
    return (OSError, EOFError, zlib.error, isal_zlib.error)


@contextmanager
def input_errors(
    problem: Callable[[BaseException], InputError],
    kinds: tuple[type[BaseException], ...] | None = None,
) -> Iterator[None]:
    """Turn what an unreadable or corrupt stream raises (``kinds``, by default
    :func:`stream_errors`) into the :class:`InputError` ``problem(exc)``."""
    caught = kinds or stream_errors()
    try:
        yield
    except InputError:
        raise
    except caught as exc:
        raise problem(exc) from None


class Once:
    """A stream (stdin) that can be opened once, and that ``with`` does not close: it
    belongs to the caller."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self._used = False

    def __call__(self) -> AbstractContextManager[Any]:
        if self._used:
            raise InputError("stdin can be read only once")
        self._used = True
        return nullcontext(self._fh)


def _rows(source: Any, block_bytes: int = 8 << 20) -> int:
    shape = tuple(source.shape)
    chunk = source.chunk_axis
    row_bytes = np.dtype(source.dtype).itemsize * math.prod(shape) // max(shape[chunk], 1)
    return max(block_bytes // max(row_bytes, 1), 1)


def verify(source: Any, block_bytes: int = 8 << 20) -> None:
    """Read ``source`` to its end in blocks, computing nothing: a file that is corrupt or
    truncated raises :class:`InputError` here (a gzip stream's CRC is checked at its end)."""
    if not source.shape or not source.shape[source.chunk_axis]:
        return
    for _ in source.chunks(_rows(source, block_bytes)):
        pass


def global_signal(source: Any, time_axis: int, frames: int) -> np.ndarray:
    """The mean over every other axis of each of the first ``frames`` elements along ``time_axis``
    (a run's global signal), in float64, of the finite values (a NaN background is left out), read
    in blocks: only those frames where the blocks run along time, else every block."""
    shape = tuple(source.shape)
    ndim = len(shape)
    if not ndim:
        return np.zeros(0)
    time_axis %= ndim
    keep = min(frames, shape[time_axis])
    sums, counts = np.zeros(keep), np.zeros(keep)
    if not keep:
        return sums
    others = tuple(a for a in range(ndim) if a != time_axis)
    chunk = source.chunk_axis
    pieces = source.chunks(_rows(source))
    seen = 0
    try:
        for piece in pieces:
            if time_axis == chunk:
                k = min(piece.shape[time_axis], keep - seen)
                part, count = finite_sums(take(piece, time_axis, 0, k), others)
                sums[seen : seen + k] += part
                counts[seen : seen + k] += count
                seen += k
                if seen >= keep:
                    break
            else:
                part, count = finite_sums(take(piece, time_axis, 0, keep), others)
                sums += part
                counts += count
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def finite_sums(block: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The sums of the finite values of ``block`` over ``axes``, and how many there were."""
    if block.dtype.kind != "f":
        sums = block.sum(axis=axes, dtype=np.float64)
        return sums, np.full(sums.shape, math.prod(block.shape[a] for a in axes), np.float64)
    finite = np.isfinite(block)
    values = np.where(finite, block, 0).sum(axis=axes, dtype=np.float64)
    return values, finite.sum(axis=axes).astype(np.float64)
