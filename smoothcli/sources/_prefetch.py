"""Reading ahead in a helper thread: :class:`Prefetch`, bounded by bytes, and the
:class:`Buffers` it hands back and forth with its caller. NumPy only, never JAX."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np


class Buffers:
    """Byte buffers passed between a reader thread and its caller and back, so that a long
    stream reuses a few buffers: memory freed by one thread and allocated by another is
    kept by the C allocator (in per-thread arenas), so a stream of fresh buffers would
    grow the process by what the reader holds ahead."""

    def __init__(self) -> None:
        import threading

        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()

    def get(self, nbytes: int) -> np.ndarray:
        """``nbytes`` bytes: a buffer given back, or a new one."""
        with self._lock:
            for i, buf in enumerate(self._free):
                if buf.size >= nbytes:
                    return self._free.pop(i)[:nbytes]
        return np.empty(nbytes, np.uint8)

    def put(self, array: np.ndarray) -> None:
        """Give back the memory ``array`` is a view of (done with by whoever held it)."""
        while isinstance(array.base, np.ndarray):
            array = array.base
        if array.dtype == np.uint8 and array.ndim == 1 and array.flags.owndata:
            with self._lock:
                self._free.append(array)


class Prefetch:
    """An iterator over ``blocks`` run in a helper thread, started at once: the next blocks
    are read, decompressed and converted while the caller works on this one (zlib, ISA-L,
    file reads and NumPy release the GIL). The thread keeps one block ready, and more while
    they come to fewer than ``ahead`` bytes, so that a pause of the caller (JAX starting, a
    kernel compiling) does not stop the reading. ``blocks`` runs to its end, so checks after
    its last block still raise (in the caller's thread). :meth:`close`, or dropping the
    iterator, stops the thread. ``recycle`` is given each block once the caller asks for the
    next (a :class:`Buffers` pool's ``put``, for a caller done with a block by then)."""

    def __init__(
        self,
        blocks: Iterator[np.ndarray],
        ahead: int = 0,
        recycle: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        import contextvars
        import threading

        self._queue = _Queue(blocks, ahead)
        self._finished = False
        self._recycle = recycle
        self._last: np.ndarray | None = None
        # the thread holds the queue, not this iterator: dropping the iterator closes it; it
        # runs in a copy of its caller's context, so that its warnings go where the
        # caller's do, and its progress reports too
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._queue.produce,), name="smoothcli-read", daemon=True
        )
        self._thread.start()

    def __iter__(self) -> Prefetch:
        return self

    def __next__(self) -> np.ndarray:
        if self._finished:
            raise StopIteration
        last, self._last = self._last, None
        if last is not None and self._recycle is not None:
            self._recycle(last)
        item = self._queue.take()
        if item is _DONE or isinstance(item, BaseException):
            self.close()
            if item is _DONE:
                raise StopIteration
            raise item
        self._last = item
        return item

    def close(self) -> None:
        """Stop the thread (after the block it is reading) and close ``blocks``."""
        import threading

        if self._finished:
            return
        self._finished = True
        self._queue.stop()
        if threading.current_thread() is self._thread:  # freed in its own thread: it ends
            return  # after this block, and leaves ``blocks`` to the garbage collector
        self._thread.join()
        close = getattr(self._queue.blocks, "close", None)
        if close is not None:  # the thread has left it: its clean-up runs here
            close()

    def __del__(self) -> None:
        if hasattr(self, "_thread"):
            self.close()


_DONE = object()


class _Queue:
    """The blocks a :class:`Prefetch` thread has read, bounded by bytes."""

    def __init__(self, blocks: Iterator[np.ndarray], ahead: int) -> None:
        import threading
        from collections import deque

        self.blocks = blocks
        self.ahead = ahead
        self.ready: deque[tuple[Any, int]] = deque()
        self.held = 0  # bytes of the blocks ready
        self.stopped = False
        self.cond = threading.Condition()

    def _room(self) -> bool:
        return self.stopped or not self.ready or self.held < self.ahead

    def produce(self) -> None:
        cond = self.cond
        item: Any = _DONE
        try:
            for block in self.blocks:
                with cond:
                    size = int(getattr(block, "nbytes", 0))
                    self.ready.append((block, size))
                    self.held += size
                    cond.notify_all()
                    # room for the next block before it is read: at most ``ahead`` bytes
                    # are held, and the block being read
                    cond.wait_for(self._room)
                    if self.stopped:
                        return
        except BaseException as exc:  # handed to the caller, raised there
            item = exc
        with cond:
            self.ready.append((item, 0))
            cond.notify_all()

    def take(self) -> Any:
        with self.cond:
            self.cond.wait_for(lambda: bool(self.ready))
            item, size = self.ready.popleft()
            self.held -= size
            self.cond.notify_all()
        return item

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.ready.clear()
            self.cond.notify_all()
