"""CIFTI-2, GIFTI and gzip'd tables, end to end: files written with nibabel's own API (and
gzip), scored through the real CLI and the Python API, against NumPy in float64. Recognition
by suffix, by magic on stdin, in directory scans; the error rows of what cannot be scored.
Nothing mocked."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel import cifti2
from nibabel.cifti2 import cifti2_axes as axes
from nibabel.gifti import GiftiDataArray, GiftiImage

from smoothcli import score_paths
from smoothcli.discover import NOT_TIME_SERIES, discover
from smoothcli.sources import SUFFIXES, InputError, open_path, open_stdin, sniff
from smoothcli.sources import cifti as cifti_mod
from smoothcli.sources.nifti import _frames as nifti_frames

from .conftest import posix_only, score

RTOL = 1e-6

# -- files, written with nibabel's own API -------------------------------------------------------


def brain_models(seed: int = 0) -> axes.BrainModelAxis:
    """A surface part (left cortex, 40 vertices, some of them in) and a volume part (left
    thalamus, a few voxels of a 4x5x6 grid), in that order."""
    rng = np.random.default_rng(seed)
    surface = axes.BrainModelAxis.from_mask(rng.random(40) > 0.3, name="CortexLeft")
    volume = np.zeros((4, 5, 6), bool)
    volume[rng.integers(0, 4, 9), rng.integers(0, 5, 9), rng.integers(0, 6, 9)] = True
    voxels = axes.BrainModelAxis.from_mask(
        volume, affine=np.diag([2.0, 2, 2, 1]), name="thalamus_left"
    )
    return surface + voxels


def signal(shape: tuple[int, ...], seed: int = 1, axis: int = 0, offset: float = 0) -> np.ndarray:
    """A random walk along ``axis`` (smooth-ish, as real signals are), float64. (int16
    storage with a scale factor is computed in float32, as the README says: values near 0
    keep float32's rounding of the scaled values well under the tests' 1e-6.)"""
    return np.random.default_rng(seed).standard_normal(shape).cumsum(axis=axis) + offset


SERIES_INTENTS = {
    "dtseries": "NIFTI_INTENT_CONNECTIVITY_DENSE_SERIES",
    "ptseries": "NIFTI_INTENT_CONNECTIVITY_PARCELLATED_SERIES",
    "dscalar": "NIFTI_INTENT_CONNECTIVITY_DENSE_SCALARS",
    "dlabel": "NIFTI_INTENT_CONNECTIVITY_DENSE_LABELS",
}


def cifti_image(kind="dtseries", frames=9, *, dtype=np.float32, intent=True, seed=1):
    """A CIFTI-2 image of ``kind``; ``intent=False`` leaves nibabel's default intent code
    (ConnUnknown, 3000), so that only the axes say what the file is."""
    bm = brain_models(seed)
    if kind == "dtseries":
        other = bm
    elif kind == "ptseries":
        other = axes.ParcelsAxis.from_brain_models(
            [("V1", bm[:10]), ("V2", bm[10:25]), ("thal", bm[25:])]
        )
    else:
        other = bm
    if kind in ("dtseries", "ptseries"):
        first = axes.SeriesAxis(start=0.0, step=0.72, size=frames)
    elif kind == "dscalar":
        first = axes.ScalarAxis(["thickness", "curvature"])
    else:
        first = axes.LabelAxis(["parcels"], [{0: ("???", (0, 0, 0, 0)), 1: ("a", (1, 0, 0, 1))}])
    data = signal((len(first), len(other)), seed)
    if kind == "dlabel":
        data = (data > 0).astype(np.float32)
    img = cifti2.Cifti2Image(data, header=(first, other), dtype=dtype)
    if intent:
        img.nifti_header.set_intent(SERIES_INTENTS[kind])
    return img


def cifti_values(path: Path) -> np.ndarray:
    """What nibabel reads (scaled), float64; a ``.gz`` through gzip, which nibabel does not
    read for CIFTI-2 itself."""
    blob = path.read_bytes()
    if blob[:2] == b"\x1f\x8b":
        blob = gzip.decompress(blob)
    return cifti2.Cifti2Image.from_bytes(blob).get_fdata(dtype=np.float64)


def write_cifti(path: Path, img=None, **kw) -> Path:
    blob = (img or cifti_image(**kw)).to_bytes()
    path.write_bytes(gzip.compress(blob, 6) if path.name.endswith(".gz") else blob)
    return path


def gifti_bytes(values: np.ndarray | None = None, *, per_time=True, encoding="B64GZ") -> bytes:
    """vertices x time as one data array per time point, or as one 2D array."""
    X = signal((30, 8), 2, axis=1, offset=50).astype(np.float32) if values is None else values
    kw = {"datatype": "NIFTI_TYPE_FLOAT32", "encoding": f"GIFTI_ENCODING_{encoding}"}
    if per_time:
        columns = range(X.shape[1])
        arrays = [GiftiDataArray(X[:, t], intent="NIFTI_INTENT_TIME_SERIES", **kw) for t in columns]
    else:
        arrays = [GiftiDataArray(X, intent="NIFTI_INTENT_TIME_SERIES", **kw)]
    return GiftiImage(darrays=arrays).to_bytes()


def gifti_values(path: Path) -> np.ndarray:
    """vertices x time as nibabel reads it, float64."""
    darrays = nib.load(path).darrays
    if len(darrays) == 1:
        return np.asarray(darrays[0].data, np.float64)
    return np.column_stack([d.data for d in darrays]).astype(np.float64)


def table_text(sep: str) -> bytes:
    X = signal((25, 3), 3, offset=1000)
    lines = [sep.join(["a", "b", "c"])] + [sep.join(repr(float(v)) for v in row) for row in X]
    return ("\n".join(lines) + "\n").encode()


# -- the CLI and the API ------------------------------------------------------------------------


run = score


def rows_of(result) -> list[dict]:
    return list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t"))


def scores(result) -> np.ndarray:
    return np.array([float(r["score"]) for r in rows_of(result)])


def l1(X: np.ndarray, time: int) -> float:
    return float(np.abs(np.diff(X, axis=time)).sum())


SPECS = {
    # the default: the L1 norm of every difference
    "l1": lambda d, time: np.array([np.abs(d).sum()]),
    # one score a frame: the root mean square over the brainordinates (or vertices)
    "rms(axis=space)": lambda d, time: np.sqrt(np.mean(d**2, axis=1 - time)),
    # one score a brainordinate: the 2-norm of its differences over time
    "vnorm(p=2, axis=time)": lambda d, time: np.sqrt(np.sum(d**2, axis=time)),
}


def expected(X: np.ndarray, time: int, spec: str) -> np.ndarray:
    return SPECS[spec](np.diff(X, axis=time), time)


# -- CIFTI-2 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", list(SPECS))
@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("run.dtseries.nii", {}),
        ("default-intent.dtseries.nii", {"intent": False}),
        ("scaled-int16.dtseries.nii", {"dtype": np.int16}),
        ("run.dtseries.nii.gz", {}),
        ("run.ptseries.nii", {"kind": "ptseries"}),
    ],
)
def test_cifti_series_scores_like_numpy_through_the_cli_and_the_api(tmp_path, name, kw, spec):
    path = write_cifti(tmp_path / name, **kw)
    X = cifti_values(path)  # time x brainordinates (or parcels)
    want = expected(X, 0, spec)
    result = run(path, "--scalarise", spec)
    assert result.exit_code == 0, result.output
    rows = rows_of(result)
    assert {r["status"] for r in rows} == {"ok"}
    assert rows[0]["shape"] == "x".join(map(str, X.shape)) and rows[0]["axis"] == "0"
    np.testing.assert_allclose(scores(result), want, rtol=RTOL)
    frame = score_paths(str(path), scalarise=spec)
    np.testing.assert_allclose(frame["score"].to_numpy(float), want, rtol=RTOL)


def test_per_brainordinate_rows_are_named_by_structure_and_vertex_or_voxel(tmp_path):
    img = cifti_image()
    path = write_cifti(tmp_path / "run.dtseries.nii", img)
    bm = img.header.get_axis(1)
    rows = rows_of(run(path, "--scalarise", "vnorm(p=2, axis=time)"))
    assert len(rows) == len(bm)
    first_voxel = int(np.flatnonzero(bm.volume_mask)[0])
    assert rows[0]["index"] == f"CORTEX_LEFT:{bm.vertex[0]}"
    i, j, k = bm.voxel[first_voxel]
    assert rows[first_voxel]["index"] == f"THALAMUS_LEFT:{i}:{j}:{k}"
    parcels = rows_of(
        run(write_cifti(tmp_path / "p.ptseries.nii", kind="ptseries"), "--scalarise",
            "vnorm(p=2, axis=time)")
    )  # fmt: skip
    assert [r["index"] for r in parcels] == ["V1", "V2", "thal"]


@pytest.mark.parametrize("rows", [1, 3, 16])
@pytest.mark.parametrize("spec", list(SPECS))
def test_the_engine_scores_cifti_blocks_of_whole_series(tmp_path, spec, rows):
    """Blocks along the brainordinates (chunk_axis 1), each of whole series: the time axis
    is never split, whatever the block size."""
    from smoothcli.engine import evaluate
    from smoothcli.loss import SmoothnessLoss
    from smoothcli.scalarise import parse_scalarisation

    path = write_cifti(tmp_path / "r.dtseries.nii", dtype=np.int16, frames=12)
    (item,) = open_path(path)
    assert (item.source.chunk_axis, item.source.order, item.time_axis) == (1, "F", 0)
    loss = SmoothnessLoss(axis=0, scalarisation=parse_scalarisation(spec))
    got = np.ravel(evaluate(loss, item.source, chunk_rows=rows))
    np.testing.assert_allclose(got, expected(cifti_values(path), 0, spec), rtol=RTOL)


def test_cifti_blocks_are_bounded_on_a_file_much_larger_than_a_block(tmp_path, monkeypatch):
    """A 24 MB dense series read in 256 KB blocks: every block holds whole series of a few
    brainordinates and no more than the budget; and opening the file and scoring it (over
    90 blocks, to NumPy's value) allocates a few MB, not the file: the reader's blocks, the
    read-ahead (its budget set to 1 MB here) and the engine's staging."""
    import tracemalloc

    from smoothcli.engine import evaluate
    from smoothcli.loss import SmoothnessLoss

    frames, count = 600, 10_000
    series = axes.SeriesAxis(0.0, 1.0, frames)
    bm = axes.BrainModelAxis.from_mask(np.ones(count, bool), name="CortexLeft")
    X = signal((frames, count), 4).astype(np.float32)
    path = tmp_path / "big.dtseries.nii"
    cifti2.Cifti2Image(X, header=(series, bm)).to_filename(path)
    assert path.stat().st_size > 24e6
    budget = 256 << 10
    row_bytes = frames * 4
    (item,) = open_path(path)
    blocks = [b.nbytes for b in item.source.stored_chunks(budget // row_bytes)]
    assert len(blocks) > 90 and max(blocks) <= budget
    assert sum(blocks) == X.nbytes
    want = l1(X.astype(np.float64), 0)
    del X, item
    monkeypatch.setattr(nifti_frames, "READ_AHEAD", 1 << 20)
    loss = SmoothnessLoss(axis=0)
    evaluate(loss, open_path(path)[0].source, chunk_bytes=budget)  # compiles the kernel
    tracemalloc.start()
    try:
        got = float(evaluate(loss, open_path(path)[0].source, chunk_bytes=budget))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == pytest.approx(want, rel=RTOL)
    assert peak < 6 << 20, peak  # not the 24 MB of the file


@pytest.mark.parametrize(
    ("kind", "intent", "says"),
    [
        ("dscalar", True, "a CIFTI-2 dense scalar file (.dscalar.nii), not a time series"),
        ("dlabel", True, "a CIFTI-2 dense label file (.dlabel.nii), not a time series"),
        ("dscalar", False, "a CIFTI-2 file of scalar maps x brainordinates, not a time series"),
    ],
)
def test_a_cifti_file_that_is_not_a_series_named_explicitly_is_an_error_row(
    tmp_path, kind, intent, says
):
    path = write_cifti(tmp_path / f"maps.{kind}.nii", kind=kind, intent=intent)
    result = run(path, "--format", "json")
    assert result.exit_code == 3
    (row,) = json.loads(result.stdout)
    assert row["status"] == "error" and row["error"].startswith(says)
    assert ".dtseries.nii" in row["error"] and "\n" not in row["error"]


def test_a_cifti_file_named_nii_is_read_as_cifti_as_nibabel_does(tmp_path):
    path = write_cifti(tmp_path / "plain-name.nii")
    assert type(nib.load(path)).__name__ == "Cifti2Image"
    result = run(path)
    assert result.exit_code == 0
    assert scores(result)[0] == pytest.approx(l1(cifti_values(path), 0), rel=RTOL)


@pytest.mark.parametrize("damage", ["crc", "truncated"])
def test_a_corrupt_gzipped_cifti_is_an_error_row(tmp_path, damage):
    blob = bytearray(gzip.compress(cifti_image(frames=40).to_bytes()))
    if damage == "crc":
        blob[-8] ^= 0xFF
    else:
        blob = blob[: len(blob) * 3 // 4]
    path = tmp_path / "bad.dtseries.nii.gz"
    path.write_bytes(bytes(blob))
    result = run(path, "--format", "json")
    assert result.exit_code == 3
    (row,) = json.loads(result.stdout)
    assert row["status"] == "error" and row["score"] is None
    assert ("CRC" if damage == "crc" else "truncated") in row["error"]


def test_a_cifti_file_cut_in_its_data_names_the_missing_series(tmp_path):
    blob = cifti_image(frames=40).to_bytes()
    path = tmp_path / "cut.dtseries.nii"
    path.write_bytes(blob[: len(blob) - 40 * 4 * 3])
    with pytest.raises(InputError, match="the file is truncated"):
        open_path(path)
    pipe = open_stdin(io.BytesIO(blob[: len(blob) - 40 * 4 * 3]))[0]  # a stream: found reading
    with pytest.raises(InputError, match=r"the series of brainordinate \d+ of \d+ is missing"):
        pipe.source.read()


def test_a_nifti2_without_the_cifti_xml_is_not_cifti(tmp_path):
    path = tmp_path / "x.dtseries.nii"
    nib.save(nib.Nifti2Image(np.zeros((2, 2, 2, 3), np.float32), np.eye(4)), path)
    with pytest.raises(InputError, match="not a CIFTI-2 file"):
        open_path(path)
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2, 3), np.float32), np.eye(4)), path)
    with pytest.raises(InputError, match="a NIfTI-1 image"):
        open_path(path)


