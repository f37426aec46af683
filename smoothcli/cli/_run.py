"""Run a batch from the command line: gather inputs, check the output, stream the rows,
report on stderr, and pick the exit status."""

from __future__ import annotations

import contextlib
import shlex
import signal
import sys
import time
from typing import Any

import typer

from .. import _signals as signals
from ..status import ExitStatus, exit_status_for
from ._results import report_result
from ._ui import UI
from ._usage import Usage, usage_exit

__all__ = ["gather_inputs", "run_batch", "run_command"]

#: what -o to a device or FIFO writes when its name has no known extension
DEVICE_FORMAT = "tsv"


def gather_inputs(
    paths: list[str],
    files_from: str | None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    formats: tuple[str, ...] | None = None,
    follow: bool = False,
) -> Any:
    """The command line's paths and the ``--files-from`` list, folders expanded and filtered:
    a :class:`~smoothcli.discover.Discovery` (inputs, and what the scan skipped)."""
    from ..discover import STDIN, discover, read_list

    paths = list(paths)
    if files_from is not None:
        if files_from == STDIN and STDIN in paths:
            raise Usage("stdin cannot be both a path list and an input", "--files-from")
        try:
            with contextlib.ExitStack() as stack:
                if files_from == STDIN:
                    stream = sys.stdin.buffer
                else:
                    stream = stack.enter_context(open(files_from, "rb"))
                paths += read_list(stream, files_from if files_from != STDIN else "stdin")
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise Usage(f"cannot read {files_from}: {reason}", "--files-from") from None
        except ValueError as exc:
            raise Usage(f"{exc}; it should hold one path a line", "--files-from") from None
    if not paths:
        raise Usage("give at least one PATH, or --files-from", "PATH")
    if paths.count(STDIN) > 1:
        raise Usage("'-' (stdin) can be read once only", "PATH")
    try:
        found = discover(
            paths, include=include or (), exclude=exclude or (), formats=formats, follow=follow
        )
    except ValueError as exc:  # a malformed glob
        raise Usage(str(exc), "--include/--exclude") from None
    found.inputs[:] = _once(found.inputs)
    if not found.inputs and (include or exclude):
        raise Usage("no file found in the folders given matches --include/--exclude")
    if not found.inputs:
        from ..sources import READERS

        shown = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
        kinds = ", ".join(suffix for r in READERS for suffix in r.suffixes)
        skipped = f" ({_skipped(found.skipped)})" if found.skipped else ""
        raise Usage(f"no files of a known kind ({kinds}) to score in {shown}{skipped}")
    return found


def _skipped(skipped: list[tuple[str, str]]) -> str:
    """How many files a folder scan skipped, and why: ``7 skipped: 3 masks or
    segmentations (by name); 2 not images (tables and arrays); 2 not time series``."""
    from ..discover import MASK_BY_NAME, NOT_AN_IMAGE, NOT_FOLLOWED, NOT_TIME_SERIES

    kinds = {
        NOT_FOLLOWED: "symbolic links (not followed)",
        MASK_BY_NAME: "masks or segmentations (by name)",
        NOT_AN_IMAGE: "not images (tables and arrays)",
        NOT_TIME_SERIES: "not time series",
    }
    counts = {label: 0 for label in kinds.values()}
    for _, reason in skipped:
        for start, label in kinds.items():
            if reason.startswith(start):
                counts[label] += 1
    parts = "; ".join(f"{n} {label}" for label, n in counts.items() if n)
    return f"{len(skipped)} skipped: {parts}"


def _once(inputs: list[str]) -> list[str]:
    """Each input once, the first time it is named (a file in a folder given and named
    again, ``./a`` and ``a``): one input, one set of rows."""
    import os

    seen: set[str] = set()
    out = []
    for path in inputs:
        key = path if path == "-" else os.path.abspath(path)  # links stay distinct
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


