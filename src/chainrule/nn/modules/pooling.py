r"""Pooling layers (``torch.nn`` names and arguments): max, average, power-average (Lp) and
adaptive pooling, 1-D and 2-D. No parameters; the functions in
:mod:`chainrule.ops.pooling` do the work."""

from __future__ import annotations

from typing import Any

from chainrule.nn.module import Module
from chainrule.ops._im2col import tuple_arg
from chainrule.ops.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    lp_pool1d,
    lp_pool2d,
    max_pool1d,
    max_pool2d,
)
from chainrule.tensor import Tensor

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "LPPool1d",
    "LPPool2d",
    "MaxPool1d",
    "MaxPool2d",
]


def _check(
    nd: int, name: str, kernel_size: Any, stride: Any, padding: Any = 0, dilation: Any = 1
) -> None:
    tuple_arg(kernel_size, nd, "kernel_size", name)
    if stride is not None:
        tuple_arg(stride, nd, "stride", name)
    tuple_arg(padding, nd, "padding", name, minimum=0)
    tuple_arg(dilation, nd, "dilation", name)


class MaxPool2d(Module):
    r"""2-D max pooling (``torch.nn.MaxPool2d``): the largest value of each window,
    :math:`y = \max_{r \in R} x_r`; the gradient flows to that (first) maximum only.

    Args:
        kernel_size: window size.
        stride: window step (default: ``kernel_size``).
        padding: implicit :math:`-\infty` padding (at most half the window).
        dilation: spacing between window elements.
        return_indices: also return the flat argmax indices.
        ceil_mode: round the output size up.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.MaxPool2d(2)(cr.zeros(8, 6, 28, 28)).shape
        (8, 6, 14, 14)
    """

    _nd = 2
    _fn = staticmethod(max_pool2d)

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        _check(self._nd, type(self).__name__, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Any:
        return self._fn(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(MaxPool2d):
    r"""1-D max pooling over (N, C, L) (``torch.nn.MaxPool1d``); see :class:`MaxPool2d`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.MaxPool1d(3, stride=2)(cr.zeros(2, 4, 9)).shape
        (2, 4, 4)
    """

    _nd = 1
    _fn = staticmethod(max_pool1d)


class AvgPool2d(Module):
    r"""2-D average pooling (``torch.nn.AvgPool2d``): :math:`y = \frac1{|R|}\sum_{r\in R}
    x_r`, with zero padding counted in :math:`|R|` or not (``count_include_pad``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AvgPool2d(3, stride=2, padding=1)(cr.zeros(1, 2, 7, 7)).shape
        (1, 2, 4, 4)
    """

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        _check(2, "AvgPool2d", kernel_size, stride, padding)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    r"""1-D average pooling over (N, C, L) (``torch.nn.AvgPool1d``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AvgPool1d(2)(cr.zeros(2, 4, 9)).shape
        (2, 4, 4)
    """

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        _check(1, "AvgPool1d", kernel_size, stride, padding)
        # stored as 1-tuples, as torch.nn.AvgPool1d does
        self.kernel_size = tuple_arg(kernel_size, 1, "kernel_size", "AvgPool1d")
        self.stride = tuple_arg(
            stride if stride is not None else kernel_size, 1, "stride", "AvgPool1d"
        )
        self.padding = tuple_arg(padding, 1, "padding", "AvgPool1d", minimum=0)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class LPPool2d(Module):
    r"""2-D power-average pooling (``torch.nn.LPPool2d``):
    :math:`y = (\sum_{r\in R} x_r^p)^{1/p}`; ``norm_type=2`` is the notes' L2 pooling.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.LPPool2d(2, 2)(cr.ones(1, 1, 4, 4))
        tensor([[[[2., 2.],
                  [2., 2.]]]])
    """

    _fn = staticmethod(lp_pool2d)
    _nd = 2

    def __init__(
        self, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
    ) -> None:
        super().__init__()
        _check(self._nd, type(self).__name__, kernel_size, stride)
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (
            f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, ceil_mode={self.ceil_mode}"
        )


class LPPool1d(LPPool2d):
    r"""1-D power-average pooling (``torch.nn.LPPool1d``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.LPPool1d(2, 2)(cr.full((1, 1, 4), 3.0)).shape
        (1, 1, 2)
    """

    _fn = staticmethod(lp_pool1d)
    _nd = 1


class AdaptiveAvgPool2d(Module):
    r"""Average pooling to a fixed output size (``torch.nn.AdaptiveAvgPool2d``);
    ``AdaptiveAvgPool2d(1)`` is global average pooling.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AdaptiveAvgPool2d((1, 1))(cr.zeros(4, 64, 7, 7)).shape
        (4, 64, 1, 1)
    """

    _fn = staticmethod(adaptive_avg_pool2d)

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    r"""1-D adaptive average pooling (``torch.nn.AdaptiveAvgPool1d``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AdaptiveAvgPool1d(3)(cr.zeros(2, 4, 10)).shape
        (2, 4, 3)
    """

    _fn = staticmethod(adaptive_avg_pool1d)


class AdaptiveMaxPool2d(Module):
    r"""Max pooling to a fixed output size (``torch.nn.AdaptiveMaxPool2d``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AdaptiveMaxPool2d(2)(cr.zeros(1, 3, 5, 7)).shape
        (1, 3, 2, 2)
    """

    _fn = staticmethod(adaptive_max_pool2d)

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return self._fn(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    r"""1-D adaptive max pooling (``torch.nn.AdaptiveMaxPool1d``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AdaptiveMaxPool1d(2)(cr.zeros(1, 3, 5)).shape
        (1, 3, 2)
    """

    _fn = staticmethod(adaptive_max_pool1d)
