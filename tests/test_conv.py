"""Convolution ops and layers against PyTorch (float32, float64) and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule as cr
from harness import assert_close, module_gradcheck, module_parity
from op_db_conv import OPS, conv1d_samples, conv2d_samples, spec_pads, torch_conv
from opinfo import (
    generic_op_tests,
)

DTYPES = [np.float32, np.float64]


test_forward, test_vjp, test_gradcheck, test_errors = generic_op_tests(OPS)


# ---- layers ----
# (id, chainrule constructor, torch constructor, kwargs, input shape): fresh modules per test
MODULES = [
    ("Conv2d", "Conv2d", (3, 4, 3), {"padding": 1}, (2, 3, 5, 6)),
    (
        "Conv2d_s2_groups_nobias",
        "Conv2d",
        (4, 6, (3, 2)),
        {"stride": 2, "groups": 2, "bias": False},
        (2, 4, 7, 6),
    ),
    (
        "Conv2d_reflect_dil",
        "Conv2d",
        (2, 3, 3),
        {"padding": 2, "dilation": 2, "padding_mode": "reflect"},
        (1, 2, 6, 5),
    ),
    (
        "Conv2d_same_circular",
        "Conv2d",
        (2, 3, 4),
        {"padding": "same", "padding_mode": "circular"},
        (2, 2, 5, 5),
    ),
    ("Conv1d", "Conv1d", (3, 4, 3), {"stride": 2, "padding": 1}, (2, 3, 9)),
    (
        "Conv1d_replicate",
        "Conv1d",
        (2, 2, 2),
        {"padding": 1, "padding_mode": "replicate"},
        (2, 2, 5),
    ),
    ("ConvTranspose2d", "ConvTranspose2d", (3, 2, 4), {"stride": 2, "padding": 1}, (2, 3, 3, 4)),
    (
        "ConvTranspose2d_outpad_groups",
        "ConvTranspose2d",
        (4, 2, 3),
        {"stride": 2, "output_padding": 1, "groups": 2},
        (1, 4, 3, 3),
    ),
    (
        "ConvTranspose1d",
        "ConvTranspose1d",
        (2, 3, 3),
        {"stride": 3, "padding": 1, "output_padding": 2, "dilation": 2},
        (2, 2, 4),
    ),
]
MODULE_IDS = [m[0] for m in MODULES]


def _pair(cls, args, kwargs):
    return getattr(cr.nn, cls)(*args, **kwargs), getattr(torch.nn, cls)(*args, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name, cls, args, kwargs, shape", MODULES, ids=MODULE_IDS)
def test_module_parity(name, cls, args, kwargs, shape, dtype):
    x = np.random.default_rng(0).standard_normal(shape)
    module_parity(*_pair(cls, args, kwargs), [x], dtype=dtype)


@pytest.mark.parametrize("name, cls, args, kwargs, shape", MODULES, ids=MODULE_IDS)
def test_module_gradcheck(name, cls, args, kwargs, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    module_gradcheck(getattr(cr.nn, cls)(*args, **kwargs), [x])


def test_first_layer_skips_input_gradient():
    """An input that does not require grad gets none, and the weight gradient still matches."""
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6))
    module_parity(
        cr.nn.Conv2d(1, 3, 3, padding=1), torch.nn.Conv2d(1, 3, 3, padding=1), [x], input_grad=False
    )


def test_default_init_matches_pytorch_bounds():
    conv = cr.nn.Conv2d(16, 64, 3)
    fan_in = 16 * 9
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=sqrt(5)) bound = 1/sqrt(fan_in)
    w = conv.weight.numpy()
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.98 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert np.abs(conv.bias.numpy()).max() <= bound
    t = cr.nn.ConvTranspose2d(8, 4, 3)  # fan_in from weight.shape[1] = out/groups, as torch
    assert np.abs(t.weight.numpy()).max() <= 1 / math.sqrt(4 * 9)


def test_parameter_shapes_and_state_dict_keys():
    c = cr.nn.Conv2d(6, 4, (3, 5), groups=2)
    tc = torch.nn.Conv2d(6, 4, (3, 5), groups=2)
    assert c.weight.shape == tuple(tc.weight.shape)
    assert list(c.state_dict()) == list(tc.state_dict())
    t = cr.nn.ConvTranspose2d(6, 4, 3, groups=2)
    tt = torch.nn.ConvTranspose2d(6, 4, 3, groups=2)
    assert t.weight.shape == tuple(tt.weight.shape)


def test_repr():
    assert repr(cr.nn.Conv2d(1, 6, 5, padding=2)) == repr(torch.nn.Conv2d(1, 6, 5, padding=2))
    assert repr(cr.nn.Conv2d(2, 4, 3, stride=2, groups=2, bias=False)) == repr(
        torch.nn.Conv2d(2, 4, 3, stride=2, groups=2, bias=False)
    )
    assert repr(cr.nn.ConvTranspose2d(3, 2, 4, stride=2, output_padding=1)) == repr(
        torch.nn.ConvTranspose2d(3, 2, 4, stride=2, output_padding=1)
    )


@pytest.mark.parametrize("n", [5, 6, 7, 28])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_padding_modes_give_the_three_convolution_types(n, stride, dilation, k):
    """'same' gives ceil(n/stride) for every stride and dilation; 'valid' is smaller than the
    input and 'full' larger (stride 1); conv_output_shape agrees with the layer."""
    x = cr.zeros(1, 1, n, n + 1)
    w = cr.zeros(1, 1, k, k)
    span = dilation * (k - 1) + 1
    same = cr.nn.functional.conv2d(x, w, stride=stride, dilation=dilation, padding="same")
    assert same.shape[2:] == (math.ceil(n / stride), math.ceil((n + 1) / stride))
    for mode in ("valid", "full", "same", 1):
        if mode == "valid" and span > n:
            continue
        y = cr.nn.functional.conv2d(x, w, stride=stride, dilation=dilation, padding=mode)
        expect = cr.nn.conv_output_shape((n, n + 1), k, stride, mode, dilation)
        assert y.shape[2:] == expect
        if stride == 1 and span > 1:
            if mode == "valid":
                assert y.shape[2] < n
            if mode == "full":
                assert y.shape[2] > n


def test_same_with_stride1_equals_pytorch_same():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 4, 3)).astype(np.float32)
    ours = cr.nn.functional.conv2d(cr.tensor(x), cr.tensor(w), padding="same", dilation=2)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding="same", dilation=2)
    assert_close(ours, ref)


@pytest.mark.parametrize(
    "i, k, s, p, d, op",
    [(7, 3, 2, 1, 1, 1), (5, 4, 3, 0, 2, 2), (1, 1, 1, 0, 1, 0), (6, 2, 2, 2, 3, 0)],
)
def test_conv_output_shape_transposed_matches_pytorch(i, k, s, p, d, op):
    y = torch.nn.functional.conv_transpose1d(
        torch.zeros(1, 1, i),
        torch.zeros(1, 1, k),
        stride=s,
        padding=p,
        dilation=d,
        output_padding=op,
    )
    got = cr.nn.conv_output_shape(i, k, s, p, d, transposed=True, output_padding=op)
    assert got == y.shape[-1]


@pytest.mark.parametrize("i, k, s, p, d", [(28, 5, 1, 2, 1), (14, 3, 2, 0, 2), (9, 4, 3, 3, 1)])
def test_conv_output_shape_matches_pytorch(i, k, s, p, d):
    y = torch.nn.functional.conv2d(
        torch.zeros(1, 1, i, i + 2), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d
    )
    assert cr.nn.conv_output_shape((i, i + 2), k, s, p, d) == tuple(y.shape[2:])


def test_conv_transpose_output_size_argument():
    rng = np.random.default_rng(0)
    m = cr.nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)
    tm = torch.nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    y = m(cr.tensor(x), output_size=(8, 8))
    ty = tm(torch.tensor(x), output_size=(8, 8))
    assert_close(y, ty)
    with pytest.raises(ValueError, match="not reachable"):
        m(cr.tensor(x), output_size=(10, 10))


def test_layer_errors_name_the_layer():
    conv = cr.nn.Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*expected input with 3 channels.*got 1"):
        conv(cr.zeros(1, 1, 8, 8))
    for shape in ((3, 8, 8), (1, 3, 8, 8, 2)):
        with pytest.raises(ValueError, match="NCHW rank 4"):
            conv(cr.zeros(*shape))
    with pytest.raises(ValueError, match="output size would be"):
        conv(cr.zeros(1, 3, 2, 8))
    with pytest.raises(ValueError, match="'valid', 'same', 'full'"):
        cr.nn.Conv2d(3, 8, 3, padding="sme")
    with pytest.raises(ValueError, match="divisible by groups"):
        cr.nn.Conv2d(3, 8, 3, groups=2)
    with pytest.raises(ValueError, match="zeros"):
        cr.nn.ConvTranspose2d(3, 8, 3, padding_mode="reflect")
    with pytest.raises(TypeError, match="dtype"):
        conv(cr.zeros(1, 3, 8, 8, dtype="float64"))


def test_spec_pads_helper_is_the_keras_rule():
    """The test's own 'same' rule against the documented Keras numbers."""
    assert spec_pads("same", (5,), (3,), 2, 1) == [(1, 1)]
    assert spec_pads("same", (6,), (3,), 2, 1) == [(0, 1)]  # odd total: extra cell at the end
    assert spec_pads("same", (7,), (4,), 1, 1) == [(1, 2)]


