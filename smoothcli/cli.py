"""The Typer app. Heavy modules (jax, pandas, nibabel) load inside commands only."""

from __future__ import annotations

import typer

from . import __version__

app = typer.Typer(
    name="smoothcli",
    help="Score how smooth signals are: backward differences reduced to a number.",
    no_args_is_help=True,
    add_completion=True,
)


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
    """Score how smooth signals are: backward differences reduced to a number."""


@app.command()
def spec(
    text: str = typer.Argument(..., help="A scalarisation spec, e.g. 'mean(vnorm(p=2, axis=0))'."),
) -> None:
    """Check a scalarisation spec and print its canonical form."""
    from .scalarise import parse_scalarisation

    try:
        typer.echo(str(parse_scalarisation(text)))
    except ValueError as exc:
        typer.echo(f"smoothcli: {exc}", err=True)
        raise typer.Exit(2) from None
