r"""Dropout: ``dropout``, ``dropout1d``, ``dropout2d`` (inverted dropout, as PyTorch).

Notes 002: dropout "randomly drops units during training to prevent overfitting". Each unit
(or, for ``dropout1d``/``dropout2d``, each whole channel) is kept with probability
:math:`1-p`; kept values are scaled by :math:`1/(1-p)` so the expected activation is
unchanged and evaluation needs no rescaling:

.. math::  y = x \odot \frac{m}{1-p}, \quad m_i \sim \mathrm{Bernoulli}(1-p), \qquad
           \frac{\partial C}{\partial x} = g \odot \frac{m}{1-p};

in eval (``training=False``) :math:`y = x`. Masks are drawn from
:data:`chainrule.random.default_generator` (seeded by :func:`chainrule.manual_seed`) or from
the ``generator`` argument, so a run is reproducible.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function
from chainrule.backend import get_array_module
from chainrule.random import Generator, default_generator
from chainrule.tensor import Tensor

__all__ = ["dropout", "dropout1d", "dropout2d"]


class Dropout(Function):
    r"""y = x ⊙ m/(1−p);  ∂C/∂x = g ⊙ m/(1−p)  (the scaled mask is the only saved array;
    it may broadcast over whole channels)."""

    @staticmethod
    def forward(ctx, x, scaled_mask):
        ctx.save_for_backward(scaled_mask)
        return x * scaled_mask

    @staticmethod
    def backward(ctx, g):
        (m,) = ctx.saved_tensors
        return g * m, None


def _dropout(
    input: Tensor, p: float, training: bool, mask_shape: Any, generator: Any, name: str
) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name} expects a Tensor, got {type(input).__name__}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p!r}")
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(
            f"{name}: generator must be a chainrule.random.Generator, got "
            f"{type(generator).__name__}"
        )
    x = input.data
    if not training or p == 0.0:
        return input
    if x.dtype.kind != "f":
        raise TypeError(f"{name} expected a floating input, got dtype {x.dtype}")
    if p == 1.0:  # every unit dropped: y = x * 0, as torch (the 1/(1-p) is never formed)
        return Dropout.apply(input, get_array_module(x).zeros(mask_shape, dtype=x.dtype))
    g = generator if generator is not None else default_generator
    r = g.random(mask_shape, dtype=x.dtype if x.dtype.itemsize >= 4 else "float32")
    # keep where r >= p (probability 1 - p); bool -> float and the scale in one pass
    scaled_mask = (r >= p).astype(x.dtype)
    scaled_mask *= x.dtype.type(1.0 / (1.0 - p))
    return Dropout.apply(input, scaled_mask)


def dropout(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    r"""Inverted dropout of each element (``torch.nn.functional.dropout``).

    Args:
        input: any shape.
        p: probability of dropping an element.
        training: apply dropout; when False the input is returned unchanged.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.
        generator: draw the mask from this generator instead of the default one.

    Example:
        >>> import chainrule as cr
        >>> y = cr.nn.functional.dropout(cr.ones(1000), p=0.25, generator=cr.random.Generator(0))
        >>> sorted(set(round(v, 4) for v in y.numpy().tolist()))
        [0.0, 1.3333]
        >>> cr.nn.functional.dropout(cr.ones(3), training=False)
        tensor([1., 1., 1.])
    """
    x = input.data if isinstance(input, Tensor) else None
    shape = None if x is None else x.shape
    return _dropout(input, p, training, shape, generator, "dropout")


def _channel_mask_shape(input: Tensor, nd: int, name: str) -> tuple[int, ...]:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name} expects a Tensor, got {type(input).__name__}")
    x = input.data
    if x.ndim not in (nd + 1, nd + 2):
        lay = "(N, C, L) or (C, L)" if nd == 1 else "(N, C, H, W) or (C, H, W)"
        raise ValueError(
            f"{name} expected a {nd + 1}-D or {nd + 2}-D input {lay}, got a "
            f"{x.ndim}-D input of shape {tuple(x.shape)}"
        )
    lead = x.ndim - nd
    return tuple(x.shape[:lead]) + (1,) * nd


def dropout2d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    r"""Channel dropout (``torch.nn.functional.dropout2d``): each (sample, channel) feature
    map of an (N, C, H, W) or (C, H, W) input is zeroed whole with probability ``p``; kept
    maps are scaled by :math:`1/(1-p)`.

    Example:
        >>> import chainrule as cr
        >>> g = cr.random.Generator(1)
        >>> y = cr.nn.functional.dropout2d(cr.ones(2, 8, 3, 3), 0.5, generator=g).numpy()
        >>> bool(((y == 0).all(axis=(2, 3)) | (y == 2).all(axis=(2, 3))).all())
        True
    """
    shape = _channel_mask_shape(input, 2, "dropout2d")
    return _dropout(input, p, training, shape, generator, "dropout2d")


def dropout1d(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    r"""Channel dropout for (N, C, L) or (C, L) inputs (``torch.nn.functional.dropout1d``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.dropout1d(cr.ones(2, 4, 5), 0.5).shape
        (2, 4, 5)
    """
    shape = _channel_mask_shape(input, 1, "dropout1d")
    return _dropout(input, p, training, shape, generator, "dropout1d")
