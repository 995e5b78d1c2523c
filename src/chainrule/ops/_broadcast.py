"""Broadcasting helpers shared by every op: "sum in reverse" and argument normalisation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["normalize_axes", "normalize_dim", "reduce_args", "sum_to_shape"]


def sum_to_shape(grad: Any, shape: tuple[int, ...]) -> Any:
    """Reduce a broadcast gradient back to ``shape`` (the adjoint of broadcasting).

    Broadcasting copies an input along new leading axes and along axes of size 1, so its
    gradient is the sum over exactly those axes.

    Example:
        >>> import numpy as np
        >>> sum_to_shape(np.ones((4, 2, 3)), (2, 1)).tolist()
        [[12.0], [12.0]]
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    if lead < 0:
        raise ValueError(f"cannot reduce a gradient of shape {grad.shape} to shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    return out.reshape(shape)


def normalize_dim(dim: int, ndim: int, op: str = "op") -> int:
    """Map a possibly negative ``dim`` into ``[0, ndim)`` with a clear error."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], "
            f"but got {dim})"
        )
    return dim % n if ndim > 0 else 0


def normalize_axes(dim: Any, ndim: int, op: str = "op") -> tuple[int, ...] | None:
    """``None`` (all axes), an int or a sequence of ints -> sorted tuple of axes or None.

    An empty sequence means all axes, as in PyTorch (``x.sum(dim=())`` sums everything).
    """
    if dim is None:
        return None
    if isinstance(dim, Sequence) and not isinstance(dim, str):
        if len(dim) == 0:
            return None
        axes = tuple(normalize_dim(d, ndim, op) for d in dim)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{op}: dim {tuple(dim)} names an axis more than once")
        return tuple(sorted(axes))
    return (normalize_dim(dim, ndim, op),)


def reduce_args(
    dim: Any, keepdim: bool, axis: Any, keepdims: bool | None, op: str
) -> tuple[Any, bool]:
    """Merge PyTorch (``dim``/``keepdim``) and NumPy (``axis``/``keepdims``) spellings."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: give dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)
