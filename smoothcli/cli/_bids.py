"""``smoothcli bids DERIV_DIR OUTPUT_DIR participant|group``: a BIDS App over fMRIPrep's
derivatives, started as MRIQC and XCP-D are."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from . import _options as o
from ._options import option
from ._ui import UI
from ._usage import Usage, as_usage, command, make_folder

#: options that take several values after one flag, as BIDS Apps' argparse ``nargs="+"``
MANY = ("--participant-label", "--session-label", "--task", "--space")


Level = StrEnum("Level", {name: name for name in ("participant", "group")})


class BidsCommand(TyperCommand):
    """``--participant-label 01 02`` as BIDS Apps take it: each value after the flag, up to
    the next option, is one more label (as argparse's ``nargs="+"``)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread(args))


def spread(args: list[str]) -> list[str]:
    """``[--task, a, b]`` -> ``[--task, a, --task, b]`` for the options in :data:`MANY`."""
    out: list[str] = []
    flag = None
    for arg in args:
        if arg == "--":
            flag = None
        elif arg.startswith("-"):
            name = arg.split("=", 1)[0].replace("_", "-")
            flag = name if name in MANY and "=" not in arg else None
            out.append(name + arg[len(name) :] if name in MANY else arg)
            continue
        elif flag is not None and out[-1] != flag:
            out.append(flag)
        out.append(arg)
    return out


def _labels(flag: str, text: str) -> Any:
    return option(list[str] | None, flag, metavar="LABEL...", help=text)


Labels = _labels(
    "--participant-label",
    "The participants to process (01 or sub-01; several after one flag); default: all.",
)
Sessions = _labels("--session-label", "Only these sessions (1 or ses-1).")
Tasks = _labels("--task", "Only the runs of these tasks.")
Spaces = _labels(
    "--space", "Only the runs in these spaces (MNI152NLin2009cAsym, T1w; 'none': no space entity)."
)
FailAbove = option(
    str,
    "--fail-above",
    metavar="X|auto|none",
    help="A frame fails when its std_dvars is above X (fMRIPrep's --dvars-spike-threshold "
    "1.5); auto: above the run's 75th percentile + 1.5 IQR; none: no DVARS rule.",
)
FdAbove = option(
    str,
    "--fd-above",
    metavar="X|none",
    help="A frame fails when its framewise displacement is above X mm (fMRIPrep's "
    "--fd-spike-threshold 0.5); none: no FD rule.",
)
MaxFailFraction = option(
    float | None,
    "--max-fail-fraction",
    metavar="F",
    help="Run rule: a run fails when more than F (0 to 1) of its counted frames fail; "
    "without a run rule, any failed frame fails the run.",
)
FailMeanAbove = option(
    float | None,
    "--fail-mean-above",
    metavar="X",
    help="Run rule: a run fails when its mean std_dvars over counted frames is above X.",
)
NoReports = option(
    bool,
    "--no-reports",
    help="No HTML pages (sub-XX.html, group_bold.html), so no need of smoothcli[report].",
)


def _number(text: str, flag: str, auto: bool = False) -> float | str | None:
    if text == "none":
        return None
    if auto and text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        words = "a number, 'auto' or 'none'" if auto else "a number or 'none'"
        raise Usage(f"{text!r} is not {words}", flag) from None


HELP = """A BIDS App: DVARS and FD QC of every run of fMRIPrep's derivatives, written as a BIDS
derivatives dataset (MRIQC's and XCP-D's conventions).

participant: for each run sub-XX/[ses-YY/]func/*_desc-preproc_bold.nii[.gz] (its
desc-brain_mask and desc-confounds_timeseries beside it), writes into
OUTPUT_DIR/sub-XX/[ses-YY/]func/ the per-frame table <entities>_desc-dvars_timeseries.tsv
and its JSON sidecar, the censor file <entities>_desc-censor_timeseries.tsv; then
OUTPUT_DIR/sub-XX.html and OUTPUT_DIR/dataset_description.json. Re-running a participant
replaces that participant's files only.

group: reads what participant wrote; writes OUTPUT_DIR/group_bold.tsv (one row per run:
entities, the --summary statistics, dummy, n_fail, fail_fraction, verdict, reason) and
OUTPUT_DIR/group_bold.html (the runs ranked by verdict).

Frames fail on fMRIPrep's outlier rules by default (std_dvars > 1.5 or FD > 0.5 mm);
dummy volumes are skipped; a run fails when any counted frame fails, or by its run rules.

Examples:

  smoothcli bids fmriprep/ qc/ participant --participant-label 01 02 --jobs 2

  smoothcli bids fmriprep/ qc/ group

Exit status: 0 every run scored and passed; 1 a run failed; 2 usage error (what was
looked for is said); 3 a run could not be scored (its table holds the error row); 130
interrupted; 143 terminated.
"""


@command
def bids(
    deriv_dir: Annotated[
        str, typer.Argument(metavar="DERIV_DIR", help="fMRIPrep's output folder.")
    ],
    output_dir: Annotated[
        str, typer.Argument(metavar="OUTPUT_DIR", help="Where the derivatives go.")
    ],
    level: Annotated[
        Level,
        typer.Argument(
            metavar="participant|group",
            help="participant: score the runs; group: gather what participant wrote.",
        ),
    ],
    participant_label: Labels = None,
    session_label: Sessions = None,
    task: Tasks = None,
    space: Spaces = None,
    fail_above: FailAbove = "1.5",
    fd_above: FdAbove = "0.5",
    max_fail_fraction: MaxFailFraction = None,
    fail_mean_above: FailMeanAbove = None,
    dummy_scans: o.DummyScans = "auto",
    jobs: o.Jobs = 1,
    dask: o.Dask = None,
    follow: o.Follow = False,
    no_reports: NoReports = False,
    quiet: o.Quiet = False,
    silent: o.Silent = False,
    verbose: o.Verbose = False,
    debug: o.Debug = False,
) -> None:
    """``smoothcli bids``; its help is :data:`HELP`."""
    ui = UI(quiet=quiet, silent=silent, verbose=verbose, debug=debug)
    if level == Level.group:
        raise typer.Exit(int(_group(deriv_dir, output_dir, not no_reports, ui)))
    code = _participant(
        deriv_dir, output_dir, ui,
        labels=(participant_label, session_label, task, space),
        rules=(fail_above, fd_above, max_fail_fraction, fail_mean_above, dummy_scans),
        jobs=jobs, dask=dask, follow=follow, pages=not no_reports,
    )  # fmt: skip
    raise typer.Exit(int(code))


def _output_folder(deriv: str, out: str) -> dict | None:
    """Check OUTPUT_DIR (made if missing): not DERIV_DIR, nor a folder of another tool's
    dataset; return its dataset description, if it has one of smoothcli's."""
    from ..bids import LayoutError, read_description

    if os.path.realpath(deriv) == os.path.realpath(out):
        raise Usage("OUTPUT_DIR is DERIV_DIR: give another folder for the outputs", "OUTPUT_DIR")
    make_folder(out, "OUTPUT_DIR")
    with as_usage("OUTPUT_DIR", LayoutError):
        return read_description(out)


def _same_source(deriv: str, out: str, doc: dict | None) -> None:
    """An OUTPUT_DIR holds the QC of one fMRIPrep folder: its tables' ``Sources`` name
    files there (``DatasetLinks``), which another DERIV_DIR would make wrong."""
    from ..bids import source_uri

    links = (doc or {}).get("DatasetLinks")
    before = links.get("preprocessed") if isinstance(links, dict) else None
    if before is not None and before != source_uri(deriv):
        raise Usage(
            f"{out} holds the QC of another fMRIPrep folder ({before}), and its tables name "
            "files there: give another OUTPUT_DIR (or the same DERIV_DIR)",
            "DERIV_DIR",
        )


def _require_pages(pages: bool) -> None:
    if pages:
        from ..report import require_matplotlib

        try:
            require_matplotlib()
        except ImportError as exc:
            raise Usage(f"{exc}; or add --no-reports", "--no-reports") from None


def _participant(
    deriv: str, out: str, ui: UI, *, labels: tuple, rules: tuple, jobs: int, dask: str | None,
    follow: bool, pages: bool,
) -> int:  # fmt: skip
    from ..batch import AUTO, DvarsJob, DvarsOptions
    from ..bids import LayoutError, dataset_description, find_runs, label, read_description
    from ..discover import Discovery
    from ._bids_sink import BidsSink
    from ._run import run_batch
    from ._state import batch_meta

    _require_pages(pages)
    participants, sessions, tasks, spaces = (v or [] for v in labels)
    fail_above, fd_above, max_fraction, mean_above, dummy = rules
    for values, prefix, flag in (
        (participants, "sub", "--participant-label"), (sessions, "ses", "--session-label"),
        (tasks, "task", "--task"), (spaces, "space", "--space"),
    ):  # fmt: skip
        with as_usage(flag, LayoutError):
            [label(v, prefix) for v in values]
    links: list[str] = []
    with as_usage("DERIV_DIR", LayoutError):
        runs = find_runs(deriv, participants, sessions, tasks, spaces, follow, links)
        source_doc = read_description(deriv)
    if links:
        ui.say(
            f"warning: {len(links)} symbolic link(s) in {deriv} not followed (DataLad's "
            "annexed files are links): add --follow to read them"
        )
    threshold = _number(fail_above, "--fail-above", auto=True)
    with as_usage(None, ValueError):
        opts = DvarsOptions(
            mask=AUTO, confounds=AUTO, dummy_scans=dummy, fail_above=threshold,
            fd_above=_number(fd_above, "--fd-above"), max_fail_fraction=max_fraction,
            fail_mean_above=mean_above, carpet=pages,
        )  # fmt: skip
    _same_source(deriv, out, _output_folder(deriv, out))  # made once the options hold
    job = DvarsJob(opts)
    meta = batch_meta(job)
    sink = BidsSink(
        source=deriv, out=out, runs={r.path: r for r in runs},
        description=dataset_description(deriv, source_doc, meta["Command"]), meta=meta,
        pages=pages, protect=[r.path for r in runs],
        whole=not (sessions or tasks or spaces),
    )  # fmt: skip
    found = Discovery(inputs=[r.path for r in runs])
    return run_batch(
        found, job, ui, fmt="none", output=None, columns=None, files_from=None, jobs=jobs,
        dask=dask, sinks=(sink,),
    )  # fmt: skip


def _group_targets(out: str, tables: list[str], pages: bool) -> tuple[Any, Any, Any]:
    """``group_bold.tsv``, its sidecar and (with pages) ``group_bold.html``, checked."""
    from ..bids import GROUP_PAGE, GROUP_SIDECAR, GROUP_TABLE, is_our_page, is_our_table
    from ..output import OutputError, check_target
    from ..output._sidecar import is_sidecar

    wanted = [(GROUP_TABLE, is_our_table), (GROUP_SIDECAR, is_sidecar)]
    wanted += [(GROUP_PAGE, is_our_page)] if pages else []
    with as_usage("OUTPUT_DIR", OutputError):
        found = [
            check_target(os.path.join(out, name), protect=tables, derived=True, ours=ours)
            for name, ours in wanted
        ]
    return found[0], found[1], found[2] if pages else None


def _group(deriv: str, out: str, pages: bool, ui: UI) -> int:
    from ..bids import dvars_tables, group_rows, group_sidecar, group_tsv
    from ..status import ExitStatus, exit_status_for
    from ._bids_sink import read_tables

    _require_pages(pages)
    doc = _output_folder(deriv, out) if os.path.isdir(out) else None
    tables = dvars_tables(out)
    if doc is None or not tables:
        raise Usage(
            f"no participant outputs in {out}: looked for sub-*/[ses-*/]func/"
            "*_desc-dvars_timeseries.tsv and dataset_description.json (run 'participant' first)",
            "OUTPUT_DIR",
        )
    per_table, every = read_tables(tables)
    rows, entities = group_rows(per_table)
    target, side, page = _group_targets(out, tables, pages)
    sources = ["bids::" + os.path.relpath(t, out).replace(os.sep, "/") for t in tables]
    meta = {**every.meta, "Sources": sources}
    try:
        with target.open() as stream:
            stream.write(group_tsv(rows, entities))
        with side.open() as stream:
            stream.write(json.dumps(group_sidecar(entities, meta), indent=2) + "\n")
        if page is not None and every.rows:
            from ..report import write_report

            write_report(page, every, title="smoothcli DVARS QC: group")
    except OSError as exc:  # a full disk, an I/O error: said in one line
        ui.say(f"error: cannot write {exc.filename or out}: {exc.strerror or exc}")
        return ExitStatus.INPUT_ERROR
    errors = sum(r.get("status") != "ok" for r in rows)
    failed = sum(r.get("verdict") == "fail" for r in rows)
    ui.info(
        f"{len(rows)} run(s): {failed} failed, {errors} could not be scored; wrote "
        f"{target.path}" + (f" and {page.path}" if page is not None else "")
    )
    sys.stdout.flush()
    return exit_status_for(errors, failed)
