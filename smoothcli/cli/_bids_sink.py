"""What ``smoothcli bids ... participant`` writes as each run's result comes back: the run's
per-frame table and its sidecar, its censor file; at the end each participant's page and the
dataset description (:mod:`smoothcli.bids` names them). Every name is checked before any
work: never through a link (a folder or a file), never over a file smoothcli did not write."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import stat
import sys
from dataclasses import dataclass, field
from typing import Any

from ..bids import CENSOR_DESC, DVARS_DESC, BidsRun, run_file, subject_page
from ._censor import is_censor
from ._usage import Usage, as_usage

PATH_TEXT = (
    "The run, relative to the fMRIPrep folder (dataset_description.json's DatasetLinks "
    "'preprocessed'); mask and confounds likewise."
)


def _make_folders(out: str, path: str) -> None:
    """The folders between ``out`` and ``path`` (a file under it), made as needed; a link
    among them (which would send the files elsewhere) is a usage error."""
    relative = os.path.relpath(os.path.dirname(path), out)
    here = out
    for part in relative.split(os.sep) if relative != os.curdir else []:
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


def _remove_ours(path: str, ours: Any) -> None:
    """Remove ``path`` if it is a regular file (not a link) whose first bytes are ours."""
    from ..output._target import SNIFF_BYTES

    with contextlib.suppress(OSError):
        if stat.S_ISREG(os.lstat(path).st_mode):
            with open(path, "rb") as fh:
                head = fh.read(SNIFF_BYTES)
            if ours(head):
                os.unlink(path)


def _files(table: str) -> list[tuple[str, Any]]:
    """A run's table, its sidecar and its censor file, each with how a file of smoothcli's
    is told by its first bytes."""
    from ..bids import is_our_table
    from ..output._sidecar import is_sidecar

    stem = table.removesuffix(f"_desc-{DVARS_DESC}_timeseries.tsv")
    return [
        (table, is_our_table),
        (stem + f"_desc-{DVARS_DESC}_timeseries.json", is_sidecar),
        (stem + f"_desc-{CENSOR_DESC}_timeseries.tsv", is_censor),
    ]


def read_tables(tables: list[str]) -> tuple[list[tuple[str, list[dict]]], Any]:
    """Each per-run table's rows (an unreadable one: an error row), and every readable row
    for the group page."""
    from ..report import ReportInput, TableError, read_table

    per_table, every = [], ReportInput([])
    for table in tables:
        try:
            found = read_table([table])
        except TableError as exc:
            per_table.append((table, [{"path": table, "status": "error", "error": str(exc)}]))
            continue
        per_table.append((table, found.rows))
        every.rows.extend(found.rows)
        every.sources.append(table)
    # each run is drawn against its own threshold (participants, and the calls of one, may
    # have run with others): a page names the command, not one set of options
    every.meta = {"Command": shlex.join(["smoothcli", *sys.argv[1:]])}
    return per_table, every


@dataclass
class BidsSink:
    """The outputs of the runs of one ``participant`` call (``runs``, by input path)."""

    source: str  # the fMRIPrep folder, as given
    out: str
    runs: dict[str, BidsRun]
    description: dict  # dataset_description.json, written at the end
    meta: dict  # the command, its options and the date, for each table's sidecar
    pages: bool = True
    #: every run of the participants was selected (no session, task or space filter): a
    #: table of theirs from an earlier call whose run is gone is removed, with its files
    whole: bool = False
    protect: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    carpets: dict[str, dict[tuple, Any]] = field(default_factory=dict)
    _targets: dict[str, Any] = field(default_factory=dict)

    def _target(self, path: str, ours: Any) -> Any:
        from ..output import OutputError, check_target

        with as_usage("OUTPUT_DIR", OutputError):
            return check_target(path, protect=self.protect, derived=True, ours=ours)

    def _files(self, run: BidsRun) -> list[tuple[str, Any]]:
        return _files(run_file(self.out, run, DVARS_DESC))

    def check(self, inputs: list[str]) -> None:
        """Make the folders and check every name this call writes, before any work."""
        from ..bids import is_our_description, is_our_page

        side = os.path.join(self.out, "dataset_description.json")
        self._target(side, is_our_description)
        for path in inputs:
            files = self._files(self.runs[path])
            _make_folders(self.out, files[0][0])
            for name, ours in files:
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
        from ..bids import bids_uri
        from ..output import BY_NAME, DVARS_COLUMNS, make_writer, sidecar
        from ..qc import censor_table

        run = self.runs[result.path]
        (table, is_table), (side, is_side), (censor, _) = self._files(run)
        rows = [
            {**row, **{k: self._relative(row.get(k)) for k in ("path", "mask", "confounds")}}
            for row in result.rows
        ]
        sources = [bids_uri(run.relative)] + [
            bids_uri(rows[0][k]) for k in ("mask", "confounds") if rows and rows[0].get(k)
        ]
        # the entities are in the file's name; the array is an NPZ's, never a NIfTI run's
        columns = [c for c in DVARS_COLUMNS if BY_NAME[c].kind != "entity" and c != "array"]
        doc = sidecar(columns, {"Sources": sources, **self.meta})
        doc["path"] = {"Description": PATH_TEXT}
        try:
            with self._target(table, is_table).open() as stream:
                writer = make_writer("tsv", stream, columns, hide_empty=False)
                writer.add(rows)
                writer.close()
            with self._target(side, is_side).open() as stream:
                stream.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
            self.written.append(table)
            if result.runs:
                qc = result.runs[0]
                with self._target(censor, is_censor).open() as stream:
                    stream.write(censor_table(qc.frames, qc.dummy, qc.failed))
                if qc.carpet is not None:
                    key = (run.relative, qc.array)
                    self.carpets.setdefault(run.subject, {})[key] = qc.carpet
            elif os.path.isfile(censor) and not os.path.islink(censor):
                os.unlink(censor)  # an earlier call's, for a run that now has no frames
        except Usage as exc:  # the name was fine when checked, and is not now (a link)
            return exc.message
        except OSError as exc:
            return f"cannot write {exc.filename or table}: {exc.strerror or exc}"
        return None

    def _prune(self, subject: str) -> None:
        """Remove the participant's tables (with their sidecars and censor files) whose runs
        are no longer in DERIV_DIR. Only regular files that smoothcli wrote are removed."""
        from ..bids import dvars_tables

        kept = {os.path.abspath(p) for p in self.written}
        for table in dvars_tables(self.out, subject):
            if os.path.abspath(table) not in kept and not self._source_exists(table):
                for path, ours in _files(table):
                    _remove_ours(path, ours)

    def _source_exists(self, table: str) -> bool:
        """Whether the run a table was made from is still in DERIV_DIR (a link skipped this
        time, a run whose new table could not be written: its table stays)."""
        import csv

        try:
            with open(table, newline="", encoding="utf-8") as fh:
                row = next(csv.DictReader(fh, delimiter="\t"), None)
        except (OSError, UnicodeDecodeError, csv.Error):
            return True  # not sure: kept
        path = (row or {}).get("path")
        return not path or path == "n/a" or os.path.lexists(os.path.join(self.source, path))

    def finish(self, meta: dict) -> str:
        """Each participant's page (of every run of theirs in the output folder, this call's
        and earlier ones') and the dataset description; the words for the summary line."""
        from ..bids import is_our_description, is_our_page

        subjects = sorted({self.runs[p].subject for p in self.runs})
        if self.whole:
            for subject in subjects:
                self._prune(subject)
        if self.pages:
            from ..bids import dvars_tables
            from ..report import write_report

            for subject in subjects:
                # an unreadable table: no run on the page; the page names the command only
                found = read_tables(dvars_tables(self.out, subject))[1]
                if not found.rows:
                    continue
                found.carpets = self.carpets.get(subject, {})
                target = self._target(subject_page(self.out, subject), is_our_page)
                write_report(target, found, title=f"sub-{subject}: smoothcli DVARS QC")
        side = os.path.join(self.out, "dataset_description.json")
        with self._target(side, is_our_description).open() as stream:
            stream.write(json.dumps(self.description, indent=2) + "\n")
        pages = f" and {len(subjects)} participant page(s)" if self.pages else ""
        return f"; wrote {len(self.written)} run table(s){pages} in {self.out}"
