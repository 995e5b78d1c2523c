r"""Arithmetic: ``+ - * / **`` and negation, with NumPy broadcasting.

The chain rule for a broadcasting binary op :math:`z = f(x, y)` is
:math:`\partial C/\partial x = \mathrm{sum\_to\_shape}(\partial C/\partial z \cdot
\partial f/\partial x)`: the local derivative times the upstream gradient, summed over the
axes along which ``x`` was broadcast (notes 002, "Review: the chain rule", additive form).
"""

from __future__ import annotations

from typing import Any

from chainrule import dtypes
from chainrule.autograd.function import Function
from chainrule.backend import errstate, get_array_module
from chainrule.backend import numpy as np  # dtype rules only: no array math here
from chainrule.ops._broadcast import sum_to_shape
from chainrule.tensor import Tensor

__all__ = ["add", "binary_operands", "div", "mul", "neg", "pow", "sub"]

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _scalar_category(x: Any) -> int:
    if isinstance(x, bool):
        return 0
    if isinstance(x, int):
        return 1
    return 2


def _default_for(category: int) -> np.dtype:
    return dtypes.get_default_dtype() if category == 2 else dtypes.int64


def binary_operands(a: Any, b: Any, op: str) -> tuple[Any, Any]:
    """Coerce the operands of a binary op to (Tensor | Python scalar) with PyTorch promotion.

    A Python (or NumPy) scalar never widens a tensor of the same kind; a float scalar turns an
    integer tensor into the default float dtype; two tensors of different kinds promote to
    the higher kind, and two of the same kind to the wider dtype, except that a 0-d tensor
    does not widen a tensor with dimensions of its kind (``float32 (3,) + float64 ()`` is
    float32), as in PyTorch.
    """
    both_tensors = isinstance(a, Tensor) and isinstance(b, Tensor)
    a = _as_operand(a, op)
    b = _as_operand(b, op)
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        da, db = a.data.dtype, b.data.dtype
        if da == db:
            return a, b
        ca, cb = _CATEGORY[da.kind], _CATEGORY[db.kind]
        if ca != cb:
            target = da if ca > cb else db
        elif both_tensors and (a.data.ndim == 0) != (b.data.ndim == 0):
            target = db if a.data.ndim == 0 else da  # the tensor with dimensions decides
        else:
            target = np.promote_types(da, db)
        return _cast_to(a, target), _cast_to(b, target)
    if ta:
        return _promote_with_scalar(a, b), b
    if tb:
        return a, _promote_with_scalar(b, a)
    raise TypeError(f"{op}: expected at least one tensor operand")


def _as_operand(x: Any, op: str) -> Any:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.generic):  # before the float check: np.float64 subclasses float
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{op}: unsupported operand of dtype {x.dtype}")
        return x.item()  # a NumPy scalar acts as a Python scalar (never widens), as torch
    if isinstance(x, (bool, int, float)):
        return x
    if isinstance(x, complex):
        raise TypeError(f"{op}: complex numbers are not supported")
    from chainrule.tensor import _to_array

    try:
        return Tensor(_to_array(x))
    except (TypeError, ValueError) as e:
        raise TypeError(f"{op}: unsupported operand of type {type(x).__name__}: {e}") from e


def _promote_with_scalar(t: Tensor, s: Any) -> Tensor:
    ct, cs = _CATEGORY[t.data.dtype.kind], _scalar_category(s)
    if cs > ct:
        return _cast_to(t, _default_for(cs))
    return t


def _cast_to(t: Tensor, dtype: np.dtype) -> Tensor:
    if t.data.dtype == dtype:
        return t
    from chainrule.ops.elementwise import cast

    return cast(t, dtype)


def _shape(x: Any) -> tuple[int, ...] | None:
    return x.shape if hasattr(x, "shape") else None


# ---- binary ----
class Add(Function):
    r"""z = x + y;  ∂z/∂x = 1, ∂z/∂y = 1."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.shapes = (_shape(x), _shape(y))
        return x + y

    @staticmethod
    def backward(ctx, gz):
        sx, sy = ctx.shapes
        nx, ny = ctx.needs_input_grad
        return (sum_to_shape(gz, sx) if nx else None, sum_to_shape(gz, sy) if ny else None)


class Sub(Function):
    r"""z = x − y;  ∂z/∂x = 1, ∂z/∂y = −1."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.shapes = (_shape(x), _shape(y))
        return x - y

    @staticmethod
    def backward(ctx, gz):
        sx, sy = ctx.shapes
        nx, ny = ctx.needs_input_grad
        return (sum_to_shape(gz, sx) if nx else None, sum_to_shape(-gz, sy) if ny else None)


