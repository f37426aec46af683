from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from smoothcli import (
    ScalarisationMap,
    max_scalarise,
    mean_scalarise,
    meansq_scalarise,
    norm_scalarise,
    parse_scalarisation,
    rms_scalarise,
    sum_scalarise,
    vnorm_scalarise,
)

from .reference import ref_map

X = np.random.default_rng(7).standard_normal((4, 5, 6))
X2 = X[0]


@pytest.mark.parametrize(
    ("factory", "kind"),
    [
        (sum_scalarise, "sum"),
        (mean_scalarise, "mean"),
        (meansq_scalarise, "meansq"),
        (max_scalarise, "max"),
        (rms_scalarise, "rms"),
    ],
)
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_elementwise_maps_match_numpy(factory, kind, axis, keepdims):
    got = np.asarray(factory(axis=axis, keepdims=keepdims)(X))
    want, _ = ref_map(kind, X, axis=axis, time=None, keepdims=keepdims)
    assert got.shape == want.shape
    # float32 sums in JAX's order: a sum that nearly cancels needs an absolute tolerance too
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("p", [0, 1, 2, 3.5, 0.5, -1.5, math.inf, -math.inf])
@pytest.mark.parametrize("axis", [None, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_vector_norms_match_numpy(p, axis, keepdims):
    got = np.asarray(vnorm_scalarise(p=p, axis=axis, keepdims=keepdims)(X))
    want, _ = ref_map("vnorm", X, axis=axis, time=None, keepdims=keepdims, p=p)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("p", ["fro", "nuc", 1, 2, math.inf])
def test_matrix_norms_over_two_axes(p):
    got = np.asarray(norm_scalarise(p=p, axis=(0, 1))(X2))
    np.testing.assert_allclose(got, np.linalg.norm(X2, ord=p), rtol=1e-5)
    got3 = np.asarray(norm_scalarise(p=p, axis=(1, 2))(X))
    np.testing.assert_allclose(got3, np.linalg.norm(X, ord=p, axis=(1, 2)), rtol=1e-5)


def test_hypercoil_signatures_and_defaults():
    assert vnorm_scalarise() == norm_scalarise(force_vector_norm=True)
    assert vnorm_scalarise().axis == -1 and vnorm_scalarise().p == 2
    assert norm_scalarise().axis == -1 and not norm_scalarise().force_vector_norm
    for f in (sum_scalarise, mean_scalarise, meansq_scalarise, max_scalarise):
        m = f()
        assert (m.axis, m.keepdims, m.inner) == (None, False, None)
    with pytest.raises(TypeError):
        sum_scalarise(None)  # keyword-only, as in hypercoil


def test_inner_axis_refers_to_the_inner_output():
    # mean over axis -2 of max over -1: -2 of the reduced tensor is axis 0 of X
    got = np.asarray(mean_scalarise(inner=max_scalarise(axis=-1), axis=-2)(X))
    np.testing.assert_allclose(got, X.max(-1).mean(-2), rtol=1e-6)
    # with keepdims the outer axis refers to the original tensor
    got = np.asarray(sum_scalarise(inner=vnorm_scalarise(p=1, axis=-1, keepdims=True), axis=0)(X))
    np.testing.assert_allclose(got, np.abs(X).sum(-1, keepdims=True).sum(0), rtol=1e-6)


def test_maps_are_frozen_hashable_and_usable_as_jit_static_arguments():
    m = mean_scalarise(inner=vnorm_scalarise(p=1, axis=0))
    assert m == mean_scalarise(inner=vnorm_scalarise(p=1, axis=0))
    assert len({m, mean_scalarise(inner=vnorm_scalarise(p=1, axis=0))}) == 1
    with pytest.raises(AttributeError):
        m.axis = 3  # type: ignore[misc]
    f = jax.jit(lambda x, m: m(x), static_argnums=1)
    np.testing.assert_allclose(float(f(X2, m)), np.abs(X2).sum(0).mean(), rtol=1e-6)


def test_hypercoil_style_and_direct_application_agree():
    m = rms_scalarise(axis=-1)

    def f(x, *, scale):
        return x * scale

    np.testing.assert_allclose(np.asarray(m(f)(X2, scale=2.0)), np.asarray(m(2.0 * X2)), rtol=1e-6)


def test_named_axes_resolve_from_the_time_axis():
    D = np.diff(X, axis=1)
    dvars = rms_scalarise(axis="space").reduce(D, time_axis=1)
    np.testing.assert_allclose(np.asarray(dvars), np.sqrt((D**2).mean(axis=(0, 2))), rtol=1e-6)
    per_region = vnorm_scalarise(p=2, axis="time").reduce(D, time_axis=1)
    np.testing.assert_allclose(np.asarray(per_region), np.sqrt((D**2).sum(1)), rtol=1e-6)
    # the time axis is tracked through an inner reduction
    m = max_scalarise(inner=meansq_scalarise(axis=0), axis="time")
    np.testing.assert_allclose(np.asarray(m.reduce(D, time_axis=1)), (D**2).mean(0).max(0))
    with pytest.raises(ValueError, match="needs a time axis"):
        rms_scalarise(axis="space")(D)


def test_rms_over_space_of_first_differences_is_dvars():
    ts = np.random.default_rng(3).standard_normal((50, 20))  # voxels x time
    dvars = np.sqrt(np.mean(np.diff(ts, axis=1) ** 2, axis=0))
    got = rms_scalarise(axis="space").reduce(np.diff(ts, axis=1), time_axis=1)
    np.testing.assert_allclose(np.asarray(got), dvars, rtol=1e-6)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("vnorm(p=1, axis=None)", vnorm_scalarise(p=1, axis=None)),
        ("l1", vnorm_scalarise(p=1, axis=None)),
        ("meansq", meansq_scalarise()),
        ("mean(vnorm(p=2, axis=0))", mean_scalarise(inner=vnorm_scalarise(p=2, axis=0))),
        (
            "sum(vnorm(p=1, axis=-1, keepdims=True), axis=0)",
            sum_scalarise(inner=vnorm_scalarise(p=1, axis=-1, keepdims=True), axis=0),
        ),
        ("rms(axis=space)", rms_scalarise(axis="space")),
        ("vnorm(p=inf, axis=None)", vnorm_scalarise(p=math.inf, axis=None)),
        ("vnorm(p=-inf, axis=(0, time))", vnorm_scalarise(p=-math.inf, axis=(0, "time"))),
        (
            "max(meansq(axis=space), axis=0)",
            max_scalarise(inner=meansq_scalarise(axis="space"), axis=0),
        ),
        ("norm(p=fro, axis=(0, 1))", norm_scalarise(p="fro", axis=(0, 1))),
        ("mean(inner=max(axis=1))", mean_scalarise(inner=max_scalarise(axis=1))),
    ],
)
def test_parse_examples(spec, expected):
    parsed = parse_scalarisation(spec)
    assert parsed == expected
    assert isinstance(parsed, ScalarisationMap)
    assert parse_scalarisation(str(parsed)) == parsed  # the canonical form round-trips


