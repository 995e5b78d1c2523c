"""Chunking helpers for element-wise kernels on the intra-op pool (Note [intra-op threads]
in :mod:`chainrule.backend`): pick the axis to cut and take the same slice of every operand."""

from __future__ import annotations

from typing import Any

__all__ = ["chunk", "outer_axis"]


def outer_axis(a: Any) -> int:
    """The axis of ``a`` with the largest stride (outermost in memory) among those longer than
    1: slices along it are the largest contiguous blocks (a convolution's NCHW output view of
    its CNHW buffer gives axis 1). 0 for a 0-d or all-ones shape."""
    best, axis = -1, 0
    for i, (n, s) in enumerate(zip(a.shape, a.strides)):
        if n > 1 and abs(s) > best:
            best, axis = abs(s), i
    return axis


def chunk(a: Any, axis: int, start: int, stop: int) -> Any:
    """``a[..., start:stop, ...]`` along ``axis`` (a view; a 0-d array is its own chunk)."""
    if a.ndim == 0:
        return a
    return a[(slice(None),) * axis + (slice(start, stop),)]
