"""``--mask auto``: the brain mask beside a BIDS-named image, by file name alone.

fMRIPrep writes ``sub-01_task-rest_space-MNI152NLin2009cAsym_res-2_desc-brain_mask.nii.gz``
beside ``sub-01_task-rest_space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz``. The
mask of an image is the ``desc-brain_mask`` NIfTI in the same folder whose entities in
:data:`PAIRED` agree with the image's: the same value, or absent from both. An entity outside
that list that both names carry must agree too (``dir``, ``rec``, ...). Nothing is opened; a
folder is listed once per :class:`MaskPairing` (or per call without one).
"""

from __future__ import annotations

import os
import re

__all__ = ["PAIRED", "MaskPairing", "bids_name", "pair_mask"]

#: the entities an image and its mask must share (absent from one: absent from the other)
PAIRED = ("sub", "ses", "task", "acq", "run", "echo", "space", "res", "den", "cohort")
_PART_RE = re.compile(r"([A-Za-z0-9]+)-([A-Za-z0-9]+)")
_MASK_ENDINGS = ("_desc-brain_mask.nii.gz", "_desc-brain_mask.nii")


def bids_name(name: str) -> tuple[list[tuple[str, str]], str] | None:
    """A BIDS file name's entities, in order, and its suffix: ``sub-01_task-rest_bold.nii.gz``
    gives ``([("sub", "01"), ("task", "rest")], "bold")``. ``None`` when the name is not
    ``key-value_..._suffix.ext`` (values stay strings: ``01`` is not ``1``)."""
    stem = name.split(".", 1)[0]
    *pairs, suffix = stem.split("_")
    if not pairs or not suffix.isalnum():
        return None
    found: list[tuple[str, str]] = []
    for part in pairs:
        m = _PART_RE.fullmatch(part)
        if m is None:
            return None
        found.append((m.group(1), m.group(2)))
    return found, suffix


def _agrees(image: dict[str, str], mask: dict[str, str]) -> bool:
    if any(image.get(key) != mask.get(key) for key in PAIRED):
        return False
    shared = (set(image) & set(mask)) - {"desc"}
    return all(image[key] == mask[key] for key in shared)


class MaskPairing:
    """Pairs images with their masks, listing each folder once (a batch keeps one)."""

    def __init__(self) -> None:
        self._listings: dict[str, list[str] | OSError] = {}

    def _masks_in(self, folder: str) -> list[str]:
        listing = self._listings.get(folder)
        if listing is None:
            try:
                listing = sorted(n for n in os.listdir(folder or ".") if n.endswith(_MASK_ENDINGS))
            except OSError as exc:
                listing = exc
            self._listings[folder] = listing
        if isinstance(listing, OSError):
            where = folder or "."
            raise ValueError(
                f"--mask auto cannot list {where}: {listing.strerror or listing}"
            ) from None
        return listing

    def pair(self, path: str) -> str:
        """The mask of the image at ``path`` (joined to its folder as ``path`` is given).

        Raises
        ------
        ValueError
            When ``path`` is not BIDS-named, or no mask or more than one matches; the message
            names the mask looked for and the folder.
        """
        folder, name = os.path.split(path)
        parsed = bids_name(name)
        if parsed is None:
            raise ValueError(
                f"--mask auto needs a BIDS-named image (like sub-01_task-rest_bold.nii.gz); "
                f"{name!r} is not one"
            )
        pairs, _ = parsed
        image = dict(pairs)
        wanted = "_".join(f"{k}-{v}" for k, v in pairs if k in PAIRED)
        looked = f"{wanted + '_' if wanted else ''}desc-brain_mask.nii[.gz]"
        where = folder or "."
        matches = []
        for candidate in self._masks_in(folder):
            got = bids_name(candidate)
            if got is not None and _agrees(image, dict(got[0])):
                matches.append(candidate)
        if not matches:
            raise ValueError(f"no mask for --mask auto: looked for {looked} in {where}")
        if len(matches) > 1:
            raise ValueError(
                f"more than one mask for --mask auto: {', '.join(matches)} in {where} all "
                f"match {looked}"
            )
        return os.path.join(folder, matches[0])


def pair_mask(path: str, pairing: MaskPairing | None = None) -> str:
    """The ``desc-brain_mask`` beside the BIDS-named image at ``path`` that shares its
    entities (:data:`PAIRED`); pass one :class:`MaskPairing` for a batch so each folder is
    listed once. ``ValueError`` naming what was looked for, and where, when none or several
    match."""
    return (pairing or MaskPairing()).pair(path)
