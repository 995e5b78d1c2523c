r"""Converters for the layer ops: convolution, pooling, normalization, embedding, activations.

Geometry is read from the op's recorded arguments, which hold the resolved padding (a
``'same'`` padding, the high-side padding a ``ceil_mode`` window needs). ONNX's pooling
``ceil_mode`` rounds differently from PyTorch's (which drops a last window starting in the
padding), so the graph always uses ``ceil_mode=0`` with those exact pads. Average pooling
divides each window by PyTorch's count (``count_include_pad``, ``divisor_override``); where
that differs from the window size the graph pads explicitly with zeros and multiplies by
:math:`k_h k_w / |R|`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.io.onnx._convert_shape import circular_pad, reshape_dynamic
from chainrule.ops import activation as ACT
from chainrule.ops import activation_gelu as G
from chainrule.ops import activation_pointwise as AP
from chainrule.ops import adaptive_pooling as AD
from chainrule.ops import avg_pooling as AV
from chainrule.ops import conv as C
from chainrule.ops import conv_transpose as CT
from chainrule.ops import dropout as D
from chainrule.ops import embedding as EM
from chainrule.ops import normalization as N
from chainrule.ops import pooling as P

if TYPE_CHECKING:
    from chainrule.io.onnx._exporter import Cx

__all__ = ["NN_CONVERTERS"]


def _f(cx: Cx, value: float) -> str:
    """A scalar constant of the op's dtype."""
    return cx.b.const(np.asarray(value, dtype=cx.out_dtype))


# ---- convolution ----
def _conv(cx: Cx) -> str:
    b = cx.b
    x_obj, w_obj, bias, geom = cx.args
    (sh, sw), (dh, dw), ((pt, pb), (pl, pr)), mode, groups = geom
    one_d = len(cx.shape(x_obj)) == 3
    x = cx.x(0)
    if one_d:
        strides, dil, pads = [sw], [dw], [pl, pr]
    else:
        strides, dil, pads = [sh, sw], [dh, dw], [pt, pl, pb, pr]
    if mode != "zeros" and any(pads):
        spatial = [(pl, pr)] if one_d else [(pt, pb), (pl, pr)]
        widths = [(0, 0), (0, 0), *spatial]
        if mode == "circular":
            x = circular_pad(cx, x, widths, cx.shape(x_obj))
        else:
            onnx_mode = {"reflect": "reflect", "replicate": "edge"}[mode]
            x = b.pad(x, [lo for lo, _ in widths] + [hi for _, hi in widths], onnx_mode)
        pads = [0] * len(pads)
    ins = [x, cx.x(1)] + ([cx.x(2)] if bias is not None else [])
    kernel = list(cx.shape(w_obj)[2:])
    return b.op(
        "Conv",
        ins,
        kernel_shape=kernel,
        strides=strides,
        dilations=dil,
        pads=pads,
        group=int(groups),
    )


def _conv_transpose(cx: Cx) -> str:
    x_obj, w_obj, bias, geom = cx.args
    (sh, sw), (ph, pw), (dh, dw), groups, (ho, wo) = geom
    one_d = len(cx.shape(x_obj)) == 3
    ins_shape, k = cx.shape(x_obj)[2:], cx.shape(w_obj)[2:]
    if one_d:
        s, p, d, o = [sw], [pw], [dw], [wo]
    else:
        s, p, d, o = [sh, sw], [ph, pw], [dh, dw], [ho, wo]
    out_pad = [
        oo - ((i - 1) * ss - 2 * pp + dd * (kk - 1) + 1)
        for oo, i, ss, pp, dd, kk in zip(o, ins_shape, s, p, d, k)
    ]
    ins = [cx.x(0), cx.x(1)] + ([cx.x(2)] if bias is not None else [])
    return cx.b.op(
        "ConvTranspose",
        ins,
        kernel_shape=list(k),
        strides=s,
        dilations=d,
        pads=p + p,
        group=int(groups),
        output_padding=out_pad,
    )


# ---- pooling (inputs are 4-D here: the 1-D forms reshape around the op) ----
def _max_pool(cx: Cx) -> str:
    (kh, kw), s, d, ((pt, pb), (pl, pr)), (ho, wo) = cx.args[1]
    x = cx.x(0)
    pads = [pt, pl, pb, pr]
    if pt >= kh or pb >= kh or pl >= kw or pr >= kw:  # onnxruntime wants pads < kernel
        x = cx.b.pad(x, [0, 0, pt, pl, 0, 0, pb, pr], "constant", -np.inf, cx.out_dtype)
        pads = [0, 0, 0, 0]
    return cx.b.op(
        "MaxPool",
        [x],
        kernel_shape=[kh, kw],
        strides=list(s),
        dilations=list(d),
        pads=pads,
        ceil_mode=0,
    )


