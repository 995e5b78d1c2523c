r"""Transposed convolution: ``conv_transpose1d`` and ``conv_transpose2d``.

The transposed convolution is the adjoint (the input gradient) of a convolution with the same
hyper-parameters: each input cell scatters a copy of the kernel, scaled by its value, onto the
output, at ``stride`` spacing. With :math:`W` (C_in, C_out/groups, k_h, k_w) as PyTorch stores it,

.. math::  Y_{col} = W^\top X, \qquad y = \mathrm{col2im}(Y_{col})
           \text{ cropped by } p \text{ on each side} + b,

and the gradients are a convolution and one matrix product each:
:math:`\partial C/\partial X = W\,\mathrm{im2col}(G)`,
:math:`\partial C/\partial W = X\,\mathrm{im2col}(G)^\top`, :math:`\partial C/\partial b = \sum G`.
Output size (Dumoulin & Visin, relationship 14): :math:`o = (i-1)s - 2p + d(k-1) + p_{out} + 1`.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import get_array_module
from chainrule.ops._blas_sums import row_sums
from chainrule.ops._im2col import check_positive_output, col2im, im2col, tuple_arg
from chainrule.ops.conv import _mm, check_dtypes, check_input_channels, check_input_rank
from chainrule.tensor import Tensor

__all__ = ["conv_transpose1d", "conv_transpose2d"]


class ConvTranspose2d(Function):
    r"""y = col2im(Wᵀ X) cropped + b;  ∂C/∂X = W im2col(G),  ∂C/∂W = X im2col(G)ᵀ,
    ∂C/∂b = Σ G (working in the CNHW layout of Note [CNHW working layout])."""

    @staticmethod
    def forward(ctx, x, w, b, geom):
        (sh, sw), (ph, pw), (dh, dw), groups, (ho, wo) = geom
        ctx.one_d = x.ndim == 3
        if ctx.one_d:
            x, w = x[:, :, None, :], w[:, :, None, :]
        n, c, h, wd = x.shape
        _, og, kh, kw = w.shape
        o = og * groups
        cgr = c // groups
        k = og * kh * kw
        xp = get_array_module(x)
        xc = x.transpose(1, 0, 2, 3).reshape(c, n * h * wd)  # copies unless CNHW already
        wt = w.reshape(groups, cgr, k).transpose(0, 2, 1)  # (G, C_out/G*kh*kw, C_in/G)
        cols = _mm(wt, xc.reshape(groups, cgr, -1)).reshape(groups * k, -1)
        # the full (uncropped) output grid, tall enough for output_padding
        hb = max((h - 1) * sh + dh * (kh - 1) + 1, ph + ho)
        wb = max((wd - 1) * sw + dw * (kw - 1) + 1, pw + wo)
        full = col2im(cols, o, n, (hb, wb), (kh, kw), (sh, sw), (dh, dw), (h, wd))
        y = xp.empty((o, n, ho, wo), dtype=x.dtype)
        crop = full[:, :, ph : ph + ho, pw : pw + wo]
        if b is not None:
            xp.add(crop, b[:, None, None, None], out=y)
        else:
            y[...] = crop
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ctx.save_for_backward(xc if need_w else None, w if need_x else None)
        ctx.shapes = (x.shape, w.shape, (hb, wb))
        ctx.geom = geom
        y = y.transpose(1, 0, 2, 3)
        return y[:, :, 0, :] if ctx.one_d else y

    @staticmethod
    def backward(ctx, g):
        xc, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        (sh, sw), (ph, pw), (dh, dw), groups, (ho, wo) = ctx.geom
        (n, c, h, wd), (_, og, kh, kw), (hb, wb) = ctx.shapes
        if ctx.one_d:
            g = g[:, :, None, :]
            w = None if w is None else w[:, :, None, :]
        o = og * groups
        cgr = c // groups
        k = og * kh * kw
        xp = get_array_module(g)
        gc = g.transpose(1, 0, 2, 3)
        gx = gw = gb = None
        if need_b:
            gb = row_sums(gc.reshape(o, -1))  # Note [sums as products with ones]
        if need_x or need_w:
            gfull = xp.zeros((o, n, hb, wb), dtype=g.dtype)
            gfull[:, :, ph : ph + ho, pw : pw + wo] = gc
            gcols = im2col(gfull, (kh, kw), (sh, sw), (dh, dw), (h, wd)).reshape(groups, k, -1)
            if need_x:
                dx = _mm(w.reshape(groups, cgr, k), gcols).reshape(c, n, h, wd)
                gx = dx.transpose(1, 0, 2, 3)
            if need_w:
                gw = _mm(xc.reshape(groups, cgr, -1), gcols.transpose(0, 2, 1))
                gw = gw.reshape(c, og, kh, kw)
        if ctx.one_d:
            gx = None if gx is None else gx[:, :, 0, :]
            gw = None if gw is None else gw[:, :, 0, :]
        return gx, gw, gb, None


def transposed_geometry(
    in_sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: Any,
    padding: Any,
    output_padding: Any,
    dilation: Any,
    groups: int,
    name: str,
) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    """Validate a transposed convolution's hyper-parameters; its 2-D geometry and outputs."""
    nd = len(kernel)
    if isinstance(padding, str):
        raise ValueError(
            f"{name}: padding must be an int or a tuple of {nd} ints (padding strings are "
            f"for convolutions), got {padding!r}"
        )
    st = tuple_arg(stride, nd, "stride", name)
    pd = tuple_arg(padding, nd, "padding", name, minimum=0)
    op = tuple_arg(output_padding, nd, "output_padding", name, minimum=0)
    dl = tuple_arg(dilation, nd, "dilation", name)
    for o_, s, d in zip(op, st, dl):
        if o_ >= s and o_ >= d:
            raise ValueError(
                f"{name}: output_padding must be smaller than either stride or dilation, got "
                f"output_padding={op}, stride={st}, dilation={dl}"
            )
    outs = tuple(
        (i - 1) * s - 2 * p + d * (k - 1) + o_ + 1
        for i, k, s, p, d, o_ in zip(in_sizes, kernel, st, pd, dl, op)
    )
    check_positive_output(outs, in_sizes, name, f" (padding {pd} crops more than the output)")
    geom: tuple[Any, ...]
    if nd == 1:
        geom = ((1, st[0]), (0, pd[0]), (1, dl[0]), groups, (1, outs[0]))
    else:
        geom = (st, pd, dl, groups, outs)
    return geom, outs


