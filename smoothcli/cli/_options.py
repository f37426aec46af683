"""Command-line options, as ``Annotated`` aliases that several commands can share.

Help texts take format names and suffixes from the format registry, which imports no
NumPy, so that ``--help`` imports neither NumPy nor JAX;
tests check them against the registries they describe.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from .._nan import NanPolicy
from ..sources._registry import FORMATS
from . import _complete as complete


def option(kind: Any, *flags: str, **settings: Any) -> Any:
    """``Annotated[kind, typer.Option(*flags, **settings)]``: an option, for the signatures
    of the commands that take it."""
    return Annotated[kind, typer.Option(*flags, **settings)]


SPEC_HELP = (
    "How to reduce the differences to a score, in the spec language: a map name "
    "(vnorm, norm, sum, mean, meansq, max, rms; aliases l1, l2, linf) with keywords p=, "
    "axis= (an int, a tuple, None, time or space), keepdims=; a positional argument is "
    "the inner map. Example: 'rms(axis=space)' is DVARS with --mask. "
    "Check a spec with 'smoothcli spec SPEC'."
)


#: the formats of ``--format``: auto and the writers' (named here: the writers load rich)
Format = StrEnum("Format", "auto table tsv csv json jsonl markdown")


#: the formats of ``--stdin-format``: the registry's names (importing it loads no NumPy)
StdinFormat = StrEnum("StdinFormat", {name: name for name in FORMATS})


# described in the command's own text: typer would print a type after it here
Paths = Annotated[list[str] | None, typer.Argument(metavar="PATH", hidden=True, show_default=False)]
FilesFrom = option(
    str | None,
    "--files-from",
    metavar="FILE|-",
    help="Read more paths from FILE (or stdin), one a line.",
)
Axis = option(
    str, "--axis", metavar="INT|time", help="Difference axis; 'time' is chosen per input."
)
N = option(int, "-n", "--n", metavar="INT", min=0, help="Order of differences.")
PadValue = option(
    float | None, "--pad-value", metavar="FLOAT", help="Value prepended once before differencing."
)
Scalarise = option(
    str, "--scalarise", metavar="SPEC", help=SPEC_HELP, autocompletion=complete.scalarisations
)
Nu = option(float, "--nu", metavar="FLOAT", help="Multiplier of the score.")
Name = option(str, "--name", metavar="TEXT", help="The loss's name, for the name column.")
Mask = option(
    str | None,
    "--mask",
    metavar="FILE|auto",
    autocompletion=complete.auto_or_file,
    help="3D NIfTI mask (nonzero is in) for 4D NIfTI inputs; 'auto': for each BIDS-named "
    "image, the desc-brain_mask beside it with the same entities.",
)
Include = option(
    list[str] | None,
    "--include",
    metavar="GLOB",
    help="Score only files found in folders that match GLOB (relative to the folder "
    "given; ** crosses folders; repeatable). Files named on the command line are kept.",
)
Exclude = option(
    list[str] | None,
    "--exclude",
    metavar="GLOB",
    help="Leave out files found in folders that match GLOB.",
)
Follow = option(
    bool,
    "--follow",
    help="Follow symbolic links found in folders (as rg -L); by default they are skipped.",
)
ExternalData = option(
    bool,
    "--allow-external-data",
    help="Read a GIFTI data array kept in another file, if that file is in the input's "
    "own folder; by default such an array is refused (an input names no other file).",
)
Jobs = option(
    int,
    "-j",
    "--jobs",
    metavar="N",
    min=0,
    help="Score inputs in N worker processes (0: one per core). At most one per input, "
    "per core and per 64 MB of input, and none unless they score more inputs at once than "
    "this process does by itself: two big ones (SMOOTHCLI_OVERLAP_BYTES). The table is "
    "the same, in the same order.",
)
Dask = option(
    str | None,
    "--dask",
    metavar="ADDRESS|FILE|local",
    help="Score on a Dask cluster: a scheduler address (tcp://host:8786), a scheduler "
    "file, or 'local' for a cluster of processes on this machine. Needs smoothcli[dask].",
)
Resume = option(
    bool,
    "--resume",
    help="With -o FILE (TSV, CSV or JSONL): append each input's rows as it finishes, and "
    "skip inputs whose rows FILE already holds (same options, same file size and time).",
)
Nan = option(
    NanPolicy,
    "--nan",
    help="propagate: a NaN/Inf difference gives what IEEE arithmetic gives (often NaN); "
    "omit: non-finite differences are left out.",
)
OutFormat = option(Format, "--format", help="Output format; auto: a table on a terminal, else TSV.")
Output = option(
    str | None,
    "-o",
    "--output",
    metavar="FILE",
    help="Write the table to FILE (atomically; format from its extension), with a JSON "
    "sidecar beside a .tsv/.csv/.jsonl. A device or FIFO is written into.",
)
Columns = option(
    str | None, "--columns", metavar="A,B,...", help="Write only these columns, in this order."
)
FailAbove = option(
    float | None, "--fail-above", metavar="X", help="Exit 1 if a score is above X (or NaN)."
)
FailBelow = option(
    float | None, "--fail-below", metavar="X", help="Exit 1 if a score is below X (or NaN)."
)
StdinFmt = option(
    StdinFormat | None,
    "--stdin-format",
    help="Format of '-'; sniffed from its first bytes by default (gzip'd: from the first "
    "bytes it decompresses to).",
)
Quiet = option(
    bool, "-q", "--quiet", help="Only input errors and threshold failures on stderr, one a line."
)
Silent = option(bool, "-s", "--silent", help="Nothing on stderr.")
Verbose = option(bool, "-v", "--verbose", help="Say what each input gave.")
Debug = option(bool, "--debug", help="Show tracebacks.")
Summary = option(
    bool,
    "--summary",
    help="One row per input instead of one per element: the mean, median, max (and "
    "which), min of a vector score, and with a threshold how many failed.",
)
Report = option(
    str | None,
    "--report",
    metavar="FILE",
    help="Also write an HTML QC page of the rows (as 'smoothcli report' does). Needs "
    "smoothcli[report].",
)
Plot = option(
    str | None,
    "--plot",
    metavar="DIR",
    help="Also draw each input's per-frame trace as DIR/NAME.png (NAME: the input's name; "
    "a PNG of that name there is replaced). Needs smoothcli[report].",
)
DummyScans = option(
    str,
    "--dummy-scans",
    metavar="auto|N",
    help="Non-steady-state volumes at the start of each run: N, or auto (the "
    "non_steady_state_outlier* columns of the run's --confounds table, else nipype's "
    "NonSteadyStateDetector on the first 50 frames).",
)
Confounds = option(
    str | None,
    "--confounds",
    metavar="auto|FILE",
    autocompletion=complete.auto_or_file,
    help="fMRIPrep's confounds table of each run: FILE, or auto (the "
    "desc-confounds_timeseries.tsv beside each image with the same run entities).",
)
