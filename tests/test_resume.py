"""-o FILE --resume (smoothcli.output.open_resume) with real processes killed by SIGKILL at
random moments, then resumed: FILE ends byte for byte as an uninterrupted run writes it."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from smoothcli.output import (
    RESUMABLE,
    OutputError,
    check_target,
    journal_path,
    make_writer,
    open_resume,
    select_columns,
    sidecar_path,
)

from .conftest import posix_only

ROOT = Path(__file__).resolve().parents[1]

# The child: resumes FILE over its inputs, writing each input's rows in 7-byte pieces with a
# pause between them (and the journal line too), so a kill lands inside rows and lines.
CHILD = r"""
import os, sys, time
import smoothcli.output._resume as resume_module
from smoothcli.output import open_resume, select_columns

COLUMNS = select_columns(None)
META = {"Options": {"n": 1, "scalarise": "mean", "nan": float("nan")}, "Command": "test"}


def rows_for(path):
    with open(path, encoding="utf-8") as stream:
        values = [float(x) for x in stream.read().split()]
    return [
        {"path": path, "index": i if len(values) > 1 else None, "score": v, "status": "ok",
         "name": "Smoothness", "shape": str(len(values)), "axis": 0, "dtype": "float64",
         "sub": "01", "error": None}
        for i, v in enumerate(values)
    ]


def slow(fd, data, offset):
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view[:7], offset)
        view, offset = view[done:], offset + done
        time.sleep(0.0001)


def main(fmt, out, inputs):
    resume_module._pwrite_all = slow
    with open_resume(out, fmt, COLUMNS, meta=META) as resume:
        for path in inputs:
            if not resume.done(path):
                before = os.stat(path) if path != "-" else None
                resume.append(rows_for(path), path=path, stat=before)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
