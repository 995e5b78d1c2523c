"""Pooling ops and layers against PyTorch (float32, float64) and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from harness import assert_close, module_gradcheck, module_parity
from op_db_pool import OPS, cnhw
from opinfo import (
    generic_op_tests,
)

DTYPES = [np.float32, np.float64]


test_forward, test_vjp, test_gradcheck, test_errors = generic_op_tests(OPS)


MODULES = [
    ("MaxPool2d", (2,), {}, (2, 3, 6, 6)),
    ("MaxPool2d_overlap", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 2, 7, 6)),
    ("MaxPool1d", (3,), {"stride": 2, "dilation": 2}, (2, 3, 11)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (2, 2, 7, 7)),
    ("AvgPool1d", (2,), {"ceil_mode": True}, (2, 3, 7)),
    ("LPPool2d", (2, 2), {}, (2, 2, 4, 6)),
    ("LPPool1d", (3, 2), {"stride": 1}, (2, 2, 5)),
    ("AdaptiveAvgPool2d", ((2, 3),), {}, (2, 2, 5, 7)),
    ("AdaptiveAvgPool1d", (3,), {}, (2, 2, 7)),
    ("AdaptiveMaxPool2d", ((2, 3),), {}, (2, 2, 5, 7)),
    ("AdaptiveMaxPool1d", (3,), {}, (2, 2, 7)),
]
IDS = [m[0] for m in MODULES]


def _cls(name):
    return name.split("_")[0]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name, args, kwargs, shape", MODULES, ids=IDS)
def test_module_parity(name, args, kwargs, shape, dtype):
    x = np.random.default_rng(0).standard_normal(shape)
    if name.startswith("LP"):
        x = np.abs(x) + 0.2
    cls = _cls(name)
    module_parity(
        getattr(cr.nn, cls)(*args, **kwargs),
        getattr(torch.nn, cls)(*args, **kwargs),
        [x],
        dtype=dtype,
    )


@pytest.mark.parametrize("name, args, kwargs, shape", MODULES, ids=IDS)
def test_module_gradcheck(name, args, kwargs, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    if name.startswith("LP"):
        x = np.abs(x) + 0.2
    module_gradcheck(getattr(cr.nn, _cls(name))(*args, **kwargs), [x])


@pytest.mark.parametrize("name, args, kwargs, shape", MODULES, ids=IDS)
def test_repr_matches_pytorch(name, args, kwargs, shape):
    cls = _cls(name)
    assert repr(getattr(cr.nn, cls)(*args, **kwargs)) == repr(
        getattr(torch.nn, cls)(*args, **kwargs)
    )


def test_nan_propagates_through_max_pool():
    """RELIABILITY C10: a NaN in a window makes the max NaN (as torch), in both paths."""
    x = np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4)
    x[0, 0, 1, 1] = np.nan
    x[0, 1, 0, 0] = np.nan
    x[0, 1, 0, 1] = np.nan
    for args in ((2,), (3, 1, 1)):
        y = cr.nn.functional.max_pool2d(cr.tensor(x, requires_grad=True), *args)
        ty = torch.nn.functional.max_pool2d(torch.tensor(x, requires_grad=True), *args)
        assert_close(y, ty)
        assert np.isnan(y.numpy()).any()
    # the gradient goes where torch sends it (the last NaN of the window)
    cx = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    cr.nn.functional.max_pool2d(cx, 2).sum().backward()
    torch.nn.functional.max_pool2d(tx, 2).sum().backward()
    assert_close(cx.grad, tx.grad)


def test_global_average_pooling_is_the_mean():
    x = cr.randn(3, 4, 5, 6)
    y = cr.nn.AdaptiveAvgPool2d(1)(x)
    np.testing.assert_allclose(y.numpy()[:, :, 0, 0], x.numpy().mean(axis=(2, 3)), rtol=1e-5)


def test_layout_and_dtype_preserved():
    """Pooling a CNHW-layout activation keeps that layout (no transpose copy) and float32."""
    x = cr.Tensor(cnhw(np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)))
    for fn in (
        lambda t: cr.nn.functional.max_pool2d(t, 2),
        lambda t: cr.nn.functional.avg_pool2d(t, 2),
        lambda t: cr.nn.functional.max_pool2d(t, 3, 1, 1),
    ):
        y = fn(x)
        assert y.dtype == np.float32
        assert y.data.transpose(1, 0, 2, 3).flags.c_contiguous


def test_pool_window_too_large_message():
    with pytest.raises(ValueError, match="output size would be"):
        cr.nn.MaxPool2d(kernel_size=5)(cr.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="output size would be"):
        cr.nn.AvgPool2d(5)(cr.zeros(1, 1, 4, 4))


def test_int_input_rejected():
    with pytest.raises(TypeError, match="floating"):
        cr.nn.functional.max_pool2d(cr.zeros(1, 1, 4, 4, dtype="int64"), 2)


@pytest.mark.parametrize("args", [(2,), (3, 1, 1)], ids=["tiled", "overlap"])
def test_infinite_upstream_gradient_reaches_only_the_argmax(args):
    """An inf upstream gradient gives inf at the argmax and exactly 0 elsewhere (as torch),
    not the NaN of inf * 0."""
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = cr.nn.functional.max_pool2d(cx, *args)
    ty = torch.nn.functional.max_pool2d(tx, *args)
    u = np.ones(y.shape, dtype=np.float32)
    u[0, 0, 0, 0] = np.inf
    y.backward(cr.tensor(u))
    ty.backward(torch.tensor(u))
    assert_close(cx.grad, tx.grad)
    assert not np.isnan(cx.grad.numpy()).any()
