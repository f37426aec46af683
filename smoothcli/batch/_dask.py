"""Tasks on a Dask cluster: a ``distributed.Client`` given by a caller, a scheduler address
or file (checked before Dask talks to it), or a ``LocalCluster`` started here (``local``)."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable
from typing import Any

from ..runtime import cpu_count
from ._executors import Workers

DASK_INSTALL = 'pip install "smoothcli[dask]"'


class _Remote(Workers):
    kind = "remote"


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
        with (
            socket.create_connection((host, int(port)), timeout=timeout) as sock,
            sock.makefile("rb") as stream,
        ):
            head = stream.read(8)  # less only if the connection closes first
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
