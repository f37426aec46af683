"""The runs of an fMRIPrep derivatives folder: ``sub-<label>/[ses-<label>/]func/
sub-<label>_..._desc-preproc_bold.nii[.gz]``, found by name and filtered by label.

Only the subject folders asked for are listed (fMRIPrep's output also holds FreeSurfer's
``sourcedata/``, logs and figures). A symbolic link is followed only with ``follow``
(DataLad's annexed files are links). Nothing is opened but ``dataset_description.json``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from ..pairing import bids_name

#: what a run's file name ends with (fMRIPrep's preprocessed BOLD series)
RUN_ENDINGS = ("_desc-preproc_bold.nii.gz", "_desc-preproc_bold.nii")
LOOKED_FOR = "sub-<label>/[ses-<label>/]func/sub-<label>_*_desc-preproc_bold.nii[.gz]"
#: the largest dataset_description.json read (fMRIPrep's is under 2 kB)
MAX_DESCRIPTION = 1 << 20


class LayoutError(ValueError):
    """The folder is not what ``smoothcli bids`` reads, or the labels select nothing."""


@dataclass(frozen=True)
class BidsRun:
    """One run: its path (joined to the folder as given), that path relative to the folder
    (``/``-separated), and the entities of its name in order (``desc`` left out)."""

    path: str
    relative: str
    entities: tuple[tuple[str, str], ...]

    @property
    def subject(self) -> str:
        return self.entities[0][1]

    def get(self, key: str, default: str | None = None) -> str | None:
        return dict(self.entities).get(key, default)


def label(text: str, prefix: str) -> str:
    """A label as BIDS Apps take it: ``01`` or ``sub-01`` give ``01``; letters and digits
    only (``LayoutError`` otherwise)."""
    value = text[len(prefix) + 1 :] if text.startswith(prefix + "-") else text
    if not value or not value.isascii() or not value.isalnum():
        raise LayoutError(f"{text!r} is not a {prefix} label (letters and digits, like 01)")
    return value


def read_description(root: str) -> dict | None:
    """``root/dataset_description.json`` as a dict; None when there is none. ``LayoutError``
    when it cannot be read, or is not a JSON object."""
    path = os.path.join(root, "dataset_description.json")
    try:
        with open(path, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise LayoutError(f"{path} is not a regular file")
            raw = fh.read(MAX_DESCRIPTION + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LayoutError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_DESCRIPTION:
        raise LayoutError(f"{path} is over {MAX_DESCRIPTION >> 20} MiB: not a dataset description")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise LayoutError(f"{path} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise LayoutError(f"{path} is not a JSON object")
    return doc


def _check_root(root: str) -> dict | None:
    if not os.path.isdir(root):
        what = "does not exist" if not os.path.lexists(root) else "is not a folder"
        raise LayoutError(f"{root} {what}")
    doc = read_description(root)
    if doc is not None and doc.get("DatasetType", "derivative") != "derivative":
        hint = os.path.join(root, "derivatives", "fmriprep")
        raise LayoutError(
            f"{root} is a {doc.get('DatasetType')!s} BIDS dataset, not derivatives: give the "
            f"folder fMRIPrep wrote (such as {hint})"
        )
    return doc


def _entries(folder: str, follow: bool, skipped: list[str]) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return []
    out = []
    for entry in entries:
        if entry.is_symlink() and not follow:
            name = entry.name  # a run, or a folder that may hold runs
            if name.endswith(RUN_ENDINGS) or name.startswith(("sub-", "ses-")) or name == "func":
                skipped.append(entry.path)
            continue
        out.append(entry)
    return out


def _runs_in(folder: str, root: str, keys: dict[str, str | None], follow: bool, links: list[str]):
    for entry in _entries(folder, follow, links):
        if not entry.name.endswith(RUN_ENDINGS) or not entry.is_file():
            continue
        parsed = bids_name(entry.name)
        if parsed is None:
            continue
        pairs = [(k, v) for k, v in parsed[0] if k != "desc"]
        found = dict(pairs)
        if not pairs or pairs[0][0] != "sub" or any(found.get(k) != v for k, v in keys.items()):
            continue  # a name that disagrees with its folders is not this subject's run
        relative = os.path.relpath(entry.path, root).replace(os.sep, "/")
        yield BidsRun(entry.path, relative, tuple(pairs))


def find_runs(
    root: str,
    participants: Iterable[str] = (),
    sessions: Iterable[str] = (),
    tasks: Iterable[str] = (),
    spaces: Iterable[str] = (),
    follow: bool = False,
    links: list[str] | None = None,
) -> list[BidsRun]:
    """The runs under ``root`` of the participants, sessions, tasks and spaces given (all,
    for an empty filter; ``space`` absent: the run's native space, asked for as ``none``),
    in path order; ``links`` gets the symbolic links passed over (without ``follow``).
    ``LayoutError`` saying what was looked for when ``root`` is not a derivatives folder or
    a filter selects no run."""
    _check_root(root)
    wanted = list(dict.fromkeys(label(p, "sub") for p in participants))  # 01 and sub-01
    # the runs' other filters, by entity: a space filter of "none" asks for no space entity
    filters = {"ses": sessions, "task": tasks, "space": spaces}
    filters = {key: {label(v, key) for v in values} for key, values in filters.items()}
    links = links if links is not None else []
    by_label = {
        e.name[4:]: e.path
        for e in _entries(root, follow, links)
        if e.name.startswith("sub-") and e.is_dir() and bids_name(e.name + "_x") is not None
    }
    missing = ", ".join(f"sub-{w}" for w in wanted if w not in by_label)
    if missing:
        raise LayoutError(f"no folder {missing} in {root}: looked for {LOOKED_FOR}")
    runs: list[BidsRun] = []
    for sub in wanted or by_label:
        folders = [(os.path.join(by_label[sub], "func"), {"sub": sub, "ses": None})]
        for entry in _entries(by_label[sub], follow, links):
            if entry.name.startswith("ses-") and entry.is_dir():
                keys = {"sub": sub, "ses": entry.name[4:]}
                folders.append((os.path.join(entry.path, "func"), keys))
        for folder, keys in folders:
            runs.extend(_runs_in(folder, root, keys, follow, links))
    empty = [w for w in wanted if not any(r.subject == w for r in runs)]
    runs = [
        r
        for r in runs
        if all(
            not want or r.get(key, "none" if key == "space" else None) in want
            for key, want in filters.items()
        )
    ]
    if empty or not runs:
        who = ", ".join(f"sub-{w}" for w in empty or wanted) or "any participant"
        words = zip(("session", "task", "space"), filters.values(), strict=True)
        parts = [f"{what} {', '.join(sorted(want))}" for what, want in words if want]
        filtered = f" ({'; '.join(parts)})" if parts and not empty else ""
        linked = f" ({len(links)} symbolic link(s) not followed: add --follow)" if links else ""
        raise LayoutError(
            f"no runs for {who}{filtered} in {root}: looked for {LOOKED_FOR} (a BIDS "
            f"derivatives folder, as fMRIPrep writes){linked}"
        )
    return runs
