"""Reading ahead and scaling where the kernel computes: the helper thread of :class:`Prefetch`,
the :class:`Buffers` pool it shares with its caller, a NIfTI image's stored values scaled by
the kernel (against NumPy float64 on nibabel's values and against the converted route),
``NiftiSource.start()``, the restacking of a reader's pieces into the engine's blocks, and
the device count JAX is given but worker processes do not inherit.

Real files written with nibabel, real threads, real JAX; nothing mocked (a module constant
is made small with monkeypatch where a test needs several pieces of a tiny image).
"""

from __future__ import annotations

import gc
import gzip
import io
import threading
import time
import warnings
import weakref
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from smoothcli import SmoothcliWarning, SmoothnessLoss, parse_scalarisation, runtime
from smoothcli.engine import evaluate
from smoothcli.sources import InputError, _base
from smoothcli.sources._base import read_exact, read_rows
from smoothcli.sources._prefetch import Buffers, Prefetch
from smoothcli.sources.nifti import _frames, load_mask, open_nifti

from .conftest import run_clean_python
from .reference import ref_smoothness

SHAPE = (8, 7, 6, 20)  # small: a frame is 336 voxels, 672 bytes as int16
FRAME_BYTES = 8 * 7 * 6 * 2


# -- helpers --------------------------------------------------------------------------------------


def wait_for(condition, timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def readers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "smoothcli-read"}


