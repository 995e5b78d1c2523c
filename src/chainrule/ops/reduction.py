r"""Reductions: ``sum mean max min var std logsumexp`` (differentiable) and ``argmax argmin``.

Every reduction takes ``dim`` (int, tuple or ``None`` for all) and ``keepdim``; the NumPy
spellings ``axis`` and ``keepdims`` are accepted too. The backward of a reduction
broadcasts the upstream gradient back over the reduced axes.
"""

from __future__ import annotations

import builtins
from typing import Any

from chainrule import dtypes
from chainrule.autograd.function import Function
from chainrule.backend import errstate, get_array_module
from chainrule.ops._broadcast import normalize_axes, reduce_args
from chainrule.ops.elementwise import _floating, _tensor, cast
from chainrule.tensor import Tensor

__all__ = [
    "amax",
    "amin",
    "argmax",
    "argmin",
    "logsumexp",
    "max",
    "mean",
    "min",
    "std",
    "sum",
    "var",
]


def _expand_back(g: Any, axes: tuple[int, ...] | None, keepdim: bool, ndim: int) -> Any:
    """Re-insert the reduced axes (size 1) so ``g`` broadcasts against the input."""
    if keepdim or axes is None and g.ndim == ndim:
        return g
    if axes is None:
        return g.reshape((1,) * ndim)
    xp = get_array_module(g)
    return xp.expand_dims(g, axes)


class Sum(Function):
    r"""y = Σ_i x_i over the axes;  ∂y/∂x_i = 1."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.info = (x.shape, axes, keepdim)
        return x.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, gy):
        shape, axes, keepdim = ctx.info
        g = _expand_back(gy, axes, keepdim, len(shape))
        return get_array_module(gy).broadcast_to(g, shape), None, None


class Mean(Function):
    r"""y = (1/n) Σ_i x_i;  ∂y/∂x_i = 1/n."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.info = (x.shape, axes, keepdim)
        ctx.n = _count(x.shape, axes)
        with errstate(invalid="ignore", divide="ignore"):
            return x.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, gy):
        shape, axes, keepdim = ctx.info
        g = _expand_back(gy, axes, keepdim, len(shape)) / ctx.n
        return get_array_module(gy).broadcast_to(g, shape), None, None


def _count(shape: tuple[int, ...], axes: tuple[int, ...] | None, reduced: bool = True) -> int:
    """Number of elements reduced over (or, with ``reduced=False``, kept)."""
    n = 1
    for i, s in enumerate(shape):
        if (axes is None or i in axes) == reduced:
            n *= s
    return n


