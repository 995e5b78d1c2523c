r"""Normalization: ``batch_norm`` and ``layer_norm``, each one fused op with the classic
closed-form backward.

Both standardise :math:`x` over a set :math:`S` of :math:`M` values (batch norm: the batch and
spatial axes of each channel; layer norm: the trailing ``normalized_shape`` axes of each
sample) and apply a learned affine map:

.. math::  \mu = \frac1M \sum_S x, \quad \sigma^2 = \frac1M \sum_S (x-\mu)^2, \quad
           \hat x = \frac{x-\mu}{\sqrt{\sigma^2+\epsilon}}, \quad y = \gamma \hat x + \beta.

Differentiating through :math:`\mu` and :math:`\sigma^2` (Ioffe & Szegedy 2015) collapses to

.. math::  \frac{\partial C}{\partial x} = \frac{\gamma}{\sqrt{\sigma^2+\epsilon}}
           \Big(g - \frac1M\sum_S g - \hat x\,\frac1M \sum_S g\,\hat x\Big), \quad
           \frac{\partial C}{\partial \gamma} = \sum_S g\,\hat x, \quad
           \frac{\partial C}{\partial \beta} = \sum_S g.

Training-mode batch norm runs in chunks of channels on the intra-op pool (Note [intra-op
threads] in :mod:`chainrule.backend`): each channel's outputs depend on that channel only,
so the result is the same bits for any thread count. The per-channel sums (the mean, and
:math:`\sum g` in backward) are taken before the pool, as BLAS products with a vector of
ones (:func:`_sum_pq`). Measured (2 threads, (128, 32, 28, 28) fwd+bwd, medians of 21):
19.1-21.4 ms on one thread, 12.7-13.9 ms on two; with the BLAS sums, the per-channel blocks
of Note [per-channel operands as blocks] and no separate normalising pass, 9.8-11.2 against
12.8-14.2 ms before (three pairs of processes).

Fused because the composed graph (mean, subtract, square, mean, sqrt, divide, multiply, add)
would keep about eight full-size intermediates and walk them all again in backward; here the
forward keeps :math:`x - \mu` only and each pass is one NumPy kernel.
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import get_array_module, parallel_for
from chainrule.ops._blas_sums import row_sums
from chainrule.tensor import Tensor

__all__ = ["batch_norm", "layer_norm"]


def _channel_view(x: Any) -> Any:
    """``x`` (N, C, *) as a 3-D (P, C, Q) view whose axes 0 and 2 are reduced: (N, C, L)
    in the NCHW layout, (1, C, N*L) when the input is in a convolution's CNHW layout."""
    n, c = x.shape[0], x.shape[1]
    if x.ndim == 2:
        return x[:, :, None]
    q = math.prod(x.shape[2:])  # not -1: an empty batch (eval) has no size to infer from
    t = x.swapaxes(0, 1)
    if t.flags.c_contiguous and not x.flags.c_contiguous:
        return t.reshape(1, c, n * q)
    return x.reshape(n, c, q)


def _from_channel_view(y3: Any, shape: tuple[int, ...]) -> Any:
    """Undo :func:`_channel_view` for an input of ``shape`` (a view, never a copy)."""
    if len(shape) == 2:
        return y3[:, :, 0]
    if y3.shape[0] == 1 and shape[0] != 1:  # CNHW working layout: back to an N-first view
        return y3.reshape((shape[1], shape[0]) + tuple(shape[2:])).swapaxes(0, 1)
    return y3.reshape(shape)


def _dot(a: Any, b: Any) -> Any:
    """Per-channel Σ a·b over axes 0 and 2 of (P, C, Q) arrays, without a temporary."""
    xp = get_array_module(a)
    return xp.einsum("pcq,pcq->c", a, b)


# Note [per-channel operands as blocks]
#     A per-channel value v_c broadcast over a (P, C, Q) chunk as ``v[:, None]`` makes NumPy
#     run its inner loop P·C times over Q values with one operand of stride 0; for NCHW
#     activations Q = H·W is short (784 at 28x28) and that loop is ~1.6x slower than a loop
#     over two contiguous operands (measured on (128, 32, 784): subtract 1.59 vs 0.96 ms, one
#     thread). Repeating v_c along Q once into a small (C, Q) block (here at most ~1 MB,
#     reused for all P images) gives every element-wise pass contiguous operands. In the
#     CNHW layout of a convolution output (P = 1, Q = N·H·W) each channel is one long run and
#     the broadcast is already fast, so it stays a view.
_BLOCK_MAX_BYTES = 1 << 20


