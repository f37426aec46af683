"""The Typer app: parse options, call the batch, write the table, choose the exit code.

Heavy modules (jax, pandas, nibabel) load inside ``score`` only, after the options are
valid, so ``--help``, completion and usage errors stay fast.
"""

from __future__ import annotations

import os
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from . import __version__
from .status import ExitStatus

app = typer.Typer(
    name="smoothcli",
    help="Score how smooth signals are: backward differences reduced to a number.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


class Format(StrEnum):
    auto = "auto"
    table = "table"
    tsv = "tsv"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"


class NanPolicy(StrEnum):
    propagate = "propagate"
    omit = "omit"


class StdinFormat(StrEnum):
    nifti = "nifti"
    csv = "csv"
    tsv = "tsv"
    npy = "npy"
    npz = "npz"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"smoothcli {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Score how smooth signals are: backward differences reduced to a number.

    Exit status: 0 all scored and within thresholds; 1 a threshold failed; 2 usage error;
    3 an input could not be scored; 130 interrupted.
    """


def _say(message: str) -> None:
    sys.stderr.write(f"smoothcli: {message}\n")


def _usage(message: str, param: str | None = None) -> typer.Exit:
    """Say what is wrong with the command line, plainly, and return the exit to raise."""
    _say(f"usage error: {param + ': ' if param else ''}{message}")
    sys.stderr.write("Try 'smoothcli score --help' for help.\n")
    return typer.Exit(ExitStatus.USAGE)


def _parse_axis(text: str) -> int | str:
    if text == "time":
        return "time"
    try:
        return int(text)
    except ValueError:
        raise _usage(f"{text!r} is neither an integer nor 'time'", "--axis") from None


@app.command()
def score(
    paths: list[str] = typer.Argument(
        None, help="Files, directories (searched recursively) or '-' for stdin.", show_default=False
    ),
    files_from: str | None = typer.Option(
        None, "--files-from", metavar="FILE|-", help="Read more paths from FILE, one per line."
    ),
    axis: str = typer.Option(
        "time", "--axis", metavar="INT|time", help="Difference axis; 'time' resolves per input."
    ),
    n: int = typer.Option(1, "-n", "--n", min=0, help="Order of the differences."),
    pad_value: float | None = typer.Option(
        None, "--pad-value", help="Value prepended before differencing."
    ),
    scalarise: str = typer.Option(
        "vnorm(p=1, axis=None)", "--scalarise", metavar="SPEC", help="How to reduce differences."
    ),
    nu: float = typer.Option(1.0, "--nu", help="Multiplier of the score."),
    name: str = typer.Option("Smoothness", "--name", help="The loss's name, for the name column."),
    mask: str | None = typer.Option(None, "--mask", help="3D NIfTI mask for 4D inputs."),
    nan: NanPolicy = typer.Option(
        NanPolicy.propagate, "--nan", help="propagate: NaN in, NaN out; omit: skip non-finite."
    ),
    fmt: Format = typer.Option(Format.auto, "--format", help="Output format."),
    output: str | None = typer.Option(
        None, "-o", "--output", help="Write the table here (atomically); format from extension."
    ),
    fail_above: float | None = typer.Option(None, "--fail-above", help="Fail if a score > X."),
    fail_below: float | None = typer.Option(None, "--fail-below", help="Fail if a score < X."),
    stdin_format: StdinFormat | None = typer.Option(
        None, "--stdin-format", help="Format of '-'; sniffed from magic bytes by default."
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress, summary or warnings."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Say what each input gave."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Score files and write one row per score: path, name, score, status, error, ...

    Examples:

      smoothcli score run.nii.gz

      smoothcli score bids/ --mask brain.nii.gz --scalarise 'rms(axis=space)' -o scores.tsv

      smoothcli score data/ --fail-above 3.5
    """
    from .scalarise import parse_scalarisation

    axis_value = _parse_axis(axis)
    try:
        spec = parse_scalarisation(scalarise)
    except ValueError as exc:
        raise _usage(str(exc), "--scalarise") from None
    paths = list(paths or [])
    if files_from is not None:
        from .discover import read_list

        if files_from == "-" and "-" in paths:
            raise _usage("stdin cannot be both a path list and an input", "--files-from")
        try:
            text = sys.stdin.read() if files_from == "-" else Path(files_from).read_text()
        except OSError as exc:
            raise _usage(f"cannot read {files_from}: {exc.strerror}", "--files-from") from None
        paths += read_list(text)
    if not paths:
        raise _usage("give at least one PATH, or --files-from", "PATH")
    if mask is not None and not Path(mask).is_file():
        raise _usage(f"no such file: {mask}", "--mask")
    from .discover import discover

    inputs = discover(paths)
    if not inputs:
        raise _usage(f"no supported files (.nii, .nii.gz, .csv, .tsv, .npy, .npz) in {paths}")
    out_fmt = fmt.value
    if output is not None:
        from .report import format_for_path

        if out_fmt == "auto":
            out_fmt = format_for_path(output) or ""
            if not out_fmt:
                raise _usage(f"cannot tell a format from {output!r}; add --format", "--output")
        target = Path(output).resolve()
        if any(p != "-" and Path(p).resolve() == target for p in inputs):
            raise _usage(f"{output} is also an input; it would be overwritten", "--output")
        if not target.parent.is_dir():
            raise _usage(f"no such folder: {target.parent}", "--output")
        if not os.access(target.parent, os.W_OK):
            raise _usage(f"cannot write to {target.parent}", "--output")
    elif out_fmt == "auto":
        out_fmt = "table" if sys.stdout.isatty() else "tsv"

    from .batch import ScoreOptions

    opts = ScoreOptions(
        axis=axis_value,
        n=n,
        pad_value=pad_value,
        scalarise=spec,
        nu=nu,
        name=name,
        mask=mask,
        nan=nan.value,
        stdin_format=stdin_format.value if stdin_format else None,
        fail_above=fail_above,
        fail_below=fail_below,
    )
    try:
        code = _run(inputs, opts, out_fmt, output, quiet=quiet, verbose=verbose, debug=debug)
    except KeyboardInterrupt:  # caught here, before click turns it into "Aborted!" and 1
        _say("interrupted")
        code = ExitStatus.INTERRUPTED
    except BrokenPipeError:  # the reader went away: stop quietly, and keep the final flush quiet
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = ExitStatus.BROKEN_PIPE
    raise typer.Exit(int(code))


def _run(
    inputs: list[str],
    opts: Any,
    out_fmt: str,
    output: str | None,
    *,
    quiet: bool,
    verbose: bool,
    debug: bool,
) -> ExitStatus:
    import contextlib
    import warnings

    from ._warnings import SmoothcliWarning
    from .batch import columns_for, iter_scores
    from .report import Writer, atomic_output

    def on_error(path: str, exc: BaseException) -> None:
        if debug:
            import traceback

            traceback.print_exception(exc, file=sys.stderr)

    def show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if not quiet:
            _say(f"warning: {message}")

    stdin = (lambda: sys.stdin.buffer.read()) if "-" in inputs else None
    columns = columns_for(inputs, opts)
    color = out_fmt == "table" and output is None and sys.stdout.isatty()
    counts = {"ok": 0, "error": 0, "fail": 0}
    failed_rows: list[str] = []
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(atomic_output(output)) if output else sys.stdout
        writer = Writer(out_fmt, stream, columns, color=color)
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("always", SmoothcliWarning)
        warnings.showwarning = show_warning
        progress = _progress(stack, len(inputs), quiet)
        for rows in iter_scores(inputs, opts, stdin=stdin, on_error=on_error):
            writer.add(rows)
            row0 = rows[0]
            counts[row0["status"]] += 1
            if row0["status"] == "error" and not quiet:
                _say(f"error: {row0['path']}: {row0['error']}")
            for row in rows:
                if row.get("check") == "fail":
                    counts["fail"] += 1
                    where = row["path"] + (f" [{row['index']}]" if row["index"] != "" else "")
                    failed_rows.append(f"{where}: score {row['score']:.6g}")
            if verbose:
                _say(f"{row0['path']}: {len(rows)} row(s), status {row0['status']}")
            if progress is not None:
                progress[0].advance(progress[1])
        writer.close()
    if failed_rows and not quiet:
        bounds = " and ".join(
            f"{label} {value:g}"
            for label, value in (("above", opts.fail_above), ("below", opts.fail_below))
            if value is not None
        )
        _say(f"{len(failed_rows)} score(s) failed the threshold (NaN, or {bounds}):")
        for line in failed_rows[:50]:
            sys.stderr.write(f"  {line}\n")
        if len(failed_rows) > 50:
            sys.stderr.write(f"  ... and {len(failed_rows) - 50} more\n")
    if not quiet:
        took = time.perf_counter() - start
        _say(
            f"{len(inputs)} input(s): {counts['ok']} scored, {counts['error']} failed to score"
            + (f", {counts['fail']} score(s) failed the threshold" if opts.has_thresholds else "")
            + (f"; wrote {output}" if output else "")
            + f" ({took:.2f} s)"
        )
    if counts["error"]:
        return ExitStatus.INPUT_ERROR
    if counts["fail"]:
        return ExitStatus.THRESHOLD_FAILED
    return ExitStatus.OK


def _progress(stack: Any, total: int, quiet: bool) -> tuple[Any, Any] | None:
    if quiet or total < 2 or not sys.stderr.isatty() or os.environ.get("CI"):
        return None
    from rich.console import Console
    from rich.progress import Progress

    progress = stack.enter_context(Progress(console=Console(stderr=True), transient=True))
    return progress, progress.add_task("scoring", total=total)


@app.command()
def spec(
    text: str = typer.Argument(..., help="A scalarisation spec, e.g. 'mean(vnorm(p=2, axis=0))'."),
) -> None:
    """Check a scalarisation spec and print its canonical form."""
    from .scalarise import parse_scalarisation

    try:
        typer.echo(str(parse_scalarisation(text)))
    except ValueError as exc:
        _say(str(exc))
        raise typer.Exit(ExitStatus.USAGE) from None