def _avg_divisor(geom: Any, hw: tuple[int, ...], include_pad: bool, override: Any) -> np.ndarray:
    """PyTorch's |R| per output cell (``avg_pool2d``'s count), as the op computes it, float64
    and one value per output cell."""
    ho, wo = geom[4]
    div = AV._avg_divisor(np, geom, (hw[0], hw[1]), include_pad, override, np.float64)
    return np.broadcast_to(div, (ho, wo))


def _avg_pool(cx: Cx) -> str:
    geom, include_pad, override = cx.args[1], cx.args[2], cx.args[3]
    (kh, kw), s, _, ((pt, pb), (pl, pr)), _ = geom
    hw = cx.shape(cx.args[0])[2:]
    div = _avg_divisor(geom, hw, bool(include_pad), override)
    x = cx.x(0)
    if np.all(div == kh * kw):
        return cx.b.op(
            "AveragePool",
            [x],
            kernel_shape=[kh, kw],
            strides=list(s),
            pads=[pt, pl, pb, pr],
            count_include_pad=1,
            ceil_mode=0,
        )
    if any((pt, pb, pl, pr)):
        x = cx.b.pad(x, [0, 0, pt, pl, 0, 0, pb, pr])
    y = cx.b.op("AveragePool", [x], kernel_shape=[kh, kw], strides=list(s), ceil_mode=0)
    return cx.b.op("Mul", [y, cx.b.const((kh * kw / div).astype(cx.out_dtype), name="divisor")])