def _resolve_output(output: str | None, fmt: str, protect: list[str]) -> tuple[Any, str]:
    from ..output import OutputError, check_target, format_for_path

    if output is None:
        return None, ("table" if sys.stdout.isatty() else "tsv") if fmt == "auto" else fmt
    try:
        target = check_target(output, protect=protect)
    except OutputError as exc:
        raise Usage(str(exc), "--output") from None
    if fmt == "auto":
        fmt = format_for_path(output) or ("" if target.regular else DEVICE_FORMAT)
        if not fmt:
            raise Usage(f"cannot tell a format from {output!r}; add --format", "--output")
    return target, fmt


def _meta(job: Any) -> dict:
    from datetime import UTC, datetime

    options = job.opts.options()
    return {
        "Command": shlex.join(["smoothcli", *sys.argv[1:]]),
        "Options": options,
        "Date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _executor(jobs: int, dask: str | None, inputs: int = 1) -> Any:
    """Where the inputs are scored: this process, worker processes (at most one per input
    and per core: ``--jobs 1000`` on 12 inputs starts no more than those), or Dask."""
    from ..batch import dask_executor, inline_executor, process_executor, require_dask
    from ..runtime import cpu_count

    if dask is not None:
        if jobs != 1:
            raise Usage("--dask and --jobs cannot be used together", "--jobs")
        try:
            require_dask()
        except ImportError as exc:
            raise Usage(str(exc), "--dask") from None
        try:
            return dask_executor(dask)
        except (OSError, ValueError, TimeoutError) as exc:
            raise Usage(f"cannot use the Dask cluster {dask!r}: {exc}", "--dask") from None
    if jobs == 1:
        return inline_executor()
    return process_executor(max(min(jobs or cpu_count(), inputs, cpu_count()), 1))


def _open_table(
    stack: contextlib.ExitStack, target: Any, fmt: str, names: list[str], color: bool, hide: bool
) -> Any:
    from ..output import make_writer

    stream = stack.enter_context(target.open()) if target is not None else sys.stdout
    return make_writer(fmt, stream, names, color=color, hide_empty=hide)


def _not_done(log: Any, inputs: list[str], counts: dict[str, int]) -> list[str]:
    """The inputs whose rows the resumed FILE does not hold yet; those it holds count as
    they did (an error row there still makes the batch exit 3)."""
    todo = []
    for path in inputs:
        if log.done(path):
            errors, fails = log.counts(path)
            counts["done"] += 1
            counts["error" if errors else "ok"] += 1
            counts["fail"] += bool(fails)
        else:
            todo.append(path)
    return todo


def _score_all(
    executor: Any,
    log: Any,
    inputs: list[str],
    job: Any,
    ui: UI,
    counts: dict[str, int],
    mask: Any,
    target: Any,
    fmt: str,
    names: list[str],
    columns: str | None,
    pages: Any,
    sinks: list[Any],
) -> str | None:
    """Score ``inputs`` in input order, writing each input's rows to the table (or the
    resumed FILE, or nowhere for the format ``none``) and to each of ``sinks`` as it
    finishes; return the sidecar written, if any."""
    import os

    from ..output import write_sidecar

    stats: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:  # an exception (Ctrl-C) leaves a table untouched
        stack.enter_context(executor)
        if log is not None:
            for path in inputs:
                with contextlib.suppress(OSError, ValueError):
                    stats[path] = os.stat(path) if path != "-" else None
        else:
            color = fmt == "table" and target is None and sys.stdout.isatty()
            writer = (
                _NoTable()
                if fmt == "none"
                else _open_table(stack, target, fmt, names, color, columns is None)
            )
        _stream(
            executor, log, writer if log is None else None, inputs, job, ui, counts, mask, stats,
            pages, sinks,
        )  # fmt: skip
        signals.check()  # a signal swallowed on the way (in a gc callback) still stops here
        if log is not None:
            log.finish(log.order)  # the rows of every input, in input order
    signals.check()  # and one that came while the workers were shut down
    if log is not None:
        return log.sidecar
    return write_sidecar(target, names, _meta(job)) if target is not None else None


class _NoTable:
    """The format ``none``: the rows go only to the sinks (``smoothcli bids``)."""

    def add(self, rows: list[dict]) -> None:
        pass

    def close(self) -> None:
        pass


def _stream(
    executor: Any,
    log: Any,
    writer: Any,
    inputs: list[str],
    job: Any,
    ui: UI,
    counts: dict[str, int],
    mask: Any,
    stats: dict[str, Any],
    pages: Any,
    sinks: list[Any],
) -> None:
    from ..batch import iter_results

    stdin = sys.stdin.buffer if "-" in inputs else None

    def where(number: int) -> Any:
        return lambda: executor.position(number)

    with ui.progress(inputs) as progress:
        if inputs:
            progress.reading(inputs[0], where(0))
        results = iter_results(inputs, job, stdin=stdin, mask=mask, executor=executor)
        for i, result in enumerate(results):
            if log is not None:
                masks = tuple(
                    sorted(
                        {row[c] for row in result.rows for c in ("mask", "confounds") if row.get(c)}
                    )
                )
                log.append(
                    result.rows, path=result.path, stat=stats.get(result.path), depends=masks
                )
            else:
                writer.add(result.rows)
            problems = [p for p in (sink.add(result) for sink in sinks) if p is not None]
            failed = result.error is not None or bool(problems)
            counts["error" if failed else "ok"] += 1
            counts["fail"] += bool(result.failed_rows)
            report_result(result, job, ui)
            for problem in problems:
                ui.say(f"error: {result.path}: {problem}")
            pages.add(result, job.opts.fail_above)
            signals.check()
            if i + 1 < len(inputs):
                progress.reading(inputs[i + 1], where(i + 1))
            progress.advance()
    if writer is not None:
        writer.close()  # after the progress bar is gone


def run_batch(
    found: Any,
    job: Any,
    ui: UI,
    *,
    fmt: str,
    output: str | None,
    columns: str | None,
    files_from: str | None,
    jobs: int = 1,
    dask: str | None = None,
    resume: bool = False,
    report: str | None = None,
    plot: str | None = None,
    censor: str | None = None,
    sinks: tuple[Any, ...] = (),
) -> ExitStatus | int:
    """Run ``job`` (a :class:`~smoothcli.batch.ScoreJob` or ``DvarsJob``) on what
    ``gather_inputs`` found, write the table (format ``none``: no table), say what failed;
    return the exit status. ``sinks`` get each input's result too (``check(inputs)``
    before any work, ``add(result)`` giving an error or None, ``finish(meta)`` giving the
    words for the summary line)."""
    import os

    from ..batch import AUTO, load_mask
    from ..output import OutputError, open_resume, select_columns
    from ._censor import Censor
    from ._pages import Pages

    start = time.perf_counter()
    opts = job.opts
    inputs = list(found.inputs)
    protect = [p for p in inputs if p != "-"]
    protect += [
        p
        for p in (opts.mask, files_from, getattr(opts, "confounds", None))
        if p not in (None, "-", AUTO)
    ]
    if resume and output is None:
        raise Usage("--resume needs -o FILE (TSV, CSV or JSONL)", "--resume")
    if resume:
        from ..output import format_for_path

        fmt = format_for_path(output) or "" if fmt == "auto" else fmt
        target = None
    else:
        target, fmt = _resolve_output(output, fmt, protect)
    try:
        spec = columns if columns or fmt != "table" else job.table_columns
        names = select_columns(spec, job.columns)
    except OutputError as exc:
        raise Usage(str(exc), "--columns") from None
    from ..output import sidecar_path

    table = [output, sidecar_path(output)] if output else []
    pages = Pages(report, plot, [*protect, *table[:1]], output, resume)
    pages.check()
    pages.assign(inputs)
    ours = [p for p in (*table, report) if p is not None]
    every = [Censor(censor, [*protect, *ours], ours), *sinks]
    for sink in every:
        sink.check(inputs)
    mask = None
    if opts.mask is not None and opts.mask != AUTO:
        try:
            mask = load_mask(opts.mask)
        except ValueError as exc:
            raise Usage(str(exc), "--mask") from None
    if ui.verbose:
        for path, reason in found.skipped:
            ui.info(f"skipped: {path}: {reason}")

    from .. import runtime
    from .._signals import exit_at_once, exit_status, raise_on_signal, signal_of

    counts = {"ok": 0, "error": 0, "fail": 0, "done": 0}
    with contextlib.ExitStack() as stack:
        log = None
        if resume:  # checked before any worker starts: a bad FILE is a quick usage error
            try:
                log = stack.enter_context(
                    open_resume(output, fmt, names, meta=_meta(job), protect=protect)
                )
            except OutputError as exc:
                raise Usage(str(exc), "--output") from None
            log.order = list(inputs)
            inputs = _not_done(log, inputs, counts)
        executor = _executor(jobs, dask, len(inputs))
        # this process scores only when it is the executor (and stdin): one device per core
        # then; else it must not spend a core importing JAX while the workers start
        runtime.configure(cpu_devices=None if executor.inline else 1)
        raise_on_signal()  # from here on, Ctrl-C and SIGTERM unwind and clean up
        try:
            sidecar = _score_all(
                executor, log, inputs, job, ui, counts, mask, target, fmt, names, columns, pages,
                every,
            )  # fmt: skip
            extra = pages.finish(_meta(job)) + "".join(s.finish(_meta(job)) for s in every)
        except KeyboardInterrupt as exc:
            signals.caught()
            ui.say("terminated" if signal_of(exc) == signal.SIGTERM else "interrupted")
            return exit_status(exc)
        except BrokenPipeError:  # the reader went away: stop quietly, keep the final flush quiet
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return ExitStatus.BROKEN_PIPE
        except OSError as exc:  # a full disk, /dev/full, an I/O error: the table is not written
            where = output if output is not None else "stdout"
            if exc.filename is not None and exc.filename != output:
                what = f"cannot write {exc.filename}"  # the sidecar, journal, a page or plot
            else:
                what = f"cannot write the table to {where}"
            ui.say(f"error: {what}: {exc.strerror or exc}")
            return ExitStatus.INPUT_ERROR
        finally:
            exit_at_once()  # nothing left to clean up: a late signal ends the process at once
    took = time.perf_counter() - start
    total = len(found.inputs)
    skipped = f"; {_skipped(found.skipped)}" if found.skipped else ""
    ui.info(
        f"{total} input(s): {counts['ok']} scored, {counts['error']} failed to score"
        + (f", {counts['fail']} {job.failed_words}" if opts.has_thresholds else "")
        + (f", {counts['done']} already in {output}" if counts["done"] else "")
        + skipped
        + (f"; wrote {output}" if output else "")
        + (f" and its sidecar {sidecar}" if sidecar else "")
        + extra
        + f" ({took:.2f} s)"
    )
    return exit_status_for(counts["error"], counts["fail"])


def run_command(
    command: str,
    job: Any,
    ui: UI,
    paths: list[str] | None,
    files_from: str | None,
    include: list[str] | None,
    exclude: list[str] | None,
    follow: bool = False,
    **batch: Any,
) -> typer.Exit:
    """A batch command (``score``, ``dvars``) from its options: gather the inputs, run
    ``job`` over them (``batch``: :func:`run_batch`'s keywords); the exit to raise, a usage
    error said on stderr."""
    try:
        found = gather_inputs(paths or [], files_from, include, exclude, job.scanned, follow)
        code = run_batch(found, job, ui, files_from=files_from, **batch)
    except Usage as exc:
        return usage_exit(command, exc.message, exc.param)
    return typer.Exit(int(code))
