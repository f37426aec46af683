from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from smoothcli import (
    SmoothnessLoss,
    mean_scalarise,
    smoothness,
    vnorm_scalarise,
)

from .reference import ref_smoothness


@pytest.mark.parametrize(
    ("loss", "expected"),
    [
        (SmoothnessLoss(), 0.9),
        (SmoothnessLoss(n=2, pad_value=-1, axis=-2), 3.8),
        (SmoothnessLoss(pad_value=-1), 4.5),
        (SmoothnessLoss(nu=2.5), 2.25),
    ],
)
def test_hypercoil_values(hypercoil_X, loss, expected):
    assert float(loss(hypercoil_X)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("axis", "expected"), [(0, 0.28284271), (-1, 0.17320508)])
def test_hypercoil_composed_values(hypercoil_X, axis, expected):
    scal = mean_scalarise(inner=vnorm_scalarise(axis=axis))
    assert float(scal(smoothness)(hypercoil_X, axis=axis)) == pytest.approx(expected, rel=1e-6)


def test_smoothness_is_jnp_diff_with_prepend():
    X = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    for n in range(4):
        for axis in (0, 1, -1):
            for pad in (None, 2.5):
                got = smoothness(X, n=n, pad_value=pad, axis=axis)
                want = jnp.diff(X, n=n, axis=axis, prepend=pad)
                np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_scalar_pad_is_prepended_once_before_differencing():
    X = np.array([1.0, 2.0, 4.0])
    # padded [0, 1, 2, 4] -> first differences [1, 1, 2] -> second differences [0, 1]
    np.testing.assert_allclose(np.asarray(smoothness(X, n=2, pad_value=0.0)), [0.0, 1.0])
    np.testing.assert_allclose(
        np.asarray(smoothness(X, n=2, pad_value=0.0)), ref_smoothness(X, n=2, pad_value=0.0)
    )


def test_n_zero_returns_input_unchanged():
    X = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(smoothness(X, n=0, pad_value=9.0)), X)


def test_n_beyond_length_gives_an_empty_axis():
    X = np.ones((3, 4))
    assert smoothness(X, n=5).shape == (3, 0)
    assert smoothness(X, n=6, pad_value=1.0).shape == (3, 0)
    assert smoothness(X, n=4, pad_value=1.0, axis=0).shape == (0, 4)
    assert float(SmoothnessLoss(n=9)(X)) == 0.0


def test_integer_input_is_promoted_before_differencing():
    assert float(smoothness(np.array([-30000, 30000], np.int16))[0]) == 60000.0
    assert float(smoothness(np.array([5, 0], np.uint8))[0]) == -5.0
    assert float(smoothness(np.array([True, False]))[0]) == -1.0
    assert jnp.issubdtype(smoothness(np.array([1, 2], np.int16)).dtype, jnp.floating)
    # what hypercoil (plain jnp.diff) would give: wrapped around
    assert int(jnp.diff(jnp.array([-30000, 30000], jnp.int16))[0]) == -5536


@pytest.mark.parametrize(
    ("kwargs", "X", "error", "match"),
    [
        ({"n": -1}, np.ones(3), ValueError, "n must be >= 0, not -1"),
        ({"n": 1.5}, np.ones(3), TypeError, "n must be an integer"),
        ({"axis": 2}, np.ones((2, 2)), ValueError, "axis 2 is out of range"),
        ({"axis": -3}, np.ones((2, 2)), ValueError, "axis -3 is out of range"),
        ({}, np.float32(1.0), ValueError, "0-d"),
        ({}, np.array(["a", "b"]), TypeError, "numeric.*<U1"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, X, error, match):
    with pytest.raises(error, match=match):
        smoothness(X, **kwargs)


def test_loss_rejects_negative_n_at_construction():
    with pytest.raises(ValueError, match="n must be >= 0, not -2"):
        SmoothnessLoss(n=-2)


def test_loss_defaults():
    loss = SmoothnessLoss()
    assert loss.name == "Smoothness"
    assert SmoothnessLoss(name="dvars").name == "dvars"
    assert loss.scalarisation == vnorm_scalarise(p=1, axis=None)
    assert (loss.nu, loss.n, loss.pad_value, loss.axis) == (1.0, 1, None, -1)


def test_loss_works_under_jit_and_as_a_static_argument(hypercoil_X):
    loss = SmoothnessLoss(n=2, pad_value=-1, axis=-2)
    assert float(jax.jit(loss)(hypercoil_X)) == pytest.approx(3.8, rel=1e-6)
    f = jax.jit(lambda X, loss: loss(X), static_argnums=1)
    assert float(f(hypercoil_X, loss)) == pytest.approx(3.8, rel=1e-6)
    assert hash(loss) == hash(SmoothnessLoss(n=2, pad_value=-1.0, axis=-2))