@pytest.mark.parametrize(
    ("spec", "fragment", "col"),
    [
        ("vnorm(q=1)", "has no argument 'q'", None),
        ("foo(axis=0)", "unknown map 'foo'", 0),
        ("mean(axis=__import__('os').system('true'))", "expected a number", 10),
        ("mean(", "not a valid expression", None),
        ("vnorm(p='fro')", "not valid", None),
        ("mean(axis=plane)", "expected a number", 10),
        ("sum(meansq, max)", "at most one positional", 12),
        ("1 + 2", "expected a map name", 0),
    ],
)
def test_bad_specs_raise_one_valueerror_pointing_at_the_problem(spec, fragment, col):
    with pytest.raises(ValueError) as info:
        parse_scalarisation(spec)
    msg = str(info.value)
    assert fragment in msg
    assert "maps: sum, mean, meansq, max, rms, norm, vnorm" in msg
    assert "axis names: time, space" in msg
    lines = msg.splitlines()
    assert lines[1].strip() == spec
    if col is not None:
        assert lines[2].index("^") - 2 == col


def test_a_norm_order_too_large_for_a_float_is_a_spec_error():
    spec = "vnorm(p=1" + "0" * 400 + ")"
    with pytest.raises(ValueError, match="bad scalarisation spec") as info:
        parse_scalarisation(spec)
    message = str(info.value)
    assert "401-digit integer" in message and "too large" in message
    assert message.splitlines()[2].strip() == "^"  # the caret line, under the map
    with pytest.raises(ValueError, match="too large"):
        vnorm_scalarise(p=-(10**400))
    assert vnorm_scalarise(p=10**300).p == 10**300  # large, but a float holds it


@pytest.mark.parametrize(
    ("spec", "time", "want"),
    [
        ("l1", 0, ()),
        ("rms(axis=space)", 1, (1,)),
        ("mean(vnorm(p=2, axis=0))", 0, ()),
        ("vnorm(p=2, axis=0)", 2, (1, 2)),
        ("max(meansq(axis=space), axis=0)", 0, ()),
        ("sum(axis=1, keepdims=True)", 0, (0, 1, 2)),
        ("vnorm(p=2, axis=(0, 2), keepdims=True)", 1, (None, 1)),
        ("mean(vnorm(p=1, axis=time, keepdims=True), axis=0)", 2, (1, 2)),
    ],
)
def test_output_axes_trace_each_output_axis_to_its_input_axis(spec, time, want):
    m = parse_scalarisation(spec)
    got = m.output_axes(3, time)
    assert got == want
    shape = (2, 3, 5)  # distinct sizes: an axis that came from input axis a keeps its size
    out = np.asarray(m.reduce(np.ones(shape), time_axis=time))
    assert out.ndim == len(got)
    for size, origin in zip(out.shape, got, strict=True):
        if origin is not None and size != 1:
            assert size == shape[origin]
