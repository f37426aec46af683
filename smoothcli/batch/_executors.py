"""Where tasks run: this process, a pool of worker processes, or a Dask cluster.

Each factory returns a :class:`Workers`: a ``concurrent.futures`` executor with what
:func:`smoothcli.batch.ordered` needs besides (how many run at once, how to start a new pool
after a worker died, how to stop every worker at once) and ``close()``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import warnings
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from ..runtime import configure, cpu_count

__all__ = [
    "DASK_INSTALL",
    "Workers",
    "dask_executor",
    "inline_executor",
    "process_executor",
    "require_dask",
]

DASK_INSTALL = 'pip install "smoothcli[dask]"'
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


class _Remote(Workers):
    kind = "remote"


def inline_executor() -> Workers:
    """Score in this process, one input after another (``--jobs 1``)."""
    return Workers(InlineExecutor())


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

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
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


def process_executor(jobs: int = 0, *, method: str = "spawn") -> Workers:
    """``jobs`` worker processes (``0``: one per CPU this process may use), started with
    ``spawn`` (or ``forkserver``), never forked from a process where JAX may have started."""
    if method not in ("spawn", "forkserver"):
        raise ValueError(f"start worker processes with spawn or forkserver, not {method}")
    jobs = int(jobs)
    if jobs < 0:
        raise ValueError(f"jobs must be 0 (one per CPU) or more, not {jobs}")
    return ProcessWorkers(jobs or cpu_count(), method)


# -- Dask -----------------------------------------------------------------------------------


def require_dask() -> None:
    """Raise ``ImportError`` saying what to install when ``dask.distributed`` is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ImportError(
            f"Dask is not installed: scoring on a Dask cluster needs {DASK_INSTALL}"
        ) from None


def client_executor(client: Any, close: Callable | None = None) -> Workers:
    """Tasks on a ``distributed.Client``'s cluster; Dask retries a task lost with its worker."""
    try:
        count = sum(client.nthreads().values())
    except Exception:
        count = 1
    return _Remote(client.get_executor(pure=False), count, close)


#: seconds to wait for a scheduler to answer
DASK_TIMEOUT = 10.0
#: a Dask message larger than this is not a scheduler's first one (its handshake: ~60 bytes)
_FIRST_MESSAGE = 16 << 20
#: a scheduler file larger than this is not one (they are a few hundred bytes)
_SCHEDULER_FILE = 1 << 20


def _recv(sock: Any, count: int) -> bytes:
    data = b""
    while len(data) < count:
        more = sock.recv(count - len(data))
        if not more:
            break
        data += more
    return data


def _probe(address: str, timeout: float = DASK_TIMEOUT) -> None:
    """Check that a ``tcp://`` address is a Dask scheduler before Dask talks to it: one
    says hello at once with a small message, whose length comes first (8 bytes). Whatever
    else answers (a web server, garbage) would have Dask allocate what its first bytes
    claim, exabytes; here it is a ``ValueError`` that says so."""
    import socket
    import struct

    scheme, _, rest = address.partition("://")
    if scheme != "tcp":  # tls:// and others speak their own protocol first
        return
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise ValueError(f"{address!r} is not tcp://HOST:PORT")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            head = _recv(sock, 8)
    except TimeoutError:
        raise ValueError(f"nothing answered at {address} within {timeout:g} s") from None
    if len(head) < 8:
        raise ValueError(f"{address} closed the connection: not a Dask scheduler")
    (size,) = struct.unpack("<Q", head)
    if not 0 < size <= _FIRST_MESSAGE:
        raise ValueError(f"{address} is not a Dask scheduler (it does not speak Dask's protocol)")


def _scheduler_address(path: str) -> str:
    """The address in a scheduler file (``dask scheduler --scheduler-file``), read with care:
    a regular file, small, a JSON object whose ``address`` is a ``scheme://`` string."""
    import json
    import stat

    try:
        st = os.stat(path)
    except OSError as exc:
        raise ValueError(f"no Dask scheduler file at {path!r} ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode) or st.st_size > _SCHEDULER_FILE:
        raise ValueError(f"{path!r} is not a Dask scheduler file")
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError, RecursionError):
        raise ValueError(f"{path!r} is not a Dask scheduler file (not JSON)") from None
    address = doc.get("address") if isinstance(doc, dict) else None
    if not isinstance(address, str) or "://" not in address:
        raise ValueError(f"{path!r} is not a Dask scheduler file (no address in it)")
    return address


def _local_cluster() -> Workers:
    """A ``LocalCluster`` of one single-threaded worker process per CPU on 127.0.0.1, no
    dashboard, its scratch space in a temporary folder of its own that closing removes
    (Dask leaves ``dask-scratch-space`` in $TMPDIR otherwise)."""
    import logging
    import shutil
    import tempfile

    import dask
    from distributed import Client, LocalCluster

    scratch = tempfile.mkdtemp(prefix="smoothcli-dask-")
    # the scheduler's and the workers' scratch space (the workers read it from the
    # environment they inherit); their logs silenced, as this process's
    os.environ["DASK_TEMPORARY_DIRECTORY"] = scratch
    # Ctrl-C in a terminal signals the workers too, and distributed's nannies then leave
    # their semaphores to multiprocessing's resource tracker, which frees them and warns
    # (with distributed 2025 under load): the tracker starts with the cluster, from this
    # environment, and is told that warning is expected
    quiet = "ignore::UserWarning:multiprocessing.resource_tracker"
    old = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = f"{old},{quiet}" if old else quiet
    # and its own remarks (another cluster's port 8787 taken, a slow start) are not ours to say
    warnings.filterwarnings("ignore", category=UserWarning, module="distributed")
    try:
        with dask.config.set({"temporary-directory": scratch}):
            cluster = LocalCluster(
                n_workers=cpu_count(),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                local_directory=scratch,
                silence_logs=logging.CRITICAL,
            )
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    client = Client(cluster)

    def close() -> None:
        try:
            with contextlib.suppress(Exception):
                client.close()
            with contextlib.suppress(Exception):
                cluster.close()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    return client_executor(client, close)


def dask_executor(spec: str) -> Workers:
    """A Dask cluster: ``local`` starts a ``LocalCluster`` (:func:`_local_cluster`);
    ``tcp://...`` (any ``://`` address) connects to a scheduler; anything else is a
    scheduler file (``dask scheduler --scheduler-file``). A ``ValueError`` or ``OSError``
    that says why when there is no scheduler there, within :data:`DASK_TIMEOUT`."""
    require_dask()
    import logging

    from distributed import Client

    # Dask logs its workers' comings and goings at WARNING, and a Ctrl-C's closed
    # connections at ERROR, with a traceback: smoothcli's own messages say what the user
    # needs to know (a failed task comes back as its exception)
    logging.getLogger("distributed").setLevel(logging.CRITICAL)

    if spec == "local":
        return _local_cluster()
    address = spec if "://" in spec else _scheduler_address(spec)
    _probe(address)
    try:
        client = Client(address, timeout=f"{DASK_TIMEOUT:g}s")
    except (OSError, ValueError, TimeoutError):
        raise
    except Exception as exc:  # what else Dask raises for what answered there
        raise ValueError(f"cannot connect to the Dask scheduler at {address}: {exc}") from None
    return client_executor(client, client.close)
