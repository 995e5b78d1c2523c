r"""Barron's general and adaptive robust loss ("A General and Adaptive Robust Loss Function",
CVPR 2019), for the notes' "Adaptive Loss" row (a loss that moves between L1- and L2-like
behaviour). The row's own formula, :math:`|x|^p/p` with :math:`p = 2 - 2/(1 + (x/c)^2)`, is a
different, simpler loss; the issue asks for Barron's, which is what is written here.

The general loss of a residual x with shape α and scale c > 0,

.. math:: ρ(x, α, c) = \frac{|α-2|}{α}\left(\left(\frac{(x/c)^2}{|α-2|} + 1\right)^{α/2} - 1\right),

is L2 (½(x/c)²) at α = 2, pseudo-Huber / smooth L1 at α = 1, Cauchy (log(½(x/c)² + 1)) at
α = 0, Geman-McClure at α = −2 and Welsch (1 − e^{−½(x/c)²}) as α → −∞. The lower α, the
less an outlier pulls.

Note [Computing ρ for every α]
    With :math:`z = (x/c)^2`, :math:`b = |α-2|` and :math:`L = \log(1 + z/b)`,
    :math:`ρ = b\,\tfrac{L}{2}\,E(αL/2)` with :math:`E(y) = (e^y - 1)/y` (a series near
    y = 0). That one expression is exact at α = 0 (E(0) = 1 gives the log loss) and needs no
    clamping of α, unlike the paper's code, which divides by max(|α|, ε). Only b is clamped
    at the dtype's ε, and α = 2 and α = ±∞ take their limits. Derivatives:
    :math:`∂ρ/∂z = ½ (1 + z/b)^{α/2-1}` and
    :math:`∂ρ/∂α = sρ/b + b\tfrac{L^2}{4}F(αL/2) - \tfrac{s}{2}(1+z/b)^{α/2}\,z/(b + z)`,
    with s = sign(α − 2) and :math:`F(y) = (y e^y - e^y + 1)/y^2` (a series near 0). At
    α = 2 the α-derivative is taken as 0 (it diverges like log|α − 2| there).

Note [The partition function]
    To *learn* α (and c) the loss must be a negative log-likelihood, or the optimiser simply
    picks the α and c that make ρ smallest. The density :math:`p(x|α,c) = e^{-ρ(x,α,c)} /
    (c\,Z(α))` is proper for α ≥ 0, with :math:`Z(α) = \int e^{-ρ(x,α,1)}\,dx`, so the loss is
    :math:`ρ + \log c + \log Z(α)`. Z has no closed form (except Z(0) = π√2, Z(1) = 2e K₁(1),
    Z(2) = √(2π)); here it is computed once, on first use, on a grid of α in [0, 8] (step 0.01,
    plus 40 points per decade clustered geometrically towards α = 0, where the heavy tails
    make log Z smooth but not analytic, and around α = 2, where log Z has a log|α − 2|
    slope), by the trapezoid rule in u = log|x| (x = e^u, u ∈ [−36, 48], step 0.1; the integrand is
    analytic in a strip of half-width π/2, so the rule converges geometrically: 1e-14 against
    the closed forms). ``d log Z/dα`` is integrated on the same nodes, and log Z is
    interpolated by a cubic Hermite spline through the values and slopes (the paper's
    reference code also interpolates a precomputed spline); the spline's derivative is the
    backward, so finite differences of the loss agree with its gradient exactly. Measured
    against direct quadrature between the knots: log Z within 3e-9, its slope within 1e-6
    (except within 1e-5 of α = 2, where the true slope diverges). Building the table takes
    ~0.3 s, once per process.
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import errstate, get_array_module, numpy
from chainrule.ops._broadcast import sum_to_shape
from chainrule.ops.loss_common import check_reduction, float_input, float_target, reduce
from chainrule.tensor import Tensor

__all__ = ["robust_log_partition", "robust_loss", "robust_loss_nll"]

ALPHA_MAX = 8.0  # the partition table covers α in [0, ALPHA_MAX]


def _series(y: Any, coeffs: tuple[float, ...]) -> Any:
    out = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        out = out * y + c
    return out


_E_COEFFS = tuple(1.0 / math.factorial(k + 1) for k in range(9))  # (e^y − 1)/y
_F_COEFFS = tuple((k - 1) / math.factorial(k) for k in range(2, 11))  # (y e^y − e^y + 1)/y²


def _expm1_over(y: Any) -> Any:
    xp = get_array_module(y)
    small = xp.abs(y) < 0.1
    ys = xp.where(small, 1.0, y)
    with errstate(over="ignore"):
        return xp.where(small, _series(y, _E_COEFFS), xp.expm1(ys) / ys)


def _f_fun(y: Any) -> Any:
    xp = get_array_module(y)
    small = xp.abs(y) < 0.1
    ys = xp.where(small, 1.0, y)
    with errstate(over="ignore", invalid="ignore"):
        direct = (ys * xp.exp(ys) - xp.expm1(ys)) / (ys * ys)
    return xp.where(small, _series(y, _F_COEFFS), direct)


def rho_parts(z: Any, alpha: Any, want_grads: bool = True) -> tuple[Any, Any, Any]:
    """ρ as a function of z = (x/c)², and ∂ρ/∂z and ∂ρ/∂α (arrays, broadcasting)."""
    xp = get_array_module(z)
    dt = z.dtype
    alpha = xp.asarray(alpha, dtype=dt)
    eps = dt.type(xp.finfo(dt).eps)
    ninf, pinf, two = alpha == -xp.inf, alpha == xp.inf, alpha == 2
    a = xp.where(ninf | pinf, dt.type(0), alpha)  # finite stand-in under the limits
    b = xp.maximum(xp.abs(a - 2), eps)
    with errstate(over="ignore", invalid="ignore"):
        L = xp.log1p(z / b)
        y = a * L / 2
        rho = b * (L / 2) * _expm1_over(y)
        rho = xp.where(two, z / 2, rho)
        rho = xp.where(ninf, -xp.expm1(-z / 2), rho)
        rho = xp.where(pinf, xp.expm1(z / 2), rho)
    if not want_grads:
        return rho, None, None
    with errstate(over="ignore", invalid="ignore", under="ignore"):
        u_pow = xp.exp((a / 2 - 1) * L)  # (1 + z/b)^{α/2 − 1}
        drho_dz = 0.5 * u_pow
        drho_dz = xp.where(ninf, 0.5 * xp.exp(-z / 2), drho_dz)
        drho_dz = xp.where(pinf, 0.5 * xp.exp(z / 2), drho_dz)
        s = xp.where(a >= 2, dt.type(1), dt.type(-1))
        p = u_pow * (1 + z / b)
        drho_da = s * rho / b + b * L * L / 4 * _f_fun(y) - s / 2 * p * z / (b + z)
        drho_da = xp.where(two | ninf | pinf, dt.type(0), drho_da)
    return rho, drho_dz, drho_da


class RobustRho(Function):
    r"""ρ(x, α, c) (see Note [Computing ρ for every α]), z = (x/c)²;
    ∂ρ/∂x = (2x/c²) ∂ρ/∂z,  ∂ρ/∂c = −(2z/c) ∂ρ/∂z,  ∂ρ/∂α as in the note."""

    @staticmethod
    def forward(ctx, x, alpha, scale):
        z = (x / scale) ** 2
        need = any(ctx.needs_input_grad)
        rho, dz, da = rho_parts(z, alpha, want_grads=need)
        if need:
            ctx.save_for_backward(x, z, dz, da, scale)
            ctx.shapes = (getattr(alpha, "shape", ()), getattr(scale, "shape", ()))
        return rho.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, z, dz, da, scale = ctx.saved_tensors
        a_shape, c_shape = ctx.shapes
        nx, na, nc = ctx.needs_input_grad
        gdz = g * dz
        gx = gdz * (2 * x / (scale * scale)) if nx else None
        gx = sum_to_shape(gx, x.shape) if gx is not None else None
        ga = sum_to_shape(g * da, a_shape) if na else None
        gc = sum_to_shape(gdz * (-2 * z / scale), c_shape) if nc else None
        return gx, ga, gc


# ---- the partition function ----
_TABLE: dict[str, Any] = {}


def _alpha_grid() -> Any:
    np = numpy
    uniform = np.round(np.arange(0, ALPHA_MAX + 1e-9, 0.01), 10)
    near = 10.0 ** np.arange(-7.0, 0.0, 0.025)
    grid = np.unique(np.concatenate([uniform, near, 2 - near, 2 + near]))
    return grid[grid != 2.0]  # log Z has an infinite slope at exactly 2: bracket it instead


def _build_table() -> tuple[Any, Any, Any]:
    np = numpy
    alphas = _alpha_grid()
    h = 0.1
    u = np.arange(-36.0, 48.0 + h / 2, h)
    x2 = np.exp(2 * u)[None, :]  # z = x² at x = e^u
    logz, dlogz = np.empty(alphas.size), np.empty(alphas.size)
    for lo in range(0, alphas.size, 128):  # blocks of α keep memory small
        a = alphas[lo : lo + 128, None]
        rho, _, da = rho_parts(x2 * np.ones_like(a), a * np.ones_like(x2))
        with np.errstate(under="ignore", over="ignore"):
            w = np.exp(-rho + u)  # e^{−ρ} dx with dx = e^u du
        # 2 ∫_0^∞ (both signs of x); the tail below e^{−36} adds ∫ e^u du = e^{−36}
        zint = 2 * (h * w.sum(axis=1) + math.exp(u[0]))
        dint = -2 * h * (w * da).sum(axis=1)
        logz[lo : lo + 128] = np.log(zint)
        dlogz[lo : lo + 128] = dint / zint
    return alphas, logz, dlogz


def _table() -> tuple[Any, Any, Any]:
    if "t" not in _TABLE:
        _TABLE["t"] = _build_table()
    return _TABLE["t"]


def log_partition_array(alpha: Any) -> tuple[Any, Any]:
    """log Z(α) and d log Z/dα by cubic Hermite interpolation of the table."""
    np = numpy
    knots, vals, slopes = _table()
    a = np.asarray(alpha, dtype=np.float64)
    i = np.clip(np.searchsorted(knots, a, side="right") - 1, 0, knots.size - 2)
    x0, x1 = knots[i], knots[i + 1]
    hh = x1 - x0
    t = (a - x0) / hh
    t2, t3 = t * t, t * t * t
    h00, h10, h01, h11 = 2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + t, -2 * t3 + 3 * t2, t3 - t2
    v = h00 * vals[i] + h10 * hh * slopes[i] + h01 * vals[i + 1] + h11 * hh * slopes[i + 1]
    d00, d10, d01, d11 = 6 * t2 - 6 * t, 3 * t2 - 4 * t + 1, -6 * t2 + 6 * t, 3 * t2 - 2 * t
    dv = (d00 * vals[i] + d01 * vals[i + 1]) / hh + d10 * slopes[i] + d11 * slopes[i + 1]
    return v, dv


class LogPartition(Function):
    r"""y = log Z(α) (Note [The partition function]);  ∂y/∂α = the spline's derivative."""

    @staticmethod
    def forward(ctx, alpha):
        xp = get_array_module(alpha)
        v, dv = log_partition_array(alpha)
        ctx.save_for_backward(xp.asarray(dv, dtype=alpha.dtype))
        return xp.asarray(v, dtype=alpha.dtype)

    @staticmethod
    def backward(ctx, g):
        (dv,) = ctx.saved_tensors
        return (g * dv,)


