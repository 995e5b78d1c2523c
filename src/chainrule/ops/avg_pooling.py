r"""Average and power-average (Lp) pooling: ``avg_pool1d/2d``, ``lp_pool1d/2d`` (the shared
window geometry and the max pooling are in :mod:`chainrule.ops.pooling`).

.. math::  y = \frac{1}{|R|}\sum_{r\in R} x_r, \qquad
           \frac{\partial C}{\partial x_r} = \sum_{\text{windows} \ni r} \frac{g}{|R|},

with zero padding counted in :math:`|R|` or not (``count_include_pad``) exactly as PyTorch's
kernel counts it, and :math:`y = (\sum_{r\in R} x_r^p)^{1/p}` for Lp pooling (notes 003:
"general pooling layers include l1/l2 normalization, average pooling").
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import get_array_module
from chainrule.ops._im2col import tuple_arg
from chainrule.ops.pooling import (
    _as4d,
    _floating,
    _from_work,
    _offset_view,
    _pad_hw,
    _pool_geometry,
    _Reshape4d,
    _restore,
    _work_layout,
)
from chainrule.tensor import Tensor

__all__ = ["avg_pool1d", "avg_pool2d", "lp_pool1d", "lp_pool2d"]


# ---- average pooling ----
def _avg_divisor(
    xp: Any,
    geom: Any,
    in_hw: tuple[int, int],
    count_include_pad: bool,
    divisor_override: int | None,
    dtype: Any,
) -> Any:
    """|R| per output cell, exactly as PyTorch's kernel counts it."""
    (kh, kw), s, _, pads, (ho, wo) = geom
    if divisor_override:
        return xp.asarray(divisor_override, dtype=dtype)
    sizes = []
    for o, k, st, (p, _), n in (
        (ho, kh, s[0], pads[0], in_hw[0]),
        (wo, kw, s[1], pads[1], in_hw[1]),
    ):
        start = xp.arange(o) * st - p
        end = xp.minimum(start + k, n + p)
        pool = end - start
        if not count_include_pad:
            pool = xp.minimum(end, n) - xp.maximum(start, 0)
        sizes.append(pool)
    return (sizes[0][:, None] * sizes[1][None, :]).astype(dtype)


class AvgPool2d(Function):
    r"""y = (1/|R|) Σ_{r∈R} x_r;  ∂C/∂x_r = Σ_{windows ∋ r} g/|R|  (a loop over offsets)."""

    @staticmethod
    def forward(ctx, x, geom, count_include_pad, divisor_override):
        (kh, kw), s, d, pads, (ho, wo) = geom
        xp = get_array_module(x)
        a, swapped = _work_layout(x)
        H, W = a.shape[2], a.shape[3]
        ap = _pad_hw(a, pads, 0.0)
        y = _offset_view(ap, 0, 0, s, d, (ho, wo)).copy()
        for o in range(1, kh * kw):
            y += _offset_view(ap, o // kw, o % kw, s, d, (ho, wo))
        div = _avg_divisor(xp, geom, (H, W), count_include_pad, divisor_override, x.dtype)
        y /= div
        ctx.info = (a.shape, swapped, geom, div)
        return _from_work(y, swapped)

    @staticmethod
    def backward(ctx, g):
        (A, B, H, W), swapped, geom, div = ctx.info
        (kh, kw), s, d, pads, (ho, wo) = geom
        xp = get_array_module(g)
        gw = (g.transpose(1, 0, 2, 3) if swapped else g) / div
        (pt, pb), (pl, pr) = pads
        dxp = xp.zeros((A, B, H + pt + pb, W + pl + pr), dtype=g.dtype)
        for o in range(kh * kw):
            _offset_view(dxp, o // kw, o % kw, s, d, (ho, wo))[...] += gw
        return _from_work(dxp[:, :, pt : pt + H, pl : pl + W], swapped), None, None, None


def _avg_pool(
    nd: int,
    input: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Any,
    name: str,
) -> Tensor:
    x = _floating(input, name)
    x4, shape = _as4d(x, nd, name)
    if divisor_override is not None and (
        not isinstance(divisor_override, int) or divisor_override <= 0
    ):
        raise ValueError(
            f"{name}: divisor_override must be a positive int, got {divisor_override!r}"
        )
    geom = _pool_geometry(
        x4.shape[2:], nd, kernel_size, stride, padding, 1, bool(ceil_mode), name, max_pool=False
    )
    t = input if x4 is x else _Reshape4d.apply(input, x4.shape)
    y = AvgPool2d.apply(t, geom, bool(count_include_pad), divisor_override)
    return _restore(y, shape, nd)


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    r"""2-D average pooling (``torch.nn.functional.avg_pool2d``):
    :math:`y = \frac{1}{|R|}\sum_{r \in R} x_r`.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size, stride (default: ``kernel_size``), padding (zeros), ceil_mode: as
            :func:`max_pool2d`.
        count_include_pad: count padded zeros in :math:`|R|`.
        divisor_override: divide by this instead of :math:`|R|`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.avg_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 2.5,  4.5],
                  [10.5, 12.5]]]])
    """
    return _avg_pool(
        2,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        "avg_pool2d",
    )


def avg_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    r"""1-D average pooling over (N, C, L) or (C, L); arguments as :func:`avg_pool2d`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.avg_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
        tensor([[[2., 1.]]])
    """
    return _avg_pool(
        1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, "avg_pool1d"
    )


# ---- power-average (Lp) pooling ----
def _lp_pool(
    nd: int,
    input: Tensor,
    norm_type: float,
    kernel_size: Any,
    stride: Any,
    ceil_mode: bool,
    name: str,
) -> Tensor:
    from chainrule.ops.elementwise import abs as _abs
    from chainrule.ops.elementwise import relu, sign

    _floating(input, name)
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)) or norm_type <= 0:
        raise ValueError(f"{name}: norm_type must be a positive number, got {norm_type!r}")
    k = tuple_arg(kernel_size, nd, "kernel_size", name)
    area = k[0] * (k[1] if nd == 2 else 1)
    out = _avg_pool(nd, input ** float(norm_type), k, stride, 0, ceil_mode, True, None, name)
    # PyTorch's formula: sign(s) * relu(|s|) keeps the sum's sign for odd p
    return (sign(out) * relu(_abs(out)) * float(area)) ** (1.0 / float(norm_type))


def lp_pool2d(
    input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
) -> Tensor:
    r"""2-D power-average pooling (``torch.nn.functional.lp_pool2d``):
    :math:`y = \left(\sum_{r\in R} x_r^p\right)^{1/p}`; :math:`p = 2` is the notes' L2
    pooling, :math:`p \to \infty` max pooling, :math:`p = 1` sum pooling.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.lp_pool2d(cr.full((1, 1, 2, 2), 3.0), 2, 2)
        tensor([[[[6.]]]])
    """
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode, "lp_pool2d")


def lp_pool1d(
    input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
) -> Tensor:
    r"""1-D power-average pooling; see :func:`lp_pool2d`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.lp_pool1d(cr.tensor([[[3.0, 4.0]]]), 2, 2)
        tensor([[[5.]]])
    """
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode, "lp_pool1d")
