r"""Pooling: ``max_pool1d/2d``, ``avg_pool1d/2d``, ``lp_pool1d/2d``, ``adaptive_avg_pool1d/2d``
and ``adaptive_max_pool1d/2d`` (notes 003: pooling layers "downsample" the activation maps;
"usually the max pooling layer has a kernel with dimensionality of 2x2 with a stride of 2";
"general pooling layers include l1/l2 normalization, average pooling").

Over each window :math:`R` of the (padded) input,

.. math::  \text{max: } y = \max_{r \in R} x_r, \quad
           \frac{\partial C}{\partial x_r} = \sum_{\text{windows}} g\,[r = \arg\max_R x],
           \qquad
           \text{avg: } y = \frac{1}{|R|}\sum_{r\in R} x_r, \quad
           \frac{\partial C}{\partial x_r} = \sum_{\text{windows} \ni r} \frac{g}{|R|},

with PyTorch's conventions: the first maximum in row-major window order takes the gradient
(a NaN wins, as in ``torch``); max pooling pads with :math:`-\infty`, average pooling with
zeros, and :math:`|R|` counts the padding or not (``count_include_pad``); ``ceil_mode`` adds a
last, partial window when one starts inside the input.

Implementation: a loop over the ``kh*kw`` kernel offsets (never over pixels), each offset a
strided view of the input holding one element of every window. The max is a chain of
``maximum`` calls and the argmax is kept as one boolean mask per offset (first occurrence),
so the backward is ``kh*kw`` multiplications with no scatter and no ``np.add.at``.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import errstate, get_array_module, parallel_for
from chainrule.ops._im2col import tuple_arg
from chainrule.tensor import Tensor

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "lp_pool1d",
    "lp_pool2d",
    "max_pool1d",
    "max_pool2d",
]


# ---- geometry ----
def pool_out_size(i: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size (``pooling_output_shape``)."""
    span = d * (k - 1) + 1
    num = i + 2 * p - span + ((s - 1) if ceil_mode else 0)
    o = num // s + 1
    if ceil_mode and (o - 1) * s >= i + p:  # the last window must start inside the input
        o -= 1
    return o


def _pool_geometry(
    in_hw: tuple[int, int],
    nd: int,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    name: str,
    max_pool: bool,
) -> tuple[Any, ...]:
    """Kernel, stride, dilation, (lo, hi) padding and output size per axis, in 2-D."""
    k = tuple_arg(kernel_size, nd, "kernel_size", name)
    s = (
        k
        if stride is None or stride == [] or stride == ()
        else tuple_arg(stride, nd, "stride", name)
    )
    p = tuple_arg(padding, nd, "padding", name, minimum=0)
    d = tuple_arg(dilation, nd, "dilation", name)
    for kk, pp, dd in zip(k, p, d):
        limit = (dd * (kk - 1) + 1) // 2 if max_pool else kk // 2
        if pp > limit:
            raise ValueError(
                f"{name}: padding should be at most half of the "
                f"{'effective ' if max_pool else ''}kernel size, got padding={p} for "
                f"kernel_size={k}" + (f", dilation={d}" if max_pool else "")
            )
    if nd == 1:
        k, s, p, d = (1, *k), (1, *s), (0, *p), (1, *d)
    outs = tuple(
        pool_out_size(i, kk, ss, pp, dd, ceil_mode) for i, kk, ss, pp, dd in zip(in_hw, k, s, p, d)
    )
    if any(o <= 0 for o in outs):
        shown_in = in_hw[-nd:]
        shown_out = outs[-nd:]
        raise ValueError(
            f"{name}: the window (kernel_size={k[-nd:]}, dilation={d[-nd:]}) is larger than "
            f"the padded input (size {shown_in}, padding {p[-nd:]}): output size would be "
            f"{shown_out}, which has a size <= 0"
        )
    # padding actually needed on the high side (ceil_mode can run past the input)
    pads = tuple(
        (pp, max((o - 1) * ss + dd * (kk - 1) + 1 - i - pp, 0))
        for i, kk, ss, pp, dd, o in zip(in_hw, k, s, p, d, outs)
    )
    return k, s, d, pads, outs


