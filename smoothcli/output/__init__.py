"""Rows to output: the columns, their text, one writer per format, and where they go.

Nothing here computes a score; NumPy and rich load only when a value or a table needs them.
"""

from __future__ import annotations

from ._columns import (
    BY_NAME,
    COLUMN_NAMES,
    COLUMNS,
    DVARS_COLUMNS,
    DVARS_SUMMARY_COLUMNS,
    SCORE_COLUMNS,
    SUMMARY_COLUMNS,
    Column,
    select_columns,
)
from ._errors import OutputError
from ._formats import FORMATS, STREAMING, format_for_path
from ._resume import RESUMABLE, Resume, journal_path, open_resume
from ._sidecar import sidecar, sidecar_path, write_sidecar
from ._target import Target, check_target
from ._values import ESCAPE_ERRORS
from ._writers import WRITERS, Writer, make_writer

__all__ = [
    "BY_NAME", "COLUMNS", "COLUMN_NAMES", "DVARS_COLUMNS", "DVARS_SUMMARY_COLUMNS",
    "SCORE_COLUMNS", "SUMMARY_COLUMNS", "ESCAPE_ERRORS", "FORMATS", "STREAMING", "WRITERS",
    "Column", "OutputError", "RESUMABLE", "Resume", "Target", "Writer", "check_target",
    "format_for_path", "journal_path", "make_writer", "open_resume", "select_columns", "sidecar",
    "sidecar_path", "write_sidecar",
]  # fmt: skip
