"""``--mask auto`` and ``--confounds auto``: the file beside a BIDS-named image that belongs
to it, by file name alone.

fMRIPrep writes, beside ``sub-01_task-rest_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold
.nii.gz``, its brain mask ``sub-01_task-rest_space-MNI152NLin2009cAsym_res-2_desc-brain_mask
.nii.gz`` and the run's confounds ``sub-01_task-rest_desc-confounds_timeseries.tsv`` (one per
run, whatever the space; ``_desc-confounds_regressors.tsv`` in fMRIPrep 1.2 to 20.1).

- The mask of an image is the ``desc-brain_mask`` NIfTI in the same folder whose entities in
  :data:`PAIRED` agree with the image's (the same value, or absent from both); an entity
  outside that list that both names carry must agree too (``dir``, ``rec``, ...).
- The confounds of an image are the ``desc-confounds_timeseries`` TSV in the same folder
  whose entities in :data:`RUN_ENTITIES` agree with the image's, and whose every other
  entity the image carries with the same value (so a confounds file has no space).

Nothing is opened; a folder is listed once per pairing object (or per call without one).
"""

from __future__ import annotations

import os
import re

__all__ = ["PAIRED", "RUN_ENTITIES", "ConfoundsPairing", "MaskPairing", "bids_name", "pair_mask"]

#: the entities an image and its mask must share (absent from one: absent from the other)
PAIRED = ("sub", "ses", "task", "acq", "run", "echo", "space", "res", "den", "cohort")
#: the entities that name a run: an image and its confounds must share these
RUN_ENTITIES = ("sub", "ses", "task", "acq", "ce", "rec", "dir", "run")
_PART_RE = re.compile(r"([A-Za-z0-9]+)-([A-Za-z0-9]+)")


def bids_name(name: str) -> tuple[list[tuple[str, str]], str] | None:
    """A BIDS file name's entities, in order, and its suffix: ``sub-01_task-rest_bold.nii.gz``
    gives ``([("sub", "01"), ("task", "rest")], "bold")``. ``None`` when the name is not
    ``key-value_..._suffix.ext`` (values stay strings: ``01`` is not ``1``)."""
    stem = name.split(".", 1)[0]
    *pairs, suffix = stem.split("_")
    if not pairs or not suffix.isalnum():
        return None
    matches = [_PART_RE.fullmatch(part) for part in pairs]
    if not all(matches):
        return None
    return [(m[1], m[2]) for m in matches if m], suffix


class _Pairing:
    """Pairs images with a file beside them, listing each folder once (a batch keeps one).
    A subclass says which names are candidates, how entities must agree, and what it is
    called in messages."""

    #: file name endings of the candidates, by preference (the first that has a match wins)
    endings: tuple[tuple[str, ...], ...] = ()
    option = ""
    noun = ""
    #: the entities the name looked for carries, and how it ends (for messages)
    keys: tuple[str, ...] = ()
    looked_for = ""

    def __init__(self) -> None:
        self._listings: dict[str, list[str] | OSError] = {}

    def agrees(self, image: dict[str, str], other: dict[str, str]) -> bool:
        raise NotImplementedError

    def wanted(self, pairs: list[tuple[str, str]]) -> str:
        """The name looked for, for messages."""
        head = "_".join(f"{k}-{v}" for k, v in pairs if k in self.keys)
        return f"{head + '_' if head else ''}{self.looked_for}"

    def _listing(self, folder: str) -> list[str]:
        listing = self._listings.get(folder)
        if listing is None:
            ends = tuple(end for group in self.endings for end in group)
            try:
                listing = sorted(n for n in os.listdir(folder or ".") if n.endswith(ends))
            except OSError as exc:
                listing = exc
            self._listings[folder] = listing
        if isinstance(listing, OSError):
            why = listing.strerror or listing
            raise ValueError(f"{self.option} auto cannot list {folder or '.'}: {why}") from None
        return listing

    def pair(self, path: str) -> str:
        """The file of the image at ``path`` (joined to its folder as ``path`` is given);
        ``ValueError`` naming what was looked for and where, when ``path`` is not BIDS-named,
        or none or more than one matches."""
        folder, name = os.path.split(path)
        parsed = bids_name(name)
        if parsed is None:
            raise ValueError(
                f"{self.option} auto needs a BIDS-named image (like "
                f"sub-01_task-rest_bold.nii.gz); {name!r} is not one"
            )
        pairs, _ = parsed
        image = dict(pairs)
        looked, where = self.wanted(pairs), folder or "."
        listing = self._listing(folder)
        for group in self.endings:
            matches = []
            for candidate in listing:
                got = bids_name(candidate) if candidate.endswith(group) else None
                if got is not None and self.agrees(image, dict(got[0])):
                    matches.append(candidate)
            if len(matches) > 1:
                raise ValueError(
                    f"more than one {self.noun} for {self.option} auto: {', '.join(matches)} "
                    f"in {where} all match {looked}"
                )
            if matches:
                return os.path.join(folder, matches[0])
        raise ValueError(f"no {self.noun} for {self.option} auto: looked for {looked} in {where}")


class MaskPairing(_Pairing):
    """Pairs images with their ``desc-brain_mask`` (see the module's docstring)."""

    endings = (("_desc-brain_mask.nii.gz", "_desc-brain_mask.nii"),)
    option, noun = "--mask", "mask"
    keys, looked_for = PAIRED, "desc-brain_mask.nii[.gz]"

    def agrees(self, image: dict[str, str], mask: dict[str, str]) -> bool:
        if any(image.get(key) != mask.get(key) for key in PAIRED):
            return False
        shared = (set(image) & set(mask)) - {"desc"}
        return all(image[key] == mask[key] for key in shared)


class ConfoundsPairing(_Pairing):
    """Pairs images with their run's confounds table (see the module's docstring)."""

    endings = (("_desc-confounds_timeseries.tsv",), ("_desc-confounds_regressors.tsv",))
    option, noun = "--confounds", "confounds file"
    keys, looked_for = RUN_ENTITIES, "desc-confounds_timeseries.tsv"

    def agrees(self, image: dict[str, str], table: dict[str, str]) -> bool:
        if any(image.get(key) != table.get(key) for key in RUN_ENTITIES):
            return False
        return all(image.get(key) == value for key, value in table.items() if key != "desc")


def pair_mask(path: str, pairing: MaskPairing | None = None) -> str:
    """The ``desc-brain_mask`` beside the BIDS-named image at ``path`` that shares its entities
    (:data:`PAIRED`); pass one :class:`MaskPairing` for a batch so each folder is listed once.
    ``ValueError`` naming what was looked for, and where, when none or several match."""
    return (pairing or MaskPairing()).pair(path)