def _as4d(x: Any, nd: int, name: str) -> tuple[Any, tuple[int, ...]]:
    """View ``x`` as (A, B, H, W): 2-D pools take (N, C, H, W) or unbatched (C, H, W); 1-D
    pools take (N, C, L) or (C, L) as (N, C, 1, L)."""
    full, unbatched = (4, 3) if nd == 2 else (3, 2)
    if x.ndim not in (full, unbatched):
        lay = "(N, C, H, W) or (C, H, W)" if nd == 2 else "(N, C, L) or (C, L)"
        raise ValueError(
            f"{name} expected a {unbatched}-D or {full}-D input {lay}, got a {x.ndim}-D "
            f"input of shape {tuple(x.shape)}"
        )
    shape = x.shape
    if x.ndim == unbatched:
        x = x[None]
    if nd == 1:
        x = x[:, :, None, :]
    return x, shape


def _work_layout(x: Any) -> tuple[Any, bool]:
    """Pooling treats the two leading axes alike; compute on (C, N, H, W) when the input is
    in the CNHW layout of a convolution output (so the result keeps that layout)."""
    t = x.transpose(1, 0, 2, 3)
    if t.flags.c_contiguous and not x.flags.c_contiguous:
        return t, True
    return x, False


def _from_work(y: Any, swapped: bool) -> Any:
    return y.transpose(1, 0, 2, 3) if swapped else y


def _offset_view(
    a: Any, i: int, j: int, s: tuple[int, int], d: tuple[int, int], out: tuple[int, int]
) -> Any:
    """The strided view holding element (i, j) of every window."""
    y0, x0 = i * d[0], j * d[1]
    return a[
        :, :, y0 : y0 + s[0] * (out[0] - 1) + 1 : s[0], x0 : x0 + s[1] * (out[1] - 1) + 1 : s[1]
    ]


def _pad_hw(a: Any, pads: Any, value: float) -> Any:
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return a
    xp = get_array_module(a)
    A, B, H, W = a.shape
    out = xp.full((A, B, H + pt + pb, W + pl + pr), value, dtype=a.dtype)
    out[:, :, pt : pt + H, pl : pl + W] = a
    return out


def _first_max_masks(planes: list[Any], y: Any, masks: Any = None) -> Any:
    """One boolean mask per window offset marking where that offset holds the window's
    maximum first (row-major order), as PyTorch picks it; a NaN wins (the last one).
    Written into ``masks`` (``(len(planes), *y.shape)`` booleans) when given."""
    xp = get_array_module(y)
    if masks is None:
        masks = xp.empty((len(planes), *y.shape), dtype=bool)
    taken = xp.zeros(y.shape, dtype=bool)
    for o, v in enumerate(planes):
        eq = xp.equal(v, y, out=masks[o])
        xp.greater(eq, taken, out=masks[o])  # eq and not yet taken
        xp.logical_or(taken, eq, out=taken)
    nan = xp.isnan(y)
    if nan.any():  # rare: route NaN windows to their last NaN, as torch's scan does
        masks &= ~nan
        done = xp.zeros(y.shape, dtype=bool)
        for o in range(len(planes) - 1, -1, -1):
            hit = xp.isnan(planes[o]) & nan & ~done
            masks[o] |= hit
            done |= hit
    return masks


