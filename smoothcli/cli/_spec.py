"""``smoothcli spec``: check a scalarisation spec and print its canonical form."""

from __future__ import annotations

from typing import Annotated

import typer

from ..status import ExitStatus
from ._ui import say


def spec(
    text: Annotated[
        str, typer.Argument(metavar="SPEC", help="A spec, e.g. 'mean(vnorm(p=2, axis=0))'.")
    ],
) -> None:
    """Check a scalarisation spec and print its canonical form.

    Maps: vnorm, norm, sum, mean, meansq, max, rms (aliases l1, l2, linf); keywords p=,
    axis= (int, tuple, None, time, space), keepdims=; a positional argument is the inner
    map. Examples: l1, 'rms(axis=space)', 'max(meansq(axis=space), axis=0)'.
    """
    from ..scalarise import parse_scalarisation

    try:
        typer.echo(str(parse_scalarisation(text)))
    except ValueError as exc:
        say(str(exc))
        raise typer.Exit(ExitStatus.USAGE) from None
