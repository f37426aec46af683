"""Output format names, and the format a file name implies."""

from __future__ import annotations

import os

FORMATS: tuple[str, ...] = ("table", "tsv", "csv", "json", "jsonl", "markdown")
STREAMING: frozenset[str] = frozenset({"tsv", "csv", "jsonl"})

EXTENSIONS: dict[str, str] = {
    ".tsv": "tsv",
    ".tab": "tsv",
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "tsv",
}


def format_for_path(path: str) -> str | None:
    """The format a file name's extension implies (``scores.tsv`` -> ``tsv``), else None."""
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())