class AMax(Function):
    r"""y = max_i x_i;  the gradient is shared evenly among the maximal elements (ties), as
    ``torch.amax``."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, take_min):
        xp = get_array_module(x)
        y = x.min(axis=axes, keepdims=True) if take_min else x.max(axis=axes, keepdims=True)
        ctx.save_for_backward(x, y)
        ctx.info = (axes, keepdim)
        return y if keepdim else xp.squeeze(y, axis=axes)

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        axes, keepdim = ctx.info
        mask = x == y
        count = mask.sum(axis=axes, keepdims=True)
        g = _expand_back(gy, axes, keepdim, x.ndim)
        with errstate(invalid="ignore", divide="ignore"):
            return (g * mask) / count, None, None, None


def _centered(x: Any, axes: tuple[int, ...] | None, correction: float) -> tuple[Any, Any, float]:
    """(x − x̄, Σ (x − x̄)² / (n − c) with the reduced axes kept, n − c clamped at 0)."""
    n = _count(x.shape, axes)
    d = x - x.mean(axis=axes, keepdims=True)
    denom = builtins.max(n - correction, 0)
    with errstate(invalid="ignore", divide="ignore"):
        v = (d * d).sum(axis=axes, keepdims=True) / denom
    return d, v, denom


def _squeeze(y: Any, axes: tuple[int, ...] | None, keepdim: bool) -> Any:
    if keepdim:
        return y
    return get_array_module(y).squeeze(y, axis=axes)


class Var(Function):
    r"""y = Σ_i (x_i − x̄)² / (n − c) with correction c (1: unbiased, as PyTorch's default);
    ∂y/∂x_i = 2 (x_i − x̄) / (n − c)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        d, v, denom = _centered(x, axes, correction)
        ctx.save_for_backward(d)
        ctx.info = (axes, keepdim, denom)
        return _squeeze(v, axes, keepdim)

    @staticmethod
    def backward(ctx, gy):
        (d,) = ctx.saved_tensors
        axes, keepdim, denom = ctx.info
        g = _expand_back(gy, axes, keepdim, d.ndim)
        with errstate(invalid="ignore", divide="ignore"):
            return g * (2 / denom) * d if denom else g * d * float("nan"), None, None, None


class Std(Function):
    r"""y = √var(x);  ∂y/∂x_i = (x_i − x̄) / ((n − c) y), taken as 0 where y = 0 (all
    elements equal), as PyTorch: a constant input has a zero gradient, not NaN.

    One node rather than ``sqrt(var(x))``: the chain rule through sqrt gives ∞ · 0 = NaN at
    a constant input.
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        xp = get_array_module(x)
        d, v, denom = _centered(x, axes, correction)
        with errstate(invalid="ignore"):
            y = xp.sqrt(v)
        ctx.save_for_backward(d, y)
        ctx.info = (axes, keepdim, denom)
        return _squeeze(y, axes, keepdim)

    @staticmethod
    def backward(ctx, gy):
        d, y = ctx.saved_tensors
        axes, keepdim, denom = ctx.info
        xp = get_array_module(gy)
        g = _expand_back(gy, axes, keepdim, d.ndim)
        with errstate(invalid="ignore", divide="ignore"):
            gs = xp.where(y == 0, 0, g / (y * denom)) if denom else g / y * float("nan")
            return gs * d, None, None, None


class LogSumExp(Function):
    r"""y = m + ln Σ_i e^{x_i − m}, m = max_i x_i (the shift keeps every exponent ≤ 0, so
    nothing overflows; notes 001, "numerically stable");  ∂y/∂x_i = e^{x_i − y} = softmax(x)_i.

    An infinite maximum is replaced by 0 in the shift, so ``logsumexp([-inf, -inf]) = -inf``
    and ``logsumexp([inf, 1]) = inf``, as PyTorch.
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        xp = get_array_module(x)
        if _empty_reduction(x.shape, axes):  # sum of no terms: ln 0 = -inf, as PyTorch
            shape = tuple(1 if axes is None or i in axes else n for i, n in enumerate(x.shape))
            y = xp.full(shape, -xp.inf, dtype=x.dtype)
            ctx.save_for_backward(x, y)
            ctx.info = (axes, keepdim)
            return y if keepdim else xp.squeeze(y, axis=axes)
        m = x.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        with errstate(divide="ignore", invalid="ignore", over="ignore"):
            y = xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True)) + m
        ctx.save_for_backward(x, y)
        ctx.info = (axes, keepdim)
        return y if keepdim else xp.squeeze(y, axis=axes)

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        axes, keepdim = ctx.info
        xp = get_array_module(x)
        g = _expand_back(gy, axes, keepdim, x.ndim)
        with errstate(invalid="ignore", over="ignore"):
            return g * xp.exp(x - y), None, None


# ---- public functions ----
def _axes(input: Tensor, dim: Any, keepdim: bool, axis: Any, keepdims: Any, op: str):
    dim, keepdim = reduce_args(dim, keepdim, axis, keepdims, op)
    axes = normalize_axes(dim, input.data.ndim, op)
    if input.data.ndim == 0:
        axes = None
    return axes, keepdim


def sum(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
    dtype: Any = None,
) -> Tensor:
    """Sum over ``dim`` (all elements when ``None``).

    Example:
        >>> import chainrule as cr
        >>> cr.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=0)
        tensor([4., 6.])
    """
    input = _tensor(input, "sum")
    if dtype is not None:
        input = cast(input, dtype)
    elif input.data.dtype.kind in "bi" and input.data.dtype != dtypes.int64:
        input = cast(input, dtypes.int64)  # PyTorch sums bools and ints as int64
    axes, keepdim = _axes(input, dim, keepdim, axis, keepdims, "sum")
    return Sum.apply(input, axes, keepdim)


