"""The readers on real files built in each test: right values, or InputError naming the
problem. Real nibabel, NumPy and pandas; nothing mocked."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from smoothcli.sources import (
    FORMATS,
    InputError,
    format_of_name,
    is_supported,
    open_path,
    open_stdin,
    sniff,
)
from smoothcli.sources import _gzip as gzip_mod
from smoothcli.sources import arrays as arrays_mod
from smoothcli.sources import nifti as nifti_mod
from smoothcli.sources import table as table_mod
from smoothcli.sources.nifti import _mask as nifti_mask
from smoothcli.sources.nifti import load_mask

from .conftest import posix_only
from .test_formats import cifti_image, cifti_values, gifti_bytes, gifti_values

# -- helpers -------------------------------------------------------------------------------------


def blocks_of(source, rows: int) -> np.ndarray:
    """Every block of a source, put back together along its chunk axis."""
    parts = list(source.chunks(rows))
    for part in parts:
        assert part.dtype == source.dtype
    return np.concatenate(parts, axis=source.chunk_axis)


def one(path, **kw):
    (item,) = open_path(path, **kw)
    return item


def read_all(path, rows: int = 3, **kw) -> np.ndarray:
    return blocks_of(one(path, **kw).source, rows)


def nifti_bytes(data, *, slope=None, inter=None, cls=nib.Nifti1Image, dtype=None) -> bytes:
    img = cls(data, np.eye(4), dtype=dtype)
    if slope is not None:
        img.header.set_slope_inter(slope, inter or 0.0)
    return img.to_bytes()


def write_nii(path: Path, data, **kw) -> Path:
    raw = nifti_bytes(data, **kw)
    path.write_bytes(gzip.compress(raw, 1) if path.name.endswith(".gz") else raw)
    return path


def series(shape=(3, 4, 5, 7), dtype=np.int16, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def use_gzip_backend(monkeypatch, backend: str) -> None:
    """Read gzip through ISA-L's igzip ("isal") or the standard library's gzip ("stdlib")."""
    if backend == "isal":
        pytest.importorskip("isal")
    monkeypatch.setattr(gzip_mod, "USE_ISAL", backend == "isal")
    with nifti_mod.open_gzip(io.BytesIO(gzip.compress(b""))) as fh:  # the switch took effect
        assert type(fh).__module__.startswith("isal" if backend == "isal" else "gzip")


@pytest.fixture(params=["isal", "stdlib"])
def gzip_backend(request, monkeypatch):
    """Run the test with ISA-L's igzip and with the standard library's gzip."""
    use_gzip_backend(monkeypatch, request.param)
    return request.param


# -- NIfTI: values and precision ------------------------------------------------------------------


# int16 with scale factors, float32, masked or not, plain or gzip (either backend), from a file or
# from stdin: see TestReaderContract at the end of this file.


@pytest.mark.parametrize(
    ("dtype", "slope", "want"),
    [
        (np.int16, None, np.float32),
        (np.uint8, 2.0, np.float32),
        (np.uint16, None, np.float32),
        (np.int8, None, np.float32),
        (np.float32, None, np.float32),
        (np.float32, 2.0, np.float64),
        (np.int32, None, np.float64),
        (np.int64, None, np.float64),
        (np.uint32, None, np.float64),
        (np.float64, None, np.float64),
        (np.int16, 1e36, np.float64),
    ],
)
def test_nifti_block_dtype_follows_what_the_scaled_values_need(tmp_path, dtype, slope, want):
    data = np.arange(2 * 2 * 1 * 4, dtype=dtype).reshape(2, 2, 1, 4)
    path = write_nii(tmp_path / "x.nii", data, slope=slope, dtype=dtype)
    src = one(path).source
    assert src.dtype == np.dtype(want)
    expected = data.astype(np.float64) * float(np.float32(slope or 1.0))  # stored as float32
    np.testing.assert_array_equal(blocks_of(src, 2), expected.astype(want))


def test_int16_with_slope_1e36_is_finite_not_nan(tmp_path):
    data = np.full((1, 1, 1, 3), 30000, np.int16)
    data[..., 1] = -30000
    path = write_nii(tmp_path / "big.nii", data, slope=1e36)
    got = read_all(path)
    assert got.dtype == np.float64 and np.isfinite(got).all()
    np.testing.assert_allclose(got.ravel(), [3e40, -3e40, 3e40], rtol=1e-6)


def test_a_large_intercept_is_scaled_in_float64_and_scores_what_nibabel_reads(tmp_path):
    # float32's spacing at 1e6 is 0.0625, coarser than the slope's 0.001: in float32 the
    # differences of this random walk would be multiples of 0.0625, and the score wrong
    from smoothcli.engine import evaluate
    from smoothcli.loss import SmoothnessLoss

    rng = np.random.default_rng(12)
    walk = rng.integers(-3, 4, (2, 2, 2, 200)).cumsum(axis=3).astype(np.int16)
    path = write_nii(tmp_path / "scaled.nii", walk, slope=0.001, inter=1e6)
    src = one(path).source
    assert src.dtype == np.float64
    values = np.asarray(nib.load(path).dataobj, dtype=np.float64)
    want = np.abs(np.diff(values, axis=3)).sum()
    got = float(evaluate(SmoothnessLoss(axis=3), src))
    assert got == pytest.approx(want, rel=1e-12)
    assert want == pytest.approx(np.abs(np.diff(walk, axis=3)).sum() * 0.001, rel=1e-6)


@pytest.mark.parametrize(
    ("dtype", "slope", "inter", "want"),
    [
        (np.int16, 0.5, 10.0, np.float32),  # 32788 slopes at most: float32 is exact
        (np.uint16, 2.0, 1.0, np.float32),
        (np.int16, 0.001, 1e6, np.float64),  # 1e9 slopes: beyond 2**24
        (np.int8, 1e-6, 100.0, np.float64),
        (np.int16, 1e36, 0.0, np.float64),  # out of float32's comfortable range
    ],
)
def test_float32_only_where_it_keeps_the_stored_resolution(dtype, slope, inter, want):
    assert nifti_mod.value_dtype(np.dtype(dtype), slope, inter) == np.dtype(want)


def test_large_int32_values_are_exact_in_float64(tmp_path):
    data = (2_000_000_000 + np.arange(8, dtype=np.int32)).reshape(1, 1, 2, 4)
    got = read_all(write_nii(tmp_path / "i32.nii.gz", data), rows=3)
    np.testing.assert_array_equal(got, data.astype(np.float64))


@pytest.mark.parametrize("name", ["v.nii", "v.nii.gz"])
def test_nifti2_big_endian_and_extensions(tmp_path, name):
    data = series((2, 3, 4, 5))
    img = nib.Nifti2Image(data, np.eye(4))
    img.header.extensions.append(nib.nifti1.Nifti1Extension("comment", b"note " * 40))
    raw = img.to_bytes()
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw) if name.endswith("gz") else raw)
    np.testing.assert_array_equal(read_all(path), data.astype(np.float32))
    big = nib.Nifti1Image(data, np.eye(4), header=nib.Nifti1Header(endianness=">"))
    (tmp_path / "be.nii").write_bytes(big.to_bytes())
    np.testing.assert_array_equal(read_all(tmp_path / "be.nii"), data.astype(np.float32))


# -- NIfTI: integrity -----------------------------------------------------------------------------


def good_gz(tmp_path) -> tuple[bytes, np.ndarray]:
    data = series((8, 8, 8, 12))
    return gzip.compress(nifti_bytes(data), 6), data


def failing(path, rows=4, **kw) -> str:
    with pytest.raises(InputError) as info:
        read_all(path, rows=rows, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_gzip_crc_mismatch_is_an_error(tmp_path, gzip_backend):
    blob, _ = good_gz(tmp_path)
    crc = bytearray(blob)
    crc[-8] ^= 0xFF  # the stored CRC32
    (tmp_path / "crc.nii.gz").write_bytes(bytes(crc))
    assert "CRC check failed" in failing(tmp_path / "crc.nii.gz")
    length = bytearray(blob)
    length[-4] ^= 0x01  # the stored length
    (tmp_path / "len.nii.gz").write_bytes(bytes(length))
    assert "Incorrect length" in failing(tmp_path / "len.nii.gz")


def test_random_bytes_in_the_middle_of_the_stream_are_an_error(tmp_path, gzip_backend):
    blob, _ = good_gz(tmp_path)
    mid = len(blob) // 2
    bad = blob[:mid] + np.random.default_rng(1).bytes(64) + blob[mid + 64 :]
    (tmp_path / "mid.nii.gz").write_bytes(bad)
    assert "gzip stream" in failing(tmp_path / "mid.nii.gz")


def test_truncated_gzip_is_an_error(tmp_path, gzip_backend):
    blob, _ = good_gz(tmp_path)
    (tmp_path / "cut.nii.gz").write_bytes(blob[: len(blob) * 2 // 3])
    assert "truncated" in failing(tmp_path / "cut.nii.gz")
    (tmp_path / "tail.nii.gz").write_bytes(blob[:-3])  # only the trailer is cut
    assert "truncated" in failing(tmp_path / "tail.nii.gz")


def test_trailing_data_is_named_and_zero_padding_is_not_an_error(tmp_path, gzip_backend):
    blob, data = good_gz(tmp_path)
    # not truncation: the stream is whole, and bytes that are no gzip member follow it (8
    # bytes are fewer than a member's header, which ISA-L reports as an early end)
    for junk in (b"trailing junk", b"garbage!", b"\0\0x", b"\x1f"):
        (tmp_path / "junk.nii.gz").write_bytes(blob + junk)
        message = failing(tmp_path / "junk.nii.gz")
        assert message.startswith("trailing data after the gzip stream"), (junk, message)
        assert "truncated" not in message
    (item,) = open_stdin(io.BytesIO(blob + b"trailing junk"))
    with pytest.raises(InputError, match=r"^trailing data after the gzip stream"):
        blocks_of(item.source, 5)
    # a second member cut short is a truncated stream, as gzip -d says
    (tmp_path / "cut.nii.gz").write_bytes(blob + gzip.compress(b"more")[:12])
    assert "truncated" in failing(tmp_path / "cut.nii.gz")
    (tmp_path / "pad.nii.gz").write_bytes(blob + bytes(1000))
    np.testing.assert_array_equal(read_all(tmp_path / "pad.nii.gz"), data)
    # two gzip members are one stream, as gzip -d reads it
    raw = gzip.decompress(blob)
    (tmp_path / "two.nii.gz").write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))
    np.testing.assert_array_equal(read_all(tmp_path / "two.nii.gz"), data)


def test_gzip_error_on_stdin_comes_from_the_blocks(tmp_path, gzip_backend):
    blob, data = good_gz(tmp_path)
    (item,) = open_stdin(io.BytesIO(blob))
    np.testing.assert_array_equal(blocks_of(item.source, 5), data)
    crc = bytearray(blob)
    crc[-7] ^= 0x10
    (item,) = open_stdin(io.BytesIO(bytes(crc)))
    with pytest.raises(InputError, match="CRC"):
        blocks_of(item.source, 5)


def test_truncated_plain_nii_is_found_from_the_header(tmp_path):
    raw = nifti_bytes(series())
    (tmp_path / "short.nii").write_bytes(raw[:-10])
    with pytest.raises(InputError, match="truncated: the header claims 840 bytes"):
        open_path(tmp_path / "short.nii")


def lying_header(shape, dtype=np.int16) -> bytes:
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(dtype)
    hdr.set_data_offset(352)
    return hdr.binaryblock + bytes(4) + bytes(1000)


def test_a_header_claiming_1e12_voxels_is_refused_before_allocating(tmp_path):
    blob = lying_header((10000, 10000, 100, 100))
    (tmp_path / "huge.nii").write_bytes(blob)
    with pytest.raises(InputError, match="truncated: the header claims 2000000000000 bytes"):
        open_path(tmp_path / "huge.nii")
    (tmp_path / "huge.nii.gz").write_bytes(gzip.compress(blob))
    with pytest.raises(InputError, match=r"more than a .*-byte gzip file can hold"):
        open_path(tmp_path / "huge.nii.gz")


def test_a_lying_header_on_a_stream_reads_only_what_is_there():
    (item,) = open_stdin(io.BytesIO(gzip.compress(lying_header((1000, 1000, 100, 50)))))
    with pytest.raises(InputError, match=r"the gzip stream is truncated|frame 0 of 50 is missing"):
        next(iter(item.source.chunks(4)))
    (item,) = open_stdin(io.BytesIO(lying_header((1000, 1000, 100, 50))))
    with pytest.raises(InputError, match="frame 0 of 50 is missing"):
        next(iter(item.source.chunks(4)))


@pytest.mark.parametrize(
    ("dtype", "label"),
    [(np.complex64, "complex64"), (np.complex128, "complex128"), ("RGB", "RGB")],
)
def test_non_real_nifti_types_are_named(tmp_path, dtype, label):
    if dtype == "RGB":
        data = np.zeros((2, 2, 2, 3), [("R", "u1"), ("G", "u1"), ("B", "u1")])
        img = nib.Nifti1Image(data, np.eye(4))
    else:
        img = nib.Nifti1Image(np.ones((2, 2, 2, 3), dtype), np.eye(4))
    (tmp_path / "c.nii").write_bytes(img.to_bytes())
    with pytest.raises(InputError, match=f"data type is {label}, not real numbers"):
        open_path(tmp_path / "c.nii")


def test_not_nifti_and_3d_images(tmp_path):
    (tmp_path / "text.nii").write_text("hello, I am not an image\n" * 30)
    with pytest.raises(InputError, match="not a NIfTI-1 or NIfTI-2 image"):
        open_path(tmp_path / "text.nii")
    (tmp_path / "text.nii.gz").write_text("plain text named .nii.gz\n" * 30)
    with pytest.raises(InputError, match="not a NIfTI-1 or NIfTI-2 image"):
        open_path(tmp_path / "text.nii.gz")
    write_nii(tmp_path / "vol.nii.gz", np.ones((3, 3, 3), np.float32))
    with pytest.raises(InputError, match=r"a 3D image has no time axis"):
        open_path(tmp_path / "vol.nii.gz")


# -- masks ----------------------------------------------------------------------------------------


def test_mask_is_read_as_bool_and_selects_voxels_by_time(tmp_path, monkeypatch):
    monkeypatch.setattr(nifti_mask, "MASK_SLAB_BYTES", 16)  # several slabs
    data = series((4, 3, 5, 6))
    m = np.zeros((4, 3, 5), np.int16)
    m[1:3, :, 1:4] = 7
    m[0, 0, 0] = -1
    write_nii(tmp_path / "m.nii.gz", m[..., None])  # 4D with one frame is fine
    mask = load_mask(tmp_path / "m.nii.gz")
    assert mask.voxels.dtype == bool and mask.count == int((m != 0).sum())
    path = write_nii(tmp_path / "bold.nii.gz", data)
    src = one(path, mask=mask).source
    assert src.shape == (mask.count, 6) and src.chunk_axis == 1
    np.testing.assert_array_equal(blocks_of(src, 4), data[m != 0].astype(np.float32))


def test_a_short_mask_names_its_first_missing_slice(tmp_path, monkeypatch):
    monkeypatch.setattr(nifti_mask, "MASK_SLAB_BYTES", 1)  # one slice at a time
    raw = nifti_bytes(np.ones((3, 2, 4), np.int16))
    # gzip can only be bounded by deflate's ratio: the short data is found while reading
    # slices are 3 * 2 int16 = 12 bytes: cut slice 2 in half, and drop slice 3
    (tmp_path / "m.nii.gz").write_bytes(gzip.compress(raw[: len(raw) - 12 - 6]))
    with pytest.raises(InputError, match="the mask is truncated: slice 2 of 4"):
        load_mask(tmp_path / "m.nii.gz")


def test_the_nifti_names_stay_importable_from_the_package():
    from smoothcli.sources.nifti import Mask, NiftiSource, load_mask, open_gzip, open_nifti

    assert all(callable(f) for f in (Mask, NiftiSource, load_mask, open_gzip, open_nifti))


def test_scaled_mask_uses_the_scaled_values(tmp_path):
    m = np.array([0, 1, 2, 3], np.uint8).reshape(2, 2, 1)
    write_nii(tmp_path / "m.nii", m, slope=1.0, inter=-1.0)  # 0 -> -1, 1 -> 0
    np.testing.assert_array_equal(load_mask(tmp_path / "m.nii").voxels, m != 1)


def test_bad_masks_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="not a NIfTI"):
        (tmp_path / "m.csv").write_text("1,2\n")
        load_mask(tmp_path / "m.csv")
    write_nii(tmp_path / "m4.nii", np.ones((2, 2, 2, 2), np.uint8))
    with pytest.raises(InputError, match=r"the mask must be 3D, not shape \(2, 2, 2, 2\)"):
        load_mask(tmp_path / "m4.nii")
    write_nii(tmp_path / "zero.nii.gz", np.zeros((3, 3, 3), np.uint8))
    with pytest.raises(InputError, match="the mask selects no voxel"):
        load_mask(tmp_path / "zero.nii.gz")
    (tmp_path / "lie.nii").write_bytes(lying_header((1024, 1024, 768), np.int16))  # 1.5 GiB
    with pytest.raises(InputError, match="truncated: the header claims"):
        load_mask(tmp_path / "lie.nii")
    with pytest.raises(InputError, match="no such file"):
        load_mask(tmp_path / "missing.nii")


def mask_of(voxels: np.ndarray, affine: np.ndarray) -> nifti_mod.Mask:
    """A mask load_mask would refuse (it selects no voxel), or on another grid."""
    return nifti_mod.Mask(voxels, affine, int(np.count_nonzero(voxels)))


def test_a_zero_voxel_mask_is_never_a_score(tmp_path):
    path = write_nii(tmp_path / "bold.nii", series((2, 2, 2, 4)))
    with pytest.raises(InputError, match="selects no voxel"):
        open_path(path, mask=mask_of(np.zeros((2, 2, 2), bool), np.eye(4)))


def test_mask_on_another_grid_or_shape(tmp_path):
    path = write_nii(tmp_path / "bold.nii", series((2, 2, 2, 4)))
    with pytest.raises(InputError, match="does not match"):
        open_path(path, mask=mask_of(np.ones((3, 2, 2), bool), np.eye(4)))
    with pytest.raises(InputError, match="affines differ"):
        open_path(path, mask=mask_of(np.ones((2, 2, 2), bool), 2 * np.eye(4)))
    with pytest.raises(TypeError, match="a Mask from load_mask"):
        open_path(path, mask=(np.ones((2, 2, 2), bool), np.eye(4)))  # no longer a mask


# -- NPY ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", ["<f4", ">f8", "<i2", ">u2", "|b1", "<f2", "<i8"])
def test_npy_blocks_along_the_slow_axis(tmp_path, order, dtype):
    X = np.asarray(series((5, 4, 9), np.float64) / 7, order=order).astype(dtype, order=order)
    np.save(tmp_path / "a.npy", X)
    item = one(tmp_path / "a.npy")
    src = item.source
    assert item.time_axis == 2
    assert src.chunk_axis == (0 if order == "C" else 2) and src.order == order
    assert src.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(blocks_of(src, 2), X)
    np.testing.assert_array_equal(src.read(), X)


def test_npy_header_claiming_more_than_the_file_holds(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(1000.0))
    blob = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(blob[:-8])
    with pytest.raises(InputError, match="truncated: the header claims 8000 bytes"):
        open_path(tmp_path / "cut.npy")
    fake = blob.replace(b"(1000,)", b"(10**12,)".replace(b"10**12", b"1000000000000"))
    fake = fake[:8] + (len(fake) - 10 - 8000).to_bytes(2, "little") + fake[10:]
    (tmp_path / "huge.npy").write_bytes(fake)
    with pytest.raises(InputError, match="header claims 8000000000000 bytes"):
        open_path(tmp_path / "huge.npy")


def test_things_named_npy_that_are_not(tmp_path):
    (tmp_path / "text.npy").write_text("just some text\n")
    with pytest.raises(InputError, match=r"^the file is not an NPY file$"):
        open_path(tmp_path / "text.npy")
    with open(tmp_path / "p.npy", "wb") as fh:
        pickle.dump({"x": 1}, fh)
    with pytest.raises(InputError, match="pickled data, which is never unpickled"):
        open_path(tmp_path / "p.npy")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], object), allow_pickle=True)
    with pytest.raises(InputError, match="Python objects, which are never unpickled"):
        open_path(tmp_path / "o.npy")
    np.save(tmp_path / "s.npy", np.float64(3.0))
    with pytest.raises(InputError, match="0-d scalar"):
        open_path(tmp_path / "s.npy")


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (np.ones(3, np.complex64), "complex64"),
        (np.array(["a", "b"]), "str"),
        (np.array([b"a"]), "bytes"),
        (np.zeros(3, [("a", "<i4"), ("b", "<f8")]), "structured"),
        (np.arange(3).astype("datetime64[s]"), "datetime64"),
        (np.arange(3).astype("timedelta64[s]"), "timedelta64"),
    ],
)
def test_non_numeric_npy_dtypes_are_named(tmp_path, value, name):
    np.save(tmp_path / "x.npy", value)
    with pytest.raises(InputError, match=f"has dtype .*{name}.*not real numbers"):
        open_path(tmp_path / "x.npy")


# -- NPZ ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_members_stream_and_reopen(tmp_path, save):
    a = series((6, 5), np.float32)
    b = np.asfortranarray(series((3, 4, 8), np.float64))
    save(tmp_path / "z.npz", first=a, second=b)
    items = open_path(tmp_path / "z.npz")
    assert [i.member for i in items] == ["first", "second"]
    for item, want in zip(items, (a, b), strict=True):
        np.testing.assert_array_equal(blocks_of(item.source, 2), want)
        np.testing.assert_array_equal(blocks_of(item.source, 3), want)  # reopened


def test_npz_member_that_is_not_an_array_is_named(tmp_path):
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as zf:
        zf.writestr("good.npy", _npy_bytes(np.arange(3.0)))
        zf.writestr("notes.txt", b"hello")
    good, notes = open_path(tmp_path / "z.npz")  # the good member is still there to score
    assert (good.member, good.problem, good.source.shape) == ("good", None, (3,))
    assert notes.member == "notes.txt" and notes.source is None
    assert "member 'notes.txt' of the archive is not an NPY array" in str(notes.problem)
    with zipfile.ZipFile(tmp_path / "y.npz", "w") as zf:
        zf.writestr("raw.npy", b"these are not NPY bytes")
    (raw,) = open_path(tmp_path / "y.npz")
    assert isinstance(raw.problem, InputError)
    assert "member 'raw' is not an NPY file" in str(raw.problem)


def _npy_bytes(X) -> bytes:
    buf = io.BytesIO()
    np.save(buf, X)
    return buf.getvalue()


def test_npz_member_crc_is_checked(tmp_path):
    X = np.arange(4000.0)
    with zipfile.ZipFile(tmp_path / "z.npz", "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("x.npy", _npy_bytes(X))
    blob = bytearray((tmp_path / "z.npz").read_bytes())
    blob[5000] ^= 0xFF  # inside the member's data
    (tmp_path / "z.npz").write_bytes(bytes(blob))
    (item,) = open_path(tmp_path / "z.npz")
    with pytest.raises(InputError, match=r"member 'x' cannot be read .*CRC"):
        blocks_of(item.source, 100)


@posix_only
def test_things_named_npz_that_are_not(tmp_path):
    (tmp_path / "t.npz").write_text("text\n")
    with pytest.raises(InputError, match=r"^not an NPZ \(zip\) archive$"):
        open_path(tmp_path / "t.npz")
    np.save(tmp_path / "a.npy", np.arange(3.0))
    os.rename(tmp_path / "a.npy", tmp_path / "a.npz")
    with pytest.raises(InputError, match=r"not an NPZ \(zip\) archive: it is an NPY file"):
        open_path(tmp_path / "a.npz")
    with zipfile.ZipFile(tmp_path / "empty.npz", "w"):
        pass
    with pytest.raises(InputError, match="holds no arrays"):
        open_path(tmp_path / "empty.npz")


def test_npz_on_stdin_is_spooled_and_an_npy_is_refused(tmp_path):
    a, b = np.arange(12.0).reshape(3, 4), np.arange(5, dtype=np.int32)
    np.savez_compressed(tmp_path / "z.npz", a=a, b=b)
    items = open_stdin(io.BytesIO((tmp_path / "z.npz").read_bytes()))
    assert [i.member for i in items] == ["a", "b"]
    np.testing.assert_array_equal(blocks_of(items[0].source, 1), a)
    np.testing.assert_array_equal(blocks_of(items[1].source, 2), b)
    np.testing.assert_array_equal(blocks_of(items[1].source, 3), b)  # the spool is kept
    with pytest.raises(InputError, match=r"not an NPZ \(zip\) archive"):
        open_stdin(io.BytesIO(_npy_bytes(a)), fmt="npz")


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("route", ["file", "stdin", "npz"])
def test_wide_npy_is_read_along_its_long_axis_in_bounded_blocks(
    tmp_path, monkeypatch, order, route
):
    # 3 channels x 100000 samples: one row is 800 kB, over a block budget of 64 kB, so the
    # blocks run along the long axis (C order: the last; Fortran order: axis 0, here the
    # transpose) instead of staging whole rows
    from smoothcli.engine import evaluate
    from smoothcli.loss import SmoothnessLoss

    monkeypatch.setattr(arrays_mod, "WIDE_SLICE_BYTES", 64 << 10)
    rng = np.random.default_rng(13)
    X = rng.standard_normal((3, 100_000)).cumsum(axis=1)
    X = X if order == "C" else np.asfortranarray(X.T)  # F: (100000, 3), rows of 3 samples
    np.save(tmp_path / "w.npy", X)
    blob = (tmp_path / "w.npy").read_bytes()
    if route == "npz":
        np.savez_compressed(tmp_path / "w.npz", w=X)

    def open_it():
        if route == "file":
            (item,) = open_path(tmp_path / "w.npy")
        elif route == "stdin":
            (item,) = open_stdin(Pipe(blob))
        else:
            (item,) = open_path(tmp_path / "w.npz")
        return item

    item = open_it()
    src = item.source
    long_axis = 1 if order == "C" else 0
    assert src.chunk_axis == long_axis and src.order == order
    blocks = list(src.chunks(4096))
    assert max(b.nbytes for b in blocks) == 3 * 4096 * 8  # never a whole row
    np.testing.assert_array_equal(
        np.concatenate(blocks, axis=long_axis), np.load(tmp_path / "w.npy")
    )
    # through the engine: the differences run along (C) or across (F) the chunk axis
    time = item.time_axis
    loss = SmoothnessLoss(axis=time)
    want = np.abs(np.diff(X, axis=time)).sum()
    assert float(evaluate(loss, open_it().source)) == pytest.approx(want, rel=1e-12)


# -- CSV / TSV ------------------------------------------------------------------------------------


def table(tmp_path, text: str | bytes, name="t.csv"):
    path = tmp_path / name
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return one(path)


def values(item) -> np.ndarray:
    return blocks_of(item.source, 2)


def test_bom_without_header_keeps_the_first_row(tmp_path):
    item = table(tmp_path, b"\xef\xbb\xbf7,1\n9,2\n16,4\n")
    np.testing.assert_array_equal(values(item), [[7, 1], [9, 2], [16, 4]])
    item = table(tmp_path, b"\xef\xbb\xbfa,b\n1,2\n")
    assert item.labels == {1: ["a", "b"]}


def test_header_detection_and_pandas_default_names(tmp_path):
    item = table(tmp_path, "0,1,2\n5,6,7\n8,9,10\n")
    assert item.labels == {1: ["0", "1", "2"]} and item.source.shape == (2, 3)
    item = table(tmp_path, "1,2,3\n5,6,7\n")
    assert item.source.shape == (2, 3)  # numbers: no header
    item = table(tmp_path, "\n\ntime,x\n1,2\n\n3,5\n\n")  # a blank row is missing values
    np.testing.assert_array_equal(values(item), [[1, 2], [np.nan, np.nan], [3, 5]])


def test_a_pandas_index_column_is_dropped_with_a_note(tmp_path):
    item = table(tmp_path, ",0,1\n0,5,6\n1,7,9\n2,8,8\n")
    assert item.labels == {1: ["0", "1"]}
    np.testing.assert_array_equal(values(item), [[5, 6], [7, 9], [8, 8]])
    assert item.notes == ["dropped a leading unnamed column holding 0..N-1 (a pandas index)"]
    item = table(tmp_path, "Unnamed: 0,a\n0,5\n1,7\n")
    assert item.labels == {1: ["a"]} and item.notes
    # not 0..N-1: a signal like any other, named as pandas names it
    item = table(tmp_path, ",a\n3,5\n1,7\n")
    assert item.labels == {1: ["Unnamed: 0", "a"]} and item.notes == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n3,4\n5,1_000\n", "line 4, column 'b': '1_000' is not a number"),
        ("a,b\n1,2\n3,NAN\n", "line 3, column 'b': 'NAN' is not a number"),
        ("a\tb\n1\t2\n\n7\tx y\n", "line 4, column 'b': 'x y' is not a number"),
        ("1,2\n3,abc\n", "line 2, column '1': 'abc' is not a number"),
        ("a,b\n1,2\n3,4,5\n", "line 3 has 3 fields, but the table has 2 columns"),
        ("a,b,c\n1,2,3\n4,5\n", r"line 3 has 2 fields, but the table has 3 columns \(is"),
        ("a\tb\n1\t2\n\n3\n", "line 4 has 1 field, but the table has 2 columns"),
        ("a,b\n", "the table has a header but no rows"),
        ("\n\n", "the table is empty"),
        ("", "the table is empty"),
        (b"a,b\n1,\xff\n", "line 2 is not UTF-8 text"),
        (b"a,b\n1,2\x00\n", "binary data, not a text table"),
    ],
)
def test_bad_tables_name_the_problem(tmp_path, text, message):
    name = "t.tsv" if isinstance(text, str) and "\t" in text else "t.csv"
    with pytest.raises(InputError, match=message):
        table(tmp_path, text, name)


def test_missing_values_are_nan(tmp_path):
    item = table(tmp_path, "a,b\nn/a,1\nNA,N/A\nnan,NaN\n,4\n")
    got = values(item)
    assert np.isnan(got[:, 0]).all() and np.isnan(got[1:3, 1]).all()
    assert got[0, 1] == 1 and got[3, 1] == 4


@pytest.mark.parametrize("name", ["t.csv", "t.tsv"])
@pytest.mark.parametrize("piece", [None, 3, 4, 5])
def test_a_blank_line_in_a_one_column_table_is_a_missing_value(tmp_path, monkeypatch, name, piece):
    # as an empty cell is in a wider table; dropping it would make 2 -> 4 one step
    if piece is not None:  # the blank line at the end of a piece, or at the start of the next
        monkeypatch.setattr(table_mod, "PIECE_BYTES", piece)
    np.testing.assert_array_equal(
        values(table(tmp_path, "1\n2\n\n4\n", name)).ravel(), [1, 2, np.nan, 4]
    )
    # only blank lines at the end of the file are not rows; CRLF and spaces are blank too
    text = "x\r\n1\r\n \r\n\r\n4\r\n\r\n\n  \n"
    item = table(tmp_path, text, name)
    assert item.labels == {1: ["x"]}
    np.testing.assert_array_equal(values(item).ravel(), [1, np.nan, np.nan, 4])


def test_a_cell_of_spaces_is_a_missing_value(tmp_path):
    got = values(table(tmp_path, "a,b\n1,2\n3, \n5,6\n"))
    np.testing.assert_array_equal(got, [[1, 2], [3, np.nan], [5, 6]])
    got = values(table(tmp_path, "a\tb\n1\t   \n 3\t 4 \n", "t.tsv"))
    np.testing.assert_array_equal(got, [[1, np.nan], [3, 4]])
    # a missing-value marker with a space after it is not one: named, not a vague message
    with pytest.raises(InputError, match="line 3, column 'b': 'n/a ' is not a number"):
        table(tmp_path, "a,b\n1,2\n3,n/a \n")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('a,b\n1,2\n3,"4\n5"\n6,7\n', 3),
        ('a\n"1\n2"\n', 2),
        ('"a\nb",c\n1,2\n', 1),
        ('a,b\n1,2\n"3\n\n",4\n', 3),
    ],
)
def test_a_quoted_cell_with_a_newline_is_named(tmp_path, monkeypatch, text, line):
    message = rf"^a quoted cell spans lines \(line {line}\); smoothcli reads one row a line$"
    with pytest.raises(InputError, match=message):
        table(tmp_path, text)
    monkeypatch.setattr(table_mod, "PIECE_BYTES", 5)  # the cell split between two pieces
    with pytest.raises(InputError, match=message):
        table(tmp_path, text)
    # quotes that close on their line are cells like any other
    np.testing.assert_array_equal(values(table(tmp_path, 'a,"b"\n"1","2"\n')), [[1, 2]])


def test_exact_float64_parsing(tmp_path):
    times = 1.7e9 + np.arange(50) + 0.1
    text = "t\n" + "\n".join(repr(float(t)) for t in times) + "\n"
    np.testing.assert_array_equal(values(table(tmp_path, text))[:, 0], times)


def test_large_tables_are_parsed_in_pieces_and_spooled(tmp_path, monkeypatch):
    monkeypatch.setattr(table_mod, "PIECE_BYTES", 64)
    monkeypatch.setattr(table_mod, "IN_MEMORY_BYTES", 200)
    X = np.arange(300.0).reshape(100, 3) / 4
    text = ",a,b,c\n" + "".join(f"{i},{r[0]},{r[1]},{r[2]}\n" for i, r in enumerate(X))
    item = table(tmp_path, text)
    assert isinstance(item.source, table_mod.SpooledTable)
    assert item.source.shape == (100, 3) and item.notes
    np.testing.assert_array_equal(blocks_of(item.source, 7), X)
    np.testing.assert_array_equal(item.source.read(), X)
    with pytest.raises(InputError, match="line 52, column 'b': 'x' is not a number"):
        table(tmp_path, text.replace("\n50,37.5,37.75", "\n50,37.5,x"))


def test_a_line_longer_than_the_bound_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(table_mod, "PIECE_BYTES", 1000)
    monkeypatch.setattr(table_mod, "MAX_LINE_BYTES", 5000)
    with pytest.raises(InputError, match="line 2 is longer than"):
        table(tmp_path, "a\n" + "1" * 20000 + "\n")


@posix_only
def test_dev_zero_named_csv_fails_fast(tmp_path):
    os.symlink("/dev/zero", tmp_path / "x.csv")
    with pytest.raises(InputError, match="not a regular file but a character device"):
        open_path(tmp_path / "x.csv")
    with open("/dev/zero", "rb") as zero:
        with pytest.raises(InputError, match="binary data, not a text table"):
            open_stdin(zero, fmt="csv")
        with pytest.raises(InputError, match="not an NPY file"):
            open_stdin(zero, fmt="npy")
        with pytest.raises(InputError, match="binary data, not a text table"):
            open_stdin(zero)


# -- stdin ----------------------------------------------------------------------------------------


def test_stdin_is_sniffed_and_streamed(tmp_path):
    X = series((4, 6), np.float64)
    for raw in (_npy_bytes(X), _npy_bytes(np.asfortranarray(X))):
        (item,) = open_stdin(io.BytesIO(raw))
        assert item.kind == "npy"
        np.testing.assert_array_equal(blocks_of(item.source, 2), X)
        with pytest.raises(InputError, match="read only once"):
            list(item.source.chunks(2))
    (item,) = open_stdin(io.BytesIO(b"a\tb\n1\t2\n3\t5\n"))
    assert item.labels == {1: ["a", "b"]}
    np.testing.assert_array_equal(values(item), [[1, 2], [3, 5]])
    data = series((2, 3, 4, 5))
    (item,) = open_stdin(io.BytesIO(nifti_bytes(data)))
    np.testing.assert_array_equal(blocks_of(item.source, 2), data)
    (item,) = open_stdin(io.BytesIO(gzip.compress(nifti_bytes(data))))
    np.testing.assert_array_equal(blocks_of(item.source, 2), data)


def test_stdin_empty_and_told_the_wrong_format():
    with pytest.raises(InputError, match=r"^stdin is empty$"):
        open_stdin(io.BytesIO(b""))
    with pytest.raises(InputError, match="not a NIfTI"):
        open_stdin(io.BytesIO(b"1,2\n3,4\n"), fmt="nifti")
    with pytest.raises(InputError, match="not an NPY file"):
        open_stdin(io.BytesIO(b"1,2\n3,4\n"), fmt="npy")


def test_stdin_from_a_real_pipe(tmp_path):
    """A pipe (not seekable) through a child process, as the CLI reads it."""
    data = series((3, 3, 3, 9))
    (tmp_path / "x.nii.gz").write_bytes(gzip.compress(nifti_bytes(data)))
    code = (
        "import sys, numpy as np\n"
        "from smoothcli.sources import open_stdin\n"
        "(item,) = open_stdin(sys.stdin.buffer)\n"
        "print(np.concatenate(list(item.source.chunks(2)), axis=3).sum())\n"
    )
    with open(tmp_path / "x.nii.gz", "rb") as fh:
        out = subprocess.run(
            [sys.executable, "-c", code], stdin=fh, capture_output=True, text=True, check=True
        )
    assert float(out.stdout) == data.sum()


# -- paths ----------------------------------------------------------------------------------------


@posix_only
def test_paths_that_cannot_be_read(tmp_path):
    with pytest.raises(InputError, match=r"^file name too long$"):
        open_path(tmp_path / ("x" * 300 + ".npy"))
    with pytest.raises(InputError, match="is a directory"):
        open_path(tmp_path)
    os.mkfifo(tmp_path / "fifo.csv")
    with pytest.raises(InputError, match=r"^not a regular file but a FIFO"):
        open_path(tmp_path / "fifo.csv")
    with pytest.raises(InputError, match=r"^not a regular file but a character device$"):
        open_path("/dev/zero", fmt="npy")
    with pytest.raises(InputError, match="no such file"):
        open_path(tmp_path / "missing.csv")
    (tmp_path / "f.csv").write_text("1\n")
    with pytest.raises(InputError, match="a part of the path is not a directory"):
        open_path(tmp_path / "f.csv" / "x.csv")


@posix_only
def test_permission_denied(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    np.save(locked / "a.npy", np.arange(3.0))
    (tmp_path / "unreadable.csv").write_text("1\n2\n")
    os.chmod(tmp_path / "unreadable.csv", 0)
    os.chmod(locked, 0)
    code = (
        "import sys\n"
        "from smoothcli.sources import open_path, InputError\n"
        "for p in sys.argv[1:]:\n"
        "    try:\n"
        "        open_path(p)\n"
        "    except InputError as exc:\n"
        "        print(exc)\n"
    )
    args = [sys.executable, "-c", code, str(locked / "a.npy"), str(tmp_path / "unreadable.csv")]
    # root reads anything: check as an unprivileged user then
    extra = {"user": 65534} if os.geteuid() == 0 else {}
    os.chmod(tmp_path, 0o755)
    try:
        out = subprocess.run(args, capture_output=True, text=True, **extra)
    except PermissionError:
        pytest.skip("this interpreter cannot run as an unprivileged user")
    finally:
        os.chmod(locked, 0o755)
    if out.returncode != 0 and "ermission denied" in out.stderr:
        pytest.skip("this interpreter cannot run as an unprivileged user")
    assert out.stdout.splitlines() == ["permission denied", "permission denied"], out.stderr


def test_os_errors_become_one_line():
    import errno

    from smoothcli.sources._errors import os_error_message

    def err(code):
        return OSError(code, os.strerror(code))

    assert os_error_message(err(errno.EACCES), "p") == "permission denied"
    assert os_error_message(err(errno.ENAMETOOLONG), "p") == "file name too long"
    assert os_error_message(err(errno.ENOENT), "p") == "no such file: p"
    assert os_error_message(err(errno.EIO), "p") == "input/output error"


def test_non_utf8_file_names(tmp_path):
    name = os.fsdecode(b"caf\xe9-\xff.csv")
    path = os.path.join(os.fsdecode(bytes(tmp_path)), name)
    with open(path, "w") as fh:
        fh.write("a\n1\n4\n")
    np.testing.assert_array_equal(values(one(path)), [[1], [4]])
    np.save(os.path.join(tmp_path, os.fsdecode(b"\xfe.npy")), np.arange(4.0))
    np.testing.assert_array_equal(read_all(os.path.join(tmp_path, os.fsdecode(b"\xfe.npy"))),
                                  np.arange(4.0))  # fmt: skip


# -- the registry ---------------------------------------------------------------------------------


def test_registry_names_suffixes_and_magic():
    assert FORMATS == ("cifti", "nifti", "npy", "npz", "gifti", "tsv", "csv")
    assert format_of_name("a.NII.GZ") == "nifti" and format_of_name("b.tsv") == "tsv"
    # the longest suffix wins: a CIFTI-2 kind before .nii, a gzip'd table before gzip
    assert (
        format_of_name("r.dtseries.nii") == "cifti" and format_of_name("m.dscalar.nii") == "cifti"
    )
    assert format_of_name("t.tsv.gz") == "tsv" and format_of_name("t.CSV.GZ") == "csv"
    assert format_of_name("s.func.gii") == "gifti" and format_of_name("s.surf.gii") is None
    assert format_of_name("c.txt") is None and not is_supported("c.txt")
    assert sniff(b"\x93NUMPY\x01\x00") == "npy"
    assert sniff(b"PK\x03\x04") == "npz"
    assert sniff(b"\x1f\x8b\x08") == "nifti"
    assert sniff((348).to_bytes(4, "little")) == "nifti"
    assert sniff((540).to_bytes(4, "big")) == "nifti"
    assert sniff(b"a\tb\n1\t2") == "tsv" and sniff(b"a,b\n1,2") == "csv"


def test_unknown_suffix_is_sniffed(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(3.0))
    os.rename(tmp_path / "a.npy", tmp_path / "a.data")
    np.testing.assert_array_equal(read_all(tmp_path / "a.data"), np.arange(3.0))


# -- through the engine: an error comes before any value ----------------------------------------


def test_engine_never_returns_a_score_from_a_corrupt_stream(tmp_path):
    from smoothcli.engine import evaluate
    from smoothcli.loss import SmoothnessLoss

    blob, data = good_gz(tmp_path)
    (tmp_path / "ok.nii.gz").write_bytes(blob)
    loss = SmoothnessLoss(axis=3)
    want = np.abs(np.diff(data.astype(np.float64), axis=3)).sum()
    assert float(evaluate(loss, one(tmp_path / "ok.nii.gz").source)) == pytest.approx(want)
    crc = bytearray(blob)
    crc[-8] ^= 1
    (tmp_path / "crc.nii.gz").write_bytes(bytes(crc))
    with pytest.raises(InputError, match="CRC"):
        evaluate(loss, one(tmp_path / "crc.nii.gz").source)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((10**12, 4), r"the array is truncated: it ends in row 62 of 1000000000000"),
        # wide rows: the stream is spooled to a file, as much of it as arrives
        ((4, 10**12), r"the array is truncated: it holds 1000 of 16000000000000 bytes"),
    ],
)
def test_a_lying_npy_header_on_stdin_allocates_only_what_arrives(shape, message):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f4", "fortran_order": False, "shape": shape}
    )
    (item,) = open_stdin(io.BytesIO(buf.getvalue() + bytes(1000)))
    assert item.source.shape == shape
    with pytest.raises(InputError, match=message):
        next(iter(item.source.chunks(10**6)))


# -- the reader contract: one class, every reader and every route --------------------------------


class Pipe(io.RawIOBase):
    """Bytes as a pipe delivers them (stdin): read once, not seekable, and in short reads of
    whatever has arrived rather than what was asked for."""

    def __init__(self, data: bytes, most: int = 4093) -> None:
        self._data = memoryview(data)
        self._most = most

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self._most, len(self._data))
        b[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def nifti_data_offset(blob: bytes) -> int:
    """Where a plain NIfTI's voxels start (its vox_offset)."""
    hdr = nib.Nifti1Header.from_fileobj(io.BytesIO(blob), check=False)
    return int(hdr.get_data_offset())


