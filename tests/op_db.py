"""The engine's OpInfo table (issue 2): every op of ``arithmetic``, ``elementwise``,
``reduction``, ``shape``, ``indexing``, ``linalg`` and softmax/log_softmax.

Each entry pairs a chainrule callable with its PyTorch reference and a sample generator (see
``tests/opinfo.py``). Samples cover broadcasting, size-1 dims, 0-d tensors, negative axes,
``keepdim``, repeated indices and transposed (non-contiguous) inputs. Kink conventions are
pinned separately, with exact inputs, in ``tests/test_ops.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

import chainrule as cr
from opinfo import ErrorInput, OpInfo, SampleInput, noncontiguous

S = SampleInput


def _n(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def _pos(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


# ---- sample generators ----
def unary(domain=_n):
    def gen(rng: np.random.Generator) -> Iterator[SampleInput]:
        yield S("scalar0d", domain(rng))
        yield S("vector", domain(rng, 5))
        yield S("matrix", domain(rng, 3, 4))
        yield S("size1", domain(rng, 1, 3, 1))
        yield S("noncontig", noncontiguous(domain(rng, 4, 3)))
        yield S("empty", domain(rng, 0, 3))

    return gen


def binary(domain_a=_n, domain_b=_n, scalars=(2.5, -1.5)):
    def gen(rng: np.random.Generator) -> Iterator[SampleInput]:
        yield S("same", domain_a(rng, 3, 4), domain_b(rng, 3, 4))
        yield S("bcast_row", domain_a(rng, 3, 4), domain_b(rng, 4))
        yield S("bcast_col", domain_a(rng, 3, 1), domain_b(rng, 1, 4))
        yield S("bcast_both", domain_a(rng, 2, 1, 4), domain_b(rng, 3, 1))
        yield S("scalar0d", domain_a(rng), domain_b(rng, 2, 3))
        yield S("both0d", domain_a(rng), domain_b(rng))
        yield S("noncontig", noncontiguous(domain_a(rng, 4, 3)), domain_b(rng, 4, 3))
        for k, c in enumerate(scalars):
            yield S(f"pyscalar{k}", domain_a(rng, 2, 3), c)
        yield S("empty", domain_a(rng, 0, 3), domain_b(rng, 1, 3))

    return gen


def reversed_scalar(values=(2.5, -3)):
    def gen(rng: np.random.Generator) -> Iterator[SampleInput]:
        for k, c in enumerate(values):
            yield S(f"vector{k}", c, _pos(rng, 5))
            yield S(f"matrix{k}", c, _pos(rng, 2, 3))
        yield S("scalar0d", values[0], _pos(rng))

    return gen


def reversed_array(rng: np.random.Generator) -> Iterator[SampleInput]:
    # an ndarray on the left of a tensor: ndarray.__op__ defers to Tensor.__rop__
    yield S("array_left", _pos(rng, 3, 4), _pos(rng, 3, 4))
    yield S("array_left_bcast", _pos(rng, 4), _pos(rng, 3, 4))


def reduction(extra=None):
    extra = extra or {}

    def gen(rng: np.random.Generator) -> Iterator[SampleInput]:
        x = _n(rng, 3, 4, 5)
        yield S("all", x.copy(), **extra)
        yield S("dim0", x.copy(), dim=0, **extra)
        yield S("dim_neg", x.copy(), dim=-1, **extra)
        yield S("dim_keepdim", x.copy(), dim=1, keepdim=True, **extra)
        yield S("dims_tuple", x.copy(), dim=(0, 2), **extra)
        yield S("dims_tuple_keep", x.copy(), dim=(-1, 0), keepdim=True, **extra)
        yield S("vector", _n(rng, 7), dim=0, **extra)
        yield S("size1", _n(rng, 4, 1), dim=1, **extra)
        yield S("noncontig", noncontiguous(_n(rng, 5, 3)), dim=1, **extra)
        yield S(
            "axis_keepdims",
            x.copy(),
            axis=1,
            keepdims=True,
            torch_kwargs=dict(dim=1, keepdim=True, **extra),
            **extra,
        )

    return gen


def _scalar_sample(extra=None):
    def gen(rng):
        yield S("scalar0d", _n(rng), **(extra or {}))

    return gen


def _chain(*gens):
    def gen(rng):
        for g in gens:
            yield from g(rng)

    return gen


def _err(name, *args, error=ValueError, match="", **kwargs):
    return ErrorInput(S(name, *args, **kwargs), error, match)


# ---- torch references that differ in form ----
def _t_max(x, dim=None, keepdim=False):
    return torch.amax(x, dim=() if dim is None else dim, keepdim=keepdim)


def _t_min(x, dim=None, keepdim=False):
    return torch.amin(x, dim=() if dim is None else dim, keepdim=keepdim)


def _lse_empty(rng):
    # ln of an empty sum: -inf, as torch (no finite differences through an infinite output)
    yield S("empty_dim", _n(rng, 3, 0), dim=1, gradcheck=False)
    yield S("empty_other_dim", _n(rng, 0, 3), dim=1)


def _t_lse(x, dim=None, keepdim=False):
    return torch.logsumexp(x, dim=tuple(range(x.ndim)) if dim is None else dim, keepdim=keepdim)


def _t_scalar(fn):
    """Wrap a torch binary op whose second operand may be a Python number."""

    def ref(a, b):
        if not isinstance(b, torch.Tensor):
            b = torch.tensor(b, dtype=a.dtype)
        return fn(a, b)

    return ref


# ---- arithmetic ----
def _add_errors():
    yield _err("shape", np.ones((2, 3)), np.ones((4,)), match=r"add.*\(2,3\).*\(4,\)")
    yield _err("string", np.ones(2), "x", error=TypeError, match="add: unsupported operand")


def _sub_errors():
    yield _err("shape", np.ones((2, 3)), np.ones((2, 2)), match=r"sub.*\(2,3\).*\(2,2\)")


def _mul_errors():
    yield _err("shape", np.ones((3,)), np.ones((4,)), match=r"mul.*\(3,\).*\(4,\)")
    yield _err("complex", np.ones(2), 1j, error=TypeError, match="complex")


def _div_errors():
    yield _err("shape", np.ones((3, 2)), np.ones((3,)), match=r"div.*\(3,2\).*\(3,\)")


def _pow_samples(rng):
    for k, p in enumerate((2, 3, 0.5, -1.5, 0, 1)):
        yield S(f"pyscalar{k}", _pos(rng, 3, 4), p)
    yield S("int_exponent_neg_base", _n(rng, 2, 3), 3)
    yield S("scalar0d_base", _pos(rng), 2.5)
    yield S("tensor_exp", _pos(rng, 3, 4), _n(rng, 3, 4))
    yield S("tensor_exp_bcast", _pos(rng, 3, 1), _n(rng, 4))
    yield S("tensor_exp_0d", _pos(rng, 2, 3), _n(rng))
    yield S("noncontig", noncontiguous(_pos(rng, 4, 3)), 2)


ARITHMETIC = [
    OpInfo("add", cr.add, torch.add, binary(), error_inputs=_add_errors),
    OpInfo("sub", cr.sub, torch.sub, binary(), error_inputs=_sub_errors),
    OpInfo("mul", cr.mul, torch.mul, binary(), error_inputs=_mul_errors),
    OpInfo("div", cr.div, torch.div, binary(domain_b=_pos), error_inputs=_div_errors),
    OpInfo("neg", cr.neg, torch.neg, unary()),
    OpInfo("pow", cr.pow, torch.pow, _pow_samples),
    OpInfo("op_add", lambda a, b: a + b, lambda a, b: a + b, binary()),
    OpInfo("op_sub", lambda a, b: a - b, lambda a, b: a - b, binary()),
    OpInfo("op_mul", lambda a, b: a * b, lambda a, b: a * b, binary()),
    OpInfo("op_truediv", lambda a, b: a / b, lambda a, b: a / b, binary(domain_b=_pos)),
    OpInfo("op_pow", lambda a, b: a**b, lambda a, b: a**b, _pow_samples),
    OpInfo("op_neg", lambda a: -a, lambda a: -a, unary()),
    OpInfo("op_radd", lambda c, a: c + a, lambda c, a: c + a, reversed_scalar()),
    OpInfo("op_rsub", lambda c, a: c - a, lambda c, a: c - a, reversed_scalar()),
    OpInfo("op_rmul", lambda c, a: c * a, lambda c, a: c * a, reversed_scalar()),
    OpInfo("op_rtruediv", lambda c, a: c / a, lambda c, a: c / a, reversed_scalar()),
    OpInfo("op_rpow", lambda c, a: c**a, lambda c, a: c**a, reversed_scalar((2.5, 3))),
    # ndarray (not differentiated: grad_inputs=(1,)) on the left of a tensor
    OpInfo(
        "op_radd_array",
        lambda a, b: a.data + b,
        lambda a, b: torch.from_numpy(a.detach().numpy()) + b,
        lambda rng: (S(s.name, *s.args, grad_inputs=(1,)) for s in reversed_array(rng)),
    ),
    OpInfo(
        "op_rmul_array",
        lambda a, b: a.data * b,
        lambda a, b: torch.from_numpy(a.detach().numpy()) * b,
        lambda rng: (S(s.name, *s.args, grad_inputs=(1,)) for s in reversed_array(rng)),
    ),
    OpInfo(
        "op_rsub_array",
        lambda a, b: a.data - b,
        lambda a, b: torch.from_numpy(a.detach().numpy()) - b,
        lambda rng: (S(s.name, *s.args, grad_inputs=(1,)) for s in reversed_array(rng)),
    ),
    OpInfo(
        "op_rtruediv_array",
        lambda a, b: a.data / b,
        lambda a, b: torch.from_numpy(a.detach().numpy()) / b,
        lambda rng: (S(s.name, *s.args, grad_inputs=(1,)) for s in reversed_array(rng)),
    ),
]


# ---- elementwise ----
def _sign_samples(rng):
    yield from unary()(rng)
    yield S("zeros", np.array([-1.0, 0.0, 2.0]), gradcheck=False)


def _clip_samples(rng):
    yield S("both", _n(rng, 3, 4), -0.5, 0.5)
    yield S("min_only", _n(rng, 5), -0.2)
    yield S("max_only", _n(rng, 5), None, 0.3)
    yield S("kw", _n(rng, 2, 3), min=-0.1, max=0.4)
    yield S("scalar0d", _n(rng), -0.5, 0.5)
    yield S("noncontig", noncontiguous(_n(rng, 4, 3)), -0.5, 0.5)
    yield S("tensor_bounds", _n(rng, 3, 4), _n(rng, 4) - 1.0, _n(rng, 3, 1) + 1.0)
    yield S("at_bounds", np.array([-1.0, -0.5, 0.0, 0.5, 1.0]), -0.5, 0.5, gradcheck=False)


def _clip_kinks(sample):
    b = [a for a in sample.args[1:] if isinstance(a, float)]
    b += [v for v in sample.kwargs.values() if isinstance(v, float)]
    return b


def _clip_errors():
    yield _err("no_bounds", np.ones(3), match="at least one of min and max")
    yield _err("not_tensor", [1.0, 2.0], 0.0, 1.0, error=TypeError, match="clip: expected a Tensor")


def _maxmin_samples(rng):
    yield from binary(scalars=(0.3,))(rng)
    yield S("ties", np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0]), gradcheck=False)


def _where_samples(rng):
    yield S("same", _n(rng, 3, 4) > 0, _n(rng, 3, 4), _n(rng, 3, 4))
    yield S("bcast", _n(rng, 3, 1) > 0, _n(rng, 4), _n(rng, 3, 4))
    yield S("bcast_cond", _n(rng, 4) > 0, _n(rng, 3, 4), _n(rng, 3, 1))
    yield S("scalar_other", _n(rng, 2, 3) > 0, _n(rng, 2, 3), 0.0)
    yield S("scalar_input", _n(rng, 2, 3) > 0, 1.5, _n(rng, 2, 3))
    yield S("scalar0d", np.array(True), _n(rng), _n(rng))
    yield S("noncontig", noncontiguous(_n(rng, 4, 3)) > 0, noncontiguous(_n(rng, 4, 3)), _n(rng, 3))


def _t_where(c, a, b):
    if not isinstance(a, torch.Tensor):
        a = torch.tensor(a, dtype=b.dtype)
    if not isinstance(b, torch.Tensor):
        b = torch.tensor(b, dtype=a.dtype)
    return torch.where(c, a, b)


def _where_errors():
    yield _err("cond_float", np.ones(3), np.ones(3), np.ones(3), error=TypeError, match="bool")


def _unary_errors(name):
    def gen():
        yield _err("not_tensor", [1.0, 2.0], error=TypeError, match=f"{name}: expected a Tensor")

    return gen


def _int_sample(rng):
    yield S("int_input", np.array([1, 2, 3]))


def _unary_op(name, fn, tfn, domain=_n, kinks=None):
    return OpInfo(
        name,
        fn,
        tfn,
        _chain(unary(domain), _int_sample),
        error_inputs=_unary_errors(name),
        nondiff_points=kinks,
    )


ELEMENTWISE = [
    _unary_op("exp", cr.exp, torch.exp),
    _unary_op("log", cr.log, torch.log, _pos),
    _unary_op("sqrt", cr.sqrt, torch.sqrt, _pos),
    _unary_op("abs", cr.abs, torch.abs, kinks=(0.0,)),
    _unary_op("sin", cr.sin, torch.sin),
    _unary_op("cos", cr.cos, torch.cos),
    _unary_op("tanh", cr.tanh, torch.tanh),
    _unary_op("sigmoid", cr.sigmoid, torch.sigmoid),
    _unary_op("relu", cr.relu, torch.relu, kinks=(0.0,)),
    OpInfo("sign", cr.sign, torch.sign, _sign_samples, nondiff_points=(0.0,)),
    OpInfo(
        "clip",
        cr.clip,
        torch.clamp,
        _clip_samples,
        error_inputs=_clip_errors,
        nondiff_points=_clip_kinks,
    ),
    OpInfo("clamp", cr.clamp, torch.clamp, _clip_samples, nondiff_points=_clip_kinks),
    OpInfo("maximum", cr.maximum, _t_scalar(torch.maximum), _maxmin_samples),
    OpInfo("minimum", cr.minimum, _t_scalar(torch.minimum), _maxmin_samples),
    OpInfo("where", cr.where, _t_where, _where_samples, error_inputs=_where_errors),
]


# ---- reductions ----
def _reduce_errors(name):
    def gen():
        yield _err("dim_range", np.ones((2, 3)), dim=2, error=IndexError, match="out of range")
        yield _err("dim_twice", np.ones((2, 3)), dim=(1, -1), match="more than once")
        yield _err("dim_and_axis", np.ones((2, 3)), dim=0, axis=1, error=TypeError, match=name)

    return gen


def _var_samples(rng):
    # n - correction must stay positive for a finite result: size-1 and 0-d samples use 0
    yield from (s for s in reduction()(rng) if s.name != "size1")
    yield S("size1", _n(rng, 4, 1), dim=1, correction=0)
    yield S("scalar0d", _n(rng), correction=0)
    x = _n(rng, 4, 5)
    yield S("correction0", x.copy(), dim=1, correction=0)
    yield S("correction2", x.copy(), dim=0, correction=2)
    yield S(
        "unbiased_false", x.copy(), dim=1, unbiased=False, torch_kwargs=dict(dim=1, correction=0)
    )


def _extreme_samples(rng):
    yield from reduction()(rng)
    yield from _scalar_sample()(rng)
    ties = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    yield S("ties_dim", ties.copy(), dim=1, gradcheck=False)
    yield S("ties_all", ties.copy(), gradcheck=False)
    yield S("empty_other_dim", _n(rng, 0, 3), dim=1)


def _extreme_errors(name):
    def gen():
        yield from _reduce_errors(name)()
        yield _err("empty", np.ones((0, 3)), match=f"{name}: cannot reduce an empty tensor")

    return gen


def _arg_samples(rng):
    x = _n(rng, 3, 4, 5)
    yield S("all", x.copy())
    yield S("dim0", x.copy(), dim=0)
    yield S("dim_neg_keepdim", x.copy(), dim=-1, keepdim=True)
    yield S("all_keepdim", x.copy(), keepdim=True)
    yield S("scalar0d", _n(rng))
    yield S("ties", np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), dim=1)
    yield S("int_input", np.array([[3, 1, 4], [1, 5, 9]]), dim=1)
    yield S("empty_other_dim", _n(rng, 0, 3), dim=1)


def _arg_errors(name):
    def gen():
        yield _err("empty", np.ones((0,)), match=f"{name}: cannot take {name} of an empty")
        yield _err("empty_dim", np.ones((0, 3)), dim=0, match=f"{name}: .* dimension of size 0")

    return gen


def _mean_errors():
    yield from _reduce_errors("mean")()
    yield _err("int", np.array([1, 2]), error=TypeError, match="mean: expected a floating tensor")


def _sum_samples(rng):
    yield from reduction()(rng)
    yield from _scalar_sample()(rng)
    yield S("int_input", np.array([[1, 2], [3, 4]]), dim=0)
    yield S("bool_input", np.array([True, False, True]))
    yield S("dtype_f64", _n(rng, 3), dtype="float64", torch_kwargs=dict(dtype=torch.float64))
    yield S("empty", _n(rng, 0, 3), dim=0)


def _mean_samples(rng):
    yield from reduction()(rng)
    yield from _scalar_sample()(rng)


REDUCTION = [
    OpInfo("sum", cr.sum, torch.sum, _sum_samples, error_inputs=_reduce_errors("sum")),
    OpInfo("mean", cr.mean, torch.mean, _mean_samples, error_inputs=_mean_errors),
    OpInfo("max", cr.max, _t_max, _extreme_samples, error_inputs=_extreme_errors("max")),
    OpInfo("min", cr.min, _t_min, _extreme_samples, error_inputs=_extreme_errors("min")),
    OpInfo("amax", cr.amax, _t_max, _extreme_samples),
    OpInfo("amin", cr.amin, _t_min, _extreme_samples),
    OpInfo(
        "var",
        cr.var,
        torch.var,
        _var_samples,
        error_inputs=lambda: [
            _err(
                "both_corrections",
                np.ones(3),
                correction=1,
                unbiased=True,
                error=TypeError,
                match="correction or unbiased",
            )
        ],
    ),
    OpInfo("std", cr.std, torch.std, _var_samples),
    OpInfo(
        "logsumexp",
        cr.logsumexp,
        _t_lse,
        _chain(reduction(), _scalar_sample(), _lse_empty),
        error_inputs=_reduce_errors("logsumexp"),
    ),
    OpInfo("argmax", cr.argmax, torch.argmax, _arg_samples, _arg_errors("argmax"), grad=False),
    OpInfo("argmin", cr.argmin, torch.argmin, _arg_samples, _arg_errors("argmin"), grad=False),
]


# ---- shape ----
def _reshape_samples(rng):
    x = _n(rng, 2, 3, 4)
    yield S("merge", x.copy(), (6, 4))
    yield S("infer", x.copy(), (-1, 3))
    yield S("to_vector", x.copy(), (-1,))
    yield S("same_shape", x.copy(), (2, 3, 4))
    yield S("from_0d", _n(rng), (1, 1))
    yield S("to_0d", _n(rng, 1, 1), ())
    yield S("noncontig", noncontiguous(_n(rng, 4, 3)), (2, 6))
    yield S("empty", _n(rng, 0, 4), (2, 0, 2))


def _reshape_errors():
    yield _err("count", np.ones((2, 3)), (4, 2), match=r"reshape: cannot reshape .*\(2, 3\)")
    yield _err("two_infer", np.ones((2, 3)), (-1, -1), match="reshape")


def _permute_samples(rng):
    yield S("3d", _n(rng, 2, 3, 4), (2, 0, 1))
    yield S("neg", _n(rng, 2, 3, 4), (-1, -3, -2))
    yield S("identity", _n(rng, 2, 3), (0, 1))
    yield S("noncontig", noncontiguous(_n(rng, 4, 3)), (1, 0))
    yield S("size1", _n(rng, 1, 3, 1), (2, 1, 0))


def _transpose_samples(rng):
    yield S("2d", _n(rng, 3, 4), 0, 1)
    yield S("neg", _n(rng, 2, 3, 4), -1, -3)
    yield S("same_dim", _n(rng, 2, 3), 1, 1)
    yield S("noncontig", noncontiguous(_n(rng, 4, 3)), 0, 1)
    yield S("1d", _n(rng, 5), 0, -1)


def _flatten_samples(rng):
    x = _n(rng, 2, 3, 4)
    yield S("all", x.copy())
    yield S("from1", x.copy(), 1)
    yield S("middle", x.copy(), 0, 1)
    yield S("neg", x.copy(), -2, -1)
    yield S("scalar0d", _n(rng))
    yield S("noncontig", noncontiguous(_n(rng, 4, 3)))


def _squeeze_samples(rng):
    x = _n(rng, 1, 3, 1, 2)
    yield S("all", x.copy())
    yield S("dim", x.copy(), 0)
    yield S("dim_neg", x.copy(), -2)
    yield S("dim_not1", x.copy(), 1)
    yield S("dims_tuple", x.copy(), (0, 2))
    yield S("scalar0d", _n(rng))


def _unsqueeze_samples(rng):
    x = _n(rng, 3, 2)
    yield S("front", x.copy(), 0)
    yield S("back_neg", x.copy(), -1)
    yield S("middle", x.copy(), 1)
    yield S("scalar0d", _n(rng), 0)


def _expand_samples(rng):
    yield S("row", _n(rng, 1, 4), (3, 4))
    yield S("keep", _n(rng, 3, 1), (-1, 5))
    yield S("new_lead", _n(rng, 4), (2, 3, 4))
    yield S("from0d", _n(rng), (2, 2))
    yield S("same", _n(rng, 2, 3), (2, 3))


def _t_expand(x, shape):
    return x.expand(*shape)


def _bcast_samples(rng):
    yield S("row", _n(rng, 1, 4), (3, 4))
    yield S("new_lead", _n(rng, 3, 1), (2, 3, 5))
    yield S("from0d", _n(rng), (3,))
    yield S("same", _n(rng, 2, 3), (2, 3))


def _cat_samples(rng):
    yield S("dim0", [_n(rng, 2, 3), _n(rng, 1, 3), _n(rng, 4, 3)])
    yield S("dim_neg", [_n(rng, 2, 3), _n(rng, 2, 1)], dim=-1)
    yield S("one", [_n(rng, 2, 3)], dim=1)
    yield S("noncontig", [noncontiguous(_n(rng, 3, 2)), _n(rng, 3, 2)], dim=1)
    yield S("empty_part", [_n(rng, 0, 3), _n(rng, 2, 3)])
    yield S("int_float", [np.array([1, 2]), _n(rng, 3)], grad_inputs=(1,))


def _cat_errors():
    yield _err(
        "mismatch",
        [np.ones((2, 3)), np.ones((2, 4))],
        match=r"concat: sizes of tensors must match except in dimension 0.*\(2, 4\)",
    )
    yield _err("empty_list", [], error=TypeError, match="non-empty list")
    yield _err("dim", [np.ones((2, 3))], dim=2, error=IndexError, match="concat.*out of range")


def _stack_samples(rng):
    yield S("dim0", [_n(rng, 2, 3), _n(rng, 2, 3), _n(rng, 2, 3)])
    yield S("dim_last", [_n(rng, 2, 3), _n(rng, 2, 3)], dim=-1)
    yield S("dim_mid", [_n(rng, 2, 3), _n(rng, 2, 3)], dim=1)
    yield S("scalars0d", [_n(rng), _n(rng)])
    yield S("noncontig", [noncontiguous(_n(rng, 3, 2)), _n(rng, 2, 3).T.copy()])


def _stack_errors():
    yield _err(
        "mismatch",
        [np.ones((2, 3)), np.ones((3, 2))],
        match=r"stack expects each tensor to be equal size.*\(3, 2\)",
    )


def _split_samples(rng):
    x = _n(rng, 5, 4)
    yield S("size", x.copy(), 2)
    yield S("size_dim1", x.copy(), 3, 1)
    yield S("sections", x.copy(), [1, 3, 1])
    yield S("sections_neg_dim", x.copy(), [2, 2], -1)
    yield S("whole", x.copy(), 5)
    yield S("noncontig", noncontiguous(_n(rng, 4, 3)), 2)


def _split_errors():
    yield _err("sum", np.ones((5, 4)), [2, 2], match=r"split: sections \[2, 2\] sum to 4.*size 5")
    yield _err("zero", np.ones((5, 4)), 0, match="split_size must be positive")


def _chunk_samples(rng):
    x = _n(rng, 5, 6)
    yield S("even", x.copy(), 3, 1)
    yield S("uneven", x.copy(), 2)
    yield S("more_than_size", x.copy(), 7)
    yield S("neg_dim", x.copy(), 4, -1)


def _narrow_samples(rng):
    x = _n(rng, 5, 4)
    yield S("mid", x.copy(), 0, 1, 3)
    yield S("dim1", x.copy(), 1, 0, 2)
    yield S("neg_dim", x.copy(), -1, 2, 2)
    yield S("neg_start", x.copy(), 0, -2, 2)
    yield S("empty", x.copy(), 0, 2, 0)


def _narrow_errors():
    yield _err("too_long", np.ones((5, 4)), 0, 3, 3, error=ValueError, match="narrow")
    yield _err("start", np.ones((5, 4)), 0, 6, 0, error=IndexError, match="narrow")
    yield _err("length", np.ones((5, 4)), 0, 1, -1, error=ValueError, match="narrow")


def _pad_samples(rng):
    yield S("const_1d", _n(rng, 5), (1, 2))
    yield S("const_value", _n(rng, 3, 4), (0, 1, 2, 0), value=1.5)
    yield S("const_0d_pairs", _n(rng, 2, 3), ())
    yield S("const_noncontig", noncontiguous(_n(rng, 4, 3)), (1, 1))
    for mode in ("reflect", "replicate", "circular"):
        yield S(f"{mode}_1pair", _n(rng, 2, 5), (1, 2), mode=mode)
        yield S(f"{mode}_2pairs", _n(rng, 1, 2, 3, 4), (1, 2, 2, 1), mode=mode)
        yield S(f"{mode}_one_side", _n(rng, 2, 3, 4), (0, 3, 2, 0), mode=mode)
        yield S(f"{mode}_noncontig", noncontiguous(_n(rng, 3, 4)), (2, 1), mode=mode)


def _pad_errors():
    yield _err("odd", np.ones((2, 3)), (1,), match="pad: expected an even number")
    yield _err("too_many", np.ones((3,)), (1, 1, 1, 1), match="pad: expected an even number")
    yield _err("negative", np.ones((2, 3)), (-1, 1), match="negative padding")
    yield _err("mode", np.ones((2, 3)), (1, 1), mode="wrap", match="unknown mode 'wrap'")
    yield _err(
        "reflect_big", np.ones((2, 3)), (3, 0), mode="reflect", match="smaller than the input"
    )
    yield _err("circular_big", np.ones((2, 3)), (4, 0), mode="circular", match="exceeds")


def _shape_errors(name, *args, error=IndexError, match="out of range"):
    def gen():
        yield _err("bad_dim", np.ones((2, 3)), *args, error=error, match=f"{name}.*{match}")

    return gen


SHAPE = [
    OpInfo("reshape", cr.reshape, torch.reshape, _reshape_samples, error_inputs=_reshape_errors),
    OpInfo("view", cr.ops.view, lambda x, s: x.reshape(s), _reshape_samples),
    OpInfo(
        "permute",
        cr.permute,
        torch.permute,
        _permute_samples,
        error_inputs=lambda: [
            _err("not_perm", np.ones((2, 3)), (0, 0), match="permute: dims .* not a permutation")
        ],
    ),
    OpInfo(
        "transpose",
        cr.transpose,
        torch.transpose,
        _transpose_samples,
        error_inputs=_shape_errors("transpose", 0, 2),
    ),
    OpInfo(
        "flatten",
        cr.flatten,
        torch.flatten,
        _flatten_samples,
        error_inputs=lambda: [
            _err("order", np.ones((2, 3, 4)), 2, 1, match="flatten: start_dim 2 comes after")
        ],
    ),
    OpInfo(
        "squeeze",
        cr.squeeze,
        torch.squeeze,
        _squeeze_samples,
        error_inputs=_shape_errors("squeeze", 3),
    ),
    OpInfo(
        "unsqueeze",
        cr.unsqueeze,
        torch.unsqueeze,
        _unsqueeze_samples,
        error_inputs=_shape_errors("unsqueeze", 4),
    ),
    OpInfo(
        "expand",
        lambda x, s: cr.expand(x, *s),
        _t_expand,
        _expand_samples,
        error_inputs=lambda: [
            _err("fewer_dims", np.ones((2, 3)), (3,), match="expand: target shape"),
            _err("bad", np.ones((2, 3)), (4, 3), match=r"cannot broadcast .*\(2, 3\) to \(4, 3\)"),
        ],
    ),
    OpInfo(
        "broadcast_to",
        cr.broadcast_to,
        torch.broadcast_to,
        _bcast_samples,
        error_inputs=lambda: [
            _err("bad", np.ones((2, 3)), (3,), match=r"broadcast_to: cannot broadcast .*\(2, 3\)")
        ],
    ),
    OpInfo("concat", cr.concat, torch.cat, _cat_samples, error_inputs=_cat_errors),
    OpInfo("cat", cr.cat, torch.cat, _cat_samples),
    OpInfo("stack", cr.stack, torch.stack, _stack_samples, error_inputs=_stack_errors),
    OpInfo("split", cr.split, torch.split, _split_samples, error_inputs=_split_errors),
    OpInfo(
        "chunk",
        cr.chunk,
        torch.chunk,
        _chunk_samples,
        error_inputs=lambda: [_err("zero", np.ones(3), 0, match="chunk: chunks must be positive")],
    ),
    OpInfo("narrow", cr.narrow, torch.narrow, _narrow_samples, error_inputs=_narrow_errors),
    OpInfo("pad", cr.nn.functional.pad, F.pad, _pad_samples, error_inputs=_pad_errors),
]


# ---- indexing ----
def _getitem_samples(rng):
    x = _n(rng, 4, 5)
    yield S("int", x.copy(), 1)
    yield S("int_neg", x.copy(), -1)
    yield S("slice", x.copy(), slice(1, 3))
    yield S("slice_step", x.copy(), (slice(None), slice(0, 5, 2)))
    yield S("int_slice", x.copy(), (2, slice(1, None)))
    yield S("none", x.copy(), (None, 1))
    yield S("ellipsis", _n(rng, 2, 3, 4), (Ellipsis, 0))
    yield S("ellipsis_none", _n(rng, 2, 3), (Ellipsis, None, slice(0, 2)))
    yield S("scalar0d", _n(rng), ())
    yield S("int_array_repeat", x.copy(), np.array([0, 0, 3, 0]))
    yield S("list_repeat", x.copy(), [2, 2, 1])
    yield S("int_array_2d", x.copy(), np.array([[0, 1], [1, 1]]))
    yield S("arrays_pair_repeat", x.copy(), (np.array([0, 1, 1, 1]), np.array([2, 2, 0, 2])))
    yield S("slice_array_repeat", x.copy(), (slice(None), np.array([1, 1, 4])))
    yield S("bool_mask_full", x.copy(), x > 0.2)
    yield S("bool_mask_rows", x.copy(), np.array([True, False, True, True]))
    yield S("bool_mask_cols", x.copy(), (slice(None), np.array([True, False, True, False, False])))
    yield S("noncontig", noncontiguous(_n(rng, 4, 3)), (slice(1, 3), 0))
    yield S("noncontig_array", noncontiguous(_n(rng, 4, 3)), np.array([3, 3, 0]))


def _getitem(x, index):
    return x[index]


def _t_getitem(x, index):
    if isinstance(index, tuple):
        index = tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in index)
    return x[index]


def _getitem_errors():
    yield _err("out_of_range", np.ones((2, 3)), 5, error=IndexError, match=r"index 5 .*\(2, 3\)")
    yield _err("float_index", np.ones((2, 3)), np.array([0.5]), error=IndexError, match="integer")
    yield _err("str_index", np.ones((2, 3)), "a", error=IndexError, match="unsupported index")


INDEXING = [
    OpInfo("getitem", cr.ops.getitem, _t_getitem, _getitem_samples, error_inputs=_getitem_errors),
    OpInfo("op_getitem", _getitem, _t_getitem, _getitem_samples),
]


# ---- linalg ----
def _matmul_samples(rng):
    yield S("mm", _n(rng, 3, 4), _n(rng, 4, 5))
    yield S("vec_vec", _n(rng, 4), _n(rng, 4))
    yield S("mat_vec", _n(rng, 3, 4), _n(rng, 4))
    yield S("vec_mat", _n(rng, 4), _n(rng, 4, 2))
    yield S("batched", _n(rng, 2, 3, 4), _n(rng, 2, 4, 5))
    yield S("bcast_batch", _n(rng, 2, 1, 3, 4), _n(rng, 3, 4, 2))
    yield S("bcast_one_side", _n(rng, 2, 3, 4), _n(rng, 4, 5))
    yield S("vec_batched", _n(rng, 4), _n(rng, 2, 4, 3))
    yield S("batched_vec", _n(rng, 2, 3, 4), _n(rng, 4))
    yield S("size1", _n(rng, 1, 4), _n(rng, 4, 1))
    yield S("noncontig", noncontiguous(_n(rng, 3, 4)), noncontiguous(_n(rng, 4, 2)))


def _matmul_errors():
    yield _err(
        "inner",
        np.ones((2, 3)),
        np.ones((4, 5)),
        match=r"matmul: shapes cannot be multiplied \(2x3 and 4x5\)",
    )
    yield _err("zero_dim", np.ones(()), np.ones(3), match="matmul: both arguments need at least 1")
    yield _err("batch", np.ones((2, 3, 4)), np.ones((3, 4, 5)), match="batch dimensions")


def _linear_samples(rng):
    yield S("2d", _n(rng, 3, 4), _n(rng, 5, 4), _n(rng, 5))
    yield S("no_bias", _n(rng, 3, 4), _n(rng, 5, 4))
    yield S("3d", _n(rng, 2, 3, 4), _n(rng, 5, 4), _n(rng, 5))
    yield S("1d", _n(rng, 4), _n(rng, 2, 4), _n(rng, 2))


def _linear_errors():
    yield _err("in_features", np.ones((2, 3)), np.ones((4, 5)), match="linear: expected input with")


LINALG = [
    OpInfo("matmul", cr.matmul, torch.matmul, _matmul_samples, error_inputs=_matmul_errors),
    OpInfo("op_matmul", lambda a, b: a @ b, lambda a, b: a @ b, _matmul_samples),
    OpInfo(
        "op_rmatmul_array",
        lambda a, b: a.data @ b,
        lambda a, b: torch.from_numpy(a.detach().numpy()) @ b,
        lambda rng: [S("array_left", _n(rng, 3, 4), _n(rng, 4, 2), grad_inputs=(1,))],
    ),
    OpInfo("linear", cr.ops.linear, F.linear, _linear_samples, error_inputs=_linear_errors),
]


# ---- softmax / log_softmax ----
def _softmax_samples(rng):
    yield S("last", _n(rng, 3, 5), -1)
    yield S("dim0", _n(rng, 3, 5), 0)
    yield S("3d_mid", _n(rng, 2, 3, 4), 1)
    yield S("vector", _n(rng, 6), 0)
    yield S("size1", _n(rng, 4, 1), 1)
    yield S("scalar0d", _n(rng), 0)
    yield S("large", 1e3 * _n(rng, 2, 4), -1)
    yield S("noncontig", noncontiguous(_n(rng, 4, 3)), 1)
    yield S("empty_rows", _n(rng, 0, 3), -1)
    yield S("empty_dim", _n(rng, 3, 0), 1)


def _softmax_errors(name):
    def gen():
        yield _err("dim", np.ones((2, 3)), 2, error=IndexError, match=f"{name}.*out of range")

    return gen


ACTIVATION = [
    OpInfo(
        "softmax",
        cr.softmax,
        torch.softmax,
        _softmax_samples,
        error_inputs=_softmax_errors("softmax"),
    ),
    OpInfo(
        "log_softmax",
        cr.log_softmax,
        torch.log_softmax,
        _softmax_samples,
        error_inputs=_softmax_errors("log_softmax"),
    ),
    OpInfo("F.softmax", cr.nn.functional.softmax, F.softmax, _softmax_samples),
    OpInfo("F.log_softmax", cr.nn.functional.log_softmax, F.log_softmax, _softmax_samples),
]

OP_DB: list[OpInfo] = ARITHMETIC + ELEMENTWISE + REDUCTION + SHAPE + INDEXING + LINALG + ACTIVATION
