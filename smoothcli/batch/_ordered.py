"""Run tasks on an executor and yield their results in input order, with a bounded window of
futures (memory stays bounded for any number of inputs)."""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import BinaryIO

from ..runtime import configure, cpu_count
from ._executors import IDLE, ProcessWorkers, ThreadWorkers, Workers, mark_running, run_thread
from ._job import Job, Task, lost_result, run_task
from ._options import Result

DIED = "the worker scoring this input died (killed or out of memory)"


def run_remote(job: Job, task: Task, number: int) -> Result:
    """A task in a worker process or on a Dask worker."""
    configure(cpu_devices=1)  # a Dask worker: one device per single-threaded worker
    mark_running(number)
    try:
        return run_task(job, task)
    finally:
        mark_running(IDLE)


@dataclass
class _Slot:
    number: int
    task: Task
    future: Future


def _done(result: Result) -> Future:
    future: Future = Future()
    future.set_result(result)
    return future


def ordered(
    executor: Workers | Executor,
    job: Job,
    tasks: Iterable[Task],
    *,
    window: int | None = None,
    stdin: BinaryIO | None = None,
) -> Iterator[Result]:
    """Each task's :class:`Result`, in input order, as soon as every earlier one is done.

    At most ``window`` tasks (default: twice the workers) are submitted and not yet yielded.
    A stdin task (``-``) runs in this process. A worker process that dies (killed, out of
    memory) breaks the pool: a new one scores again, each alone, the inputs it failed, and
    one that kills its worker again is an error row. An
    interruption (or closing this generator early) cancels what is pending, kills the
    worker processes and propagates.
    """
    # an executor given by a caller is taken to run one task per core at once
    workers = executor if isinstance(executor, Workers) else Workers(executor, cpu_count())
    if window is None:
        window = 1 if workers.inline else 2 * workers.count
    window = max(int(window), 1)

    def submit(number: int, task: Task) -> Future:
        if workers.inline or task.stdin:
            return _done(run_task(job, task, stdin=stdin))
        if isinstance(workers, ThreadWorkers):
            return workers.submit(run_thread, workers.read, run_task, number, job, task)
        return workers.submit(run_remote, job, task, number)

    queue: deque[_Slot] = deque()
    numbered = enumerate(tasks)
    try:
        while True:
            while len(queue) < window and (nxt := next(numbered, None)) is not None:
                queue.append(_Slot(*nxt, submit(*nxt)))
            if not queue:
                return
            head = queue[0]
            try:
                result = head.future.result()
            except Exception as exc:
                if _pool_broke(exc):
                    assert isinstance(workers, ProcessWorkers)
                    _recover(workers, job, queue)
                    continue
                # Dask gave up on it (KilledWorker), or it was cancelled
                result = lost_result(job, head.task, f"{DIED}: {type(exc).__name__}", exc)
            queue.popleft()
            yield result
    except BaseException:
        for slot in queue:
            slot.future.cancel()
        workers.kill()
        raise


def _pool_broke(exc: BaseException | None) -> bool:
    """Whether ``exc`` says a worker process died. (Without a process pool, the module that
    defines that error, and multiprocessing with it, is never imported: start-up.)"""
    process = sys.modules.get("concurrent.futures.process")
    return process is not None and isinstance(exc, process.BrokenProcessPool)


def _recover(workers: ProcessWorkers, job: Job, queue: deque[_Slot]) -> None:
    """A worker died (killed, out of memory): which task it ran is not known, so each task
    the broken pool failed runs again, alone, on a new pool; one that kills its worker
    again is an error row (as Dask retries a task whose worker died)."""
    from concurrent.futures.process import BrokenProcessPool

    workers.restart()  # waits until the broken pool has failed every future
    for slot in [s for s in queue if s.future.done() and _pool_broke(s.future.exception())]:
        future = workers.submit(run_remote, job, slot.task, slot.number)
        try:
            slot.future = _done(future.result())
        except BrokenProcessPool:
            slot.future = _done(lost_result(job, slot.task, DIED))
            workers.restart()
