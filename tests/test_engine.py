from __future__ import annotations

import math
import warnings

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smoothcli import SmoothcliWarning, SmoothnessLoss, evaluate, parse_scalarisation, runtime
from smoothcli import engine as engine_mod
from smoothcli.engine import evaluate_info

from .conftest import run_clean_python
from .reference import ref_loss, ref_smoothness

# Every map and the compositions from the spec language; each is valid for any ndim >= 1.
SPECS = [
    "l1",
    "sum",
    "mean",
    "meansq",
    "max",
    "rms",
    "vnorm(p=2, axis=None)",
    "vnorm(p=inf, axis=None)",
    "vnorm(p=-inf, axis=None)",
    "vnorm(p=0, axis=None)",
    "vnorm(p=3.5, axis=None)",
    "rms(axis=space)",
    "vnorm(p=2, axis=time)",
    "mean(vnorm(p=2, axis=0))",
    "mean(vnorm(p=2, axis=time))",
    "max(meansq(axis=space), axis=0)",
    "sum(vnorm(p=1, axis=time, keepdims=True), axis=None)",
    "mean(max(axis=time, keepdims=True))",
    "norm(p=2, axis=time)",
]


def chain_of(spec: str) -> list:
    """The reference's description of a parsed map, innermost first."""
    out = []
    for m in parse_scalarisation(spec).chain():
        kind = m.kind
        kw = {"axis": m.axis, "keepdims": m.keepdims}
        if kind == "norm":
            kind = "vnorm"
            kw["p"] = m.p
        out.append((kind, kw))
    return out


def run_both(X, loss, chunk_rows):
    try:
        whole = np.asarray(loss(X))
    except ValueError as exc:  # e.g. max of an empty array: the engine must agree
        with pytest.raises(type(exc)):
            evaluate(loss, X, chunk_rows=chunk_rows)
        return None, None
    return whole, evaluate(loss, X, chunk_rows=chunk_rows)


def check(X, spec, *, n, pad, axis, chunk_rows, nu=1.0):
    loss = SmoothnessLoss(
        nu, n=n, pad_value=pad, axis=axis, scalarisation=parse_scalarisation(spec)
    )
    whole, got = run_both(X, loss, chunk_rows)
    if got is None:
        return
    ref = ref_loss(X, chain_of(spec), n=n, pad_value=pad, axis=axis, nu=nu)
    assert got.shape == whole.shape == ref.shape, (got.shape, whole.shape, ref.shape)
    assert got.dtype == whole.dtype
    np.testing.assert_allclose(got, whole, rtol=2e-5, atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(got, ref, rtol=2e-5, atol=1e-5, equal_nan=True)


X3 = np.random.default_rng(11).standard_normal((13, 4, 5)).astype(np.float32)


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize(("ci", "chunk_rows"), list(enumerate([1, 2, 7, 13])))
def test_every_map_matches_whole_array_and_reference_for_every_chunk_size(spec, ci, chunk_rows):
    # across the four chunk sizes, every axis meets every n in 0..3, twice with a pad and
    # twice without (one case per axis and chunk size: each is a kernel to compile)
    for axis in (0, 1, 2):
        n = (axis + ci) % 4
        pad = None if (axis + ci // 2) % 2 else -0.5
        check(X3, spec, n=n, pad=pad, axis=axis, chunk_rows=chunk_rows)


@st.composite
def cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim)))
    X = draw(
        st.builds(
            lambda seed: np.random.default_rng(seed).standard_normal(shape).astype(np.float32),
            st.integers(0, 2**16),
        )
    )
    axis = draw(st.integers(-ndim, ndim - 1))
    n = draw(st.integers(0, 3))
    pad = draw(st.one_of(st.none(), st.floats(-3, 3, allow_nan=False, width=32)))
    chunk = draw(st.sampled_from([1, 2, 5, None]))
    spec = draw(st.sampled_from(SPECS))
    order = draw(st.sampled_from(["C", "F"]))
    return np.asarray(X, order=order), spec, n, pad, axis, chunk


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_property_chunked_equals_whole_and_float64_reference(case):
    X, spec, n, pad, axis, chunk = case
    check(X, spec, n=n, pad=pad, axis=axis, chunk_rows=chunk, nu=1.5)


