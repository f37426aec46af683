"""NIfTI-1/2 images (``.nii``, ``.nii.gz``, or a stream): frames read in order, verified.

- :class:`..._gzip.InputBytes`: where the bytes come from (a path, plain or gzip, or stdin
  read once); gzip through ISA-L when it is installed (:func:`open_gzip`).
- :mod:`._header`: the header, checked before anything is allocated: a real, numeric data
  type, a ``vox_offset`` past the header, and as much data as the file can hold (a ``.nii``
  must hold ``vox_offset`` plus the data; a ``.nii.gz`` cannot hold more than deflate's
  1032:1 allows); :func:`value_dtype`, float32 only when it keeps the stored integers'
  resolution.
- :mod:`._frames`: :class:`NiftiSource`, a 4D image read a few frames at a time in a helper
  thread, the gzip stream read to its end after the last frame (:func:`open_nifti`).
- :mod:`._mask`: :func:`load_mask` and :class:`Mask`; with a mask the data is voxels x time.
"""

from __future__ import annotations

from .._gzip import open_gzip
from ._frames import CiftiFile, NiftiSource, open_nifti
from ._header import Header, value_dtype
from ._mask import Mask, load_mask

__all__ = [
    "Header", "Mask", "CiftiFile", "NiftiSource", "load_mask", "open_gzip", "open_nifti",
    "value_dtype"
]  # fmt: skip
