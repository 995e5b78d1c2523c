r"""Convolution geometry and the im2col / col2im kernels shared by convolution and pooling.

Convolution arithmetic (Dumoulin & Visin, arXiv 1603.07285, cited in the notes): along one
spatial axis with input size :math:`i`, kernel :math:`k`, stride :math:`s`, dilation
:math:`d` and padding :math:`p_{lo} + p_{hi}`, the dilated kernel spans
:math:`k_d = d(k-1)+1` cells and the output has

.. math::  o = \left\lfloor \frac{i + p_{lo} + p_{hi} - d(k-1) - 1}{s} \right\rfloor + 1

cells. The notes' three convolution types fix the padding: *valid* (no padding, output smaller
than the input), *same* (output :math:`\lceil i/s \rceil`: total padding
:math:`\max((o-1)s + k_d - i, 0)`, split as TensorFlow/Keras do, the extra cell at the end),
*full* (:math:`p = d(k-1)` on both sides, every cell the kernel touches: output larger).

Note [CNHW working layout]
    Convolutions compute in a channels-first-batch-second layout: the padded input is held as
    ``(C, N, Hp, Wp)``, the im2col matrix as ``(C*kh*kw, N*Ho*Wo)`` and the output as
    ``(Cout, N*Ho*Wo)``, so the whole batch is **one** BLAS matrix product
    ``W(Cout, C*kh*kw) @ cols`` (measured on the benchmark shapes, float32, 2 threads: about
    150 GFLOP/s, against about 120 for a batched ``(N, C*k*k, Ho*Wo)`` matmul, 110 for
    ``(N*Ho*Wo, C*k*k)`` and much less for ``tensordot``/``einsum``, which copy). The result
    is returned as an NCHW *view* of the ``(Cout, N, Ho, Wo)`` buffer (no transpose copy).
    Element-wise ops keep that layout (NumPy's ``order='K'``), pooling and batch norm work on
    it directly, and the next convolution's im2col reads it with long contiguous runs, so a
    conv -> relu -> pool -> conv chain never transposes. Everything stays correct for any
    layout: this is a choice of strides, not of semantics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.backend import as_strided, get_array_module, parallel_for

__all__ = [
    "PADDING_MODES",
    "PADDING_STRINGS",
    "check_positive_output",
    "col2im",
    "col2im_wide",
    "conv_output_shape",
    "conv_out_size",
    "fold_padding",
    "im2col",
    "pad_cnhw",
    "resolve_padding",
    "tuple_arg",
]

PADDING_STRINGS = ("valid", "same", "full")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_NP_PAD_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def tuple_arg(value: Any, n: int, name: str, op: str, minimum: int = 1) -> tuple[int, ...]:
    """``value`` (an int or a sequence of ``n`` ints) as an ``n``-tuple of ints >= ``minimum``."""
    if isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if isinstance(value, int) or (hasattr(value, "__index__") and not isinstance(value, str)):
        out: tuple[int, ...] = (int(value),) * n
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != n or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
        out = tuple(int(v) for v in value)
    else:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in out):
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return out


def conv_out_size(i: int, k: int, s: int, d: int, p_total: int) -> int:
    """Output cells along one axis: ``floor((i + p_total - d*(k-1) - 1) / s) + 1``."""
    return (i + p_total - d * (k - 1) - 1) // s + 1


def resolve_padding(
    padding: Any,
    in_sizes: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    op: str,
) -> tuple[tuple[int, int], ...]:
    """``(lo, hi)`` padding per spatial axis from an int, a tuple, or 'valid'/'same'/'full'."""
    n = len(kernel)
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0),) * n
        if mode == "full":
            return tuple((d * (k - 1), d * (k - 1)) for k, d in zip(kernel, dilation))
        if mode == "same":
            out = []
            for i, k, s, d in zip(in_sizes, kernel, stride, dilation):
                o = -(-i // s)  # ceil(i / s)
                total = max((o - 1) * s + d * (k - 1) + 1 - i, 0)
                out.append((total // 2, total - total // 2))  # extra cell at the end (Keras)
            return tuple(out)
        raise ValueError(
            f"{op}: invalid padding string {padding!r}; expected one of "
            f"{', '.join(repr(p) for p in PADDING_STRINGS)}, an int or a tuple of {n} ints"
        )
    if isinstance(padding, Sequence) and len(padding) == 2 * n and n > 1:
        raise ValueError(
            f"{op}: padding must be an int or a tuple of {n} ints (one per spatial axis, "
            f"applied on both sides), got {padding!r}"
        )
    p = tuple_arg(padding, n, "padding", op, minimum=0)
    return tuple((v, v) for v in p)


def pad_cnhw(xc: Any, pads: Sequence[tuple[int, int]], mode: str) -> Any:
    """Pad the two trailing axes of ``xc`` (C, N, H, W); ``mode`` is a ``padding_mode``.

    Zero padding writes the interior into a zeroed buffer (one pass over the input); the
    copying modes use the array library's ``pad``."""
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return xc
    xp = get_array_module(xc)
    if mode == "zeros":
        c, n, h, w = xc.shape
        out = xp.empty((c, n, h + pt + pb, w + pl + pr), dtype=xc.dtype)

        def fill(a: int, b: int) -> None:  # Note [intra-op threads]: images a..b
            o = out[:, a:b]
            o[:, :, :pt] = 0
            o[:, :, pt + h :] = 0
            o[:, :, pt : pt + h, :pl] = 0
            o[:, :, pt : pt + h, pl + w :] = 0
            o[:, :, pt : pt + h, pl : pl + w] = xc[:, a:b]

        parallel_for(n, fill, 2 * out.nbytes, out)
        return out
    return xp.pad(xc, ((0, 0), (0, 0), (pt, pb), (pl, pr)), mode=_NP_PAD_MODE[mode])


