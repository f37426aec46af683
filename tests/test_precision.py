"""Precision follows the input: float64 and 32/64-bit integers in float64, smaller types in
float32, and NaN/Inf exactly as NumPy float64 gives them on the same formula."""

from __future__ import annotations

import subprocess
import sys

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from smoothcli import SmoothnessLoss, parse_scalarisation
from smoothcli._jax import enable_x64
from smoothcli.engine import evaluate, evaluate_info
from smoothcli.precision import compute_dtype

from .reference import ref_loss, ref_smoothness
from .test_engine import chain_of

F64, F32 = np.dtype(np.float64), np.dtype(np.float32)
BIG = np.finfo(np.float64).max


# -- the rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "want"),
    [
        ("float64", F64),
        (">f8", F64),
        ("int32", F64),
        ("int64", F64),
        ("uint32", F64),
        ("uint64", F64),
        ("float32", F32),
        ("float16", F32),
        ("bool", F32),
        ("int8", F32),
        ("int16", F32),
        ("<i2", F32),
        ("uint8", F32),
        ("uint16", F32),
    ],
)
def test_compute_dtype(dtype, want):
    assert compute_dtype(dtype) == want
    assert compute_dtype(np.dtype(dtype)) == want


@pytest.mark.parametrize("dtype", ["complex64", "complex128", "U3", "S2", "O", "M8[s]", "V8"])
def test_compute_dtype_refuses_what_is_not_real(dtype):
    with pytest.raises(TypeError, match=str(np.dtype(dtype)).replace("[", r"\[")):
        compute_dtype(dtype)


def test_complex_input_is_a_type_error_not_a_score():
    with pytest.raises(TypeError, match="complex"):
        evaluate(SmoothnessLoss(), np.arange(4, dtype=np.complex64))


# -- the examples from the issue -------------------------------------------------------------


@pytest.mark.parametrize(
    ("X", "want"),
    [
        (1e9 + np.arange(100, dtype=np.float64), 99.0),
        ((2e9 + np.arange(100)).astype(np.int32), 99.0),
        (1.7e9 + np.arange(200, dtype=np.float64), 199.0),
        (np.array([65504, -65504], np.float16), 131008.0),
        (np.array([1e39, -1e39, 1e39]), 4e39),
        (np.array([1e308, -1e308]), np.inf),  # the difference overflows, as in NumPy
        (np.array([1.0, np.nan, 2.0]), np.nan),
        (np.array([np.inf, np.inf]), np.nan),  # inf - inf
        (np.array([0.0, np.inf]), np.inf),
    ],
)
def test_issue_examples_are_exact(X, want):
    for chunk in (None, 1, 3):
        got = evaluate(SmoothnessLoss(), X, chunk_rows=chunk)
        assert got.dtype == compute_dtype(X.dtype)
        np.testing.assert_array_equal(got, np.float64(want))


def test_result_dtype_is_the_compute_dtype_and_the_hypercoil_api_keeps_jax_defaults():
    X = 1e9 + np.arange(10.0)
    assert evaluate(SmoothnessLoss(), X).dtype == F64
    assert evaluate(SmoothnessLoss(), (X - 1e9).astype(np.float16)).dtype == F32
    assert evaluate(SmoothnessLoss(), X.astype(np.int64)).dtype == F64
    # called directly, SmoothnessLoss is hypercoil's: JAX's default dtypes, untouched
    direct = SmoothnessLoss()(X)
    assert direct.dtype == jax.numpy.zeros(0, float).dtype


def test_the_library_users_jax_configuration_is_unchanged():
    before = jax.config.jax_enable_x64
    evaluate(SmoothnessLoss(), np.arange(10.0))
    assert jax.config.jax_enable_x64 == before
    assert jax.numpy.asarray(1.0).dtype == (F64 if before else F32)
    # and with x64 turned on by the user, float32 input still computes in float32
    with enable_x64(True):
        got = evaluate(SmoothnessLoss(), np.arange(10, dtype=np.float32))
        assert got.dtype == F32 and float(got) == 9.0
        assert jax.config.jax_enable_x64


