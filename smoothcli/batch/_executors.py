"""Where tasks run: this process, or a pool of worker processes (a Dask cluster: :mod:`._dask`).

Each factory returns a :class:`Workers`: a ``concurrent.futures`` executor with what
:func:`smoothcli.batch.ordered` needs besides (how many run at once, how to start a new pool
after a worker died, how to stop every worker at once) and ``close()``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from ..runtime import configure, cpu_count

#: a task number meaning "this worker runs no task now"
IDLE = -1


class InlineExecutor(Executor):
    """Runs each call in this process, at once, when it is submitted."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


class Workers:
    """An executor and how to manage it; a context manager that closes it."""

    kind = "inline"

    def __init__(self, executor: Executor, count: int = 1, close: Callable | None = None):
        self.executor, self.count, self._close = executor, max(int(count), 1), close

    @property
    def inline(self) -> bool:
        return self.kind == "inline"

    @property
    def local(self) -> bool:
        """Whether the tasks run in this process (in its threads, maybe)."""
        return self.kind in ("inline", "thread")

    def submit(self, fn: Callable, /, *args: Any) -> Future:
        return self.executor.submit(fn, *args)

    def position(self, number: int) -> float | None:
        """How far task ``number`` has read its input (0 to 1), if known: in this process,
        what its reader reported last."""
        if not self.inline:
            return None
        from ..sources._consumed import fraction

        return fraction()

    def kill(self) -> None:
        """Stop every worker now (an interruption)."""
        self.close()

    def close(self) -> None:
        if self._close is not None:
            close, self._close = self._close, None
            close()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def inline_executor() -> Workers:
    """Score in this process, one input after another."""
    return Workers(InlineExecutor())


class ThreadWorkers(Workers):
    """Threads of this process, each scoring one input: reading a ``.nii.gz`` is inflating
    it, which keeps one core busy while the kernel on what it read takes a fifth of that, so
    two inputs at once keep two cores busy without a worker process's start-up."""

    kind = "thread"

    def __init__(self, executor: Executor, count: int, close: Callable | None = None):
        super().__init__(executor, count, close)
        #: how far each task being scored has read its input (see :func:`run_thread`)
        self.read: dict[int, float] = {}

    def position(self, number: int) -> float | None:
        return self.read.get(number)

    def kill(self) -> None:
        """Drop what has not started, and do not wait (now or on :meth:`close`) for the
        inputs being scored: their threads end with them, or with the process."""
        self._close = None
        self.executor.shutdown(wait=False, cancel_futures=True)


def run_thread(read: dict[int, float], fn: Callable, number: int, *args: Any) -> Any:
    """``fn(*args)`` for task ``number`` in a :class:`ThreadWorkers` thread, its reader's
    progress kept in ``read`` while it runs."""
    from ..sources._consumed import reporting

    with reporting(functools.partial(read.__setitem__, number)):
        try:
            return fn(*args)
        finally:
            read.pop(number, None)


def thread_executor(count: int) -> Workers:
    """Score up to ``count`` inputs at once in this process, each in a thread."""
    from concurrent.futures import ThreadPoolExecutor

    count = max(int(count), 1)
    pool = ThreadPoolExecutor(count, thread_name_prefix="smoothcli-input")
    return ThreadWorkers(pool, count, lambda: pool.shutdown(wait=True, cancel_futures=True))


# -- worker processes ---------------------------------------------------------------------

#: in a worker process: the shared table of (task number, progress) pairs, one a worker, and
#: this worker's slot; progress in millionths of the input read
_slot: tuple[Any, int] | None = None
#: the table's fields per worker
FIELDS = 2
PROGRESS_SCALE = 1_000_000


