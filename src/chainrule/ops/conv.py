r"""Convolution: ``conv1d`` and ``conv2d`` (cross-correlation, as every framework computes it).

For an input :math:`x` (N, C, H, W) and filters :math:`W` (C_out, C/groups, k_h, k_w),

.. math::  y_{n,o,p,q} = b_o + \sum_{c,i,j} W_{o,c,i,j}\,
           x^{pad}_{n,\,c,\;p s_h + i d_h,\;q s_w + j d_w}

(notes 003: each neuron takes "the scalar product between its weight and the region connected
to the input", the same weights at every position). Written with the im2col matrix
:math:`X_{col}` (one column per output position, one row per (c, i, j)) it is one matrix
product, and so is each gradient:

.. math::  Y = W X_{col} + b, \qquad
           \frac{\partial C}{\partial W} = G X_{col}^\top, \qquad
           \frac{\partial C}{\partial X_{col}} = W^\top G, \qquad
           \frac{\partial C}{\partial b} = \textstyle\sum G,

and :math:`\partial C/\partial x` is col2im of :math:`W^\top G` (each column entry added back
onto the input cell it was copied from). See Note [CNHW working layout] in
:mod:`chainrule.ops._im2col` for the memory layout that makes the whole batch one GEMM.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

from chainrule.autograd.function import Function
from chainrule.backend import (
    BlasTasks,
    blas_workers_sleep,
    get_array_module,
    kernels_inline,
    parallel_for,
    single_thread_blas,
)
from chainrule.ops._blas_sums import row_sums
from chainrule.ops._im2col import (
    PADDING_MODES,
    check_positive_output,
    col2im,
    col2im_wide,
    conv_out_size,
    fold_padding,
    im2col,
    pad_cnhw,
    resolve_padding,
    tuple_arg,
)
from chainrule.tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]

_BLOCK_BYTES = 2 << 20  # Note [blocked im2col]: im2col blocks sized to stay in cache

# Note [blocked im2col], continued: a block below 2 MiB is copied by one thread (it is under
# the intra-op pool's threshold). Where OpenBLAS's workers sleep between products, blocks of
# 8 MiB let the pool's two threads do the copy, and LeNet-5's inference at batch 1000 took
# 46-49 instead of 63-65 ms (2 threads, 4 rounds each, alternating in one process; 32 MiB:
# 58-76 ms). With OpenBLAS's default spin its workers hold the second core after each
# product, and 8 MiB blocks measured 65-71 against 60-65 ms: there the blocks stay at 2 MiB.
_INFER_BLOCK_BYTES = (8 << 20) if blas_workers_sleep() else _BLOCK_BYTES

# The stride-1 'wide' col2im pays (Wp/Wo - 1) extra GEMM work to turn N*C*Ho short row
# additions into a few long ones; that wins while rows are short (measured: 14- and 28-wide
# rows, 2-3x faster col2im), and stops paying for wide images.
_WIDE_COL2IM_MAX_WIDTH = 64


class ConvGeom(NamedTuple):
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]
    mode: str
    groups: int


def _mm(a: Any, b: Any) -> Any:
    """Per-group matrix product of (G, M, K) and (G, K, L) stacks; one plain 2-D GEMM when
    G == 1 (NumPy's batched matmul path is slower for a single matrix)."""
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return a @ b


# Note [blocked col2im]: above this many bytes of ∂C/∂X_col (the (C k k, N Ho Wp) matrix
# Wᵀ G), the input gradient is computed in blocks of images whose columns (~2 MB) stay in
# cache between the GEMM that writes them and the col2im that reads them, instead of one
# GEMM writing the whole matrix to memory and col2im reading it back. Measured (2 threads,
# medians of 15): Conv2d 32->64 at 14x14, batch 128 (33 MB of columns) fwd+bwd 47.6-55.0 ->
# 41.6-44.7 ms. Below it one GEMM wins: LeNet-5's second convolution (11 MB) in blocks made
# the whole train step 17.6 -> 22.4 ms (the blocks' GEMMs are too small for BLAS to be
# efficient).
_BLOCKED_DX_MIN_BYTES = 16 << 20


def _widen(gc: Any, out: Any) -> Any:
    """G (O, n, Ho, Wo) on the 'wide' grid ``out`` (O, n, Ho, Wp) of col2im_wide: each row
    padded with zeros to the padded input's width."""
    wo = gc.shape[3]
    out[..., :wo] = gc
    out[..., wo:] = 0
    return out


def _dx_wide_block(
    wt: Any,
    gwide: Any,
    channels: int,
    padded_hw: tuple[int, int],
    kernel: tuple[int, int],
    dilation: tuple[int, int],
    out: Any = None,
) -> Any:
    """∂C/∂x_pad of a block of images, col2im(Wᵀ G) for groups == 1 and stride 1, from G on
    the wide grid (O, n, Ho, Wp); ``out`` is an optional buffer for the columns Wᵀ G."""
    o, n, out_h = gwide.shape[:3]
    dcols = get_array_module(gwide).matmul(wt, gwide.reshape(o, -1), out=out)
    return col2im_wide(dcols, channels, n, padded_hw, kernel, dilation, out_h)


def _dx_wide_blocked(
    wt: Any,
    gwide: Any,
    channels: int,
    padded_hw: tuple[int, int],
    kernel: tuple[int, int],
    dilation: tuple[int, int],
) -> Any:
    """∂C/∂x_pad = col2im(Wᵀ G) for groups == 1, stride 1, block by block of images (Note
    [blocked col2im]); ``gwide`` is G on the wide grid (O, N, Ho, Wp), ``wt`` is Wᵀ."""
    xp = get_array_module(gwide)
    n = gwide.shape[1]
    hp, wp = padded_hw
    length = gwide.shape[2] * wp
    nb = max(1, _BLOCK_BYTES // (wt.shape[0] * length * gwide.dtype.itemsize))
    out = xp.empty((channels, n, hp, wp), dtype=gwide.dtype)
    buf = xp.empty((wt.shape[0], nb * length), dtype=gwide.dtype)
    for s0 in range(0, n, nb):  # blocks of images, never single pixels
        s1 = min(n, s0 + nb)
        cols = buf[:, : (s1 - s0) * length]
        out[:, s0:s1] = _dx_wide_block(
            wt, gwide[:, s0:s1], channels, padded_hw, kernel, dilation, cols
        )
    return out


# Note [input gradient as a full correlation]: for stride 1, ∂C/∂x can be computed two ways:
# col2im of Wᵀ G (a GEMM with K = O, then kh·kw read-modify-write passes over ∂C/∂x), or the
# forward algorithm run on G (im2col of G, then a GEMM with K = O·kh·kw and M = C; copies are
# cheaper than additions). The second pays when there are at least as many input channels as
# output channels (its GEMM has M = C rows, its im2col O·kh·kw): measured, fwd+bwd at 2
# threads, medians of 20, correlation / col2im: 64->64 at 7x7 0.78-0.81, 128->128 at 8x8
# 0.89-0.93, 32->32 at 14x14 0.79-0.80, 64->32 at 14x14 0.68, 16->16 at 14x14 0.88. With more
# output than input channels it does not: 16->32 at 28x28 1.09, 32->64 at 14x14 0.98-1.07,
# 6->16 (LeNet-5) 1.90, 3->32 2.34.
_DX_CORRELATION_MIN_CHANNELS = 16


def _dx_as_correlation_pays(cg: int, og: int, taps: int) -> bool:
    """Note [input gradient as a full correlation]: whether :func:`_dx_full_correlation` beats
    col2im for a stride-1 convolution with ``cg`` input and ``og`` output channels per group
    and ``taps`` kernel cells."""
    return taps > 1 and cg >= _DX_CORRELATION_MIN_CHANNELS and og <= cg


def _dx_full_correlation(
    gc: Any,
    w: Any,
    groups: int,
    dilation: tuple[int, int],
    pads: tuple[tuple[int, int], tuple[int, int]],
    mode: str,
) -> Any:
    r"""∂C/∂x of a stride-1 convolution as a *full* correlation (the notes' full convolution):
    :math:`∂C/∂x^{pad}_{c} = \sum_o G_o ⋆_{full} \mathrm{rot180}(W_{o,c})`, i.e. the forward
    algorithm (im2col + one GEMM) run on the upstream gradient ``gc`` (O, N, Ho, Wo) zero-padded
    by :math:`d(k-1)`, with the filters transposed (in and out channels swapped, per group) and
    turned by 180°. For zero padding the gradient is padded by :math:`d(k-1) - p` instead,
    which gives ∂C/∂x directly (no cells of the padding computed and cropped). Returns
    (C, N, H, W)."""
    o, n = gc.shape[:2]
    _, cg, kh, kw = w.shape
    dh, dw = dilation
    eh, ew = dh * (kh - 1), dw * (kw - 1)
    (pt, pb), (pl, pr) = pads
    direct = mode == "zeros" and max(pt, pb) <= eh and max(pl, pr) <= ew
    gpads = ((eh - pt, eh - pb), (ew - pl, ew - pr)) if direct else ((eh, eh), (ew, ew))
    gpad = pad_cnhw(gc, gpads, "zeros")
    out_h, out_w = gpad.shape[2] - eh, gpad.shape[3] - ew
    og = o // groups
    wf = w.reshape(groups, og, cg, kh, kw).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    wf = wf.reshape(groups, cg, og * kh * kw)  # a copy: (G, C/G, O/G kh kw), small
    cols = im2col(gpad, (kh, kw), (1, 1), (dh, dw), (out_h, out_w))
    d = _mm(wf, cols.reshape(groups, og * kh * kw, -1)).reshape(groups * cg, n, out_h, out_w)
    return d if direct else fold_padding(d, pads, mode)


# Note [convolution backward in tasks]: where OpenBLAS's workers sleep between products (Note
# [BLAS helper thread] in chainrule.backend), a stride-1 convolution's backward runs as a list
# of tasks over blocks of images that two threads share, each with one BLAS thread and no
# intra-op pool: the weight gradient as partial sums G_b X_colᵀ_b (added in block order) and
# the input gradient as Wᵀ G_b followed by the block's col2im, whose columns are still in
# cache. Splitting each GEMM and each col2im over both threads instead pays two thread
# wake-ups per block and runs small GEMMs at poor two-thread efficiency. Measured, Conv2d
# 32->64 at 14x14, batch 128, fwd+bwd with OPENBLAS_THREAD_TIMEOUT=4: 56.3 -> 41.1 ms (0.73;
# 16->32 at 28x28 0.75). Small convolutions gain nothing (LeNet-5's step 1.01, Conv2d 1->32
# at 28x28 1.01: below 2e8 FLOP per GEMM they keep the pool), nor does the path of Note [input
# gradient as a full correlation] (64->64 at 7x7: 1.06 of it). The weight gradient's blocks
# hold ~4 MB of columns, the input gradient's ~2 MB.
_TASKS_MIN_FLOP = 2e8


def _backward_in_tasks(
    tasks: BlasTasks,
    gc: Any,
    w: Any,
    cols: Any,
    need_b: bool,
    padded_hw: tuple[int, int],
    dilation: tuple[int, int],
) -> tuple[Any, Any, Any]:
    """(∂C/∂x_pad, ∂C/∂W or None, ∂C/∂b or None) of a stride-1, groups-1 convolution from
    ``gc`` (O, N, Ho, Wo), block by block of images in ``tasks`` (Note [convolution backward
    in tasks]); the input gradient through the wide col2im. The weight gradient's blocks
    (or, without it, blocks of their own) also sum the bias gradient."""
    xp = get_array_module(gc)
    o, n, ho, wo = gc.shape
    _, c, kh, kw = w.shape
    hp, wp = padded_hw
    wt = w.reshape(o, -1).T  # (C kh kw, O)
    length = ho * wo
    dxpad = xp.empty((c, n, hp, wp), dtype=gc.dtype)
    dw_parts: dict[int, Any] = {}
    db_parts: dict[int, Any] = {}

    def dx_block(s0: int, s1: int) -> None:
        gwide = _widen(gc[:, s0:s1], xp.empty((o, s1 - s0, ho, wp), dtype=gc.dtype))
        dxpad[:, s0:s1] = _dx_wide_block(wt, gwide, c, (hp, wp), (kh, kw), dilation)

    def dw_block(s0: int, s1: int) -> None:
        gb = gc[:, s0:s1].reshape(o, -1)  # a copy when g is NCHW (in cache for the GEMM)
        dw_parts[s0] = None if cols is None else gb @ cols[:, s0 * length : s1 * length].T
        db_parts[s0] = row_sums(gb) if need_b else None

    row_bytes = wt.shape[0] * gc.dtype.itemsize
    with kernels_inline(), single_thread_blas():  # Note [BLAS helper thread]
        if cols is not None or need_b:
            nb = max(1, (2 * _BLOCK_BYTES) // (row_bytes * length))
            for s0 in range(0, n, nb):
                tasks.add(partial(dw_block, s0, min(n, s0 + nb)))
        nb = max(1, _BLOCK_BYTES // (row_bytes * ho * wp))
        for s0 in range(0, n, nb):
            tasks.add(partial(dx_block, s0, min(n, s0 + nb)))
        tasks.join_all()
    gw, gb = BlasTasks.ordered_sum(dw_parts), BlasTasks.ordered_sum(db_parts)  # block order
    if gw is not None:
        gw = gw.reshape(w.shape)
    return dxpad, gw, gb


def _forward_in_tasks(
    tasks: BlasTasks,
    xpad: Any,
    w2: Any,
    b: Any,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
) -> tuple[Any, Any]:
    """(X_col, Y = W X_col + b) of a groups-1 convolution, block by block of images in
    ``tasks`` (Note [convolution backward in tasks]): each block's im2col copy and its GEMM
    run on one thread while the columns are in cache."""
    xp = get_array_module(xpad)
    c, n = xpad.shape[:2]
    length = out_hw[0] * out_hw[1]
    k = w2.shape[1]
    cols = xp.empty((k, n * length), dtype=xpad.dtype)
    y = xp.empty((w2.shape[0], n * length), dtype=xpad.dtype)

    def block(s0: int, s1: int) -> None:
        cb = cols[:, s0 * length : s1 * length]
        im2col(xpad[:, s0:s1], kernel, stride, dilation, out_hw, out=cb)
        yb = xp.matmul(w2, cb, out=y[:, s0 * length : s1 * length])
        if b is not None:
            yb += b[:, None]

    nb = max(1, _BLOCK_BYTES // (k * length * xpad.dtype.itemsize))
    with kernels_inline(), single_thread_blas():  # Note [BLAS helper thread]
        for s0 in range(0, n, nb):
            tasks.add(partial(block, s0, min(n, s0 + nb)))
        tasks.join_all()
    return cols, y


def _squeeze_1d(one_d: bool, gx: Any, gw: Any, gb: Any) -> tuple[Any, Any, Any, None]:
    """Conv2d.backward's result, conv1d's height-1 axis dropped again."""
    if one_d:
        gx = None if gx is None else gx[:, :, 0, :]
        gw = None if gw is None else gw[:, :, 0, :]
    return gx, gw, gb, None


class Conv2d(Function):
    r"""y = W X_col + b (one GEMM for the whole batch); ∂C/∂W = G X_colᵀ,
    ∂C/∂x = col2im(Wᵀ G), ∂C/∂b = Σ G.

    Fused into one node: im2col, the GEMM and the bias add share buffers, and backward skips
    the input gradient when the input does not need one (the first layer)."""

    @staticmethod
    def forward(ctx, x, w, b, geom):
        (sh, sw), (dh, dw), pads, mode, groups = geom
        ctx.one_d = x.ndim == 3
        if ctx.one_d:  # conv1d: a 2-D convolution of height 1
            x, w = x[:, :, None, :], w[:, :, None, :]
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        xpad = pad_cnhw(x.transpose(1, 0, 2, 3), pads, mode)  # (C, N, Hp, Wp)
        hp, wp = xpad.shape[2], xpad.shape[3]
        ho = conv_out_size(hp, kh, sh, dh, 0)
        wo = conv_out_size(wp, kw, sw, dw, 0)
        k = cg * kh * kw
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        w3 = w.reshape(groups, o // groups, k)
        length = ho * wo
        per_image = c * kh * kw * length * x.dtype.itemsize
        tasks = None
        pointwise = kh == kw == 1 and sh == sw == 1  # the input already is X_col
        if need_w and groups == 1 and not pointwise and 2 * o * k * n * length >= _TASKS_MIN_FLOP:
            tasks = BlasTasks.create(x)
        if tasks is not None:  # Note [convolution backward in tasks], applied to forward
            cols, y = _forward_in_tasks(
                tasks, xpad, w3[0], b, (kh, kw), (sh, sw), (dh, dw), (ho, wo)
            )
        elif need_w or per_image * n <= 2 * _INFER_BLOCK_BYTES or pointwise:
            cols = im2col(xpad, (kh, kw), (sh, sw), (dh, dw), (ho, wo))  # (C*kh*kw, N*Ho*Wo)
            y = _mm(w3, cols.reshape(groups, k, -1)).reshape(o, n * length)
            if b is not None:  # y is fresh: the bias is added in place
                y3, b3 = y.reshape(o, n, length), b[:, None, None]
                parallel_for(n, lambda a, e: y3[:, a:e].__iadd__(b3), 2 * y.nbytes, y)
        else:
            # Note [blocked im2col]: with nothing to save for backward (inference, frozen
            # weights) the batch goes through in blocks whose columns (~2 MB) stay in cache
            # between the im2col copy and the GEMM that reads them, in one reused buffer.
            # Memory-bound convolutions (few output channels: LeNet's) run 1.5-3x faster at
            # batch 1000, and a 1000-image batch no longer allocates an 80 MB matrix.
            cols = None
            xp = get_array_module(x)
            y = xp.empty((o, n * length), dtype=x.dtype)
            nb = max(1, _INFER_BLOCK_BYTES // per_image)
            buf = xp.empty((c * kh * kw, nb * length), dtype=x.dtype)
            for s0 in range(0, n, nb):  # blocks of images, never single pixels
                s1 = min(n, s0 + nb)
                block = im2col(
                    xpad[:, s0:s1],
                    (kh, kw),
                    (sh, sw),
                    (dh, dw),
                    (ho, wo),
                    out=buf[:, : (s1 - s0) * length],
                )
                yb = y[:, s0 * length : s1 * length]
                if groups == 1:
                    xp.matmul(w3[0], block, out=yb)
                else:
                    yb.reshape(groups, o // groups, -1)[...] = w3 @ block.reshape(groups, k, -1)
                if b is not None:
                    yb += b[:, None]
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ctx.save_for_backward(cols if need_w else None, w if need_x else None)
        ctx.shapes = (x.shape, w.shape, (hp, wp), (ho, wo))
        ctx.geom = geom
        y = y.reshape(o, n, ho, wo).transpose(1, 0, 2, 3)
        return y[:, :, 0, :] if ctx.one_d else y

    @staticmethod
    def backward(ctx, g):
        cols, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        (sh, sw), (dh, dw), pads, mode, groups = ctx.geom
        (n, c, h, wd), (o, cg, kh, kw), (hp, wp), (ho, wo) = ctx.shapes
        k = cg * kh * kw
        og = o // groups
        if ctx.one_d:  # w was saved in its 2-D form
            g = g[:, :, None, :]
        gc = g.transpose(1, 0, 2, 3)  # (O, N, Ho, Wo): free when g is in the CNHW layout
        gx = gw = gb = None
        wide = sh == sw == 1 and wo < _WIDE_COL2IM_MAX_WIDTH and (kh > 1 or kw > 1)
        tasks = None
        if (
            need_x
            and wide
            and groups == 1
            and not _dx_as_correlation_pays(cg, og, kh * kw)  # that path was as fast
            and 2 * k * o * n * ho * wp >= _TASKS_MIN_FLOP
        ):
            tasks = BlasTasks.create(g)
        if tasks is not None:  # Note [convolution backward in tasks]: g read block by block
            dxpad, gw, gb = _backward_in_tasks(
                tasks, gc, w, cols if need_w else None, need_b, (hp, wp), (dh, dw)
            )
            gx = fold_padding(dxpad, pads, mode).transpose(1, 0, 2, 3)
            return _squeeze_1d(ctx.one_d, gx, gw, gb)
        g2 = gc.reshape(o, n * ho * wo)  # a copy when g is NCHW
        if need_b:
            gb = row_sums(g2)  # Note [sums as products with ones]
        if need_w:
            gw = _mm(g2.reshape(groups, og, -1), cols.reshape(groups, k, -1).transpose(0, 2, 1))
            gw = gw.reshape(o, cg, kh, kw)
        if not need_x:
            return _squeeze_1d(ctx.one_d, gx, gw, gb)
        if sh == sw == 1 and _dx_as_correlation_pays(cg, og, kh * kw):
            gx = _dx_full_correlation(gc, w, groups, (dh, dw), pads, mode).transpose(1, 0, 2, 3)
        else:
            wt = w.reshape(groups, og, k).transpose(0, 2, 1)  # Wᵀ per group: (G, K, O/G)
            if sh == sw == 1 and wo < _WIDE_COL2IM_MAX_WIDTH and (kh > 1 or kw > 1):
                xp = get_array_module(g)
                gwide = xp.empty((o, n, ho, wp), dtype=g.dtype)  # rows padded to width Wp

                def widen(a: int, b: int) -> None:  # Note [intra-op threads]: images a..b
                    _widen(gc[:, a:b], gwide[:, a:b])

                parallel_for(n, widen, 2 * gwide.nbytes, gwide)
                if groups == 1 and k * gwide[0].nbytes > _BLOCKED_DX_MIN_BYTES:
                    dxpad = _dx_wide_blocked(wt[0], gwide, c, (hp, wp), (kh, kw), (dh, dw))
                else:
                    dcols = _mm(wt, gwide.reshape(groups, og, -1)).reshape(groups * k, -1)
                    dxpad = col2im_wide(dcols, c, n, (hp, wp), (kh, kw), (dh, dw), ho)
            else:
                dcols = _mm(wt, g2.reshape(groups, og, -1)).reshape(groups * k, -1)
                dxpad = col2im(dcols, c, n, (hp, wp), (kh, kw), (sh, sw), (dh, dw), (ho, wo))
            gx = fold_padding(dxpad, pads, mode).transpose(1, 0, 2, 3)
        return _squeeze_1d(ctx.one_d, gx, gw, gb)


# ---- public functions ----
_LAYOUT = {1: "N, C, L", 2: "N, C, H, W"}
_LAYOUT_NAME = {1: "NCL", 2: "NCHW"}


def check_input_rank(x: Any, nd: int, name: str) -> None:
    """A clear error for a convolution input of the wrong rank (RELIABILITY A3)."""
    if x.ndim != nd + 2:
        hint = ""
        if x.ndim == nd + 1:
            hint = "; for a single sample add the batch axis first (x.unsqueeze(0))"
        raise ValueError(
            f"{name} expected a {nd + 2}-D input ({_LAYOUT[nd]}: {_LAYOUT_NAME[nd]} rank "
            f"{nd + 2}), got a {x.ndim}-D input of shape {tuple(x.shape)}{hint}"
        )


def check_input_channels(x: Any, expected: int, name: str, what: str = "") -> None:
    """A clear error naming the expected and the received channel count (RELIABILITY A2)."""
    if x.shape[1] != expected:
        raise ValueError(
            f"{name} expected input with {expected} channels{what}, got {x.shape[1]} "
            f"channels: input of shape {tuple(x.shape)} ({_LAYOUT_NAME.get(x.ndim - 2, 'NC...')})"
        )


def check_dtypes(x: Any, w: Any, b: Any, name: str) -> None:
    if x.dtype.kind != "f":
        raise TypeError(
            f"{name} expected a floating input, got dtype {x.dtype}; convert it with .float()"
        )
    if w.dtype != x.dtype or (b is not None and b.dtype != x.dtype):
        raise TypeError(
            f"{name}: input dtype {x.dtype} does not match weight dtype {w.dtype}"
            + (f" / bias dtype {b.dtype}" if b is not None else "")
            + "; convert the input (x.to(...)) or the layer (.to(...))"
        )


def conv_geometry(
    in_sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    padding_mode: str,
    name: str,
) -> tuple[ConvGeom, tuple[int, ...]]:
    """Validate the hyper-parameters of a convolution; the 2-D geometry and output sizes."""
    nd = len(kernel)
    st = tuple_arg(stride, nd, "stride", name)
    dl = tuple_arg(dilation, nd, "dilation", name)
    if padding_mode not in PADDING_MODES:
        raise ValueError(
            f"{name}: padding_mode must be one of {', '.join(repr(m) for m in PADDING_MODES)}, "
            f"got {padding_mode!r}"
        )
    pads = resolve_padding(padding, in_sizes, kernel, st, dl, name)
    for size, (lo, hi) in zip(in_sizes, pads):
        if padding_mode == "reflect" and max(lo, hi) >= size:
            raise ValueError(
                f"{name}: reflect padding of ({lo}, {hi}) needs an input size larger than the "
                f"padding, got size {size}"
            )
        if padding_mode == "circular" and max(lo, hi) > size:
            raise ValueError(
                f"{name}: circular padding of ({lo}, {hi}) can wrap at most once, got input "
                f"size {size}"
            )
    outs = tuple(
        conv_out_size(i, k, s, d, lo + hi)
        for i, k, s, d, (lo, hi) in zip(in_sizes, kernel, st, dl, pads)
    )
    padded = tuple(i + lo + hi for i, (lo, hi) in zip(in_sizes, pads))
    check_positive_output(
        outs,
        padded,
        name,
        f" (kernel {kernel}, dilation {dl}: the dilated kernel spans "
        f"{tuple(d * (k - 1) + 1 for k, d in zip(kernel, dl))})",
    )
    if nd == 1:
        geom = ConvGeom((1, st[0]), (1, dl[0]), ((0, 0), pads[0]), padding_mode, groups)
    else:
        geom = ConvGeom(st, dl, pads, padding_mode, groups)  # type: ignore[arg-type]
    return geom, outs


def _convnd(
    nd: int,
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    padding_mode: str,
    name: str,
) -> Tensor:
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(
            f"{name} expects Tensors for input and weight, got {type(input).__name__} and "
            f"{type(weight).__name__}"
        )
    x, w = input.data, weight.data
    b = None if bias is None else bias.data
    check_input_rank(x, nd, name)
    if w.ndim != nd + 2:
        raise ValueError(
            f"{name} expected a {nd + 2}-D weight (out_channels, in_channels/groups, "
            f"{'kernel' if nd == 1 else 'kH, kW'}), got shape {tuple(w.shape)}"
        )
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    if w.shape[0] % groups:
        raise ValueError(f"{name}: out_channels {w.shape[0]} must be divisible by groups={groups}")
    check_input_channels(
        x, w.shape[1] * groups, name, f" (weight of shape {tuple(w.shape)}, groups={groups})"
    )
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"{name} expected a bias of shape ({w.shape[0]},), got {tuple(b.shape)}")
    check_dtypes(x, w, b, name)
    geom, _ = conv_geometry(
        x.shape[2:], w.shape[2:], stride, padding, dilation, groups, padding_mode, name
    )
    return Conv2d.apply(input, weight, bias, geom)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> Tensor:
    r"""2-D convolution of an NCHW batch (``torch.nn.functional.conv2d``).

        :math:`y_{n,o,p,q} = b_o + \sum_{c,i,j} W_{o,c,i,j}\, x^{pad}_{n,c,ps_h+id_h,qs_w+jd_w}`.

        Args:
            input: (N, C, H, W).
            weight: (C_out, C/groups, kH, kW).
            bias: (C_out,) or None.
            stride, dilation: an int or a pair.
            padding: an int, a pair (each applied on both sides), or ``'valid'`` (none),
                ``'same'`` (``ceil(H/stride)`` outputs for any stride and dilation, the odd cell
                of padding at the end, as Keras), ``'full'`` (``dilation*(k-1)`` on both sides).
            groups: split the channels into this many independent convolutions.
            padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'`` (an
                extension: ``torch.nn.Conv2d`` takes it, ``F.conv2d`` pads with zeros only).

        Returns:
            (N, C_out, H_out, W_out) with :math:`H_{out} = \lfloor (H + p_{top} + p_{bottom}
            - d(k-1) - 1)/s
    floor + 1`.

        Raises:
            ValueError: wrong rank (NCHW, rank 4, expected), channel count, bias shape, padding
                string, or a window that does not fit ('output size would be 0').
            TypeError: non-floating input or mismatched dtypes.

        Example:
            >>> import chainrule as cr
            >>> x = cr.ones(1, 1, 4, 4)
            >>> w = cr.ones(1, 1, 3, 3)
            >>> cr.nn.functional.conv2d(x, w, padding="same")[0, 0]
            tensor([[4., 6., 6., 4.],
                    [6., 9., 9., 6.],
                    [6., 9., 9., 6.],
                    [4., 6., 6., 4.]])
            >>> cr.nn.functional.conv2d(x, w, padding="full").shape
            (1, 1, 6, 6)
    """
    return _convnd(
        2, input, weight, bias, stride, padding, dilation, groups, padding_mode, "conv2d"
    )


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> Tensor:
    r"""1-D convolution of an (N, C, L) batch (``torch.nn.functional.conv1d``):
    :math:`y_{n,o,p} = b_o + \sum_{c,j} W_{o,c,j}\, x^{pad}_{n,c,ps+jd}`.

    Arguments as :func:`conv2d`, with ints (or 1-tuples) for the one spatial axis; computed
    as a 2-D convolution of height 1.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[[1.0, 2.0, 3.0, 4.0]]])
        >>> cr.nn.functional.conv1d(x, cr.tensor([[[1.0, -1.0]]]))
        tensor([[[-1., -1., -1.]]])
    """
    return _convnd(
        1, input, weight, bias, stride, padding, dilation, groups, padding_mode, "conv1d"
    )


# Re-exported so that ``chainrule.nn.functional`` (which star-imports this family module)
# carries the transposed forms too; they live in their own file for size.
from chainrule.ops.conv_transpose import conv_transpose1d, conv_transpose2d  # noqa: E402
