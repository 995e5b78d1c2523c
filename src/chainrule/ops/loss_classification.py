r"""Classification losses: ``cross_entropy``, ``nll_loss``, ``binary_cross_entropy``,
``binary_cross_entropy_with_logits`` and ``kl_div`` (PyTorch's arguments and semantics).

Note [Fused cross-entropy]
    ``cross_entropy`` runs on every training step, so it is one ``Function``: the forward
    computes the shifted logits :math:`s = z - \max_c z_c`, :math:`p = e^{s}/\sum_c e^{s_c}` and
    :math:`-\log p_t = \log\sum_c e^{s_c} - s_t` (no :math:`\log 0`, no overflow: the C2 case
    ``[[1e4, 0, -1e4]]`` with label 2 gives exactly 2e4), and the backward is the notes'
    :math:`\partial C/\partial z = p - \mathrm{onehot}(t)` (softmax + cross-entropy, notes 000
    and 002), times the sample's class weight and divided by the total weight for ``'mean'``.
    Only :math:`p` is kept for the backward, in the input's dtype (float32 stays float32).
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import errstate, get_array_module
from chainrule.ops.elementwise import sigmoid_array
from chainrule.ops.loss_common import (
    as_target,
    check_reduction,
    float_input,
    float_target,
    legacy_args,
    weight_array,
)
from chainrule.ops.loss_common import reduce as apply_reduction
from chainrule.ops.reduction import sum
from chainrule.tensor import Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "kl_div",
    "nll_loss",
]


# ---- class-index targets ----
def _class_weights(weight: Any, t: Any, valid: Any, dtype: Any) -> Any:
    """w[t_i] for each sample (0 where ignored)."""
    if weight is None:
        return valid.astype(dtype)
    return weight[t] * valid


def _reduced(loss: Any, wt: Any, reduction: str) -> tuple[Any, Any]:
    """(output, scale of the upstream gradient per sample)."""
    if reduction == "none":
        return loss, None
    if reduction == "sum":
        return loss.sum(), None
    denom = wt.sum()
    with errstate(invalid="ignore", divide="ignore"):  # all ignored: 0/0 = nan, as PyTorch
        return loss.sum() / denom, denom


def _upstream(g: Any, reduction: str, denom: Any, ndim: int) -> Any:
    """The upstream gradient per sample, with an axis for the classes inserted at 1."""
    xp = get_array_module(g)
    if reduction == "none":
        return xp.expand_dims(g, 1)
    if reduction == "mean":
        with errstate(invalid="ignore", divide="ignore"):
            g = g / denom
    return g.reshape((1,) * ndim)


class CrossEntropy(Function):
    r"""L_i = w_{t_i}(1−ε)(−log p_{i,t_i}) + (ε/C) Σ_c w_c (−log p_{ic}), p = softmax(z_i);
    ∂L_i/∂z_i = a_i (p_i − onehot(t_i)) + b_i (p_i Σ_c w_c − w), a_i = (1−ε) w_{t_i},
    b_i = ε/C (label smoothing ε; w = 1 without class weights)."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction, eps):
        xp = get_array_module(x)
        n_cls = x.shape[1]
        ctx.fast = (
            x.ndim == 2
            and weight is None
            and not eps
            and reduction != "none"
            and x.shape[0] > 0
            and bool((target != ignore_index).all())
        )
        if ctx.fast:
            return CrossEntropy._forward_plain(ctx, xp, x, target, reduction)
        with errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            s = x - x.max(axis=1, keepdims=True)
            p = xp.exp(s)
            se = p.sum(axis=1, keepdims=True)
            p /= se
            lse = xp.log(se)
        valid = target != ignore_index
        t = target if valid.all() else xp.where(valid, target, 0)
        ti = xp.expand_dims(t, 1)
        with errstate(invalid="ignore"):
            nll = (lse - xp.take_along_axis(s, ti, axis=1))[:, 0]
        wt = _class_weights(weight, t, valid, x.dtype)
        a = wt * x.dtype.type(1 - eps) if eps else wt
        with errstate(invalid="ignore"):
            loss = a * nll
            if eps:
                if weight is None:
                    smooth = n_cls * lse[:, 0] - s.sum(axis=1)
                else:
                    wb = weight.reshape((1, n_cls) + (1,) * (x.ndim - 2))
                    smooth = weight.sum() * lse[:, 0] - (s * wb).sum(axis=1)
                loss = loss + xp.where(valid, smooth, 0) * x.dtype.type(eps / n_cls)
        out, denom = _reduced(loss, wt, reduction)
        ctx.save_for_backward(p, ti, a, valid, weight)
        ctx.info = (reduction, denom, eps)
        return out

    @staticmethod
    def _forward_plain(ctx, xp, x, t, reduction):
        """The training-loop case, (N, C) logits and valid labels, no weights or smoothing:
        the same formulas with a = 1 and fancy indexing of row i, column t_i instead of the
        general path's take/put_along_axis and per-sample weights (~4x less overhead on a
        (128, 10) batch, where the arithmetic is nothing; the results are bit-identical)."""
        rows = xp.arange(x.shape[0])
        with errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            s = x - x.max(axis=1, keepdims=True)
            p = xp.exp(s)
            se = p.sum(axis=1)
            p /= se[:, None]
            nll = xp.log(se) - s[rows, t]
        loss = nll.sum()
        scale = x.dtype.type(1)
        if reduction == "mean":
            scale = x.dtype.type(x.shape[0])
            loss = loss / scale
        ctx.save_for_backward(p, rows, t)
        ctx.info = (reduction, scale)
        return loss

    @staticmethod
    def backward(ctx, g):
        # An infinite upstream gradient gives inf - inf = nan at the target, silently, as in
        # PyTorch; NumPy would warn.
        with errstate(invalid="ignore", over="ignore"):
            return CrossEntropy._backward(ctx, g)

    @staticmethod
    def _backward(ctx, g):
        if ctx.fast:  # ∂L/∂z = (p − onehot(t)) · g / N  (/ N for 'mean' only)
            p, rows, t = ctx.saved_tensors
            reduction, scale = ctx.info
            gs = g / scale if reduction == "mean" else g
            gx = p * gs
            gx[rows, t] -= gs
            return gx, None, None, None, None, None
        p, ti, a, valid, weight = ctx.saved_tensors
        reduction, denom, eps = ctx.info
        xp = get_array_module(p)
        n_cls = p.shape[1]
        gs = _upstream(g, reduction, denom, p.ndim)
        ga = xp.expand_dims(a, 1) * gs
        if eps:
            gb = xp.expand_dims(valid, 1) * gs * p.dtype.type(eps / n_cls)
            total = n_cls if weight is None else weight.sum()
            gx = p * (ga + gb * total)
            gx -= gb if weight is None else gb * weight.reshape((1, n_cls) + (1,) * (p.ndim - 2))
        else:
            gx = p * ga
        at_t = xp.take_along_axis(gx, ti, axis=1) - xp.broadcast_to(ga, ti.shape)
        xp.put_along_axis(gx, ti, at_t, axis=1)
        return gx, None, None, None, None, None


