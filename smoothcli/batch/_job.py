"""A job: one :class:`Task` (plain data) in, one :class:`Result` out.

A :class:`Job` (the score job, the DVARS job) is frozen and picklable, so the same job runs
in this process, in a worker process or on a Dask worker. Masks travel as paths and are
loaded once per process.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import traceback
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar

from .._text import error_line
from .._warnings import recorded
from ..discover import STDIN, Unlisted, entities
from ..qc import AUTO  # --mask auto: each NIfTI image gets the brain mask beside it
from ._options import Result, RunQC

#: masks kept loaded per process (a mask of a 2 mm MNI grid is about 1 MB)
MASK_CACHE_SIZE = 32


@dataclass(frozen=True)
class Task:
    """One input to score, as plain picklable data. ``path`` is what is opened (absolute
    when the task goes to a worker), ``shown`` the path as the user gave it (the row's
    ``path``), ``mask`` a mask path or ``None`` (``mask_shown``: as the user gave it or as
    ``--mask auto`` found it, for the ``mask`` column), ``confounds`` the run's confounds
    table or ``None`` (``confounds_shown`` likewise), ``problem`` an error to report
    without reading anything (a folder that could not be listed, no mask for ``auto``)."""

    path: str
    shown: str
    mask: str | None = None
    problem: str | None = None
    mask_shown: str | None = None
    confounds: str | None = None
    confounds_shown: str | None = None

    @property
    def stdin(self) -> bool:
        return self.path == STDIN and self.problem is None


def make_task(
    path: str, mask: str | None = None, *, absolute: bool = False, confounds: str | None = None
) -> Task:
    """The task for an input from :func:`smoothcli.discover.discover`; ``absolute`` resolves
    file paths (and the mask's and the confounds' paths) for workers that may run elsewhere."""
    shown = str(path)
    problem = path.reason if isinstance(path, Unlisted) else None

    def where(name: str | None) -> str | None:
        return os.path.abspath(name) if absolute and name is not None else name

    opened = os.path.abspath(shown) if absolute and shown != STDIN else shown
    return Task(opened, shown, where(mask), problem, mask, where(confounds), confounds)


#: the formats whose files are images of a run (a mask or confounds table can go with them)
IMAGES = ("nifti", "cifti", "gifti")


def make_tasks(
    paths: Iterable[str], mask: str | None, *, absolute: bool, confounds: str | None = None
) -> Iterator[Task]:
    """A task per input, with its mask and confounds: ``mask`` for every NIfTI file (other
    formats have no use for one), or with ``--mask auto`` the mask beside each NIfTI file;
    ``confounds`` for every input, or with ``auto`` the run's confounds table beside each
    file (not stdin). An input with no mask or confounds table, or more than one, gets the reason as
    its ``problem``."""
    from ..pairing import ConfoundsPairing, MaskPairing
    from ..sources import format_of_name

    masks, tables = MaskPairing(), ConfoundsPairing()
    for path in paths:
        fmt = None if path == STDIN else format_of_name(str(path))
        mine: str | None = None
        theirs: str | None = confounds if confounds != AUTO else None
        try:
            if mask is not None and fmt in (None, "nifti"):  # stdin or an odd name: NIfTI?
                mine = mask if mask != AUTO else masks.pair(str(path)) if fmt == "nifti" else None
            if confounds == AUTO and path == STDIN:
                raise ValueError(
                    "--confounds auto pairs a BIDS-named file with the confounds table "
                    "beside it, and stdin has no name: give --confounds FILE"
                )
            if confounds == AUTO:
                theirs = tables.pair(str(path))
        except ValueError as exc:
            yield dataclasses.replace(make_task(path, absolute=absolute), problem=str(exc))
            continue
        yield make_task(path, mine, absolute=absolute, confounds=theirs)


def load_mask(path: str) -> Any:
    """Load ``--mask``; a ``ValueError`` that names the problem if it cannot serve."""
    from ..sources.nifti import load_mask as load

    try:
        return load(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot use mask {path}: {error_line(exc)}") from None


_masks: OrderedDict[tuple, Any] = OrderedDict()
_masks_lock = threading.RLock()  # two inputs may be scored at once, in two threads


def _identity(path: str) -> tuple:
    st = os.stat(path)
    return (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def cached_mask(path: str) -> Any:
    """The mask at ``path``, loaded once per process while the file is unchanged (the key
    is the path and the file's identity: device, inode, size, modification time)."""
    try:
        key = _identity(path)
    except OSError as exc:
        raise ValueError(f"cannot use mask {path}: {error_line(exc)}") from None
    with _masks_lock:  # loaded once, and not dropped while it is looked up
        if key not in _masks:
            remember_mask(path, load_mask(path), key=key)
        _masks.move_to_end(key)
        return _masks[key]


def remember_mask(path: str, mask: Any, *, key: tuple | None = None) -> None:
    """Put a mask loaded already (the CLI checks ``--mask`` first) into this process's cache."""
    try:
        key = key or _identity(path)
    except OSError:
        return
    with _masks_lock:
        _masks[key] = mask
        while len(_masks) > MASK_CACHE_SIZE:
            _masks.popitem(last=False)


def _open(task: Task, opts: Any, stdin: BinaryIO | None) -> list:
    from ..sources import open_path, open_stdin
    from ..sources.gifti import EXTERNAL

    if task.problem is not None:
        raise ValueError(task.problem)

    mask = cached_mask(task.mask) if task.mask is not None else None
    allowed = EXTERNAL.set(bool(getattr(opts, "external_data", False)))
    try:
        if task.path == STDIN:
            if stdin is None:
                raise ValueError("'-' means stdin, and there is none here")
            return open_stdin(stdin, fmt=opts.stdin_format, mask=mask)
        return open_path(task.path, mask=mask)
    finally:
        EXTERNAL.reset(allowed)


def task_confounds(task: Task, frames: int) -> Any:
    """The run's confounds table, read and checked against its frame count (or None)."""
    from ..qc import ConfoundsError, read_confounds

    if task.confounds is None:
        return None
    shown = task.confounds_shown or task.confounds
    try:
        found = read_confounds(task.confounds)
    except ConfoundsError as exc:
        raise ValueError(f"cannot use the confounds file {shown}: {exc}") from None
    if found.frames != frames:
        raise ValueError(
            f"the confounds file {shown} has {found.frames} rows, but the run has {frames} frames"
        )
    return found


@dataclass
class Context:
    """What a job's :meth:`Job.rows` has besides the loaded array: its task, and where it
    puts one-line notes (warnings) and what each run's QC decided (:class:`RunQC`)."""

    task: Task
    notes: list[str] = dataclasses.field(default_factory=list)
    runs: list[RunQC] = dataclasses.field(default_factory=list)


def _error_row(exc: BaseException, task: Task) -> dict:
    return {"score": None, "status": "error", "error": _shown(error_line(exc), task)}


def _shown(text: str, task: Task) -> str:
    """Text about the opened path, with the path as the user gave it (a worker opens the
    absolute path; the rows are the same whichever executor scored them)."""
    if task.path != task.shown:
        text = text.replace(task.path, task.shown)
    for opened, given in ((task.mask, task.mask_shown), (task.confounds, task.confounds_shown)):
        if opened is not None and given is not None and opened != given:
            text = text.replace(opened, given)
    return text


class Job:
    """One input's rows from a task: the shared part of every job (opening the input, its
    mask, error rows, warnings). A job is frozen and picklable; a subclass says what rows
    a loaded array gives (:meth:`rows`) and which columns the table has."""

    opts: Any
    #: the table's columns (names from :mod:`smoothcli.output`) and a terminal table's, each
    #: as (without, with ``--summary``)
    tables: ClassVar[tuple[tuple[str, ...], tuple[str, ...]]]
    terminal: ClassVar[tuple[str, str]]
    #: the column the thresholds apply to
    checked: str = "score"
    #: what the summary line calls an input that failed
    failed_words: str = "failed the threshold"

    @property
    def columns(self) -> tuple[str, ...]:
        return self.tables[self.opts.summary]

    @property
    def table_columns(self) -> str:
        return self.terminal[self.opts.summary]

    def head(self, task: Task) -> dict:
        """The columns every row of ``task`` starts with."""
        return {"path": task.shown, **entities(task.shown)}

    #: the formats a folder scan takes for this job (``None``: every format it reads)
    scanned: tuple[str, ...] | None = None

    def rows(self, item: Any, ctx: Context) -> list[dict]:
        """The rows (without the head) of one loaded array, each with ``status`` ``ok``."""
        raise NotImplementedError

    def check_mask(self, item: Any, task: Task) -> None:
        """Raise when ``item`` cannot be computed with (or without) the task's mask."""

    def prepare(self, item: Any, task: Task) -> None:
        """Ask the source for anything extra before it starts reading."""

    def __call__(self, task: Task, *, stdin: BinaryIO | None = None) -> Result:
        """The rows of one input; ``task.mask`` is loaded once per process (cached)."""
        opts = self.opts
        head = self.head(task)
        if task.mask_shown is not None:  # error rows say which mask too; ok rows: NIfTI only
            head["mask"] = task.mask_shown
        if task.confounds_shown is not None:
            head["confounds"] = task.confounds_shown
        ctx = Context(task)
        notes = ctx.notes
        rows: list[dict] = []
        error: Exception | None = None
        with recorded() as caught:  # this thread's: two inputs may be scored at once
            items: list = []
            try:
                items = _open(task, opts, stdin)
                for item in items:  # reading begins while JAX starts (see _score.py)
                    if item.source is not None:
                        self.prepare(item, task)
                        item.source.start()
                for item in items:
                    notes.extend(item.notes)
                    member = {"array": item.member} if item.member is not None else {}
                    if item.kind == "nifti" and opts.mask is not None:
                        if task.mask is None:  # stdin, or an odd name
                            raise ValueError("--mask auto needs a BIDS-named .nii or .nii.gz file")
                        member["mask"] = task.mask_shown or opts.mask
                    if item.problem is not None:  # one array of several: the others still count
                        error = error or item.problem
                        rows.append({**head, **member, **_error_row(item.problem, task)})
                        continue
                    self.check_mask(item, task)
                    rows.extend({**head, **member, **row} for row in self.rows(item, ctx))
            except Exception as exc:  # one bad input must not stop the batch; MemoryError too
                error, rows = exc, [{**head, **_error_row(exc, task)}]
            finally:  # a read begun and not taken (an error before the engine) stops
                for item in items:
                    if item.source is not None:
                        item.source.close()
        notes.extend(str(w.message) for w in caught)  # said before a failure too
        text = "".join(traceback.format_exception(error)) if error is not None else None
        notes[:] = [_shown(n, task) for n in notes]
        return Result(task.shown, rows, error, notes, text, ctx.runs)


def run_task(job: Job, task: Task, *, stdin: BinaryIO | None = None) -> Result:
    """``job(task)``, never raising (but for an interruption): anything that escapes the job
    becomes the input's error row."""
    try:
        return job(task, stdin=stdin)
    except Exception as exc:
        row = {**job.head(task), **_error_row(exc, task)}
        text = "".join(traceback.format_exception(exc))
        return Result(task.shown, [row], exc, [], text)


def lost_result(job: Job, task: Task, message: str, exc: BaseException | None = None) -> Result:
    """The error row of an input whose worker was lost (killed, out of memory)."""
    error = RuntimeError(message)
    error.__cause__ = exc
    row = {**job.head(task), "score": None, "status": "error", "error": message}
    return Result(task.shown, [row], error, [], None)
