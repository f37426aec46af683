"""Metrics beside the smoothness loss, computed from a source with NumPy (no JAX):
:mod:`.dvars`, the DVARS family of fMRI quality control, as nipype computes it."""
