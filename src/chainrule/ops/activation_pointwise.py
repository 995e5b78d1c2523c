r"""Pointwise activations: each neuron's output :math:`a = g(h)` of its summed input
:math:`h = \sum_i w_i x_i` (notes 002, "McCulloch and Pitts Neuron"), with the derivative
:math:`\partial a/\partial h` that backpropagation multiplies in (notes 002, "Backpropagation in
practice"): :math:`\partial C/\partial h = \partial C/\partial a \cdot g'(h)`.

Each activation is one ``Function`` with its derivative written out, not a composition, so the
forward allocates one array and the backward one more. ``softplus``, ``log_sigmoid``, ``silu``/
``swish`` and ``elu`` are fused for stability too: written as compositions they overflow
(``log(1 + e^h)`` at ``h = 1e4``) or lose the gradient (``e^h - 1`` at large ``|h|``). At kinks
the derivative is PyTorch's (``leaky_relu'(0) = slope``, ``elu'(0) = α``, ``hardtanh`` passes no
gradient at its bounds, ``threshold`` none at the threshold).

``step`` is the McCulloch-Pitts neuron, :math:`y = 1` if :math:`h > θ` else 0. It is piecewise
constant, so its derivative is 0 wherever it exists: ``backward`` returns zeros. That is why the
perceptron is trained by its own rule (:mod:`chainrule.models.perceptron`) and why
backpropagation needs a smooth activation such as the sigmoid.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import get_array_module
from chainrule.ops._broadcast import sum_to_shape
from chainrule.ops.elementwise import _floating, sigmoid_array
from chainrule.tensor import Tensor

__all__ = [
    "celu",
    "elu",
    "hardtanh",
    "leaky_relu",
    "log_sigmoid",
    "logsigmoid",
    "prelu",
    "relu6",
    "selu",
    "silu",
    "softplus",
    "softsign",
    "step",
    "swish",
    "threshold",
]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class LeakyReLU(Function):
    r"""a = h if h > 0 else s·h;  ∂a/∂h = 1 if h > 0 else s (s at h = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, x, slope):
        xp = get_array_module(x)
        pos = x > 0
        ctx.save_for_backward(pos)
        ctx.slope = slope
        return xp.where(pos, x, x * x.dtype.type(slope))

    @staticmethod
    def backward(ctx, g):
        (pos,) = ctx.saved_tensors
        xp = get_array_module(g)
        return xp.where(pos, g, g * g.dtype.type(ctx.slope)), None


class PReLU(Function):
    r"""a = h if h > 0 else α_c·h, one learnable α per channel c (axis 1);
    ∂a/∂h = 1 if h > 0 else α_c;  ∂a/∂α_c = 0 if h > 0 else h (summed over the channel)."""

    @staticmethod
    def forward(ctx, x, weight):
        xp = get_array_module(x)
        w = _channel_view(weight, x.ndim)
        ctx.save_for_backward(x, w)
        ctx.w_shape = weight.shape
        return xp.where(x > 0, x, x * w)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        xp = get_array_module(g)
        pos = x > 0
        gx = xp.where(pos, g, g * w) if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            gw = sum_to_shape(xp.where(pos, 0, g * x), w.shape).reshape(ctx.w_shape)
        return gx, gw


def _channel_view(w: Any, ndim: int) -> Any:
    """Shape a per-channel weight (C,) so it broadcasts over axis 1 of an ndim-d input."""
    if w.size == 1:
        return w.reshape(())
    return w.reshape((1, w.size) + (1,) * (ndim - 2))


class ELU(Function):
    r"""a = h if h > 0 else α(e^h − 1);  ∂a/∂h = 1 if h > 0 else α e^h = a + α.

    ``scale`` multiplies both branches (SELU: scale λ and α fixed so activations keep mean 0
    and variance 1 through depth); CELU divides the exponent by α (``input_scale``)."""

    @staticmethod
    def forward(ctx, x, alpha, scale, input_scale):
        xp = get_array_module(x)
        t = x.dtype.type
        neg = t(alpha * scale) * xp.expm1(xp.minimum(x, 0) * t(input_scale))  # no overflow
        pos = x > 0
        ctx.save_for_backward(pos, neg)
        ctx.coef = (alpha, scale, input_scale)
        return xp.where(pos, x * t(scale), neg)

    @staticmethod
    def backward(ctx, g):
        pos, neg = ctx.saved_tensors
        alpha, scale, input_scale = ctx.coef
        xp = get_array_module(g)
        t = g.dtype.type
        # α·scale·e^{h·s}·s = (neg + α·scale)·s on the negative side
        dneg = (neg + t(alpha * scale)) * t(input_scale)
        return xp.where(pos, g * t(scale), g * dneg), None, None, None