def _pool_matrix(n: int, m: int, dtype: Any) -> np.ndarray:
    i = np.arange(m)
    start, end = (i * n) // m, -((-(i + 1) * n) // m)
    cols = np.arange(n)
    inside = (cols[None, :] >= start[:, None]) & (cols[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive_avg(cx: Cx) -> str:
    b = cx.b
    H, W = cx.shape(cx.args[0])[2:]
    oh, ow = cx.args[1]
    x = cx.x(0)
    if (oh, ow) == (1, 1):
        return b.op("GlobalAveragePool", [x])
    if H % oh == 0 and W % ow == 0:
        k = [H // oh, W // ow]
        return b.op("AveragePool", [x], kernel_shape=k, strides=k)
    ph = b.const(_pool_matrix(H, oh, cx.out_dtype), name="pool_rows")
    pw = b.const(_pool_matrix(W, ow, cx.out_dtype).T, name="pool_cols")
    return b.op("MatMul", [b.op("MatMul", [ph, x]), pw])


def _adaptive_max(cx: Cx) -> str:
    b = cx.b
    H, W = cx.shape(cx.args[0])[2:]
    oh, ow = cx.args[1]
    x = cx.x(0)
    if H % oh == 0 and W % ow == 0:
        k = [H // oh, W // ow]
        return b.op("MaxPool", [x], kernel_shape=k, strides=k)
    for axis, n, m in ((2, H, oh), (3, W, ow)):  # max over a rectangle = rows, then columns
        if n == m:
            continue
        i = np.arange(m)
        starts, ends = (i * n) // m, -((-(i + 1) * n) // m)
        parts = [
            b.reduce("ReduceMax", b.slice(x, [int(s0)], [int(e0)], [axis]), [axis], True)
            for s0, e0 in zip(starts, ends)
        ]
        x = b.op("Concat", parts, axis=axis)
    return x


# ---- normalization ----
def _per_channel(cx: Cx, name: str, ndim: int) -> str:
    """A (C,) tensor reshaped to broadcast over axis 1 of an ``ndim``-d input."""
    return cx.b.reshape(name, [-1] + [1] * (ndim - 2))


def _batch_norm(cx: Cx) -> str:
    b = cx.b
    x_obj, w, bias, rm, rv, use_batch, _momentum, eps = cx.args
    shape = cx.shape(x_obj)
    c = shape[1]
    dt = cx.out_dtype
    x = cx.x(0)
    scale = cx.x(1) if w is not None else b.const(np.ones(c, dtype=dt), name="ones")
    shift = cx.x(2) if bias is not None else b.const(np.zeros(c, dtype=dt), name="zeros")
    if not use_batch:
        return b.op("BatchNormalization", [x, scale, shift, cx.v(rm), cx.v(rv)], epsilon=float(eps))
    axes = [0] + list(range(2, len(shape)))  # batch statistics (track_running_stats=False)
    mean = b.reduce("ReduceMean", x, axes, True)
    d = b.op("Sub", [x, mean])
    var = b.reduce("ReduceMean", b.op("Mul", [d, d]), axes, True)
    y = b.op("Div", [d, b.op("Sqrt", [b.op("Add", [var, _f(cx, eps)])])])
    y = b.op("Mul", [y, _per_channel(cx, scale, len(shape))])
    return b.op("Add", [y, _per_channel(cx, shift, len(shape))])


def _layer_norm(cx: Cx) -> str:
    b = cx.b
    x_obj, w, bias, d, eps = cx.args
    shape = cx.shape(x_obj)
    if w is not None:
        k = len(cx.shape(w))
    else:
        k = next(k for k in range(1, len(shape) + 1) if math.prod(shape[-k:]) == d)
    ns = shape[len(shape) - k :]
    x = cx.x(0)
    scale = cx.x(1) if w is not None else b.const(np.ones(ns, dtype=cx.out_dtype), name="ones")
    if cx.opset >= 17:
        ins = [x, scale] + ([cx.x(2)] if bias is not None else [])
        return b.op("LayerNormalization", ins, axis=-k, epsilon=float(eps))
    axes = list(range(len(shape) - k, len(shape)))
    mean = b.reduce("ReduceMean", x, axes, True)
    dev = b.op("Sub", [x, mean])
    var = b.reduce("ReduceMean", b.op("Mul", [dev, dev]), axes, True)
    y = b.op("Div", [dev, b.op("Sqrt", [b.op("Add", [var, _f(cx, eps)])])])
    y = b.op("Mul", [y, scale])
    return b.op("Add", [y, cx.x(2)]) if bias is not None else y


def _embedding(cx: Cx) -> str:
    return cx.b.op("Gather", [cx.x(0), cx.x(1)], axis=0)


def _dropout(cx: Cx) -> str:
    return cx.fail(
        "dropout is active (a functional dropout called with training=True); "
        "export runs the model in eval mode, where dropout is the identity: call "
        "dropout with training=self.training"
    )


# ---- activations ----
def _leaky_relu(cx: Cx) -> str:
    return cx.b.op("LeakyRelu", [cx.x(0)], alpha=float(cx.args[1]))


def _prelu(cx: Cx) -> str:
    nd = len(cx.shape(cx.args[0]))
    w = cx.x(1)
    size = int(np.prod(cx.shape(cx.args[1])))
    if size == 1:
        w = cx.b.reshape(w, [1])
    elif nd > 2:
        w = _per_channel(cx, w, nd)
    return cx.b.op("PRelu", [cx.x(0), w])


def _elu(cx: Cx) -> str:
    b = cx.b
    _, alpha, scale, input_scale = cx.args
    x = cx.x(0)
    if scale == 1 and input_scale == 1:
        return b.op("Elu", [x], alpha=float(alpha))
    if (
        input_scale == 1
        and abs(alpha - AP.SELU_ALPHA) < 1e-12
        and abs(scale - AP.SELU_SCALE) < 1e-12
    ):
        return b.op("Selu", [x], alpha=float(alpha), gamma=float(scale))
    if scale == 1 and abs(input_scale * alpha - 1) < 1e-12:
        return b.op("Celu", [x], alpha=float(alpha))
    neg = b.op(
        "Mul",
        [
            _f(cx, alpha * scale),
            b.op(
                "Sub",
                [
                    b.op(
                        "Exp", [b.op("Mul", [b.op("Min", [x, _f(cx, 0.0)]), _f(cx, input_scale)])]
                    ),
                    _f(cx, 1.0),
                ],
            ),
        ],
    )
    pos = b.op("Greater", [x, _f(cx, 0.0)])
    return b.op("Where", [pos, b.op("Mul", [x, _f(cx, scale)]), neg])


def _swish(cx: Cx) -> str:
    b = cx.b
    x = cx.x(0)
    beta = cx.args[1]
    z = x if (not hasattr(beta, "shape") and beta == 1) else b.op("Mul", [x, cx.x(1)])
    return b.op("Mul", [x, b.op("Sigmoid", [z])])


def _softplus(cx: Cx) -> str:
    b = cx.b
    _, beta, threshold = cx.args
    x = cx.x(0)
    z = x if beta == 1 else b.op("Mul", [x, _f(cx, beta)])
    y = b.op("Softplus", [z])
    if beta != 1:
        y = b.op("Div", [y, _f(cx, beta)])
    return b.op("Where", [b.op("Greater", [z, _f(cx, threshold)]), x, y])


def _log_sigmoid(cx: Cx) -> str:
    b = cx.b
    return b.op("Neg", [b.op("Softplus", [b.op("Neg", [cx.x(0)])])])


def _hardtanh(cx: Cx) -> str:
    return cx.b.op("Clip", [cx.x(0), _f(cx, cx.args[1]), _f(cx, cx.args[2])])


def _threshold(cx: Cx) -> str:
    b = cx.b
    x = cx.x(0)
    return b.op("Where", [b.op("Greater", [x, _f(cx, cx.args[1])]), x, _f(cx, cx.args[2])])


def _step(cx: Cx) -> str:
    b = cx.b
    return b.cast(b.op("Greater", [cx.x(0), _f(cx, cx.args[1])]), cx.out_dtype)


def _gelu(cx: Cx) -> str:
    b = cx.b
    x = cx.x(0)
    approximate = cx.args[1]
    if cx.opset >= 20:
        return b.op("Gelu", [x], approximate=str(approximate))
    if approximate == "tanh":
        inner = b.op(
            "Add", [x, b.op("Mul", [_f(cx, 0.044715), b.op("Mul", [x, b.op("Mul", [x, x])])])]
        )
        t = b.op("Tanh", [b.op("Mul", [_f(cx, math.sqrt(2.0 / math.pi)), inner])])
    else:
        t = b.op("Erf", [b.op("Mul", [x, _f(cx, 1.0 / math.sqrt(2.0))])])
    return b.op("Mul", [b.op("Mul", [x, _f(cx, 0.5)]), b.op("Add", [t, _f(cx, 1.0)])])


def _softmax(op_type: str) -> Any:
    def convert(cx: Cx) -> str:
        return cx.b.op(op_type, [cx.x(0)], axis=int(cx.args[1]))

    return convert


def _maxout(cx: Cx) -> str:
    _, pieces, dim = cx.args
    s1, s2 = cx.shape(cx.args[0]), cx.shape(cx.args2[0])

    def grouped(s: tuple[int, ...]) -> tuple[int, ...]:
        return s[:dim] + (s[dim] // pieces, pieces) + s[dim + 1 :]

    g = reshape_dynamic(cx, cx.x(0), s1, s2, grouped(s1), grouped(s2))
    return cx.b.reduce("ReduceMax", g, [dim + 1], False)


def _unary(op_type: str) -> Any:
    def convert(cx: Cx) -> str:
        return cx.b.op(op_type, [cx.x(0)])

    return convert


NN_CONVERTERS: dict[Any, tuple[Any, bool]] = {
    C.Conv2d: (_conv, False),
    CT.ConvTranspose2d: (_conv_transpose, False),
    P.MaxPool2d: (_max_pool, False),
    AV.AvgPool2d: (_avg_pool, False),
    AD.AdaptiveAvgPool2d: (_adaptive_avg, False),
    AD.AdaptiveMaxPool2d: (_adaptive_max, False),
    N.BatchNorm: (_batch_norm, False),
    N.LayerNorm: (_layer_norm, False),
    EM.Embedding: (_embedding, False),
    D.Dropout: (_dropout, True),  # refused by the converter, with its own message
    AP.LeakyReLU: (_leaky_relu, False),
    AP.PReLU: (_prelu, False),
    AP.ELU: (_elu, False),
    AP.Swish: (_swish, False),
    AP.Softplus: (_softplus, False),
    AP.LogSigmoid: (_log_sigmoid, False),
    AP.Hardtanh: (_hardtanh, False),
    AP.Softsign: (_unary("Softsign"), False),
    AP.Threshold: (_threshold, False),
    AP.Step: (_step, False),
    G.GELU: (_gelu, False),
    G.Erf: (_unary("Erf"), False),
    ACT.Softmax: (_softmax("Softmax"), False),
    ACT.LogSoftmax: (_softmax("LogSoftmax"), False),
    ACT.Maxout: (_maxout, False),
}
