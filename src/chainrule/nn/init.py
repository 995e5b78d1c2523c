r"""Weight initialisation (``torch.nn.init`` names, fans and gains).

Why it matters (notes 002, "Weight Initialization"): weights must differ to break symmetry,
and their scale decides whether activations and gradients keep their size through depth.
Xavier/Glorot keeps :math:`\mathrm{Var}(W) = 2/(n_{in} + n_{out})` (for tanh/sigmoid), He/Kaiming
keeps :math:`\mathrm{Var}(W) = 2/n_{in}` (for ReLU, which zeroes half its inputs), LeCun keeps
:math:`1/n_{in}` (for SELU).

For a weight of shape (out, in, k1, k2, ...): :math:`n_{in}` = in · k1 · k2 ⋯ and
:math:`n_{out}` = out · k1 · k2 ⋯ (PyTorch's ``_calculate_fan_in_and_fan_out``). All draws come
from a :class:`chainrule.Generator` (the default one unless ``generator=`` is given).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.random import Generator, default_generator
from chainrule.tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "lecun_normal_",
    "normal_",
    "ones_",
    "orthogonal_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (``torch.nn.init.calculate_gain``).

    Example:
        >>> round(calculate_gain("relu"), 4), calculate_gain("tanh")
        (1.4142, 1.6666666666666667)
    """
    linear_fns = (
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "sigmoid",
    )
    if nonlinearity in linear_fns:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if isinstance(param, bool) or not (param is None or isinstance(param, (int, float))):
            raise ValueError(f"negative_slope {param!r} not a valid number")
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{list(linear_fns) + ['tanh', 'relu', 'leaky_relu', 'selu']}"
    )


def _fans(t: Tensor, fn: str) -> tuple[int, int]:
    if t.ndim < 2:
        raise ValueError(
            f"{fn}: fan in and fan out can not be computed for a tensor with fewer than 2 "
            f"dimensions (shape {t.shape}); give it a weight of shape (out, in, ...)"
        )
    receptive = int(np.prod(t.shape[2:])) if t.ndim > 2 else 1
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fill(t: Tensor, values: Any) -> Tensor:
    t.data[...] = np.asarray(values, dtype=t.data.dtype)
    return t


def _g(generator: Generator | None) -> Generator:
    return generator if generator is not None else default_generator


def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None
) -> Tensor:
    r"""Fill with :math:`U(a, b)`.

    Raises:
        ValueError: ``a > b``.
    """
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    return _fill(tensor, _g(generator).uniform(tensor.shape, a, b))


def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None
) -> Tensor:
    r"""Fill with :math:`\mathcal N(\mathrm{mean}, \mathrm{std}^2)`.

    Raises:
        ValueError: ``std < 0``.
    """
    if not std >= 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    return _fill(tensor, _g(generator).normal(tensor.shape, mean, std))


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Generator | None = None,
) -> Tensor:
    r"""Fill with :math:`\mathcal N(\mathrm{mean}, \mathrm{std}^2)` truncated to ``[a, b]``.

    Rejection (redraw the entries outside) when ``[a, b]`` holds a fair share of the mass;
    otherwise (a tail interval, where redrawing could loop for ever) the inverse CDF:
    :math:`x = Φ^{-1}(u)`, :math:`u \sim U(Φ(α), Φ(β))`, solved by bisection.

    Raises:
        ValueError: ``a >= b`` or ``std <= 0``.
    """
    if not a < b:
        raise ValueError(f"trunc_normal_: the bounds must satisfy a < b, got a={a}, b={b}")
    if not std > 0:
        raise ValueError(f"trunc_normal_: std must be positive, got {std}")
    from chainrule.ops.activation_gelu import ndtr_array

    g = _g(generator)
    lo, hi = (a - mean) / std, (b - mean) / std
    flip = lo > 0  # work in the lower tail, where Φ keeps its relative accuracy
    if flip:
        lo, hi = -hi, -lo
    c_lo, c_hi = (float(v) for v in ndtr_array(np.array([lo, hi], dtype=np.float64)))
    if c_hi - c_lo > 0.25:
        out = g.normal(tensor.shape, 0.0, 1.0)
        bad = (out < lo) | (out > hi)
        while bad.any():  # vectorised redraw of the rejected entries (a few rounds)
            out[bad] = g.normal((int(bad.sum()),), 0.0, 1.0)
            bad = (out < lo) | (out > hi)
    else:
        u = g.uniform(tensor.shape, c_lo, c_hi)
        left = np.full(u.shape, max(lo, -40.0))
        right = np.full(u.shape, min(hi, 40.0))
        for _ in range(64):  # bisection: |right - left| shrinks to < 1e-16 of the interval
            mid = (left + right) / 2
            below = ndtr_array(mid) < u
            left = np.where(below, mid, left)
            right = np.where(below, right, mid)
        out = (left + right) / 2
    if flip:
        out = -out
    return _fill(tensor, np.clip(mean + std * out, a, b))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with a constant."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros (biases, and the last batch norm of a residual block).

    Example:
        >>> import chainrule as cr
        >>> zeros_(cr.nn.Linear(2, 2).bias).numpy()
        array([0., 0.], dtype=float32)
    """
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones (batch and layer norm scales)."""
    return _fill(tensor, 1)


def xavier_uniform_(
    tensor: Tensor, gain: float = 1.0, generator: Generator | None = None
) -> Tensor:
    r"""Glorot uniform: :math:`U(-a, a)`, :math:`a = \mathrm{gain}\sqrt{6/(n_{in}+n_{out})}`.

    Example:
        >>> import chainrule as cr
        >>> w = xavier_uniform_(cr.zeros(30, 20))  # a = sqrt(6 / 50) = 0.346
        >>> bool(abs(w.numpy()).max() <= (6 / 50) ** 0.5)
        True
    """
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    r"""Glorot normal: std :math:`= \mathrm{gain}\sqrt{2/(n_{in}+n_{out})}`."""
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, fn: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{fn}: mode {mode!r} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _fans(tensor, fn)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(
            f"{fn}: cannot initialise a tensor with zero elements (shape {tensor.shape})"
        )
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    r"""He uniform: :math:`U(-b, b)`, :math:`b = \mathrm{gain}\sqrt{3/\mathrm{fan}}`.

    Example:
        >>> import chainrule as cr
        >>> w = kaiming_uniform_(cr.zeros(64, 100), nonlinearity="relu")  # b = sqrt(6/100)
        >>> bool(abs(w.numpy()).max() <= (6 / 100) ** 0.5)
        True
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    r"""He normal: std :math:`= \mathrm{gain}/\sqrt{\mathrm{fan}}`."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return normal_(tensor, 0.0, std, generator)


def lecun_normal_(tensor: Tensor, generator: Generator | None = None) -> Tensor:
    r"""LeCun normal (Keras's ``lecun_normal``): a normal truncated at 2 std, scaled so the
    variance is :math:`1/n_{in}` (std :math:`\sqrt{1/n_{in}} / 0.8796`)."""
    fan_in, _ = _fans(tensor, "lecun_normal_")
    std = math.sqrt(1.0 / fan_in) / 0.87962566103423978
    return trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a normal matrix, as torch.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> q = orthogonal_(cr.zeros(3, 5, dtype="float64")).numpy()
        >>> bool(np.allclose(q @ q.T, np.eye(3)))
        True
    """
    if tensor.ndim < 2:
        raise ValueError(
            f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape "
            f"{tensor.shape}"
        )
    rows = tensor.shape[0]
    cols = tensor.data.size // rows
    flat = _g(generator).normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
