"""The app, its global options (version, shell completion) and its commands."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import typer

from .._version import __version__
from . import _bids, _dvars, _report, _score
from ._bids import BidsCommand, bids
from ._complete import COMPLETE_VAR, init
from ._dvars import dvars
from ._examples import examples
from ._options import option
from ._report import report
from ._score import score
from ._spec import spec

HELP = """Score how smooth signals are: backward differences reduced to a number.

Commands: 'score' scores files (NIfTI, CIFTI-2, GIFTI, CSV/TSV, NPY/NPZ) and writes one row
per score; 'dvars' gives DVARS per frame as fMRIPrep and MRIQC report it; 'report' turns
their tables into one HTML QC page; 'bids' runs as a BIDS App over fMRIPrep's derivatives;
'spec' checks a --scalarise spec and prints its canonical form; 'examples' prints the folder
of the example files that come with smoothcli.

Exit status: 0 every input scored and within the thresholds; 1 a threshold failed (a NaN
always fails); 2 usage error (options, a bad spec or mask); 3 an input could not be scored;
130 interrupted (Ctrl-C); 141 stdout closed (| head); 143 terminated (SIGTERM).
"""

app = typer.Typer(
    name="smoothcli",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


Shell = StrEnum("Shell", {name: name for name in ("bash", "zsh", "fish", "powershell", "pwsh")})


def _version(value: bool) -> None:
    if value:
        typer.echo(f"smoothcli {__version__}")
        raise typer.Exit()


def _completion(flag: str, install: bool, text: str) -> Any:
    """``--install-completion SHELL`` or ``--show-completion SHELL``: do it, and exit."""

    def callback(ctx: typer.Context, value: Shell | None) -> None:
        if value is None or ctx.resilient_parsing:
            return
        from typer._completion_shared import get_completion_script
        from typer._completion_shared import install as install_script

        shell = value.value
        if install:
            _, path = install_script(shell=shell, prog_name="smoothcli")
            typer.echo(f"{shell} completion installed in {path}")
        else:
            typer.echo(
                get_completion_script(prog_name="smoothcli", complete_var=COMPLETE_VAR, shell=shell)
            )
        raise typer.Exit()

    return option(
        Shell | None, flag, metavar="SHELL", callback=callback, is_eager=True,
        expose_value=False, help=text,
    )  # fmt: skip


Version = option(bool, "--version", callback=_version, is_eager=True, help="Show the version.")
InstallCompletion = _completion(
    "--install-completion",
    True,
    "Install completion for SHELL (bash, zsh, fish, powershell, pwsh).",
)
ShowCompletion = _completion("--show-completion", False, "Print the completion script for SHELL.")


@app.callback(help=HELP)
def main(
    version: Version = False,
    install_completion: InstallCompletion = None,
    show_completion: ShowCompletion = None,
) -> None:
    pass


init()  # a completion script is asking: Typer's classes answer it

app.command(help=_score.HELP)(score)
app.command(help=_dvars.HELP)(dvars)
app.command(help=_report.HELP)(report)
app.command(cls=BidsCommand, help=_bids.HELP)(bids)
app.command()(spec)
app.command()(examples)