class Swish(Function):
    r"""a = h σ(βh);  ∂a/∂h = σ(βh) + βh σ(βh)(1 − σ(βh)) = βa + σ(βh)(1 − βa);
    ∂a/∂β = h² σ(βh)(1 − σ(βh)).  SiLU is β = 1. β may be a learnable tensor."""

    @staticmethod
    def forward(ctx, x, beta):
        s = sigmoid_array(x * beta if not _is_one(beta) else x)
        ctx.save_for_backward(x, s, beta)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s, beta = ctx.saved_tensors
        ds = s * (1 - s)
        gx = g * (s + (x * beta) * ds) if ctx.needs_input_grad[0] else None
        gb = None
        if len(ctx.needs_input_grad) > 1 and ctx.needs_input_grad[1]:
            gb = sum_to_shape(g * x * x * ds, beta.shape)
        return gx, gb


def _is_one(beta: Any) -> bool:
    return not hasattr(beta, "shape") and beta == 1


class Softplus(Function):
    r"""a = (1/β) ln(1 + e^{βh}) (= h where βh > threshold);  ∂a/∂h = σ(βh) (1 there).

    Computed as max(βh, 0) + ln(1 + e^{−|βh|}), whose exponent is never positive, so
    ``softplus(1e4) = 1e4`` and ``softplus(-1e4) = 0`` with no overflow."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = get_array_module(x)
        t = x.dtype.type
        z = x * t(beta) if beta != 1 else x
        y = xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))
        if beta != 1:
            y /= t(beta)
        lin = z > threshold
        ctx.save_for_backward(z, lin)
        return xp.where(lin, x, y)

    @staticmethod
    def backward(ctx, g):
        z, lin = ctx.saved_tensors
        xp = get_array_module(g)
        return xp.where(lin, g, g * sigmoid_array(z)), None, None


class LogSigmoid(Function):
    r"""a = ln σ(h) = min(h, 0) − ln(1 + e^{−|h|});  ∂a/∂h = 1 − σ(h) = σ(−h).

    ``log_sigmoid(-1e4) = -1e4`` and ``log_sigmoid(1e4) = 0`` with no overflow."""

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        ctx.save_for_backward(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return (g * sigmoid_array(-x),)


class Hardtanh(Function):
    r"""a = clip(h, lo, hi);  ∂a/∂h = 1 if lo < h < hi else 0 (0 at the bounds, as PyTorch)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = get_array_module(x)
        ctx.save_for_backward((x > lo) & (x < hi))
        t = x.dtype.type
        return xp.minimum(xp.maximum(x, t(lo)), t(hi))

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved_tensors
        return g * inside, None, None


class Softsign(Function):
    r"""a = h / (1 + |h|);  ∂a/∂h = 1 / (1 + |h|)²."""

    @staticmethod
    def forward(ctx, x):
        d = 1 + get_array_module(x).abs(x)
        ctx.save_for_backward(d)
        return x / d

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        return (g / (d * d),)


class Threshold(Function):
    r"""a = h if h > θ else v;  ∂a/∂h = 1 if h > θ else 0."""

    @staticmethod
    def forward(ctx, x, theta, value):
        xp = get_array_module(x)
        keep = x > theta
        ctx.save_for_backward(keep)
        return xp.where(keep, x, x.dtype.type(value))

    @staticmethod
    def backward(ctx, g):
        (keep,) = ctx.saved_tensors
        return g * keep, None, None


class Step(Function):
    r"""The McCulloch-Pitts neuron: y = g(h) = 1 if h > θ else 0 (notes 002).

    ∂y/∂h = 0 for h ≠ θ and undefined at θ: the step has no useful gradient, and backward
    returns zeros (so a graph through it trains nothing before it, by design)."""

    @staticmethod
    def forward(ctx, x, theta):
        return (x > theta).astype(x.dtype)

    @staticmethod
    def backward(ctx, g):
        return get_array_module(g).zeros_like(g), None


