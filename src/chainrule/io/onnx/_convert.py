"""Converters from chainrule ops to ONNX nodes: arithmetic, reductions, shapes, indexing.

Each converter takes a :class:`~chainrule.io.onnx._export.Cx` (the recorded call, its
arguments as ONNX values) and returns the name of the value it produced. ``CONVERTERS`` maps
each op (a ``Function`` subclass, or a pseudo-op name for the wrapped non-``Function`` ops) to
``(converter, handles_dynamic)``: a converter that does not declare ``handles_dynamic`` gets
only arguments that are the same in both traces.

Note [dynamic shapes in a trace]
    A trace holds concrete sizes. A ``reshape(x.shape[0], -1)`` records ``(8, 400)`` on a batch
    of 8; the second trace (9 samples) records ``(9, 400)``, so the axis that changed is
    written ``-1`` (ONNX ``Reshape`` infers it); ``Expand`` writes ``1`` (keep the input's size)
    or, for a size-1 axis broadcast to the batch, takes the batch size from the first graph
    input's shape at run time; a slice that ends at the end of a dynamic axis ends at
    ``INT64_MAX``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.io.onnx._builder import INT64_MAX
from chainrule.io.onnx._convert_nn import NN_CONVERTERS
from chainrule.io.onnx._export import Cx
from chainrule.ops import arithmetic as A
from chainrule.ops import elementwise as E
from chainrule.ops import indexing as IX
from chainrule.ops import linalg as L
from chainrule.ops import reduction as R
from chainrule.ops import shape as S
from chainrule.ops.pooling import _Reshape4d

__all__ = ["CONVERTERS", "SUPPORTED_LAYERS", "reshape_dynamic"]

#: the layers whose forward converts (for the error message on an unsupported op)
SUPPORTED_LAYERS = tuple(
    (
        "Sequential, Model (functional), Linear, Conv1d, Conv2d, ConvTranspose1d, "
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


# ---- shapes ----
def reshape_dynamic(
    cx: Cx,
    x: str,
    in1: tuple[int, ...],
    in2: tuple[int, ...],
    t1: tuple[int, ...],
    t2: tuple[int, ...],
) -> str:
    """Reshape ``x`` to ``t1`` (trace 1), writing the axes that change between the traces as
    ``0`` (copy the input's axis) or ``-1`` (infer). See Note [dynamic shapes in a trace]."""
    t1, t2 = tuple(int(d) for d in t1), tuple(int(d) for d in t2)
    if len(t1) != len(t2):
        cx.fail(f"the target shape changes rank between inputs ({t1} vs {t2})")
    moving = [i for i, (a, c) in enumerate(zip(t1, t2)) if a != c]
    if not moving:
        return cx.b.reshape(x, t1)
    out = list(t1)
    rest = []
    for i in moving:
        if i < len(in1) and i < len(in2) and t1[i] == in1[i] and t2[i] == in2[i]:
            out[i] = 0
        else:
            rest.append(i)
    if len(rest) > 1:
        cx.fail(
            f"the target shape {t1} has {len(rest)} axes that depend on the batch size; "
            "ONNX Reshape can infer one (export with dynamic_batch=False)"
        )
    for i in rest:
        out[i] = -1
    return cx.b.reshape(x, out)


def _reshape(cx: Cx) -> str:
    return reshape_dynamic(
        cx,
        cx.x(0),
        cx.shape(cx.args[0]),
        cx.shape(cx.args2[0]),
        tuple(cx.out_shape),
        tuple(cx.rec2.out.shape),
    )


def _permute(cx: Cx) -> str:
    return cx.b.op("Transpose", [cx.x(0)], perm=[int(p) for p in cx.args[1]])


def batch_size(cx: Cx) -> str:
    """The batch size (axis 0 of the first graph input) as a 1-element int64 tensor."""
    first = cx.ex.names[("in", 0)]
    return cx.b.slice(cx.b.op("Shape", [first]), [0], [1], [0])


def _expand(cx: Cx) -> str:
    in1 = cx.shape(cx.args[0])
    t1, t2 = tuple(cx.out_shape), tuple(cx.rec2.out.shape)
    lead = len(t1) - len(in1)
    parts: list[str] = []
    fixed: list[int] = []
    b1 = cx.ex.batch
    for i, (a, c) in enumerate(zip(t1, t2)):
        if a == c:
            fixed.append(a)
            continue
        j = i - lead
        if j >= 0 and in1[j] == a:
            fixed.append(1)  # the input already has this (dynamic) size
        elif b1 is not None and (a, c) == b1:
            if fixed:
                parts.append(cx.b.ints(fixed))
                fixed = []
            parts.append(batch_size(cx))
        else:
            cx.fail(
                f"expand to {t1}: an axis broadcast to a size that depends on the batch "
                "but is not the batch size (export with dynamic_batch=False)"
            )
    if fixed:
        parts.append(cx.b.ints(fixed))
    shape = parts[0] if len(parts) == 1 else cx.b.op("Concat", parts, axis=0)
    return cx.b.op("Expand", [cx.x(0), shape])


def _concat(cx: Cx) -> str:
    xs = [cx.v(a) for a in cx.args]
    return cx.b.op("Concat", xs, axis=int(cx.kw("dim")))


def _stack(cx: Cx) -> str:
    d = int(cx.kw("dim"))
    xs = [cx.b.unsqueeze(cx.v(a), [d]) for a in cx.args]
    return cx.b.op("Concat", xs, axis=d)


def _narrow(cx: Cx) -> str:
    _, dim, start, stop = cx.args
    _, _, start2, stop2 = cx.args2
    size1, size2 = cx.shape(cx.args[0])[dim], cx.shape(cx.args2[0])[dim]
    end = stop
    if stop != stop2 or start != start2:
        if start != start2 or not (stop == size1 and stop2 == size2):
            cx.fail(
                "a slice whose bounds depend on the batch size (export with dynamic_batch=False)"
            )
        end = INT64_MAX
    return cx.b.slice(cx.x(0), [start], [end], [dim])


def _pad(cx: Cx) -> str:
    _, widths, mode, value = cx.args
    widths = [(int(lo), int(hi)) for lo, hi in widths]
    x = cx.x(0)
    if mode == "circular":
        return circular_pad(cx, x, widths, cx.shape(cx.args[0]))
    pads = [lo for lo, _ in widths] + [hi for _, hi in widths]
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}[mode]
    return cx.b.pad(x, pads, onnx_mode, value if mode == "constant" else None, cx.out_dtype)