def test_kernels_stay_compiled_across_precisions():
    from smoothcli import engine

    engine.clear_caches()
    X = np.random.default_rng(0).standard_normal((64, 5))
    loss = SmoothnessLoss(axis=0)
    for _ in range(2):
        for dtype in (np.float64, np.float32, np.int32):
            evaluate(loss, X.astype(dtype) * 100, chunk_rows=16)
    first = engine.cache_info()
    for dtype in (np.float64, np.float32, np.int32):
        evaluate(loss, X.astype(dtype) * 100, chunk_rows=16)
    assert engine.cache_info() == first  # nothing new compiled the second time round


def test_global_config_untouched_in_a_fresh_process():
    code = (
        "import jax, numpy as np\n"
        "from smoothcli import SmoothnessLoss, evaluate\n"
        "v = evaluate(SmoothnessLoss(), 1e9 + np.arange(100.0))\n"
        "assert float(v) == 99.0 and v.dtype == np.float64, v\n"
        "assert not jax.config.jax_enable_x64\n"
        "assert jax.numpy.arange(3.0).dtype == np.float32\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- padding and masking never inject nor hide a non-finite value ---------------------------


@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 5, 9, 10])
def test_last_block_padding_neither_injects_nor_hides(special, where):
    X = np.arange(11, dtype=np.float64)
    X[where] = special
    for axis, Y in ((0, X), (1, X[None, :].repeat(3, 0))):
        for spec in ("l1", "max", "vnorm(p=0, axis=None)", "vnorm(p=-inf, axis=None)"):
            loss = SmoothnessLoss(axis=axis, scalarisation=parse_scalarisation(spec))
            want = ref_loss(Y, chain_of(spec), axis=axis)
            D = ref_smoothness(Y, axis=axis)
            for chunk in (1, 2, 3, 4, None):
                info = evaluate_info(loss, Y, chunk_rows=chunk)
                np.testing.assert_array_equal(info.value, want)
                assert info.nonfinite == np.count_nonzero(~np.isfinite(D))
                assert info.differences == D.size


# -- property: equal to a NumPy float64 reference ------------------------------------------

PROPERTY_SPECS = [
    "l1",
    "rms(axis=space)",
    "vnorm(p=2, axis=time)",
    "max",
    "meansq",
    "mean(vnorm(p=2, axis=0))",
]
#: every one is a nonnegative map (sums of |d|, d**2) or a max, so no cancellation: a correct
#: float64 computation that only sums in another order agrees to about (terms * eps) ~ 1e-14
WIDE = 1e-12

# XLA on CPU flushes subnormal numbers to zero (jax-ml/jax#16200, working as intended), which
# NumPy does not: float64 magnitudes are kept at 0 or >= 1e-100, so that no difference or
# square of one is subnormal (d**2 >= ~1e-232).
_F64_MAG = st.floats(1e-100, BIG)
F64_VALUES = st.one_of(
    st.just(0.0),
    _F64_MAG,
    _F64_MAG.map(lambda v: -v),
    st.sampled_from([BIG, -BIG, 1e308, -1e308, 1e39, -1e39, 1e154, -1e154, 1.5e9, 2.0**53]),
    st.sampled_from([np.nan, np.inf, -np.inf]),
)


def _values(dtype):
    dtype = np.dtype(dtype)
    if dtype == F64:
        return F64_VALUES
    if dtype.kind == "i":
        info = np.iinfo(dtype)
        return st.one_of(
            st.integers(int(info.min), int(info.max)),
            st.sampled_from([int(info.min), int(info.max), int(info.max) - 1, 0]),
        )
    return st.floats(width=16, allow_subnormal=True)  # float16, NaN and inf included


@st.composite
def precision_cases(draw):
    dtype = np.dtype(draw(st.sampled_from(["float64", "int32", "int64", "float16", "int16"])))
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=ndim, max_size=ndim)))
    X = draw(hnp.arrays(dtype, shape, elements=_values(dtype)))
    order = draw(st.sampled_from(["C", "F"]))  # the chunk axis: first (C) or last (F)
    axis = draw(st.integers(0, ndim - 1))
    n = draw(st.integers(0, 3))
    pad = draw(st.one_of(st.none(), st.sampled_from([0.0, 0.5, -3.0, 1e5, -1e300])))
    if pad is not None and abs(pad) > 1e5 and dtype != F64:
        pad = 0.5
    chunk = draw(st.sampled_from([1, 2, 3, None]))
    spec = draw(st.sampled_from(PROPERTY_SPECS))
    return np.asarray(X, order=order), axis, n, pad, chunk, spec


