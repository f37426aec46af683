"""Run a batch from the command line: gather inputs, check the output, stream the rows,
report on stderr, and pick the exit status."""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
import time
from typing import Any

import typer

from .. import _signals as signals
from ..status import ExitStatus, exit_status_for
from ._inputs import gather_inputs, skipped_words
from ._state import BatchRun
from ._ui import UI
from ._usage import Usage, as_usage

#: what -o to a device or FIFO writes when its name has no known extension
DEVICE_FORMAT = "tsv"


def _executor(jobs: int, dask: str | None, inputs: list[str]) -> Any:
    """Where the inputs are scored: this process (two big inputs at once, in threads),
    worker processes (at most one per input, per core and per 64 MB of input, and only when
    they score more at once than this process would: ``--jobs 1000`` on 12 inputs starts no
    more than those, and small inputs are scored here), or Dask."""
    from ..batch import dask_executor, local_executor, process_executor, require_dask, worker_count

    if dask is not None:
        if jobs != 1:
            raise Usage("--dask and --jobs cannot be used together", "--jobs")
        with as_usage("--dask", ImportError):
            require_dask()
        try:
            return dask_executor(dask)
        except (OSError, ValueError, TimeoutError) as exc:
            raise Usage(f"cannot use the Dask cluster {dask!r}: {exc}", "--dask") from None
    with as_usage(None, ValueError):
        count = worker_count(jobs, inputs)
        return local_executor(inputs) if count == 1 else process_executor(count)


def _open_table(stack: contextlib.ExitStack, run: BatchRun) -> Any:
    """The table's writer; None for the format ``none``: the rows go only to the sinks."""
    from ..output import make_writer

    if run.fmt == "none":
        return None
    color = run.fmt == "table" and run.target is None and run.ui.table_on_terminal
    stream = stack.enter_context(run.target.open()) if run.target is not None else sys.stdout
    return make_writer(run.fmt, stream, run.names, color=color, hide_empty=run.columns is None)


def _score_all(run: BatchRun, executor: Any) -> str | None:
    """Score the inputs in input order, writing each input's rows to the table (or the
    resumed FILE, or nowhere for the format ``none``) and to each sink as it finishes;
    return the sidecar written, if any."""
    import os

    from ..batch import iter_results
    from ..output import write_sidecar

    inputs, log = run.inputs, run.log
    stats: dict[str, Any] = {}
    writer = None
    with contextlib.ExitStack() as stack:  # an exception (Ctrl-C) leaves a table untouched
        stack.enter_context(executor)
        if log is not None:
            for path in inputs:
                with contextlib.suppress(OSError, ValueError):
                    stats[path] = os.stat(path) if path != "-" else None
        else:
            writer = _open_table(stack, run)
        stdin = sys.stdin.buffer if "-" in inputs else None
        with run.ui.progress(inputs) as progress:
            if inputs:
                progress.reading(inputs[0], functools.partial(executor.position, 0))
            results = iter_results(inputs, run.job, stdin=stdin, mask=run.mask, executor=executor)
            for i, result in enumerate(results):
                if log is not None:
                    paired = {r[c] for r in result.rows for c in ("mask", "confounds") if r.get(c)}
                    stat, depends = stats.get(result.path), tuple(sorted(paired))
                    log.append(result.rows, path=result.path, stat=stat, depends=depends)
                elif writer is not None:
                    writer.add(result.rows)
                run.add(result)
                signals.check()
                if i + 1 < len(inputs):
                    progress.reading(inputs[i + 1], functools.partial(executor.position, i + 1))
                progress.advance()
        if writer is not None:
            writer.close()  # after the progress bar is gone
        signals.check()  # a signal swallowed on the way (in a gc callback) still stops here
        if log is not None:
            log.finish(log.order)  # the rows of every input, in input order
    signals.check()  # and one that came while the workers were shut down
    if log is not None:
        return log.sidecar
    return write_sidecar(run.target, run.names, run.meta()) if run.target is not None else None


def _protected(job: Any, inputs: list[str], files_from: str | None) -> list[str]:
    """What the command reads, which no output may be: the inputs, the mask, the list."""
    from ..batch import AUTO

    opts = job.opts
    named = (opts.mask, files_from, getattr(opts, "confounds", None))
    return [p for p in inputs if p != "-"] + [p for p in named if p not in (None, "-", AUTO)]


def _plan(
    found: Any, job: Any, ui: UI, fmt: str, output: str | None, columns: str | None,
    files_from: str | None, resume: bool,
) -> BatchRun:  # fmt: skip
    """The batch's table checked: its target, format and columns."""
    from ..output import OutputError, check_target, format_for_path, select_columns

    inputs = list(found.inputs)
    protect = _protected(job, inputs, files_from)
    if resume and output is None:
        raise Usage("--resume needs -o FILE (TSV, CSV or JSONL)", "--resume")
    target = None
    if output is not None and not resume:  # --resume's FILE is checked as it is opened
        with as_usage("--output", OutputError):
            target = check_target(output, protect=protect)
    if fmt == "auto" and output is None:
        fmt = "table" if ui.table_on_terminal else "tsv"
    elif fmt == "auto":
        fmt = format_for_path(output) or ("" if resume or target.regular else DEVICE_FORMAT)
        if not fmt and not resume:
            raise Usage(f"cannot tell a format from {output!r}; add --format", "--output")
    with as_usage("--columns", OutputError):
        spec = columns if columns or fmt != "table" else job.table_columns
        names = select_columns(spec, job.columns)
    return BatchRun(
        job, ui, inputs, output, fmt, names, columns, protect, target=target, resume=resume
    )


