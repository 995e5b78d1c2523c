"""The fast paths of the speed issue keep the plain formulas' results.

Each fast path lives next to its plain formula in ``src/``; these tests pin down the cases
where the two could differ (non-finite upstream gradients, buffer ownership of gradients,
in-place optimizer updates) and the process-wide allocator setting of ``chainrule.backend``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import chainrule as cr


def _glibc_linux() -> bool:
    try:
        return sys.platform.startswith("linux") and "glibc" in os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError, TypeError):
        return False


_GLIBC_LINUX = _glibc_linux()


def _malloc_tuning(env: dict[str, str]) -> dict:
    code = "import json, chainrule.backend as b; print(json.dumps(b.malloc_tuning))"
    full = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    full.pop("GLIBC_TUNABLES", None)
    full.pop("CHAINRULE_MALLOC_TUNING", None)
    full.update(env)
    out = subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


# ---- Note [malloc tuning] ----
@pytest.mark.skipif(not _GLIBC_LINUX, reason="mallopt tuning applies to Linux with glibc only")
def test_malloc_tuning_applied_on_glibc():
    info = _malloc_tuning({})
    assert info["applied"] is True
    assert info["mmap_threshold"] >= 32 << 20
    assert info["trim_threshold"] == cr.backend.MALLOC_TRIM_THRESHOLD


@pytest.mark.parametrize("value", ["0", "off", "false"])
def test_malloc_tuning_can_be_turned_off(value):
    info = _malloc_tuning({"CHAINRULE_MALLOC_TUNING": value})
    assert info == {"applied": False, "reason": "CHAINRULE_MALLOC_TUNING=0"}


@pytest.mark.skipif(not _GLIBC_LINUX, reason="mallopt tuning applies to Linux with glibc only")
def test_malloc_tuning_leaves_user_settings_alone():
    info = _malloc_tuning({"MALLOC_TRIM_THRESHOLD_": str(1 << 20)})
    assert info["applied"] is False
    assert "MALLOC_TRIM_THRESHOLD_" in info["reason"]


# ---- ReLU backward: a product with the mask, `where` for non-finite upstream gradients ----
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "upstream",
    [
        [0.5, -2.0, 3.0, 1.5, 4.0],
        [np.inf, np.nan, -np.inf, np.nan, 2.0],  # blocked positions must give exact zeros
    ],
)
def test_relu_backward_matches_torch_bitwise(dtype, upstream):
    x = np.array([-1.0, 0.0, 2.0, np.nan, -0.0], dtype)
    g = np.array(upstream, dtype)
    cx = cr.tensor(x, requires_grad=True)
    cr.relu(cx).backward(g)
    tx = torch.tensor(x, requires_grad=True)
    torch.relu(tx).backward(torch.tensor(g))
    np.testing.assert_array_equal(cx.grad.data, tx.grad.numpy())
    assert cx.grad.data.dtype == dtype


# ---- Note [gradient ownership]: leaves copy only buffers someone else can see ----
class _ReturnsView(cr.autograd.Function):
    """y = x; backward hands back a view (a transposed crop) of a fresh buffer it records."""

    made: list = []

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        buf = np.zeros((g.shape[1] + 2, g.shape[0]), g.dtype)
        buf[1:-1] = g.T
        _ReturnsView.made.append(buf)
        return (buf[1:-1].T,)


class _ReturnsSaved(cr.autograd.Function):
    """y = 2 x with a backward that returns an array it saved (legal, if unusual)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(np.full(x.shape, 2.0, x.dtype))
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        (two,) = ctx.saved_tensors
        return (two,)  # correct for an upstream of ones only: enough here