# ---- public functions ----
def _param(v: Any, like: Tensor, name: str, op: str) -> Tensor:
    if isinstance(v, Tensor):
        if v.data.dtype != like.data.dtype:
            raise TypeError(
                f"{op}: {name} has dtype {v.data.dtype} but the input has {like.data.dtype}"
            )
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{op}: {name} must be a number or a Tensor, got {type(v).__name__}")
    return Tensor(get_array_module(like.data).asarray(v, dtype=like.data.dtype))


def _residual(input: Any, target: Any, op: str) -> Tensor:
    x = float_input(input, op)
    if target is not None:
        x = x - float_target(x, target, op)
    return x


def robust_loss(
    input: Tensor,
    target: Tensor | None = None,
    alpha: float | Tensor = 1.0,
    scale: float | Tensor = 1.0,
    reduction: str = "mean",
) -> Tensor:
    r"""Barron's general robust loss :math:`ρ(x, α, c)` of the residual
    :math:`x` = ``input − target`` (or ``input`` itself when no target is given).

    ``alpha`` (any real, ±inf included) and ``scale`` (> 0) are numbers or tensors that
    broadcast against the residual; as tensors they get gradients. See the module docstring
    for the formula, its special cases and derivatives. Minimising ρ over α or c is
    meaningless (it prefers the smallest loss); to learn them use :func:`robust_loss_nll` or
    :class:`chainrule.nn.AdaptiveRobustLoss`.

    Raises:
        ValueError: a non-positive fixed scale or an unknown reduction.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([0.0, 1.0, 10.0], dtype="float64")
        >>> cr.nn.functional.robust_loss(x, alpha=2.0, reduction="none")  # ½x²
        tensor([ 0. ,  0.5, 50. ], dtype=float64)
        >>> cr.nn.functional.robust_loss(x, alpha=0.0, reduction="none")  # log(½x² + 1)
        tensor([0.    , 0.4055, 3.9318], dtype=float64)
    """
    op = "robust_loss"
    check_reduction(reduction, op)
    x = _residual(input, target, op)
    if not isinstance(scale, Tensor) and not scale > 0:
        raise ValueError(f"{op}: scale must be positive, got {scale}")
    a, c = _param(alpha, x, "alpha", op), _param(scale, x, "scale", op)
    return reduce(RobustRho.apply(x, a, c), reduction)


