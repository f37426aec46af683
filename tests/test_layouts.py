"""Every layout takes its fast path and gives the values of the whole-array loss: maps on the
block's own axes (F order), lane-split reductions of whole frames, merged leading axes."""

from __future__ import annotations

import numpy as np
import pytest

from smoothcli import SmoothnessLoss, evaluate, parse_scalarisation
from smoothcli import engine as engine_mod
from smoothcli.engine import _plan, evaluate_info
from smoothcli.engine import _stream as engine_stream

from .reference import ref_loss
from .test_engine import chain_of

#: one spec of each kind a layout treats differently: a reduction of everything (sum-like,
#: max-like, a p-norm, an order 0 and an infinite order), per frame (reducing a frame's own
#: axes), per voxel (reducing time), kept dims, outer maps after an inner one, a matrix norm
SPECS = [
    "l1",
    "max",
    "rms",
    "vnorm(p=0, axis=None)",
    "vnorm(p=-inf, axis=None)",
    "rms(axis=space)",
    "vnorm(p=2, axis=time)",
    "mean(vnorm(p=2, axis=0))",
    "max(meansq(axis=space), axis=0)",
    "sum(vnorm(p=1, axis=time, keepdims=True), axis=None)",
    "norm(p=2, axis=time)",
]

X4 = np.random.default_rng(21).standard_normal((5, 6, 7, 40))


@pytest.fixture
def small_lanes(monkeypatch):
    """Lanes of 4 for rows of 16 or more elements, so that small arrays take that path."""
    monkeypatch.setattr(_plan, "LANES", 4)
    engine_mod.clear_caches()
    yield
    engine_mod.clear_caches()


def _check(X, spec, n, pad, chunk, dtype):
    loss = SmoothnessLoss(1.5, n=n, pad_value=pad, axis=-1, scalarisation=parse_scalarisation(spec))
    X = X.astype(dtype)
    got = evaluate(loss, X, chunk_rows=chunk)
    ref = ref_loss(X.astype(np.float64), chain_of(spec), n=n, pad_value=pad, axis=-1, nu=1.5)
    assert got.shape == ref.shape
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol, equal_nan=True)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_time_last_4d_in_both_orders(small_lanes, order, spec, dtype):
    X = np.asarray(X4, order=order)
    for n, pad, chunk in ((1, None, None), (2, 0.5, 3), (0, None, 7), (1, None, 16)):
        _check(X, spec, n, pad, chunk, dtype)


@pytest.mark.parametrize("spec", ["l1", "rms(axis=space)", "max", "mean(vnorm(p=2, axis=time))"])
def test_default_lanes_on_whole_frames(spec):
    # frames of 16384+ voxels take the lane path with the default 4096 lanes
    X = np.random.default_rng(3).standard_normal((17, 31, 40, 12)).astype(np.float32)
    for order in ("C", "F"):
        _check(np.asarray(X, order=order), spec, 1, None, None, np.float32)


def test_lanes_count_nonfinite_differences(small_lanes):
    X = np.asarray(X4, order="F").copy()
    X[1, 2, 3, 10] = np.nan
    X[0, 0, 0, 30] = np.inf
    for spec in ("l1", "rms(axis=space)", "max"):
        loss = SmoothnessLoss(scalarisation=parse_scalarisation(spec))
        info = evaluate_info(loss, X, chunk_rows=8)
        assert info.nonfinite == 4  # each bad sample spoils the difference on either side
        assert info.differences == X.size - X[..., 0].size
        ref = ref_loss(X, chain_of(spec), n=1, pad_value=None, axis=-1, nu=1.0)  # as NumPy
        np.testing.assert_array_equal(np.isnan(info.value), np.isnan(ref))


def test_fast_paths_are_taken(small_lanes, monkeypatch):
    seen = []
    real = engine_stream.run

    def spy(spec, src, acc, total_rows, stored=False):
        seen.append((spec.lanes, spec.block_shape))
        return real(spec, src, acc, total_rows, stored)

    monkeypatch.setattr(engine_stream, "run", spy)  # the one place blocks go through
    rms = SmoothnessLoss(scalarisation=parse_scalarisation("rms(axis=space)"))
    evaluate(rms, np.asfortranarray(X4))  # whole frames, reduced in lanes
    evaluate(SmoothnessLoss(), np.ascontiguousarray(X4))  # volumes merged into short rows
    assert seen[0][0] == 4 and seen[0][1][1:] == (7, 6, 5)
    assert seen[1][0] == 0 and seen[1][1][1:] == (40,)