def _attach(
    run: BatchRun, report: str | None, plot: str | None, censor: str | None, resume: bool,
    sinks: tuple[Any, ...],
) -> None:  # fmt: skip
    """The pages, censor files and other sinks, each checked; the mask, loaded."""
    from ..batch import AUTO, load_mask
    from ..output import sidecar_path
    from ._censor import Censor
    from ._pages import Pages

    output, protect = run.output, run.protect
    table = [output, sidecar_path(output)] if output else []
    run.pages = Pages(report, plot, [*protect, *table[:1]], output, resume)
    run.pages.check(run.inputs)
    ours = [p for p in (*table, report) if p is not None]
    run.sinks = [Censor(censor, [*protect, *ours], ours), *sinks]
    for sink in run.sinks:
        sink.check(run.inputs)
    mask = run.job.opts.mask
    if mask is not None and mask != AUTO:
        with as_usage("--mask", ValueError):
            run.mask = load_mask(mask)


def _failed_write(run: BatchRun, exc: OSError) -> ExitStatus:
    """A full disk, /dev/full, an I/O error: the table is not written."""
    if exc.filename is not None and exc.filename != run.output:
        what = f"cannot write {exc.filename}"  # the sidecar, journal, a page or plot
    else:
        what = f"cannot write the table to {'stdout' if run.output is None else run.output}"
    run.ui.say(f"error: {what}: {exc.strerror or exc}")
    return ExitStatus.INPUT_ERROR


def _execute(run: BatchRun, jobs: int, dask: str | None) -> tuple[str | None, str] | int:
    """Score the batch: the sidecar written and the pages' words for the summary line, or
    the exit status of an interruption (130, 143), a closed stdout (141), or a failed write."""
    import os

    from .. import runtime
    from .._signals import deferred, exit_at_once, exit_status, raise_on_signal, signal_of
    from ..output import OutputError, open_resume

    with contextlib.ExitStack() as stack:
        if run.resume:  # checked before any worker starts: a bad FILE is a quick usage error
            with as_usage("--output", OutputError):
                log = open_resume(
                    run.output, run.fmt, run.names, meta=run.meta(), protect=run.protect
                )
                run.log = stack.enter_context(log)
            run.log.order = list(run.inputs)
            run.skip_done()
        try:
            raise_on_signal()  # from here on, Ctrl-C and SIGTERM unwind and clean up
            with deferred():  # a signal while the workers start is raised once they have,
                executor = stack.enter_context(_executor(jobs, dask, list(run.inputs)))
            # this process scores only when it is the executor (and stdin): one device per
            # core then; else it must not spend a core importing JAX while workers start
            runtime.configure(cpu_devices=None if executor.local else 1)
            sidecar = _score_all(run, executor)
            meta = run.meta()
            return sidecar, run.pages.finish(meta) + "".join(s.finish(meta) for s in run.sinks)
        except KeyboardInterrupt as exc:
            signals.caught()
            run.ui.say("terminated" if signal_of(exc) == signal.SIGTERM else "interrupted")
            return exit_status(exc)
        except BrokenPipeError:  # the reader went away: stop quietly, keep the final flush quiet
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return ExitStatus.BROKEN_PIPE
        except OSError as exc:
            return _failed_write(run, exc)
        finally:
            exit_at_once()  # nothing left to clean up: a late signal ends the process at once


def run_batch(
    found: Any, job: Any, ui: UI, *, fmt: str, output: str | None, columns: str | None,
    files_from: str | None, jobs: int = 1, dask: str | None = None, resume: bool = False,
    report: str | None = None, plot: str | None = None, censor: str | None = None,
    sinks: tuple[Any, ...] = (),
) -> ExitStatus | int:  # fmt: skip
    """Run ``job`` (a :class:`~smoothcli.batch.ScoreJob` or ``DvarsJob``) on what
    ``gather_inputs`` found, write the table (format ``none``: no table), say what failed;
    return the exit status. ``sinks`` get each input's result too (``check(inputs)``
    before any work, ``add(result)`` giving an error or None, ``finish(meta)`` giving the
    words for the summary line)."""
    start = time.perf_counter()
    run = _plan(found, job, ui, fmt, output, columns, files_from, resume)
    _attach(run, report, plot, censor, resume, sinks)
    if ui.verbose:
        for path, reason in found.skipped:
            ui.info(f"skipped: {path}: {reason}")
    done = _execute(run, jobs, dask)
    if not isinstance(done, tuple):
        return done
    sidecar, extra = done
    c = run.counts
    ui.info(
        f"{len(found.inputs)} input(s): {c.ok} scored, {c.error} failed to score"
        + (f", {c.fail} {job.failed_words}" if job.opts.has_thresholds else "")
        + (f", {c.done} already in {output}" if c.done else "")
        + (f"; {skipped_words(found.skipped)}" if found.skipped else "")
        + (f"; wrote {output}" if output else "")
        + (f" and its sidecar {sidecar}" if sidecar else "")
        + extra
        + f" ({time.perf_counter() - start:.2f} s)"
    )
    return exit_status_for(c.error, c.fail)


def run_command(
    job: Any, ui: UI, paths: list[str] | None, files_from: str | None,
    include: list[str] | None, exclude: list[str] | None, follow: bool = False, **batch: Any,
) -> typer.Exit:  # fmt: skip
    """A batch command (``score``, ``dvars``) from its options: gather the inputs, run
    ``job`` over them (``batch``: :func:`run_batch`'s keywords); the exit to raise."""
    found = gather_inputs(paths or [], files_from, include, exclude, job.scanned, follow)
    code = run_batch(found, job, ui, files_from=files_from, **batch)
    return typer.Exit(int(code))