"""

NAMES = ["a.csv", "b c.csv", "comma,d.csv", "ü-e.csv", 'quote"f.csv', "g.csv", "h.csv", "i.csv"]


def child_namespace() -> dict:
    namespace: dict = {"__name__": "child"}
    exec(CHILD, namespace)
    return namespace


CHILDNS = child_namespace()


def make_inputs(folder: Path, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    for name in NAMES:
        values = [rng.uniform(-1e3, 1e3) for _ in range(rng.randint(1, 6))]
        (folder / name).write_text(" ".join(repr(v) for v in values) + "\n", encoding="utf-8")
    return list(NAMES)


def reference(fmt: str, out: Path, inputs: list[str]) -> bytes:
    """The file a normal (atomic, non-resume) run writes: check_target + make_writer."""
    target = check_target(str(out))
    with target.open() as stream:
        writer = make_writer(fmt, stream, CHILDNS["COLUMNS"])
        for path in inputs:
            writer.add(CHILDNS["rows_for"](path))
        writer.close()
    return out.read_bytes()


def spawn(cwd: Path, fmt: str, out: str, inputs: list[str]) -> subprocess.Popen:
    script = cwd / "child.py"
    if not script.exists():
        script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(script), fmt, out, *inputs], cwd=cwd, env=env, stderr=subprocess.PIPE
    )


def finish(cwd: Path, fmt: str, out: str, inputs: list[str]) -> None:
    proc = spawn(cwd, fmt, out, inputs)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()


def parsed_rows(fmt: str, data: bytes) -> list[tuple]:
    text = data.decode("utf-8")
    if fmt == "jsonl":
        return [tuple(json.loads(line).items()) for line in text.splitlines()]
    rows = list(csv.reader(io.StringIO(text), delimiter="\t" if fmt == "tsv" else ","))
    return [tuple(r) for r in rows[1:]]


def path_counts(fmt: str, data: bytes) -> Counter:
    rows = parsed_rows(fmt, data)
    return Counter(dict(r)["path"] if fmt == "jsonl" else r[0] for r in rows)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@posix_only
@pytest.mark.parametrize("fmt", RESUMABLE)
def test_kill9_at_random_moments_then_resume_equals_an_uninterrupted_run(folder, fmt):
    inputs = make_inputs(folder)
    expected = reference(fmt, folder / f"ref.{fmt}", inputs)
    rows_each = Counter({p: len(CHILDNS["rows_for"](p)) for p in inputs})
    rng = random.Random(f"resume-{fmt}")
    killed_inside = torn_rows = torn_lines = 0
    for trial in range(10):
        out = f"t{trial}.{fmt}"
        for _ in range(1 + (trial % 3 == 0)):  # every third trial is killed twice
            proc = spawn(folder, fmt, out, inputs)
            if rng.random() < 0.2:  # anywhere: start-up, creating FILE, opening it again
                time.sleep(rng.uniform(0, 0.15))
            else:  # once FILE holds a random number of bytes (maybe mid-row)
                threshold = rng.randrange(0, len(expected))
                while proc.poll() is None:
                    with_size = os.path.getsize(out) if os.path.exists(out) else -1
                    if with_size >= threshold:
                        break
                    time.sleep(0.0002)
                time.sleep(rng.uniform(0, 0.003))
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            killed_inside += proc.returncode == -signal.SIGKILL
            left = Path(out).read_bytes() if os.path.exists(out) else b""
            torn_rows += not left.endswith(b"\n")
            journal = Path(journal_path(out))
            torn_lines += journal.exists() and not journal.read_bytes().endswith(b"\n")
        finish(folder, fmt, out, inputs)
        data = Path(out).read_bytes()
        assert data == expected, f"trial {trial}"
        assert path_counts(fmt, data) == rows_each  # each input's rows exactly once
        # and a run over a finished FILE changes nothing
        finish(folder, fmt, out, inputs)
        assert Path(out).read_bytes() == expected
    # how many kills landed at work, and mid-row, depends on the machine's speed: said, not
    # asserted (test_torn_rows_... and test_killed_between_... make those cases on purpose)
    print(f"{fmt}: {killed_inside} kills at work, {torn_rows} torn rows, {torn_lines} torn lines")


@pytest.mark.parametrize("fmt", RESUMABLE)
def test_a_changed_input_is_redone_at_the_end(folder, fmt):
    inputs = make_inputs(folder)
    out = f"out.{fmt}"
    finish(folder, fmt, out, inputs)
    Path("b c.csv").write_text("1.5 2.5 3.5 4.5 5.5 6.5 7.5\n")  # another size
    same_size = Path("g.csv")  # same size, another mtime
    st = same_size.stat()
    os.utime(same_size, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    finish(folder, fmt, out, inputs)
    data = Path(out).read_bytes()
    fresh = reference(fmt, folder / f"ref.{fmt}", inputs)
    # the redone inputs' rows move to the end, so compare rows as sets (each once)
    assert data.splitlines()[:1] == fresh.splitlines()[:1]
    assert sorted(parsed_rows(fmt, data)) == sorted(parsed_rows(fmt, fresh))
    assert path_counts(fmt, data) == path_counts(fmt, fresh)
    last = parsed_rows(fmt, data)[-1]
    assert ("g.csv" in last) or (("path", "g.csv") in last)
    kept = [p for p in inputs if p not in ("b c.csv", "g.csv")]
    assert data.startswith(reference(fmt, folder / f"kept.{fmt}", kept))


COLUMNS = select_columns("path,index,score,status")
META = {"Options": {"n": 1, "axis": -1}, "Command": "smoothcli score"}


def rows(path: str, score: float = 1.0) -> list[dict]:
    return [{"path": path, "index": None, "score": score, "status": "ok"}]


def test_new_file_header_sidecar_journal_and_mode(folder):
    old = os.umask(0o027)
    try:
        with open_resume("out.tsv", "tsv", COLUMNS, meta=META) as resume:
            assert not resume.done("a.csv")
    finally:
        os.umask(old)
    assert Path("out.tsv").read_bytes() == b"path\tindex\tscore\tstatus\n"
    assert stat.S_IMODE(os.stat("out.tsv").st_mode) == 0o640
    side = json.loads(Path("out.json").read_text())
    assert side["Options"] == META["Options"] and side["score"]["Description"]
    assert Path(journal_path("out.tsv")) == Path(".out.tsv.resume.jsonl")
    assert Path(".out.tsv.resume.jsonl").read_text().count("\n") == 1


@posix_only
def test_existing_mode_is_kept_when_rows_are_removed(folder):
    Path("a.csv").write_text("1\n")
    with open_resume("out.csv", "csv", COLUMNS, meta=META) as resume:
        resume.append(rows("a.csv"), path="a.csv")
    os.chmod("out.csv", 0o604)
    Path("a.csv").write_text("12\n")
    with open_resume("out.csv", "csv", COLUMNS, meta=META) as resume:
        assert not resume.done("a.csv")
    assert stat.S_IMODE(os.stat("out.csv").st_mode) == 0o604
    assert Path("out.csv").read_text() == "path,index,score,status\n"


def test_other_options_columns_format_and_a_file_without_journal_are_refused(folder):
    open_resume("out.tsv", "tsv", COLUMNS, meta=META).close()
    other = {**META, "Options": {"n": 2, "axis": -1}}
    with pytest.raises(OutputError, match=r"out.tsv was written with other options: n \(1 then"):
        open_resume("out.tsv", "tsv", COLUMNS, meta=other)
    with pytest.raises(OutputError, match="other columns"):
        open_resume("out.tsv", "tsv", COLUMNS[:2], meta=META)
    with pytest.raises(OutputError, match="written as tsv, not csv"):
        open_resume("out.tsv", "csv", COLUMNS, meta=META)
    for fmt in ("json", "markdown", "table"):
        with pytest.raises(OutputError, match="--resume needs -o FILE in TSV, CSV or JSONL"):
            open_resume("x.json", fmt, COLUMNS, meta=META)
    Path("plain.tsv").write_text("path\tindex\tscore\tstatus\n")
    message = "plain.tsv exists but was not written with --resume; remove it or drop --resume"
    with pytest.raises(OutputError, match=message):
        open_resume("plain.tsv", "tsv", COLUMNS, meta=META)
    # a header edited by hand is refused too
    Path("out.tsv").write_text("path\tscore\n")
    with pytest.raises(OutputError, match="another header"):
        open_resume("out.tsv", "tsv", COLUMNS, meta=META)


@posix_only
def test_file_sidecar_and_journal_are_never_an_input(folder):
    open_resume("out.tsv", "tsv", COLUMNS, meta=META).close()
    os.link(".out.tsv.resume.jsonl", "journal-link.csv")
    for read in ("out.tsv", "out.json", "journal-link.csv"):
        with pytest.raises(OutputError, match="the command also reads it"):
            open_resume("out.tsv", "tsv", COLUMNS, meta=META, protect=["x.csv", read])
    assert sidecar_path("out.tsv") == "out.json"


def test_stdin_is_never_done_and_never_doubled(folder):
    for _ in range(3):
        with open_resume("out.jsonl", "jsonl", COLUMNS, meta=META) as resume:
            assert not resume.done("-")
            resume.append(rows("-"), path="-")
    assert Path("out.jsonl").read_text().count('"path": "-"') == 1


def test_torn_rows_and_a_torn_journal_line_are_dropped(folder):
    for name in ("a.csv", "b.csv"):
        Path(name).write_text("1\n")
    with open_resume("out.tsv", "tsv", COLUMNS, meta=META) as resume:
        resume.append(rows("a.csv"), path="a.csv")
    good = Path("out.tsv").read_bytes()
    with open("out.tsv", "ab") as stream:
        stream.write(b"b.csv\tn/a\t1.0\tok\nc.csv\tn/")
    with open(".out.tsv.resume.jsonl", "ab") as stream:
        stream.write(b'{"path": "b.csv", "abspath": "')
    with open_resume("out.tsv", "tsv", COLUMNS, meta=META) as resume:
        assert resume.done("a.csv") and not resume.done("b.csv")
        assert Path("out.tsv").read_bytes() == good
        resume.append(rows("b.csv"), path="b.csv")
    assert Path("out.tsv").read_bytes() == good + b"b.csv\tn/a\t1.0\tok\n"


def test_killed_between_rewriting_file_and_journal(folder):
    """FILE rewritten without a stale input's rows, the old journal still in place: the rows
    are found by their digest, not their old offsets."""
    for name in ("a.csv", "b.csv", "c.csv"):
        Path(name).write_text("1\n")
    with open_resume("out.tsv", "tsv", COLUMNS, meta=META) as resume:
        for i, name in enumerate(("a.csv", "b.csv", "c.csv")):
            resume.append(rows(name, i), path=name)
    shutil.copy(".out.tsv.resume.jsonl", "old-journal")
    os.unlink("a.csv")  # its rows go
    open_resume("out.tsv", "tsv", COLUMNS, meta=META).close()
    after = Path("out.tsv").read_bytes()
    shutil.copy("old-journal", ".out.tsv.resume.jsonl")
    with open_resume("out.tsv", "tsv", COLUMNS, meta=META) as resume:
        assert resume.done("b.csv") and resume.done("c.csv") and not resume.done("a.csv")
    assert Path("out.tsv").read_bytes() == after
    assert after.count(b"\n") == 3 and b"a.csv" not in after


def test_an_input_changed_after_opening_is_not_doubled(folder):
    Path("a.csv").write_text("1\n")
    Path("b.csv").write_text("1\n")
    with open_resume("out.tsv", "tsv", COLUMNS, meta=META) as resume:
        resume.append(rows("a.csv", 1), path="a.csv")
        resume.append(rows("b.csv", 2), path="b.csv")
    with open_resume("out.tsv", "tsv", COLUMNS, meta=META) as resume:
        Path("a.csv").write_text("22\n")
        assert not resume.done("a.csv")
        resume.append(rows("a.csv", 3), path="a.csv")
    assert Path("out.tsv").read_text().splitlines()[1:] == [
        "b.csv\tn/a\t2\tok",
        "a.csv\tn/a\t3\tok",
    ]
    with open_resume("out.tsv", "tsv", COLUMNS, meta=META) as resume:
        assert resume.done("a.csv") and resume.done("b.csv")