# ---- public functions ----
def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    r"""Leaky ReLU: :math:`a = h` for :math:`h > 0`, :math:`a = s h` otherwise.

    :math:`\partial a/\partial h = 1` for :math:`h > 0`, :math:`s` otherwise: a small slope keeps
    a gradient for negative inputs (no "dead" units). ``inplace`` is accepted for PyTorch
    compatibility; chainrule never modifies the input.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.leaky_relu(cr.tensor([-2.0, 3.0]), 0.1)
        tensor([-0.2,  3. ])
    """
    input = _floating(input, "leaky_relu")
    return LeakyReLU.apply(input, _number(negative_slope, "leaky_relu", "negative_slope"))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    r"""Parametric ReLU: :math:`a = h` for :math:`h > 0`, :math:`a = α_c h` otherwise, with a
    learnable slope :math:`α_c` per channel (axis 1) or one shared slope.

    :math:`\partial a/\partial h = 1` or :math:`α_c`; :math:`\partial a/\partial α_c = h` where
    :math:`h \le 0`, summed over the batch and spatial positions of channel c.

    Raises:
        ValueError: ``weight`` has more than one element and does not match the channel axis.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.prelu(cr.tensor([[-1.0, 2.0]]), cr.tensor([0.25]))
        tensor([[-0.25,  2.  ]])
    """
    input = _floating(input, "prelu")
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu: weight must be a Tensor, got {type(weight).__name__}")
    n = weight.data.size
    if n != 1:
        channels = input.shape[1] if input.ndim >= 2 else 1  # PyTorch: no channel axis in 1-d
        if weight.ndim != 1 or channels != n:
            raise ValueError(
                f"prelu: weight of shape {tuple(weight.shape)} has {n} slopes but the input of "
                f"shape {tuple(input.shape)} has {channels} channel(s) (axis 1); expected "
                f"num_parameters == 1 or == the number of channels"
            )
    return PReLU.apply(input, weight)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    r"""Exponential linear unit: :math:`a = h` for :math:`h > 0`, :math:`α(e^h - 1)` otherwise.

    :math:`\partial a/\partial h = 1` for :math:`h > 0`, :math:`α e^h = a + α` otherwise. Smooth
    for α = 1, saturating at :math:`-α` for very negative inputs.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.elu(cr.tensor([0.0, 1.0]))
        tensor([0., 1.])
    """
    input = _floating(input, "elu")
    return ELU.apply(input, _number(alpha, "elu", "alpha"), 1.0, 1.0)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    r"""Continuously differentiable ELU: :math:`a = \max(0,h) + \min(0, α(e^{h/α} - 1))`;
    :math:`\partial a/\partial h = e^{h/α}` for :math:`h \le 0`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.celu(cr.tensor([2.0]), alpha=2.0)
        tensor([2.])
    """
    input = _floating(input, "celu")
    alpha = _number(alpha, "celu", "alpha")
    if alpha == 0:
        raise ValueError("celu: alpha must be non-zero (the exponent is h / alpha)")
    return ELU.apply(input, alpha, 1.0, 1.0 / alpha)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    r"""Scaled ELU: :math:`a = λ h` for :math:`h > 0`, :math:`λ α (e^h - 1)` otherwise, with
    :math:`λ ≈ 1.0507`, :math:`α ≈ 1.6733` chosen so activations self-normalise (mean 0,
    variance 1) with LeCun-normal weights. :math:`\partial a/\partial h = λ` or :math:`a + λα`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.selu(cr.tensor([1.0]))
        tensor([1.0507])
    """
    input = _floating(input, "selu")
    return ELU.apply(input, SELU_ALPHA, SELU_SCALE, 1.0)


def swish(input: Tensor, beta: float | Tensor = 1.0) -> Tensor:
    r"""Swish: :math:`a = h\,σ(βh)` (notes 002's table).

    :math:`\partial a/\partial h = βa + σ(βh)(1 - βa)` (the notes' formula) and
    :math:`\partial a/\partial β = h^2 σ(βh)(1 - σ(βh))`. ``beta`` is a number or a tensor
    (learnable, broadcast against the input). β = 1 is SiLU; as β → ∞ swish tends to ReLU.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.swish(cr.tensor([0.0, 2.0]), beta=1.0)
        tensor([0.    , 1.7616])
    """
    input = _floating(input, "swish")
    if isinstance(beta, Tensor):
        if beta.data.dtype != input.data.dtype:
            raise TypeError(
                f"swish: beta has dtype {beta.data.dtype} but the input has dtype "
                f"{input.data.dtype}; convert one of them"
            )
        return Swish.apply(input, beta)
    beta = _number(beta, "swish", "beta")
    return Swish.apply(input, input.data.dtype.type(beta) if beta != 1 else 1)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    r"""Sigmoid linear unit :math:`a = h\,σ(h)` (swish with β = 1);
    :math:`\partial a/\partial h = σ(h)(1 + h(1 - σ(h)))`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.silu(cr.tensor([-1e4, 0.0, 1e4]))
        tensor([   -0.,     0., 10000.])
    """
    return Swish.apply(_floating(input, "silu"), 1)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    r"""Softplus, a smooth ReLU: :math:`a = \frac1β \ln(1 + e^{βh})`, and :math:`a = h` where
    :math:`βh >` ``threshold`` (PyTorch's rule, where the two agree to float precision).

    :math:`\partial a/\partial h = σ(βh)` (the notes: :math:`1/(1+e^{-h})` for β = 1). Stable:
    ``softplus([1e4, -1e4]) = [1e4, 0]`` with no floating-point exception.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.softplus(cr.tensor([1e4, -1e4, 0.0]))
        tensor([1.0000e+04, 0.0000e+00, 6.9315e-01])
    """
    input = _floating(input, "softplus")
    beta = _number(beta, "softplus", "beta")
    if beta == 0:
        raise ValueError("softplus: beta must be non-zero")
    return Softplus.apply(input, beta, _number(threshold, "softplus", "threshold"))


