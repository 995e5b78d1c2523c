"""The backward engine: accumulation, shared sub-expressions, deep graphs, graph freeing,
gradient modes, detach, hooks and the errors of misuse. Values are checked against PyTorch."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

import chainrule as cr
from harness import assert_close


def _pair(values, dtype=np.float64):
    a = np.asarray(values, dtype=dtype)
    return cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


# ---- accumulation and graph shape ----
def test_grad_accumulates_across_backward_calls():
    x, tx = _pair([1.0, -2.0, 3.0])
    for _ in range(3):
        (x * x).sum().backward()
        (tx * tx).sum().backward()
    assert_close(x.grad, tx.grad)
    np.testing.assert_allclose(np.asarray(x.grad), 3 * 2 * np.array([1.0, -2.0, 3.0]))


def test_zeroing_grad_restarts_accumulation():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    x.grad = None
    (x * 5).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [5.0, 5.0])


def test_shared_subexpressions_match_torch():
    def f(x, lib):
        y = lib.tanh(x) * x  # y feeds four paths
        z = y * y + lib.exp(y) - y / (1 + y * y)
        return (z * y).sum() + y.sum()

    x, tx = _pair([0.3, -1.2, 0.8, 2.0])
    f(x, cr).backward()
    f(tx, torch).backward()
    assert_close(x.grad, tx.grad)


def test_same_leaf_used_twice_in_one_op():
    x, tx = _pair([[1.0, 2.0], [3.0, 4.0]])
    (x @ x).sum().backward()
    (tx @ tx).sum().backward()
    assert_close(x.grad, tx.grad)


def test_diamond_graph_with_broadcast():
    x, tx = _pair([[0.5], [1.5]])  # (2, 1) broadcast against (3,) on two paths
    b, tb = _pair([1.0, -1.0, 2.0])
    ((x + b) * (x - b)).sum().backward()
    ((tx + tb) * (tx - tb)).sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(b.grad, tb.grad)


def test_deep_chain_10000_ops_no_recursion_error():
    x = cr.tensor([0.5, -0.25], requires_grad=True, dtype="float64")
    y = x
    for _ in range(5000):
        y = y * 1.0001
        y = y - 0.0001
    y.sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), np.full(2, 1.0001**5000), rtol=1e-10)


def test_deep_chain_without_backward_is_freed():
    x = cr.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20000):
        y = y + 1.0
    ref = weakref.ref(y)
    del y  # deallocating a 20,000-node chain must not overflow the C stack
    gc.collect()
    assert ref() is None


# ---- graph freeing ----
def test_second_backward_raises_clear_error():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x, tx = _pair([1.0, 2.0])
    y, ty = (x.exp() * x).sum(), (tx.exp() * tx).sum()
    y.backward(retain_graph=True)
    y.backward()
    ty.backward(retain_graph=True)
    ty.backward()
    assert_close(x.grad, tx.grad)


def _saved_array_ref(retain: bool):
    x = cr.tensor(np.linspace(-1, 1, 1000), requires_grad=True)
    h = (x * 2.0).exp()  # Exp saves its output array, Mul below saves h's array
    ref = weakref.ref(h.data)
    loss = (h * h).sum()
    del h
    loss.backward(retain_graph=retain)
    gc.collect()
    return ref, loss


def test_saved_arrays_released_after_backward():
    ref, loss = _saved_array_ref(retain=False)
    assert ref() is None, "an intermediate array is still referenced by the freed graph"
    assert loss.grad_fn is not None  # the output itself stays usable


def test_saved_arrays_kept_with_retain_graph():
    ref, loss = _saved_array_ref(retain=True)
    assert ref() is not None
    del loss
    gc.collect()
    assert ref() is None


# ---- gradient modes ----
def test_no_grad_records_nothing():
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        y = x * 2
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_enable_grad_inside_no_grad():
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        with cr.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_set_grad_enabled_context_and_call():
    x = cr.tensor([1.0], requires_grad=True)
    with cr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    with cr.set_grad_enabled(True):
        assert (x * 2).requires_grad
    cr.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        cr.set_grad_enabled(True)


def test_no_grad_decorator_and_exception_restore_mode():
    @cr.no_grad()
    def f(t):
        return t * 2

    x = cr.tensor([1.0], requires_grad=True)
    assert not f(x).requires_grad
    assert cr.is_grad_enabled()
    with pytest.raises(ValueError, match="boom"):
        with cr.no_grad():
            raise ValueError("boom")
    assert cr.is_grad_enabled()


# ---- detach, requires_grad ----
def test_detach_shares_data_and_cuts_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 3).detach()
    assert not d.requires_grad and d.grad_fn is None
    y = x * 3
    (y.detach() * y).sum().backward()  # only the second factor carries gradient
    np.testing.assert_array_equal(np.asarray(x.grad), [9.0, 18.0])
    e = x.detach()
    assert np.shares_memory(e.data, x.data)


def test_requires_grad_on_int_tensor_errors():
    t = cr.tensor([1, 2])
    with pytest.raises(RuntimeError, match="only tensors of floating dtype.*int64"):
        t.requires_grad_()
    with pytest.raises(RuntimeError, match="floating dtype"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating dtype"):
        t.requires_grad = True


def test_backward_through_integer_tensor_errors():
    x = cr.tensor([1.5, 2.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="cannot differentiate a tensor of dtype int64"):
        x.long().sum().backward()
    with pytest.raises(RuntimeError, match="dtype bool"):
        (x > 2).backward()
    assert not x.argmax().requires_grad


def test_integer_input_gets_no_gradient_float_path_does():
    x = cr.tensor([1.5, 2.5], requires_grad=True)
    idx = cr.tensor([1, 0])
    (x * idx).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [1.0, 0.0])
    assert idx.grad is None


def test_backward_without_requires_grad_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor([1.0, 2.0]).sum().backward()


def test_turning_off_requires_grad_on_non_leaf_errors():
    y = cr.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf tensors; use .detach"):
        y.requires_grad_(False)


# ---- backward arguments ----
def test_backward_non_scalar_needs_gradient():
    y = cr.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"implicitly created only for scalar.*\(2,\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\), expected \(2,\)"):
        y.backward(np.ones(3))


def test_backward_gradient_forms_and_dtype():
    x, tx = _pair([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    g = np.array([[0.5, -1.0], [2.0, 0.25]])  # float64 upstream is cast to the output's dtype
    (x * x).backward(g)
    (tx * tx).backward(torch.tensor(g, dtype=torch.float32))
    assert x.grad.dtype == np.float32
    assert_close(x.grad, tx.grad)
    x.grad = None
    (x * x).backward(cr.tensor(g.tolist()))
    assert_close(x.grad, tx.grad)


def test_single_element_non_scalar_backward():
    x = cr.tensor([[3.0]], requires_grad=True)
    (x * x).backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [[6.0]])


def test_user_gradient_array_is_not_modified_or_aliased():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    g = np.array([1.0, 1.0], dtype=np.float32)
    x.backward(g)  # a leaf: the gradient lands directly in .grad
    assert not np.shares_memory(np.asarray(x.grad.data), g)
    x.grad.data *= 10
    np.testing.assert_array_equal(g, [1.0, 1.0])


# ---- leaf gradients own their memory ----
def test_leaf_grads_never_alias_each_other():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    c = cr.tensor([5.0, 6.0], requires_grad=True)
    (a + b + c.reshape(2)).sum().backward()  # Add hands the same upstream array to both inputs
    arrays = [np.asarray(t.grad.data) for t in (a, b, c)]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.shares_memory(arrays[i], arrays[j])
    a.grad.data *= 0  # what an optimizer or clip_grad_norm_ may do in place
    np.testing.assert_array_equal(np.asarray(b.grad), [1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(c.grad), [1.0, 1.0])


def test_leaf_grad_is_writeable_and_not_a_view():
    x = cr.tensor([[1.0, 2.0]], requires_grad=True)
    x.sum().backward()  # Sum's backward returns a read-only broadcast view
    g = x.grad.data
    assert g.flags.writeable and g.base is None
    g *= 2
    np.testing.assert_array_equal(np.asarray(x.grad), [[2.0, 2.0]])


def test_np_asarray_of_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    a = np.asarray(x.grad)
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    np.testing.assert_array_equal(a, [3.0, 3.0])
    np.testing.assert_array_equal(np.asarray(x.grad, dtype=np.float64), [3.0, 3.0])


# ---- retain_grad and hooks ----
def test_retain_grad_on_intermediate_matches_torch():
    x, tx = _pair([0.5, -1.0])
    h, th = x * x, tx * tx
    h.retain_grad()
    th.retain_grad()
    (h.sin() * 3).sum().backward()
    (th.sin() * 3).sum().backward()
    assert_close(h.grad, th.grad)
    assert_close(x.grad, tx.grad)


def test_intermediate_grad_is_none_without_retain_grad():
    x = cr.tensor([0.5], requires_grad=True)
    h = x * x
    (h * 2).sum().backward()
    assert h.grad is None
    h2 = x * 2
    h2.retain_grad()
    assert x.grad is not None
    x.retain_grad()  # no-op on a leaf


def test_register_hook_on_leaf_replaces_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.copy()))
    x.register_hook(lambda g: g * 10)
    (x * x).sum().backward()
    np.testing.assert_array_equal(seen[0], [2.0, 4.0])
    np.testing.assert_array_equal(np.asarray(x.grad), [20.0, 40.0])


def test_register_hook_on_intermediate_matches_torch():
    x, tx = _pair([0.5, -1.0, 2.0])
    h, th = x.exp(), tx.exp()
    h.register_hook(lambda g: g * 2 + 1)
    th.register_hook(lambda g: g * 2 + 1)
    h.retain_grad()
    th.retain_grad()
    (h * h).sum().backward()
    (th * th).sum().backward()
    assert_close(x.grad, tx.grad)
    assert_close(h.grad, th.grad)


# ---- Function contract ----
class _WrongShape(cr.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, gy):
        return (gy.sum(keepdims=True),)


def test_backward_returning_wrong_shape_is_caught():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"_WrongShape.backward returned a gradient of shape"):
        _WrongShape.apply(x).sum().backward()


class _Scale(cr.Function):
    @staticmethod
    def forward(ctx, x, y, factor, *, shift=0.0):
        ctx.factor = factor
        ctx.seen = ctx.needs_input_grad
        return x * y * factor + shift

    @staticmethod
    def backward(ctx, g):
        return None, None, None  # never called for inputs that need no gradient


def test_needs_input_grad_and_passthrough_arguments():
    x = cr.tensor([1.0], requires_grad=True)
    y = cr.tensor([2.0])
    out = _Scale.apply(x, y, 3.0, shift=1.0)
    assert out.grad_fn.seen == (True, False, False)
    np.testing.assert_array_equal(out.numpy(), [7.0])
    with cr.no_grad():
        assert _Scale.apply(x, y, 3.0).grad_fn is None


def test_leaf_without_requires_grad_in_graph_gets_no_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = cr.tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(np.asarray(x.grad), [3.0, 4.0])