def circular_pad(cx: Cx, x: str, widths: list[tuple[int, int]], shape: tuple[int, ...]) -> str:
    """Circular padding: ``Pad`` mode ``wrap`` from opset 19, slices and a concat before."""
    if cx.opset >= 19:
        pads = [lo for lo, _ in widths] + [hi for _, hi in widths]
        return cx.b.pad(x, pads, "wrap")
    for ax, (lo, hi) in enumerate(widths):
        if not (lo or hi):
            continue
        n = shape[ax]
        parts = []
        if lo:
            parts.append(cx.b.slice(x, [n - lo], [n], [ax]))
        parts.append(x)
        if hi:
            parts.append(cx.b.slice(x, [0], [hi], [ax]))
        x = cx.b.op("Concat", parts, axis=ax)
    return x


def _getitem(cx: Cx) -> str:
    """Basic indexing (ints, slices, None, ...) and one integer/bool array index."""
    b = cx.b
    x_obj, index, _basic = cx.args
    shape = cx.shape(x_obj)
    items = list(index) if isinstance(index, tuple) else [index]
    items2 = list(cx.args2[1]) if isinstance(cx.args2[1], tuple) else [cx.args2[1]]
    n_axes = sum(1 for it in items if it is not None and it is not Ellipsis)
    if any(it is Ellipsis for it in items):
        k = items.index(Ellipsis)
        fill = [slice(None)] * (len(shape) - n_axes)
        items = items[:k] + fill + items[k + 1 :]
        k2 = items2.index(Ellipsis) if Ellipsis in items2 else len(items2)
        items2 = items2[:k2] + fill + items2[k2 + 1 :]
    arrays = [i for i, it in enumerate(items) if hasattr(it, "shape") and hasattr(it, "dtype")]
    ints = [
        i
        for i, it in enumerate(items)
        if isinstance(it, (int, np.integer)) and not isinstance(it, bool)
    ]
    if len(arrays) > 1 or (arrays and ints):
        cx.fail(
            "indexing with several array indices, or arrays mixed with integers, has no "
            "converter; index one axis at a time"
        )
    starts, ends, axes, steps = [], [], [], []
    ax = 0
    int_axes, gather = [], None
    for pos, it in enumerate(items):
        if it is None:
            continue
        if isinstance(it, slice):
            it2 = items2[pos] if pos < len(items2) else it
            if it != slice(None) and it != slice(None, None, None):
                step = 1 if it.step is None else int(it.step)
                lo = it.start if it.start is not None else (0 if step > 0 else -1)
                hi = it.stop if it.stop is not None else (INT64_MAX if step > 0 else -INT64_MAX)
                if it != it2:
                    cx.fail(
                        f"slice {it} depends on the batch size or the data (it is {it2} "
                        "for another input); export with dynamic_batch=False"
                    )
                starts.append(int(lo))
                ends.append(int(hi))
                axes.append(ax)
                steps.append(step)
        elif pos in ints:
            if pos < len(items2) and items2[pos] != it:
                cx.fail(f"index {it} depends on the batch size or the data")
            int_axes.append((ax, int(it)))
        else:
            gather = (ax, it)
        ax += 1
    y = cx.x(0)
    if starts:
        y = b.slice(y, starts, ends, axes, steps)
    for a, i in sorted(int_axes, reverse=True):  # highest axis first: lower indices stay
        y = b.op("Gather", [y, b.const(np.asarray(i, dtype=np.int64))], axis=a)
    out_rank_before = 0
    if gather is not None:
        a, idx = gather
        r = cx.ex.refs.ref(idx)
        if r is None:  # a constant index array
            idx = np.asarray(idx)
            if idx.dtype == np.bool_:
                if idx.ndim != 1:
                    cx.fail("a multi-dimensional boolean mask index has no converter")
                idx = np.flatnonzero(idx)
            g = b.const(idx.astype(np.int64), name="index")
        else:
            if np.asarray(getattr(idx, "data", idx)).dtype == np.bool_:
                cx.fail(
                    "a boolean mask computed from the data gives a data-dependent shape; "
                    "ONNX export cannot express it"
                )
            g = cx.v(idx)
        y = b.op("Gather", [y, g], axis=a)
        out_rank_before = np.ndim(getattr(idx, "data", idx))
    news, pos_out = [], 0
    for it in items:
        if it is None:
            news.append(pos_out)
            pos_out += 1
        elif isinstance(it, slice):
            pos_out += 1
        elif hasattr(it, "shape") and hasattr(it, "dtype"):
            pos_out += out_rank_before
    if news:
        y = b.unsqueeze(y, news)
    return y


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
    S.Reshape: (_reshape, True),
    _Reshape4d: (_reshape, True),
    S.Permute: (_permute, False),
    S.Expand: (_expand, True),
    S.Concat: (_concat, False),
    S.Stack: (_stack, False),
    S.Narrow: (_narrow, True),
    S.Pad: (_pad, False),
    IX.GetItem: (_getitem, True),
    L.MatMul: (_binary("MatMul"), False),
    L.Linear: (_linear, False),
    "compare": (_compare, False),
    "logical_not": (_logical_not, False),
    "arg": (_arg, False),
    **NN_CONVERTERS,
}