def log_sigmoid(input: Tensor) -> Tensor:
    r"""Log-sigmoid :math:`a = \ln σ(h) = -\ln(1 + e^{-h})`;
    :math:`\partial a/\partial h = 1 - σ(h)`.

    Stable: ``log_sigmoid([1e4, -1e4]) = [0, -1e4]`` with no floating-point exception.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.log_sigmoid(cr.tensor([1e4, -1e4]))
        tensor([     0., -10000.])
    """
    return LogSigmoid.apply(_floating(input, "log_sigmoid"))


logsigmoid = log_sigmoid  # PyTorch's spelling


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    r"""Hard tanh :math:`a = \min(\max(h, lo), hi)`; :math:`\partial a/\partial h = 1` strictly
    inside ``(min_val, max_val)``, 0 outside and at the bounds (PyTorch's convention).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.hardtanh(cr.tensor([-3.0, 0.5, 3.0]))
        tensor([-1. ,  0.5,  1. ])
    """
    input = _floating(input, "hardtanh")
    lo = _number(min_val, "hardtanh", "min_val")
    hi = _number(max_val, "hardtanh", "max_val")
    if lo > hi:
        raise ValueError(f"hardtanh: min_val ({lo}) must not exceed max_val ({hi})")
    return Hardtanh.apply(input, lo, hi)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    r"""ReLU capped at 6: :math:`a = \min(\max(0, h), 6)` (``hardtanh(h, 0, 6)``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.relu6(cr.tensor([-1.0, 7.0]))
        tensor([0., 6.])
    """
    return hardtanh(input, 0.0, 6.0)


def softsign(input: Tensor) -> Tensor:
    r"""Softsign :math:`a = h / (1 + |h|)`, range (−1, 1);
    :math:`\partial a/\partial h = 1/(1 + |h|)^2`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.softsign(cr.tensor([1.0, -3.0]))
        tensor([ 0.5 , -0.75])
    """
    return Softsign.apply(_floating(input, "softsign"))


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    r"""PyTorch's threshold: :math:`a = h` if :math:`h > θ` else ``value``;
    :math:`\partial a/\partial h = 1` if :math:`h > θ` else 0.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.threshold(cr.tensor([0.5, 2.0]), 1.0, -1.0)
        tensor([-1.,  2.])
    """
    input = _floating(input, "threshold")
    th = _number(threshold, "threshold", "threshold")
    return Threshold.apply(input, th, _number(value, "threshold", "value"))


def step(input: Tensor, theta: float = 0.0) -> Tensor:
    r"""The McCulloch-Pitts activation (notes 002): the neuron fires, :math:`y = 1`, if its
    summed input :math:`h > θ`, else :math:`y = 0`.

    It has no gradient (zero almost everywhere, undefined at θ): backward gives zeros. The
    output has the input's floating dtype.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.step(cr.tensor([-0.5, 0.0, 0.5]))
        tensor([0., 0., 1.])
    """
    input = _floating(input, "step")
    return Step.apply(input, _number(theta, "step", "theta"))


def _number(v: Any, op: str, name: str) -> float:
    """A float hyper-parameter, with a clear error for anything else."""
    if isinstance(v, Tensor) and v.data.size == 1:
        return float(v.data)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        if not (hasattr(v, "dtype") and getattr(v, "shape", None) == ()):  # NumPy scalars
            raise TypeError(f"{op}: {name} must be a number, got {type(v).__name__}")
    return float(v)
