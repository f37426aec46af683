"""Censor files: which frames to drop, in fMRIPrep's spike-regressor form.

One row per frame: ``frame``, ``censor`` (1: drop it, a dummy volume or a frame that failed
a frame rule; 0: keep it), then one one-hot column ``outlier_NN`` per censored frame, so the
file can be given to nilearn (or any GLM) as confounds as it is.
"""

from __future__ import annotations

from collections.abc import Iterable


def censored_frames(dummy: int, failed: Iterable[int]) -> list[int]:
    """The dummy volumes (frames ``0 .. dummy-1``) and the failed frames, in order."""
    return sorted(set(range(max(dummy, 0))) | {int(t) for t in failed})


def censor_table(frames: int, dummy: int, failed: Iterable[int]) -> str:
    """The censor file of a run of ``frames`` frames, as TSV text."""
    dropped = censored_frames(dummy, failed)
    width = max(2, len(str(max(len(dropped) - 1, 0))))
    head = ["frame", "censor", *(f"outlier_{i:0{width}d}" for i in range(len(dropped)))]
    where = {t: i for i, t in enumerate(dropped)}
    lines = ["\t".join(head)]
    for t in range(frames):
        spike = ["0"] * len(dropped)
        if t in where:
            spike[where[t]] = "1"
        lines.append("\t".join([str(t), "1" if t in where else "0", *spike]))
    return "\n".join(lines) + "\n"
