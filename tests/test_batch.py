"""smoothcli.batch's executors: the same rows, in the same order, whichever runs the tasks;
a worker that dies; Ctrl-C. Real files, real worker processes, a real Dask LocalCluster on
the loopback address."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import psutil
import pytest

from smoothcli.batch import (
    DASK_INSTALL,
    DIED,
    ScoreJob,
    ScoreOptions,
    inline_executor,
    iter_scores,
    ordered,
    process_executor,
    require_dask,
    score_paths,
)
from smoothcli.batch._job import make_task
from smoothcli.output import COLUMNS, make_writer
from smoothcli.runtime import cpu_count

from .conftest import posix_only

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT / "tests" / "data" / "real"
MASK = "sample_data/masks/sub-01_desc-brain_mask.nii.gz"
NAMES = [c.name for c in COLUMNS]


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """An input that keeps a worker busy for about a second."""
    path = tmp_path_factory.mktemp("big") / "sub-09_task-big_timeseries.npy"
    data = np.random.default_rng(9).standard_normal((2000, 20000), dtype=np.float32)
    np.save(path, data)
    return path


@pytest.fixture
def batch(tmp_path, monkeypatch) -> list[str]:
    """Inputs as a user types them (relative paths), a bad file and a missing one among
    them, and stdin in the middle."""
    monkeypatch.chdir(ROOT)
    bad = tmp_path / "sub-03_task-bad_bold.nii.gz"
    bad.write_bytes(b"not a gzip stream at all")
    inputs = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "sample_data").glob("sub-*"))
    inputs += [str(p) for p in sorted(SHARED.glob("*.*")) if p.suffix != ".md"]
    return [*inputs[:2], "-", str(bad), "missing/sub-04_timeseries.csv", *inputs[2:]]


def _stdin() -> io.BytesIO:
    return io.BytesIO((ROOT / "sample_data" / "sub-02_task-events_timeseries.csv").read_bytes())


def _tsv(results) -> str:
    out = io.StringIO()
    writer = make_writer("tsv", out, NAMES)
    for result in results:
        writer.add(result.rows)
    writer.close()
    return out.getvalue()


def _exact(rows: list[dict]) -> list[list]:
    """Each row's columns as (type, repr): 1.0 and np.float32(1.0) are not the same cell."""
    return [[(k, type(v).__name__, repr(v)) for k, v in sorted(row.items())] for row in rows]


def _run(inputs: list[str], opts: ScoreOptions, executor) -> list:
    return list(iter_scores(inputs, opts, stdin=_stdin(), executor=executor))


@pytest.mark.parametrize("mask", [None, MASK], ids=["nomask", "mask"])
def test_inline_processes_and_dask_give_identical_rows(batch, mask):
    opts = ScoreOptions(mask=mask, fail_above=1e6)
    inline = _run(batch, opts, inline_executor())
    with process_executor(2) as pool:
        pooled = _run(batch, opts, pool)
    assert [r.path for r in inline] == batch
    statuses = [r.rows[0]["status"] for r in inline]
    assert statuses.count("error") == 2, statuses
    missing = inline[batch.index("missing/sub-04_timeseries.csv")]
    assert missing.rows[0]["error"] == "no such file: missing/sub-04_timeseries.csv"
    assert missing.traceback and "Traceback" in missing.traceback
    assert [_exact(r.rows) for r in pooled] == [_exact(r.rows) for r in inline]
    assert [r.warnings for r in pooled] == [r.warnings for r in inline]
    assert _tsv(pooled) == _tsv(inline)
    if mask is None:  # one LocalCluster is enough (about 3 s to start)
        from smoothcli.batch import dask_executor

        with dask_executor("local") as cluster:
            on_dask = _run(batch, opts, cluster)
        assert [_exact(r.rows) for r in on_dask] == [_exact(r.rows) for r in inline]
        assert _tsv(on_dask) == _tsv(inline)