def npy_bytes_of(X) -> bytes:
    buf = io.BytesIO()
    np.save(buf, X)
    return buf.getvalue()


def npz_bytes_of(save, **arrays) -> bytes:
    buf = io.BytesIO()
    save(buf, **arrays)
    return buf.getvalue()


def flip_zip_crc(blob: bytes, member: str) -> bytes:
    """The archive with the CRC-32 its central directory records for ``member`` changed (the
    one zipfile checks at the end of the member)."""
    out = bytearray(blob)
    at = 0
    while (at := out.find(b"PK\x01\x02", at)) >= 0:
        size = int.from_bytes(out[at + 28 : at + 30], "little")
        if out[at + 46 : at + 46 + size] == f"{member}.npy".encode():
            out[at + 16] ^= 0xFF
            return bytes(out)
        at += 4
    raise AssertionError(f"no central directory entry for {member}")


def flip_gzip_crc(blob: bytes) -> bytes:
    out = bytearray(blob)
    out[-8] ^= 0xFF  # the trailer: CRC-32, then the length
    return bytes(out)


def before_separator(blob: bytes, sep: bytes) -> int:
    """A cut in the middle of a table, just before a separator: the last line keeps fewer
    fields than the header names. (A cut at the end of a line, or inside a number, leaves a
    shorter table that is still a valid one: text carries no length to check it against.)"""
    return blob.index(sep, len(blob) // 2)


BOLD = series((5, 4, 3, 9), np.int16, seed=3) * 3
MASK = (np.arange(5 * 4 * 3).reshape(5, 4, 3) % 3 == 1).astype(np.uint8)
FLOAT = (series((5, 4, 3, 7), np.float64, seed=4) / 64).astype(np.float32)
TABLE = series((11, 3), np.float64, seed=5) / 8


def table_text(sep: str) -> bytes:
    lines = [sep.join(["a", "b", "c"])]
    for i, row in enumerate(TABLE):
        cells = [repr(float(v)) for v in row]
        if i == 4:
            cells[1] = "n/a"  # a missing value is NaN, to every reader
        lines.append(sep.join(cells))
    return ("\n".join(lines) + "\n").encode()


@dataclass(frozen=True)
class Route:
    """One reader on one route (a file, or stdin), and what the contract promises for it."""

    id: str
    name: str  # the file written in tmp_path (its suffix picks the reader)
    blob: Callable[[], bytes]  # the file's bytes
    #: the values, as NumPy, nibabel or pandas read them from the file (and the mask's file)
    expect: Callable[[Path, Path | None], np.ndarray]
    dtype: Any  # the dtype of the blocks
    chunk_axis: int
    order: str
    cut: Callable[[bytes], int]  # a truncation in the middle of the data
    corrupt: Callable[[bytes], bytes] | None = None  # a stored CRC that does not match
    stdin: bool = False
    member: str | None = None  # of an NPZ
    masked: bool = False
    backend: str | None = None  # "isal" or "stdlib", for gzip NIfTI
    wide: bool = False  # NPY/NPZ read along the fast axis (a block budget of a few bytes)


def scaled_int16() -> bytes:
    return nifti_bytes(BOLD, slope=0.5, inter=10.0)


def nib_values(path: Path, mask: Path | None = None) -> np.ndarray:
    values = np.asarray(nib.load(path).dataobj, dtype=np.float64)  # scaled by nibabel
    if mask is not None:
        values = values[np.asarray(nib.load(mask).dataobj) != 0]
    return values


def nifti_routes() -> list[Route]:
    gz = {".nii": False, ".nii.gz": True}
    routes = []
    for label, make, dtype in [
        ("int16-scaled", scaled_int16, np.float32),
        ("float32", lambda: nifti_bytes(FLOAT), np.float32),
    ]:
        for suffix, gzipped in gz.items():
            for stdin in (False, True):
                for masked in (False, True):
                    if stdin and label == "float32":
                        continue  # stdin: the int16 image, plain and gzip, masked or not
                    blob = (lambda m=make: gzip.compress(m(), 6)) if gzipped else make
                    for backend in ("isal", "stdlib") if gzipped else (None,):
                        parts = ["stdin" if stdin else "path", f"nifti{suffix}", label]
                        parts += ["masked"] * masked + [backend] * bool(backend)
                        routes.append(
                            Route(
                                id="-".join(parts),
                                name=f"bold{suffix}",
                                blob=blob,
                                expect=nib_values,
                                dtype=dtype,
                                chunk_axis=1 if masked else 3,
                                order="F",
                                cut=(
                                    (lambda b: len(b) // 2)
                                    if gzipped
                                    else (lambda b: (nifti_data_offset(b) + len(b)) // 2)
                                ),
                                corrupt=flip_gzip_crc if gzipped else None,
                                stdin=stdin,
                                masked=masked,
                                backend=backend,
                            )
                        )
    return routes


def npy_middle(blob: bytes) -> int:
    from numpy.lib import format as npformat

    fh = io.BytesIO(blob)
    version = npformat.read_magic(fh)
    read = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
    read(fh)
    return (fh.tell() + len(blob)) // 2


NPY_C = series((9, 4, 5), np.float64, seed=6).astype("<f4") / 4
NPY_F = np.asfortranarray(series((3, 4, 8), np.float64, seed=7) / 16)
NPY_BIG = series((7, 6), np.int32, seed=8).astype(">f8") / 2
NPY_BIG_F = np.asfortranarray(series((3, 2, 6), np.int32, seed=9).astype(">i4"))


def npy_route(id_, X, *, stdin=False, wide=False) -> Route:
    fortran = X.ndim > 1 and X.flags.f_contiguous and not X.flags.c_contiguous
    return Route(
        id=id_,
        name="a.npy",
        blob=lambda: npy_bytes_of(X),
        expect=lambda p, _: np.load(p),
        dtype=X.dtype.newbyteorder("="),
        chunk_axis=X.ndim - 1 if fortran != wide else 0,
        order="F" if fortran else "C",
        cut=npy_middle,
        stdin=stdin,
        wide=wide,
    )


NPZ_A = series((6, 5), np.float32, seed=10)
NPZ_B = np.asfortranarray(series((3, 4, 8), np.float64, seed=11) / 3)


def npz_route(id_, save, member, *, stdin=False, wide=False) -> Route:
    X = {"a": NPZ_A, "b": NPZ_B}[member]
    fortran = member == "b"
    return Route(
        id=id_,
        name="z.npz",
        blob=lambda: npz_bytes_of(save, a=NPZ_A, b=NPZ_B),
        expect=lambda p, _: np.load(p)[member],
        dtype=X.dtype,
        chunk_axis=X.ndim - 1 if fortran != wide else 0,
        order="F" if fortran else "C",
        cut=lambda b: len(b) // 2,
        corrupt=lambda b: flip_zip_crc(b, member),
        stdin=stdin,
        member=member,
        wide=wide,
    )


def table_route(id_, name, sep, *, stdin=False) -> Route:
    import pandas as pd

    return Route(
        id=id_,
        name=name,
        blob=lambda: table_text(sep),
        expect=lambda p, _: pd.read_csv(p, sep=sep).to_numpy(np.float64),
        dtype=np.float64,
        chunk_axis=0,
        order="C",
        cut=lambda b: before_separator(b, sep.encode()),
        stdin=stdin,
    )


def nifti2_data_offset(blob: bytes) -> int:
    """Where a plain NIfTI-2 (a CIFTI-2 file) keeps its data (its vox_offset)."""
    return int(nib.Nifti2Header.from_fileobj(io.BytesIO(blob), check=False).get_data_offset())


def with_scale_factors(blob: bytes, slope: float, inter: float) -> bytes:
    """A NIfTI-2 file (a CIFTI-2 one) with its header's scale factors set (with nibabel's
    header API). nibabel chooses its own when it writes int16 from floats, a slope that
    float32 (the dtype the reader scales int16 in) rounds differently than nibabel's float64
    by an ulp; these are exact in both."""
    hdr = nib.Nifti2Header.from_fileobj(io.BytesIO(blob), check=False)
    hdr.set_slope_inter(slope, inter)
    return hdr.binaryblock + blob[len(hdr.binaryblock) :]


def cifti_routes() -> list[Route]:
    """CIFTI-2 dense series (float32, and int16 with scale factors), plain or gzip (either
    backend), from a file or stdin: blocks of whole series along the brainordinates."""
    routes = []
    for label, dtype in [("float32", np.float32), ("int16-scaled", np.int16)]:
        for gzipped in (False, True):
            for stdin in (False, True):
                if label == "int16-scaled" and (stdin or gzipped):
                    continue  # scaling is the NIfTI reader's, tested on every route there

                def blob(dtype=dtype, gzipped=gzipped) -> bytes:
                    raw = cifti_image(frames=11, dtype=dtype).to_bytes()
                    if dtype == np.int16:
                        raw = with_scale_factors(raw, 0.5, 10.0)
                    return gzip.compress(raw, 6) if gzipped else raw

                for backend in ("isal", "stdlib") if gzipped else (None,):
                    parts = ["stdin" if stdin else "path", "dtseries" + ".gz" * gzipped, label]
                    routes.append(
                        Route(
                            id="-".join(parts + [backend] * bool(backend)),
                            name="r.dtseries.nii.gz" if gzipped else "r.dtseries.nii",
                            blob=blob,
                            expect=lambda p, _: cifti_values(p),
                            dtype=np.float32,
                            chunk_axis=1,
                            order="F",
                            cut=(
                                (lambda b: len(b) // 2)
                                if gzipped
                                else (lambda b: (nifti2_data_offset(b) + len(b)) // 2)
                            ),
                            corrupt=flip_gzip_crc if gzipped else None,
                            stdin=stdin,
                            backend=backend,
                        )
                    )
    return routes


def gifti_route(id_, *, per_time: bool, stdin: bool = False) -> Route:
    """GIFTI, read whole: one array a time point (stacked: F order, time the chunk axis) or
    one 2D array (as stored: C order, vertices the chunk axis)."""
    return Route(
        id=id_,
        name="s.func.gii",
        blob=lambda: gifti_bytes(per_time=per_time),
        expect=lambda p, _: gifti_values(p),
        dtype=np.float32,
        chunk_axis=1 if per_time else 0,
        order="F" if per_time else "C",
        cut=lambda b: len(b) // 2,
        stdin=stdin,
    )


def gzip_table_route(id_, name, sep, backend, *, stdin=False) -> Route:
    plain = table_route(id_, name, sep, stdin=stdin)
    return Route(
        id=f"{id_}-{backend}",
        name=name,
        blob=lambda: gzip.compress(table_text(sep), 6),
        expect=plain.expect,  # pandas reads a .gz by its name
        dtype=np.float64,
        chunk_axis=0,
        order="C",
        cut=lambda b: len(b) // 2,
        corrupt=flip_gzip_crc,
        stdin=stdin,
        backend=backend,
    )


ROUTES = [
    *nifti_routes(),
    *cifti_routes(),
    gifti_route("path-gifti-per-time-point", per_time=True),
    gifti_route("path-gifti-2d", per_time=False),
    gifti_route("stdin-gifti-per-time-point", per_time=True, stdin=True),
    *(
        gzip_table_route(f"{route}-{fmt}.gz", f"t.{fmt}.gz", sep, backend, stdin=route == "stdin")
        for route in ("path", "stdin")
        for fmt, sep in (("csv", ","), ("tsv", "\t"))
        for backend in ("isal", "stdlib")
    ),
    table_route("path-csv", "t.csv", ","),
    table_route("path-tsv", "t.tsv", "\t"),
    table_route("stdin-csv", "t.csv", ",", stdin=True),
    table_route("stdin-tsv", "t.tsv", "\t", stdin=True),
    npy_route("path-npy-C-f4", NPY_C),
    npy_route("path-npy-F-f8", NPY_F),
    npy_route("path-npy-C-big-endian-f8", NPY_BIG),
    npy_route("path-npy-F-big-endian-i4", NPY_BIG_F),
    npy_route("stdin-npy-C-f4", NPY_C, stdin=True),
    npy_route("stdin-npy-F-big-endian-i4", NPY_BIG_F, stdin=True),
    npz_route("path-npz-stored-C", np.savez, "a"),
    npz_route("path-npz-stored-F", np.savez, "b"),
    npz_route("path-npz-compressed-C", np.savez_compressed, "a"),
    npz_route("path-npz-compressed-F", np.savez_compressed, "b"),
    npz_route("stdin-npz-stored-F", np.savez, "b", stdin=True),
    npz_route("stdin-npz-compressed-C", np.savez_compressed, "a", stdin=True),
    # wide: one slice along the slow axis is over the budget, so blocks run along the fast
    # axis, read line by line with seek + readinto (a stream or a zip member spooled first)
    npy_route("path-npy-C-f4-wide", NPY_C, wide=True),
    npy_route("path-npy-F-f8-wide", NPY_F, wide=True),
    npy_route("path-npy-C-big-endian-f8-wide", NPY_BIG, wide=True),
    npy_route("path-npy-F-big-endian-i4-wide", NPY_BIG_F, wide=True),
    npy_route("stdin-npy-C-f4-wide", NPY_C, stdin=True, wide=True),
    npy_route("stdin-npy-F-big-endian-i4-wide", NPY_BIG_F, stdin=True, wide=True),
    npz_route("path-npz-stored-C-wide", np.savez, "a", wide=True),
    npz_route("path-npz-compressed-F-wide", np.savez_compressed, "b", wide=True),
    npz_route("stdin-npz-stored-F-wide", np.savez, "b", stdin=True, wide=True),
    npz_route("stdin-npz-compressed-C-wide", np.savez_compressed, "a", stdin=True, wide=True),
]
CORRUPTIBLE = [r for r in ROUTES if r.corrupt is not None]


class TestReaderContract:
    """Every reader, on every route, keeps the contract of ``sources._base``: ``shape``,
    ``dtype`` and ``order`` describe what ``read()`` and ``chunks()`` give; the blocks, joined
    along ``chunk_axis``, are ``read()`` exactly, whatever their size; the values are what
    NumPy, nibabel or pandas read from the same file; and a truncated file or a stored CRC
    that does not match is an :class:`InputError` (on opening or from the blocks), never
    another exception and never fewer rows."""

    @pytest.fixture
    def route(self, request, monkeypatch):
        route: Route = request.param
        if route.backend is not None:
            use_gzip_backend(monkeypatch, route.backend)
        if route.wide:
            monkeypatch.setattr(arrays_mod, "WIDE_SLICE_BYTES", 16)
        return route

    def opener(self, route: Route, tmp_path: Path, blob: bytes | None = None):
        """Open the route's file (written once) or a fresh stdin stream each call: the
        :class:`Loaded` of the array under test."""
        blob = route.blob() if blob is None else blob
        path = tmp_path / route.name
        path.write_bytes(blob)
        mask = None
        if route.masked:
            write_nii(tmp_path / "mask.nii", MASK)
            mask = load_mask(tmp_path / "mask.nii")

        def open_it():
            items = open_stdin(Pipe(blob), mask=mask) if route.stdin else open_path(path, mask=mask)
            (item,) = [i for i in items if i.member == route.member]
            return item

        return path, open_it

    @pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id, indirect=True)
    def test_shape_dtype_and_order_describe_the_data(self, route, tmp_path):
        _, open_it = self.opener(route, tmp_path)
        item = open_it()
        src = item.source
        assert 0 <= item.time_axis < len(src.shape)
        assert src.chunk_axis == route.chunk_axis
        assert src.dtype == np.dtype(route.dtype)
        assert src.order == route.order
        whole = (open_it().source if route.stdin else src).read()
        assert whole.shape == src.shape and whole.dtype == src.dtype
        contiguous = "f_contiguous" if route.order == "F" else "c_contiguous"
        assert getattr(whole.flags, contiguous)
        for block in (open_it().source if route.stdin else src).chunks(3):
            assert block.dtype == src.dtype and getattr(block.flags, contiguous)

    @pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id, indirect=True)
    @pytest.mark.parametrize("rows", [1, 3, "more than the axis"])
    def test_chunks_joined_are_read_exactly(self, route, rows, tmp_path):
        _, open_it = self.opener(route, tmp_path)
        src = open_it().source
        whole = (open_it().source if route.stdin else src).read()
        axis = src.chunk_axis
        total = src.shape[axis]
        step = total + 5 if rows == "more than the axis" else rows
        blocks = list((open_it().source if route.stdin else src).chunks(step))
        sizes = [b.shape[axis] for b in blocks]
        assert sizes == [min(step, total - s) for s in range(0, total, step)]
        for block in blocks:
            assert block.dtype == src.dtype
            rest = block.shape[:axis] + block.shape[axis + 1 :]
            assert rest == src.shape[:axis] + src.shape[axis + 1 :]
        joined = np.concatenate(blocks, axis=axis)
        assert joined.shape == whole.shape and joined.dtype == whole.dtype
        assert joined.tobytes() == whole.tobytes()  # bit for bit, NaN and -0.0 included

    @pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id, indirect=True)
    def test_values_are_what_an_independent_reader_sees(self, route, tmp_path):
        path, open_it = self.opener(route, tmp_path)
        got = open_it().source.read()
        want = route.expect(path, tmp_path / "mask.nii" if route.masked else None)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want.astype(got.dtype), strict=True)
        np.testing.assert_array_equal(got.astype(np.float64), want.astype(np.float64))

    @staticmethod
    def fails(open_it) -> InputError:
        """Opening and reading every block raises :class:`InputError` (and only that); an
        NPZ member found bad while the archive opens carries its error as ``problem``."""
        with pytest.raises(InputError) as info:
            item = open_it()
            if item.problem is not None:
                raise item.problem
            for _ in item.source.chunks(2):
                pass
        assert "\n" not in str(info.value)
        return info.value

    @pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id, indirect=True)
    def test_a_file_cut_in_the_middle_of_its_data_is_an_input_error(self, route, tmp_path):
        blob = route.blob()
        _, open_it = self.opener(route, tmp_path, blob[: route.cut(blob)])
        self.fails(open_it)

    @pytest.mark.parametrize("route", CORRUPTIBLE, ids=lambda r: r.id, indirect=True)
    def test_a_crc_that_does_not_match_is_an_input_error(self, route, tmp_path):
        assert route.corrupt is not None
        _, open_it = self.opener(route, tmp_path, route.corrupt(route.blob()))
        message = str(self.fails(open_it))
        assert "CRC" in message
