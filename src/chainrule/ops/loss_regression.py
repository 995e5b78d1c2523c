r"""Regression and margin losses (notes 002, "Loss functions"): ``l1_loss`` (MAE),
``mse_loss`` (L2), ``huber_loss``, ``smooth_l1_loss`` and ``hinge_loss``.

Each is one elementwise ``Function`` of the prediction :math:`\hat y` (``input``) and the target
:math:`y`, with both derivatives written out, followed by the ``reduction``. For the
difference losses :math:`\partial L/\partial y = -\partial L/\partial \hat y`.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import errstate, get_array_module
from chainrule.ops.loss_common import check_reduction, float_input, float_target, reduce
from chainrule.tensor import Tensor

__all__ = ["hinge_loss", "huber_loss", "l1_loss", "mse_loss", "smooth_l1_loss"]


def _pair(gd: Any, ctx: Any) -> tuple[Any, Any]:
    """Gradients (∂/∂ŷ, ∂/∂y) of a loss of d = ŷ − y, given gd = g · ∂L/∂d."""
    nx, nt = ctx.needs_input_grad[:2]
    return (gd if nx else None), (-gd if nt else None)


class AbsoluteError(Function):
    r"""L = |ŷ − y|;  ∂L/∂ŷ = sign(ŷ − y) (0 at ŷ = y, as PyTorch)."""

    @staticmethod
    def forward(ctx, x, t):
        xp = get_array_module(x)
        d = x - t
        ctx.save_for_backward(xp.sign(d))
        return xp.abs(d)

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return _pair(g * s, ctx)


class SquaredError(Function):
    r"""L = (ŷ − y)²;  ∂L/∂ŷ = 2(ŷ − y)."""

    @staticmethod
    def forward(ctx, x, t):
        d = x - t
        ctx.save_for_backward(d)
        with errstate(over="ignore"):  # (1e200)² = inf, as PyTorch (RELIABILITY C11)
            return d * d

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        return _pair(g * (2 * d), ctx)


class Huber(Function):
    r"""L = ½d² if |d| ≤ δ else δ(|d| − ½δ), d = ŷ − y;  ∂L/∂ŷ = clip(d, −δ, δ)."""

    @staticmethod
    def forward(ctx, x, t, delta):
        xp = get_array_module(x)
        d = x - t
        ad = xp.abs(d)
        ctx.save_for_backward(d)
        ctx.delta = delta
        c = x.dtype.type(delta)
        with errstate(over="ignore"):
            return xp.where(ad < c, 0.5 * d * d, c * (ad - 0.5 * c))

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        c = d.dtype.type(ctx.delta)
        return _pair(g * get_array_module(d).clip(d, -c, c), ctx) + (None,)


class SmoothL1(Function):
    r"""L = ½d²/β if |d| < β else |d| − ½β;  ∂L/∂ŷ = d/β if |d| < β else sign(d).
    (Huber with δ = β, divided by β; β = 0 is the L1 loss.)"""

    @staticmethod
    def forward(ctx, x, t, beta):
        xp = get_array_module(x)
        d = x - t
        ad = xp.abs(d)
        ctx.save_for_backward(d)
        ctx.beta = beta
        if beta == 0:
            return ad
        b = x.dtype.type(beta)
        with errstate(over="ignore"):
            return xp.where(ad < b, 0.5 * d * d / b, ad - 0.5 * b)

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        xp = get_array_module(d)
        if ctx.beta == 0:
            return _pair(g * xp.sign(d), ctx) + (None,)
        b = d.dtype.type(ctx.beta)
        return _pair(g * xp.where(xp.abs(d) < b, d / b, xp.sign(d)), ctx) + (None,)


class Hinge(Function):
    r"""L = max(0, m − y·ŷ);  ∂L/∂ŷ = −y and ∂L/∂y = −ŷ where m − yŷ > 0, else 0."""

    @staticmethod
    def forward(ctx, x, t, margin):
        xp = get_array_module(x)
        z = x.dtype.type(margin) - t * x
        ctx.save_for_backward(x, t, z > 0)
        return xp.maximum(z, 0)

    @staticmethod
    def backward(ctx, g):
        x, t, active = ctx.saved_tensors
        ga = g * active
        nx, nt = ctx.needs_input_grad[:2]
        return (-ga * t if nx else None), (-ga * x if nt else None), None


def _prepare(input: Any, target: Any, reduction: str, op: str) -> tuple[Tensor, Tensor]:
    check_reduction(reduction, op)
    input = float_input(input, op)
    return input, float_target(input, target, op)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Mean absolute error :math:`L = \frac1n \sum_i |\hat y_i - y_i|` (notes: "L1 loss").

    :math:`\partial L/\partial \hat y_i = \mathrm{sign}(\hat y_i - y_i)/n` (0 where equal).
    Robust to outliers: every residual pulls with the same strength.

    Raises:
        ValueError: the shapes differ (both are named) or ``reduction`` is unknown.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.l1_loss(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 4.0]))
        tensor(1.5)
    """
    input, target = _prepare(input, target, reduction, "l1_loss")
    return reduce(AbsoluteError.apply(input, target), reduction)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Mean squared error :math:`L = \frac1n \sum_i (\hat y_i - y_i)^2` (notes: "L2 loss").

    :math:`\partial L/\partial \hat y_i = 2(\hat y_i - y_i)/n`. Overflows to ``inf`` as
    PyTorch does (``mse_loss(1e200, 0) = inf`` in float64) without a floating-point warning.

    Raises:
        ValueError: the shapes differ (both are named) or ``reduction`` is unknown.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.mse_loss(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 4.0]))
        tensor(2.5)
    """
    input, target = _prepare(input, target, reduction, "mse_loss")
    return reduce(SquaredError.apply(input, target), reduction)


def huber_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0
) -> Tensor:
    r"""Huber loss (notes: L2 near zero, L1 in the tails), with :math:`d = \hat y - y`:
    :math:`L = \tfrac12 d^2` for :math:`|d| \le δ`, :math:`δ(|d| - \tfrac12 δ)` otherwise.

    :math:`\partial L/\partial \hat y = \mathrm{clip}(d, -δ, δ)`: the gradient of an outlier is
    capped at δ.

    Raises:
        ValueError: ``delta`` ≤ 0, the shapes differ, or ``reduction`` is unknown.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.huber_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]))
        tensor(1.3125)
    """
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    input, target = _prepare(input, target, reduction, "huber_loss")
    return reduce(Huber.apply(input, target, float(delta)), reduction)


def smooth_l1_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    r"""Smooth L1: :math:`L = \tfrac12 d^2/β` for :math:`|d| < β`, :math:`|d| - \tfrac12 β`
    otherwise (Huber divided by β; β = 0 gives L1).

    :math:`\partial L/\partial \hat y = d/β` inside, :math:`\mathrm{sign}(d)` outside.

    Raises:
        ValueError: ``beta`` < 0, the shapes differ, or ``reduction`` is unknown.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.smooth_l1_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]))
        tensor(1.3125)
    """
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    input, target = _prepare(input, target, reduction, "smooth_l1_loss")
    return reduce(SmoothL1.apply(input, target, float(beta)), reduction)


def hinge_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", margin: float = 1.0
) -> Tensor:
    r"""Hinge loss for binary margin classification (SVM; notes: "Hinge Loss"),
    :math:`L = \max(0, m - y\,\hat y)` with labels :math:`y \in \{-1, +1\}` and raw scores
    :math:`\hat y` (no sigmoid), margin m = 1.

    :math:`\partial L/\partial \hat y = -y` while the margin is violated
    (:math:`y\hat y < m`), else 0 (0 at the kink, like ReLU). PyTorch has no equivalent
    (``hinge_embedding_loss`` is a different loss).

    Raises:
        ValueError: a label is not −1 or +1 (0/1 labels convert with ``2 * y - 1``), the
            shapes differ, or ``reduction`` is unknown.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.hinge_loss(cr.tensor([2.0, 0.5, -1.0]), cr.tensor([1, 1, 1]))
        tensor(0.8333)
    """
    input, target = _prepare(input, target, reduction, "hinge_loss")
    t = target.data
    bad = (t != 1) & (t != -1)
    if bad.any():
        xp = get_array_module(t)
        pos = tuple(int(i) for i in xp.argwhere(bad)[0])
        raise ValueError(
            f"hinge_loss: target labels must be -1 or +1, got {t[pos].item()!r} at position "
            f"{pos}; convert 0/1 labels with 2 * y - 1"
        )
    return reduce(Hinge.apply(input, target, float(margin)), reduction)
