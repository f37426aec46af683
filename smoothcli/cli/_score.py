"""``smoothcli score``: check the command line, then hand the batch to :mod:`._run`."""

from __future__ import annotations

from .._nan import NanPolicy
from ..sources._registry import SUFFIXES
from . import _options as o
from ._run import run_command
from ._ui import UI
from ._usage import Usage, as_usage, command


def _parse_axis(text: str) -> int | str:
    if text == "time":
        return "time"
    try:
        return int(text)
    except ValueError:
        raise Usage(f"{text!r} is neither an integer nor 'time'", "--axis") from None


HELP = """Score files and write one row per score: path, index, score, status, ...

A PATH is a file, a folder (searched recursively for SUFFIXES) or '-' for stdin.
Precision follows the input: float64 and 32/64-bit integers are computed in float64,
smaller types in float32. --dummy-scans N drops a run's first N frames before
differencing (0 by default: hypercoil's score of the whole run).

Examples:

  smoothcli score run.nii.gz

  smoothcli score bids/ --mask brain.nii.gz --scalarise 'rms(axis=space)' -o scores.tsv

  smoothcli score data/ --fail-above 3.5 -q

Exit status: 0 all scored and within thresholds; 1 a threshold failed; 2 usage error;
3 an input could not be scored (or the table not written); 130 interrupted; 141 stdout
closed; 143 terminated.
""".replace("SUFFIXES", ", ".join(SUFFIXES))  # the registry's, which loads no NumPy


@command
def score(
    paths: o.Paths = None,
    files_from: o.FilesFrom = None,
    axis: o.Axis = "time",
    n: o.N = 1,
    pad_value: o.PadValue = None,
    scalarise: o.Scalarise = "vnorm(p=1, axis=None)",
    nu: o.Nu = 1.0,
    name: o.Name = "Smoothness",
    mask: o.Mask = None,
    include: o.Include = None,
    exclude: o.Exclude = None,
    follow: o.Follow = False,
    external_data: o.ExternalData = False,
    nan: o.Nan = NanPolicy.propagate,
    fmt: o.OutFormat = o.Format.auto,
    output: o.Output = None,
    columns: o.Columns = None,
    fail_above: o.FailAbove = None,
    fail_below: o.FailBelow = None,
    summary: o.Summary = False,
    dummy_scans: o.DummyScans = "0",
    confounds: o.Confounds = None,
    stdin_format: o.StdinFmt = None,
    jobs: o.Jobs = 1,
    dask: o.Dask = None,
    resume: o.Resume = False,
    report: o.Report = None,
    plot: o.Plot = None,
    quiet: o.Quiet = False,
    silent: o.Silent = False,
    verbose: o.Verbose = False,
    debug: o.Debug = False,
) -> None:
    """``smoothcli score``; its help is :data:`HELP`."""
    from ..scalarise import parse_scalarisation

    axis_value = _parse_axis(axis)
    with as_usage("--scalarise", ValueError):
        spec = parse_scalarisation(scalarise)
    from ..batch import ScoreJob, ScoreOptions

    with as_usage(None, ValueError):  # thresholds, --nu and --pad-value that make no sense
        opts = ScoreOptions(
            axis=axis_value, n=n, pad_value=pad_value, scalarise=spec, nu=nu, name=name,
            mask=mask, nan=nan, stdin_format=stdin_format.value if stdin_format else None,
            fail_above=fail_above, fail_below=fail_below, summary=summary,
            dummy_scans=dummy_scans, confounds=confounds, external_data=external_data,
        )  # fmt: skip
    ui = UI(quiet=quiet, silent=silent, verbose=verbose, debug=debug)
    raise run_command(
        ScoreJob(opts), ui, paths, files_from, include, exclude, follow,
        fmt=fmt.value, output=output, columns=columns, jobs=jobs, dask=dask, resume=resume,
        report=report, plot=plot,
    )  # fmt: skip
