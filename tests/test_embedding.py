"""Embedding (op and layer) against PyTorch and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as F
from harness import assert_close, module_gradcheck, module_parity
from opinfo import (
    ErrorInput,
    OpInfo,
    SampleInput,
    generic_op_tests,
)

DTYPES = [np.float32, np.float64]


def _idx(rng, high, *shape):
    return rng.integers(0, high, size=shape)


def embedding_samples(rng):
    S = SampleInput
    yield S("vector", _idx(rng, 5, 7), rng.standard_normal((5, 3)))
    yield S("repeated_2d", np.array([[1, 1, 4], [4, 1, 0]]), rng.standard_normal((6, 4)))
    yield S("batch_3d", _idx(rng, 8, 2, 3, 4), rng.standard_normal((8, 2)))
    # padding_idx (and scale_grad_by_freq) change the gradient by definition (it is not the
    # true derivative): checked against PyTorch, not finite differences
    yield S(
        "padding_idx",
        np.array([[0, 2, 0], [3, 2, 1]]),
        rng.standard_normal((4, 3)),
        padding_idx=0,
        gradcheck=False,
    )
    yield S(
        "negative_padding_idx",
        np.array([3, 2, 3, 1]),
        rng.standard_normal((4, 3)),
        padding_idx=-1,
        gradcheck=False,
    )
    yield S(
        "scale_grad_by_freq",
        np.array([1, 1, 1, 2, 0, 2]),
        rng.standard_normal((3, 2)),
        scale_grad_by_freq=True,
        gradcheck=False,
    )  # a rescaled gradient by definition
    yield S("int32_indices", np.array([2, 0, 2], dtype=np.int32), rng.standard_normal((3, 2)))
    yield S("empty", np.zeros((0,), dtype=np.int64), rng.standard_normal((3, 2)))


def embedding_errors():
    S = SampleInput
    w = np.zeros((10, 3))
    yield ErrorInput(
        S("too_big", np.array([[1, 2], [12, 3]]), w),
        IndexError,
        r"index 12 at position \(1, 0\).*0 to 9",
    )
    yield ErrorInput(S("negative", np.array([-1]), w), IndexError, "index -1")
    yield ErrorInput(S("float_idx", np.array([1.0]), w), TypeError, "integers")
    yield ErrorInput(S("weight_rank", np.array([1]), np.zeros(3)), ValueError, "2-D")


OPS = [OpInfo("embedding", F.embedding, TF.embedding, embedding_samples, embedding_errors)]


test_forward, test_vjp, test_gradcheck, test_errors = generic_op_tests(
    OPS, grad_filter=lambda p: "empty" not in p.id
)


MODULES = [
    ((10, 4), {}),
    ((10, 4), {"padding_idx": 2}),
    ((6, 3), {"scale_grad_by_freq": True, "padding_idx": -1}),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("args, kwargs", MODULES)
def test_module_parity(args, kwargs, dtype):
    idx = np.random.default_rng(0).integers(0, args[0], size=(3, 5))
    module_parity(
        cr.nn.Embedding(*args, **kwargs), torch.nn.Embedding(*args, **kwargs), [idx], dtype=dtype
    )


@pytest.mark.parametrize("args, kwargs", [m for m in MODULES if "padding_idx" not in m[1]])
def test_module_gradcheck(args, kwargs):
    idx = np.random.default_rng(1).integers(0, args[0], size=(2, 4))
    module_gradcheck(cr.nn.Embedding(*args, **kwargs), [idx])


def test_max_norm_renormalises_used_rows_like_pytorch():
    w = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32) * 3
    idx = np.array([[0, 2], [2, 5]])
    m = cr.nn.Embedding(6, 3, max_norm=1.5, norm_type=3.0, _weight=w.copy())
    tm = torch.nn.Embedding(6, 3, max_norm=1.5, norm_type=3.0, _weight=torch.tensor(w.copy()))
    y = m(cr.tensor(idx))
    ty = tm(torch.tensor(idx))
    assert_close(y, ty)
    assert_close(m.weight, tm.weight)  # unused rows untouched, used rows shrunk in place


def test_padding_row_starts_at_zero_and_never_gets_gradient():
    m = cr.nn.Embedding(5, 3, padding_idx=1)
    np.testing.assert_array_equal(m.weight.numpy()[1], 0)
    m(cr.tensor([1, 1, 2])).sum().backward()
    np.testing.assert_array_equal(m.weight.grad.numpy()[1], 0)
    np.testing.assert_array_equal(m.weight.grad.numpy()[2], 1)


def test_repeated_indices_accumulate_exactly():
    """The segment-sum backward equals the dense one-hot product onehot(x)ᵀ G."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 50, size=2000)
    g = rng.standard_normal((2000, 8))
    w = cr.tensor(rng.standard_normal((50, 8)), requires_grad=True)
    F.embedding(cr.tensor(idx), w).backward(cr.tensor(g))
    onehot = np.eye(50)[idx]
    np.testing.assert_allclose(w.grad.numpy(), onehot.T @ g, rtol=1e-10, atol=1e-10)


def test_from_pretrained_and_repr():
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    m = cr.nn.Embedding.from_pretrained(w)
    assert not m.weight.requires_grad
    np.testing.assert_array_equal(m(cr.tensor([3])).numpy(), w[[3]])
    assert repr(cr.nn.Embedding(10, 3, padding_idx=0)) == repr(
        torch.nn.Embedding(10, 3, padding_idx=0)
    )
    assert repr(cr.nn.Embedding(10, 3, max_norm=1.0, scale_grad_by_freq=True)) == repr(
        torch.nn.Embedding(10, 3, max_norm=1.0, scale_grad_by_freq=True)
    )


def test_layer_index_error():
    with pytest.raises(IndexError, match="out of range for a table of 10 rows"):
        cr.nn.Embedding(10, 2)(cr.tensor([0, 10]))
    with pytest.raises(ValueError, match="padding_idx"):
        cr.nn.Embedding(10, 2, padding_idx=10)


def test_from_pretrained_names_the_shape():
    with pytest.raises(
        ValueError, match=r"from_pretrained: embeddings must be 2-D .* got shape \(4,\)"
    ):
        cr.nn.Embedding.from_pretrained(np.zeros(4, np.float32))
