"""Where ``smoothcli bids`` writes, by the BIDS derivatives conventions (as MRIQC and XCP-D
do): per run ``sub-<label>/[ses-<label>/]func/<source entities>_desc-dvars_timeseries.tsv``
with its JSON sidecar and ``..._desc-censor_timeseries.tsv``; per participant
``sub-<label>.html``; at the top ``dataset_description.json``, ``group_bold.tsv`` and
``group_bold.html``. Each file is recognised as smoothcli's by its first bytes, so that a
re-run replaces it and nothing else."""

from __future__ import annotations

import os

from ._layout import BidsRun

DVARS_DESC, CENSOR_DESC = "dvars", "censor"
GROUP_TABLE, GROUP_PAGE = "group_bold.tsv", "group_bold.html"
GROUP_SIDECAR = "group_bold.json"
#: the first bytes of a per-run DVARS table smoothcli writes (``path`` then ``frame``)
TABLE_HEAD = b"path\tframe\t"
#: BIDS's version of the derivatives conventions followed here
BIDS_VERSION = "1.10.0"
#: the key the sources of each file are named under (``bids:preprocessed:sub-01/...``)
SOURCE_KEY = "preprocessed"


def run_file(out: str, run: BidsRun, desc: str, ext: str = ".tsv") -> str:
    """``out/sub-XX[/ses-YY]/func/<run's entities>_desc-<desc>_timeseries<ext>``."""
    session = run.get("ses")
    folder = [out, f"sub-{run.subject}", *([f"ses-{session}"] if session is not None else [])]
    name = "_".join(f"{k}-{v}" for k, v in run.entities) + f"_desc-{desc}_timeseries{ext}"
    return os.path.join(*folder, "func", name)


def subject_page(out: str, subject: str) -> str:
    """``out/sub-XX.html``: fMRIPrep's and XCP-D's place for a participant's report."""
    return os.path.join(out, f"sub-{subject}.html")


def bids_uri(relative: str) -> str:
    """A source file as a BIDS URI: ``bids:preprocessed:sub-01/func/...``."""
    return f"bids:{SOURCE_KEY}:{relative}"


def is_our_table(head: bytes) -> bool:
    """A per-run table (``path``, ``frame``, ...) or the group table (``bids_name`` and a
    ``verdict`` column: MRIQC's ``group_bold.tsv`` has the same name, and no verdict)."""
    first = head.split(b"\n", 1)[0]
    return head.startswith(TABLE_HEAD) or (
        first.startswith(b"bids_name\t") and b"\tverdict\t" in first
    )


def is_our_page(head: bytes) -> bool:
    return head.startswith(b"<!DOCTYPE html>") and b"smoothcli" in head


def is_our_description(head: bytes) -> bool:
    return b'"GeneratedBy"' in head and b'"Name": "smoothcli"' in head


def source_uri(source: str) -> str:
    """The fMRIPrep folder as a ``file://`` URI (its absolute, resolved path)."""
    from pathlib import Path

    return Path(source).resolve().as_uri()


def dataset_description(source: str, source_doc: dict | None, command: str) -> dict:
    """``dataset_description.json`` of the output: a derivative ``GeneratedBy`` smoothcli
    (its version, the command), with ``SourceDatasets`` and ``DatasetLinks`` naming the
    fMRIPrep folder (and fMRIPrep's version when its description gives one)."""
    from .._version import __version__

    where = source_uri(source)
    origin: dict = {"URL": where}
    generated = (source_doc or {}).get("GeneratedBy")
    if isinstance(generated, list) and generated and isinstance(generated[0], dict):
        version = generated[0].get("Version")
        if isinstance(version, str):
            origin["Version"] = version
    return {
        "Name": "smoothcli DVARS and FD quality control",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [
            {
                "Name": "smoothcli",
                "Version": __version__,
                "Description": "DVARS per frame (nipype's ComputeDVARS), framewise "
                "displacement from fMRIPrep's confounds, frame checks, run verdicts and "
                "censor files.",
                "Command": command,
            }
        ],
        "SourceDatasets": [origin],
        "DatasetLinks": {SOURCE_KEY: where},
    }
