"""Small generated datasets for the notes' examples: logic gates, two spirals, a noisy sine.

Each returns ``(x, y)`` NumPy arrays (features float32, one row per sample), the way
scikit-learn's ``make_*`` helpers do; there is no separate test set (generate a second set
with another seed, or split with :func:`chainrule.data.train_test_split`). Random sets draw
from ``chainrule.Generator(seed)``; ``seed=None`` draws the seed from chainrule's default
generator (so ``chainrule.manual_seed`` fixes it).
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.data._util import check_int, derive_generator
from chainrule.random import Generator

__all__ = ["logic_gates", "make_regression", "noisy_sine", "two_spirals"]

_GATES = {
    "and": [0, 0, 0, 1],
    "or": [0, 1, 1, 1],
    "xor": [0, 1, 1, 0],
    "nand": [1, 1, 1, 0],
    "nor": [1, 0, 0, 0],
    "xnor": [1, 0, 0, 1],
}


def _rng(seed: int | None) -> Generator:
    return derive_generator() if seed is None else Generator(seed)


def _check_noise(noise: float, owner: str) -> float:
    if not isinstance(noise, (int, float)) or isinstance(noise, bool) or not noise >= 0:
        raise ValueError(f"{owner}: noise must be a number >= 0, got {noise!r}")
    return float(noise)


def logic_gates(kind: str = "xor") -> tuple[np.ndarray, np.ndarray]:
    """The truth table of a two-input logic gate (the perceptron / XOR examples).

    Args:
        kind: ``'and'``, ``'or'``, ``'xor'``, ``'nand'``, ``'nor'`` or ``'xnor'``.

    Returns:
        ``x`` float32 ``4 x 2`` (rows 00, 01, 10, 11) and ``y`` float32 ``4 x 1`` (0 or 1),
        ready for a sigmoid output and binary cross-entropy.

    Example:
        >>> x, y = logic_gates("xor")
        >>> y.ravel().tolist()
        [0.0, 1.0, 1.0, 0.0]
    """
    key = str(kind).lower()
    if key not in _GATES:
        raise ValueError(f"logic_gates: unknown gate {kind!r}; expected one of {sorted(_GATES)}")
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array(_GATES[key], dtype=np.float32).reshape(4, 1)
    return x, y


def two_spirals(
    n: int = 400, noise: float = 0.0, seed: int | None = 0, turns: float = 1.5
) -> tuple[np.ndarray, np.ndarray]:
    r"""Two interleaved spirals, a classic problem no linear model can solve.

    Class 0 points are :math:`r(\cos\theta, \sin\theta)` with :math:`\theta = 2\pi\,t\,u`,
    :math:`r = u`, :math:`u = \sqrt{U(0,1)}`; class 1 is the same spiral rotated by
    :math:`\pi`; Gaussian noise of std ``noise`` is added to both coordinates.

    Args:
        n: total number of points (``n // 2`` in class 0, the rest in class 1).
        noise: the noise's standard deviation.
        seed: the generator seed, or ``None`` to draw one from chainrule's default generator.
        turns: how many turns each spiral makes (``t`` above).

    Returns:
        ``x`` float32 ``n x 2`` (within about [-1, 1]) and ``y`` int64 ``n`` (0 or 1), in
        shuffled order.

    Example:
        >>> x, y = two_spirals(100, noise=0.05, seed=0)
        >>> x.shape, y.dtype, int(y.sum())
        ((100, 2), dtype('int64'), 50)
    """
    n = check_int(n, "n", "two_spirals", 2)
    noise = _check_noise(noise, "two_spirals")
    g = _rng(seed)
    u = np.sqrt(g.uniform((n,)))
    y = (np.arange(n) >= n // 2).astype(np.int64)
    theta = 2.0 * math.pi * turns * u + math.pi * y
    x = np.stack([u * np.cos(theta), u * np.sin(theta)], axis=1)
    if noise:
        x = x + g.normal((n, 2), 0.0, noise)
    perm = g.permutation(n)
    return x[perm].astype(np.float32), y[perm]


def noisy_sine(
    n: int = 100,
    noise: float = 0.1,
    seed: int | None = 0,
    low: float = -math.pi,
    high: float = math.pi,
) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`y = \sin(x) + \varepsilon`, :math:`x \sim U(\text{low}, \text{high})`,
    :math:`\varepsilon \sim N(0, \text{noise}^2)`: a one-dimensional regression example.

    Returns:
        ``x`` and ``y``, float32 ``n x 1`` each, sorted by ``x`` (handy for plotting).

    Example:
        >>> x, y = noisy_sine(50, noise=0.0, seed=0)
        >>> x.shape, bool(abs(y - np.sin(x)).max() < 1e-6)
        ((50, 1), True)
    """
    n = check_int(n, "n", "noisy_sine", 1)
    noise = _check_noise(noise, "noisy_sine")
    if not high > low:
        raise ValueError(f"noisy_sine: need low < high, got low={low}, high={high}")
    g = _rng(seed)
    x = np.sort(g.uniform((n,), low, high))
    y = np.sin(x) + (g.normal((n,), 0.0, noise) if noise else 0.0)
    return x.reshape(n, 1).astype(np.float32), y.reshape(n, 1).astype(np.float32)


def make_regression(
    n: int = 100,
    n_features: int = 1,
    noise: float = 0.1,
    seed: int | None = 0,
    bias: float = 0.0,
    coef: bool = False,
) -> tuple[np.ndarray, ...]:
    r"""A linear regression problem :math:`y = x w + b + \varepsilon`.

    ``x ~ N(0, 1)`` of shape ``n x n_features``, ``w ~ U(-2, 2)``, ``b = bias``,
    :math:`\varepsilon \sim N(0, \text{noise}^2)`.

    Returns:
        ``(x, y)`` float32 (``y`` is ``n x 1``), plus ``w`` (``n_features x 1``) with
        ``coef=True``.

    Example:
        >>> x, y, w = make_regression(200, 3, noise=0.0, seed=1, coef=True)
        >>> bool(np.allclose(x @ w, y, atol=1e-5))
        True
    """
    n = check_int(n, "n", "make_regression", 1)
    f = check_int(n_features, "n_features", "make_regression", 1)
    noise = _check_noise(noise, "make_regression")
    g = _rng(seed)
    x = g.normal((n, f))
    w = g.uniform((f, 1), -2.0, 2.0)
    y = x @ w + bias + (g.normal((n, 1), 0.0, noise) if noise else 0.0)
    out = (x.astype(np.float32), y.astype(np.float32))
    return (*out, w.astype(np.float32)) if coef else out
