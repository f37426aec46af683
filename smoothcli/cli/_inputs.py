"""A batch's inputs from the command line: its paths and ``--files-from`` list, folders
expanded and filtered, each input once; what a folder scan skipped, in words."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from ._usage import Usage, as_usage


def gather_inputs(
    paths: list[str],
    files_from: str | None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    formats: tuple[str, ...] | None = None,
    follow: bool = False,
) -> Any:
    """The command line's paths and the ``--files-from`` list, folders expanded and filtered:
    a :class:`~smoothcli.discover.Discovery` (inputs, and what the scan skipped)."""
    from ..discover import STDIN, discover, read_list

    paths = list(paths)
    if files_from is not None:
        if files_from == STDIN and STDIN in paths:
            raise Usage("stdin cannot be both a path list and an input", "--files-from")
        try:
            if files_from == STDIN:
                paths += read_list(sys.stdin.buffer, "stdin")
            else:
                with open(files_from, "rb") as stream:
                    paths += read_list(stream, files_from)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise Usage(f"cannot read {files_from}: {reason}", "--files-from") from None
        except ValueError as exc:
            raise Usage(f"{exc}; it should hold one path a line", "--files-from") from None
    if not paths:
        raise Usage("give at least one PATH, or --files-from", "PATH")
    if paths.count(STDIN) > 1:
        raise Usage("'-' (stdin) can be read once only", "PATH")
    with as_usage("--include/--exclude", ValueError):  # a malformed glob
        found = discover(
            paths, include=include or (), exclude=exclude or (), formats=formats, follow=follow
        )
    found.inputs[:] = _once(found.inputs)
    if not found.inputs and (include or exclude):
        raise Usage("no file found in the folders given matches --include/--exclude")
    if not found.inputs:
        from ..sources import READERS

        shown = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
        kinds = ", ".join(suffix for r in READERS for suffix in r.suffixes)
        skipped = f" ({skipped_words(found.skipped)})" if found.skipped else ""
        raise Usage(f"no files of a known kind ({kinds}) to score in {shown}{skipped}")
    return found


def skipped_words(skipped: list[tuple[str, str]]) -> str:
    """How many files a folder scan skipped, and why: ``7 skipped: 3 masks or
    segmentations (by name); 2 not images (tables and arrays); 2 not time series``."""
    from ..discover import MASK_BY_NAME, NOT_AN_IMAGE, NOT_FOLLOWED, NOT_TIME_SERIES

    kinds = {
        NOT_FOLLOWED: "symbolic links (not followed)",
        MASK_BY_NAME: "masks or segmentations (by name)",
        NOT_AN_IMAGE: "not images (tables and arrays)",
        NOT_TIME_SERIES: "not time series",
    }
    counts = Counter(kinds[s] for _, reason in skipped for s in kinds if reason.startswith(s))
    parts = "; ".join(f"{counts[label]} {label}" for label in kinds.values() if counts[label])
    return f"{len(skipped)} skipped: {parts}"


def _once(inputs: list[str]) -> list[str]:
    """Each input once, the first time it is named (a file in a folder given and named
    again, ``./a`` and ``a``): one input, one set of rows."""
    import os

    first: dict[str, str] = {}
    for path in inputs:  # links stay distinct
        first.setdefault(path if path == "-" else os.path.abspath(path), path)
    return list(first.values())
