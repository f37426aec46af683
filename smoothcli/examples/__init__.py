"""Small real files that come with smoothcli, to try it on without data of your own:

- ``sub-01_task-rest_bold.nii.gz``: a real BOLD run, (10, 10, 18, 40) int16, TR 1.35 s
  (nitime 0.12.1's ``fmri2.nii.gz``, BSD-3-Clause), and its brain mask
  ``sub-01_task-rest_desc-brain_mask.nii.gz`` (voxels whose mean is above the 40th
  percentile), which ``--mask auto`` pairs with it;
- ``sub-02_task-events_timeseries.csv``: 3360 rows, columns ``bold,events``, a real
  event-related BOLD signal and its event codes (nitime 0.12.1, BSD-3-Clause).

``smoothcli examples`` (or ``python -m smoothcli.examples``) prints their folder::

    smoothcli score "$(smoothcli examples)"
    smoothcli dvars "$(smoothcli examples)" --mask auto --summary
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FOLDER"]

#: the folder the example files are in
FOLDER = Path(__file__).resolve().parent
