r"""Dropout layers: ``Dropout``, ``Dropout1d``, ``Dropout2d`` (inverted dropout, active only in
training mode; see :mod:`chainrule.ops.dropout`)."""

from __future__ import annotations

from chainrule.nn.module import Module
from chainrule.ops.dropout import dropout, dropout1d, dropout2d
from chainrule.random import Generator
from chainrule.tensor import Tensor

__all__ = ["Dropout", "Dropout1d", "Dropout2d"]


class Dropout(Module):
    r"""Zero each element with probability ``p`` in training and scale the rest by
    :math:`1/(1-p)` (``torch.nn.Dropout``); the identity in eval.

    Args:
        p: drop probability, in [0, 1].
        inplace: accepted for PyTorch compatibility (the result is always a new tensor).
        generator: draw masks from this generator (default: chainrule's default generator,
            seeded by ``chainrule.manual_seed``).

    Example:
        >>> import chainrule as cr
        >>> drop = cr.nn.Dropout(0.5)
        >>> drop.eval()(cr.ones(4))
        tensor([1., 1., 1., 1.])
    """

    _fn = staticmethod(dropout)

    def __init__(
        self, p: float = 0.5, inplace: bool = False, generator: Generator | None = None
    ) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(
                f"{type(self).__name__}: dropout probability has to be between 0 and 1, "
                f"but got {p!r}"
            )
        self.p = p
        self.inplace = inplace
        self.generator = generator

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.p, self.training, self.inplace, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    r"""Zero whole channels of an (N, C, H, W) input with probability ``p``
    (``torch.nn.Dropout2d``); neighbouring pixels are correlated, so dropping single pixels
    barely regularises a convolution.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Dropout2d(0.2)(cr.ones(2, 3, 4, 4)).shape
        (2, 3, 4, 4)
    """

    _fn = staticmethod(dropout2d)


class Dropout1d(Dropout):
    r"""Zero whole channels of an (N, C, L) input with probability ``p``
    (``torch.nn.Dropout1d``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Dropout1d(0.2)(cr.ones(2, 3, 4)).shape
        (2, 3, 4)
    """

    _fn = staticmethod(dropout1d)