def _die_with_parent() -> None:
    """On Linux, ask the kernel to kill this worker when the process that started it dies
    (even by SIGKILL), so that no worker is left behind. Elsewhere (macOS, Windows) there is
    no such request: a worker there notices its parent's death when its pipe closes."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError, TypeError, ImportError):  # no libc to ask
        return
    if os.getppid() == 1:  # the parent died before the request was made
        os._exit(1)


def _report_progress(done: float) -> None:
    if _slot is not None:
        table, slot = _slot
        table[FIELDS * slot + 1] = int(done * PROGRESS_SCALE)


def _init_worker(table: Any, counter: Any) -> None:
    """Each worker: one CPU device (N workers x N devices would oversubscribe the cores),
    Ctrl-C left to the parent (which stops the workers), and a slot in the shared table."""
    global _slot
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    configure(cpu_devices=1)
    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    if FIELDS * slot + 1 < len(table):
        _slot = (table, slot)
        table[FIELDS * slot], table[FIELDS * slot + 1] = IDLE, 0
        from ..sources._consumed import set_sink

        set_sink(_report_progress)


def mark_running(number: int) -> None:
    """Record in the shared table which task this worker process runs (``IDLE``: none)."""
    if _slot is not None:
        table, slot = _slot
        table[FIELDS * slot + 1] = 0
        table[FIELDS * slot] = number


class ProcessWorkers(Workers):
    """A ``ProcessPoolExecutor`` of spawned workers, each of which says in a shared table
    which task it runs and how far it has read (for the progress bar)."""

    kind = "process"

    def __init__(self, count: int, method: str = "spawn") -> None:
        import multiprocessing

        self._ctx = multiprocessing.get_context(method)
        super().__init__(self._new_pool(count), count)

    def _new_pool(self, count: int) -> Executor:
        import multiprocessing
        import threading
        from concurrent.futures import ProcessPoolExecutor

        # what this process ran before the pool: the pool's workers and manager thread are
        # what is new (a caller's own processes and threads are left alone)
        self._threads = set(threading.enumerate())
        self._children = set(multiprocessing.active_children())
        self._table = self._ctx.Array("q", [IDLE, 0] * count, lock=False)
        self._counter = self._ctx.Value("i", 0)
        return ProcessPoolExecutor(
            max_workers=count,
            mp_context=self._ctx,
            initializer=_init_worker,
            initargs=(self._table, self._counter),
        )

    def position(self, number: int) -> float | None:
        """How far the worker running task ``number`` has read its input, if one is."""
        table = self._table
        for i in range(0, len(table), FIELDS):
            if table[i] == number:
                return table[i + 1] / PROGRESS_SCALE
        return None

    def restart(self) -> None:
        """A new pool after the old one broke."""
        self.executor.shutdown(wait=True)
        self.executor = self._new_pool(self.count)

    def kill(self) -> None:
        """Stop every worker now. Pending tasks are cancelled first (the pool's manager
        thread drops them: a cancelled task it later found broken would be an error in it),
        then the workers (the multiprocessing children started since the pool was made) are
        killed; and the manager thread, which frees the queues' semaphores once they are
        gone, is joined (else this process could leave first and the resource tracker warn
        of a leak)."""
        import multiprocessing
        import threading

        self.executor.shutdown(wait=False, cancel_futures=True)
        children = [p for p in multiprocessing.active_children() if p not in self._children]
        for proc in children:
            with contextlib.suppress(Exception):
                proc.kill()
        for proc in children:
            with contextlib.suppress(Exception):
                proc.join(5)
        for thread in set(threading.enumerate()) - self._threads:
            if not thread.daemon and thread is not threading.current_thread():
                thread.join(10)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


#: the input bytes one worker process is worth: with less input per worker, its start-up
#: (importing JAX, about a CPU-second) costs more than the work it takes off this process
#: (benchmarks/bench_2core.py: 200 CSVs of 12 KB took 1.27x as long with --jobs 2 as with
#: --jobs 1; 8 runs of 300 MB took 0.74x). ``SMOOTHCLI_WORKER_BYTES`` sets it; 0 starts every
#: worker asked for.
WORKER_BYTES = 64 << 20


def worker_bytes() -> int:
    """:data:`WORKER_BYTES`, or ``SMOOTHCLI_WORKER_BYTES`` when it is set."""
    return _env_bytes("SMOOTHCLI_WORKER_BYTES")


def _env_bytes(name: str) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return WORKER_BYTES
    if not text.isdigit():
        raise ValueError(f"{name} must be a number of bytes, not {text!r}")
    return int(text)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size if path != "-" else 0
    except (OSError, ValueError):
        return 0


def _per_share(count: int, paths: list[str], share: Callable[[], int]) -> int:
    """``count``, at most one per input, per CPU and per ``share()`` bytes of input (their
    sizes on disk; ``share()`` is read only when ``count`` is more than one)."""
    count = min(count, len(paths), cpu_count())
    if count > 1 and (size := share()):
        count = min(count, sum(map(_size, paths)) // size)
    return max(count, 1)


#: inputs this process scores at once by itself (:func:`thread_executor`)
AT_ONCE = 2


def overlap_bytes() -> int:
    """Input bytes worth a second input scored at once in this process (see
    :func:`at_once`): :data:`WORKER_BYTES`, or ``SMOOTHCLI_OVERLAP_BYTES`` when it is set
    (``0``: whatever the size)."""
    return _env_bytes("SMOOTHCLI_OVERLAP_BYTES")


def at_once(paths: list[str]) -> int:
    """How many of ``paths`` this process scores at once, each in a thread: up to
    :data:`AT_ONCE`, one per CPU, and one per :func:`overlap_bytes` of input (small inputs
    are scored one after another: a second thread would only contend for the GIL)."""
    return _per_share(AT_ONCE, paths, overlap_bytes)


def worker_count(jobs: int, paths: list[str]) -> int:
    """How many worker processes ``jobs`` (``0``: one per CPU) is worth for ``paths``: at most
    one per input, per CPU, and per :func:`worker_bytes` of input; and none (``1``) unless
    they score more inputs at once than this process does by itself (:func:`at_once`), as
    fast as a worker and without starting one. (``--jobs`` never makes a batch slower than
    ``--jobs 1`` by its start-up.)"""
    count = _per_share(jobs or cpu_count(), paths, worker_bytes)
    return count if count > 1 and count > at_once(paths) else 1


def local_executor(paths: list[str]) -> Workers:
    """This process, scoring :func:`at_once` of ``paths`` at once."""
    count = at_once(paths)
    return thread_executor(count) if count > 1 else inline_executor()


def process_executor(jobs: int = 0, *, method: str = "spawn") -> Workers:
    """``jobs`` worker processes (``0``: one per CPU this process may use), started with
    ``spawn`` (or ``forkserver``), never forked from a process where JAX may have started."""
    if method not in ("spawn", "forkserver"):
        raise ValueError(f"start worker processes with spawn or forkserver, not {method}")
    jobs = int(jobs)
    if jobs < 0:
        raise ValueError(f"jobs must be 0 (one per CPU) or more, not {jobs}")
    return ProcessWorkers(jobs or cpu_count(), method)
