r"""Elementwise functions: ``exp log sqrt abs sin cos tanh sigmoid relu sign clip maximum
minimum where``, casts and comparisons.

Each backward is the local derivative times the upstream gradient,
:math:`\partial C/\partial x = \partial C/\partial y \cdot f'(x)`. Where a function has a
kink (relu and abs at 0, clip at its bounds, maximum at ties) the value of the derivative
there is PyTorch's, so results agree exactly.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import Function
from chainrule.backend import errstate, get_array_module, parallel_for
from chainrule.ops._broadcast import sum_to_shape
from chainrule.ops._parallel import chunk, outer_axis
from chainrule.ops.arithmetic import binary_operands
from chainrule.tensor import Tensor

__all__ = [
    "abs",
    "cast",
    "clip",
    "clamp",
    "clone",
    "compare",
    "cos",
    "exp",
    "log",
    "logical_not",
    "maximum",
    "minimum",
    "relu",
    "sigmoid",
    "sign",
    "sin",
    "sqrt",
    "tanh",
    "where",
]


# ---- unary ----
class Exp(Function):
    r"""y = e^x;  ∂y/∂x = e^x = y."""

    @staticmethod
    def forward(ctx, x):
        with errstate(over="ignore"):
            y = get_array_module(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return (gy * y,)


class Log(Function):
    r"""y = ln x;  ∂y/∂x = 1/x.  ``log(0) = -inf`` and ``log(x<0) = nan``, as PyTorch."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with errstate(divide="ignore", invalid="ignore"):
            return get_array_module(x).log(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        with errstate(divide="ignore", invalid="ignore"):
            return (gy / x,)


class Sqrt(Function):
    r"""y = √x;  ∂y/∂x = 1/(2√x) (inf at 0)."""

    @staticmethod
    def forward(ctx, x):
        with errstate(invalid="ignore"):
            y = get_array_module(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        with errstate(divide="ignore", invalid="ignore"):
            return (gy / (2 * y),)


class Abs(Function):
    r"""y = |x|;  ∂y/∂x = sign(x) (0 at 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).abs(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return (gy * get_array_module(x).sign(x),)


class Sin(Function):
    r"""y = sin x;  ∂y/∂x = cos x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).sin(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return (gy * get_array_module(x).cos(x),)


class Cos(Function):
    r"""y = cos x;  ∂y/∂x = −sin x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).cos(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return (-gy * get_array_module(x).sin(x),)


class Tanh(Function):
    r"""y = tanh x;  ∂y/∂x = 1 − y²."""

    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return (gy * (1 - y * y),)


def sigmoid_array(x: Any) -> Any:
    """The logistic function on an array, stable for any x: with e = exp(−|x|) ≤ 1,
    σ(x) = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0, so exp never overflows."""
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))
    r = 1 / (1 + e)
    return xp.where(x >= 0, r, e * r)


class Sigmoid(Function):
    r"""σ(x) = 1/(1 + e^{−x});  ∂σ/∂x = σ(x)(1 − σ(x)).  Saves the output, not the input."""

    @staticmethod
    def forward(ctx, x):
        y = sigmoid_array(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return (gy * y * (1 - y),)


def _relu_grad(xp: Any, g: Any, y: Any, o: Any) -> None:
    """o = where(y <= 0, 0, g), ReLU's backward on one chunk.

    A product with the mask is ~10x faster than `where` on random masks (measured: 0.30 vs
    3.0 ms on (128, 6, 28, 28)); y >= 0 or NaN here, so `y != 0` is the mask that passes NaN
    positions. A product turns an inf/NaN upstream gradient at a blocked position into NaN:
    those cells are zeroed afterwards (the other cells keep the product, so chunks agree
    whatever path)."""
    m = y != 0
    if xp.isfinite(g).all():
        xp.multiply(g, m, out=o)
        return
    with errstate(invalid="ignore"):
        xp.multiply(g, m, out=o)
    o[~m & ~xp.isfinite(g)] = 0


class ReLU(Function):
    r"""y = max(0, x);  ∂y/∂x = 1 if x > 0 else 0 (0 at x = 0, as PyTorch).

    NaN propagates (``relu(nan) = nan``) and, as in PyTorch, the gradient passes through a
    NaN (only ``y <= 0`` blocks it); a blocked position gets exactly 0 even when the upstream
    gradient there is inf or NaN.

    Both directions run in chunks of the input's outermost axis on the intra-op pool (Note
    [intra-op threads]); every element is computed alone, so any thread count gives the same
    bits.
    """

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        if 2 * x.nbytes < backend.PARALLEL_MIN_BYTES:  # too small for the pool: no chunking
            y = xp.maximum(x, 0)
            ctx.save_for_backward(y)
            return y
        y = xp.empty_like(x)  # x's layout (a convolution's CNHW view stays CNHW)
        ax = outer_axis(y)

        def fwd(a: int, b: int) -> None:  # maximum propagates NaN; x * (x > 0) would too
            xp.maximum(chunk(x, ax, a, b), 0, out=chunk(y, ax, a, b))

        parallel_for(y.shape[ax] if y.ndim else 1, fwd, 2 * y.nbytes, y)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        xp = get_array_module(gy)
        out = xp.empty_like(y)
        if 4 * out.nbytes < backend.PARALLEL_MIN_BYTES:  # too small for the pool: one call
            _relu_grad(xp, gy, y, out)
            return (out,)
        ax = outer_axis(out)

        def bwd(a: int, b: int) -> None:
            _relu_grad(xp, chunk(gy, ax, a, b), chunk(y, ax, a, b), chunk(out, ax, a, b))

        parallel_for(out.shape[ax] if out.ndim else 1, bwd, 4 * out.nbytes, out)
        return (out,)


class Sign(Function):
    r"""y = sign(x);  ∂y/∂x = 0 (piecewise constant)."""

    @staticmethod
    def forward(ctx, x):
        return get_array_module(x).sign(x)

    @staticmethod
    def backward(ctx, gy):
        return (gy * 0,)


class ClipTensor(Function):
    r"""y = min(max(x, lo), hi) with tensor bounds (broadcasting; either may be ``None``).

    PyTorch's rule: x gets the gradient where lo ≤ x ≤ hi (bounds included); lo gets it where
    x < lo (and lo < hi); hi where x > hi (or hi < lo, where the output is hi everywhere).
    """

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = get_array_module(x)
        ctx.save_for_backward(x, lo, hi)
        y = x
        if lo is not None:
            y = xp.maximum(y, lo)
        if hi is not None:
            y = xp.minimum(y, hi)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, lo, hi = ctx.saved_tensors
        xp = get_array_module(gy)
        nx, nlo, nhi = ctx.needs_input_grad
        keep = True
        if lo is not None:
            keep = x >= lo
        if hi is not None:
            keep = keep & (x <= hi)
        gx = sum_to_shape(xp.where(keep, gy, 0), x.shape) if nx else None
        glo = ghi = None
        if nlo:
            m = x < lo if hi is None else (x < lo) & (lo < hi)
            glo = sum_to_shape(xp.where(m, gy, 0), lo.shape)
        if nhi:
            m = x > hi if lo is None else (x > hi) | (hi < lo)
            ghi = sum_to_shape(xp.where(m, gy, 0), hi.shape)
        return gx, glo, ghi


class Clip(Function):
    r"""y = min(max(x, lo), hi);  ∂y/∂x = 1 where lo ≤ x ≤ hi (bounds included, as PyTorch)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = get_array_module(x)
        ctx.save_for_backward(x)
        ctx.bounds = (lo, hi)
        y = x
        if lo is not None:
            y = xp.maximum(y, lo)
        if hi is not None:
            y = xp.minimum(y, hi)
        return y if y is not x else x.copy()

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        mask = True
        if lo is not None:
            mask = x >= lo
        if hi is not None:
            mask = mask & (x <= hi)
        return (gy * mask, None, None)


class Cast(Function):
    r"""y = x as another dtype;  ∂C/∂x = ∂C/∂y cast back to x's dtype."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, gy):
        return (gy.astype(ctx.in_dtype), None)


class Clone(Function):
    r"""y = copy of x;  ∂y/∂x = 1."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, gy):
        return (gy,)


# ---- binary ----
class Maximum(Function):
    r"""z = max(x, y) elementwise;  the gradient goes to the larger input, split in half at
    ties (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, x, y):
        xp = get_array_module(x, y)
        ctx.save_for_backward(x, y)
        return xp.maximum(x, y)

    @staticmethod
    def backward(ctx, gz):
        x, y = ctx.saved_tensors
        return _select_grads(ctx, gz, x, y, x < y, x > y)


class Minimum(Function):
    r"""z = min(x, y) elementwise;  the gradient goes to the smaller input, split at ties."""

    @staticmethod
    def forward(ctx, x, y):
        xp = get_array_module(x, y)
        ctx.save_for_backward(x, y)
        return xp.minimum(x, y)

    @staticmethod
    def backward(ctx, gz):
        x, y = ctx.saved_tensors
        return _select_grads(ctx, gz, x, y, x > y, x < y)


def _select_grads(ctx: Any, gz: Any, x: Any, y: Any, x_loses: Any, y_loses: Any) -> tuple[Any, Any]:
    """PyTorch's rule: half the gradient to each input at a tie, none to the loser. With a
    NaN neither input loses (every comparison is false), so both get the full gradient."""
    xp = get_array_module(gz)
    half = xp.where(x == y, gz * 0.5, gz)
    nx, ny = ctx.needs_input_grad
    gx = sum_to_shape(xp.where(x_loses, 0, half), x.shape) if nx else None
    gy = sum_to_shape(xp.where(y_loses, 0, half), y.shape) if ny else None
    return gx, gy


class Where(Function):
    r"""z = x where cond else y;  ∂z/∂x = cond, ∂z/∂y = ¬cond."""

    @staticmethod
    def forward(ctx, cond, x, y):
        xp = get_array_module(x, y)
        ctx.cond = cond
        ctx.shapes = (getattr(x, "shape", ()), getattr(y, "shape", ()))
        return xp.where(cond, x, y)

    @staticmethod
    def backward(ctx, gz):
        xp = get_array_module(gz)
        cond = ctx.cond
        _, nx, ny = ctx.needs_input_grad
        sx, sy = ctx.shapes
        gx = sum_to_shape(xp.where(cond, gz, 0), sx) if nx else None
        gy = sum_to_shape(xp.where(cond, 0, gz), sy) if ny else None
        return None, gx, gy


# ---- public functions ----
def exp(input: Tensor) -> Tensor:
    r"""Elementwise :math:`e^x`.

    Example:
        >>> import chainrule as cr
        >>> cr.exp(cr.tensor([0.0]))
        tensor([1.])
    """
    return Exp.apply(_floating(input, "exp"))


def log(input: Tensor) -> Tensor:
    r"""Elementwise natural logarithm :math:`\ln x` (``-inf`` at 0, ``nan`` below)."""
    return Log.apply(_floating(input, "log"))


def sqrt(input: Tensor) -> Tensor:
    r"""Elementwise :math:`\sqrt{x}`."""
    return Sqrt.apply(_floating(input, "sqrt"))


def abs(input: Tensor) -> Tensor:
    """Elementwise absolute value."""
    return Abs.apply(_tensor(input, "abs"))


def sin(input: Tensor) -> Tensor:
    """Elementwise sine."""
    return Sin.apply(_floating(input, "sin"))


def cos(input: Tensor) -> Tensor:
    """Elementwise cosine."""
    return Cos.apply(_floating(input, "cos"))


def tanh(input: Tensor) -> Tensor:
    r"""Elementwise :math:`\tanh x = (e^x - e^{-x})/(e^x + e^{-x})`, range (−1, 1)."""
    return Tanh.apply(_floating(input, "tanh"))


def sigmoid(input: Tensor) -> Tensor:
    r"""Logistic sigmoid :math:`f_σ(x) = 1/(1+e^{-x})`, range (0, 1) (notes 000).

    Stable for any x: ``sigmoid(±1e4)`` is exactly ``1`` and ``0`` with no overflow.

    Example:
        >>> import chainrule as cr
        >>> cr.sigmoid(cr.tensor([0.0]))
        tensor([0.5])
    """
    return Sigmoid.apply(_floating(input, "sigmoid"))


def relu(input: Tensor) -> Tensor:
    r"""Rectified linear unit :math:`\max(0, x)`."""
    return ReLU.apply(_tensor(input, "relu"))


def sign(input: Tensor) -> Tensor:
    """Elementwise sign (−1, 0 or 1); its gradient is zero."""
    return Sign.apply(_tensor(input, "sign"))


def clip(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Clamp every element into ``[min, max]`` (either bound may be ``None``, or a tensor)."""
    input = _tensor(input, "clip")
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        lo = hi = None
        if min is not None:
            input, lo = _two_tensors(input, min, "clip")
        if max is not None:
            input, hi = _two_tensors(input, max, "clip")
            if lo is not None and lo.data.dtype != input.data.dtype:
                lo = cast(lo, input.data.dtype)
        return ClipTensor.apply(input, lo, hi)
    if input.data.dtype.kind != "f" and any(isinstance(b, float) for b in (min, max)):
        input = cast(input, dtypes.get_default_dtype())
    return Clip.apply(input, min, max)


clamp = clip


def maximum(input: Any, other: Any) -> Tensor:
    """Elementwise maximum of two tensors (broadcasting); NaN propagates."""
    a, b = _two_tensors(input, other, "maximum")
    return Maximum.apply(a, b)


def minimum(input: Any, other: Any) -> Tensor:
    """Elementwise minimum of two tensors (broadcasting); NaN propagates."""
    a, b = _two_tensors(input, other, "minimum")
    return Minimum.apply(a, b)


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """Pick from ``input`` where ``condition`` is true, else from ``other`` (broadcasting).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([-1.0, 2.0])
        >>> cr.where(x > 0, x, 0.0)
        tensor([0., 2.])
    """
    cond = condition.data if isinstance(condition, Tensor) else condition
    xp = get_array_module(cond)
    cond = xp.asarray(cond)
    if cond.dtype != dtypes.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor(input)  # torch's inference: a Python float gives the default dtype
    a, b = binary_operands(input, other, "where")
    return Where.apply(cond, a, b)


def cast(input: Tensor, dtype: Any) -> Tensor:
    """Convert to ``dtype`` (differentiable between floating dtypes)."""
    d = dtypes.resolve_dtype(dtype)
    if input.data.dtype == d:
        return input
    return Cast.apply(input, d)


def clone(input: Tensor) -> Tensor:
    """A copy that stays in the graph (gradient flows back unchanged)."""
    return Clone.apply(input)


_COMPARE = {
    "eq": "equal",
    "ne": "not_equal",
    "lt": "less",
    "le": "less_equal",
    "gt": "greater",
    "ge": "greater_equal",
    "and": "logical_and",
    "or": "logical_or",
}


def compare(input: Any, other: Any, op: str) -> Tensor:
    """Elementwise comparison returning a bool tensor (not differentiable)."""
    a = input.data if isinstance(input, Tensor) else input
    b = other.data if isinstance(other, Tensor) else other
    xp = get_array_module(a, b)
    with errstate(invalid="ignore"):
        return Tensor._make(getattr(xp, _COMPARE[op])(a, b), False, None)


def logical_not(input: Tensor) -> Tensor:
    """Elementwise logical not of a bool tensor."""
    xp = get_array_module(input.data)
    if input.data.dtype != dtypes.bool_:
        return Tensor._make(xp.invert(input.data), False, None)
    return Tensor._make(xp.logical_not(input.data), False, None)


# ---- argument helpers ----
def _tensor(x: Any, op: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")


def _floating(x: Any, op: str) -> Tensor:
    x = _tensor(x, op)
    if x.data.dtype.kind != "f":
        return cast(x, dtypes.get_default_dtype())
    return x


def _two_tensors(a: Any, b: Any, op: str) -> tuple[Tensor, Tensor]:
    a, b = binary_operands(a, b, op)
    xp = get_array_module(a.data if isinstance(a, Tensor) else b.data)
    if not isinstance(a, Tensor):
        a = Tensor(xp.asarray(a, dtype=b.data.dtype))
    if not isinstance(b, Tensor):
        b = Tensor(xp.asarray(b, dtype=a.data.dtype))
    return a, b
