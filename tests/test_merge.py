"""Merge layers (Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Lambda):
forward and every input gradient against PyTorch (float32, float64, random upstream gradient),
float64 finite differences, and clear errors."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import chainrule as cr
from harness import GRADCHECK, assert_close, to_torch


def _t_sum(*xs):
    return functools.reduce(torch.add, xs)


def _t_prod(*xs):
    return functools.reduce(torch.mul, xs)


def _t_max(*xs):
    return functools.reduce(torch.maximum, xs)


def _t_min(*xs):
    return functools.reduce(torch.minimum, xs)


# (id, chainrule layer factory, torch reference, input shapes, call with a list?)
CASES = [
    ("add2", lambda: cr.nn.Add(), _t_sum, [(4, 3), (4, 3)], False),
    ("add3_list", lambda: cr.nn.Add(), _t_sum, [(2, 3, 5), (2, 3, 5), (2, 3, 5)], True),
    ("subtract", lambda: cr.nn.Subtract(), torch.sub, [(4, 6), (4, 6)], True),
    ("multiply2", lambda: cr.nn.Multiply(), _t_prod, [(3, 4), (3, 4)], False),
    ("multiply3", lambda: cr.nn.Multiply(), _t_prod, [(2, 2, 3), (2, 2, 3), (2, 2, 3)], True),
    (
        "average",
        lambda: cr.nn.Average(),
        lambda *xs: _t_sum(*xs) / len(xs),
        [(5, 2), (5, 2), (5, 2)],
        True,
    ),
    ("maximum", lambda: cr.nn.Maximum(), _t_max, [(4, 5), (4, 5)], False),
    ("minimum3", lambda: cr.nn.Minimum(), _t_min, [(4, 5), (4, 5), (4, 5)], True),
    (
        "concat_features",
        lambda: cr.nn.Concatenate(dim=1),
        lambda *xs: torch.cat(xs, 1),
        [(4, 3), (4, 5)],
        True,
    ),
    (
        "concat_channels",
        lambda: cr.nn.Concatenate(),
        lambda *xs: torch.cat(xs, 1),
        [(2, 3, 4, 4), (2, 1, 4, 4), (2, 2, 4, 4)],
        False,
    ),
    (
        "concat_last_axis",
        lambda: cr.nn.Concatenate(axis=-1),
        lambda *xs: torch.cat(xs, -1),
        [(2, 3, 4), (2, 3, 1)],
        True,
    ),
    ("concat_single", lambda: cr.nn.Concatenate(dim=1), lambda x: x, [(3, 4)], True),
    (
        "lambda_two_args",
        lambda: cr.nn.Lambda(lambda a, b: (a * b).tanh() + a),
        lambda a, b: torch.tanh(a * b) + a,
        [(3, 4), (3, 4)],
        False,
    ),
    (
        "lambda_list",
        lambda: cr.nn.Lambda(lambda xs: xs[0].sigmoid() - xs[1] ** 2),
        lambda a, b: torch.sigmoid(a) - b**2,
        [(6,), (6,)],
        True,
    ),
]


def _inputs(shapes, dtype, rng):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _call(layer, xs, as_list):
    return layer(list(xs)) if as_list else layer(*xs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_merge_matches_torch(case, dtype, rng):
    _, make, ref, shapes, as_list = case
    arrays = _inputs(shapes, dtype, rng)
    cx = [cr.tensor(a, requires_grad=True) for a in arrays]
    tx = [to_torch(a, requires_grad=True) for a in arrays]
    out = _call(make(), cx, as_list)
    tout = ref(*tx)
    assert out.dtype == np.dtype(dtype)
    assert_close(out, tout, dtype, "forward")
    u = rng.uniform(-1, 1, size=out.shape).astype(dtype)
    (out * cr.tensor(u)).sum().backward()
    (tout * torch.from_numpy(u)).sum().backward()
    for i, (c, t) in enumerate(zip(cx, tx)):
        assert_close(c.grad, t.grad, dtype, f"grad of input {i}")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_merge_gradcheck(case, rng):
    _, make, _, shapes, as_list = case
    layer = make()
    xs = [cr.tensor(a, requires_grad=True) for a in _inputs(shapes, np.float64, rng)]
    report = cr.gradcheck(lambda *ts: _call(layer, ts, as_list), *xs, **GRADCHECK)
    assert report.passed


def test_maximum_splits_gradient_at_ties():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([1.0, 3.0], requires_grad=True)
    cr.nn.Maximum()(a, b).sum().backward()
    ta, tb = (
        torch.tensor([1.0, 2.0], requires_grad=True),
        torch.tensor([1.0, 3.0], requires_grad=True),
    )
    torch.maximum(ta, tb).sum().backward()
    assert_close(a.grad, ta.grad)
    assert_close(b.grad, tb.grad)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: cr.nn.Add()(cr.zeros(2, 3), cr.zeros(2, 4)),
            r"Add.*one shape.*\(2, 3\).*\(2, 4\)",
        ),
        (lambda: cr.nn.Multiply()(cr.zeros(2, 3), cr.zeros(2, 1)), r"Multiply.*\(2, 1\)"),
        (lambda: cr.nn.Add()(cr.zeros(2, 3)), r"Add expects at least 2 input tensors.*got 1"),
        (
            lambda: cr.nn.Subtract()(cr.zeros(2), cr.zeros(2), cr.zeros(2)),
            r"Subtract expects exactly 2.*got 3",
        ),
        (
            lambda: cr.nn.Concatenate(dim=1)([cr.zeros(2, 3), cr.zeros(3, 3)]),
            r"Concatenate\(dim=1\).*every dimension but 1.*\(2, 3\).*\(3, 3\)",
        ),
        (
            lambda: cr.nn.Concatenate(dim=2)([cr.zeros(2, 3), cr.zeros(2, 3)]),
            r"Concatenate\(dim=2\).*dim in \[-2, 1\]",
        ),
        (lambda: cr.nn.Concatenate()([cr.zeros(2, 3), cr.zeros(2, 3, 1)]), r"one rank"),
        (lambda: cr.nn.Concatenate()([]), r"Concatenate expects at least 1 input tensor"),
    ],
)
def test_merge_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_merge_type_errors():
    with pytest.raises(TypeError, match=r"Add: input 1 is a ndarray, expected a Tensor"):
        cr.nn.Add()(cr.zeros(2), np.zeros(2))
    with pytest.raises(TypeError, match="Lambda expects a callable, got int"):
        cr.nn.Lambda(3)
    with pytest.raises(TypeError, match="dim must be an int"):
        cr.nn.Concatenate(dim=1.5)


def test_merge_names_and_repr():
    assert cr.nn.Concatenate(dim=-1, name="join").name == "join"
    assert repr(cr.nn.Concatenate(dim=2)) == "Concatenate(dim=2)"

    def ink(x):
        return x.sum(dim=1)

    assert cr.nn.Lambda(ink).name == "ink"
    assert not hasattr(cr.nn.Lambda(lambda x: x), "name")
    assert cr.nn.Add(name="skip").name == "skip"
    assert list(cr.nn.Lambda(ink).state_dict()) == []
