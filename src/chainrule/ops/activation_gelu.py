r"""GELU and the error function it needs.

:math:`\mathrm{GELU}(h) = h\,Φ(h)`, with :math:`Φ(h) = \tfrac12 (1 + \mathrm{erf}(h/\sqrt2))` the
standard normal CDF: the input weighted by the probability that a standard normal falls below
it. NumPy has no ``erf``, so it is written here:

Note [erf by Chebyshev interpolation]
    For :math:`|z| \le 2`, :math:`\mathrm{erf}(z)/z` is a smooth function of :math:`t = z^2`
    and is interpolated at 21 Chebyshev points of :math:`[0, 4]`. For :math:`|z| > 2`,
    :math:`\mathrm{erfc}(z) = e^{-z^2} u\,s(u)` with :math:`u = 1/|z| \in (0, 1/2)` and
    :math:`s` smooth (:math:`s(0) = 1/\sqrt\pi`), interpolated at 25 points. The values at
    the nodes come from :func:`math.erf` / :func:`math.erfc` (and the asymptotic series of
    erfc beyond :math:`z = 25`), once, at import; evaluation is Clenshaw's recurrence on whole
    arrays. :math:`e^{-z^2}` is split as :math:`e^{-z_r^2} e^{-(z-z_r)(z+z_r)}` with
    :math:`z_r` rounded to 1/16 so the large exponent loses no digits. Agreement with
    ``math.erf``/``erfc``: ~2e-15 relative (tests/test_activations.py checks 1e-13). The lower
    tail of Φ uses erfc directly, so :math:`Φ(-30) ≈ 5e-198` keeps its relative accuracy
    (``1 + erf`` would round it to 0).
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import errstate, get_array_module
from chainrule.ops.elementwise import _floating
from chainrule.tensor import Tensor

__all__ = ["erf", "gelu"]

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_C = 0.044715


def _cheb_coeffs(f: Any, n: int) -> list[float]:
    """Coefficients c_j of the degree n−1 interpolant Σ c_j T_j(s) of f on [−1, 1] at the
    Chebyshev points (c_0 already halved)."""
    nodes = [math.cos(math.pi * (k + 0.5) / n) for k in range(n)]
    vals = [f(s) for s in nodes]
    c = [
        2.0 / n * sum(v * math.cos(math.pi * j * (k + 0.5) / n) for k, v in enumerate(vals))
        for j in range(n)
    ]
    c[0] /= 2
    return c


def _erf_over_z(s: float) -> float:  # s in [-1, 1] -> t = z^2 in [0, 4]
    z = math.sqrt(2.0 * (s + 1.0))
    return math.erf(z) / z if z > 0 else 2.0 / math.sqrt(math.pi)


def _erfc_scaled(s: float) -> float:  # s in [-1, 1] -> u = 1/z in [0, 1/2]; erfc(z) e^{z^2} / u
    u = (s + 1.0) / 4.0
    if u == 0:
        return 1.0 / math.sqrt(math.pi)
    z = 1.0 / u
    if z <= 25.0:
        return math.erfc(z) * math.exp(z * z) / u
    total, term = 0.0, 1.0  # asymptotic series 1/√π Σ (−1)^n (2n−1)!! / (2z²)^n
    for n in range(12):
        total += term
        term *= -(2 * n + 1) * u * u / 2
    return total / math.sqrt(math.pi)


_C_SMALL = _cheb_coeffs(_erf_over_z, 21)
_C_LARGE = _cheb_coeffs(_erfc_scaled, 25)


def _clenshaw(coeffs: list[float], s: Any) -> Any:
    b1 = b2 = 0.0
    two_s = 2 * s
    for c in reversed(coeffs[1:]):
        b1, b2 = two_s * b1 - b2 + c, b1
    return s * b1 - b2 + coeffs[0]


def _exp_neg_sq(z: Any) -> Any:
    """e^{−z²} for z ≥ 0 without losing digits to the rounding of z²."""
    xp = get_array_module(z)
    zr = xp.floor(z * 16) / 16
    return xp.exp(-zr * zr) * xp.exp(-(z - zr) * (z + zr))


def _erfc_tail(a: Any) -> Any:
    """erfc(a) for a ≥ 2 (garbage but finite elsewhere, for use under ``where``)."""
    xp = get_array_module(a)
    a = xp.maximum(a, 2)
    u = 1 / a
    return _exp_neg_sq(a) * u * _clenshaw(_C_LARGE, 4 * u - 1)


def erf_array(z: Any) -> Any:
    """erf on an array (any float dtype, result in that dtype)."""
    xp = get_array_module(z)
    a = xp.abs(z)
    with errstate(under="ignore"):
        small = z * _clenshaw(_C_SMALL, xp.minimum(a * a, 4) / 2 - 1)
        large = xp.sign(z) * (1 - _erfc_tail(a))
    return xp.where(a <= 2, small, large).astype(z.dtype, copy=False)


def ndtr_array(x: Any) -> Any:
    """Φ(x), the standard normal CDF, accurate in both tails."""
    xp = get_array_module(x)
    z = x * x.dtype.type(_SQRT1_2)
    a = xp.abs(z)
    with errstate(under="ignore"):
        mid = 0.5 * (1 + z * _clenshaw(_C_SMALL, xp.minimum(a * a, 4) / 2 - 1))
        tail = 0.5 * _erfc_tail(a)
    return xp.where(a <= 2, mid, xp.where(z < 0, tail, 1 - tail)).astype(x.dtype, copy=False)


class Erf(Function):
    r"""y = erf(z) = (2/√π) ∫_0^z e^{−t²} dt;  ∂y/∂z = (2/√π) e^{−z²}."""

    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return erf_array(z)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        xp = get_array_module(z)
        with errstate(under="ignore"):
            return (g * (g.dtype.type(2 / math.sqrt(math.pi)) * xp.exp(-z * z)),)


class GELU(Function):
    r"""a = h Φ(h);  ∂a/∂h = Φ(h) + h φ(h), φ(h) = e^{−h²/2}/√(2π).

    With ``approximate='tanh'``: a = ½h(1 + tanh(k(h + 0.044715h³))), k = √(2/π);
    ∂a/∂h = ½(1 + T) + ½h(1 − T²) k (1 + 3·0.044715 h²), T the tanh."""

    @staticmethod
    def forward(ctx, x, approximate):
        xp = get_array_module(x)
        t = x.dtype.type
        ctx.approximate = approximate
        if approximate == "tanh":
            with errstate(over="ignore"):
                th = xp.tanh(t(_SQRT_2_OVER_PI) * (x + t(_GELU_TANH_C) * x * x * x))
            ctx.save_for_backward(x, th)
            return t(0.5) * x * (1 + th)
        cdf = ndtr_array(x)
        ctx.save_for_backward(x, cdf)
        return x * cdf

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved_tensors
        xp = get_array_module(x)
        t = x.dtype.type
        if ctx.approximate == "tanh":
            with errstate(over="ignore", invalid="ignore"):
                inner = t(_SQRT_2_OVER_PI) * (1 + t(3 * _GELU_TANH_C) * x * x)
                d = t(0.5) * (1 + s) + t(0.5) * x * (1 - s * s) * inner
            return g * xp.where(xp.abs(x) > 1e6, s > 0, d).astype(x.dtype, copy=False), None
        with errstate(under="ignore", over="ignore", invalid="ignore"):
            pdf = t(_INV_SQRT_2PI) * xp.exp(t(-0.5) * x * x)
            d = s + x * pdf
        return g * xp.where(xp.isfinite(d), d, s), None


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    r"""Gaussian error linear unit :math:`a = h\,Φ(h)`, Φ the standard normal CDF.

    :math:`\partial a/\partial h = Φ(h) + h φ(h)`. ``approximate='tanh'`` uses
    :math:`\tfrac12 h (1 + \tanh(\sqrt{2/π}(h + 0.044715 h^3)))`, as PyTorch. Φ is computed
    from a Chebyshev-interpolated erf (see Note [erf by Chebyshev interpolation] in this module).

    Raises:
        ValueError: ``approximate`` is neither ``'none'`` nor ``'tanh'``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.gelu(cr.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.1587,  0.    ,  0.8413])
    """
    input = _floating(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate)


def erf(input: Tensor) -> Tensor:
    r"""The error function :math:`\mathrm{erf}(z) = \frac{2}{\sqrt π}\int_0^z e^{-t^2}dt`;
    :math:`\partial/\partial z = \frac{2}{\sqrt π} e^{-z^2}`.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.ops.activation_gelu import erf
        >>> erf(cr.tensor([0.0, 1.0], dtype="float64"))
        tensor([0.    , 0.8427], dtype=float64)
    """
    return Erf.apply(_floating(input, "erf"))
