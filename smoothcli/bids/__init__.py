"""``smoothcli bids``: a BIDS App over fMRIPrep's derivatives (MRIQC's and XCP-D's
conventions: ``smoothcli bids DERIV_DIR OUTPUT_DIR participant|group``).

- :mod:`._layout`: the runs of a derivatives folder, by name and label;
- :mod:`._outputs`: the names of what is written, and the dataset description;
- :mod:`._group`: the per-run tables read back as one row per run.
"""

from __future__ import annotations

from ._group import dvars_tables, group_rows, group_sidecar, group_tsv
from ._layout import BidsRun, LayoutError, find_runs, label, read_description
from ._outputs import (
    CENSOR_DESC,
    DVARS_DESC,
    GROUP_PAGE,
    GROUP_SIDECAR,
    GROUP_TABLE,
    bids_uri,
    dataset_description,
    is_our_description,
    is_our_page,
    is_our_table,
    run_file,
    source_uri,
    subject_page,
)

__all__ = [
    "CENSOR_DESC", "DVARS_DESC", "GROUP_PAGE", "GROUP_SIDECAR", "GROUP_TABLE", "BidsRun",
    "LayoutError", "bids_uri", "dataset_description", "dvars_tables", "find_runs", "group_rows",
    "group_sidecar", "group_tsv", "is_our_description", "is_our_page", "is_our_table", "label",
    "read_description", "run_file", "source_uri", "subject_page",
]  # fmt: skip