def _conv_transposend(
    nd: int,
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
    name: str,
) -> Tensor:
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{name} expects Tensors for input and weight")
    x, w = input.data, weight.data
    b = None if bias is None else bias.data
    check_input_rank(x, nd, name)
    if w.ndim != nd + 2:
        raise ValueError(
            f"{name} expected a {nd + 2}-D weight (in_channels, out_channels/groups, kernel...), "
            f"got shape {tuple(w.shape)}"
        )
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    if w.shape[0] % groups:
        raise ValueError(f"{name}: in_channels {w.shape[0]} must be divisible by groups={groups}")
    check_input_channels(x, w.shape[0], name, f" (weight of shape {tuple(w.shape)})")
    if b is not None and b.shape != (w.shape[1] * groups,):
        raise ValueError(
            f"{name} expected a bias of shape ({w.shape[1] * groups},), got {tuple(b.shape)}"
        )
    check_dtypes(x, w, b, name)
    geom, _ = transposed_geometry(
        x.shape[2:], w.shape[2:], stride, padding, output_padding, dilation, groups, name
    )
    return ConvTranspose2d.apply(input, weight, bias, geom)


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    r"""2-D transposed convolution (``torch.nn.functional.conv_transpose2d``, same argument
    order): the input gradient of :func:`~chainrule.nn.functional.conv2d`, used to upsample.

    Args:
        input: (N, C_in, H, W).
        weight: (C_in, C_out/groups, kH, kW).
        bias: (C_out,) or None.
        stride, padding, output_padding, dilation: ints or pairs. ``padding`` removes that
            many cells from both sides of the output (the padding of the convolution this is
            the adjoint of); ``output_padding`` adds cells at the end, to pick one of the
            input sizes that a strided convolution maps to the same output size.
        groups: independent channel groups.

    Returns:
        (N, C_out, H_out, W_out) with :math:`H_{out} = (H-1)s - 2p + d(k-1) + p_{out} + 1`.

    Example:
        >>> import chainrule as cr
        >>> x = cr.ones(1, 1, 2, 2)
        >>> cr.nn.functional.conv_transpose2d(x, cr.ones(1, 1, 2, 2), stride=2).shape
        (1, 1, 4, 4)
    """
    return _conv_transposend(
        2,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        "conv_transpose2d",
    )


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    r"""1-D transposed convolution of an (N, C_in, L) batch; arguments as
    :func:`conv_transpose2d`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.conv_transpose1d(cr.ones(1, 1, 3), cr.ones(1, 1, 2))
        tensor([[[1., 2., 2., 1.]]])
    """
    return _conv_transposend(
        1,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        "conv_transpose1d",
    )
