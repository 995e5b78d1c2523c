r"""Adaptive pooling: the window is chosen from the wanted output size.

Output cell :math:`i` of an axis of input size :math:`n` and output size :math:`m` pools
input cells :math:`[\lfloor i n/m \rfloor, \lceil (i+1) n/m \rceil)` (PyTorch's bins; they
overlap when :math:`m` does not divide :math:`n`). Output size 1 is global pooling.

Average pooling over such rectangles is separable: with :math:`P_h` (m_h, n_h) holding
:math:`1/|bin|` on each bin, :math:`y = P_h\,x\,P_w^\top` and
:math:`\partial C/\partial x = P_h^\top G P_w` (two matrix products, no loop). Max pooling
loops over offsets within the largest bin, like :mod:`chainrule.ops.pooling`.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import get_array_module, scatter_add
from chainrule.ops.pooling import (
    _as4d,
    _first_max_masks,
    _floating,
    _from_work,
    _masked,
    _Reshape4d,
    _restore,
    _restore_array,
    _work_layout,
)
from chainrule.tensor import Tensor

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
]


def _bins(xp: Any, n: int, m: int) -> tuple[Any, Any]:
    i = xp.arange(m)
    return (i * n) // m, -((-(i + 1) * n) // m)  # floor(i n / m), ceil((i + 1) n / m)


def _output_size(output_size: Any, in_hw: tuple[int, int], nd: int, name: str) -> tuple[int, int]:
    if isinstance(output_size, (int,)) and not isinstance(output_size, bool):
        sizes: tuple[Any, ...] = (output_size,) * nd
    elif isinstance(output_size, (tuple, list)) and len(output_size) == nd:
        sizes = tuple(output_size)
    else:
        raise ValueError(
            f"{name}: output_size must be an int or a tuple of {nd} ints (None keeps the "
            f"input size), got {output_size!r}"
        )
    spatial = in_hw[-nd:]
    out = tuple(n if s is None else s for s, n in zip(sizes, spatial))
    if any(not isinstance(s, int) or isinstance(s, bool) or s <= 0 for s in out):
        raise ValueError(f"{name}: output_size must be positive, got {output_size!r}")
    if any(n == 0 for n in spatial):
        raise ValueError(f"{name}: cannot pool an empty input of spatial size {spatial}")
    return (1, out[0]) if nd == 1 else (out[0], out[1])


def _pool_matrix(xp: Any, n: int, m: int, dtype: Any) -> Any:
    start, end = _bins(xp, n, m)
    cols = xp.arange(n)
    inside = (cols[None, :] >= start[:, None]) & (cols[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool2d(Function):
    r"""y = P_h x P_wᵀ (bin averages);  ∂C/∂x = P_hᵀ G P_w."""

    @staticmethod
    def forward(ctx, x, out_hw):
        xp = get_array_module(x)
        a, swapped = _work_layout(x)
        A, B, H, W = a.shape
        oh, ow = out_hw
        if (oh, ow) == (1, 1):  # global average pooling
            y = a.mean(axis=(2, 3), keepdims=True, dtype=x.dtype)
            ctx.info = (a.shape, swapped, None, None)
            return _from_work(y, swapped)
        ph = _pool_matrix(xp, H, oh, x.dtype)
        pw = _pool_matrix(xp, W, ow, x.dtype)
        t = a.reshape(A * B * H, W) @ pw.T  # one GEMM over every row of every plane
        y = ph @ t.reshape(A * B, H, ow)
        ctx.info = (a.shape, swapped, ph, pw)
        return _from_work(y.reshape(A, B, oh, ow), swapped)

    @staticmethod
    def backward(ctx, g):
        (A, B, H, W), swapped, ph, pw = ctx.info
        xp = get_array_module(g)
        gw = g.transpose(1, 0, 2, 3) if swapped else g
        if ph is None:
            dx = xp.empty((A, B, H, W), dtype=g.dtype)
            dx[...] = gw * g.dtype.type(1.0 / (H * W))
        else:
            dx = (ph.T @ gw) @ pw
        return _from_work(dx, swapped), None


class AdaptiveMaxPool2d(Function):
    r"""y = max over each bin;  ∂C/∂x_r = g at the bin's first argmax."""

    @staticmethod
    def forward(ctx, x, out_hw, holder):
        xp = get_array_module(x)
        a, swapped = _work_layout(x)
        A, B, H, W = a.shape
        oh, ow = out_hw
        (h0, h1), (w0, w1) = _bins(xp, H, oh), _bins(xp, W, ow)
        kh, kw = int((h1 - h0).max()), int((w1 - w0).max())
        rows = [xp.minimum(h0 + i, h1 - 1) for i in range(kh)]  # clamped: repeats are ties
        cols = [xp.minimum(w0 + j, w1 - 1) for j in range(kw)]
        planes = [a[:, :, r[:, None], c[None, :]] for r in rows for c in cols]
        y = planes[0].copy()
        for v in planes[1:]:
            xp.maximum(y, v, out=y)
        masks = _first_max_masks(planes, y)
        if holder is not None:
            idx = xp.zeros(y.shape, dtype=xp.int64)
            for o in range(kh * kw):
                r, c = rows[o // kw], cols[o % kw]
                idx += masks[o] * (r[:, None] * W + c[None, :])
            holder["indices"] = _from_work(idx, swapped)
        ctx.save_for_backward(masks)
        ctx.info = (a.shape, swapped, rows, cols)
        return _from_work(y, swapped)

    @staticmethod
    def backward(ctx, g):
        (masks,) = ctx.saved_tensors
        (A, B, H, W), swapped, rows, cols = ctx.info
        xp = get_array_module(g)
        gw = g.transpose(1, 0, 2, 3) if swapped else g
        dx = xp.zeros((A, B, H, W), dtype=g.dtype)
        kw = len(cols)
        finite = bool(xp.isfinite(gw).all())
        for o in range(masks.shape[0]):
            r, c = rows[o // kw], cols[o % kw]
            contrib = _masked(xp, gw, masks[o], xp.empty(gw.shape, dtype=g.dtype), finite)
            if len(xp.unique(r)) == len(r) and len(xp.unique(c)) == len(c):
                dx[:, :, r[:, None], c[None, :]] += contrib  # distinct targets: plain add
            else:  # more output than input cells: bins share cells, accumulate
                scatter_add(dx, (slice(None), slice(None), r[:, None], c[None, :]), contrib)
        return _from_work(dx, swapped), None, None


def _adaptive(
    nd: int, kind: str, input: Tensor, output_size: Any, return_indices: bool, name: str
) -> Any:
    x = _floating(input, name)
    x4, shape = _as4d(x, nd, name)
    out_hw = _output_size(output_size, x4.shape[2:], nd, name)
    t = input if x4 is x else _Reshape4d.apply(input, x4.shape)
    if kind == "avg":
        return _restore(AdaptiveAvgPool2d.apply(t, out_hw), shape, nd)
    holder: dict[str, Any] | None = {} if return_indices else None
    y = _restore(AdaptiveMaxPool2d.apply(t, out_hw, holder), shape, nd)
    if return_indices:
        idx = _restore_array(holder["indices"], shape, nd)  # type: ignore[index]
        return y, Tensor._make(idx, False, None)
    return y


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    r"""Average over PyTorch's adaptive bins to a fixed output size
    (``torch.nn.functional.adaptive_avg_pool2d``); ``output_size=1`` is global average
    pooling. ``None`` in ``output_size`` keeps that input size.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.adaptive_avg_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 1)
        tensor([[[[7.5]]]])
    """
    return _adaptive(2, "avg", input, output_size, False, "adaptive_avg_pool2d")


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    r"""1-D adaptive average pooling over (N, C, L) or (C, L).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.adaptive_avg_pool1d(cr.tensor([[[1.0, 2.0, 3.0]]]), 2)
        tensor([[[1.5, 2.5]]])
    """
    return _adaptive(1, "avg", input, output_size, False, "adaptive_avg_pool1d")


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    r"""Maximum over PyTorch's adaptive bins (``torch.nn.functional.adaptive_max_pool2d``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.adaptive_max_pool2d(cr.arange(9.0).reshape(1, 1, 3, 3), 2)
        tensor([[[[4., 5.],
                  [7., 8.]]]])
    """
    return _adaptive(2, "max", input, output_size, return_indices, "adaptive_max_pool2d")


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    r"""1-D adaptive max pooling over (N, C, L) or (C, L).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.adaptive_max_pool1d(cr.tensor([[[1.0, 5.0, 3.0]]]), 2)
        tensor([[[5., 5.]]])
    """
    return _adaptive(1, "max", input, output_size, return_indices, "adaptive_max_pool1d")
