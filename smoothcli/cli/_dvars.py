"""``smoothcli dvars``: DVARS as nipype's ``ComputeDVARS`` gives it (fMRIPrep's confounds,
MRIQC's IQMs), on the same inputs, executors, tables and exit statuses as ``score``."""

from __future__ import annotations

from . import _options as o
from ._options import option
from ._run import run_command
from ._ui import UI
from ._usage import Usage, as_usage, command

Normalization = option(
    float,
    "--intensity-normalization",
    metavar="FLOAT",
    help="Scale the brain's data to this median before differencing (nipype's and "
    "fMRIPrep's 1000); 0 leaves the data as they are.",
)
VarianceTol = option(
    float,
    "--variance-tol",
    metavar="FLOAT",
    help="Leave out voxels whose robust SD ((75th - 25th percentile) / 1.349) is at most this.",
)
KeepZeroVariance = option(
    bool,
    "--keep-zero-variance",
    help="Keep those voxels; a robust SD of 0 is then an error row (standardised DVARS "
    "divides by it).",
)
DvarsSummary = option(
    bool,
    "--summary",
    help="One row per run: the means over frames with MRIQC's names (dvars_nstd, "
    "dvars_std, dvars_vstd), the max of each and its frame.",
)
FailAbove = option(
    str | None,
    "--fail-above",
    metavar="X|auto",
    help="A frame fails when its std_dvars is above X (fMRIPrep flags frames over 1.5); "
    "auto: above the run's own 75th percentile + 1.5 IQR (fsl_motion_outliers' default).",
)
FailBelow = option(
    float | None, "--fail-below", metavar="X", help="A frame fails when its std_dvars is below X."
)
FdAbove = option(
    float | None,
    "--fd-above",
    metavar="X",
    help="A frame also fails when its framewise displacement is above X mm (fMRIPrep: "
    "0.5); needs --confounds.",
)
MaxFailFraction = option(
    float | None,
    "--max-fail-fraction",
    metavar="F",
    help="Run rule: a run fails when more than F (0 to 1) of its counted frames fail.",
)
FailMeanAbove = option(
    float | None,
    "--fail-mean-above",
    metavar="X",
    help="Run rule: a run fails when the mean std_dvars of its counted frames is above X.",
)
Censor = option(
    str | None,
    "--censor",
    metavar="DIR",
    help="Write DIR/<input name>_censor.tsv per run: frame, censor (1: a dummy volume or "
    "a failed frame), and one one-hot outlier_NN column per censored frame.",
)


def _fail_above(text: str | None) -> float | str | None:
    if text is None or text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise Usage(f"{text!r} is neither a number nor 'auto'", "--fail-above") from None


HELP = """DVARS per frame: dvars, std_dvars and vx_std_dvars, as fMRIPrep's confounds and
MRIQC's IQMs have them (nipype's ComputeDVARS, in float64).

A PATH is a file, a folder (searched for images: NIfTI, CIFTI-2, GIFTI) or '-' for
stdin. A NIfTI run needs a brain mask (--mask FILE, or --mask auto); CIFTI, GIFTI and
tables use every column. One row per frame, frame 0 with no value (n/a), like
fMRIPrep's confounds; --confounds adds each frame's FD.

Frames 1..d, whose difference involves one of the run's d dummy volumes, keep their
values but are 'skip': they count toward no check, statistic or exit status. A frame
fails a frame rule (--fail-above, --fail-below, --fd-above); a run fails a run rule
(--max-fail-fraction, --fail-mean-above), or without one when any frame fails.

Examples:

  smoothcli dvars sub-01_task-rest_desc-preproc_bold.nii.gz --mask auto

  smoothcli dvars fmriprep/ --include '*preproc_bold*' --mask auto --confounds auto
  --fail-above 1.5 --fd-above 0.5 --max-fail-fraction 0.05 --summary -o dvars.tsv

Exit status: as for 'score'; 1: a run failed (its run rules, or without them a frame).
"""


@command
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
    follow: o.Follow = False,
    external_data: o.ExternalData = False,
    fmt: o.OutFormat = o.Format.auto,
    output: o.Output = None,
    columns: o.Columns = None,
    fail_above: FailAbove = None,
    fail_below: FailBelow = None,
    fd_above: FdAbove = None,
    max_fail_fraction: MaxFailFraction = None,
    fail_mean_above: FailMeanAbove = None,
    dummy_scans: o.DummyScans = "auto",
    confounds: o.Confounds = None,
    censor: Censor = None,
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
    """``smoothcli dvars``; its help is :data:`HELP`."""
    from ..batch import DvarsJob, DvarsOptions

    with as_usage(None, ValueError):
        opts = DvarsOptions(
            mask=mask, normalization=normalization, tolerance=variance_tol,
            drop_zero_variance=not keep_zero_variance, summary=summary,
            stdin_format=stdin_format.value if stdin_format else None,
            fail_above=_fail_above(fail_above), fail_below=fail_below, fd_above=fd_above,
            max_fail_fraction=max_fail_fraction, fail_mean_above=fail_mean_above,
            dummy_scans=dummy_scans, confounds=confounds, external_data=external_data,
            carpet=report is not None,
        )  # fmt: skip
    ui = UI(quiet=quiet, silent=silent, verbose=verbose, debug=debug)
    raise run_command(
        DvarsJob(opts), ui, paths, files_from, include, exclude, follow,
        fmt=fmt.value, output=output, columns=columns, jobs=jobs, dask=dask, resume=resume,
        report=report, plot=plot, censor=censor,
    )  # fmt: skip