def fold_padding(gp: Any, pads: Sequence[tuple[int, int]], mode: str) -> Any:
    """The adjoint of :func:`pad_cnhw`: crop the gradient of the padded array, and for the
    copying modes add each border cell's gradient back onto the cell it copied.

    The loops run over padding positions (a few), never over data."""
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return gp
    h = gp.shape[2] - pt - pb
    w = gp.shape[3] - pl - pr
    if mode == "zeros":
        return gp[:, :, pt : pt + h, pl : pl + w]
    g = gp
    for axis, lo, hi, n in ((3, pl, pr, w), (2, pt, pb, h)):
        if not (lo or hi):
            continue
        gm = g.swapaxes(0, axis)
        core = gm[lo : lo + n].copy()
        if mode == "replicate":
            if lo:
                core[0] += gm[:lo].sum(axis=0)
            if hi:
                core[n - 1] += gm[lo + n :].sum(axis=0)
        elif mode == "reflect":
            for i in range(1, lo + 1):
                core[i] += gm[lo - i]
            for i in range(1, hi + 1):
                core[n - 1 - i] += gm[lo + n - 1 + i]
        else:  # circular
            for i in range(lo):
                core[(n - lo + i) % n] += gm[i]
            for i in range(hi):
                core[i % n] += gm[lo + n + i]
        g = core.swapaxes(0, axis)
    return g


def im2col(
    xp_: Any,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
    out: Any = None,
) -> Any:
    r"""Columns of every receptive field of a padded ``(C, N, Hp, Wp)`` array, as a
    ``(C*kh*kw, N*Ho*Wo)`` matrix (rows ordered ``(c, i, j)`` like a PyTorch weight).

    ``cols[(c, i, j), (n, y, x)] = xp[c, n, y*sh + i*dh, x*sw + j*dw]``: one strided *view*
    (no copy) of all windows, then a single copy into the GEMM layout (into ``out`` when
    given: a (C*kh*kw, N*Ho*Wo) array, or column block of one, with contiguous rows)."""
    xp = get_array_module(xp_)
    c, n, _, _ = xp_.shape
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    ho, wo = out_hw
    s0, s1, s2, s3 = xp_.strides
    if kh == kw == 1 and sh == sw == 1 and ho == xp_.shape[2] and wo == xp_.shape[3]:
        return xp_.reshape(c, n * ho * wo)  # 1x1 kernel: the input already is the matrix
    windows = as_strided(xp_, (c, kh, kw, n, ho, wo), (s0, dh * s2, dw * s3, s1, sh * s2, sw * s3))
    if out is None:
        out = xp.empty((c * kh * kw, n * ho * wo), dtype=xp_.dtype)
    dst = out.reshape(c, kh, kw, n, ho, wo)  # a view: ``out`` rows are contiguous

    def copy(a: int, b: int) -> None:  # Note [intra-op threads]: images a..b
        dst[:, :, :, a:b] = windows[:, :, :, a:b]

    parallel_for(n, copy, 2 * out.nbytes, out)
    return out


def col2im(
    cols: Any,
    channels: int,
    batch: int,
    padded_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
) -> Any:
    r"""The adjoint of :func:`im2col`: add each column entry back onto the input cell it was
    copied from, giving a ``(C, N, Hp, Wp)`` array.

    A loop over the ``kh*kw`` kernel offsets, each adding one strided slice (overlapping
    windows accumulate; no ``np.add.at``)."""
    xp = get_array_module(cols)
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    ho, wo = out_hw
    hp, wp = padded_hw
    dc = cols.reshape(channels, kh, kw, batch, ho, wo)
    out = xp.empty((channels, batch, hp, wp), dtype=cols.dtype)

    def add(a: int, b: int) -> None:  # Note [intra-op threads]: images a..b
        o = out[:, a:b]
        o[...] = 0
        for i in range(kh):
            for j in range(kw):
                y0, x0 = i * dh, j * dw
                o[:, :, y0 : y0 + sh * (ho - 1) + 1 : sh, x0 : x0 + sw * (wo - 1) + 1 : sw] += dc[
                    :, i, j, a:b
                ]

    parallel_for(batch, add, (2 * kh * kw + 1) * out.nbytes, out)
    return out