# -- GIFTI ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", list(SPECS))
@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("run.func.gii", {}),
        ("run-ascii.func.gii", {"encoding": "ASCII"}),
        ("run-2d.func.gii", {"per_time": False}),
        ("run-2d.shape.gii", {"per_time": False, "encoding": "B64BIN"}),
    ],
)
def test_gifti_scores_like_numpy_with_time_last(tmp_path, name, kw, spec):
    path = tmp_path / name
    path.write_bytes(gifti_bytes(**kw))
    X = gifti_values(path)  # vertices x time
    want = expected(X, 1, spec)
    result = run(path, "--scalarise", spec)
    assert result.exit_code == 0, result.output
    assert rows_of(result)[0]["axis"] == "1" and rows_of(result)[0]["shape"] == "30x8"
    np.testing.assert_allclose(scores(result), want, rtol=RTOL)
    frame = score_paths(str(path), scalarise=spec)
    np.testing.assert_allclose(frame["score"].to_numpy(float), want, rtol=RTOL)


@posix_only
def test_bad_gifti_files_are_one_line_error_rows(tmp_path):
    kw = {"datatype": "NIFTI_TYPE_FLOAT32"}
    cases = {
        "empty.func.gii": (GiftiImage().to_bytes(), "the GIFTI file holds no data arrays"),
        "ragged.func.gii": (
            GiftiImage(
                darrays=[GiftiDataArray(np.zeros(5, np.float32), **kw)] * 3
                + [GiftiDataArray(np.zeros(4, np.float32), **kw)]
            ).to_bytes(),
            "the GIFTI data arrays differ in length: array 0 has 5 values, array 3 has 4",
        ),
        "map.shape.gii": (
            GiftiImage(darrays=[GiftiDataArray(np.ones(6, np.float32), **kw)]).to_bytes(),
            "a GIFTI file of a single map (one data array of one dimension), not a time series",
        ),
        "cut.func.gii": (gifti_bytes()[:-300], "not a valid GIFTI file"),
        "count.func.gii": (
            gifti_bytes().replace(b'NumberOfDataArrays="8"', b'NumberOfDataArrays="9"'),
            "the GIFTI file declares 9 data arrays but holds 8",
        ),
    }
    for name, (blob, _) in cases.items():
        (tmp_path / name).write_bytes(blob)
    result = run(*(tmp_path / n for n in cases), "--format", "json")
    assert result.exit_code == 3
    rows = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    for name, (_, says) in cases.items():
        assert rows[name]["status"] == "error", name
        assert rows[name]["error"].startswith(says), rows[name]["error"]
        assert "\n" not in rows[name]["error"]


