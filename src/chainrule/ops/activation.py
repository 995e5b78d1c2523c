r"""Activation functions: ``softmax`` and ``log_softmax`` (fused for stability), ``maxout``, and
the re-export of the pointwise activations (:mod:`~chainrule.ops.activation_pointwise`,
:mod:`~chainrule.ops.activation_gelu`), so ``chainrule.nn.functional`` has them all.

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

__all__ = [
    "argmax",
    "celu",
    "elu",
    "gelu",
    "hardtanh",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "logsigmoid",
    "maxout",
    "prelu",
    "relu6",
    "selu",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "step",
    "swish",
    "threshold",
]


class Softmax(Function):
    r"""y_i = e^{x_i − m} / Σ_j e^{x_j − m};  ∂C/∂x = y ⊙ (g − Σ_j g_j y_j)."""

    @staticmethod
    def forward(ctx, x, dim):
        xp = get_array_module(x)
        if x.size == 0:  # no element: nothing to normalise (max over it is undefined)
            ctx.save_for_backward(x)
            ctx.dim = dim
            return x.copy()
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
        if x.size == 0:
            ctx.save_for_backward(x)
            ctx.dim = dim
            return x.copy()
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


# ---- maxout (added below softmax / log_softmax) ----
class Maxout(Function):
    r"""y_j = max_{p < k} x_{jk+p} over groups of k consecutive entries along ``dim``;
    ∂y_j/∂x_{jk+p} = 1 for the winning p (the first one at ties), 0 for the others."""

    @staticmethod
    def forward(ctx, x, pieces, dim):
        xp = get_array_module(x)
        shape = x.shape
        grouped = x.reshape(shape[:dim] + (shape[dim] // pieces, pieces) + shape[dim + 1 :])
        idx = xp.expand_dims(grouped.argmax(axis=dim + 1), dim + 1)
        ctx.save_for_backward(idx)
        ctx.info = (grouped.shape, shape, dim)
        return xp.take_along_axis(grouped, idx, axis=dim + 1).squeeze(dim + 1)

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        gshape, shape, dim = ctx.info
        xp = get_array_module(g)
        gx = xp.zeros(gshape, dtype=g.dtype)
        xp.put_along_axis(gx, idx, xp.expand_dims(g, dim + 1), axis=dim + 1)
        return gx.reshape(shape), None, None


def maxout(input: Tensor, pieces: int, dim: int = 1) -> Tensor:
    r"""Maxout: the maximum over ``pieces`` consecutive entries of ``dim`` (notes 002's table,
    :math:`f(x) = \max(w_1^\top x + b_1, \dots, w_k^\top x + b_k)` when the input is the
    output of a linear layer with k·out units; :class:`chainrule.nn.Maxout` is that layer).

    :math:`\partial y_j/\partial x_i = 1` for the winning piece of group j (the first at a
    tie) and 0 otherwise: piecewise linear, like ReLU (which is maxout of ``(h, 0)``).

    Args:
        input: tensor whose ``dim`` has a size divisible by ``pieces``.
        pieces: k, the number of linear pieces per output unit.
        dim: the axis grouped (1: features of (N, F) or channels of (N, C, H, W)).

    Raises:
        ValueError: ``pieces`` < 1 or the size of ``dim`` is not a multiple of it.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.maxout(cr.tensor([[1.0, 3.0, -2.0, -1.0]]), pieces=2)
        tensor([[ 3., -1.]])
    """
    input = _floating(input, "maxout")
    if isinstance(pieces, bool) or not isinstance(pieces, int) or pieces < 1:
        raise ValueError(f"maxout: pieces must be a positive int, got {pieces!r}")
    d = normalize_dim(dim, input.data.ndim, "maxout")
    if input.data.ndim == 0 or input.shape[d] % pieces:
        raise ValueError(
            f"maxout: the size of dim {dim} of the input of shape {tuple(input.shape)} must be a "
            f"multiple of pieces={pieces}"
        )
    return Maxout.apply(input, pieces, d)


from chainrule.ops.activation_gelu import gelu  # noqa: E402
from chainrule.ops.activation_pointwise import (  # noqa: E402
    celu,
    elu,
    hardtanh,
    leaky_relu,
    log_sigmoid,
    logsigmoid,
    prelu,
    relu6,
    selu,
    silu,
    softplus,
    softsign,
    step,
    swish,
    threshold,
)
from chainrule.ops.reduction import argmax  # noqa: E402  (the decision helper, F.argmax)
