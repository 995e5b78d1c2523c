r"""Indexing: ``x[index]`` with ints, slices, ``None``, ``...``, integer arrays and bool masks.

The forward pass gathers; the backward pass scatters the upstream gradient back into a zero
tensor of the input's shape. With integer-array indices an element can be picked several
times, so the scatter *adds* (``np.add.at``) instead of assigning: each pick contributes.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import get_array_module, scatter_add
from chainrule.tensor import Tensor

__all__ = ["getitem"]


class GetItem(Function):
    r"""y = x[index];  ∂C/∂x = scatter-add of ∂C/∂y into the picked positions."""

    @staticmethod
    def forward(ctx, x, index, basic):
        ctx.info = (x.shape, x.dtype, index, basic)
        return x[index]

    @staticmethod
    def backward(ctx, gy):
        shape, dtype, index, basic = ctx.info
        gx = get_array_module(gy).zeros(shape, dtype=dtype)
        if basic:  # slices and ints never pick an element twice: plain assignment
            gx[index] = gy
        else:
            scatter_add(gx, index, gy)
        return gx, None, None


def _convert(index: Any) -> tuple[Any, bool]:
    """Turn Tensor indices into arrays; report whether the index is basic (no arrays)."""
    items = index if isinstance(index, tuple) else (index,)
    out, basic = [], True
    for it in items:
        if isinstance(it, Tensor):
            it = it.data
        if isinstance(it, list):
            xp = get_array_module()
            it = xp.asarray(it)
        if hasattr(it, "dtype") and getattr(it, "ndim", 0) >= 0 and not isinstance(it, slice):
            if it.dtype.kind not in "biu":
                raise IndexError(
                    f"tensors used as indices must be integer or bool, got dtype {it.dtype}"
                )
            basic = False
        elif not (it is None or it is Ellipsis or isinstance(it, (int, slice))):
            raise IndexError(f"unsupported index of type {type(it).__name__}")
        out.append(it)
    return (tuple(out) if isinstance(index, tuple) else out[0]), basic


def getitem(input: Tensor, index: Any) -> Tensor:
    """``input[index]`` as NumPy indexes; differentiable, repeated indices accumulate.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> x[[0, 0, 2]].sum().backward()
        >>> x.grad
        tensor([2., 0., 1.])
    """
    idx, basic = _convert(index)
    try:
        return GetItem.apply(input, idx, basic)
    except IndexError as e:
        raise IndexError(
            f"index {index!r} is invalid for a tensor of shape {input.shape}: {e}"
        ) from e
