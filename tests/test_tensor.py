"""Tensor construction, dtype inference and promotion (checked against PyTorch's own rules),
errors that name the op and both shapes, comparisons, conversions, repr, and the method
spellings (``dim=``/``axis=``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

T2N = {
    torch.float16: np.float16,
    torch.float32: np.float32,
    torch.float64: np.float64,
    torch.int8: np.int8,
    torch.int16: np.int16,
    torch.int32: np.int32,
    torch.int64: np.int64,
    torch.uint8: np.uint8,
    torch.bool: np.bool_,
}


# ---- dtype inference: like torch.tensor ----
DATA = [
    pytest.param(1.5, id="py_float"),
    pytest.param(2, id="py_int"),
    pytest.param(True, id="py_bool"),
    pytest.param([1, 2.5], id="mixed_list"),
    pytest.param([[1, 2], [3, 4]], id="int_nested"),
    pytest.param([True, False], id="bool_list"),
    pytest.param([], id="empty_list"),
    pytest.param(np.array([1.0, 2.0]), id="np_float64"),
    pytest.param(np.array([1.0], dtype=np.float16), id="np_float16"),
    pytest.param(np.array([1, 2], dtype=np.int32), id="np_int32"),
    pytest.param(np.array([1, 2], dtype=np.uint8), id="np_uint8"),
    pytest.param(np.array([True]), id="np_bool"),
    pytest.param(np.float64(1.0), id="np_scalar_float64"),
    pytest.param(np.int32(3), id="np_scalar_int32"),
]


@pytest.mark.parametrize("data", DATA)
def test_dtype_inference_matches_torch_tensor(data):
    t, ref = cr.tensor(data), torch.tensor(data)
    assert t.dtype == T2N[ref.dtype], f"{data!r}: {t.dtype} vs torch {ref.dtype}"
    assert t.shape == tuple(ref.shape)
    np.testing.assert_array_equal(t.numpy(), ref.numpy())


def test_default_dtype_float64_changes_python_float_inference():
    cr.set_default_dtype("float64")
    try:
        assert cr.tensor([1.5]).dtype == np.float64
        assert cr.ones(2).dtype == np.float64
        assert (cr.tensor([1, 2]) * 0.5).dtype == np.float64
        assert cr.tensor(np.array([1.0], dtype=np.float32)).dtype == np.float32
    finally:
        cr.set_default_dtype("float32")
    assert cr.tensor([1.5]).dtype == np.float32
    with pytest.raises(TypeError, match="float32 or float64"):
        cr.set_default_dtype("int64")


def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0])
    t = cr.tensor(a)
    a[0] = 9
    assert t.tolist() == [1.0, 2.0]
    u = cr.tensor(t)
    u.data[1] = 7
    assert t.tolist() == [1.0, 2.0]
    assert np.shares_memory(cr.from_numpy(a).data, a)


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("float32", np.float32),
        ("float", np.float32),
        ("double", np.float64),
        ("torch.float64", np.float64),
        ("long", np.int64),
        ("int", np.int32),
        ("bool", np.bool_),
        (torch.float64, np.float64),
        (np.float32, np.float32),
        (cr.float64, np.float64),
        (cr.long, np.int64),
    ],
)
def test_dtype_specs(spec, expected):
    assert cr.tensor([1], dtype=spec).dtype == expected
    assert cr.zeros(2, dtype=spec).dtype == expected


def test_unknown_dtype_errors():
    with pytest.raises(TypeError, match=r"unknown dtype 'float33'; expected one of \[.*float32"):
        cr.tensor([1.0], dtype="float33")
    with pytest.raises(TypeError, match="unknown dtype 'cuda_half'"):
        cr.zeros(2, dtype="cuda_half")
    with pytest.raises(TypeError, match="unknown dtype 'floaty'"):
        cr.tensor([1.0]).to("floaty")
    with pytest.raises(TypeError, match="complex128 is not supported"):
        cr.tensor([1.0], dtype=np.complex128)


def test_unsupported_data_errors():
    with pytest.raises(TypeError, match="cannot build a tensor from data of dtype <U1"):
        cr.tensor(["a"])
    with pytest.raises(TypeError, match="complex128"):
        cr.tensor(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="uint16 is not supported"):
        cr.tensor(np.array([1], dtype=np.uint16))


# ---- promotion: compared with torch.result_type on the same operands ----
def _operand(spec):
    """('t', dtype, ndim) -> a tensor pair; a Python or NumPy scalar stays as it is."""
    if isinstance(spec, tuple):
        _, dtype, ndim = spec
        arr = np.ones((2,) * ndim, dtype=dtype)
        return cr.tensor(arr), torch.from_numpy(arr.copy())
    return spec, spec


def _is_bool(spec):
    return spec[1] is np.bool_ if isinstance(spec, tuple) else isinstance(spec, bool)


PROMOTION = [
    (("t", np.float32, 1), 2.5),
    (("t", np.float32, 1), 2),
    (("t", np.float32, 1), True),
    (("t", np.float16, 1), 2.5),
    (("t", np.int64, 1), 2.5),
    (("t", np.int64, 1), 2),
    (("t", np.int32, 1), 2),
    (("t", np.int32, 1), 2.5),
    (("t", np.uint8, 1), 3),
    (("t", np.bool_, 1), 1),
    (("t", np.bool_, 1), 1.5),
    (("t", np.float32, 1), np.float64(2.0)),
    (("t", np.int64, 1), np.float32(2.5)),
    (("t", np.float32, 1), ("t", np.float64, 1)),
    (("t", np.float64, 2), ("t", np.float32, 1)),
    (("t", np.int32, 1), ("t", np.int64, 1)),
    (("t", np.uint8, 1), ("t", np.int8, 1)),
    (("t", np.int64, 1), ("t", np.float32, 1)),
    (("t", np.bool_, 1), ("t", np.float32, 1)),
    (("t", np.float32, 1), ("t", np.float64, 0)),  # a 0-d tensor does not widen
    (("t", np.int32, 2), ("t", np.int64, 0)),
    (("t", np.int64, 1), ("t", np.float64, 0)),  # ... unless it is of a higher kind
    (("t", np.float32, 0), ("t", np.float64, 0)),
]


PROMOTION_CASES = [
    pytest.param(a, b, op, id=f"{a}-{b}-{op}")
    for a, b in PROMOTION
    for op in ("add", "sub", "mul", "truediv")
    if not (op == "sub" and (_is_bool(a) or _is_bool(b)))  # torch refuses bool subtraction
]


@pytest.mark.parametrize("a, b, op", PROMOTION_CASES)
def test_promotion_matches_torch(a, b, op):
    import operator

    fn = getattr(operator, op)
    ca, ta = _operand(a)
    cb, tb = _operand(b)
    for x, y, tx, ty in ((ca, cb, ta, tb), (cb, ca, tb, ta)):  # both operand orders
        if not isinstance(x, cr.Tensor) and not isinstance(y, cr.Tensor):
            continue
        try:
            expected = fn(tx, ty)
        except RuntimeError:
            with pytest.raises((TypeError, RuntimeError, ValueError)):
                fn(x, y)
            continue
        got = fn(x, y)
        assert got.dtype == T2N[expected.dtype], f"{x!r} {op} {y!r}"
        np.testing.assert_allclose(got.numpy(), expected.numpy())


def test_promotion_of_other_binary_ops():
    f32, f64 = cr.ones(3), cr.ones(3, dtype="float64")
    i64 = cr.tensor([1, 2, 3])
    assert cr.maximum(f32, f64).dtype == np.float64
    assert cr.maximum(i64, 0.5).dtype == np.float32
    assert cr.where(i64 > 1, f32, 0.0).dtype == np.float32
    assert cr.where(i64 > 1, 1.0, 0.0).dtype == np.float32  # as torch.where
    assert cr.where(i64 > 1, 1, 0).dtype == np.int64
    assert (f32 @ f64).dtype == np.float64
    assert (i64**2).dtype == np.int64
    assert (i64**0.5).dtype == np.float32
    assert (2**i64).dtype == np.int64
    assert (2.0**i64).dtype == np.float32
    assert cr.cat([i64, f32]).dtype == np.float32


def test_division_of_integers_gives_default_float():
    a, b = cr.tensor([3, 4]), cr.tensor([2, 8])
    assert (a / b).dtype == np.float32
    np.testing.assert_allclose((a / b).numpy(), [1.5, 0.5])
    assert (a / 2).dtype == np.float32
    assert (7 / a).dtype == np.float32


def test_python_scalars_never_widen():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for y in (
        x * 2.5,
        2.5 * x,
        x + 1,
        x / 3.0,
        1.0 - x,
        x**2,
        x**0.5,
        2.0**x,
        -x,
        x * np.float64(2),
    ):
        assert y.dtype == np.float32
    y = (x * 1e-3 + 1.0) / 7.0
    y.sum().backward()
    assert x.grad.dtype == np.float32


# ---- errors name the op and both shapes ----
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": cr.maximum,
    "minimum": cr.minimum,
    "pow": lambda a, b: a**b,
}


@pytest.mark.parametrize("name", list(BINARY))
def test_shape_mismatch_names_op_and_shapes(name):
    a, b = cr.ones(2, 3), cr.ones(4, 1, 2)
    with pytest.raises(ValueError, match=rf"{name}.*\(2,3\).*\(4,1,2\)"):
        BINARY[name](a, b)


def test_shape_mismatch_other_ops():
    with pytest.raises(ValueError, match=r"where.*\(2,3\).*\(4,\)"):
        cr.where(cr.ones(2, 3) > 0, cr.ones(2, 3), cr.ones(4))
    with pytest.raises(ValueError, match=r"matmul: shapes cannot be multiplied \(2x3 and 2x3\)"):
        cr.ones(2, 3) @ cr.ones(2, 3)
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\)"):
        cr.ones(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match=r"sizes of tensors must match.*\(2, 3\).*\(2, 4\)"):
        cr.cat([cr.ones(2, 3), cr.ones(2, 4)])


# ---- comparisons ----
@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons_match_torch(op):
    import operator

    fn = getattr(operator, op)
    a = np.array([[1.0, 2.0, np.nan], [3.0, -1.0, 2.0]], dtype=np.float32)
    b = np.array([2.0, 2.0, 1.0], dtype=np.float32)
    ca, cb, ta, tb = cr.tensor(a), cr.tensor(b), torch.from_numpy(a), torch.from_numpy(b)
    for got, want in ((fn(ca, cb), fn(ta, tb)), (fn(ca, 2.0), fn(ta, 2.0)), (fn(2, ca), fn(2, ta))):
        assert got.dtype == np.bool_ and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_logical_ops_on_masks():
    a, b = cr.tensor([True, False, True]), cr.tensor([True, True, False])
    assert (a & b).tolist() == [True, False, False]
    assert (a | b).tolist() == [True, True, True]
    assert (~a).tolist() == [False, True, False]
    x = cr.tensor([1.0, -1.0, 2.0], requires_grad=True)
    assert (x > 0).tolist() == [True, False, True]
    assert cr.tensor([1, 2]).eq(cr.tensor([1, 3])).tolist() == [True, False]


# ---- conversions ----
def test_item_numpy_tolist_len_iter():
    t = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert cr.tensor([2.5]).item() == 2.5 and isinstance(cr.tensor(3).item(), int)
    with pytest.raises(ValueError, match="a Tensor with 4 elements cannot be converted"):
        t.item()
    assert np.shares_memory(t.numpy(), t.data)
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert len(t) == 2
    rows = list(t)
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(cr.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(cr.tensor(1.0)).__next__()
    assert float(cr.tensor(2.5)) == 2.5 and int(cr.tensor([7])) == 7
    assert [10, 20, 30][cr.tensor(1)] == 20
    with pytest.raises(RuntimeError, match="truth value of a tensor with 2 elements"):
        bool(cr.tensor([1.0, 2.0]))


def test_iteration_is_differentiable():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    sum(row * k for k, row in enumerate(x, 1)).sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0], [2.0, 2.0]]


def test_attributes():
    t = cr.ones(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3 and t.numel() == 24
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.dtype == np.float32
    assert t.T.shape == (4, 3, 2) and t.mT.shape == (2, 4, 3)
    assert t.is_leaf and t.grad_fn is None and t.device == "cpu"


def test_repr():
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(cr.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(cr.tensor([True])) == "tensor([ True])"
    assert repr(cr.tensor([1.0], dtype="float64")) == "tensor([1.], dtype=float64)"
    assert repr(cr.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    y = cr.tensor([1.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2.], grad_fn=<MulBackward>)"
    assert repr(cr.tensor(3.5)) == "tensor(3.5)"
    assert "..." in repr(cr.zeros(1000))


def test_setitem_is_refused_with_a_hint():
    with pytest.raises(TypeError, match="do not support item assignment.*where"):
        cr.zeros(3)[0] = 1.0


def test_inplace_update_of_leaf_requires_no_grad():
    w = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="modified in place; wrap the update"):
        w.fill_(0.0)
    with cr.no_grad():
        w.fill_(3.0)
        w.copy_(cr.tensor([1.0, 2.0]))
    assert w.tolist() == [1.0, 2.0]
    with cr.no_grad(), pytest.raises(ValueError, match=r"copy_: source of shape \(3,\)"):
        w.copy_(np.ones(3))


# ---- method spellings ----
REDUCTIONS = ["sum", "mean", "max", "min", "var", "std", "logsumexp"]
TORCH_NAME = {"max": "amax", "min": "amin"}


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_methods_accept_dim_and_axis(name):
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    x, tx = cr.tensor(a), torch.from_numpy(a)
    tfn = getattr(tx, TORCH_NAME.get(name, name))
    want = tfn(dim=1, keepdim=True).numpy()
    for got in (
        getattr(x, name)(dim=1, keepdim=True),
        getattr(x, name)(axis=1, keepdims=True),
        getattr(x, name)(1, True),
        getattr(x, name)(axis=-1, keepdim=True),
        getattr(cr, name)(x, dim=1, keepdim=True),
        getattr(cr, name)(x, axis=1, keepdims=True),
    ):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match=f"{name}: give dim or axis, not both"):
        getattr(x, name)(dim=0, axis=1)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_methods_accept_dim_and_axis(name):
    a = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    x, tx = cr.tensor(a), torch.from_numpy(a)
    want = getattr(tx, name)(dim=0, keepdim=True).numpy()
    for got in (getattr(x, name)(dim=0, keepdim=True), getattr(x, name)(axis=0, keepdims=True)):
        np.testing.assert_array_equal(got.numpy(), want)
    assert getattr(x, name)().item() == getattr(tx, name)().item()


def test_shape_methods_and_functions():
    x = cr.arange(24).reshape(2, 3, 4).float()
    tx = torch.arange(24).reshape(2, 3, 4).float()
    pairs = [
        (x.reshape(6, 4), tx.reshape(6, 4)),
        (x.reshape((4, -1)), tx.reshape((4, -1))),
        (x.view(-1), tx.view(-1)),
        (x.view_as(cr.zeros(4, 6)), tx.view_as(torch.zeros(4, 6))),
        (x.transpose(0, 2), tx.transpose(0, 2)),
        (x.permute(2, 0, 1), tx.permute(2, 0, 1)),
        (x.permute((1, 0, 2)), tx.permute((1, 0, 2))),
        (x.flatten(1), tx.flatten(1)),
        (x[:, :1].squeeze(1), tx[:, :1].squeeze(1)),
        (x.unsqueeze(-1), tx.unsqueeze(-1)),
        (x[:, :, :1].expand(2, 3, 5), tx[:, :, :1].expand(2, 3, 5)),
        (x[:1].expand_as(x), tx[:1].expand_as(tx)),
        (x[0].broadcast_to((2, 3, 4)), tx[0].broadcast_to((2, 3, 4))),
        (cr.stack([x, x], dim=1), torch.stack([tx, tx], dim=1)),
        (cr.concat([x, x], dim=-1), torch.cat([tx, tx], dim=-1)),
        (cr.cat([x, x]), torch.cat([tx, tx])),
        (x.clamp(2, 5), tx.clamp(2, 5)),
        (x.clip(min=3), tx.clip(min=3)),
        (x.where(x > 3, 0.0), tx.where(tx > 3, 0.0)),
        (x.softmax(-1), tx.softmax(-1)),
        (x.log_softmax(dim=0), tx.log_softmax(dim=0)),
        (x.maximum(x.T.permute(2, 1, 0) * 0 + 5), tx.maximum(tx * 0 + 5)),
    ]
    for got, want in pairs:
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    for got, want in zip(x.split(2, dim=2), tx.split(2, dim=2)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    for got, want in zip(x.chunk(3, 1), tx.chunk(3, 1)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_casts():
    x = cr.tensor([1.7, -2.2], requires_grad=True)
    assert x.double().dtype == np.float64 and x.half().dtype == np.float16
    assert x.long().tolist() == [1, -2] and x.int().dtype == np.int32
    assert x.bool().tolist() == [True, True]
    assert x.to("float64").dtype == np.float64 and x.to(dtype=cr.float64).dtype == np.float64
    assert x.to("cpu") is x and x.type("float64").dtype == np.float64
    (x.double() * 2).sum().backward()  # a float cast is differentiable
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [2.0, 2.0]