def test_the_window_of_futures_is_bounded():
    given = []

    def tasks():
        for i in range(40):
            given.append(i)
            yield make_task(str(ROOT / "sample_data" / "sub-02_task-events_timeseries.csv"))

    job = ScoreJob(ScoreOptions())
    with process_executor(2) as pool:
        for done, _ in enumerate(ordered(pool, job, tasks(), window=3), 1):
            assert len(given) - done <= 3
    assert done == 40


def _holding(path: Path) -> list[psutil.Process]:
    """Descendants of this process that have ``path`` open or mapped."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            files = {f.path for f in proc.open_files()}
            files |= {m.path for m in proc.memory_maps(grouped=True)}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if str(path) in files:
            found.append(proc)
    return found


def _kill_when_busy(path: Path, killed: list[int], stop: threading.Event, again: bool) -> None:
    while not stop.is_set() and (again or not killed):
        for proc in _holding(path):
            if proc.pid in killed:
                continue  # killed already, not yet reaped
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                continue  # it ended between the listing and the signal
            killed.append(proc.pid)
        time.sleep(0.005)


def _killing(path: Path, again: bool = False):
    """Kill the worker that reads ``path``: once, or (``again``) every time one does."""
    killed: list[int] = []
    stop = threading.Event()
    args = (path, killed, stop, again)
    thread = threading.Thread(target=_kill_when_busy, args=args, daemon=True)
    thread.start()
    return killed, stop, thread


def _scored_while_killing(big: Path, inputs: list[str], again: bool) -> tuple[list, list]:
    """The results of ``inputs`` on two worker processes while whichever reads ``big`` is
    killed (once, or each time), and the pids killed."""
    killed, stop, thread = _killing(big, again)
    try:
        with process_executor(2) as pool:
            return list(iter_scores(inputs, ScoreOptions(), executor=pool)), killed
    finally:
        stop.set()
        thread.join()


def test_a_worker_killed_once_mid_batch_is_retried_and_every_input_scored(big, batch):
    """Which input a dead worker held is not known: the inputs the broken pool failed run
    again, each alone, on a new pool (as Dask retries a task whose worker died)."""
    inputs = [*batch[:2], str(big), *batch[5:]]
    inline = list(iter_scores(inputs, ScoreOptions()))
    pooled, killed = _scored_while_killing(big, inputs, again=False)
    assert killed, "the test never saw a worker reading the big input"
    assert [_exact(r.rows) for r in pooled] == [_exact(r.rows) for r in inline]


def test_an_input_that_kills_its_worker_each_time_is_an_error_row(big, batch):
    inputs = [*batch[:2], str(big), *batch[5:]]
    inline = list(iter_scores(inputs, ScoreOptions()))
    pooled, killed = _scored_while_killing(big, inputs, again=True)
    assert len(killed) >= 2, "the big input's worker was not killed twice"
    at = inputs.index(str(big))
    assert pooled[at].rows[0]["status"] == "error"
    assert pooled[at].rows[0]["error"] == DIED
    others = [r for i, r in enumerate(pooled) if i != at]
    assert [_exact(r.rows) for r in others] == [
        _exact(r.rows) for i, r in enumerate(inline) if i != at
    ]


def test_dask_retries_a_task_whose_worker_was_killed(big, batch):
    from distributed import Client, LocalCluster

    inputs = [*batch[:2], str(big), *batch[5:]]
    inline = list(iter_scores(inputs, ScoreOptions()))
    killed, stop, thread = _killing(big)
    try:
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            frame = score_paths(inputs, client=client)
    finally:
        stop.set()
        thread.join()
    assert killed, "the test never saw a worker reading the big input"
    assert list(frame["status"]) == ["ok"] * len(inputs)
    expected = [float(r.rows[0]["score"]) for r in inline]
    np.testing.assert_array_equal(frame["score"].to_numpy(), expected)


CHILD = textwrap.dedent(
    """
    import sys
    from smoothcli.batch import ScoreOptions, iter_scores

    if __name__ == "__main__":
        for result in iter_scores(sys.argv[1:], ScoreOptions(), jobs=2):
            print(result.path, flush=True)
    """
)


@posix_only
def test_ctrl_c_stops_the_batch_and_leaves_no_worker(big, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), *[str(big)] * 12],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    parent = psutil.Process(child.pid)
    workers: set[int] = set()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        busy = [p.pid for p in _holding(big) if p.pid != child.pid]
        workers |= {p.pid for p in parent.children(recursive=True)}
        if len(busy) >= 2 or (busy and time.monotonic() > deadline - 10):
            break
        time.sleep(0.01)
    assert workers, "the batch never started its workers"
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=20)
    assert child.returncode != 0
    assert "KeyboardInterrupt" in err
    left = []
    for pid in workers:
        try:
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE:
                proc.wait(3)
        except psutil.NoSuchProcess:
            continue
        except psutil.TimeoutExpired:
            left.append(pid)
    assert not left, f"worker processes left behind: {left}"


def test_require_dask_names_the_extra(monkeypatch):
    require_dask()  # installed with the test extra
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install \"smoothcli\[dask\]\""):
        require_dask()
    assert DASK_INSTALL == 'pip install "smoothcli[dask]"'


def test_score_paths_jobs_matches_one_process(monkeypatch):
    monkeypatch.chdir(ROOT)
    one = score_paths("sample_data")
    two = score_paths("sample_data", jobs=2)
    assert one.equals(two)
    assert os.path.isabs(two["path"][0]) is False


def test_killing_the_pool_leaves_a_callers_own_processes_alone():
    import multiprocessing

    from smoothcli.batch._executors import ProcessWorkers

    ctx = multiprocessing.get_context("spawn")
    mine = ctx.Process(target=time.sleep, args=(30,))
    mine.start()
    try:
        workers = ProcessWorkers(1)
        assert workers.submit(abs, -3).result(timeout=60) == 3  # its worker is running
        workers.kill()
        assert mine.is_alive() and mine.exitcode is None
    finally:
        mine.kill()
        mine.join(10)


# -- how many workers --jobs is worth -------------------------------------------------------


def test_worker_count_is_one_per_input_core_and_share_of_the_bytes(tmp_path, monkeypatch):
    from smoothcli.batch._executors import WORKER_BYTES, at_once, worker_count

    monkeypatch.delenv("SMOOTHCLI_WORKER_BYTES")
    monkeypatch.delenv("SMOOTHCLI_OVERLAP_BYTES")
    small = []
    for i in range(200):
        small.append(str(tmp_path / f"s{i}.csv"))
        Path(small[-1]).write_text("a\n1\n2\n")
    assert worker_count(2, small) == worker_count(0, small) == 1  # 1.2 KB: not worth one
    big = []
    for i in range(4):  # sparse: their size on disk counts, not the blocks they hold
        big.append(str(tmp_path / f"b{i}.npy"))
        with open(big[-1], "wb") as fh:
            fh.truncate(WORKER_BYTES)
    assert at_once(big) == min(2, cpu_count())  # this process scores two at once by itself
    # worker processes only when they score more at once than that
    assert worker_count(2, big) == 1
    assert worker_count(0, big) == (min(4, cpu_count()) if cpu_count() > 2 else 1)
    assert worker_count(0, big[:1] + small) == 1  # 64 MB in all: one worker's worth
    assert worker_count(3, ["-", "missing.csv"]) == 1  # no size: stdin, a missing file
    monkeypatch.setenv("SMOOTHCLI_WORKER_BYTES", "0")  # every worker asked for
    assert worker_count(2, small) == min(2, cpu_count())
    monkeypatch.setenv("SMOOTHCLI_WORKER_BYTES", "64M")
    with pytest.raises(ValueError, match="SMOOTHCLI_WORKER_BYTES must be a number of bytes"):
        worker_count(2, small)
    assert worker_count(1, small) == 1  # --jobs 1 asks for no worker: the setting is not read


def test_this_process_scores_two_big_inputs_at_once(tmp_path, monkeypatch):
    from smoothcli.batch import at_once, local_executor
    from smoothcli.batch._executors import WORKER_BYTES

    monkeypatch.delenv("SMOOTHCLI_OVERLAP_BYTES", raising=False)
    small = [str(tmp_path / f"s{i}.csv") for i in range(3)]
    for path in small:
        Path(path).write_text("a\n1\n2\n")
    big = [str(tmp_path / f"b{i}.npy") for i in range(3)]
    for path in big:
        with open(path, "wb") as fh:
            fh.truncate(WORKER_BYTES)
    two = min(2, cpu_count())
    assert at_once(small) == 1 and at_once(big[:1]) == 1 and at_once(big) == two
    assert at_once(big[:1] + small) == 1  # 64 MB in all: one input's worth
    with local_executor(big) as workers:
        assert workers.kind == ("thread" if two == 2 else "inline") and workers.local
        assert workers.count == two
    with local_executor(small) as workers:
        assert workers.kind == "inline" and workers.local
    monkeypatch.setenv("SMOOTHCLI_OVERLAP_BYTES", "0")  # whatever the size
    assert at_once(small) == two
    monkeypatch.setenv("SMOOTHCLI_OVERLAP_BYTES", "lots")
    with pytest.raises(ValueError, match="SMOOTHCLI_OVERLAP_BYTES must be a number of bytes"):
        at_once(small)


@pytest.mark.skipif(cpu_count() == 1, reason="one CPU: one input at a time")
def test_two_inputs_at_once_give_the_same_table_and_each_its_own_notes(tmp_path):
    """In threads, each input's rows, error and warnings are its own, in input order."""
    rng = np.random.default_rng(3)
    names = []
    for i in range(6):
        data = rng.standard_normal((12, 5, 4, 3, 40)).astype(np.float32)[0]
        if i == 2:
            data[1, 1, 1, 7] = np.nan  # a NaN difference: a note, and a NaN score
        nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / f"sub-{i}_bold.nii.gz")
        names.append(str(tmp_path / f"sub-{i}_bold.nii.gz"))
    (tmp_path / "bad.csv").write_text("a,b\n1,x\n2,3\n")
    names.insert(4, str(tmp_path / "bad.csv"))
    exe = str(Path(sys.executable).with_name("smoothcli"))
    cmd = [exe, "score", *names, "--format", "tsv"]
    env = dict(os.environ)
    one = subprocess.run(
        cmd, capture_output=True, env={**env, "SMOOTHCLI_OVERLAP_BYTES": str(2**60)}
    )
    two = subprocess.run(cmd, capture_output=True, env={**env, "SMOOTHCLI_OVERLAP_BYTES": "0"})
    assert one.returncode == two.returncode == 3
    assert one.stdout == two.stdout and one.stdout.count(b"\tok\t") == 6
    said = two.stderr.decode().splitlines()
    assert one.stderr.decode().splitlines()[:-1] == said[:-1]  # the last: the time it took
    assert "sub-2_bold.nii.gz: score is NaN" in said[0] and "bad.csv" in said[1]