class Mul(Function):
    r"""z = x · y;  ∂z/∂x = y, ∂z/∂y = x."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, gz):
        x, y = ctx.saved_tensors
        nx, ny = ctx.needs_input_grad
        gx = sum_to_shape(gz * y, x.shape) if nx else None
        gy = sum_to_shape(gz * x, y.shape) if ny else None
        return gx, gy


class Div(Function):
    r"""z = x / y;  ∂z/∂x = 1/y, ∂z/∂y = −x/y² = −z/y."""

    @staticmethod
    def forward(ctx, x, y):
        z = x / y
        ctx.save_for_backward(x, y)
        return z

    @staticmethod
    def backward(ctx, gz):
        x, y = ctx.saved_tensors
        nx, ny = ctx.needs_input_grad
        gx = sum_to_shape(gz / y, x.shape) if nx else None
        gy = sum_to_shape(-gz * x / (y * y), y.shape) if ny else None
        return gx, gy


class PowScalar(Function):
    r"""z = x^p for a constant p;  ∂z/∂x = p x^{p−1}."""

    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        if p == 2:
            return x * x
        with errstate(divide="ignore", invalid="ignore", over="ignore"):
            return x**p  # (-1) ** 0.5 = nan and 0 ** -1 = inf, silently, as PyTorch

    @staticmethod
    def backward(ctx, gz):
        (x,) = ctx.saved_tensors
        p = ctx.p
        if p == 2:
            return (gz * (2 * x), None)
        if p == 0:
            return (gz * 0, None)
        with errstate(divide="ignore", invalid="ignore", over="ignore"):
            return (gz * (p * x ** (p - 1)), None)  # inf at x = 0 for p < 1, as PyTorch


class Pow(Function):
    r"""z = x^y;  ∂z/∂x = y x^{y−1} (0 where y = 0),  ∂z/∂y = x^y ln x (0 where x = 0 and
    y ≥ 0), PyTorch's conventions at the points where the formulas give 0 · ∞."""

    @staticmethod
    def forward(ctx, x, y):
        with errstate(divide="ignore", invalid="ignore", over="ignore"):
            z = x**y
        ctx.save_for_backward(x, y, z)
        return z

    @staticmethod
    def backward(ctx, gz):
        x, y, z = ctx.saved_tensors
        xp = get_array_module(gz)
        nx, ny = ctx.needs_input_grad
        gx = gy = None
        with errstate(divide="ignore", invalid="ignore", over="ignore"):
            if nx:
                gx = sum_to_shape(gz * xp.where(y == 0, 0, y * x ** (y - 1)), x.shape)
            if ny:
                dz = xp.where((x == 0) & (y >= 0), 0, z * xp.log(x))
                gy = sum_to_shape(gz * dz, y.shape)
        return gx, gy


# ---- unary ----
class Neg(Function):
    r"""z = −x;  ∂z/∂x = −1."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, gz):
        return (-gz,)


def _fast_same(a: Any, b: Any) -> bool:
    # Hot path: two tensors of one dtype, or a tensor and a float/int (weak) scalar.
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            return a.data.dtype == b.data.dtype
        return type(b) is float and a.data.dtype.kind == "f"
    return False


def add(input: Any, other: Any) -> Tensor:
    """Elementwise ``input + other`` with broadcasting.

    Example:
        >>> import chainrule as cr
        >>> cr.add(cr.tensor([1.0, 2.0]), 1.0)
        tensor([2., 3.])
    """
    if not _fast_same(input, other):
        input, other = binary_operands(input, other, "add")
        if not isinstance(input, Tensor):  # scalar + tensor: addition commutes
            input, other = other, input
    return Add.apply(input, other)


def sub(input: Any, other: Any) -> Tensor:
    """Elementwise ``input - other`` with broadcasting."""
    if not _fast_same(input, other):
        input, other = binary_operands(input, other, "sub")
        if not isinstance(input, Tensor):
            return Add.apply(Neg.apply(other), input)
    return Sub.apply(input, other)


def mul(input: Any, other: Any) -> Tensor:
    """Elementwise ``input * other`` with broadcasting."""
    if not _fast_same(input, other):
        input, other = binary_operands(input, other, "mul")
        if not isinstance(input, Tensor):
            input, other = other, input
    return Mul.apply(input, other)


def div(input: Any, other: Any) -> Tensor:
    """Elementwise true division ``input / other`` (integers divide to the default float)."""
    if not (_fast_same(input, other) and input.data.dtype.kind == "f"):
        input, other = binary_operands(input, other, "div")
        ref = input if isinstance(input, Tensor) else other
        if ref.data.dtype.kind != "f":
            f = dtypes.get_default_dtype()
            input = _cast_to(input, f) if isinstance(input, Tensor) else float(input)
            other = _cast_to(other, f) if isinstance(other, Tensor) else float(other)
    return Div.apply(input, other)


def pow(input: Any, exponent: Any) -> Tensor:
    r"""Elementwise power :math:`x^y`; a constant exponent uses the cheaper :math:`p x^{p-1}`."""
    if (
        isinstance(input, Tensor)
        and isinstance(exponent, (int, float))
        and not isinstance(exponent, bool)
    ):
        input = _promote_with_scalar(input, exponent)
        return PowScalar.apply(input, exponent)
    input, exponent = binary_operands(input, exponent, "pow")
    return Pow.apply(input, exponent)


def neg(input: Tensor) -> Tensor:
    """Elementwise negation ``-input``."""
    return Neg.apply(input)