def mean(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Arithmetic mean over ``dim``; integer inputs are refused, as in PyTorch."""
    input = _tensor(input, "mean")
    if input.data.dtype.kind != "f":
        raise TypeError(
            f"mean: expected a floating tensor, got dtype {input.data.dtype}; use .float() first"
        )
    axes, keepdim = _axes(input, dim, keepdim, axis, keepdims, "mean")
    return Mean.apply(input, axes, keepdim)


def _extreme(
    input: Tensor, dim: Any, keepdim: bool, axis: Any, keepdims: Any, take_min: bool, op: str
) -> Tensor:
    input = _tensor(input, op)
    axes, keepdim = _axes(input, dim, keepdim, axis, keepdims, op)
    if _empty_reduction(input.data.shape, axes):  # reducing a non-empty dim of one is fine
        raise ValueError(
            f"{op}: cannot reduce an empty tensor of shape {input.shape} over a dimension of "
            "size 0 (the extreme of no values is undefined)"
        )
    return AMax.apply(input, axes, keepdim, take_min)


def _empty_reduction(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> bool:
    """True when a reduced axis has size 0 (all axes when ``axes`` is None)."""
    return any(n == 0 for i, n in enumerate(shape) if axes is None or i in axes)


def max(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Largest value over ``dim`` (values only; use :func:`argmax` for indices).

    NaN propagates. Tied maxima share the gradient evenly (``torch.amax``'s rule).
    """
    return _extreme(input, dim, keepdim, axis, keepdims, False, "max")


def min(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Smallest value over ``dim`` (values only; use :func:`argmin` for indices)."""
    return _extreme(input, dim, keepdim, axis, keepdims, True, "min")


amax = max
amin = min


def _correction(correction: float | None, unbiased: bool | None) -> float:
    if correction is not None and unbiased is not None:
        raise TypeError("give correction or unbiased, not both")
    if correction is not None:
        return float(correction)
    return 0.0 if unbiased is False else 1.0


def var(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
    unbiased: bool | None = None,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    r"""Variance :math:`\frac{1}{n-c}\sum_i (x_i - \bar x)^2`, unbiased (c = 1) by default."""
    input = _floating(input, "var")
    axes, keepdim = _axes(input, dim, keepdim, axis, keepdims, "var")
    return Var.apply(input, axes, keepdim, _correction(correction, unbiased))


def std(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
    unbiased: bool | None = None,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    r"""Standard deviation :math:`\sqrt{\mathrm{var}}`, unbiased by default; the gradient of a
    constant input is 0, as PyTorch.

    Example:
        >>> import chainrule as cr
        >>> cr.tensor([1.0, 2.0, 3.0]).std()
        tensor(1.)
    """
    input = _floating(input, "std")
    axes, keepdim = _axes(input, dim, keepdim, axis, keepdims, "std")
    return Std.apply(input, axes, keepdim, _correction(correction, unbiased))


def logsumexp(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    r"""Numerically stable :math:`\ln \sum_i e^{x_i}` over ``dim``.

    Example:
        >>> import chainrule as cr
        >>> round(cr.logsumexp(cr.tensor([1e4, 1e4]), dim=0).item(), 4)
        10000.6934
    """
    input = _floating(input, "logsumexp")
    axes, keepdim = _axes(input, dim, keepdim, axis, keepdims, "logsumexp")
    return LogSumExp.apply(input, axes, keepdim)


def _arg(input: Tensor, dim: Any, keepdim: bool, axis: Any, keepdims: Any, op: str) -> Tensor:
    input = _tensor(input, op)
    dim, keepdim = reduce_args(dim, keepdim, axis, keepdims, op)
    x = input.data
    xp = get_array_module(x)
    ax_check = None if dim is None else normalize_axes(dim, x.ndim, op)
    if x.ndim and _empty_reduction(x.shape, ax_check) or x.size == 0 and dim is None:
        raise ValueError(f"{op}: cannot take {op} of an empty tensor over a dimension of size 0")
    fn = xp.argmax if op == "argmax" else xp.argmin
    if dim is None:
        out = fn(x.reshape(-1))
        if keepdim:
            out = xp.asarray(out).reshape((1,) * x.ndim)
    else:
        (ax,) = normalize_axes(dim, x.ndim, op) or (0,)
        out = fn(x, axis=ax, keepdims=keepdim) if x.ndim else fn(x)
    return Tensor._make(xp.asarray(out, dtype=dtypes.int64), False, None)


def argmax(
    input: Tensor,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Index of the largest value (over the flattened tensor when ``dim`` is None); the first
    NaN counts as the largest, as PyTorch. Not differentiable."""
    return _arg(input, dim, keepdim, axis, keepdims, "argmax")


def argmin(
    input: Tensor,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Index of the smallest value. Not differentiable."""
    return _arg(input, dim, keepdim, axis, keepdims, "argmin")