def _assert_matches(got, want, *, rtol, atol=0.0):
    got = np.asarray(got, np.float64)
    assert got.shape == want.shape
    # NaN and infinities: the same positions and signs
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=rtol, atol=atol)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(precision_cases())
def test_property_engine_equals_numpy_float64(case):
    X, axis, n, pad, chunk, spec = case
    loss = SmoothnessLoss(n=n, pad_value=pad, axis=axis, scalarisation=parse_scalarisation(spec))
    with np.errstate(all="ignore"):
        D = ref_smoothness(X, n=n, pad_value=pad, axis=axis)
        try:
            want = ref_loss(X, chain_of(spec), n=n, pad_value=pad, axis=axis)
        except ValueError:  # the max of no differences
            with pytest.raises(ValueError):
                evaluate(loss, X, chunk_rows=chunk)
            return
    info = evaluate_info(loss, X, chunk_rows=chunk)
    assert info.dtype == compute_dtype(X.dtype) == info.value.dtype
    assert info.differences == D.size
    assert info.nonfinite == np.count_nonzero(~np.isfinite(D))
    if info.dtype == F64:
        if np.isinf(want).any() or np.isinf(info.value).any():
            # a sum that lands within rounding of the largest float64 may overflow in one
            # summation order and not in another; only then may inf meet a finite value
            near = np.isfinite(want) & (np.abs(want) > BIG * (1 - 1e-12))
            near |= np.isfinite(info.value) & (np.abs(info.value) > BIG * (1 - 1e-12))
            want = np.where(near, np.inf, want)
            got = np.where(near, np.inf, np.asarray(info.value, np.float64))
            _assert_matches(got, want, rtol=WIDE)
            return
        _assert_matches(info.value, want, rtol=WIDE)
        return
    # float32 compute (float16, int16): each difference is within 2**n float32 roundings of
    # the largest magnitude (n-fold differences of float16 values of different sizes are
    # not exact in float32); sums of them add one such error per term
    top = np.abs(np.where(np.isfinite(X), X, 0).astype(np.float64)).max(initial=0.0)
    top = max(top, abs(pad or 0.0))
    err = 2.0**n * np.finfo(np.float32).eps * top * 4
    finite_d = np.abs(D[np.isfinite(D)])
    dmax = finite_d.max(initial=0.0)
    atol = err * max(D.size, 1) * (1 + (2 * dmax + err if spec == "meansq" else 0))
    _assert_matches(info.value, want, rtol=2e-5, atol=atol)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(precision_cases(), st.sampled_from(["propagate", "omit"]))
def test_property_nonfinite_count_matches_numpy(case, nan):
    X, axis, n, pad, chunk, _ = case
    with np.errstate(all="ignore"):
        D = ref_smoothness(X, n=n, pad_value=pad, axis=axis)
    if D.size == 0:
        return
    for spec in ("vnorm(p=0, axis=None)", "sum"):  # a map that hides NaN; one that does not
        loss = SmoothnessLoss(
            n=n, pad_value=pad, axis=axis, scalarisation=parse_scalarisation(spec)
        )
        info = evaluate_info(loss, X, chunk_rows=chunk, nan=nan)
        assert info.nonfinite == np.count_nonzero(~np.isfinite(D))
        assert info.differences == D.size


def test_subnormal_differences_are_flushed_to_zero_a_known_xla_limit():
    # documents the one place the engine departs from NumPy: XLA's CPU backend flushes
    # subnormal values to zero (jax-ml/jax#16200); a change here should update the README
    X = np.array([0.0, 1e-310, 3e-310])
    assert float(np.abs(np.diff(X)).sum()) == 3e-310  # NumPy keeps subnormals
    assert float(evaluate(SmoothnessLoss(), X)) == 0.0  # XLA flushes them


def test_a_pad_the_stored_dtype_cannot_hold_is_staged_in_the_compute_dtype():
    # float16 holds at most 65504: a pad of 1e5 staged in float16 would be inf
    X = np.ones(6, np.float16)
    loss = SmoothnessLoss(n=1, pad_value=1e5, axis=0)
    info = evaluate_info(loss, X, chunk_rows=2)  # blocks split the difference axis
    assert float(info.value) == 99999.0 and info.nonfinite == 0
