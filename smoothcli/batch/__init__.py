"""Score many inputs: one task per input, each isolated, each giving a :class:`Result`.

A failure in one input becomes an error row and the batch goes on. The pieces
(ARCHITECTURE section 6): a frozen, picklable :class:`ScoreJob`; plain-data :class:`Task`
objects; an executor (:func:`inline_executor`, :func:`process_executor`,
:func:`dask_executor`); and :func:`ordered`, which yields results in input order.
``score_paths`` is the library entry point; the CLI streams :func:`iter_scores` instead.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import numpy as np

from ..discover import STDIN, discover
from ._dask import DASK_INSTALL, client_executor, dask_executor, require_dask
from ._dvars import DvarsJob, run_summary
from ._executors import (
    Workers,
    at_once,
    inline_executor,
    local_executor,
    process_executor,
    thread_executor,
    worker_count,
)
from ._job import AUTO, Job, Task, load_mask, make_task, make_tasks, remember_mask, run_task
from ._options import DvarsOptions, Result, ScoreOptions
from ._ordered import DIED, ordered
from ._score import ScoreJob

__all__ = [
    "DASK_INSTALL", "DIED", "DvarsJob", "DvarsOptions", "Job", "Result", "ScoreJob",
    "ScoreOptions", "Task", "Workers", "at_once", "client_executor", "dask_executor",
    "dvars_paths", "inline_executor", "iter_results", "iter_scores", "load_mask",
    "local_executor", "make_task", "make_tasks", "ordered", "process_executor",
    "require_dask", "run_summary", "run_task", "score_paths", "thread_executor",
    "worker_count",
]  # fmt: skip


def iter_results(
    paths: Iterable[str],
    job: Job,
    *,
    stdin: BinaryIO | None = None,
    mask: Any = None,
    executor: Workers | None = None,
    jobs: int = 1,
) -> Iterator[Result]:
    """Yield each input's :class:`Result` from ``job`` (a :class:`ScoreJob` or a
    :class:`DvarsJob`), in input order. Every input gives at least one row, with ``path``,
    ``status`` (``ok``/``error``) and ``error``.

    ``mask`` is a mask already loaded with :func:`load_mask` (for ``job.opts.mask``);
    without it, ``job.opts.mask`` is checked here (``ValueError`` if it cannot serve) and
    each process loads it once. ``executor`` runs the tasks (it stays open); without it,
    ``jobs`` says how many worker processes to start for this batch at most (``1``: this
    process; ``0``: one per CPU; see :func:`worker_count`).
    """
    opts = job.opts
    if opts.mask is not None and opts.mask != AUTO:
        if mask is None:
            mask = load_mask(opts.mask)
        remember_mask(opts.mask, mask)  # tasks carry its path; this process has it loaded
    own = executor is None
    if executor is None:
        paths = list(paths)
        count = worker_count(jobs, paths)
        executor = local_executor(paths) if count == 1 else process_executor(count)
    tasks = make_tasks(
        paths, opts.mask, absolute=not executor.local, confounds=getattr(opts, "confounds", None)
    )
    try:
        yield from ordered(executor, job, tasks, stdin=stdin)
    finally:
        if own:
            executor.close()


def iter_scores(paths: Iterable[str], opts: ScoreOptions, **kwargs: Any) -> Iterator[Result]:
    """:func:`iter_results` of a :class:`ScoreJob` with ``opts``."""
    return iter_results(paths, ScoreJob(opts), **kwargs)


def _table(job: Job, paths: str | Iterable[str], jobs: int, client: Any) -> Any:
    """Every input's rows as a ``pandas.DataFrame`` with ``job.columns``: numbers as
    float64, strings (BIDS entities: '01' is not 1) as strings, a missing value as None."""
    import pandas as pd

    from ..output import BY_NAME

    if isinstance(paths, str):
        paths = [paths]
    inputs = discover(paths, formats=job.scanned).inputs
    stdin = sys.stdin.buffer if STDIN in inputs else None
    executor = client_executor(client) if client is not None else None
    results = iter_results(inputs, job, stdin=stdin, executor=executor, jobs=jobs)
    rows = [row for result in results for row in result.rows]
    names = list(job.columns)
    frame = pd.DataFrame(rows, columns=names)
    numbers = [n for n in names if BY_NAME[n].kind == "number"]
    frame[numbers] = frame[numbers].astype(np.float64)
    text = [n for n in names if BY_NAME[n].kind in ("text", "entity", "level")]
    frame[text] = frame[text].astype(object).where(frame[text].notna(), None)
    return frame


def score_paths(
    paths: str | Iterable[str], *, jobs: int = 1, client: Any = None, **options: Any
) -> Any:
    """Score files or directories; return a ``pandas.DataFrame`` with one row per score.

    ``options`` are the fields of :class:`ScoreOptions` (``axis``, ``n``, ``pad_value``,
    ``scalarise``, ``nu``, ``name``, ``mask``, ``nan``, ``fail_above``, ``fail_below``).
    ``jobs`` worker processes score the inputs (``1``: this process; ``0``: one per CPU);
    or give a ``distributed.Client`` as ``client`` to score each input as a task on its
    cluster (inputs must be reachable there: paths are made absolute). The rows are in
    input order whichever runs them. The columns are :data:`smoothcli.output.COLUMNS`; BIDS
    entities are strings.
    """
    return _table(ScoreJob(ScoreOptions(**options)), paths, jobs, client)


def dvars_paths(
    paths: str | Iterable[str], *, jobs: int = 1, client: Any = None, **options: Any
) -> Any:
    """DVARS of files or directories, as nipype's ``ComputeDVARS`` computes it; a
    ``pandas.DataFrame`` with one row per frame (or per run with ``summary=True``).

    ``options`` are the fields of :class:`DvarsOptions` (``mask``: a path or ``"auto"``,
    needed for NIfTI volumes; ``normalization``, ``tolerance``, ``drop_zero_variance``,
    ``summary``; ``dummy_scans`` (``"auto"`` or a count), ``confounds`` (a path or
    ``"auto"``); the rules ``fail_above`` (a number or ``"auto"``), ``fail_below``,
    ``fd_above``, ``max_fail_fraction``, ``fail_mean_above``). A folder is searched for
    images (NIfTI, CIFTI-2, GIFTI) only. ``jobs`` and ``client`` as for
    :func:`score_paths`; the columns are :data:`smoothcli.output.DVARS_COLUMNS` (or
    ``DVARS_SUMMARY_COLUMNS``).
    """
    return _table(DvarsJob(DvarsOptions(**options)), paths, jobs, client)
