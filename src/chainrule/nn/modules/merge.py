r"""Merge layers: combine several tensors into one (Keras's ``Concatenate``, ``Add``, ...).

They are what joins the branches of a functional model (notes 001, functional pattern: "layers
have multiple i/p, o/p"), and work as ordinary modules too. Each takes its inputs as separate
arguments, ``Add()(a, b)``, or as one list, ``Add()([a, b])`` (Keras's form). The elementwise
merges want inputs of one shape (no silent broadcasting); ``Concatenate`` wants every dimension
but ``dim`` to agree. A wrong shape is an error naming the layer and every shape received.

Gradients are those of the underlying ops: for :math:`y = \sum_k x_k`, :math:`\partial C /
\partial x_k = \partial C / \partial y`; for :math:`y = \prod_k x_k`, :math:`\partial C /
\partial x_k = \partial C / \partial y \cdot \prod_{j \ne k} x_j`; concatenation splits the
upstream gradient back into the pieces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.nn.module import Module
from chainrule.ops.elementwise import maximum, minimum
from chainrule.ops.shape import cat
from chainrule.tensor import Tensor

__all__ = [
    "Add",
    "Average",
    "Concatenate",
    "Lambda",
    "Maximum",
    "Minimum",
    "Multiply",
    "Subtract",
]


def _gather(layer: str, inputs: tuple[Any, ...], least: int) -> list[Tensor]:
    """Accept ``layer(a, b)`` and ``layer([a, b])``; check there are enough tensors."""
    xs = (
        list(inputs[0])
        if len(inputs) == 1 and isinstance(inputs[0], (list, tuple))
        else list(inputs)
    )
    if len(xs) < least:
        raise ValueError(
            f"{layer} expects at least {least} input tensor{'s' if least > 1 else ''} "
            f"(as arguments or one list), got {len(xs)}"
        )
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{layer}: input {i} is a {type(x).__name__}, expected a Tensor")
    return xs


def _same_shape(layer: str, xs: list[Tensor]) -> None:
    shapes = [tuple(x.shape) for x in xs]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(
            f"{layer} expects inputs of one shape, got shapes {', '.join(map(str, shapes))}"
        )


class _Elementwise(Module):
    least = 2

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        if name is not None:
            self.name = name

    def combine(self, xs: list[Tensor]) -> Tensor:
        raise NotImplementedError

    def forward(self, *inputs: Any) -> Tensor:
        xs = _gather(type(self).__name__, inputs, self.least)
        _same_shape(type(self).__name__, xs)
        return self.combine(xs)


class Add(_Elementwise):
    r"""Sum of the inputs, :math:`y = \sum_k x_k` (a skip connection joins this way).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Add()(cr.ones(2, 3), cr.ones(2, 3)).sum().item()
        12.0
    """

    def combine(self, xs: list[Tensor]) -> Tensor:
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y


class Subtract(_Elementwise):
    r"""Difference of exactly two inputs, :math:`y = x_1 - x_2`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Subtract()([cr.ones(2), cr.zeros(2)]).tolist()
        [1.0, 1.0]
    """

    def forward(self, *inputs: Any) -> Tensor:
        xs = _gather("Subtract", inputs, 2)
        if len(xs) != 2:
            raise ValueError(f"Subtract expects exactly 2 input tensors, got {len(xs)}")
        _same_shape("Subtract", xs)
        return xs[0] - xs[1]


class Multiply(_Elementwise):
    r"""Elementwise product, :math:`y = \prod_k x_k` (e.g. a gate times a signal).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Multiply()(cr.full((2,), 3.0), cr.full((2,), 2.0)).tolist()
        [6.0, 6.0]
    """

    def combine(self, xs: list[Tensor]) -> Tensor:
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y


class Average(_Elementwise):
    r"""Mean of the inputs, :math:`y = \frac{1}{K}\sum_k x_k` (e.g. an ensemble of heads).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Average()(cr.zeros(2), cr.ones(2)).tolist()
        [0.5, 0.5]
    """

    def combine(self, xs: list[Tensor]) -> Tensor:
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y * (1.0 / len(xs))


class Maximum(_Elementwise):
    r"""Elementwise maximum, :math:`y = \max_k x_k` (the gradient is split at ties, as
    ``torch.maximum``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Maximum()(cr.tensor([1.0, 5.0]), cr.tensor([3.0, 2.0])).tolist()
        [3.0, 5.0]
    """

    def combine(self, xs: list[Tensor]) -> Tensor:
        y = xs[0]
        for x in xs[1:]:
            y = maximum(y, x)
        return y


class Minimum(_Elementwise):
    r"""Elementwise minimum, :math:`y = \min_k x_k`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Minimum()(cr.tensor([1.0, 5.0]), cr.tensor([3.0, 2.0])).tolist()
        [1.0, 2.0]
    """

    def combine(self, xs: list[Tensor]) -> Tensor:
        y = xs[0]
        for x in xs[1:]:
            y = minimum(y, x)
        return y


class Concatenate(Module):
    r"""Join the inputs along ``dim`` (``torch.cat``): feature vectors ``(N, F_k)`` give
    ``(N, \sum_k F_k)``; NCHW maps ``(N, C_k, H, W)`` give ``(N, \sum_k C_k, H, W)``.

    Args:
        dim: the axis to join along, counted with the batch axis; ``1`` (features or
            channels) by default. ``axis`` is accepted as Keras's spelling.
        name: an optional name (the layer's name in a functional model).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Concatenate(dim=1)([cr.zeros(4, 3), cr.zeros(4, 2)]).shape
        (4, 5)
    """

    def __init__(self, dim: int = 1, *, axis: int | None = None, name: str | None = None) -> None:
        super().__init__()
        if axis is not None:
            dim = axis
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"Concatenate: dim must be an int, got {dim!r}")
        self.dim = dim
        if name is not None:
            self.name = name

    def forward(self, *inputs: Any) -> Tensor:
        xs = _gather("Concatenate", inputs, 1)
        shapes = [tuple(x.shape) for x in xs]
        nd = len(shapes[0])
        if any(len(s) != nd for s in shapes) or not -nd <= self.dim < nd:
            raise ValueError(
                f"Concatenate(dim={self.dim}) expects inputs of one rank with dim in "
                f"[{-nd}, {nd - 1}], got shapes {', '.join(map(str, shapes))}"
            )
        d = self.dim % nd
        if any(s[:d] + s[d + 1 :] != shapes[0][:d] + shapes[0][d + 1 :] for s in shapes):
            raise ValueError(
                f"Concatenate(dim={self.dim}) expects inputs that agree on every dimension but "
                f"{self.dim}, got shapes {', '.join(map(str, shapes))}"
            )
        return cat(xs, d) if len(xs) > 1 else xs[0]

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Lambda(Module):
    """Wrap a function of tensors as a layer (Keras's ``Lambda``), e.g. to reshape, slice or
    combine branches with any differentiable chainrule expression. It has no parameters.

    Args:
        fn: called with the layer's arguments: ``Lambda(fn)(x)`` is ``fn(x)``,
            ``Lambda(fn)(a, b)`` is ``fn(a, b)`` and ``Lambda(fn)([a, b])`` is ``fn([a, b])``.
        name: an optional name (the layer's name in a functional model).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Lambda(lambda x: x * 2.0)(cr.ones(3)).tolist()
        [2.0, 2.0, 2.0]
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        super().__init__()
        if not callable(fn):
            raise TypeError(f"Lambda expects a callable, got {type(fn).__name__}")
        self.fn = fn
        if name is not None:
            self.name = name
        elif getattr(fn, "__name__", "<lambda>") != "<lambda>":
            self.name = fn.__name__

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def extra_repr(self) -> str:
        return getattr(self.fn, "__name__", type(self.fn).__name__)