def walk(shape=SHAPE, seed=0, dtype=np.int16) -> np.ndarray:
    """A random walk along time: smooth enough that its differences are small."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(-40, 41, shape)
    steps[..., 0] = rng.integers(-3000, 3000, shape[:3])
    return steps.cumsum(axis=3).astype(dtype)


def nifti_blob(data: np.ndarray, *, slope=None, inter=None, endian: str = "<") -> bytes:
    hdr = nib.Nifti1Header(endianness=endian)
    hdr.set_data_dtype(data.dtype.newbyteorder(endian))
    img = nib.Nifti1Image(data, np.eye(4), header=hdr)
    if slope is not None:
        img.header.set_slope_inter(slope, inter)
    return img.to_bytes()


def write_image(path: Path, data: np.ndarray, **kw) -> Path:
    raw = nifti_blob(data, **kw)
    path.write_bytes(gzip.compress(raw, 1) if path.name.endswith(".gz") else raw)
    return path


def nib_values(path: Path, mask: np.ndarray | None = None) -> np.ndarray:
    """The image as nibabel scales it, in float64 (voxels x time with a mask)."""
    values = nib.load(path).get_fdata(dtype=np.float64)
    return values if mask is None else values[mask]


def write_mask(path: Path) -> np.ndarray:
    voxels = np.zeros(SHAPE[:3], np.uint8)
    voxels[2:6, 1:5, 1:4] = 1
    voxels[0, 0, 0] = 1
    nib.Nifti1Image(voxels, np.eye(4)).to_filename(path)
    return voxels != 0


def close_to(got, want, rel: float = 1e-6) -> None:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rel, atol=0)


#: the scaled images: int16 with slope 0.5 and intercept 100 (float32 values); a large
#: intercept (float64 values: float32's spacing at 1e6 is coarser than the slope); big-endian
SCALED = {
    "int16": ({"slope": 0.5, "inter": 100.0}, np.float32),
    "int16-large-intercept": ({"slope": 0.001, "inter": 1e6}, np.float64),
    "int16-big-endian": ({"slope": 0.5, "inter": 100.0, "endian": ">"}, np.float32),
}


@pytest.fixture(params=list(SCALED), ids=list(SCALED))
def scaled_case(request):
    kw, dtype = SCALED[request.param]
    return request.param, kw, np.dtype(dtype)


@pytest.fixture(params=[".nii", ".nii.gz"])
def suffix(request):
    return request.param


# -- Prefetch -------------------------------------------------------------------------------------


def test_prefetch_yields_every_block_in_order():
    blocks = [np.full(5 + i, i, np.int32) for i in range(12)]
    for ahead in (0, 64, 1 << 20):
        got = list(Prefetch(iter(blocks), ahead))
        assert len(got) == len(blocks)
        assert all(g is b for g, b in zip(got, blocks, strict=True))  # the same objects
    assert list(Prefetch(iter([]))) == []


def test_prefetch_runs_in_a_helper_thread_started_at_construction():
    where: list[threading.Thread] = []
    started = threading.Event()

    def gen():
        where.append(threading.current_thread())
        started.set()
        yield np.zeros(3)

    it = Prefetch(gen())
    assert started.wait(10)  # nothing asked yet: the thread is already reading
    assert where[0] is not threading.current_thread()
    assert where[0].name == "smoothcli-read" and where[0].daemon
    assert len(list(it)) == 1
    assert wait_for(lambda: not where[0].is_alive())


def counting(produced: list[int], count: int, nbytes: int = 100):
    for i in range(count):
        produced.append(i)
        yield np.full(nbytes, i, np.uint8)


def test_with_nothing_ahead_one_block_is_read_before_the_first_is_taken():
    produced: list[int] = []
    it = Prefetch(counting(produced, 10), ahead=0)
    assert wait_for(lambda: produced)
    time.sleep(0.2)  # time enough to read them all, if nothing held the thread back
    assert 1 <= len(produced) <= 2
    first = next(it)
    assert int(first[0]) == 0
    assert wait_for(lambda: len(produced) >= 2)  # taking one makes room for the next
    time.sleep(0.1)
    assert len(produced) <= 3
    assert [int(b[0]) for b in it] == list(range(1, 10))


def test_the_thread_holds_about_ahead_bytes_and_no_more():
    produced: list[int] = []
    it = Prefetch(counting(produced, 20, nbytes=100), ahead=250)
    assert wait_for(lambda: len(produced) >= 3)  # 300 bytes ready reach 250: it waits
    time.sleep(0.2)
    assert 3 <= len(produced) <= 4
    next(it)
    next(it)
    assert wait_for(lambda: len(produced) >= 5)
    time.sleep(0.1)
    assert len(produced) <= 6
    it.close()


def test_a_pause_of_the_caller_does_not_stop_the_reading_while_there_is_room():
    produced: list[int] = []
    it = Prefetch(counting(produced, 10, nbytes=100), ahead=1 << 20)
    assert wait_for(lambda: len(produced) == 10)  # read to the end with nothing taken
    assert [int(b[0]) for b in it] == list(range(10))


def test_an_error_of_the_blocks_is_raised_in_the_caller_after_the_blocks_before_it():
    def gen():
        yield np.zeros(4)
        yield np.ones(4)
        raise InputError("the gzip stream is corrupt: checked after the last block")

    it = Prefetch(gen(), ahead=1 << 20)
    assert next(it)[0] == 0
    assert next(it)[0] == 1
    with pytest.raises(InputError, match="corrupt: checked after the last block"):
        next(it)
    with pytest.raises(StopIteration):  # finished: the error is raised once
        next(it)


def test_an_error_raised_at_once_reaches_the_caller_too():
    def gen():
        raise ValueError("no block at all")
        yield  # pragma: no cover

    with pytest.raises(ValueError, match="no block at all"):
        next(Prefetch(gen()))


def endless(state: dict):
    state["thread"] = threading.current_thread()
    try:
        i = 0
        while True:
            yield np.full(16, i % 256, np.uint8)
            i += 1
    finally:
        state["finally"] = threading.current_thread()


def test_close_part_way_stops_the_thread_and_runs_the_blocks_clean_up():
    state: dict = {}
    it = Prefetch(endless(state), ahead=64)
    assert int(next(it)[0]) == 0
    assert int(next(it)[0]) == 1
    it.close()
    thread = state["thread"]
    assert thread.name == "smoothcli-read"
    assert not thread.is_alive()  # joined: close() returns after the thread has stopped
    assert "finally" in state  # the generator was closed: its files would be closed
    with pytest.raises(StopIteration):
        next(it)
    it.close()  # a second close is harmless


def test_dropping_the_iterator_closes_it():
    state: dict = {}
    it = Prefetch(endless(state), ahead=64)
    next(it)
    thread = state["thread"]
    assert thread.is_alive()
    del it
    gc.collect()
    assert wait_for(lambda: not thread.is_alive())
    assert "finally" in state


def test_recycle_is_given_each_block_once_the_next_is_asked_for():
    blocks = [np.full(8, i, np.uint8) for i in range(4)]
    recycled: list[np.ndarray] = []
    it = Prefetch(iter(blocks), ahead=1 << 20, recycle=recycled.append)
    b0 = next(it)
    assert recycled == []  # the caller still holds the block it was given
    b1 = next(it)
    assert len(recycled) == 1 and recycled[0] is b0
    next(it)
    assert [id(r) for r in recycled] == [id(b0), id(b1)]
    assert len(list(it)) == 1
    # the last one too, when the caller asks past the end; each block exactly once
    assert [id(r) for r in recycled] == [id(b) for b in blocks]


def test_recycle_is_not_given_the_block_the_caller_holds_at_close():
    recycled: list[np.ndarray] = []
    it = Prefetch(iter([np.zeros(2), np.ones(2), np.ones(2)]), recycle=recycled.append)
    next(it)
    held = next(it)
    it.close()
    assert len(recycled) == 1 and recycled[0] is not held


# -- Buffers and reading in pieces ----------------------------------------------------------------


def test_buffers_get_gives_the_size_asked():
    pool = Buffers()
    for n in (0, 1, 100, 4097):
        buf = pool.get(n)
        assert buf.dtype == np.uint8 and buf.shape == (n,)


def test_a_view_given_back_returns_its_base_which_get_reuses():
    pool = Buffers()
    a = pool.get(100)
    a[:] = 7
    pool.put(a[10:30].view(np.int16))  # a view, in another dtype: the memory is a's
    b = pool.get(60)
    assert b.shape == (60,) and np.shares_memory(a, b)
    c = pool.get(60)  # the pool is empty again: a new buffer
    assert not np.shares_memory(a, c)


def test_a_buffer_too_small_is_not_given_and_stays_for_later():
    pool = Buffers()
    small = pool.get(50)
    pool.put(small)
    big = pool.get(200)
    assert big.shape == (200,) and not np.shares_memory(big, small)
    again = pool.get(40)
    assert again.shape == (40,) and np.shares_memory(again, small)


def test_memory_a_buffer_does_not_own_as_bytes_is_not_pooled():
    pool = Buffers()
    floats = np.zeros(16, np.float64)
    pool.put(floats)  # not a byte buffer
    pool.put(np.zeros((4, 4), np.uint8))  # not flat
    got = pool.get(8)
    assert not np.shares_memory(got, floats)


def test_buffers_are_never_handed_to_two_threads_at_once():
    pool = Buffers()
    clashes: list[int] = []

    def worker(tag: int) -> None:
        for _ in range(2000):
            buf = pool.get(64)
            buf[:] = tag
            time.sleep(0)  # let another thread run while this one holds the buffer
            if not (buf == tag).all():
                clashes.append(tag)
            pool.put(buf)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clashes == []


class Recorder(io.BytesIO):
    """A stream that remembers how many bytes each ``readinto`` asked for, and gives at
    most ``most`` bytes at a time (a pipe)."""

    def __init__(self, data: bytes, most: int | None = None) -> None:
        super().__init__(data)
        self.asked: list[int] = []
        self.most = most

    def readinto(self, b) -> int:
        self.asked.append(len(b))
        if self.most is not None and len(b) > self.most:
            b = memoryview(b)[: self.most]
        return super().readinto(b)


def test_read_exact_asks_for_at_most_a_read_piece_at_a_time(monkeypatch):
    monkeypatch.setattr(_base, "READ_PIECE", 16)
    data = bytes(range(50))
    fh = Recorder(data)
    out = bytearray(50)
    assert read_exact(fh, memoryview(out)) == 50
    assert bytes(out) == data
    assert fh.asked[:4] == [16, 16, 16, 2]
    pipe = Recorder(data, most=5)  # short reads: filled all the same
    out = bytearray(50)
    assert read_exact(pipe, memoryview(out)) == 50 and bytes(out) == data
    assert max(pipe.asked) <= 16
    assert read_exact(Recorder(data[:20]), memoryview(bytearray(50))) == 20  # the stream ends


def test_read_rows_with_a_pool_reads_into_buffers_given_back():
    data = bytes(np.arange(70, dtype=np.uint8))
    pool = Buffers()
    raws = []
    for start, k, raw in read_rows(
        io.BytesIO(data), 7, 3, 10, short=lambda row: InputError(f"row {row}"), pool=pool
    ):
        assert raw.tobytes() == data[start * 10 : (start + k) * 10]  # right while it is held
        raws.append(raw)
        pool.put(raw)
    assert [r.size for r in raws] == [30, 30, 10]
    assert np.shares_memory(raws[0], raws[1]) and np.shares_memory(raws[1], raws[2])
    with pytest.raises(InputError, match="row 4"):
        for _ in read_rows(
            io.BytesIO(data[:45]), 7, 3, 10, short=lambda row: InputError(f"row {row}"), pool=pool
        ):
            pass


# -- stored values, scaled by the kernel ----------------------------------------------------------


def test_a_scaled_image_gives_its_stored_values_and_scale(tmp_path, scaled_case, suffix):
    _, kw, dtype = scaled_case
    data = walk()
    path = write_image(tmp_path / f"bold{suffix}", data, **kw)
    src = open_nifti(path).source
    assert src.dtype == dtype
    assert src.stored == np.dtype(np.int16) and src.stored.isnative
    slope = float(np.float32(kw["slope"]))  # the header holds float32
    assert src.scale == (slope, float(np.float32(kw["inter"])))
    # a block's buffer goes back to the reader when the next is asked for: keep copies
    blocks = [b.copy() for b in src.stored_chunks(6)]
    assert [b.shape[3] for b in blocks] == [6, 6, 6, 2]
    stored = np.concatenate(blocks, axis=3)
    np.testing.assert_array_equal(stored, data)  # as stored, not scaled
    np.testing.assert_array_equal(
        (stored.astype(dtype) * dtype.type(src.scale[0]) + dtype.type(src.scale[1])), src.read()
    )


def test_an_unscaled_image_has_no_scale(tmp_path):
    src = open_nifti(write_image(tmp_path / "u.nii", walk())).source
    assert src.scale is None and src.stored == np.int16 and src.dtype == np.float32


def test_stored_chunks_of_a_big_endian_image_are_in_the_files_byte_order(tmp_path):
    # the blocks are views of the raw bytes; ``stored`` is the native dtype the engine
    # stages them in (its copy swaps the bytes)
    path = write_image(tmp_path / "be.nii", walk(), slope=0.5, inter=100.0, endian=">")
    src = open_nifti(path).source
    assert src.stored == np.dtype("<i2")
    blocks = list(np.array(b) for b in src.stored_chunks(6))
    assert all(b.dtype == np.dtype(">i2") for b in blocks)
    assert np.array_equal(np.concatenate(blocks, axis=-1), nib.load(path).dataobj.get_unscaled())


def scored(loss: SmoothnessLoss, src, **kw) -> np.ndarray:
    return np.asarray(evaluate(loss, src, **kw))


RMS_SPACE = "rms(axis=space)"


@pytest.mark.parametrize("how", ["l1", "rms-space", "mask", "n2"])
def test_the_kernel_scales_stored_values_as_numpy_float64_does(tmp_path, scaled_case, suffix, how):
    _, kw, dtype = scaled_case
    data = walk(seed=3)
    path = write_image(tmp_path / f"bold{suffix}", data, **kw)
    mask = voxels = None
    if how == "mask":
        voxels = write_mask(tmp_path / "mask.nii")
        mask = load_mask(tmp_path / "mask.nii")
    values = nib_values(path, voxels)
    if how == "rms-space":
        loss = SmoothnessLoss(scalarisation=parse_scalarisation(RMS_SPACE))
        d = np.diff(values, axis=3)
        want = np.sqrt((d**2).mean(axis=(0, 1, 2)))
    else:
        n = 2 if how == "n2" else 1
        loss = SmoothnessLoss(n=n)
        want = np.abs(np.diff(values, n=n, axis=-1)).sum()
    src = open_nifti(path, mask=mask).source
    assert src.scale is not None and src.stored == np.int16  # the stored route applies
    got = scored(loss, src)
    assert got.dtype == dtype
    close_to(got, want)
    # the converted route: the reader's float values, in memory
    converted = open_nifti(path, mask=mask).source.read()
    assert converted.dtype == dtype
    close_to(got, scored(loss, converted))


def test_a_large_intercept_keeps_the_slopes_resolution(tmp_path, suffix):
    # in float32 every value near 1e6 would be a multiple of 0.0625 and the score wrong
    data = walk(seed=5)
    path = write_image(tmp_path / f"big{suffix}", data, slope=0.001, inter=1e6)
    got = float(scored(SmoothnessLoss(), open_nifti(path).source))
    stored_l1 = np.abs(np.diff(data.astype(np.float64), axis=3)).sum()
    assert got == pytest.approx(stored_l1 * float(np.float32(0.001)), rel=1e-6)


@pytest.mark.parametrize("pad", [3.5, 0.25, 1e5])
@pytest.mark.parametrize("masked", [False, True], ids=["whole", "masked"])
def test_a_pad_carried_in_history_rows_takes_the_converted_route(tmp_path, suffix, pad, masked):
    data = walk(seed=7)
    path = write_image(tmp_path / f"bold{suffix}", data, slope=0.5, inter=100.0)
    mask = voxels = None
    if masked:
        voxels = write_mask(tmp_path / "mask.nii")
        mask = load_mask(tmp_path / "mask.nii")
    values = nib_values(path, voxels)
    for n in (1, 2):
        loss = SmoothnessLoss(n=n, pad_value=pad)
        want = np.abs(ref_smoothness(values, n=n, pad_value=pad, axis=-1)).sum()
        src = open_nifti(path, mask=mask).source
        got = scored(loss, src, chunk_rows=6)  # the pad is in the first block's history
        close_to(got, want)
        close_to(got, scored(loss, open_nifti(path, mask=mask).source.read()))


def test_a_pad_along_a_space_axis_is_added_by_the_kernel_to_scaled_values(tmp_path, suffix):
    # differences along x: the blocks (frames) do not split them, so no history rows carry
    # the pad, and the stored route applies, with the pad prepended in the compute dtype
    data = walk(seed=8)
    path = write_image(tmp_path / f"bold{suffix}", data, slope=0.5, inter=100.0)
    values = nib_values(path)
    for spec in ("l1", RMS_SPACE):
        loss = SmoothnessLoss(n=1, pad_value=0.25, axis=0, scalarisation=parse_scalarisation(spec))
        d = ref_smoothness(values, n=1, pad_value=0.25, axis=0)
        want = np.abs(d).sum() if spec == "l1" else np.sqrt((d**2).mean(axis=(1, 2, 3)))
        close_to(scored(loss, open_nifti(path).source, chunk_rows=7), want)


# -- start() --------------------------------------------------------------------------------------


LOSSES = {
    "l1": SmoothnessLoss(),
    "rms-space": SmoothnessLoss(scalarisation=parse_scalarisation(RMS_SPACE)),
    "n2": SmoothnessLoss(n=2),
    "pad": SmoothnessLoss(pad_value=3.5),  # the converted chunks() route
}


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("masked", [False, True], ids=["whole", "masked"])
def test_start_then_evaluate_gives_the_same_value(tmp_path, suffix, name, masked):
    data = walk(seed=11)
    path = write_image(tmp_path / f"bold{suffix}", data, slope=0.5, inter=100.0)
    mask = load_mask(write_mask_path(tmp_path)) if masked else None
    loss = LOSSES[name]
    plain = scored(loss, open_nifti(path, mask=mask).source)
    src = open_nifti(path, mask=mask).source
    src.start()
    started = scored(loss, src)
    np.testing.assert_array_equal(started, plain)  # the same blocks: the same bits
    np.testing.assert_array_equal(scored(loss, src), plain)  # and again, a fresh read
    assert wait_for(lambda: not readers())


def write_mask_path(tmp_path: Path) -> Path:
    write_mask(tmp_path / "mask.nii")
    return tmp_path / "mask.nii"


@pytest.mark.parametrize("masked", [False, True], ids=["whole", "masked"])
def test_start_then_read_gives_the_same_array(tmp_path, suffix, masked):
    path = write_image(tmp_path / f"bold{suffix}", walk(seed=12), slope=0.5, inter=100.0)
    mask = load_mask(write_mask_path(tmp_path)) if masked else None
    want = open_nifti(path, mask=mask).source.read()
    src = open_nifti(path, mask=mask).source
    src.start()
    got = src.read()
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, nib_values(path, mask.voxels if mask is not None else None))


def test_start_then_read_of_an_unscaled_float32_image(tmp_path, monkeypatch):
    monkeypatch.setattr(_frames, "PIECE_BYTES", 3 * 8 * 7 * 6 * 4)  # started pieces: 3 frames
    monkeypatch.setattr(_frames, "READ_AHEAD", 0)
    data = np.random.default_rng(13).standard_normal(SHAPE).astype(np.float32)
    path = write_image(tmp_path / "f.nii", data)
    src = open_nifti(path).source
    assert src.dtype == np.float32 and src.scale is None
    src.start()
    np.testing.assert_array_equal(src.read(), data)


def test_start_then_a_whole_array_scalarisation_of_an_unscaled_float32_image(tmp_path, monkeypatch):
    monkeypatch.setattr(_frames, "PIECE_BYTES", 3 * 8 * 7 * 6 * 4)
    monkeypatch.setattr(_frames, "READ_AHEAD", 0)
    data = np.random.default_rng(14).standard_normal(SHAPE).astype(np.float32)
    path = write_image(tmp_path / "f.nii", data)
    loss = SmoothnessLoss(scalarisation=parse_scalarisation("norm(p=fro, axis=(2, 3))"))
    with warnings.catch_warnings():  # "evaluating the whole array in memory", said once
        warnings.simplefilter("ignore", SmoothcliWarning)
        plain = scored(loss, open_nifti(path).source)
        close_to(plain, np.sqrt((np.diff(data.astype(np.float64), axis=3) ** 2).sum(axis=(2, 3))))
        src = open_nifti(path).source
        src.start()
        started = scored(loss, src)
    close_to(started, plain)


def test_start_then_close_stops_the_reader_thread(tmp_path, monkeypatch, suffix):
    # the reader waits for room after one frame: close() stops it part way through the file
    monkeypatch.setattr(_frames, "READ_AHEAD", 0)
    monkeypatch.setattr(_frames, "PIECE_BYTES", FRAME_BYTES)
    path = write_image(tmp_path / f"bold{suffix}", walk(seed=15), slope=0.5, inter=100.0)
    gc.collect()
    before = readers()
    src = open_nifti(path).source
    src.start()
    src.start()  # a second start() is the same read
    new = readers() - before
    assert len(new) == 1
    src.close()
    assert not any(t.is_alive() for t in new)
    gc.collect()
    assert not readers()
    src.close()  # nothing started: nothing to do
    # the source is still whole: a later evaluation reads the file again
    want = np.abs(np.diff(nib_values(path), axis=3)).sum()
    close_to(scored(SmoothnessLoss(), src), want)


def test_close_before_anything_started_is_harmless(tmp_path):
    src = open_nifti(write_image(tmp_path / "b.nii", walk())).source
    src.close()
    assert src.read().shape == SHAPE


def test_dropping_a_started_source_stops_its_reader(tmp_path, monkeypatch):
    monkeypatch.setattr(_frames, "READ_AHEAD", 0)  # the reader waits after one block
    monkeypatch.setattr(_frames, "PIECE_BYTES", FRAME_BYTES)  # of one frame
    path = write_image(tmp_path / "bold.nii.gz", walk(seed=16), slope=0.5, inter=100.0)
    gc.collect()
    before = readers()
    src = open_nifti(path).source
    src.start()
    new = readers() - before
    assert len(new) == 1
    kept = weakref.ref(src)
    del src
    gc.collect()
    try:
        assert wait_for(lambda: not any(t.is_alive() for t in new), timeout=2.0)
        assert kept() is None
    finally:  # stop the thread this test started, whatever the outcome
        left = kept()
        if left is not None:
            left.close()
        del left
    assert not any(t.is_alive() for t in new)


def test_a_prefetch_freed_in_its_own_reader_thread_closes_quietly(monkeypatch):
    import sys

    unraisable: list = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    holder: list = []
    held, done = threading.Event(), threading.Event()

    def gen():
        try:
            yield np.zeros(2)
            assert held.wait(10)
            holder.clear()  # the last reference to the iterator goes in its reader thread
        finally:
            done.set()

    holder.append(Prefetch(gen(), ahead=1 << 20))
    held.set()
    assert done.wait(10)
    assert wait_for(lambda: not readers(), timeout=5.0)
    assert [str(u.exc_value) for u in unraisable] == []


@pytest.mark.parametrize("endian", ["<", ">"])
def test_start_on_a_stream_then_evaluate(tmp_path, endian):
    data = walk(seed=17)
    blob = gzip.compress(nifti_blob(data, slope=0.5, inter=100.0, endian=endian), 6)
    path = tmp_path / "bold.nii.gz"
    path.write_bytes(blob)
    want = np.abs(np.diff(nib_values(path), axis=3)).sum()
    src = open_nifti(io.BytesIO(blob)).source
    src.start()
    got = scored(SmoothnessLoss(), src)
    close_to(got, want)
    np.testing.assert_array_equal(got, scored(SmoothnessLoss(), open_nifti(path).source))


def test_a_stream_started_and_closed_cannot_be_read_again():
    blob = gzip.compress(nifti_blob(walk(seed=18), slope=0.5, inter=100.0), 6)
    src = open_nifti(io.BytesIO(blob)).source
    src.start()
    src.close()  # part of the stream is gone: an error, never a score of what is left
    with pytest.raises(InputError, match="only once"):
        evaluate(SmoothnessLoss(), src)


def test_a_corrupt_stream_started_early_is_an_error_from_the_engine(tmp_path):
    raw = gzip.compress(nifti_blob(walk(seed=19), slope=0.5, inter=100.0), 6)
    bad = bytearray(raw)
    bad[-8] ^= 0xFF  # the gzip CRC
    path = tmp_path / "bad.nii.gz"
    path.write_bytes(bytes(bad))
    src = open_nifti(path).source
    src.start()
    with pytest.raises(InputError):
        evaluate(SmoothnessLoss(), src)
    assert wait_for(lambda: not readers())


# -- restacking the reader's pieces ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("masked", [False, True], ids=["whole", "masked"])
def test_blocks_that_do_not_divide_the_readers_pieces(tmp_path, monkeypatch, name, masked):
    # started pieces of 5 frames, restacked into blocks of 3 or 7 (with n history rows)
    monkeypatch.setattr(_frames, "PIECE_BYTES", 5 * FRAME_BYTES)
    data = walk(seed=21)
    path = write_image(tmp_path / "bold.nii.gz", data, slope=0.5, inter=100.0, endian=">")
    mask = load_mask(write_mask_path(tmp_path)) if masked else None
    loss = LOSSES[name]
    default = scored(loss, open_nifti(path, mask=mask).source)
    for rows in (3, 7, 1, 20, 64):
        for start in (False, True):
            src = open_nifti(path, mask=mask).source
            if start:
                src.start()
            close_to(scored(loss, src, chunk_rows=rows), default)
    values = nib_values(path, mask.voxels if mask is not None else None)
    if name == "l1":
        close_to(default, np.abs(np.diff(values, axis=-1)).sum())


def test_a_frame_split_over_many_pieces_and_blocks_of_one_frame(tmp_path, monkeypatch):
    monkeypatch.setattr(_frames, "PIECE_BYTES", 1)  # one frame per started piece
    data = walk(seed=22)
    path = write_image(tmp_path / "bold.nii", data, slope=0.5, inter=100.0)
    want = np.abs(np.diff(nib_values(path), n=2, axis=3)).sum()
    for rows in (1, 2, 3):
        src = open_nifti(path).source
        src.start()
        close_to(scored(SmoothnessLoss(n=2), src, chunk_rows=rows), want)


def test_a_masked_image_read_in_blocks_larger_than_a_piece(tmp_path, monkeypatch):
    monkeypatch.setattr(_base, "PIECE_BYTES", 1000)  # 64 MB, made smaller than 2 frames
    data = walk(seed=23)
    path = write_image(tmp_path / "bold.nii", data, slope=0.5, inter=100.0)
    voxels = write_mask(tmp_path / "mask.nii")
    mask = load_mask(tmp_path / "mask.nii")
    want = np.abs(np.diff(nib_values(path, voxels), axis=1)).sum()
    src = open_nifti(path, mask=mask).source
    close_to(scored(SmoothnessLoss(), src, chunk_rows=4), want)


def test_masked_stored_blocks_of_a_piece_or_less_are_each_their_own(tmp_path):
    # the pool's buffers are reused only once given back: blocks read ahead stay intact
    data = walk(seed=24)
    path = write_image(tmp_path / "bold.nii", data, slope=0.5, inter=100.0)
    voxels = write_mask(tmp_path / "mask.nii")
    src = open_nifti(path, mask=load_mask(tmp_path / "mask.nii")).source
    it = src.stored_chunks(4)
    time.sleep(0.2)  # all of it read ahead before any block is taken
    blocks = [b.copy() for b in it]
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), data[voxels])


# -- runtime: the device count is for this process's JAX only -------------------------------------


def test_the_device_count_reaches_jax_but_not_worker_processes():
    if runtime.jax_version() < (0, 5):  # XLA's flag: read when the backend starts, not before
        code = (
            "import os, subprocess, sys\n"
            "from smoothcli import runtime\n"
            "runtime.configure(cpu_devices=2)\n"
            "import jax\n"
            "child = subprocess.run([sys.executable, '-c', "
            "'from smoothcli import runtime; runtime.configure(cpu_devices=1); import jax; "
            "print(len(jax.local_devices()))'], capture_output=True, text=True).stdout.strip()\n"
            "print(len(jax.local_devices()), child)\n"
        )
        assert run_clean_python(code) == "2 1"  # a worker's configure takes smoothcli's flag out
        return
    code = (
        "import os, subprocess, sys\n"
        "from smoothcli import runtime\n"
        "assert 'jax' not in sys.modules\n"
        "runtime.configure(cpu_devices=2)\n"
        "before = os.environ.get('JAX_NUM_CPU_DEVICES')\n"
        "import smoothcli.engine\n"
        "import jax\n"
        "child = subprocess.run([sys.executable, '-c', "
        "'import os; print(os.environ.get(\"JAX_NUM_CPU_DEVICES\"))'],"
        " capture_output=True, text=True).stdout.strip()\n"
        "print(before, 'JAX_NUM_CPU_DEVICES' in os.environ, len(jax.local_devices()), child)\n"
    )
    assert run_clean_python(code) == "2 False 2 None"


def test_a_users_device_count_stays_in_the_environment():
    if runtime.jax_version() < (0, 5):
        code = (
            "import os\n"
            "from smoothcli import runtime\n"
            "runtime.configure(cpu_devices=3)\n"
            "import jax\n"
            "print(os.environ.get('XLA_FLAGS'), len(jax.local_devices()))\n"
        )
        flag = "--xla_force_host_platform_device_count=2"
        assert run_clean_python(code, XLA_FLAGS=flag) == f"{flag} 2"
        return
    code = (
        "import os\n"
        "from smoothcli import runtime\n"
        "runtime.configure(cpu_devices=3)\n"
        "import smoothcli.engine\n"
        "import jax\n"
        "print(os.environ.get('JAX_NUM_CPU_DEVICES'), len(jax.local_devices()))\n"
    )
    assert run_clean_python(code, JAX_NUM_CPU_DEVICES="2") == "2 2"  # the user's, kept for children
