"""``smoothcli dvars``: DVARS as nipype's ``ComputeDVARS`` gives it (fMRIPrep's confounds,
MRIQC's IQMs), on the same inputs, executors, tables and exit statuses as ``score``."""

from __future__ import annotations

from typing import Annotated

import typer

from . import _options as o
from ._run import run_command, usage_exit
from ._ui import UI

Normalization = Annotated[
    float,
    typer.Option(
        "--intensity-normalization",
        metavar="FLOAT",
        help="Scale the brain's data to this median before differencing (nipype's and "
        "fMRIPrep's 1000); 0 leaves the data as they are.",
    ),
]
VarianceTol = Annotated[
    float,
    typer.Option(
        "--variance-tol",
        metavar="FLOAT",
        help="Leave out voxels whose robust SD ((75th - 25th percentile) / 1.349) is at most this.",
    ),
]
KeepZeroVariance = Annotated[
    bool,
    typer.Option(
        "--keep-zero-variance",
        help="Keep those voxels; a robust SD of 0 is then an error row (standardised DVARS "
        "divides by it).",
    ),
]
DvarsSummary = Annotated[
    bool,
    typer.Option(
        "--summary",
        help="One row per run: the means over frames with MRIQC's names (dvars_nstd, "
        "dvars_std, dvars_vstd), the max of each and its frame.",
    ),
]
FailAbove = Annotated[
    float | None,
    typer.Option(
        "--fail-above",
        metavar="X",
        help="Exit 1 if a frame's std_dvars is above X (fMRIPrep flags frames over 1.5).",
    ),
]
FailBelow = Annotated[
    float | None,
    typer.Option("--fail-below", metavar="X", help="Exit 1 if a frame's std_dvars is below X."),
]


def dvars(
    paths: o.Paths = None,
    files_from: o.FilesFrom = None,
    mask: o.Mask = None,
    normalization: Normalization = 1000.0,
    variance_tol: VarianceTol = 1e-7,
    keep_zero_variance: KeepZeroVariance = False,
    summary: DvarsSummary = False,
    include: o.Include = None,
    exclude: o.Exclude = None,
    fmt: o.OutFormat = o.Format.auto,
    output: o.Output = None,
    columns: o.Columns = None,
    fail_above: FailAbove = None,
    fail_below: FailBelow = None,
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
    """DVARS per frame: dvars, std_dvars and vx_std_dvars, as fMRIPrep's confounds and
    MRIQC's IQMs have them (nipype's ComputeDVARS, in float64).

    A PATH is a file, a folder (searched as for 'score') or '-' for stdin. A NIfTI run
    needs a brain mask (--mask FILE, or --mask auto); CIFTI, GIFTI and tables use every
    column. One row per frame, frame 0 with no value (n/a), like fMRIPrep's confounds.

    Examples:

      smoothcli dvars sub-01_task-rest_desc-preproc_bold.nii.gz --mask auto

      smoothcli dvars fmriprep/ --include '*preproc_bold*' --mask auto --summary -o dvars.tsv

    Exit status: as for 'score' (1: a frame's std_dvars failed --fail-above/--fail-below).
    """
    from ..batch import DvarsJob, DvarsOptions

    try:
        opts = DvarsOptions(
            mask=mask,
            normalization=normalization,
            tolerance=variance_tol,
            drop_zero_variance=not keep_zero_variance,
            summary=summary,
            stdin_format=stdin_format.value if stdin_format else None,
            fail_above=fail_above,
            fail_below=fail_below,
        )
    except ValueError as exc:
        raise usage_exit("dvars", str(exc)) from None
    ui = UI(quiet=quiet, silent=silent, verbose=verbose, debug=debug)
    raise run_command(
        "dvars", DvarsJob(opts), ui, paths, files_from, include, exclude,
        fmt=fmt.value, output=output, columns=columns, jobs=jobs, dask=dask, resume=resume,
        report=report, plot=plot,
    )  # fmt: skip
