r"""Fully connected layers: ``Linear`` (Keras's Dense), ``Identity``, ``Flatten``."""

from __future__ import annotations

import math
from typing import Any

from chainrule import dtypes
from chainrule.creation import zeros
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops.linalg import linear
from chainrule.ops.shape import flatten
from chainrule.tensor import Tensor

__all__ = ["Flatten", "Identity", "Linear"]


class Linear(Module):
    r"""Affine layer :math:`z = W a + b`, applied to a batch as :math:`y = x W^\top + b`.

    The notes' (002) :math:`z^m = W^m a^{m-1} + b^m` with :math:`W^m` of shape
    (out_features, in_features), PyTorch's layout, so a PyTorch ``state_dict`` loads as is.
    Initialised as PyTorch: :math:`W, b \sim U(-1/\sqrt{in}, 1/\sqrt{in})` (Kaiming-uniform
    with :math:`a = \sqrt 5`).

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias.
        dtype: parameter dtype (float32 by default).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Linear(784, 10).weight.shape
        (10, 784)
    """

    weight: Parameter
    bias: Parameter | None

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(
                f"Linear expects positive sizes, got in_features={in_features}, "
                f"out_features={out_features}"
            )
        self.in_features = in_features
        self.out_features = out_features
        d = dtypes.resolve_dtype(dtype) if dtype is not None else None
        self.weight = Parameter(zeros(out_features, in_features, dtype=d))
        if bias:
            self.bias = Parameter(zeros(out_features, dtype=d))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        x = input.data
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            hint = " Did you forget Flatten()?" if x.ndim > 2 else ""
            raise ValueError(
                f"Linear expected input with last dimension {self.in_features} (in_features), "
                f"got shape {tuple(x.shape)}.{hint}"
            )
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for a removed head)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Flatten(Module):
    """Flattens axes ``start_dim..end_dim`` (by default all but the batch axis).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Flatten()(cr.zeros(8, 16, 4, 4)).shape
        (8, 256)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
