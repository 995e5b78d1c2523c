r"""Embedding lookup: ``embedding`` (``torch.nn.functional.embedding``).

Row :math:`i` of the table :math:`W` (num_embeddings, embedding_dim) is the vector of token
:math:`i`; looking up a batch of indices is a gather, and its gradient a scatter-add:

.. math::  y_{b} = W_{x_b}, \qquad
           \frac{\partial C}{\partial W_i} = \sum_{b : x_b = i} g_b,

equivalently :math:`y = \mathrm{onehot}(x) W` and :math:`\partial C/\partial W =
\mathrm{onehot}(x)^\top G`. Repeated indices must accumulate; the backward does it as a
sort-based segment sum (one stable argsort, one gather, one ``add.reduceat``) instead of
``np.add.at``, whose unbuffered per-element loop is an order of magnitude slower.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import get_array_module
from chainrule.tensor import Tensor

__all__ = ["embedding"]


def segment_sum(idx: Any, values: Any, num_rows: int) -> tuple[Any, Any, Any]:
    """Sum the rows of ``values`` (B, D) that share an index in ``idx`` (B,).

    Returns ``(rows, sums, counts)``: the distinct indices, their summed rows and how often
    each occurred."""
    xp = get_array_module(values)
    order = xp.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    starts = xp.flatnonzero(xp.concatenate(([True], sorted_idx[1:] != sorted_idx[:-1])))
    sums = xp.add.reduceat(values[order], starts, axis=0)
    counts = xp.diff(xp.append(starts, idx.size))
    return sorted_idx[starts], sums, counts


class Embedding(Function):
    r"""y = W[x];  ∂C/∂W_i = Σ_{b: x_b = i} g_b (zero for ``padding_idx``; divided by the
    count of i in the batch with ``scale_grad_by_freq``)."""

    @staticmethod
    def forward(ctx, weight, idx, padding_idx, scale_grad_by_freq):
        ctx.save_for_backward(idx)
        ctx.info = (weight.shape, padding_idx, scale_grad_by_freq)
        return weight[idx]

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        (v, d), padding_idx, by_freq = ctx.info
        xp = get_array_module(g)
        flat = idx.reshape(-1)
        gw = xp.zeros((v, d), dtype=g.dtype)
        if flat.size:
            rows, sums, counts = segment_sum(flat, g.reshape(-1, d), v)
            if by_freq:
                sums /= counts[:, None].astype(g.dtype)
            gw[rows] = sums
        if padding_idx is not None:
            gw[padding_idx] = 0
        return gw, None, None, None


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    r"""Look up rows of ``weight`` (``torch.nn.functional.embedding``, same argument order).

    Args:
        input: integer indices of any shape, each in ``[0, num_embeddings)``.
        weight: the table (num_embeddings, embedding_dim).
        padding_idx: this row gets no gradient (a padding token).
        max_norm: before the lookup, rows used by ``input`` whose ``norm_type``-norm exceeds
            ``max_norm`` are rescaled to norm ``max_norm``, in place (as PyTorch).
        scale_grad_by_freq: divide each row's gradient by its count in the batch.
        sparse: only ``False`` (dense gradients) is supported.

    Returns:
        ``input.shape + (embedding_dim,)``.

    Raises:
        IndexError: an index out of range (the message gives it, its position and the range).
        TypeError: non-integer indices.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
        >>> cr.nn.functional.embedding(cr.tensor([[2, 1], [1, 1]]), w)
        tensor([[[3., 4.],
                 [1., 2.]],
        <BLANKLINE>
                [[1., 2.],
                 [1., 2.]]])
    """
    name = "embedding"
    if not isinstance(weight, Tensor):
        raise TypeError(f"{name}: weight must be a Tensor, got {type(weight).__name__}")
    w = weight.data
    if w.ndim != 2:
        raise ValueError(
            f"{name}: weight must be 2-D (num_embeddings, embedding_dim), got "
            f"shape {tuple(w.shape)}"
        )
    idx = input.data if isinstance(input, Tensor) else get_array_module(w).asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: indices must be integers (int64 or int32), got dtype "
            f"{idx.dtype}; convert with .long()"
        )
    v = w.shape[0]
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= v:
            xp = get_array_module(idx)
            bad_flat = int(xp.flatnonzero((idx.reshape(-1) < 0) | (idx.reshape(-1) >= v))[0])
            pos = tuple(int(i) for i in xp.unravel_index(bad_flat, idx.shape))
            raise IndexError(
                f"{name}: index {int(idx.reshape(-1)[bad_flat])} at position {pos} is out of "
                f"range for a table of {v} rows (valid indices: 0 to {v - 1})"
            )
    if padding_idx is not None:
        if not -v <= padding_idx < v:
            raise ValueError(
                f"{name}: padding_idx must be within num_embeddings ({v}), got {padding_idx}"
            )
        padding_idx = padding_idx % v
    if sparse:
        raise ValueError(f"{name}: sparse gradients are not supported; use sparse=False")
    if max_norm is not None:
        _renorm_rows(w, idx, float(max_norm), float(norm_type))
    return Embedding.apply(weight, idx, padding_idx, bool(scale_grad_by_freq))


def _renorm_rows(w: Any, idx: Any, max_norm: float, norm_type: float) -> None:
    """PyTorch's ``embedding_renorm_``: rescale, in place, the looked-up rows whose norm
    exceeds ``max_norm`` (outside autograd)."""
    xp = get_array_module(w)
    with no_grad():
        rows = xp.unique(idx)
        norms = (xp.abs(w[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        big = norms > max_norm
        if big.any():
            scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
            w[rows[big]] *= scale[:, None]