def test_output_layout_is_a_view_without_transpose_copy():
    """Note [CNHW working layout]: the output is an NCHW view of a (C, N, H, W) buffer, and
    float32 stays float32 (no upcast)."""
    x = cr.randn(4, 3, 8, 8)
    y = cr.nn.Conv2d(3, 5, 3, padding=1)(x)
    assert y.dtype == np.float32
    arr = y.data
    assert arr.transpose(1, 0, 2, 3).flags.c_contiguous


@pytest.mark.parametrize("groups", [1, 2])
def test_blocked_inference_path_matches_pytorch(groups, monkeypatch):
    """Note [blocked im2col]: a large batch under no_grad goes through in cache-sized blocks
    (the last one partial); it must equal PyTorch and the unblocked training path."""
    from chainrule.ops import conv as conv_ops

    # blocks of 16 images whatever the OpenBLAS setting (8 MiB blocks where its workers sleep)
    monkeypatch.setattr(conv_ops, "_INFER_BLOCK_BYTES", 4 * 25 * 144 * 4 * 16)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((203, 4, 12, 12)).astype(np.float32)  # ~10 MB of columns
    conv = cr.nn.Conv2d(4, 6, 5, padding=2, groups=groups)
    tconv = torch.nn.Conv2d(4, 6, 5, padding=2, groups=groups)
    conv.load_state_dict({k: v.detach().numpy() for k, v in tconv.state_dict().items()})
    with cr.no_grad():
        y = conv(cr.tensor(x))
    with torch.no_grad():
        ty = tconv(torch.tensor(x))
    assert_close(y, ty)
    np.testing.assert_allclose(y.numpy(), conv(cr.tensor(x)).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dilation", [1, 2])
def test_blocked_input_gradient_matches_pytorch_and_unblocked(monkeypatch, dilation):
    """Note [blocked col2im]: with the threshold lowered so a small convolution takes it, the
    input gradient computed in image blocks (the last one partial) equals PyTorch's and the
    one-GEMM path's; the weight and bias gradients are untouched."""
    from chainrule.ops import conv as conv_ops

    rng = np.random.default_rng(1)
    x = rng.standard_normal((37, 3, 9, 9)).astype(np.float32)
    g = rng.standard_normal((37, 4, 9 - 2 * (dilation - 1), 9 - 2 * (dilation - 1)))
    conv = cr.nn.Conv2d(3, 4, 3, padding=1, dilation=dilation)
    tconv = torch.nn.Conv2d(3, 4, 3, padding=1, dilation=dilation)
    conv.load_state_dict({k: v.detach().numpy() for k, v in tconv.state_dict().items()})
    tx = torch.tensor(x, requires_grad=True)
    tconv(tx).backward(torch.tensor(g, dtype=torch.float32))

    def input_grad() -> np.ndarray:
        cx = cr.tensor(x, requires_grad=True)
        conv(cx).backward(g.astype(np.float32))
        return cx.grad.numpy()

    one_gemm = input_grad()
    monkeypatch.setattr(conv_ops, "_BLOCK_BYTES", 3 * 4 * 9 * 11 * 5)  # blocks of 5 images
    monkeypatch.setattr(conv_ops, "_BLOCKED_DX_MIN_BYTES", 0)
    blocked = input_grad()
    np.testing.assert_allclose(blocked, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(blocked, one_gemm, rtol=1e-6, atol=1e-6)


# ---- Note [convolution backward in tasks]: image blocks shared by two threads ----
_TASK_SAMPLES = [
    pytest.param(nd, s, id=f"conv{nd}d-{s.name}")
    for nd, gen in ((2, conv2d_samples), (1, conv1d_samples))
    for s in gen(np.random.default_rng(3))
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("nd, sample", _TASK_SAMPLES)
def test_conv_in_tasks_matches_pytorch(nd, sample, dtype, blas_tasks, monkeypatch):
    """Every table sample with the tasks turned on at any size and one image per block: the
    output and the gradients of input, weight and bias equal PyTorch's (groups-1 samples take
    the task path, the others the usual one, which this also checks is unaffected)."""
    from chainrule.ops import conv as conv_ops

    monkeypatch.setattr(conv_ops, "_BLOCK_BYTES", 1)
    args = [None if a is None else np.asarray(a, dtype=dtype) for a in sample.args]
    rng = np.random.default_rng(0)
    cin = [None if a is None else cr.tensor(a, requires_grad=True) for a in args]
    tin = [None if a is None else torch.tensor(a, requires_grad=True) for a in args]
    fn = cr.nn.functional.conv2d if nd == 2 else cr.nn.functional.conv1d
    y = fn(*cin, **sample.kwargs)
    ty = torch_conv(nd)(*tin, **sample.torch_kwargs)
    assert_close(y, ty, np.dtype(dtype), "output")
    u = rng.uniform(-1, 1, ty.shape).astype(dtype)
    (y * cr.tensor(u)).sum().backward()
    (ty * torch.tensor(u)).sum().backward()
    for name, c, t in zip(("input", "weight", "bias"), cin, tin):
        if c is not None:
            assert_close(c.grad, t.grad, np.dtype(dtype), f"grad of {name}")
    stride = sample.kwargs.get("stride", 1)
    pointwise = all(k == 1 for k in args[1].shape[2:]) and stride in (1, (1, 1), (1,))
    assert any(blas_tasks) == (sample.kwargs.get("groups", 1) == 1 and not pointwise)


@pytest.mark.parametrize("frozen", ["weight", "bias", "both"])
def test_conv_in_tasks_with_frozen_parameters(frozen, blas_tasks, monkeypatch):
    """The task path's block sums with one of ∂C/∂W, ∂C/∂b not wanted (bias-only blocks)."""
    from chainrule.ops import conv as conv_ops

    monkeypatch.setattr(conv_ops, "_BLOCK_BYTES", 1)  # one image per block
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 3, 6, 7)).astype(np.float32)
    u = rng.uniform(-1, 1, (5, 4, 6, 7)).astype(np.float32)
    conv, tconv = cr.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Conv2d(3, 4, 3, padding=1)
    conv.load_state_dict({k: v.detach().numpy() for k, v in tconv.state_dict().items()})
    for name in ("weight", "bias") if frozen == "both" else (frozen,):
        getattr(conv, name).requires_grad_(False)
        getattr(tconv, name).requires_grad_(False)
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (conv(cx) * cr.tensor(u)).sum().backward()
    (tconv(tx) * torch.tensor(u)).sum().backward()
    assert_close(cx.grad, tx.grad, np.dtype("float32"), "grad of input")
    for name in ("weight", "bias"):
        c, t = getattr(conv, name), getattr(tconv, name)
        if t.requires_grad:
            assert_close(c.grad, t.grad, np.dtype("float32"), f"grad of {name}")
        else:
            assert c.grad is None
    assert any(blas_tasks)