# -- gzip'd tables ----------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "sep"), [(".tsv", "\t"), (".csv", ",")])
def test_gzipped_tables_score_exactly_as_their_plain_versions(tmp_path, suffix, sep):
    text = table_text(sep)
    plain = tmp_path / f"sub-01_t{suffix}"
    zipped = tmp_path / f"sub-02_t{suffix}.gz"
    plain.write_bytes(text)
    zipped.write_bytes(gzip.compress(text))
    for spec in SPECS:
        result = run(plain, zipped, "--scalarise", spec, "--format", "json")
        assert result.exit_code == 0, result.output
        rows = json.loads(result.stdout)
        half = len(rows) // 2
        for a, b in zip(rows[:half], rows[half:], strict=True):
            assert {k: v for k, v in a.items() if k not in ("path", "sub")} == {
                k: v for k, v in b.items() if k not in ("path", "sub")
            }
    X = np.loadtxt(io.BytesIO(text), delimiter=sep, skiprows=1)
    assert float(run(zipped).stdout.split("\n")[1].split("\t")[2]) == pytest.approx(
        l1(X, 0), rel=RTOL
    )


@pytest.mark.parametrize("damage", ["crc", "truncated", "trailing"])
def test_a_corrupt_gzipped_table_is_an_error_row(tmp_path, damage):
    blob = bytearray(gzip.compress(table_text("\t") * 20))
    if damage == "crc":
        blob[-8] ^= 0xFF
    elif damage == "truncated":
        blob = blob[: len(blob) // 2]
    else:
        blob += b"not gzip"
    path = tmp_path / "bad.tsv.gz"
    path.write_bytes(bytes(blob))
    result = run(path, "--format", "json")
    assert result.exit_code == 3
    (row,) = json.loads(result.stdout)
    word = {"crc": "CRC", "truncated": "truncated", "trailing": "trailing data"}[damage]
    assert row["status"] == "error" and word in row["error"] and "\n" not in row["error"]


# -- recognition: unknown types, stdin, directory scans -----------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


def test_a_file_of_an_unknown_type_is_an_unsupported_type_row(tmp_path):
    (tmp_path / "x.png").write_bytes(PNG)
    (tmp_path / "notes.txt").write_text("a,b\n1,2\n")
    result = run(tmp_path / "x.png", tmp_path / "notes.txt", "--format", "json")
    assert result.exit_code == 3
    for row in json.loads(result.stdout):
        name = Path(row["path"]).name
        assert row["error"].startswith(f"unsupported file type: {name} (smoothcli reads ")
        assert all(suffix in row["error"] for suffix in SUFFIXES)


def test_a_binary_format_with_an_unknown_suffix_is_still_read_by_its_magic(tmp_path):
    (tmp_path / "series.bin").write_bytes(cifti_image().to_bytes())
    (tmp_path / "surface.xml").write_bytes(gifti_bytes())
    assert open_path(tmp_path / "series.bin")[0].kind == "cifti"
    assert open_path(tmp_path / "surface.xml")[0].kind == "gifti"


def test_sniffing_heads():
    cifti = cifti_image().to_bytes()
    assert sniff(cifti[:512]) == "cifti" and sniff(gzip.compress(cifti)[:512]) == "cifti"
    assert sniff(cifti[:500]) == "nifti"  # too short to hold the intent code: NIfTI-2
    assert sniff(gifti_bytes()[:512]) == "gifti"
    assert sniff(gzip.compress(table_text("\t"))[:512]) == "tsv"
    assert sniff(gzip.compress(table_text(","))[:512]) == "csv"
    nii = nib.Nifti1Image(np.zeros((2, 2, 2, 2), np.int16), np.eye(4)).to_bytes()
    assert sniff(gzip.compress(nii)[:512]) == "nifti" and sniff(b"\x1f\x8b") == "nifti"


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda: cifti_image().to_bytes(), "cifti"),
        (lambda: gzip.compress(cifti_image().to_bytes()), "cifti"),
        (lambda: gifti_bytes(), "gifti"),
        (lambda: gzip.compress(table_text("\t")), "tsv"),
    ],
)
def test_stdin_is_sniffed_for_the_new_formats(tmp_path, make, kind):
    blob = make()
    name = {"cifti": "s.dtseries.nii", "gifti": "s.func.gii", "tsv": "s.tsv.gz"}[kind]
    (tmp_path / name).write_bytes(blob)
    from_file = run(tmp_path / name, "--scalarise", "rms(axis=space)")
    from_stdin = run("-", "--scalarise", "rms(axis=space)", input=blob)
    assert from_stdin.exit_code == 0, from_stdin.output
    assert len(scores(from_stdin)) > 1
    np.testing.assert_array_equal(scores(from_stdin), scores(from_file))
    (sniffed,) = open_stdin(io.BytesIO(blob))
    (told,) = open_stdin(io.BytesIO(blob), fmt=kind)
    assert sniffed.kind == told.kind == open_path(tmp_path / name)[0].kind
    np.testing.assert_array_equal(told.source.read(), open_path(tmp_path / name)[0].source.read())


