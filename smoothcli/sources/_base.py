"""The reader contract: what every source gives the engine. NumPy only, never JAX.

A source is an array read in consecutive blocks along ``chunk_axis``. ``shape`` and
``dtype`` are the logical shape (after any mask) and the dtype of the blocks it yields.
``order`` says how blocks are laid out ("C", or "F" for NIfTI frames) so the engine can
stage them without a copy. ``check()`` is cheap and runs before any compute; ``chunks``
raises :class:`InputError` when the data turns out to be corrupt (a gzip CRC mismatch, a
truncated file), so that no score is ever made from data that was not verified.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ._consumed import report
from ._errors import InputError, open_binary, os_error_message
from ._prefetch import Buffers, Prefetch, prefetch

__all__ = [
    "Foreign",
    "Source",
    "as_source",
    "Buffers",
    "Prefetch",
    "prefetch",
    "DEFLATE_MAX_RATIO",
    "ArraySource",
    "ChunkedSource",
    "InputError",
    "Once",
    "drain",
    "input_errors",
    "open_binary",
    "os_error_message",
    "read_all",
    "read_block",
    "read_exact",
    "read_rows",
    "skip_bytes",
    "take",
    "Trimmed",
    "global_signal",
    "trim",
    "verify",
]

#: deflate never compresses better than 1032:1, so a compressed size bounds the data it holds
DEFLATE_MAX_RATIO = 1032


@runtime_checkable
class ChunkedSource(Protocol):
    """An array read in consecutive blocks along ``chunk_axis``.

    A source may also set ``order = "F"`` when its blocks are Fortran-ordered (NIfTI), so
    that the engine lays them out without a copy.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    chunk_axis: int

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """Yield consecutive blocks of at most ``rows`` along ``chunk_axis``."""
        ...

    def read(self) -> np.ndarray:
        """The whole array (used only when a scalarisation cannot be chunked)."""
        ...


class Source:
    """The reader contract every smoothcli source keeps (a :class:`ChunkedSource` with its
    optional parts spelt out, so that nobody has to ask a source what it can do):

    - ``shape``, ``dtype`` (of the values), ``chunk_axis``; :meth:`chunks` gives consecutive
      blocks of values along it, :meth:`read` the whole array;
    - ``order``: ``"F"`` when the blocks are Fortran-ordered (NIfTI), so that the engine
      lays them out without a copy;
    - ``stored``: the dtype of :meth:`stored_chunks`' blocks when the source can give its
      values as stored (a NIfTI image's int16), with ``scale`` = (slope, intercept) to turn
      them into values; None when the blocks are the values;
    - :meth:`start` begins reading ahead, :meth:`close` stops and lets go of the file.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    chunk_axis: int = 0
    order: str = "C"
    stored: np.dtype | None = None
    scale: tuple[float, float] | None = None

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def stored_chunks(self, rows: int) -> Iterator[np.ndarray]:
        return self.chunks(rows)

    def read(self) -> np.ndarray:
        return read_all(self)

    def start(self) -> None:
        """Begin reading ahead (nothing to do for a source that does not)."""

    def close(self) -> None:
        """Let go of what the source holds open (nothing, for most)."""


class Foreign(Source):
    """A :class:`ChunkedSource` written elsewhere, behind the contract of :class:`Source`:
    its values in C-ordered blocks, nothing read ahead."""

    def __init__(self, source: ChunkedSource) -> None:
        self._inner = source
        self.shape = tuple(source.shape)
        self.dtype = np.dtype(source.dtype)
        self.chunk_axis = source.chunk_axis

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        return self._inner.chunks(rows)

    def read(self) -> np.ndarray:
        return self._inner.read()


def as_source(source: Any) -> Source:
    """``source`` as a :class:`Source`: itself, a foreign chunked source behind the contract,
    or an array (a memmap, a list) as an :class:`ArraySource`."""
    if isinstance(source, Source):
        return source
    if isinstance(source, ChunkedSource) and not isinstance(source, np.ndarray):
        return Foreign(source)
    return ArraySource(source)


class ArraySource(Source):
    """A NumPy array or memmap as a chunked source, chunked along its slowest axis."""

    def __init__(self, array: Any) -> None:
        self.array = array if isinstance(array, np.ndarray) else np.asarray(array)
        self.shape = tuple(self.array.shape)
        self.dtype = self.array.dtype
        a = self.array
        f_only = a.ndim > 1 and a.flags.f_contiguous and not a.flags.c_contiguous
        self.chunk_axis = a.ndim - 1 if f_only else 0
        self.order = "F" if f_only else "C"

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        total = self.shape[self.chunk_axis]
        for s in range(0, total, rows):
            yield take(self.array, self.chunk_axis, s, min(s + rows, total))

    def read(self) -> np.ndarray:
        return self.array

    def canonical(self) -> np.ndarray | None:
        """A C-contiguous view with the chunk axis first, if the array has one."""
        a = self.array
        if a.ndim == 0 or not a.dtype.isnative:
            return None
        if self.chunk_axis == 0 and a.flags.c_contiguous:
            return a
        if self.chunk_axis == a.ndim - 1 and a.flags.f_contiguous:
            return a.T
        return None


def take(a: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    """``a[..., start:stop, ...]`` along ``axis``, as a view."""
    index = [slice(None)] * a.ndim
    index[axis] = slice(start, stop)
    return a[tuple(index)]


def read_all(source: Any) -> np.ndarray:
    """A block-reading source's ``read()``: all of its blocks joined along ``chunk_axis``
    (zeros of its shape when it has none)."""
    axis = source.chunk_axis
    blocks = list(source.chunks(max(source.shape[axis], 1)))
    if not blocks:
        return np.zeros(source.shape, source.dtype, order=source.order)
    return np.concatenate(blocks, axis=axis)


# -- reading blocks with file reads ------------------------------------------------------------

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
    """Read ``nbytes`` into a new byte array; return it and how many bytes were there.

    A block of up to :data:`PIECE_BYTES` is read straight into its array (into ``reuse``,
    a byte buffer the caller no longer needs, when it is large enough). A larger one is
    read piece by piece and put together only once all of it has arrived, so a short stream
    never allocates the size its header claimed.
    """
    if reuse is not None and reuse.size >= nbytes:  # a buffer the caller has done with
        out = reuse[:nbytes]
        return out, read_exact(fh, memoryview(out))
    if nbytes <= PIECE_BYTES:
        out = np.empty(nbytes, np.uint8)
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


def skip_bytes(fh: Any, nbytes: int, short: str) -> None:
    """Read past ``nbytes`` (a header's extensions, or all of it on a stream that cannot
    seek) in bounded pieces; :class:`InputError` ``short`` if the stream ends first."""
    if nbytes <= 0:
        return
    buf = memoryview(bytearray(min(nbytes, 1 << 20)))
    left = nbytes
    while left:
        n = read_exact(fh, buf[: min(left, len(buf))])
        if n == 0:
            raise InputError(short)
        left -= n


def drain(fh: Any, piece: int = 1 << 20) -> int:
    """Read ``fh`` to its end (a gzip or zip stream checks its CRC and length there);
    return how many bytes were left."""
    buf = memoryview(bytearray(piece))
    left = 0
    while True:
        n = fh.readinto(buf)
        if not n:
            return left
        left += n


def stream_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a corrupt gzip or zip stream raises, with either gzip backend."""
    import zlib

    kinds: list[type[BaseException]] = [OSError, EOFError, zlib.error]
    try:
        from isal import isal_zlib
    except ImportError:
        pass
    else:
        kinds.append(isal_zlib.error)
    return tuple(kinds)


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


