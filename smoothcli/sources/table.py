"""CSV and TSV tables through pandas: rows are time, columns are signals."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from . import Loaded
from ._base import ArraySource

NA_VALUES = ["n/a", "NA", "N/A", "nan", "NaN", ""]


def _is_number(token: str) -> bool:
    token = token.strip().strip('"')
    if token in NA_VALUES:
        return True
    try:
        float(token)
    except ValueError:
        return False
    return True


def open_table(where: Path | bytes, *, sep: str) -> Loaded:
    import pandas as pd

    text = where.decode() if isinstance(where, bytes) else Path(where).read_text()
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise ValueError("the table is empty")
    header = 0 if not all(_is_number(t) for t in first.split(sep)) else None
    frame = pd.read_csv(
        io.StringIO(text), sep=sep, header=header, na_values=NA_VALUES, keep_default_na=False
    )
    if frame.shape[0] == 0:
        raise ValueError("the table has a header but no rows")
    for name in frame.columns:
        col = frame[name]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            bad = next(v for v in col if not _is_number(str(v)))
            raise ValueError(f"column {str(name)!r} is not numeric (it holds {str(bad)!r})")
    X = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))
    labels = {1: [str(c) for c in frame.columns]}
    return Loaded(ArraySource(X), 0, "table", labels=labels)
