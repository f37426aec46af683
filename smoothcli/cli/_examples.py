"""``smoothcli examples``: where the example files that come with smoothcli are."""

from __future__ import annotations

import typer


def examples() -> None:
    """Print the folder of the small real files that come with smoothcli (a BOLD run, its
    brain mask, an event-related signal as CSV), to try it on:

      smoothcli score "$(smoothcli examples)"

      smoothcli dvars "$(smoothcli examples)" --mask auto --summary
    """
    from ..examples import FOLDER

    typer.echo(str(FOLDER))
