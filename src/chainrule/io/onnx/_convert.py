"""Converters from chainrule ops to ONNX nodes: arithmetic, reductions, comparisons, linear
algebra, and the registry of every converter (shapes and indexing are in
:mod:`chainrule.io.onnx._convert_shape`, layers in ``_convert_nn`` and ``_convert_rnn``).

Each converter takes a :class:`~chainrule.io.onnx._exporter.Cx` (the recorded call, its
arguments as ONNX values) and returns the name of the value it produced. ``CONVERTERS`` maps
each op (a ``Function`` subclass, or a pseudo-op name for the wrapped non-``Function`` ops) to
``(converter, handles_dynamic)``: a converter that does not declare ``handles_dynamic`` gets
only arguments that are the same in both traces.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.io.onnx._convert_nn import NN_CONVERTERS
from chainrule.io.onnx._convert_rnn import RNN_CONVERTERS
from chainrule.io.onnx._convert_shape import SHAPE_CONVERTERS, circular_pad, reshape_dynamic
from chainrule.io.onnx._exporter import Cx
from chainrule.ops import arithmetic as A
from chainrule.ops import elementwise as E
from chainrule.ops import linalg as L
from chainrule.ops import reduction as R

__all__ = ["CONVERTERS", "SUPPORTED_LAYERS", "circular_pad", "reshape_dynamic"]

#: the layers whose forward converts (for the error message on an unsupported op)
SUPPORTED_LAYERS = tuple(
    (
        "Sequential, Model (functional), Linear, RNN, LSTM, GRU, Conv1d, Conv2d, ConvTranspose1d, "
        "ConvTranspose2d, MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d/2d, "
        "AdaptiveMaxPool1d/2d, LPPool1d/2d, BatchNorm1d, BatchNorm2d, LayerNorm, Dropout "
        "(identity), Flatten, Identity, Embedding, ReLU, LeakyReLU, Sigmoid, Tanh, ELU, SELU, "
        "CELU, GELU, SiLU, Swish, Softplus, Softmax, LogSoftmax, LogSigmoid, PReLU, Hardtanh, "
        "ReLU6, Softsign, Threshold, Maxout, Concatenate, Add, Subtract, Multiply, Average, "
        "Maximum, Minimum, Argmax, Step, ConvBlock, ResidualBlock, LinearBlock"
    ).split(", ")
)


def _unary(op_type: str) -> Any:
    def convert(cx: Cx) -> str:
        return cx.b.op(op_type, [cx.x(0)])

    return convert


def _binary(op_type: str) -> Any:
    def convert(cx: Cx) -> str:
        return cx.b.op(op_type, [cx.x(0), cx.x(1)])

    return convert


def _pow_scalar(cx: Cx) -> str:
    return cx.b.op("Pow", [cx.x(0), cx.b.const(np.asarray(cx.args[1], dtype=cx.out_dtype))])


def _clip(cx: Cx) -> str:
    x, lo, hi = cx.args
    dt = cx.out_dtype
    ins = [
        cx.x(0),
        "" if lo is None else cx.b.const(np.asarray(lo, dtype=dt)),
        "" if hi is None else cx.b.const(np.asarray(hi, dtype=dt)),
    ]
    while ins[-1] == "":
        ins.pop()
    return cx.b.op("Clip", ins)


def _clip_tensor(cx: Cx) -> str:
    y = cx.x(0)
    if cx.args[1] is not None:
        y = cx.b.op("Max", [y, cx.x(1)])
    if cx.args[2] is not None:
        y = cx.b.op("Min", [y, cx.x(2)])
    return y


def _where(cx: Cx) -> str:
    return cx.b.op("Where", [cx.x(0, np.bool_), cx.x(1), cx.x(2)])


def _cast(cx: Cx) -> str:
    return cx.b.cast(cx.x(0), cx.out_dtype)


# ---- reductions ----
def _axes(cx: Cx, axes: Any) -> list[int] | None:
    if axes is None:
        return None
    nd = len(cx.shape(cx.args[0]))
    return [int(a) % nd for a in (axes if isinstance(axes, (tuple, list)) else (axes,))]


def _reduce(op_type: str) -> Any:
    def convert(cx: Cx) -> str:
        axes = _axes(cx, cx.args[1])
        if axes == []:
            return cx.b.op("Identity", [cx.x(0)])
        return cx.b.reduce(op_type, cx.x(0), axes, bool(cx.args[2]))

    return convert


def _amax(cx: Cx) -> str:
    axes = _axes(cx, cx.args[1])
    return cx.b.reduce("ReduceMin" if cx.args[3] else "ReduceMax", cx.x(0), axes, bool(cx.args[2]))


def _count(cx: Cx, x: str, axes: list[int] | None) -> str:
    """The number of reduced elements, as a constant or (dynamic axes) from the shape."""
    shape, dyn = cx.shape(cx.args[0]), cx.dyn(0)
    ax = list(range(len(shape))) if axes is None else axes
    if not any(dyn[a] for a in ax):
        return cx.b.const(np.asarray(float(np.prod([shape[a] for a in ax])), dtype=cx.out_dtype))
    dims = cx.b.op("Gather", [cx.b.op("Shape", [x]), cx.b.ints(ax)], axis=0)
    n = cx.b.reduce("ReduceProd", dims, [0], False)
    return cx.b.cast(n, cx.out_dtype)


def _var(cx: Cx, std: bool) -> str:
    b = cx.b
    x = cx.x(0)
    axes = _axes(cx, cx.args[1])
    keep, correction = bool(cx.args[2]), cx.args[3]
    mean = b.reduce("ReduceMean", x, axes, True)
    d = b.op("Sub", [x, mean])
    ss = b.reduce("ReduceSum", b.op("Mul", [d, d]), axes, keep)
    n = _count(cx, x, axes)
    if correction:
        n = b.op("Sub", [n, b.const(np.asarray(correction, dtype=cx.out_dtype))])
    v = b.op("Div", [ss, n])
    return b.op("Sqrt", [v]) if std else v


def _logsumexp(cx: Cx) -> str:
    b = cx.b
    x = cx.x(0)
    axes = _axes(cx, cx.args[1])
    m = b.reduce("ReduceMax", x, axes, True)
    s = b.reduce("ReduceSum", b.op("Exp", [b.op("Sub", [x, m])]), axes, True)
    y = b.op("Add", [b.op("Log", [s]), m])
    if not cx.args[2]:
        y = b.squeeze(y, axes) if axes is not None else b.reshape(y, [])
    return y


def _arg(cx: Cx) -> str:
    """argmax/argmin (the wrapped ``reduction._arg(input, dim, keepdim, axis, keepdims, op)``)."""
    names = ("input", "dim", "keepdim", "axis", "keepdims", "op")
    vals = dict(zip(names, cx.args))
    vals.update(cx.rec.kwargs)
    dim = vals.get("dim") if vals.get("dim") is not None else vals.get("axis")
    keep = vals.get("keepdim") if vals.get("keepdims") is None else vals.get("keepdims")
    op = "ArgMax" if vals.get("op") == "argmax" else "ArgMin"
    x = cx.v(vals["input"])
    nd = len(cx.shape(vals["input"]))
    if dim is None:
        y = cx.b.op(op, [cx.b.reshape(x, [-1])], axis=0, keepdims=0)
        return cx.b.reshape(y, [1] * nd) if keep else y
    return cx.b.op(op, [x], axis=int(dim) % max(nd, 1), keepdims=int(bool(keep)))


_COMPARE = {
    "eq": "Equal",
    "lt": "Less",
    "le": "LessOrEqual",
    "gt": "Greater",
    "ge": "GreaterOrEqual",
    "and": "And",
    "or": "Or",
}


def _compare(cx: Cx) -> str:
    a, b_, op = (list(cx.args) + [cx.kw("op")])[:3]
    ref = a if hasattr(a, "shape") else b_
    dt = (ref.data if hasattr(ref, "data") else np.asarray(ref)).dtype
    xa, xb = cx.v(a, dt), cx.v(b_, dt)
    if op == "ne":
        return cx.b.op("Not", [cx.b.op("Equal", [xa, xb])])
    if op not in _COMPARE:
        cx.fail(f"comparison {op!r} has no ONNX converter")
    return cx.b.op(_COMPARE[op], [xa, xb])


def _logical_not(cx: Cx) -> str:
    if cx.out_dtype != np.bool_:
        cx.fail("bitwise not of an integer tensor has no converter; use a bool tensor")
    return cx.b.op("Not", [cx.x(0)])


# ---- linear algebra ----
def _linear(cx: Cx) -> str:
    b = cx.b
    x, w = cx.x(0), cx.x(1)
    bias = cx.args[2]
    if len(cx.shape(cx.args[0])) == 2:
        ins = [x, w] + ([cx.x(2)] if bias is not None else [])
        return b.op("Gemm", ins, transB=1)
    y = b.op("MatMul", [x, b.op("Transpose", [w], perm=[1, 0])])
    return b.op("Add", [y, cx.x(2)]) if bias is not None else y


CONVERTERS: dict[Any, tuple[Any, bool]] = {
    A.Add: (_binary("Add"), False),
    A.Sub: (_binary("Sub"), False),
    A.Mul: (_binary("Mul"), False),
    A.Div: (_binary("Div"), False),
    A.Pow: (_binary("Pow"), False),
    A.PowScalar: (_pow_scalar, False),
    A.Neg: (_unary("Neg"), False),
    E.Exp: (_unary("Exp"), False),
    E.Log: (_unary("Log"), False),
    E.Sqrt: (_unary("Sqrt"), False),
    E.Abs: (_unary("Abs"), False),
    E.Sin: (_unary("Sin"), False),
    E.Cos: (_unary("Cos"), False),
    E.Tanh: (_unary("Tanh"), False),
    E.Sigmoid: (_unary("Sigmoid"), False),
    E.ReLU: (_unary("Relu"), False),
    E.Sign: (_unary("Sign"), False),
    E.Clone: (_unary("Identity"), False),
    E.Clip: (_clip, False),
    E.ClipTensor: (_clip_tensor, False),
    E.Maximum: (_binary("Max"), False),
    E.Minimum: (_binary("Min"), False),
    E.Where: (_where, False),
    E.Cast: (_cast, False),
    R.Sum: (_reduce("ReduceSum"), False),
    R.Mean: (_reduce("ReduceMean"), False),
    R.AMax: (_amax, False),
    R.Var: (lambda cx: _var(cx, False), False),
    R.Std: (lambda cx: _var(cx, True), False),
    R.LogSumExp: (_logsumexp, False),
    L.MatMul: (_binary("MatMul"), False),
    L.Linear: (_linear, False),
    "compare": (_compare, False),
    "logical_not": (_logical_not, False),
    "arg": (_arg, False),
    **SHAPE_CONVERTERS,
    **NN_CONVERTERS,
    **RNN_CONVERTERS,
}
