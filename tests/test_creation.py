"""Tensor factories (chainrule.creation): shapes, dtypes and argument forms as torch's, seeded
draws, and clear errors where torch refuses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

# (chainrule call, torch call): same arguments, compared by shape and dtype
FACTORIES = [
    ("zeros(2, 3)", lambda m: m.zeros(2, 3)),
    ("zeros((2, 3))", lambda m: m.zeros((2, 3))),
    ("ones(4)", lambda m: m.ones(4)),
    ("full((2,), 1.5)", lambda m: m.full((2,), 1.5)),
    ("full((2,), 3)", lambda m: m.full((2,), 3)),
    ("full((2,), True)", lambda m: m.full((2,), True)),
    ("arange(5)", lambda m: m.arange(5)),
    ("arange(0.0, 1.0, 0.25)", lambda m: m.arange(0.0, 1.0, 0.25)),
    ("linspace(0, 1, 5)", lambda m: m.linspace(0, 1, 5)),
    ("eye(3)", lambda m: m.eye(3)),
    ("eye(2, 4)", lambda m: m.eye(2, 4)),
    ("rand(2, 3)", lambda m: m.rand(2, 3)),
    ("randn(3)", lambda m: m.randn(3)),
    ("randint(10, (2, 3))", lambda m: m.randint(10, (2, 3))),
    ("randint(2, 10, (4,))", lambda m: m.randint(2, 10, (4,))),
    ("randperm(6)", lambda m: m.randperm(6)),
]


@pytest.mark.parametrize("call", [f for _, f in FACTORIES], ids=[n for n, _ in FACTORIES])
def test_shapes_and_dtypes_match_torch(call):
    ours, theirs = call(cr), call(torch)
    assert ours.shape == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")


def test_deterministic_values_match_torch():
    np.testing.assert_array_equal(cr.arange(0.0, 1.0, 0.25).numpy(), torch.arange(0.0, 1.0, 0.25))
    # torch steps in float32 (0 comes out as -3e-8); chainrule rounds float64 values once
    np.testing.assert_allclose(cr.linspace(-1, 1, 7).numpy(), torch.linspace(-1, 1, 7), atol=1e-7)
    np.testing.assert_array_equal(cr.eye(2, 4).numpy(), torch.eye(2, 4).numpy())


def test_like_factories_keep_shape_and_dtype():
    x = cr.ones(2, 3, dtype="float64")
    for f in (cr.zeros_like, cr.ones_like, cr.rand_like, cr.randn_like):
        y = f(x)
        assert y.shape == (2, 3) and y.dtype == np.float64, f.__name__
    assert cr.full_like(x, 7).numpy().tolist() == [[7.0] * 3] * 2
    assert cr.zeros_like(x, dtype="float32").dtype == np.float32
    assert cr.randn_like(x, requires_grad=True).requires_grad


def test_random_factories_are_seeded():
    cr.manual_seed(3)
    a = (cr.rand(4), cr.randn(4), cr.randint(9, (4,)), cr.randperm(4))
    cr.manual_seed(3)
    b = (cr.rand(4), cr.randn(4), cr.randint(9, (4,)), cr.randperm(4))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u.numpy(), v.numpy())
    g = cr.Generator(5)
    first = cr.rand(3, generator=g).numpy()
    np.testing.assert_array_equal(first, cr.rand(3, generator=cr.Generator(5)).numpy())
    r = cr.randint(2, 5, (1000,)).numpy()
    assert r.min() == 2 and r.max() == 4


def test_errors_where_torch_refuses():
    # random floats in an integer dtype would silently be zeros
    with pytest.raises(TypeError, match="rand: random floats need a floating dtype.*int64"):
        cr.rand(3, dtype="int64")
    with pytest.raises(TypeError, match="randn: .*floating dtype"):
        cr.randn(3, dtype=cr.int32)
    with pytest.raises(TypeError, match="rand_like: .*got int64.*chainrule.randint"):
        cr.rand_like(cr.tensor([1, 2]))
    with pytest.raises(ValueError, match="randint: expected low < high, got low=5, high=2"):
        cr.randint(5, 2, (3,))
    with pytest.raises(ValueError, match="sizes must be non-negative"):
        cr.zeros(2, -1)
    with pytest.raises(TypeError, match="from_numpy expects a numpy.ndarray, got list"):
        cr.from_numpy([1, 2])
