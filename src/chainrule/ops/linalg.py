r"""Matrix products: ``matmul`` (with broadcast batch dimensions) and the fused ``linear``.

For :math:`Z = X W` the chain rule gives :math:`\partial C/\partial X = (\partial C/\partial Z)
W^\top` and :math:`\partial C/\partial W = X^\top (\partial C/\partial Z)`: the notes' (002)
:math:`\partial C/\partial W^m = \partial C/\partial z^m \, a^{m-1\top}`, one matrix product
per gradient, which is why backpropagation costs about twice the forward pass.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function
from chainrule.ops._broadcast import sum_to_shape
from chainrule.ops.arithmetic import binary_operands
from chainrule.tensor import Tensor

__all__ = ["linear", "matmul"]


class MatMul(Function):
    r"""Z = X @ Y (NumPy ``matmul`` semantics: 1-D operands are promoted and batch dims
    broadcast);  ∂C/∂X = G Yᵀ,  ∂C/∂Y = Xᵀ G, summed over broadcast batch dims."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x @ y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        nx, ny = ctx.needs_input_grad
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        if x.ndim == 1 and y.ndim == 1:
            g2 = g.reshape(1, 1)
        elif x.ndim == 1:
            g2 = g[..., None, :]
        elif y.ndim == 1:
            g2 = g[..., :, None]
        else:
            g2 = g
        gx = gy = None
        if nx:
            gx = sum_to_shape(g2 @ y2.swapaxes(-1, -2), x2.shape).reshape(x.shape)
        if ny:
            gy = sum_to_shape(x2.swapaxes(-1, -2) @ g2, y2.shape).reshape(y.shape)
        return gx, gy


class Linear(Function):
    r"""y = x Wᵀ + b (PyTorch's layout: W is (out_features, in_features));
    ∂C/∂x = G W,  ∂C/∂W = Gᵀ x,  ∂C/∂b = Σ_batch G.

    Fused into one node because it is the hot path of every MLP: one GEMM per gradient and
    no intermediate graph nodes for the transpose and the bias broadcast.
    """

    @staticmethod
    def forward(ctx, x, w, b):
        y = x @ w.T
        if b is not None:
            y += b  # y is fresh: adding in place saves an allocation
        ctx.save_for_backward(x, w)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        gx = g @ w if nx else None
        gw = gb = None
        if nw:
            if g.ndim == 2:
                gw = g.T @ x
            else:  # (..., out) x (..., in): contract every leading axis
                gw = g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])
        if nb:
            gb = g.reshape(-1, g.shape[-1]).sum(axis=0)
        return gx, gw, gb


def matmul(input: Any, other: Any) -> Tensor:
    """Matrix product with NumPy/PyTorch ``matmul`` semantics.

    Raises:
        ValueError: the inner dimensions differ; the message gives both shapes.

    Example:
        >>> import chainrule as cr
        >>> (cr.ones(2, 3) @ cr.ones(3, 4)).shape
        (2, 4)
    """
    a, b = binary_operands(input, other, "matmul")
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul: both operands must be tensors or arrays, not scalars")
    sa, sb = a.data.shape, b.data.shape
    if not sa or not sb:
        raise ValueError(f"matmul: both arguments need at least 1 dimension, got {sa} and {sb}")
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        ra = "x".join(map(str, sa if len(sa) > 1 else (1,) + sa))
        rb = "x".join(map(str, sb))
        raise ValueError(
            f"matmul: shapes cannot be multiplied ({ra} and {rb}): inner "
            f"dimensions {ka} and {kb} differ"
        )
    try:
        return MatMul.apply(a, b)
    except ValueError as e:  # batch dims that do not broadcast
        raise ValueError(f"matmul: batch dimensions of {sa} and {sb} do not broadcast") from e


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""Affine map :math:`y = x W^\top + b` (``torch.nn.functional.linear``).

    Args:
        input: shape (..., in_features).
        weight: shape (out_features, in_features).
        bias: shape (out_features,) or None.
    """
    x = input.data
    w = weight.data
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"linear: expected input with last dimension {w.shape[1]} (in_features), got shape "
            f"{tuple(x.shape)}"
        )
    if x.dtype != w.dtype:
        raise TypeError(
            f"linear: input dtype {x.dtype} does not match weight dtype {w.dtype}; convert "
            f"the input (x.to({str(w.dtype)!r})) or the model (.to(...))"
        )
    return Linear.apply(input, weight, bias)
