"""Converters for shape ops and indexing: reshape, permute, expand, concat, stack, narrow, pad,
``x[index]``.

Note [dynamic shapes in a trace]
    A trace holds concrete sizes. A ``reshape(x.shape[0], -1)`` records ``(8, 400)`` on a batch
    of 8; the second trace (9 samples) records ``(9, 400)``, so the axis that changed is
    written ``0`` (copy the input's size) or ``-1`` (ONNX ``Reshape`` infers it); ``Expand``
    writes ``1`` (keep the input's size). Where neither works (two changing axes, a size-1
    axis broadcast to the batch), the size is read at run time from the graph input whose
    dynamic axis had the same pair of sizes: ``Shape(input)[axis]``. A slice or index that
    moves with its axis's length (``y[:T]`` of a (T+2)-long axis) is written from the end
    (``y[:-2]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.io.onnx._builder import INT64_MAX
from chainrule.ops import indexing as IX
from chainrule.ops import shape as S
from chainrule.ops.pooling import _Reshape4d

if TYPE_CHECKING:
    from chainrule.io.onnx._exporter import Cx

__all__ = ["SHAPE_CONVERTERS", "circular_pad", "reshape_dynamic"]


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
    out: list[Any] = list(t1)
    rest = []
    for i in moving:
        if i < len(in1) and i < len(in2) and t1[i] == in1[i] and t2[i] == in2[i]:
            out[i] = 0
        else:
            rest.append(i)
    if len(rest) == 1:
        out[rest[0]] = -1
        return cx.b.reshape(x, out)
    for i in rest:  # several: each must be the size of a dynamic input axis
        if (t1[i], t2[i]) not in cx.ex.dims:
            cx.fail(
                f"the target shape {t1} has {len(rest)} axes that change with the input; ONNX "
                "Reshape can infer one (export with dynamic_batch=False)"
            )
        out[i] = (t1[i], t2[i])
    return cx.b.op("Reshape", [x, cx.ex.shape_of(out)])


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


def _expand(cx: Cx) -> str:
    in1 = cx.shape(cx.args[0])
    t1, t2 = tuple(cx.out_shape), tuple(cx.rec2.out.shape)
    lead = len(t1) - len(in1)
    sizes: list[Any] = []
    for i, (a, c) in enumerate(zip(t1, t2)):
        j = i - lead
        if a == c:
            sizes.append(a)
        elif j >= 0 and in1[j] == a:
            sizes.append(1)  # the input already has this (dynamic) size
        elif (a, c) in cx.ex.dims:
            sizes.append((a, c))  # a size-1 axis broadcast to an input's dynamic axis
        else:
            cx.fail(
                f"expand to {t1}: an axis is broadcast to a size that changes with the input "
                "but is not one of its dynamic axes (export with dynamic_batch=False)"
            )
    return cx.b.op("Expand", [cx.x(0), cx.ex.shape_of(sizes)])


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
    n1, n2 = cx.shape(cx.args[0])[dim], cx.shape(cx.args2[0])[dim]
    start, stop = _bound(cx, start, start2, n1, n2), _bound(cx, stop, stop2, n1, n2)
    return cx.b.slice(cx.x(0), [start], [stop], [dim])


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


def _bound(cx: Cx, v1: Any, v2: Any, n1: int, n2: int) -> Any:
    """A slice bound or index that differs between the traces, as an offset from the end of
    its axis (``y[:T]`` of a (T+2)-long axis is ``y[:-2]``), or fail."""
    if v1 == v2:
        return v1
    if v1 is None or v2 is None or v1 < 0 or v2 < 0 or v1 - n1 != v2 - n2:
        cx.fail(
            f"an index or slice bound ({v1}, {v2} for another input) depends on the batch size "
            "or the data in a way a graph cannot express; export with dynamic_batch=False"
        )
    return v1 - n1 if v1 < n1 else INT64_MAX


def _getitem(cx: Cx) -> str:
    """Basic indexing (ints, slices, None, ...) and one integer/bool array index."""
    b = cx.b
    x_obj, index, _basic = cx.args
    shape, shape2 = cx.shape(x_obj), cx.shape(cx.args2[0])
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
                lo, hi = it.start, it.stop
                if it != it2:
                    if it.step != it2.step:
                        cx.fail(f"slice {it} becomes {it2} for another input")
                    n1, n2 = shape[ax], shape2[ax]
                    lo = _bound(cx, it.start, it2.start, n1, n2)
                    hi = _bound(cx, it.stop, it2.stop, n1, n2)
                lo = lo if lo is not None else (0 if step > 0 else -1)
                hi = hi if hi is not None else (INT64_MAX if step > 0 else -INT64_MAX)
                starts.append(int(lo))
                ends.append(int(hi))
                axes.append(ax)
                steps.append(step)
        elif pos in ints:
            i = int(it)
            if pos < len(items2) and items2[pos] != it:
                i = _bound(cx, it, items2[pos], shape[ax], shape2[ax])
            int_axes.append((ax, i))
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


SHAPE_CONVERTERS: dict[Any, tuple[Any, bool]] = {
    S.Reshape: (_reshape, True),
    _Reshape4d: (_reshape, True),
    S.Permute: (_permute, False),
    S.Expand: (_expand, True),
    S.Concat: (_concat, False),
    S.Stack: (_stack, False),
    S.Narrow: (_narrow, True),
    S.Pad: (_pad, False),
    IX.GetItem: (_getitem, True),
}
