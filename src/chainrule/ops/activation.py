r"""Activation functions that are fused for stability: ``softmax`` and ``log_softmax``.

Softmax turns scores into a probability distribution,
:math:`f_{sm}(x)_i = e^{x_i} / \sum_j e^{x_j}` (notes 000). Computed as written it overflows
for a score of 1e4; subtracting :math:`m = \max_j x_j` first (notes 001: "mathematically
equivalent but numerically stable") keeps every exponent at or below 0. Both are single ops
with hand-written backward passes rather than compositions, so their gradients stay finite
at extreme logits.
"""

from __future__ import annotations

from chainrule.autograd.function import Function
from chainrule.backend import errstate, get_array_module
from chainrule.ops._broadcast import normalize_dim
from chainrule.ops.elementwise import _floating
from chainrule.tensor import Tensor

__all__ = ["log_softmax", "softmax"]


class Softmax(Function):
    r"""y_i = e^{x_i − m} / Σ_j e^{x_j − m};  ∂C/∂x = y ⊙ (g − Σ_j g_j y_j)."""

    @staticmethod
    def forward(ctx, x, dim):
        xp = get_array_module(x)
        with errstate(invalid="ignore", over="ignore"):
            e = xp.exp(x - x.max(axis=dim, keepdims=True))
            e /= e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(e)
        ctx.dim = dim
        return e

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        gy = g * y
        gy -= y * gy.sum(axis=ctx.dim, keepdims=True)
        return gy, None


class LogSoftmax(Function):
    r"""y_i = x_i − m − ln Σ_j e^{x_j − m};  ∂C/∂x = g − e^{y} Σ_j g_j."""

    @staticmethod
    def forward(ctx, x, dim):
        xp = get_array_module(x)
        with errstate(invalid="ignore", over="ignore", divide="ignore"):
            s = x - x.max(axis=dim, keepdims=True)
            s -= xp.log(xp.exp(s).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(s)
        ctx.dim = dim
        return s

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        xp = get_array_module(g)
        return g - xp.exp(y) * g.sum(axis=ctx.dim, keepdims=True), None


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    r"""Softmax over ``dim``: non-negative outputs that sum to 1.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.softmax(cr.tensor([1e4, 0.0, -1e4]), dim=0)
        tensor([1., 0., 0.])
    """
    input = _floating(input, "softmax")
    return Softmax.apply(input, normalize_dim(dim, input.data.ndim, "softmax"))


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    r"""Logarithm of softmax over ``dim``, computed directly (never ``log(softmax(x))``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.log_softmax(cr.tensor([1e4, 0.0, -1e4]), dim=0)
        tensor([     0., -10000., -20000.])
    """
    input = _floating(input, "log_softmax")
    return LogSoftmax.apply(input, normalize_dim(dim, input.data.ndim, "log_softmax"))
