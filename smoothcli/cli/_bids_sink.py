"""What ``smoothcli bids ... participant`` writes as each run's result comes back: the run's
per-frame table and its sidecar, its censor file; at the end each participant's page and the
dataset description (:mod:`smoothcli.bids` names them). Every name is checked before any
work: never through a link (a folder or a file), never over a file smoothcli did not write."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from typing import Any

from ..bids import CENSOR_DESC, DVARS_DESC, BidsRun, run_file, subject_page
from ._usage import Usage

__all__ = ["BidsSink"]


def _censor_ours(head: bytes) -> bool:
    return head.startswith(b"frame\tcensor")


def _make_folders(out: str, path: str) -> None:
    """The folders between ``out`` and ``path``, made as needed; a link among them (which
    would send the files elsewhere) is a usage error."""
    folder, parts = os.path.dirname(path), []
    while folder != out:
        folder, part = os.path.split(folder)
        parts.append(part)
    here = out
    for part in reversed(parts):
        here = os.path.join(here, part)
        try:
            os.mkdir(here)
        except FileExistsError:
            pass
        except OSError as exc:
            raise Usage(f"cannot make the folder {here}: {exc.strerror}", "OUTPUT_DIR") from None
        st = os.lstat(here)
        if not stat.S_ISDIR(st.st_mode):
            what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a folder"
            raise Usage(f"{here} is {what}; smoothcli writes nothing through one", "OUTPUT_DIR")


@dataclass
class BidsSink:
    """The outputs of the runs of one ``participant`` call (``runs``, by input path)."""

    source: str  # the fMRIPrep folder, as given
    out: str
    runs: dict[str, BidsRun]
    description: dict  # dataset_description.json, written at the end
    meta: dict  # the command, its options and the date, for each table's sidecar
    pages: bool = True
    threshold: float | None = None
    protect: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    carpets: dict[str, dict[tuple, Any]] = field(default_factory=dict)
    _targets: dict[str, Any] = field(default_factory=dict)

    def _target(self, path: str, ours: Any) -> Any:
        from ..output import OutputError, check_target

        try:
            return check_target(path, protect=self.protect, sidecar=False, derived=True, ours=ours)
        except OutputError as exc:
            raise Usage(str(exc), "OUTPUT_DIR") from None

    def _names(self, run: BidsRun) -> tuple[str, str, str]:
        table = run_file(self.out, run, DVARS_DESC)
        return table, os.path.splitext(table)[0] + ".json", run_file(self.out, run, CENSOR_DESC)

    def check(self, inputs: list[str]) -> None:
        """Make the folders and check every name this call writes, before any work."""
        from ..bids import is_our_description, is_our_page, is_our_table
        from ..output._sidecar import is_sidecar

        side = os.path.join(self.out, "dataset_description.json")
        self._target(side, is_our_description)
        for path in inputs:
            table, sidecar, censor = self._names(self.runs[path])
            _make_folders(self.out, table)
            checks = ((table, is_our_table), (sidecar, is_sidecar), (censor, _censor_ours))
            for name, ours in checks:
                self._target(name, ours)
        if self.pages:
            for subject in {self.runs[p].subject for p in inputs}:
                self._target(subject_page(self.out, subject), is_our_page)

    def _relative(self, path: Any) -> Any:
        """A path under the fMRIPrep folder as BIDS writes it: relative, ``/``-separated."""
        if not isinstance(path, str) or not path:
            return path
        rel = os.path.relpath(path, self.source)
        return path if rel.startswith("..") else rel.replace(os.sep, "/")

    def add(self, result: Any) -> str | None:
        """Write the run's table, sidecar and censor file; the error, if one could not be."""
        from ..bids import bids_uri, is_our_table
        from ..output import BY_NAME, DVARS_COLUMNS, OutputError, make_writer, sidecar
        from ..output._sidecar import is_sidecar
        from ..qc import censor_table

        run = self.runs[result.path]
        table, side, censor = self._names(run)
        rows = [
            {**row, **{k: self._relative(row.get(k)) for k in ("path", "mask", "confounds")}}
            for row in result.rows
        ]
        sources = [bids_uri(run.relative)] + [
            bids_uri(rows[0][k]) for k in ("mask", "confounds") if rows and rows[0].get(k)
        ]
        columns = [c for c in DVARS_COLUMNS if BY_NAME[c].kind != "entity"]  # in the name
        doc = sidecar(columns, {"Sources": sources, **self.meta})
        try:
            with self._target(table, is_our_table).open() as stream:
                writer = make_writer("tsv", stream, columns, hide_empty=False)
                writer.add(rows)
                writer.close()
            with self._target(side, is_sidecar).open() as stream:
                stream.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
            self.written.append(table)
            if result.runs:
                qc = result.runs[0]
                with self._target(censor, _censor_ours).open() as stream:
                    stream.write(censor_table(qc.frames, qc.dummy, qc.failed))
                if qc.carpet is not None:
                    key = (run.relative, qc.array)
                    self.carpets.setdefault(run.subject, {})[key] = qc.carpet
            elif os.path.isfile(censor) and not os.path.islink(censor):
                os.unlink(censor)  # an earlier call's, for a run that now has no frames
        except (OutputError, OSError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            return f"cannot write {getattr(exc, 'filename', None) or table}: {reason}"
        return None

    def finish(self, meta: dict) -> str:
        """Each participant's page (of every run of theirs in the output folder, this call's
        and earlier ones') and the dataset description; the words for the summary line."""
        from ..bids import is_our_description, is_our_page

        subjects = sorted({self.runs[p].subject for p in self.runs})
        if self.pages:
            from ..bids import dvars_tables
            from ..report import read_table, write_report

            for subject in subjects:
                tables = dvars_tables(self.out, subject)
                if not tables:
                    continue
                found = read_table(tables)
                found.meta, found.carpets = meta, self.carpets.get(subject, {})
                target = self._target(subject_page(self.out, subject), is_our_page)
                title = f"sub-{subject}: smoothcli DVARS QC"
                write_report(target, found, threshold=self.threshold, title=title)
        side = os.path.join(self.out, "dataset_description.json")
        with self._target(side, is_our_description).open() as stream:
            stream.write(json.dumps(self.description, indent=2) + "\n")
        pages = f" and {len(subjects)} participant page(s)" if self.pages else ""
        return f"; wrote {len(self.written)} run table(s){pages} in {self.out}"