class _ReturnsInput(cr.autograd.Function):
    """y = sum-free identity whose backward returns the forward input itself (aliasing)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (x,)


def test_fresh_view_gradient_is_taken_without_copy():
    _ReturnsView.made.clear()
    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    _ReturnsView.apply(x).backward(np.ones((2, 3)))
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))
    assert np.shares_memory(x.grad.data, _ReturnsView.made[0])  # no copy was made


@pytest.mark.parametrize(
    "make",
    [
        lambda a, b: a + b,  # the same upstream array to both leaves
        lambda a, b: cr.cat([a, b], dim=1)[:, 1:4],  # views of one (fresh) buffer
        lambda a, b: (a.reshape(6) + b.reshape(6)).reshape(2, 3),
        lambda a, b: a - b,  # no sharing: a sanity check of the in-place update
    ],
)
def test_two_leaves_never_share_a_gradient_buffer(make):
    a = cr.tensor(np.ones((2, 3)), requires_grad=True)
    b = cr.tensor(np.ones((2, 3)), requires_grad=True)
    make(a, b).backward(np.full((2, 3), 3.0))
    assert not np.shares_memory(a.grad.data, b.grad.data)
    before = b.grad.data.copy()
    a.grad.data *= 0  # what an optimizer or clip_grad_norm_ does in place
    np.testing.assert_array_equal(b.grad.data, before)


def test_gradient_aliasing_a_forward_value_is_copied():
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = _ReturnsInput.apply(x)
    y.backward(np.ones(2))
    assert not np.shares_memory(x.grad.data, x.data)
    x.grad.data *= 0
    np.testing.assert_array_equal(x.data, [1.0, 2.0])


class _ReturnsKept(cr.autograd.Function):
    """y = 2 x with a backward that returns a saved array someone else keeps."""

    kept: list = []

    @staticmethod
    def forward(ctx, x):
        two = np.full(x.shape, 2.0, x.dtype)
        _ReturnsKept.kept.append(two)
        ctx.save_for_backward(two)
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        (two,) = ctx.saved_tensors
        return (two[...],)  # a view of it


def test_gradient_on_a_saved_array_is_copied():
    _ReturnsKept.kept.clear()
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    _ReturnsKept.apply(x).backward(np.ones(2))
    assert not np.shares_memory(x.grad.data, _ReturnsKept.kept[0])


def test_gradient_aliasing_a_saved_array_is_copied_with_retain_graph():
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = _ReturnsSaved.apply(x)
    y.backward(np.ones(2), retain_graph=True)
    x.grad.data *= 0  # must not reach the saved array
    x.grad = None
    y.backward(np.ones(2))
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_gradient_from_a_hook_is_copied():
    kept = []

    def hook(g):
        r = g * 1.0
        kept.append(r)
        return r

    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x + 0.0  # its backward hands the (hooked) upstream array on as it is
    y.register_hook(hook)
    (y * 3.0).backward(np.ones(2))
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    assert not np.shares_memory(x.grad.data, kept[0])


def test_conv_input_gradient_matches_torch_without_engine_copy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    g = rng.standard_normal((2, 4, 6, 5)).astype(np.float32)
    cx, cw = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
    cr.nn.functional.conv2d(cx, cw, padding=1).backward(g)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(tx, tw, padding=1).backward(torch.tensor(g))
    np.testing.assert_allclose(cx.grad.data, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cw.grad.data, tw.grad.numpy(), rtol=1e-5, atol=1e-4)
    assert not np.shares_memory(cx.grad.data, cw.grad.data)


# ---- cross_entropy: the plain (N, C) path equals the general (weighted) path bit for bit ----
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_plain_path_is_the_general_formula(dtype, reduction):
    rng = np.random.default_rng(1)
    z = (rng.standard_normal((37, 7)) * 5).astype(dtype)
    z[3] = [1e4, 0, -1e4, 0, 0, 0, 0]  # extreme logits stay finite
    t = rng.integers(0, 7, 37)
    t[3] = 2
    u = dtype(rng.uniform(0.5, 2))
    F = cr.nn.functional

    def run(weight):
        x = cr.tensor(z, requires_grad=True)
        loss = F.cross_entropy(x, cr.tensor(t), weight=weight, reduction=reduction)
        loss.backward(np.asarray(u, dtype))
        return loss.data, x.grad.data

    fast_loss, fast_grad = run(None)
    slow_loss, slow_grad = run(cr.tensor(np.ones(7, dtype)))  # the general path, a = 1
    np.testing.assert_array_equal(fast_loss, slow_loss)
    np.testing.assert_array_equal(fast_grad, slow_grad)
    assert fast_loss.dtype == dtype and fast_grad.dtype == dtype
    tx = torch.tensor(z, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.tensor(t), reduction=reduction)
    tl.backward(torch.tensor(u))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fast_loss, tl.detach().numpy(), rtol=tol)
    np.testing.assert_allclose(fast_grad, tx.grad.numpy(), rtol=tol, atol=tol)


def test_cross_entropy_plain_path_not_taken_with_ignored_labels():
    z = np.array([[1.0, 2.0], [0.5, -1.0]], np.float32)
    x = cr.tensor(z, requires_grad=True)
    cr.nn.functional.cross_entropy(x, cr.tensor([1, -100])).backward()
    tx = torch.tensor(z, requires_grad=True)
    torch.nn.functional.cross_entropy(tx, torch.tensor([1, -100])).backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-6)
    assert (x.grad.data[1] == 0).all()


# ---- gradient accumulation in place (PyTorch's AccumulateGrad) ----
def test_grad_accumulates_in_place_and_matches_torch():
    x = cr.tensor(np.array([1.0, -2.0, 3.0], np.float32), requires_grad=True)
    tx = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    (tx * tx).sum().backward()
    first = x.grad.data
    for _ in range(2):
        (x * x * x).sum().backward()
        (tx * tx * tx).sum().backward()
    assert x.grad.data is first  # the same buffer, updated in place
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-6)


def test_read_only_assigned_grad_is_not_written():
    frozen = np.ones(2, np.float32)
    frozen.flags.writeable = False
    x = cr.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    x.grad = frozen
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    np.testing.assert_array_equal(frozen, [1.0, 1.0])


# ---- Tensor.backward(gradient): no copy of the caller's array, never written ----
class _WritesUpstream(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        g *= 2  # breaks the contract: backward must not modify its upstream gradient
        return (g,)


def test_explicit_gradient_is_neither_written_nor_aliased():
    u = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    x = cr.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    (x + 0.0).backward(u)  # the upstream array itself flows to the leaf
    np.testing.assert_array_equal(x.grad.data, u)
    assert not np.shares_memory(x.grad.data, u)
    x.grad.data *= 0
    np.testing.assert_array_equal(u, [[1.0, 2.0], [3.0, 4.0]])
    assert u.flags.writeable  # the caller's array keeps its flags


def test_backward_writing_into_the_root_gradient_is_an_error():
    u = np.ones(3, np.float32)
    x = cr.tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(ValueError, match="read-only"):
        _WritesUpstream.apply(x).backward(u)
    np.testing.assert_array_equal(u, np.ones(3))


# ---- Note [sums as products with ones] ----
@pytest.mark.parametrize(
    "shape, dtype, view",
    [
        ((6, 100352), np.float32, "plain"),  # a conv's bias gradient (LeNet-5's conv1)
        ((32, 12800), np.float64, "plain"),
        ((4, 3, 500), np.float32, "plain"),  # stacked rows (batch norm's NCHW sums)
        ((64, 300), np.float32, "columns"),  # rows not contiguous: NumPy's sum
        ((8, 1000), np.float16, "plain"),  # half precision: NumPy's sum
        ((5, 0), np.float32, "plain"),  # empty rows sum to 0
    ],
)
def test_row_sums_match_numpy_sum(shape, dtype, view):
    from chainrule.ops._blas_sums import row_sums

    rng = np.random.default_rng(0)
    a = (rng.standard_normal(shape) + 3).astype(dtype)  # an offset, as activations have
    if view == "columns":
        a = a.T.copy().T  # F-ordered: the last axis has a stride of a whole column
    got = row_sums(a)
    want = a.astype(np.float64).sum(axis=-1)
    assert got.dtype == a.dtype and got.shape == shape[:-1]
    tol = {np.float16: 2e-3, np.float32: 2e-6, np.float64: 1e-12}[dtype]
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol, atol=tol)


def test_batch_norm_statistics_stable_with_a_large_offset():
    # the BLAS sums feed the mean; the variance is still the two-pass Σ (x − μ)²
    rng = np.random.default_rng(1)
    x = (1e4 + rng.standard_normal((64, 3, 10, 10))).astype(np.float32)
    out = cr.nn.functional.batch_norm(cr.tensor(x), None, None, training=True)
    ref = torch.nn.functional.batch_norm(torch.from_numpy(x), None, None, training=True)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=0, atol=2e-3)
    assert abs(float(out.numpy().std()) - 1.0) < 1e-3