def col2im_wide(
    cols: Any,
    channels: int,
    batch: int,
    padded_hw: tuple[int, int],
    kernel: tuple[int, int],
    dilation: tuple[int, int],
    out_h: int,
) -> Any:
    r"""Stride-1 col2im on a 'wide' grid, for short image rows.

    Here the columns cover ``Ho`` rows of the full padded width ``Wp`` (the caller zero-fills
    the ``Wp - Wo`` extra cells of each row in the upstream gradient, so their columns are 0).
    In a row-major ``(C, N, Hp*Wp)`` buffer, kernel offset ``(i, j)`` is then a *flat* shift
    by ``i*dh*Wp + j*dw``: each of the ``kh*kw`` additions is one slice with contiguous runs of
    ``Ho*Wp`` values instead of ``N*C*Ho`` runs of ``Wo`` (NumPy's per-run overhead dominates
    short rows: 14-wide rows made col2im 2-3x slower). Zeros that spill past a row end land in
    the next row, adding nothing; a tail of ``(kw-1)*dw`` cells absorbs the last one."""
    xp = get_array_module(cols)
    kh, kw = kernel
    dh, dw = dilation
    hp, wp = padded_hw
    length = out_h * wp
    dc = cols.reshape(channels, kh, kw, batch, length)
    tail = (kw - 1) * dw
    out = xp.empty((channels, batch, hp * wp + tail), dtype=cols.dtype)

    def add(a: int, b: int) -> None:  # Note [intra-op threads]: images a..b
        o = out[:, a:b]
        o[:, :, :length] = dc[:, 0, 0, a:b]  # offset (0, 0) starts the sum (no zero pass)
        o[:, :, length:] = 0
        for i in range(kh):
            for j in range(kw):
                if i or j:
                    s = i * dh * wp + j * dw
                    o[:, :, s : s + length] += dc[:, i, j, a:b]

    parallel_for(batch, add, 2 * kh * kw * out.nbytes, out)
    return out[:, :, : hp * wp].reshape(channels, batch, hp, wp)


def check_positive_output(
    out_sizes: Sequence[int], in_sizes: Sequence[int], op: str, detail: str = ""
) -> None:
    """Raise when a window does not fit: 'output size would be 0 (or negative)'."""
    if any(o <= 0 for o in out_sizes):
        raise ValueError(
            f"{op}: the window is larger than the (padded) input {tuple(in_sizes)}{detail}: "
            f"output size would be {tuple(out_sizes)}, which has a size <= 0"
        )


def conv_output_shape(
    input_size: int | tuple[int, ...],
    kernel_size: int | tuple[int, ...],
    stride: int | tuple[int, ...] = 1,
    padding: int | tuple[int, ...] | str = 0,
    dilation: int | tuple[int, ...] = 1,
    *,
    transposed: bool = False,
    output_padding: int | tuple[int, ...] = 0,
) -> int | tuple[int, ...]:
    r"""Output size of a convolution or a transposed convolution, per spatial axis.

    Convolution (Dumoulin & Visin, relationship 15, with dilation):

    .. math::  o = \left\lfloor \frac{i + 2p - d(k-1) - 1}{s} \right\rfloor + 1,

    where ``padding`` may also be ``'valid'`` (:math:`p=0`: :math:`o < i`), ``'same'``
    (:math:`o = \lceil i/s \rceil`) or ``'full'`` (:math:`p = d(k-1)`: :math:`o > i`).
    Transposed convolution (relationship 14, with dilation and output padding):

    .. math::  o = (i - 1)s - 2p + d(k-1) + p_{out} + 1.

    Args:
        input_size: an int, or a tuple with one size per spatial axis.
        kernel_size, stride, padding, dilation, output_padding: ints or tuples as for the
            layers.
        transposed: the size for a transposed convolution.

    Returns:
        An int for an int ``input_size``, else a tuple.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.conv_output_shape((28, 28), 5, padding=2)
        (28, 28)
        >>> cr.nn.conv_output_shape(28, 3, stride=2, padding="same")
        14
        >>> cr.nn.conv_output_shape(14, 4, stride=2, padding=1, transposed=True)
        28
    """
    scalar = isinstance(input_size, int)
    sizes: tuple[int, ...] = (input_size,) if isinstance(input_size, int) else tuple(input_size)
    nd = len(sizes)
    name = "conv_output_shape"
    k = tuple_arg(kernel_size, nd, "kernel_size", name)
    s = tuple_arg(stride, nd, "stride", name)
    d = tuple_arg(dilation, nd, "dilation", name)
    if transposed:
        p = tuple_arg(padding, nd, "padding", name, minimum=0)
        op = tuple_arg(output_padding, nd, "output_padding", name, minimum=0)
        out = tuple(
            (i - 1) * s_ - 2 * p_ + d_ * (k_ - 1) + o_ + 1
            for i, k_, s_, p_, d_, o_ in zip(sizes, k, s, p, d, op)
        )
    else:
        pads = resolve_padding(padding, sizes, k, s, d, name)
        out = tuple(
            conv_out_size(i, k_, s_, d_, lo + hi)
            for i, k_, s_, d_, (lo, hi) in zip(sizes, k, s, d, pads)
        )
    return out[0] if scalar else out
