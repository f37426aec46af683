"""Turn command-line paths into a list of inputs, and read BIDS entities from names.

Nothing here opens data: a missing path stays in the list and fails when it is scored, so
it becomes an error row rather than stopping the batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from .sources import is_supported

STDIN = "-"
ENTITIES = ("sub", "ses", "task", "acq", "run", "echo", "space", "desc")
_ENTITY_RE = re.compile(r"(?:^|_)(" + "|".join(ENTITIES) + r")-([A-Za-z0-9]+)")
_MASK_RE = re.compile(r"_mask\.nii(\.gz)?$", re.IGNORECASE)


def _walk(directory: Path) -> list[str]:
    """Supported files under ``directory``, sorted; hidden entries and masks are skipped."""
    found = []
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).parts
        if any(part.startswith(".") for part in rel):
            continue
        if path.is_file() and is_supported(path.name) and not _MASK_RE.search(path.name):
            found.append(str(path))
    return found


def discover(paths: Iterable[str]) -> list[str]:
    """Expand directories (recursively, in sorted order) and keep files and ``-`` as given."""
    out: list[str] = []
    for raw in paths:
        if raw == STDIN:
            out.append(STDIN)
            continue
        path = Path(raw)
        out.extend(_walk(path) if path.is_dir() else [raw])
    return out


def read_list(text: str) -> list[str]:
    """Paths from ``--files-from``: one per line; blank lines and ``#`` comments are skipped."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def entities(path: str) -> dict[str, str]:
    """BIDS key-value pairs in a file name: ``sub-01_task-rest_bold.nii.gz`` gives
    ``{"sub": "01", "task": "rest"}``."""
    return dict(_ENTITY_RE.findall(Path(path).name))
