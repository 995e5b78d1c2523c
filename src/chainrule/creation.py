"""Tensor factories: ``zeros ones full arange linspace eye rand randn randint ...``.

Random factories draw from a :class:`chainrule.random.Generator` (the default one unless
``generator=`` is given), never from NumPy's global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.random import Generator, default_generator
from chainrule.tensor import Tensor

__all__ = [
    "arange",
    "as_tensor",
    "empty",
    "eye",
    "from_numpy",
    "full",
    "full_like",
    "linspace",
    "ones",
    "ones_like",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "randperm",
    "zeros",
    "zeros_like",
]


def _size(size: tuple[Any, ...]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], Sequence):
        size = tuple(size[0])
    out = tuple(int(s) for s in size)
    if any(s < 0 for s in out):
        raise ValueError(f"sizes must be non-negative, got {out}")
    return out


def _dtype(dtype: Any, default: np.dtype | None = None) -> np.dtype:
    if dtype is None:
        return default if default is not None else dtypes.get_default_dtype()
    return dtypes.resolve_dtype(dtype)


def _float_dtype(fn: str, dtype: Any) -> np.dtype:
    """The dtype of a uniform or normal draw: floating only (an integer cast would give zeros)."""
    d = _dtype(dtype)
    if d.kind != "f":
        raise TypeError(
            f"{fn}: random floats need a floating dtype (float32, float64), got {d}; "
            "for random integers use chainrule.randint"
        )
    return d


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype`` says otherwise).

    Example:
        >>> import chainrule as cr
        >>> cr.zeros(2, 3).shape, cr.zeros((2, 3), dtype="float64").dtype
        ((2, 3), dtype('float64'))
    """
    return Tensor(np.zeros(_size(size), _dtype(dtype)), requires_grad=requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_size(size), _dtype(dtype)), requires_grad=requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (zeros here: NumPy's empty would expose stale memory)."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(
    size: Sequence[int], fill_value: Any, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype inferred from it, as torch).

    Example:
        >>> import chainrule as cr
        >>> cr.full((2,), 7).dtype, cr.full((2,), 0.5).dtype
        (dtype('int64'), dtype('float32'))
    """
    if dtype is None:
        dtype = (
            dtypes.bool_
            if isinstance(fill_value, bool)
            else (dtypes.int64 if isinstance(fill_value, int) else dtypes.get_default_dtype())
        )
    return Tensor(np.full(_size((size,)), fill_value, _dtype(dtype)), requires_grad=requires_grad)


def zeros_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``input``'s shape and dtype (or ``dtype``).

    Example:
        >>> import chainrule as cr
        >>> cr.zeros_like(cr.ones(2, 3, dtype="float64")).dtype
        dtype('float64')
    """
    return zeros(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def ones_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``input``'s shape and dtype (or ``dtype``)."""
    return ones(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def full_like(
    input: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``fill_value`` in ``input``'s shape and dtype (or ``dtype``)."""
    return full(input.shape, fill_value, dtype=dtype or input.dtype, requires_grad=requires_grad)


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive); int64 for integer arguments.

    Example:
        >>> import chainrule as cr
        >>> cr.arange(4), cr.arange(0.0, 1.0, 0.25)
        (tensor([0, 1, 2, 3]), tensor([0.  , 0.25, 0.5 , 0.75]))
    """
    if end is None:
        start, end = 0, start
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    d = _dtype(dtype, dtypes.int64 if ints else None)
    return Tensor(np.arange(start, end, step).astype(d), requires_grad=requires_grad)


def linspace(
    start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive.

    Example:
        >>> import chainrule as cr
        >>> cr.linspace(0, 1, 5)
        tensor([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    return Tensor(np.linspace(start, end, steps).astype(_dtype(dtype)), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The identity matrix."""
    return Tensor(np.eye(n, m, dtype=_dtype(dtype)), requires_grad=requires_grad)


def rand(
    *size: Any, generator: Generator | None = None, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """Uniform samples on [0, 1).

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> x = cr.rand(1000)
        >>> x.dtype, bool((x.numpy() >= 0).all() and (x.numpy() < 1).all())
        (dtype('float32'), True)

    Raises:
        TypeError: ``dtype`` is not floating (as torch).
    """
    d = _float_dtype("rand", dtype)
    g = generator or default_generator
    return Tensor(g.random(_size(size)).astype(d), requires_grad=requires_grad)


def randn(
    *size: Any, generator: Generator | None = None, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """Standard normal samples.

    Raises:
        TypeError: ``dtype`` is not floating (as torch).
    """
    d = _float_dtype("randn", dtype)
    g = generator or default_generator
    return Tensor(g.normal(_size(size)).astype(d), requires_grad=requires_grad)


def rand_like(
    input: Tensor,
    generator: Generator | None = None,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """:func:`rand` in ``input``'s shape and dtype (or ``dtype``; floating only)."""
    d = _float_dtype("rand_like", dtype or input.dtype)
    return rand(input.shape, generator=generator, dtype=d, requires_grad=requires_grad)


def randn_like(
    input: Tensor,
    generator: Generator | None = None,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """:func:`randn` in ``input``'s shape and dtype (or ``dtype``; floating only)."""
    d = _float_dtype("randn_like", dtype or input.dtype)
    return randn(input.shape, generator=generator, dtype=d, requires_grad=requires_grad)


def randint(
    low: int,
    high: int | Sequence[int] | None = None,
    size: Sequence[int] = (),
    *,
    generator: Generator | None = None,
    dtype: Any = None,
) -> Tensor:
    """Integers uniform on [low, high), int64 unless ``dtype`` says otherwise;
    ``randint(high, size)`` as torch also allowed.

    Raises:
        ValueError: ``low >= high``.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> t = cr.randint(10, (2, 3))
        >>> t.shape, t.dtype, bool(((t.numpy() >= 0) & (t.numpy() < 10)).all())
        ((2, 3), dtype('int64'), True)
    """
    if high is None:
        lo, hi, shape = 0, low, size
    elif isinstance(high, Sequence):  # randint(high, size), as torch
        if size:
            raise TypeError(f"randint: high must be an int, got {high!r} with size={size!r}")
        lo, hi, shape = 0, low, high
    else:
        lo, hi, shape = low, high, size
    if hi <= lo:
        raise ValueError(f"randint: expected low < high, got low={lo}, high={hi}")
    g = generator or default_generator
    return Tensor(
        np.asarray(g.integers(lo, hi, _size((shape,)))).astype(_dtype(dtype, dtypes.int64))
    )


def randperm(n: int, *, generator: Generator | None = None) -> Tensor:
    """A random permutation of ``0..n-1`` (int64)."""
    g = generator or default_generator
    return Tensor(g.permutation(n).astype(dtypes.int64))


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (dtype kept).

    Example:
        >>> import numpy as np, chainrule as cr
        >>> a = np.zeros(3)
        >>> t = cr.from_numpy(a)
        >>> a[0] = 5.0
        >>> t, t.dtype
        (tensor([5., 0., 0.], dtype=float64), dtype('float64'))
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """Like :func:`chainrule.tensor`, but shares memory with a NumPy array when it can."""
    if isinstance(data, Tensor) and dtype is None:
        return data
    return Tensor(data, dtype=dtype)