class NLL(Function):
    r"""L_i = −w_{t_i} x_{i,t_i} (x are log-probabilities);  ∂L_i/∂x_{ic} = −w_{t_i} [c = t_i]."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        xp = get_array_module(x)
        valid = target != ignore_index
        t = xp.where(valid, target, 0)
        ti = xp.expand_dims(t, 1)
        wt = _class_weights(weight, t, valid, x.dtype)
        loss = -wt * xp.take_along_axis(x, ti, axis=1)[:, 0]
        out, denom = _reduced(loss, wt, reduction)
        ctx.save_for_backward(ti, wt)
        ctx.info = (x.shape, x.dtype, reduction, denom)
        return out

    @staticmethod
    def backward(ctx, g):
        ti, wt = ctx.saved_tensors
        shape, dtype, reduction, denom = ctx.info
        xp = get_array_module(g)
        gs = _upstream(g, reduction, denom, len(shape))
        gx = xp.zeros(shape, dtype=dtype)
        xp.put_along_axis(gx, ti, -xp.expand_dims(wt, 1) * gs, axis=1)
        return gx, None, None, None, None


def _check_class_target(input: Tensor, target: Tensor, ignore_index: int, op: str) -> None:
    x, t = input.data, target.data
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: class-index targets must have an integer dtype (int64), got dtype {t.dtype}"
            + (
                f"; for class probabilities pass a float target of the input's shape "
                f"{tuple(x.shape)}"
                if op == "cross_entropy"
                else ""
            )
            + "; convert labels with .long()"
        )
    expected = x.shape[:1] + x.shape[2:]
    if t.shape != expected:
        raise ValueError(
            f"{op}: target shape {tuple(t.shape)} does not match input shape {tuple(x.shape)}: "
            f"for input (N, C, d1, ...) the class-index target must be (N, d1, ...) = "
            f"{tuple(expected)}"
        )
    n_cls = x.shape[1]
    bad = ((t < 0) | (t >= n_cls)) & (t != ignore_index)
    if bad.any():
        xp = get_array_module(t)
        pos = tuple(int(i) for i in xp.argwhere(bad)[0])
        raise IndexError(
            f"{op}: target {int(t[pos])} at batch position {pos} is out of range for {n_cls} "
            f"classes: class labels must be in [0, {n_cls - 1}]"
            + (f" (or ignore_index={ignore_index})" if ignore_index < 0 else "")
        )


def _batched(input: Tensor, op: str) -> tuple[Tensor, bool]:
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a 0-d tensor")
    if input.ndim == 1:
        return input.reshape(1, input.shape[0]), True
    return input, False


def _weight(weight: Any, input: Tensor, n_cls: int, op: str) -> Any:
    w = weight_array(weight, input, op)
    if w is not None and w.shape != (n_cls,):
        raise ValueError(
            f"{op}: weight must have shape ({n_cls},), one entry per class, got {tuple(w.shape)}"
        )
    return w


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    r"""Softmax cross-entropy of logits :math:`z` (notes 000, 002):
    :math:`L = -\sum_c y_c \log \mathrm{softmax}(z)_c`.

    ``target`` is either class indices (integer, shape (N,) or (N, d1, ...)) or class
    probabilities (float, the input's shape). With indices and class weights,
    :math:`L_i = -w_{t_i} \log p_{i,t_i}` and ``'mean'`` divides by :math:`\sum_i w_{t_i}`;
    ``ignore_index`` samples count for nothing. ``label_smoothing`` ε mixes the target with
    the uniform distribution: :math:`(1-ε)\,\mathrm{onehot} + ε/C`. The gradient is
    :math:`\partial L/\partial z = (p - y)`, weighted (Note [Fused cross-entropy]).

    Args:
        input: logits (C,), (N, C) or (N, C, d1, ...), classes on axis 1.
        target: class indices or probabilities, see above.
        weight: a rescaling weight per class, shape (C,).
        ignore_index: a target value to skip (index targets only).
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        label_smoothing: ε in [0, 1].

    Raises:
        IndexError: a label is outside [0, C−1] (the value and its position are named).
        TypeError: float targets of the class-index shape (indices must be integers).
        ValueError: shapes that do not match (both are named), a bad ``reduction``,
            ``label_smoothing`` outside [0, 1] or a weight of the wrong shape.

    Example:
        >>> import chainrule as cr
        >>> F = cr.nn.functional
        >>> F.cross_entropy(cr.tensor([[1e4, 0.0, -1e4]]), cr.tensor([2]))
        tensor(20000.)
    """
    op = "cross_entropy"
    legacy_args(size_average, reduce, op)
    check_reduction(reduction, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    input = float_input(input, op)
    target = as_target(target, op)
    x, unbatched = _batched(input, op)
    n_cls = x.shape[1]
    w = _weight(weight, input, n_cls, op)
    if target.data.dtype.kind == "f" and target.shape == input.shape:
        t = float_target(input, target, op)
        if unbatched:
            t = t.reshape(1, n_cls)
        out = CrossEntropyProb.apply(x, t, w, reduction, float(label_smoothing))
        return out.reshape(()) if unbatched and reduction == "none" else out
    t = target.reshape(1) if unbatched and target.ndim == 0 else target
    _check_class_target(x, t, ignore_index, op)
    out = CrossEntropy.apply(x, t.data, w, int(ignore_index), reduction, float(label_smoothing))
    return out.reshape(()) if unbatched and reduction == "none" else out


class CrossEntropyProb(Function):
    r"""L_i = −Σ_c w_c y_{ic} log p_{ic} (y smoothed: (1−ε)y + ε/C);
    ∂L_i/∂z_i = p_i Σ_c w_c y_{ic} − w ⊙ y_i;  ∂L_i/∂y_{ic} = −(1−ε) w_c log p_{ic}."""

    @staticmethod
    def forward(ctx, x, y, weight, reduction, eps):
        xp = get_array_module(x)
        n_cls = x.shape[1]
        with errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            s = x - x.max(axis=1, keepdims=True)
            logp = s - xp.log(xp.exp(s).sum(axis=1, keepdims=True))
        ys = y * x.dtype.type(1 - eps) + x.dtype.type(eps / n_cls) if eps else y
        wb = None if weight is None else weight.reshape((1, n_cls) + (1,) * (x.ndim - 2))
        wy = ys if wb is None else ys * wb
        with errstate(invalid="ignore"):
            loss = -(wy * logp).sum(axis=1)
        ctx.save_for_backward(logp, wy, wb)
        ctx.info = (reduction, eps, loss.size)
        if reduction == "none":
            return loss
        if reduction == "sum":
            return loss.sum()
        with errstate(invalid="ignore", divide="ignore"):
            return loss.sum() / x.dtype.type(loss.size)

    @staticmethod
    def backward(ctx, g):
        logp, wy, wb = ctx.saved_tensors
        reduction, eps, n = ctx.info
        xp = get_array_module(g)
        if reduction == "none":
            gs = xp.expand_dims(g, 1)
        else:
            gs = (g / g.dtype.type(n) if reduction == "mean" else g).reshape((1,) * logp.ndim)
        gx = gy = None
        if ctx.needs_input_grad[0]:
            p = xp.exp(logp)
            gx = (p * wy.sum(axis=1, keepdims=True) - wy) * gs
        if ctx.needs_input_grad[1]:
            scale = gs * g.dtype.type(1 - eps)
            gy = -(logp if wb is None else logp * wb) * scale
        return gx, gy, None, None, None


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Negative log-likelihood of log-probabilities :math:`x` (e.g. ``log_softmax`` output):
    :math:`L_i = -w_{t_i} x_{i,t_i}`; ``'mean'`` divides by :math:`\sum_i w_{t_i}`.

    :math:`\partial L_i/\partial x_{ic} = -w_{t_i}` for :math:`c = t_i`, else 0.
    ``log_softmax`` followed by ``nll_loss`` equals ``cross_entropy``.

    Raises:
        IndexError: a label outside [0, C−1]; TypeError: non-integer targets;
        ValueError: mismatched shapes, bad weight or reduction.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.nll_loss(cr.tensor([[-0.1, -2.3]]), cr.tensor([1]))
        tensor(2.3)
    """
    op = "nll_loss"
    legacy_args(size_average, reduce, op)
    check_reduction(reduction, op)
    input = float_input(input, op)
    target = as_target(target, op)
    x, unbatched = _batched(input, op)
    t = target.reshape(1) if unbatched and target.ndim == 0 else target
    w = _weight(weight, input, x.shape[1], op)
    _check_class_target(x, t, ignore_index, op)
    out = NLL.apply(x, t.data, w, int(ignore_index), reduction)
    return out.reshape(()) if unbatched and reduction == "none" else out


# ---- binary ----
class BinaryCrossEntropy(Function):
    r"""L = −w(y max(log p, −100) + (1−y) max(log(1−p), −100));
    ∂L/∂p = w(p − y) / max(p(1−p), 1e−12);  ∂L/∂y = w(log(1−p) − log p) (PyTorch's)."""

    @staticmethod
    def forward(ctx, p, y, w):
        xp = get_array_module(p)
        with errstate(divide="ignore"):
            lp = xp.maximum(xp.log(p), -100)
            l1p = xp.maximum(xp.log1p(-p), -100)
        loss = -(y * lp + (1 - y) * l1p)
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(p, y, w)
        return loss

    @staticmethod
    def backward(ctx, g):
        p, y, w = ctx.saved_tensors
        xp = get_array_module(p)
        gw = g if w is None else g * w
        gp = gy = None
        if ctx.needs_input_grad[0]:
            gp = gw * (p - y) / xp.maximum(p * (1 - p), p.dtype.type(1e-12))
        if ctx.needs_input_grad[1]:
            with errstate(divide="ignore", invalid="ignore"):
                gy = gw * (xp.log1p(-p) - xp.log(p))
        return gp, gy, None


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Binary cross-entropy of probabilities :math:`\hat y` (notes 000):
    :math:`L = -w\,[y \log \hat y + (1-y)\log(1-\hat y)]`, each log clamped at −100 as PyTorch
    (so ``p = 0`` with ``y = 1`` costs 100, not inf).

    :math:`\partial L/\partial \hat y = w(\hat y - y)/(\hat y(1-\hat y))` (the notes'
    :math:`(a^L - y)/(a^L(1-a^L))`). Prefer :func:`binary_cross_entropy_with_logits` on
    logits: it is exact where the sigmoid saturates.

    Raises:
        ValueError: an input or target value outside [0, 1] (or NaN), mismatched shapes.
        TypeError: an integer target (use floats: ``y.float()``).

    Example:
        >>> import chainrule as cr
        >>> F = cr.nn.functional
        >>> F.binary_cross_entropy(cr.tensor([0.0, 1.0, 0.0]), cr.tensor([1.0, 1.0, 0.0]),
        ...                        reduction="none")
        tensor([100.,  -0.,   0.])
    """
    op = "binary_cross_entropy"
    legacy_args(size_average, reduce, op)
    check_reduction(reduction, op)
    input = float_input(input, op)
    target = float_target(input, target, op, allow_int=False)
    for name, arr in (("input", input.data), ("target", target.data)):
        inside = (arr >= 0) & (arr <= 1)  # False for NaN too
        if not inside.all():
            bad = arr[~inside]
            raise ValueError(
                f"{op}: all elements of {name} should be probabilities in [0, 1], got "
                f"{bad.size} outside (first: {bad[0].item()!r})"
                + ("; for logits use binary_cross_entropy_with_logits" if name == "input" else "")
            )
    w = weight_array(weight, input, op)
    if w is not None:
        w = _broadcast_weight(w, input.shape, op, "weight")
    return apply_reduction(BinaryCrossEntropy.apply(input, target, w), reduction)


def _broadcast_weight(w: Any, shape: tuple[int, ...], op: str, name: str) -> Any:
    xp = get_array_module(w)
    try:
        return xp.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(
            f"{op}: {name} of shape {tuple(w.shape)} cannot be broadcast to the input shape "
            f"{tuple(shape)}"
        ) from None


class BCEWithLogits(Function):
    r"""L = w[(1−y)x + l·softplus(−x)], l = 1 + (q − 1)y (q = pos_weight, 1 without);
    softplus(−x) = max(−x, 0) + log(1 + e^{−|x|}) never overflows.
    ∂L/∂x = w[(1 − y) − l σ(−x)] (= w(σ(x) − y) for q = 1);
    ∂L/∂y = w[−x + (q − 1) softplus(−x)]."""

    @staticmethod
    def forward(ctx, x, y, w, q):
        xp = get_array_module(x)
        sp = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        if q is None:
            loss = (1 - y) * x + sp
        else:
            loss = (1 - y) * x + (1 + (q - 1) * y) * sp
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(x, y, w, q, sp)
        return loss

    @staticmethod
    def backward(ctx, g):
        x, y, w, q, sp = ctx.saved_tensors
        gw = g if w is None else g * w
        gx = gy = None
        if ctx.needs_input_grad[0]:
            if q is None:
                gx = gw * (sigmoid_array(x) - y)
            else:
                gx = gw * ((1 - y) - (1 + (q - 1) * y) * sigmoid_array(-x))
        if ctx.needs_input_grad[1]:
            gy = gw * (-x if q is None else (q - 1) * sp - x)
        return gx, gy, None, None


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    r"""Sigmoid cross-entropy of logits :math:`x` (notes: "Sigmoid Cross-entropy Loss"),
    computed in the stable form :math:`\max(x, 0) - xy + \log(1 + e^{-|x|})`, with
    ``pos_weight`` q scaling the positive term:
    :math:`L = w[q\,y \log(1+e^{-x}) + (1-y)\log(1+e^{x})]`.

    :math:`\partial L/\partial x = w(σ(x) - y)` for q = 1 (the notes' :math:`a^L - y`).
    Exact at extreme logits: ``[1e4, -1e4, 0]`` against ``[0, 1, .5]`` gives
    ``[1e4, 1e4, log 2]`` with gradient ``[1, -1, 0]``.

    Raises:
        TypeError: an integer target (use ``y.float()``).
        ValueError: mismatched shapes (both named) or a weight that does not broadcast.

    Example:
        >>> import chainrule as cr
        >>> F = cr.nn.functional
        >>> F.binary_cross_entropy_with_logits(cr.tensor([0.0, -120.0]), cr.tensor([0.0, 1.0]))
        tensor(60.3466)
    """
    op = "binary_cross_entropy_with_logits"
    legacy_args(size_average, reduce, op)
    check_reduction(reduction, op)
    input = float_input(input, op)
    target = float_target(input, target, op, allow_int=False)
    w = weight_array(weight, input, op)
    if w is not None:
        w = _broadcast_weight(w, input.shape, op, "weight")
    q = weight_array(pos_weight, input, op, "pos_weight")
    if q is not None:
        q = _broadcast_weight(q, input.shape, op, "pos_weight")
    return apply_reduction(BCEWithLogits.apply(input, target, w, q), reduction)


# ---- KL divergence ----
class KLDiv(Function):
    r"""L = y(log y − x) (0 where y = 0), x = log q;  ∂L/∂x = −y;  ∂L/∂y = log y + 1 − x.
    With ``log_target`` (y given as log y = t): L = e^t(t − x), ∂L/∂x = −e^t,
    ∂L/∂t = e^t(t − x + 1)."""

    @staticmethod
    def forward(ctx, x, t, log_target):
        xp = get_array_module(x)
        ctx.log_target = log_target
        if log_target:
            et = xp.exp(t)
            ctx.save_for_backward(x, t, et)
            return et * (t - x)
        pos = t > 0
        with errstate(invalid="ignore"):  # t < 0: nan, as PyTorch's xlogy
            tlogt = xp.where(pos, t * xp.log(xp.where(pos, t, 1)), xp.where(t == 0, 0, xp.nan))
        ctx.save_for_backward(x, t, None)
        return tlogt.astype(x.dtype, copy=False) - t * x

    @staticmethod
    def backward(ctx, g):
        x, t, et = ctx.saved_tensors
        xp = get_array_module(g)
        gx = gt = None
        if ctx.log_target:
            if ctx.needs_input_grad[0]:
                gx = -g * et
            if ctx.needs_input_grad[1]:
                gt = g * et * (t - x + 1)
            return gx, gt, None
        if ctx.needs_input_grad[0]:
            gx = -g * t
        if ctx.needs_input_grad[1]:
            with errstate(divide="ignore", invalid="ignore"):
                gt = xp.where(t == 0, 0, g * (xp.log(t) + 1 - x)).astype(g.dtype, copy=False)
        return gx, gt, None


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    r"""Kullback-Leibler divergence :math:`D(y \| q) = \sum y (\log y - \log q)` with ``input``
    the log-probabilities :math:`\log q` and ``target`` the probabilities y (or log y with
    ``log_target=True``), as PyTorch.

    ``reduction='batchmean'`` divides the sum by the batch size (the true KL per sample);
    ``'mean'`` divides by the number of elements, as PyTorch. :math:`\partial L/\partial
    \log q = -y`.

    Example:
        >>> import chainrule as cr
        >>> p = cr.tensor([[0.5, 0.5]])
        >>> cr.nn.functional.kl_div(p.log(), p, reduction="batchmean")
        tensor(0.)
    """
    op = "kl_div"
    legacy_args(size_average, reduce, op)
    check_reduction(reduction, op, ("batchmean",))
    input = float_input(input, op)
    target = float_target(input, target, op)
    loss = KLDiv.apply(input, target, bool(log_target))
    if reduction == "batchmean":
        total = sum(loss)
        return total / input.shape[0] if input.ndim else total
    return apply_reduction(loss, reduction)