# ---- max pooling ----
class MaxPool2d(Function):
    r"""y = max over each window;  ∂C/∂x_r = g where r is the window's (first) argmax.

    Note [non-overlapping max pool]: when windows tile the input (stride == kernel, no
    padding, no dilation), one transposing copy puts the ``kh*kw`` elements of every window
    in separate contiguous planes; NumPy's element-wise kernels are several times faster on
    contiguous operands than on the stride-2 views of the general path, and the backward
    writes each plane once (no accumulation) and copies back.

    Both directions run in chunks of the longer of the two leading axes (Note [intra-op
    threads]): every output, mask and input-gradient element depends on its own window only,
    so the chunks are independent and the result does not depend on the thread count."""

    @staticmethod
    def forward(ctx, x, geom, holder):
        (kh, kw), s, d, pads, (ho, wo) = geom
        xp = get_array_module(x)
        a, swapped = _work_layout(x)
        A, B, H, W = a.shape
        kk = kh * kw
        tiled = (kh, kw) == s and d == (1, 1) and pads == ((0, 0), (0, 0))
        if tiled:  # Note [non-overlapping max pool]
            a6 = a[:, :, : ho * kh, : wo * kw].reshape(A, B, ho, kh, wo, kw)  # a view
            planes_arr = xp.empty((kh, kw, A, B, ho, wo), dtype=x.dtype)
            planes = [planes_arr[o // kw, o % kw] for o in range(kk)]
        else:
            ap = _pad_hw(a, pads, float("-inf"))
            planes = [_offset_view(ap, i, j, s, d, (ho, wo)) for i in range(kh) for j in range(kw)]
        y = xp.empty((A, B, ho, wo), dtype=x.dtype)
        masks = None  # the argmax is only needed for backward or return_indices
        if ctx.needs_input_grad[0] or holder is not None:
            masks = xp.empty((kk, A, B, ho, wo), dtype=bool)
        ax = 0 if A >= B else 1

        def pool(p0: int, p1: int) -> None:  # Note [intra-op threads]: rows p0..p1 of axis ax
            c = (slice(p0, p1), slice(None)) if ax == 0 else (slice(None), slice(p0, p1))
            if tiled:
                planes_arr[(slice(None), slice(None)) + c] = a6[c].transpose(3, 5, 0, 1, 2, 4)
            pl = [v[c] for v in planes]
            yc = y[c]
            yc[...] = pl[0]
            for v in pl[1:]:
                xp.maximum(yc, v, out=yc)  # propagates NaN, as torch
            if masks is not None:
                _first_max_masks(pl, yc, masks[(slice(None),) + c])

        parallel_for((A, B)[ax], pool, (2 + kk // 2) * a.nbytes, a)
        if holder is not None:
            holder["indices"] = _from_work(_flat_indices(masks, geom, (H, W)), swapped)
        ctx.save_for_backward(masks)
        ctx.info = (a.shape, swapped, tiled, geom)
        return _from_work(y, swapped)

    @staticmethod
    def backward(ctx, g):
        (masks,) = ctx.saved_tensors
        (A, B, H, W), swapped, tiled, geom = ctx.info
        (kh, kw), s, d, pads, (ho, wo) = geom
        xp = get_array_module(g)
        gw = g.transpose(1, 0, 2, 3) if swapped else g
        (pt, pb), (pl, pr) = pads
        if tiled:  # Note [non-overlapping max pool]: each input cell in at most one window
            dx = xp.empty((A, B, H, W), dtype=g.dtype)
            core6 = dx[:, :, : ho * kh, : wo * kw].reshape(A, B, ho, kh, wo, kw)
        else:
            dxp = xp.empty((A, B, H + pt + pb, W + pl + pr), dtype=g.dtype)
            dx = dxp[:, :, pt : pt + H, pl : pl + W]
        ax = 0 if A >= B else 1

        def unpool(p0: int, p1: int) -> None:  # Note [intra-op threads]: rows p0..p1
            c = (slice(p0, p1), slice(None)) if ax == 0 else (slice(None), slice(p0, p1))
            gc = gw[c]
            # g * mask is exact for finite g; an inf/NaN upstream gradient must still give 0
            # where the mask is False (as torch), which a product would turn into NaN
            finite = bool(xp.isfinite(gc).all())
            if tiled:
                if ho * kh != H:  # rows/columns past the last whole window get no gradient
                    dx[c + (slice(ho * kh, None),)] = 0
                if wo * kw != W:
                    dx[c + (slice(None), slice(wo * kw, None))] = 0
                cc = core6[c]
                for o in range(kh * kw):  # multiply straight into the strided destination
                    _masked(xp, gc, masks[o][c], cc[:, :, :, o // kw, :, o % kw], finite)
            else:
                dc = dxp[c]
                dc[...] = 0
                tmp = xp.empty(gc.shape, dtype=g.dtype)
                for o in range(kh * kw):
                    _offset_view(dc, o // kw, o % kw, s, d, (ho, wo))[...] += _masked(
                        xp, gc, masks[o][c], tmp, finite
                    )

        parallel_for((A, B)[ax], unpool, (2 + kh * kw // 2) * dx.nbytes, g)
        return _from_work(dx, swapped), None, None


def _masked(xp: Any, g: Any, mask: Any, out: Any, finite: bool) -> Any:
    """``out = g where mask else 0`` (a product: ``where`` is ~10x slower on random masks).

    With a non-finite ``g`` the product's NaNs at masked-out cells are zeroed; every other
    cell is the product, as on the finite path (so chunks that take either path agree)."""
    if finite:
        return xp.multiply(g, mask, out=out)
    with errstate(invalid="ignore"):  # inf * 0 -> NaN, overwritten just below
        xp.multiply(g, mask, out=out)
    out[~mask & ~xp.isfinite(g)] = 0
    return out


def _flat_indices(masks: Any, geom: Any, in_hw: tuple[int, int]) -> Any:
    """PyTorch's ``return_indices``: the argmax as a flat index into each H*W plane."""
    (kh, kw), s, d, pads, (ho, wo) = geom
    xp = get_array_module(masks)
    H, W = in_hw
    rows = xp.arange(ho)[:, None] * s[0] - pads[0][0]
    cols = xp.arange(wo)[None, :] * s[1] - pads[1][0]
    idx = xp.zeros(masks.shape[1:], dtype=xp.int64)
    for o in range(kh * kw):
        i, j = divmod(o, kw)
        idx += masks[o] * ((rows + i * d[0]) * W + cols + j * d[1])
    return idx


def _floating(input: Any, name: str) -> Any:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name} expects a Tensor, got {type(input).__name__}")
    if input.data.dtype.kind != "f":
        raise TypeError(
            f"{name} expected a floating input, got dtype {input.data.dtype}; convert it "
            "with .float()"
        )
    return input.data


def _max_pool(
    nd: int,
    input: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    return_indices: bool,
    name: str,
) -> Any:
    x = _floating(input, name)
    x4, shape = _as4d(x, nd, name)
    geom = _pool_geometry(
        x4.shape[2:],
        nd,
        kernel_size,
        stride,
        padding,
        dilation,
        bool(ceil_mode),
        name,
        max_pool=True,
    )
    holder: dict[str, Any] | None = {} if return_indices else None
    t = input if x4 is x else _Reshape4d.apply(input, x4.shape)
    y = MaxPool2d.apply(t, geom, holder)
    y = _restore(y, shape, nd)
    if return_indices:
        idx = holder["indices"]  # type: ignore[index]
        idx = _restore_array(idx, shape, nd)  # 1-D: H == 1, so the index is into L
        return y, Tensor._make(idx, False, None)
    return y


class _Reshape4d(Function):
    """View an input as 4-D (and back in backward); keeps pool code rank-agnostic."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None


def _restore(y: Tensor, shape: tuple[int, ...], nd: int) -> Tensor:
    target = _restored_shape(y.shape, shape, nd)
    return y if target == y.shape else _Reshape4d.apply(y, target)


def _restore_array(a: Any, shape: tuple[int, ...], nd: int) -> Any:
    return a.reshape(_restored_shape(a.shape, shape, nd))


def _restored_shape(out4: tuple[int, ...], shape: tuple[int, ...], nd: int) -> tuple[int, ...]:
    batched = len(shape) == nd + 2
    spatial = out4[2:] if nd == 2 else out4[3:]
    lead = out4[:2] if batched else out4[1:2]
    return (*lead, *spatial)


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    r"""2-D max pooling (``torch.nn.functional.max_pool2d``): the largest value of each
    window, :math:`y = \max_{r \in R} x_r`.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: window size (int or pair).
        stride: window step; defaults to ``kernel_size`` (non-overlapping windows).
        padding: implicit :math:`-\infty` padding on both sides (at most half the window).
        dilation: spacing between window elements.
        ceil_mode: round the output size up (a last partial window).
        return_indices: also return the argmax as a flat index into each H*W plane.

    Raises:
        ValueError: a window larger than the padded input ('output size would be 0'), bad
            padding, or a wrong rank.

    Example:
        >>> import chainrule as cr
        >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
        >>> cr.nn.functional.max_pool2d(x, 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    return _max_pool(
        2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool2d"
    )


def max_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    r"""1-D max pooling over (N, C, L) or (C, L); arguments as :func:`max_pool2d`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0, 5.0]]]), 2)
        tensor([[[3., 2.]]])
    """
    return _max_pool(
        1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool1d"
    )


from chainrule.ops.adaptive_pooling import (  # noqa: E402  (split for file size)
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
)
from chainrule.ops.avg_pooling import (  # noqa: E402  (split for file size)
    avg_pool1d,
    avg_pool2d,
    lp_pool1d,
    lp_pool2d,
)