@pytest.mark.skipif(cpu_count() == 1, reason="one CPU: one input at a time")
@pytest.mark.parametrize(
    "args",
    [
        ["dvars", "--mask", "auto", "--dummy-scans", "auto", "--summary"],
        ["score", "--mask", "auto", "--scalarise", "rms(axis=space)"],
    ],
)
def test_a_tree_scored_two_runs_at_once_gives_the_same_bytes(tmp_path, args):
    tree = Path(__file__).parent / "data" / "qc" / "tree"
    exe = str(Path(sys.executable).with_name("smoothcli"))
    out = {}
    for overlap in ("0", str(2**60)):
        target = tmp_path / f"{overlap}.tsv"
        cmd = [exe, *args, str(tree), "--include", "*desc-preproc_bold*", "-o", str(target)]
        env = {**os.environ, "SMOOTHCLI_OVERLAP_BYTES": overlap}
        done = subprocess.run(cmd, capture_output=True, env=env, timeout=300)
        assert done.returncode in (0, 1), done.stderr
        out[overlap] = target.read_bytes()
    assert out["0"] == out[str(2**60)] and out["0"].count(b"\n") > 5


@posix_only
@pytest.mark.skipif(cpu_count() == 1, reason="one CPU: one input at a time")
def test_ctrl_c_during_two_inputs_at_once_exits_130_and_leaves_nothing(tmp_path):
    """Ctrl-C while two threads score: exit 130 with one line, and no table left behind."""
    import gzip

    run = tmp_path / "in" / "sub-01_bold.nii.gz"
    run.parent.mkdir()
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((64, 64, 40, 200))
    hdr.set_data_dtype(np.int16)
    frame = np.random.default_rng(5).integers(-2000, 2000, (64, 64, 40), dtype=np.int16)
    with gzip.open(run, "wb", compresslevel=1) as fh:  # inflating it takes a while
        hdr.write_to(fh)
        fh.write(b"\0" * (int(hdr.get_data_offset()) - 348))
        for t in range(200):
            fh.write(np.roll(frame, t).tobytes(order="F"))
    inputs = [str(run)]
    for i in range(2, 13):  # hard links: the same bytes, no more disk
        inputs.append(str(run.with_name(f"sub-{i:02d}_bold.nii.gz")))
        os.link(run, inputs[-1])
    out = tmp_path / "out" / "scores.tsv"
    out.parent.mkdir()
    exe = str(Path(sys.executable).with_name("smoothcli"))
    env = {**os.environ, "SMOOTHCLI_OVERLAP_BYTES": "0"}
    child = subprocess.Popen(
        [exe, "score", *inputs, "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        opened: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(opened) < 2:  # two inputs being read
            try:
                opened = [f.path for f in psutil.Process(child.pid).open_files()]
            except psutil.Error:
                break
            opened = [p for p in opened if p.endswith("_bold.nii.gz")]
            time.sleep(0.005)
        assert len(opened) >= 2, "the batch never scored two inputs at once"
        child.send_signal(signal.SIGINT)
        _out, err = child.communicate(timeout=60)
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == 130 and err.decode().splitlines() == ["smoothcli: interrupted"]
    assert list(out.parent.iterdir()) == []


def test_a_thread_reports_how_far_its_input_is_read_for_the_progress_bar():
    """Two inputs at once: each task's position is what its own reader (a thread it
    started) reported last, and none once it is done."""
    from smoothcli.batch import thread_executor
    from smoothcli.batch._executors import run_thread
    from smoothcli.sources._consumed import report
    from smoothcli.sources._prefetch import Prefetch

    read, release = threading.Event(), threading.Event()

    def score(done: float) -> str:
        def blocks():
            report(done)
            yield np.zeros(1)

        assert len(list(Prefetch(blocks()))) == 1
        read.set()
        release.wait(60)
        return "scored"

    with thread_executor(2) as workers:
        future = workers.submit(run_thread, workers.read, score, 4, 0.25)
        assert read.wait(60)
        assert workers.position(4) == 0.25 and workers.position(5) is None
        release.set()
        assert future.result(timeout=60) == "scored"
        assert workers.position(4) is None


def test_killed_threads_are_not_waited_for():
    from smoothcli.batch import thread_executor

    release = threading.Event()
    workers = thread_executor(2)
    running = workers.submit(release.wait, 60)
    queued = [workers.submit(release.wait, 60) for _ in range(3)]
    workers.kill()
    workers.close()  # returns although an input is still being scored
    assert not running.done() and all(f.cancelled() for f in queued[1:])
    release.set()
    assert running.result(timeout=60) is True


def test_a_thread_that_records_nothing_keeps_its_filters(recwarn):
    """While one thread records every warning, another's are filtered as before: a
    ResourceWarning (ignored by default) is not shown, a UserWarning is shown as it was
    (here to pytest's ``recwarn``, which had the warnings module before)."""
    import warnings

    from smoothcli._warnings import recorded

    with warnings.catch_warnings():  # the default filters, whatever pytest has set
        warnings.resetwarnings()
        warnings.simplefilter("ignore", ResourceWarning)
        warnings.simplefilter("default", UserWarning)

        def other() -> None:
            warnings.warn("not shown", ResourceWarning, stacklevel=1)
            warnings.warn("shown", UserWarning, stacklevel=1)

        with recorded() as caught:
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
            warnings.warn("mine", ResourceWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["mine"]
    assert [str(w.message) for w in recwarn] == ["shown"]


def test_warnings_are_recorded_per_thread_and_by_the_threads_a_reader_starts():
    """Two inputs scored at once each keep their own warnings (``warnings.catch_warnings``
    would swap one state for every thread); a reader thread's go with its caller's."""
    import warnings

    from smoothcli._warnings import recorded
    from smoothcli.sources._prefetch import Prefetch

    barrier = threading.Barrier(2)
    got: dict[str, list[str]] = {}
    before = (warnings.showwarning, list(warnings.filters))

    def score(name: str) -> None:
        with recorded() as caught:
            for i in range(50):
                if i == 25:
                    barrier.wait()  # both threads are recording now
                warnings.warn(f"{name} {i}", UserWarning, stacklevel=1)

            def blocks():
                warnings.warn(f"{name} reader", UserWarning, stacklevel=1)
                yield np.zeros(3)

            assert len(list(Prefetch(blocks()))) == 1
        got[name] = [str(w.message) for w in caught]

    threads = [threading.Thread(target=score, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in ("a", "b"):
        assert got[name] == [f"{name} {i}" for i in range(50)] + [f"{name} reader"]
    from smoothcli import _warnings as recorder

    assert recorder._depth == 0  # the last block closed: the warnings module as it was
    assert warnings.showwarning is before[0] and warnings.filters == before[1]


def _children_seen(cmd: list[str], env: dict[str, str]) -> tuple[bytes, int]:
    """The stdout of ``cmd`` and how many child processes it was seen to have."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    seen: set[int] = set()
    parent = psutil.Process(proc.pid)

    def watch() -> None:
        while proc.poll() is None:
            try:
                seen.update(c.pid for c in parent.children(recursive=True))
            except psutil.Error:
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    out, _ = proc.communicate(timeout=120)
    watcher.join()
    assert proc.returncode == 0
    return out, len(seen)


@pytest.mark.skipif(os.cpu_count() == 1, reason="one CPU: --jobs 2 starts one worker at most")
def test_jobs_2_on_small_inputs_scores_them_here_with_the_same_table(tmp_path):
    """200 small CSVs with --jobs 2 take 1.27x as long on worker processes as in one (their
    start-up): they are scored in this process; SMOOTHCLI_WORKER_BYTES=0 starts the workers."""
    rng = np.random.default_rng(0)
    for i in range(40):
        np.savetxt(tmp_path / f"sub-{i:02d}.csv", rng.standard_normal((50, 3)), delimiter=",")
    exe = str(Path(sys.executable).with_name("smoothcli"))
    cmd = [exe, "score", str(tmp_path), "--jobs", "2", "--format", "tsv"]
    env = {k: v for k, v in os.environ.items() if k != "SMOOTHCLI_WORKER_BYTES"}
    here, none = _children_seen(cmd, env)
    workers, some = _children_seen(cmd, {**env, "SMOOTHCLI_WORKER_BYTES": "0"})
    assert none == 0 and some >= 2
    assert here == workers and here.count(b"\tok\t") == 40
