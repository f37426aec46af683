"""Values to text: numbers in full precision, missing values per format, names that never raise.

A score may be a Python float, a NumPy float32/float64 scalar or an integer. Text formats
write the shortest text that reads back to the same value *of its own dtype*: a float32
score as float32 (``2031.9187``), a float64 one as Python's ``repr`` (``1063944199.0``).
``None`` (or a key that is absent) is a missing value.

A file name that is not UTF-8 arrives as a ``str`` with surrogate escapes (``os.fsdecode``);
it is written with backslash escapes (``\\udcff`` -> ``\\xff``) in every format, never raising
``UnicodeEncodeError``. :data:`ESCAPE_ERRORS` names a codec error handler that does the same
for a whole stream (``open(..., errors=ESCAPE_ERRORS)``, ``sys.stdout.reconfigure(...)``).
"""

from __future__ import annotations

import codecs
import json
import math
import numbers
from typing import Any

from .._text import one_line

ESCAPE_ERRORS = "smoothcli.escape"


def _escape_char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that os.fsdecode could not decode
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _escape_handler(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(_escape_char(c) for c in exc.object[exc.start : exc.end]), exc.end


codecs.register_error(ESCAPE_ERRORS, _escape_handler)


def clean(text: str) -> str:
    """``text`` with any surrogate (an undecodable byte of a file name) backslash-escaped."""
    return text.encode("utf-8", ESCAPE_ERRORS).decode("utf-8")


def is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def number_text(value: Any) -> str:
    """The shortest text that reads back to the same ``value`` in its own dtype:
    ``nan``, ``inf`` and ``-inf`` for the non-finite ones."""
    if isinstance(value, numbers.Integral):
        return str(int(value))
    number = float(value)
    if not math.isfinite(number):
        return "nan" if math.isnan(number) else ("inf" if number > 0 else "-inf")
    if isinstance(value, float):  # Python float and np.float64
        return repr(number)
    if getattr(value, "itemsize", 8) <= 4:  # np.float32, np.float16: their own shortest digits
        import numpy as np

        digits = np.format_float_scientific(value, unique=True, trim="-")
        # <= 9 significant digits: float64 reads them exactly, and repr keeps them
        return repr(float(digits))
    return str(value)  # np.longdouble and the like: NumPy's own shortest text


def cell_text(value: Any, *, missing: str, nan: str) -> str:
    """A value as a cell of a text table (TSV, CSV, Markdown)."""
    if value is None:
        return missing
    if is_number(value):
        whole = isinstance(value, numbers.Integral)
        return nan if not whole and math.isnan(value) else number_text(value)
    return clean(value if isinstance(value, str) else str(value))


def json_token(value: Any) -> str:
    """A value as strict JSON: ``null`` for missing, NaN and +-inf."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        finite = isinstance(value, numbers.Integral) or math.isfinite(value)
        return number_text(value) if finite else "null"
    return json.dumps(clean(value if isinstance(value, str) else str(value)))


def json_object(row: dict[str, Any], columns: list[str]) -> str:
    """One row as a JSON object on one line, keys in column order."""
    body = ", ".join(f"{json.dumps(c)}: {json_token(row.get(c))}" for c in columns)
    return "{" + body + "}"


def table_text(value: Any) -> str:
    """A value for a person to read: floats may be rounded (never beyond 10 digits)."""
    if value is None:
        return ""
    if is_number(value) and not isinstance(value, numbers.Integral):
        number = float(value)
        if not math.isfinite(number) or getattr(value, "itemsize", 8) <= 4:
            return number_text(value)
        import numpy as np

        if float(np.float32(number)) == number:  # a float32 result passed on as a float
            return number_text(np.float32(number))
        rounded = f"{number:.10g}"
        return repr(number) if float(rounded) == number else rounded
    return one_line(cell_text(value, missing="", nan="nan"))
