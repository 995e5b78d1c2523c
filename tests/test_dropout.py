"""Dropout, Dropout1d, Dropout2d: scaling, eval identity, p=0 / p=1, seeds, gradients.

A random mask cannot be compared with PyTorch's draw, so the checks are: the output is
``x * mask / (1 - p)`` for a 0/1 mask of the right granularity (the PyTorch formula, computed
by torch from the recovered mask), the gradient is the same mask times the upstream
gradient, the keep rate is ``1 - p`` statistically, and finite differences agree for a
fixed generator.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.random import Generator
from harness import assert_close

DTYPES = [np.float32, np.float64]
FNS = {
    "dropout": (F.dropout, lambda s: s),
    "dropout1d": (F.dropout1d, lambda s: s[:2] + (1,)),
    "dropout2d": (F.dropout2d, lambda s: s[:2] + (1, 1)),
}
SHAPES = {"dropout": (6, 7, 5), "dropout1d": (6, 7, 5), "dropout2d": (6, 7, 3, 4)}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("name", list(FNS))
def test_inverted_scaling_and_gradient_match_the_pytorch_formula(name, p, dtype):
    fn, mask_shape = FNS[name]
    shape = SHAPES[name]
    rng = np.random.default_rng(0)
    x = (rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1, 1], size=shape)).astype(dtype)
    cx = cr.tensor(x, requires_grad=True)
    y = fn(cx, p, generator=Generator(3))
    assert y.dtype == np.dtype(dtype)
    kept = (y.numpy() != 0).astype(dtype)
    mask = (
        kept.reshape(shape).max(axis=tuple(range(2, len(shape))), keepdims=True)
        if (name != "dropout")
        else kept
    )
    np.testing.assert_array_equal(np.broadcast_to(mask, shape), kept)  # whole channels
    assert mask.shape == mask_shape(shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = tx * torch.tensor(mask) / (1 - p)  # PyTorch's inverted-dropout formula
    assert_close(y, ty, dtype, "forward")
    u = rng.uniform(-1, 1, size=shape).astype(dtype)
    y.backward(cr.tensor(u))
    ty.backward(torch.tensor(u))
    assert_close(cx.grad, tx.grad, dtype, "grad")


@pytest.mark.parametrize("name", list(FNS))
def test_keep_rate_is_one_minus_p(name):
    fn, _ = FNS[name]
    shape = (200, 50, 20) if name != "dropout2d" else (200, 50, 2, 2)
    y = fn(cr.ones(*shape), 0.3, generator=Generator(0)).numpy()
    rate = (y != 0).mean()
    assert abs(rate - 0.7) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.02  # expectation unchanged


@pytest.mark.parametrize("name", list(FNS))
def test_eval_and_p0_are_identity_and_p1_zeroes(name):
    fn, _ = FNS[name]
    x = cr.randn(*SHAPES[name], requires_grad=True)
    assert fn(x, 0.5, training=False) is x
    np.testing.assert_array_equal(fn(x, 0.0).numpy(), x.numpy())
    y = fn(x, 1.0)
    np.testing.assert_array_equal(y.numpy(), np.zeros(SHAPES[name]))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(SHAPES[name]))
    tx = torch.tensor(x.numpy(), requires_grad=True)
    torch.nn.functional.dropout(tx, 1.0).sum().backward()
    assert_close(x.grad, tx.grad)


def test_reproducible_with_seed_and_generator():
    cr.manual_seed(7)
    a = F.dropout(cr.ones(100), 0.5).numpy()
    cr.manual_seed(7)
    b = F.dropout(cr.ones(100), 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    c = F.dropout(cr.ones(100), 0.5).numpy()
    assert not np.array_equal(a, c)  # the stream moves on
    g1 = F.dropout(cr.ones(100), 0.5, generator=Generator(1)).numpy()
    cr.manual_seed(123)
    g2 = F.dropout(cr.ones(100), 0.5, generator=Generator(1)).numpy()
    np.testing.assert_array_equal(g1, g2)  # independent of the default generator
    layer = cr.nn.Dropout(0.5, generator=Generator(1))
    np.testing.assert_array_equal(layer(cr.ones(100)).numpy(), g1)


@pytest.mark.parametrize("name", list(FNS))
def test_gradcheck_with_a_fixed_mask(name):
    fn, _ = FNS[name]
    x = cr.tensor(
        np.random.default_rng(0).standard_normal(SHAPES[name][:2] + (2,) * (len(SHAPES[name]) - 2)),
        requires_grad=True,
    )
    cr.gradcheck(lambda t: fn(t, 0.4, generator=Generator(5)), x)


def test_modules_train_eval_and_repr():
    for cls in ("Dropout", "Dropout1d", "Dropout2d"):
        m = getattr(cr.nn, cls)(0.25)
        assert repr(m) == repr(getattr(torch.nn, cls)(0.25))
        x = cr.ones(4, 3, 5) if cls != "Dropout2d" else cr.ones(4, 3, 2, 2)
        assert (m(x).numpy() == 0).any()
        m.eval()
        np.testing.assert_array_equal(m(x).numpy(), x.numpy())


def test_bad_probability_and_rank():
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout(cr.ones(3), p)
        with pytest.raises(ValueError, match="between 0 and 1"):
            cr.nn.Dropout(p)
    with pytest.raises(ValueError, match="4-D input"):
        F.dropout2d(cr.ones(2, 3), 0.5)
    with pytest.raises(TypeError, match="Generator"):
        F.dropout(cr.ones(3), 0.5, generator=np.random.default_rng(0))
