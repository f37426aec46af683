"""Command-line options, as ``Annotated`` aliases that several commands can share.

Help texts take format names and suffixes from the format registry, which imports no
NumPy, so that ``--help`` imports neither NumPy nor JAX;
tests check them against the registries they describe.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from .._nan import NanPolicy
from ..sources._registry import FORMATS
from . import _complete as complete

SPEC_HELP = (
    "How to reduce the differences to a score, in the spec language: a map name "
    "(vnorm, norm, sum, mean, meansq, max, rms; aliases l1, l2, linf) with keywords p=, "
    "axis= (an int, a tuple, None, time or space), keepdims=; a positional argument is "
    "the inner map. Example: 'rms(axis=space)' is DVARS with --mask. "
    "Check a spec with 'smoothcli spec SPEC'."
)


class Format(StrEnum):
    auto = "auto"
    table = "table"
    tsv = "tsv"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"


#: the formats of ``--stdin-format``: the registry's names (importing it loads no NumPy)
StdinFormat = StrEnum("StdinFormat", {name: name for name in FORMATS})


Paths = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="PATH",
        # described in the command's own text: typer would print a type after it here
        hidden=True,
        show_default=False,
    ),
]
FilesFrom = Annotated[
    str | None,
    typer.Option(
        "--files-from", metavar="FILE|-", help="Read more paths from FILE (or stdin), one a line."
    ),
]
Axis = Annotated[
    str,
    typer.Option("--axis", metavar="INT|time", help="Difference axis; 'time' is chosen per input."),
]
N = Annotated[int, typer.Option("-n", "--n", metavar="INT", min=0, help="Order of differences.")]
PadValue = Annotated[
    float | None,
    typer.Option("--pad-value", metavar="FLOAT", help="Value prepended once before differencing."),
]
Scalarise = Annotated[
    str,
    typer.Option(
        "--scalarise", metavar="SPEC", help=SPEC_HELP, autocompletion=complete.scalarisations
    ),
]
Nu = Annotated[float, typer.Option("--nu", metavar="FLOAT", help="Multiplier of the score.")]
Name = Annotated[
    str, typer.Option("--name", metavar="TEXT", help="The loss's name, for the name column.")
]
Mask = Annotated[
    str | None,
    typer.Option(
        "--mask",
        metavar="FILE|auto",
        autocompletion=complete.auto_or_file,
        help="3D NIfTI mask (nonzero is in) for 4D NIfTI inputs; 'auto': for each BIDS-named "
        "image, the desc-brain_mask beside it with the same entities.",
    ),
]
Include = Annotated[
    list[str] | None,
    typer.Option(
        "--include",
        metavar="GLOB",
        help="Score only files found in folders that match GLOB (relative to the folder "
        "given; ** crosses folders; repeatable). Files named on the command line are kept.",
    ),
]
Exclude = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude", metavar="GLOB", help="Leave out files found in folders that match GLOB."
    ),
]
Follow = Annotated[
    bool,
    typer.Option(
        "--follow",
        help="Follow symbolic links found in folders (as rg -L); by default they are skipped.",
    ),
]
ExternalData = Annotated[
    bool,
    typer.Option(
        "--allow-external-data",
        help="Read a GIFTI data array kept in another file, if that file is in the input's "
        "own folder; by default such an array is refused (an input names no other file).",
    ),
]
Jobs = Annotated[
    int,
    typer.Option(
        "-j",
        "--jobs",
        metavar="N",
        min=0,
        help="Score N inputs at once in worker processes (0: one per core). The table is "
        "the same, in the same order.",
    ),
]
Dask = Annotated[
    str | None,
    typer.Option(
        "--dask",
        metavar="ADDRESS|FILE|local",
        help="Score on a Dask cluster: a scheduler address (tcp://host:8786), a scheduler "
        "file, or 'local' for a cluster of processes on this machine. Needs smoothcli[dask].",
    ),
]
Resume = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="With -o FILE (TSV, CSV or JSONL): append each input's rows as it finishes, and "
        "skip inputs whose rows FILE already holds (same options, same file size and time).",
    ),
]
Nan = Annotated[
    NanPolicy,
    typer.Option(
        "--nan",
        help="propagate: a NaN/Inf difference gives what IEEE arithmetic gives (often NaN); "
        "omit: non-finite differences are left out.",
    ),
]
OutFormat = Annotated[
    Format,
    typer.Option("--format", help="Output format; auto: a table on a terminal, else TSV."),
]
Output = Annotated[
    str | None,
    typer.Option(
        "-o",
        "--output",
        metavar="FILE",
        help="Write the table to FILE (atomically; format from its extension), with a JSON "
        "sidecar beside a .tsv/.csv/.jsonl. A device or FIFO is written into.",
    ),
]
Columns = Annotated[
    str | None,
    typer.Option("--columns", metavar="A,B,...", help="Write only these columns, in this order."),
]
FailAbove = Annotated[
    float | None,
    typer.Option("--fail-above", metavar="X", help="Exit 1 if a score is above X (or NaN)."),
]
FailBelow = Annotated[
    float | None,
    typer.Option("--fail-below", metavar="X", help="Exit 1 if a score is below X (or NaN)."),
]
StdinFmt = Annotated[
    StdinFormat | None,
    typer.Option(
        "--stdin-format",
        help="Format of '-'; sniffed from its first bytes by default (gzip'd: from the first "
        "bytes it decompresses to).",
    ),
]
Quiet = Annotated[
    bool,
    typer.Option(
        "-q", "--quiet", help="Only input errors and threshold failures on stderr, one a line."
    ),
]
Silent = Annotated[bool, typer.Option("-s", "--silent", help="Nothing on stderr.")]
Verbose = Annotated[bool, typer.Option("-v", "--verbose", help="Say what each input gave.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
Summary = Annotated[
    bool,
    typer.Option(
        "--summary",
        help="One row per input instead of one per element: the mean, median, max (and "
        "which), min of a vector score, and with a threshold how many failed.",
    ),
]
Report = Annotated[
    str | None,
    typer.Option(
        "--report",
        metavar="FILE",
        help="Also write an HTML QC page of the rows (as 'smoothcli report' does). Needs "
        "smoothcli[report].",
    ),
]
Plot = Annotated[
    str | None,
    typer.Option(
        "--plot",
        metavar="DIR",
        help="Also draw each input's per-frame trace as DIR/NAME.png (NAME: the input's name; "
        "a PNG of that name there is replaced). Needs smoothcli[report].",
    ),
]
DummyScans = Annotated[
    str,
    typer.Option(
        "--dummy-scans",
        metavar="auto|N",
        help="Non-steady-state volumes at the start of each run: N, or auto (the "
        "non_steady_state_outlier* columns of the run's --confounds table, else nipype's "
        "NonSteadyStateDetector on the first 50 frames).",
    ),
]
Confounds = Annotated[
    str | None,
    typer.Option(
        "--confounds",
        metavar="auto|FILE",
        autocompletion=complete.auto_or_file,
        help="fMRIPrep's confounds table of each run: FILE, or auto (the "
        "desc-confounds_timeseries.tsv beside each image with the same run entities).",
    ),
]