def _per_channel(v: Any, x3: Any) -> Any:
    """``v`` (one value per channel of the (P, C, Q) chunk ``x3``) in a form that broadcasts
    against ``x3`` (Note [per-channel operands as blocks])."""
    c, q = x3.shape[1], x3.shape[2]
    if x3.shape[0] == 1 or q == 1 or c * q * x3.itemsize > _BLOCK_MAX_BYTES:
        return v[:, None]
    block = get_array_module(x3).empty((c, q), dtype=x3.dtype)
    block[...] = v[:, None]
    return block


def _sum_pq(a3: Any, row: int) -> Any:
    """Per-channel Σ over axes 0 and 2 of a (P, C, Q) array whose axis 2 is made of rows of
    ``row`` contiguous values (an image plane): each row summed by BLAS (Note [sums as
    products with ones], ~3x faster than NumPy's ``sum`` over two strided axes, measured on
    (128, 16, 784): 0.13 vs 0.40 ms), then those row sums by NumPy's pairwise ``sum``."""
    p, c, q = a3.shape
    if q == 1:  # (N, C) input: column sums, which NumPy adds row by row
        return a3[:, :, 0].sum(axis=0)
    if p == 1 and row < q:  # CNHW: each channel is one run of N·H·W values
        return row_sums(a3.reshape(c, q // row, row)).sum(axis=1)
    return row_sums(a3).sum(axis=0)


class BatchNorm(Function):
    r"""y = γ x̂ + β with batch statistics (training) or running statistics (eval);
    ∂C/∂x = γ/σ (g − mean(g) − x̂ mean(g x̂)) in training, γ/σ_run g in eval.

    Training keeps the centred input :math:`x - μ` and :math:`1/σ` rather than :math:`\hat x`:
    the forward computes :math:`y = (x - μ)(γ/σ) + β` with no separate normalising pass, and
    the backward folds :math:`1/σ` into its per-channel factors
    (:math:`\sum g \hat x = \frac1σ \sum g (x - μ)`)."""

    @staticmethod
    def forward(ctx, x, w, b, running_mean, running_var, use_batch_stats, momentum, eps):
        xp = get_array_module(x)
        x3 = _channel_view(x)
        m = x3.shape[0] * x3.shape[2]
        row = math.prod(x.shape[2:])  # values per image and channel (H·W)
        ctx.use_batch_stats = use_batch_stats
        ctx.m, ctx.row = m, row
        if use_batch_stats:
            c = x3.shape[1]
            mean = _sum_pq(x3, row)  # BLAS: before the pool, whose chunks must not call it
            mean /= m
            var = xp.empty(c, dtype=x.dtype)
            invstd = xp.empty(c, dtype=x.dtype)
            xc = xp.empty_like(x3)  # x − μ, same layout as x
            y = xp.empty_like(x3)

            def fwd(c0: int, c1: int) -> None:  # Note [intra-op threads]: channels c0..c1
                xs, hc, yc = x3[:, c0:c1], xc[:, c0:c1], y[:, c0:c1]
                mc = mean[c0:c1]
                xp.subtract(xs, _per_channel(mc, xs), out=hc)
                var[c0:c1] = _dot(hc, hc) / m
                ic = invstd[c0:c1]
                xp.sqrt(var[c0:c1] + eps, out=ic)
                xp.divide(1.0, ic, out=ic)
                xp.multiply(hc, _per_channel(ic if w is None else ic * w[c0:c1], xs), out=yc)
                if b is not None:
                    yc += _per_channel(b[c0:c1], xs)

            parallel_for(c, fwd, 6 * x3.nbytes, x3)
            if running_mean is not None and momentum:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += (momentum * m / max(m - 1, 1)) * var  # unbiased, as torch
        else:  # eval: y = x * scale + shift, with no x̂ kept
            invstd = 1.0 / xp.sqrt(running_var + eps)
            xc = None
            mean = running_mean
            scale = invstd if w is None else w * invstd
            y = x3 * scale[:, None]
            shift = -mean * scale
            if b is not None:
                shift = shift + b
            y += shift[:, None]
        ctx.save_for_backward(xc if use_batch_stats else x3, w, invstd, mean)
        return _from_channel_view(y, x.shape)

    @staticmethod
    def backward(ctx, g):
        xc_or_x, w, invstd, mean = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        xp = get_array_module(g)
        x3 = xc_or_x
        g3 = _channel_view_like(g, x3)
        gx = gw = gb = None
        if ctx.use_batch_stats:
            c, m = x3.shape[1], ctx.m
            gsum = _sum_pq(g3, ctx.row)  # BLAS: before the pool, whose chunks must not call it
            gdot = xp.empty(c, dtype=g.dtype)
            k = invstd if w is None else w * invstd
            if need_x:
                gx, dx = _grad_buffer(g, g3)

            def bwd(c0: int, c1: int) -> None:  # Note [intra-op threads]: channels c0..c1
                gc, hc = g3[:, c0:c1], x3[:, c0:c1]  # hc = x − μ
                ic = invstd[c0:c1]
                gdot[c0:c1] = _dot(gc, hc) * ic  # Σ g x̂ = (1/σ) Σ g (x − μ)
                if need_x:
                    # ∂C/∂x = k (g − mean(g) − (x − μ) mean(g x̂)/σ), k = γ/σ, as
                    # (g − ((x − μ) a + s)) k, every factor a per-channel block
                    kc = k[c0:c1]
                    dc = dx[:, c0:c1]
                    xp.multiply(hc, _per_channel(gdot[c0:c1] * ic / m, hc), out=dc)
                    dc += _per_channel(gsum[c0:c1] / m, hc)
                    xp.subtract(gc, dc, out=dc)
                    dc *= _per_channel(kc, hc)

            parallel_for(c, bwd, (5 if need_x else 2) * x3.nbytes, x3)
        else:
            gsum = g3.sum(axis=(0, 2))
            gdot = (_dot(g3, x3) - mean * gsum) * invstd  # Σ g x̂ with x̂ = (x − μ_run)/σ_run
            if need_x:
                k = invstd if w is None else w * invstd
                gx, dx = _grad_buffer(g, g3)
                xp.multiply(g3, k[:, None], out=dx)
        if need_w:
            gw = gdot.astype(g.dtype, copy=False)
        if need_b:
            gb = gsum.astype(g.dtype, copy=False)
        return gx, gw, gb, None, None, None, None, None


def _grad_buffer(g: Any, g3: Any) -> tuple[Any, Any]:
    """The input gradient as a fresh array of ``g``'s shape (in the NCHW case a plain
    C-contiguous array, which the engine can hand to a leaf without copying it) and the
    (P, C, Q) view of it that the formulas write into."""
    xp = get_array_module(g)
    if g3.shape[0] == 1 and g.shape[0] != 1:  # CNHW working layout
        buf = xp.empty((g.shape[1], g.shape[0]) + tuple(g.shape[2:]), dtype=g.dtype)
        return buf.swapaxes(0, 1), buf.reshape(g3.shape)
    buf = xp.empty(g.shape, dtype=g.dtype)
    return buf, buf.reshape(g3.shape)


def _channel_view_like(g: Any, ref3: Any) -> Any:
    """``g`` as the same (P, C, Q) view the forward used (a copy only if layouts differ)."""
    if g.ndim == 2:
        return g[:, :, None]
    if ref3.shape[0] == 1 and g.shape[0] != 1:
        return g.swapaxes(0, 1).reshape(ref3.shape)
    return g.reshape(ref3.shape)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    r"""Batch normalization over the channel axis 1 (``torch.nn.functional.batch_norm``).

    In training each channel is standardised with the batch mean and biased variance over
    every axis but 1, and the running statistics, when given,
    move towards them: :math:`r \leftarrow (1-m) r + m\,s` with the *unbiased* batch variance
    for ``running_var`` (PyTorch's rule). In eval the running statistics are used.

    Args:
        input: (N, C), (N, C, L) or (N, C, H, W).
        running_mean, running_var: (C,) buffers updated in place, or None.
        weight, bias: :math:`\gamma, \beta` of shape (C,), or None.
        training: use batch statistics (and update the running ones).
        momentum: :math:`m` above.
        eps: :math:`\epsilon`.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[1.0], [3.0]])
        >>> cr.nn.functional.batch_norm(x, None, None, training=True)
        tensor([[-1.],
                [ 1.]])
    """
    name = "batch_norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{name} expects a Tensor, got {type(input).__name__}")
    x = input.data
    if x.dtype.kind != "f":
        raise TypeError(f"{name} expected a floating input, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(
            f"{name} expected an input with a channel axis (N, C, ...), got shape {tuple(x.shape)}"
        )
    c = x.shape[1]
    for label, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and t.data.shape != (c,):
            raise ValueError(
                f"{name}: {label} should have shape ({c},) for an input with {c} "
                f"channels, got {tuple(t.data.shape)}"
            )
        if t is not None and t.data.dtype != x.dtype:
            raise TypeError(
                f"{name}: {label} dtype {t.data.dtype} does not match input dtype "
                f"{x.dtype}; convert the input or the layer (.to(...))"
            )
    if not training and (running_mean is None or running_var is None):
        raise ValueError(
            f"{name}: running_mean and running_var must be given in evaluation mode "
            "(training=False); pass training=True to normalise with batch statistics"
        )
    if eps <= 0:
        raise ValueError(f"{name}: eps must be positive, got {eps}")
    use_batch = bool(training)
    if use_batch and x.size // c <= 1:
        raise ValueError(
            f"{name}: expected more than 1 value per channel when training, got input of "
            f"shape {tuple(x.shape)}"
        )
    rm = None if running_mean is None else running_mean.data  # read in eval, updated in
    rv = None if running_var is None else running_var.data  # training (in place)
    momentum = float(momentum) if use_batch and momentum is not None else 0.0
    return BatchNorm.apply(input, weight, bias, rm, rv, use_batch, momentum, float(eps))


class LayerNorm(Function):
    r"""y = γ x̂ + β over the trailing D values of each row;
    ∂C/∂x = (1/σ)(g' − mean(g') − x̂ mean(g' x̂)) with g' = γ g."""

    @staticmethod
    def forward(ctx, x, w, b, d, eps):
        xp = get_array_module(x)
        x2 = x.reshape(-1, d)
        mean = x2.mean(axis=1, keepdims=True, dtype=x.dtype)
        xhat = x2 - mean
        var = xp.einsum("rd,rd->r", xhat, xhat)[:, None] / d
        invstd = 1.0 / xp.sqrt(var + eps)
        xhat *= invstd
        if w is not None:
            y = xhat * w.reshape(1, d)
        else:
            y = xhat.copy()
        if b is not None:
            y += b.reshape(1, d)
        ctx.save_for_backward(xhat, w, invstd)
        ctx.shapes = (x.shape, None if w is None else w.shape, d)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        xhat, w, invstd = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        xp = get_array_module(g)
        shape, wshape, d = ctx.shapes
        g2 = g.reshape(-1, d)
        gx = gw = gb = None
        if need_w:
            gw = xp.einsum("rd,rd->d", g2, xhat).reshape(wshape)
        if need_b:
            gb = g2.sum(axis=0).reshape(wshape)
        if need_x:
            gp = g2 * w.reshape(1, d) if w is not None else g2
            dot = xp.einsum("rd,rd->r", gp, xhat)[:, None] / d
            dx = gp - gp.mean(axis=1, keepdims=True)
            dx -= xhat * dot
            dx *= invstd
            gx = dx.reshape(shape)
        return gx, gw, gb, None, None


def layer_norm(
    input: Tensor,
    normalized_shape: Any,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    r"""Layer normalization over the trailing ``normalized_shape`` axes
    (``torch.nn.functional.layer_norm``): each sample is standardised with its own mean and
    biased variance, then :math:`y = \gamma \hat x + \beta` element-wise.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.layer_norm(cr.tensor([[1.0, 3.0]]), (2,))
        tensor([[-1.,  1.]])
    """
    name = "layer_norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{name} expects a Tensor, got {type(input).__name__}")
    x = input.data
    if x.dtype.kind != "f":
        raise TypeError(f"{name} expected a floating input, got dtype {x.dtype}")
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k :]) != ns:
        raise ValueError(
            f"{name}: expected an input whose trailing dimensions are normalized_shape={ns}, "
            f"got shape {tuple(x.shape)}"
        )
    for label, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.data.shape) != ns:
            raise ValueError(f"{name}: {label} should have shape {ns}, got {tuple(t.data.shape)}")
        if t is not None and t.data.dtype != x.dtype:
            raise TypeError(
                f"{name}: {label} dtype {t.data.dtype} does not match input dtype {x.dtype}"
            )
    d = 1
    for s in ns:
        d *= s
    return LayerNorm.apply(input, weight, bias, d, float(eps))