@pytest.mark.parametrize("kind", ["cifti", "gifti", "tsv"])
def test_stdin_format_names_the_new_formats(kind):
    blob = {
        "cifti": lambda: gzip.compress(cifti_image().to_bytes()),
        "gifti": gifti_bytes,
        "tsv": lambda: gzip.compress(table_text("\t")),
    }[kind]()
    told = run("-", "--scalarise", "rms(axis=space)", "--stdin-format", kind, input=blob)
    sniffed = run("-", "--scalarise", "rms(axis=space)", input=blob)
    assert told.exit_code == 0, told.output
    np.testing.assert_array_equal(scores(told), scores(sniffed))


def test_cifti_on_stdin_told_it_is_nifti_says_what_it_is():
    result = run("-", "--stdin-format", "nifti", "--format", "json", input=cifti_image().to_bytes())
    assert result.exit_code == 3
    assert "a CIFTI-2 file" in json.loads(result.stdout)[0]["error"]


def test_a_directory_scan_finds_the_new_formats_and_skips_what_is_not_a_series(tmp_path):
    sub = tmp_path / "sub-01"
    sub.mkdir()
    write_cifti(sub / "sub-01_task-rest_bold.dtseries.nii")
    write_cifti(sub / "sub-01_task-rest_atlas.ptseries.nii", kind="ptseries")
    write_cifti(sub / "sub-01_thickness.dscalar.nii", kind="dscalar")
    write_cifti(sub / "sub-01_unnamed.dscalar.nii", kind="dscalar", intent=False)
    write_cifti(sub / "sub-01_parc.dlabel.nii", kind="dlabel")
    (sub / "sub-01_hemi-L_bold.func.gii").write_bytes(gifti_bytes())
    kw = {"datatype": "NIFTI_TYPE_FLOAT32"}
    thickness = GiftiImage(darrays=[GiftiDataArray(np.ones(6, np.float32), **kw)])
    (sub / "sub-01_hemi-L_thickness.shape.gii").write_bytes(thickness.to_bytes())
    (sub / "sub-01_confounds.tsv.gz").write_bytes(gzip.compress(table_text("\t")))
    (sub / "notes.png").write_bytes(PNG)
    found = discover([str(tmp_path)])
    names = [Path(p).name for p in found.inputs]
    assert names == [
        "sub-01_confounds.tsv.gz",
        "sub-01_hemi-L_bold.func.gii",
        "sub-01_task-rest_atlas.ptseries.nii",
        "sub-01_task-rest_bold.dtseries.nii",
    ]
    skipped = {Path(p).name: why for p, why in found.skipped}
    assert skipped == {
        "sub-01_hemi-L_thickness.shape.gii": f"{NOT_TIME_SERIES}: a GIFTI file of a single map "
        "(one data array of one dimension)",
        "sub-01_parc.dlabel.nii": f"{NOT_TIME_SERIES}: a CIFTI-2 dense label file (.dlabel.nii)",
        "sub-01_thickness.dscalar.nii": f"{NOT_TIME_SERIES}: a CIFTI-2 dense scalar file "
        "(.dscalar.nii)",
        "sub-01_unnamed.dscalar.nii": f"{NOT_TIME_SERIES}: a CIFTI-2 file of scalar maps x "
        "brainordinates",
    }
    result = run(tmp_path)
    assert result.exit_code == 0, result.output
    assert sorted(Path(r["path"]).name for r in rows_of(result)) == names
    assert {r["status"] for r in rows_of(result)} == {"ok"}


def test_the_cifti_kind_is_told_from_the_axes_when_the_intent_does_not_say():
    img = cifti_image(intent=False)
    assert img.to_bytes()[504:508] == (3000).to_bytes(4, "little")
    series, what = cifti_mod.describe(3000, [img.header.get_axis(0), img.header.get_axis(1)])
    assert series == 0 and what == "a CIFTI-2 file of a series x brainordinates"