def test_hypercoil_values_through_the_engine(hypercoil_X):
    for loss, want in [
        (SmoothnessLoss(), 0.9),
        (SmoothnessLoss(n=2, pad_value=-1, axis=-2), 3.8),
        (SmoothnessLoss(pad_value=-1), 4.5),
        (SmoothnessLoss(nu=2.5), 2.25),
    ]:
        for chunk in (1, 2, None):
            assert float(evaluate(loss, hypercoil_X, chunk_rows=chunk)) == pytest.approx(want)


def test_memmap_and_fortran_and_strided_sources(tmp_path):
    X = np.random.default_rng(2).standard_normal((40, 30)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r", allow_pickle=False)
    loss = SmoothnessLoss(axis=0, scalarisation=parse_scalarisation("rms(axis=space)"))
    want = np.asarray(loss(X))
    for src in (mm, np.asfortranarray(X), X[:, ::1], np.ascontiguousarray(X[::-1])[::-1]):
        np.testing.assert_allclose(evaluate(loss, src, chunk_rows=7), want, rtol=1e-6)


def test_big_endian_and_integer_input():
    X = (np.random.default_rng(4).standard_normal((20, 9)) * 1000).astype(">i2")
    loss = SmoothnessLoss(axis=0)
    want = np.abs(np.diff(X.astype(np.float64), axis=0)).sum()
    assert float(evaluate(loss, X, chunk_rows=3)) == pytest.approx(want, rel=1e-6)
    assert float(evaluate(loss, X.astype(np.int16))) == pytest.approx(want, rel=1e-6)


class GeneratorSource:
    """A chunked source that only ever hands out blocks, like a file reader."""

    def __init__(self, X, axis):
        self.X, self.shape, self.dtype, self.chunk_axis = X, X.shape, X.dtype, axis
        self.largest = 0

    def chunks(self, rows):
        for s in range(0, self.shape[self.chunk_axis], rows):
            block = np.take(
                self.X, range(s, min(s + rows, self.shape[self.chunk_axis])), axis=self.chunk_axis
            )
            self.largest = max(self.largest, block.shape[self.chunk_axis])
            yield block

    def read(self):
        return self.X


@pytest.mark.parametrize("chunk_axis", [0, 1, 2])
@pytest.mark.parametrize("n", [1, 3])
def test_chunked_source_protocol_with_carry_across_blocks(chunk_axis, n):
    X = np.random.default_rng(5).standard_normal((9, 6, 7)).astype(np.float32)
    loss = SmoothnessLoss(
        n=n, pad_value=0.25, axis=1, scalarisation=parse_scalarisation("rms(axis=space)")
    )
    src = GeneratorSource(X, chunk_axis)
    got = evaluate(loss, src, chunk_rows=2)
    assert src.largest == 2  # the engine never asked for more than one block at a time
    np.testing.assert_allclose(got, np.asarray(loss(X)), rtol=1e-5)


def test_a_shorter_last_block_does_not_compile_a_new_kernel():
    loss = SmoothnessLoss(scalarisation=parse_scalarisation("meansq(axis=None)"))
    engine_mod.clear_caches()
    for rows in (100, 101, 117, 64):  # different files, same row shape
        X = np.random.default_rng(rows).standard_normal((rows, 33)).astype(np.float32)
        got = evaluate(loss, X, chunk_rows=32)
        np.testing.assert_allclose(got, np.mean(np.diff(X.astype(np.float64)) ** 2), rtol=1e-6)
    info = engine_mod.cache_info()
    assert info.kernels == 1
    # one XLA compilation for all four files (per CPU device the blocks were spread over)
    assert info.compilations <= len(jax.local_devices(backend="cpu"))


def test_small_inputs_share_kernels_by_rounding_the_block_up():
    loss = SmoothnessLoss(scalarisation=parse_scalarisation("max"))
    engine_mod.clear_caches()
    for rows in (5, 6, 7, 8):
        X = np.random.default_rng(rows).standard_normal((rows, 3)).astype(np.float32)
        assert float(evaluate(loss, X)) == pytest.approx(np.diff(X).max())
    assert engine_mod.cache_info().kernels == 1


def test_matrix_norm_over_the_chunk_axis_falls_back_once_with_a_warning():
    engine_mod.clear_caches()
    X = np.random.default_rng(8).standard_normal((6, 5)).astype(np.float32)
    loss = SmoothnessLoss(axis=0, scalarisation=parse_scalarisation("norm(p=nuc, axis=(0, 1))"))
    with pytest.warns(SmoothcliWarning, match="cannot be chunked"):
        first = evaluate(loss, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = evaluate(loss, X)
    np.testing.assert_allclose(first, np.linalg.norm(np.diff(X, axis=0), ord="nuc"), rtol=1e-5)
    np.testing.assert_allclose(second, first)


def test_matrix_norm_that_keeps_the_chunk_axis_is_chunked():
    X = np.random.default_rng(9).standard_normal((10, 4, 5)).astype(np.float32)
    loss = SmoothnessLoss(axis=0, scalarisation=parse_scalarisation("norm(p=fro, axis=(1, 2))"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = evaluate(loss, X, chunk_rows=3)
    np.testing.assert_allclose(got, np.linalg.norm(np.diff(X, axis=0), axis=(1, 2)), rtol=1e-5)


def test_nan_propagates_through_sum_and_max():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    X[4, 1] = np.nan
    for spec in ("l1", "max", "rms(axis=space)"):
        loss = SmoothnessLoss(axis=0, scalarisation=parse_scalarisation(spec))
        got = evaluate(loss, X, chunk_rows=3)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(np.asarray(loss(X))))
        assert np.isnan(got).any()


def test_empty_differences_match_the_whole_array():
    X = np.ones((3, 4), np.float32)
    assert float(evaluate(SmoothnessLoss(n=5), X)) == 0.0
    with pytest.raises(ValueError):
        evaluate(SmoothnessLoss(n=5, scalarisation=parse_scalarisation("max")), X)
    assert math.isnan(
        float(evaluate(SmoothnessLoss(n=5, scalarisation=parse_scalarisation("mean")), X))
    )


def test_accumulates_in_float64():
    # 4100 * 4096 differences of +-1: past 2**24, where float32 stops counting whole numbers
    X = np.zeros((4100, 4097), np.float32)
    X[:, 1::2] = 1.0
    got = float(evaluate(SmoothnessLoss(), X))
    assert got == 4100 * 4096  # exact; a float32 sum would stop at 2**24 + a few


# -- any n -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 5, 37, 300])
@pytest.mark.parametrize(
    ("shape", "axis", "order", "chunk"),
    [
        ((700, 3), 0, "C", 64),  # blocks split the difference axis: history carried
        ((700, 3), 0, "C", None),
        ((3, 700), 1, "C", 2),  # difference axis inside a row; last block padded
        ((700, 3), 0, "F", 2),  # F order: chunked along axis 1, differences inside rows
    ],
)
@pytest.mark.parametrize("pad", [None, 2.5])
def test_any_n_equals_n_passes_of_numpy_diff(n, shape, axis, order, chunk, pad):
    rng = np.random.default_rng(n)
    X = np.asarray(rng.integers(-3, 4, shape).astype(np.float64), order=order)
    D = ref_smoothness(X, n=n, pad_value=pad, axis=axis)
    # the same subtractions in the same order: every difference is bit for bit NumPy's,
    # so a max of magnitudes (which does not depend on the order of reduction) is exact
    peak = SmoothnessLoss(
        n=n, pad_value=pad, axis=axis, scalarisation=parse_scalarisation("vnorm(p=inf, axis=space)")
    )
    np.testing.assert_array_equal(evaluate(peak, X, chunk_rows=chunk), np.abs(D).max(axis=1 - axis))
    l1 = evaluate_info(SmoothnessLoss(n=n, pad_value=pad, axis=axis), X, chunk_rows=chunk)
    if n <= 37:  # n-fold differences of small integers stay integers below 2**53: exact
        assert float(l1.value) == np.abs(D).sum()
    else:  # huge binomial sums: only the order of summation differs
        np.testing.assert_allclose(l1.value, np.abs(D).sum(), rtol=1e-12)
    assert l1.differences == D.size and l1.nonfinite == 0


def _lowered_kernel_size(n: int, carry: bool) -> int:
    from smoothcli.engine import _kernel
    from smoothcli.engine._plan import KernelSpec

    rows = 4096
    combiner = parse_scalarisation("l1").decomposition(2, 0)
    spec = KernelSpec(
        block_shape=(rows + n, 1) if carry else (rows, 1000),
        perm=(0, 1),
        stored_dtype="<f4",
        compute_dtype="<f4",
        rows=rows,
        step=rows if carry else 16,
        n=n,
        diff_axis=0 if carry else 1,
        pad=None,
        carry=carry,
        local=(),
        combiner=combiner,
        chunk_pos=0,
        omit=False,
        tally="derive",
    )
    size = math.prod(spec.block_shape) + spec.extra()
    buf = jax.ShapeDtypeStruct((size,), np.float32)
    return len(_kernel.kernel(spec).lower(buf, 0, 0, rows, 1.0, 0.0).as_text())


@pytest.mark.parametrize("carry", [True, False])
def test_kernel_size_does_not_grow_with_n(carry):
    small, large = _lowered_kernel_size(1, carry), _lowered_kernel_size(300, carry)
    assert large < 3 * small, (small, large)
    # beyond the threshold, n is a loop bound and a few shapes: only its digits change
    assert abs(_lowered_kernel_size(900, carry) - large) < 100


# -- runtime -----------------------------------------------------------------------------------


def test_importing_smoothcli_leaves_jax_alone():
    code = (
        "import os, jax, numpy as np\n"
        "from smoothcli import SmoothnessLoss, evaluate\n"
        "evaluate(SmoothnessLoss(), np.arange(5.0))\n"
        "print(getattr(jax.config, 'jax_num_cpu_devices', -1), len(jax.local_devices()), "
        "os.environ.get('JAX_PLATFORMS'))\n"
    )
    assert run_clean_python(code) == "-1 1 None"


def test_configure_sets_devices_and_platform_once():
    code = (
        "import os\n"
        "from smoothcli import runtime\n"
        "runtime.configure(cpu_devices=3)\n"
        "runtime.configure(cpu_devices=1)  # idempotent: the first call decides\n"
        "import jax\n"
        "print(len(jax.local_devices()), os.environ['JAX_PLATFORMS'])\n"
    )
    assert run_clean_python(code) == "3 cpu"
    # the user's setting wins (before JAX 0.5, its only one was XLA's flag)
    users = {"JAX_NUM_CPU_DEVICES": "2"}
    if runtime.jax_version() < (0, 5):
        users = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    assert run_clean_python(code, **users) == "2 cpu"
    assert run_clean_python(code, JAX_PLATFORMS="") == "3"  # the user's choice of platform is kept
    env_code = code.replace("cpu_devices=3", "").replace("runtime.configure(cpu_devices=1)", "")
    assert run_clean_python(env_code, SMOOTHCLI_CPU_DEVICES="1") == "1 cpu"


def test_one_device_and_several_give_the_same_scores():
    code = (
        "import sys, numpy as np\n"
        "from smoothcli import runtime\n"
        "runtime.configure(cpu_devices=int(sys.argv[1]) if len(sys.argv) > 1 else None)\n"
        "from smoothcli import SmoothnessLoss, evaluate, parse_scalarisation\n"
        "X = np.random.default_rng(3).standard_normal((997, 13))\n"
        "for spec in ('l1', 'rms(axis=space)', 'max'):\n"
        "    loss = SmoothnessLoss(n=2, axis=0, scalarisation=parse_scalarisation(spec))\n"
        "    print(repr(evaluate(loss, X, chunk_rows=37).tolist()))\n"
    )
    one = run_clean_python(code.replace("int(sys.argv[1]) if len(sys.argv) > 1 else None", "1"))
    three = run_clean_python(code.replace("int(sys.argv[1]) if len(sys.argv) > 1 else None", "3"))
    assert one == three