def robust_log_partition(alpha: Tensor) -> Tensor:
    r"""log Z(α) of the general robust loss's density, α in [0, 8] (Note [The partition
    function]); differentiable.

    Example:
        >>> import chainrule as cr, math
        >>> z = cr.nn.functional.robust_log_partition(cr.tensor([0.0, 2.0], dtype="float64"))
        >>> [round(v, 9) for v in z.tolist()], round(math.log(math.pi * 2**0.5), 9)
        ([1.491303476, 0.918938533], 1.491303476)
    """
    a = alpha if isinstance(alpha, Tensor) else Tensor(alpha)
    a = float_input(a, "robust_log_partition")
    data = a.data
    if data.size and not ((data >= 0) & (data <= ALPHA_MAX)).all():
        raise ValueError(
            f"robust_log_partition: alpha must be in [0, {ALPHA_MAX:g}] (the density is "
            f"improper for alpha < 0), got values in [{float(data.min())}, {float(data.max())}]"
        )
    return LogPartition.apply(a)


def robust_loss_nll(
    input: Tensor,
    target: Tensor | None = None,
    alpha: float | Tensor = 1.0,
    scale: float | Tensor = 1.0,
    reduction: str = "mean",
) -> Tensor:
    r"""The adaptive loss: the negative log-likelihood
    :math:`-\log p(x | α, c) = ρ(x, α, c) + \log c + \log Z(α)`, for learning α ∈ [0, 8]
    and c > 0 (Note [The partition function]).

    Example:
        >>> import chainrule as cr, math
        >>> x = cr.tensor([0.0], dtype="float64")
        >>> v = cr.nn.functional.robust_loss_nll(x, alpha=2.0, scale=1.0)
        >>> abs(v.item() - 0.5 * math.log(2 * math.pi)) < 1e-12  # a standard normal's NLL at 0
        True
    """
    op = "robust_loss_nll"
    check_reduction(reduction, op)
    x = _residual(input, target, op)
    if not isinstance(scale, Tensor) and not scale > 0:
        raise ValueError(f"{op}: scale must be positive, got {scale}")
    a, c = _param(alpha, x, "alpha", op), _param(scale, x, "scale", op)
    rho = RobustRho.apply(x, a, c)
    return reduce(rho + c.log() + robust_log_partition(a), reduction)
