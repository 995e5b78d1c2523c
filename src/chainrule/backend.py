"""The array backend: the one module that imports the array library for computation.

Op code asks its inputs which array module they live in (``xp = get_array_module(x)``,
as Chainer does) and never imports NumPy itself, so CuPy can be dropped in without
touching an op. The few helpers whose NumPy and CuPy forms differ live here.
"""

from __future__ import annotations

from typing import Any

import numpy

try:  # guarded GPU import: chainrule never requires CuPy
    import cupy  # type: ignore[import-not-found]
    import cupyx  # type: ignore[import-not-found]
except Exception:  # pragma: no cover - CuPy absent on CPU machines
    cupy = None
    cupyx = None

__all__ = [
    "Array",
    "as_strided",
    "cupy_available",
    "errstate",
    "get_array_module",
    "numpy",
    "scatter_add",
    "sliding_window_view",
    "to_numpy",
]

Array = Any  # numpy.ndarray or cupy.ndarray

cupy_available: bool = cupy is not None


def get_array_module(*arrays: Any) -> Any:
    """Return the array module (``numpy`` or ``cupy``) that owns ``arrays``."""
    if cupy is not None:
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
    return numpy


def to_numpy(a: Any) -> numpy.ndarray:
    """Return ``a`` as a NumPy array (a device-to-host copy for CuPy arrays)."""
    if cupy is not None and isinstance(a, cupy.ndarray):
        return cupy.asnumpy(a)
    return numpy.asarray(a)


def scatter_add(target: Any, indices: Any, values: Any) -> None:
    """``target[indices] += values`` with repeated indices accumulated (``np.add.at``)."""
    if cupy is not None and isinstance(target, cupy.ndarray):
        cupyx.scatter_add(target, indices, values)
    else:
        numpy.add.at(target, indices, values)


def as_strided(x: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """A read-only strided view of ``x`` (no copy)."""
    if cupy is not None and isinstance(x, cupy.ndarray):
        return cupy.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)
    return numpy.lib.stride_tricks.as_strided(x, shape=shape, strides=strides, writeable=False)


def errstate(**kwargs: str) -> Any:
    """NumPy's floating-point error context; ops use it where PyTorch returns inf or NaN
    silently (``log(0)``, ``x / 0``) so that no warning is raised for a legitimate result."""
    return numpy.errstate(**kwargs)


def sliding_window_view(x: Any, window_shape: tuple[int, ...], axis: tuple[int, ...]) -> Any:
    """A read-only view of all windows of ``x`` along ``axis`` (no copy)."""
    xp = get_array_module(x)
    return xp.lib.stride_tricks.sliding_window_view(x, window_shape, axis=axis)