class Trimmed(Source):
    """``source`` without its first ``drop`` elements along ``axis`` (the dummy volumes
    of a run): a chunked source of the same kind (its blocks as stored, with its scale,
    when it has them), whose blocks are views of the source's."""

    def __init__(self, source: Source, axis: int, drop: int) -> None:
        self._inner, self._axis, self._drop = source, axis, drop
        shape = list(source.shape)
        shape[axis] = max(shape[axis] - drop, 0)
        self.shape = tuple(shape)
        self.dtype = source.dtype
        self.chunk_axis = source.chunk_axis
        self.order, self.stored, self.scale = source.order, source.stored, source.scale

    def _trim(self, pieces: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        axis, left = self._axis, self._drop
        try:
            for piece in pieces:
                size = piece.shape[axis]
                if axis != self.chunk_axis:
                    yield take(piece, axis, min(left, size), size)
                elif left >= size:
                    left -= size
                else:
                    yield take(piece, axis, left, size)
                    left = 0
        finally:
            close = getattr(pieces, "close", None)  # a generator's, when it is one
            if close is not None:
                close()

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        return self._trim(self._inner.chunks(rows))

    def stored_chunks(self, rows: int) -> Iterator[np.ndarray]:
        return self._trim(self._inner.stored_chunks(rows))

    def read(self) -> np.ndarray:
        whole = self._inner.read()
        return take(whole, self._axis, self._drop, whole.shape[self._axis])

    def start(self) -> None:
        self._inner.start()

    def close(self) -> None:
        self._inner.close()


def trim(source: Any, axis: int, drop: int) -> Any:
    """``source`` without its first ``drop`` elements along ``axis``: an array source's
    view, or a :class:`Trimmed` reader."""
    if drop <= 0:
        return source
    if isinstance(source, ArraySource):
        array = source.array
        return ArraySource(take(array, axis, min(drop, array.shape[axis]), array.shape[axis]))
    return Trimmed(source, axis, drop)


def _rows(source: Any, block_bytes: int = 8 << 20) -> int:
    shape = tuple(source.shape)
    chunk = source.chunk_axis
    row_bytes = np.dtype(source.dtype).itemsize * math.prod(shape) // max(shape[chunk], 1)
    return max(block_bytes // max(row_bytes, 1), 1)


def verify(source: Any) -> None:
    """Read ``source`` to its end in blocks, computing nothing: a file that is corrupt or
    truncated raises :class:`InputError` here (a gzip stream's CRC is checked at its end)."""
    if not source.shape or not source.shape[source.chunk_axis]:
        return
    for _ in source.chunks(_rows(source)):
        pass


def global_signal(source: Any, time_axis: int, frames: int) -> np.ndarray:
    """The mean over every other axis of each of the first ``frames`` elements along
    ``time_axis`` (a run's global signal), in float64, of the finite values (a NaN
    background is left out), read in blocks: only those frames where the blocks run along
    time, else every block."""
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
                part, count = _finite_sums(take(piece, time_axis, 0, k), others)
                sums[seen : seen + k] += part
                counts[seen : seen + k] += count
                seen += k
                if seen >= keep:
                    break
            else:
                part, count = _finite_sums(take(piece, time_axis, 0, keep), others)
                sums += part
                counts += count
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _finite_sums(block: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The sums of the finite values of ``block`` over ``axes``, and how many there were."""
    if block.dtype.kind != "f":
        count = math.prod(block.shape[a] for a in axes)
        return block.sum(axis=axes, dtype=np.float64), np.full(1, count, np.float64)
    finite = np.isfinite(block)
    values = np.where(finite, block, 0).sum(axis=axes, dtype=np.float64)
    return values, finite.sum(axis=axes).astype(np.float64)
