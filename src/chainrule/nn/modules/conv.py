r"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d``, and
``conv_output_shape`` (the convolution arithmetic of Dumoulin & Visin, arXiv 1603.07285).

Parameters, names, shapes and the default initialisation are PyTorch's, so a PyTorch
``state_dict`` loads as is: ``weight`` is (out_channels, in_channels/groups, kH, kW) for a
convolution and (in_channels, out_channels/groups, kH, kW) for a transposed one, initialised
Kaiming-uniform with :math:`a=\sqrt5`, and ``bias`` is :math:`U(-1/\sqrt{fan_{in}},
1/\sqrt{fan_{in}})`.
"""

from __future__ import annotations

import math
from typing import Any, cast

from chainrule import dtypes
from chainrule.creation import zeros
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops._im2col import PADDING_MODES, PADDING_STRINGS, conv_output_shape, tuple_arg
from chainrule.ops.conv import _convnd, check_input_channels, check_input_rank
from chainrule.ops.conv_transpose import _conv_transposend
from chainrule.tensor import Tensor

__all__ = [
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "conv_output_shape",
]


class _ConvNd(Module):
    weight: Parameter
    bias: Parameter | None
    _nd = 2
    _transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
        bias: bool,
        padding_mode: str,
        output_padding: Any = 0,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        nd = self._nd
        for arg, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{name}: {arg} must be a positive int, got {v!r}")
        if not isinstance(groups, int) or isinstance(groups, bool) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups")
        if padding_mode not in PADDING_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of "
                f"{', '.join(repr(m) for m in PADDING_MODES)}, got {padding_mode!r}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = tuple_arg(kernel_size, nd, "kernel_size", name)
        self.stride = tuple_arg(stride, nd, "stride", name)
        self.dilation = tuple_arg(dilation, nd, "dilation", name)
        if isinstance(padding, str):
            if self._transposed:
                raise ValueError(f"{name}: padding must be an int or a tuple, got {padding!r}")
            if padding.lower() not in PADDING_STRINGS:
                raise ValueError(
                    f"{name}: invalid padding string {padding!r}; expected one of "
                    f"{', '.join(repr(p) for p in PADDING_STRINGS)}, an int or a tuple"
                )
            self.padding: Any = padding.lower()
        else:
            self.padding = tuple_arg(padding, nd, "padding", name, minimum=0)
        self.output_padding = tuple_arg(output_padding, nd, "output_padding", name, minimum=0)
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = self._transposed
        d = dtypes.resolve_dtype(dtype) if dtype is not None else None
        if self._transposed:
            wshape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            wshape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(zeros(*wshape, dtype=d))
        if bias:
            self.bias = Parameter(zeros(out_channels, dtype=d))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: Kaiming-uniform weight (a = sqrt 5), uniform bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _check_input(self, input: Tensor) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()} expects a Tensor, got {type(input).__name__}")
        check_input_rank(input.data, self._nd, self._describe())
        check_input_channels(input.data, self.in_channels, self._describe(), " (in_channels)")

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        s += f", stride={self.stride}"
        if self.padding != (0,) * self._nd:
            s += (
                f", padding={self.padding!r}"
                if isinstance(self.padding, str)
                else (f", padding={self.padding}")
            )
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    r"""2-D convolution layer over an NCHW batch (``torch.nn.Conv2d``): learnable filters slid
    over the image, the same weights at every position (notes 003, "parameter sharing").

    :math:`y_{n,o} = b_o + \sum_c W_{o,c} \star x_{n,c}` (cross-correlation), computed as one
    im2col matrix product for the whole batch (:mod:`chainrule.ops.conv`).

    Args:
        in_channels, out_channels: channel counts.
        kernel_size, stride, dilation: an int or a pair.
        padding: an int, a pair, or ``'valid'``, ``'same'`` (``ceil(H/stride)`` outputs, for
            every stride), ``'full'`` (the notes' three convolution types).
        groups: independent channel groups (``groups=in_channels``: depthwise).
        bias: learn a bias per output channel.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        dtype: parameter dtype (float32 by default).

    Raises:
        ValueError: on bad arguments, and in ``forward`` for an input that is not NCHW rank 4
            or has the wrong channel count (the message names the layer, the expected and the
            received channels).

    Example:
        >>> import chainrule as cr
        >>> conv = cr.nn.Conv2d(1, 6, 5, padding=2)
        >>> conv(cr.zeros(8, 1, 28, 28)).shape
        (8, 6, 28, 28)
        >>> conv.weight.shape
        (6, 1, 5, 5)
    """

    _nd = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = 0,
        dilation: int | tuple[int, ...] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            dtype=dtype,
        )

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        return _convnd(
            self._nd,
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.padding_mode,
            self._describe(),
        )


class Conv1d(Conv2d):
    r"""1-D convolution layer over an (N, C, L) batch (``torch.nn.Conv1d``); arguments as
    :class:`Conv2d` with ints for the one spatial axis.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Conv1d(4, 8, 3, padding="same")(cr.zeros(2, 4, 10)).shape
        (2, 8, 10)
    """

    _nd = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        dilation: int | tuple[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )


class ConvTranspose2d(_ConvNd):
    r"""2-D transposed convolution (``torch.nn.ConvTranspose2d``): the adjoint of a
    convolution, used to upsample (each input cell scatters a scaled copy of the kernel).

    Output size :math:`(H-1)s - 2p + d(k-1) + p_{out} + 1` (see :func:`conv_output_shape`).
    ``weight`` is (in_channels, out_channels/groups, kH, kW), as in PyTorch.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, output_padding, groups,
        bias, dilation: as ``torch.nn.ConvTranspose2d`` (same order). Only zero padding.

    Example:
        >>> import chainrule as cr
        >>> up = cr.nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        >>> up(cr.zeros(2, 16, 7, 7)).shape
        (2, 8, 14, 14)
    """

    _nd = 2
    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(
                f'Only "zeros" padding mode is supported for {type(self).__name__}, got '
                f"{padding_mode!r}"
            )
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            output_padding,
            dtype=dtype,
        )

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        """``output_size`` (optional): the spatial size wanted, which picks
        ``output_padding`` among the sizes this stride allows (as PyTorch)."""
        self._check_input(input)
        op = self.output_padding
        if output_size is not None:
            op = self._output_padding_for(input, output_size)
        return _conv_transposend(
            self._nd,
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            op,
            self.groups,
            self.dilation,
            self._describe(),
        )

    def _output_padding_for(self, input: Tensor, output_size: Any) -> tuple[int, ...]:
        nd = self._nd
        size = tuple(int(v) for v in output_size)[-nd:]
        if len(size) != nd:
            raise ValueError(
                f"{self._describe()}: output_size must have {nd} spatial sizes, got {output_size!r}"
            )
        out = []
        for i, want in enumerate(size):
            lo = cast(  # one axis in, one size out
                int,
                conv_output_shape(
                    input.shape[2 + i],
                    self.kernel_size[i],
                    self.stride[i],
                    self.padding[i],
                    self.dilation[i],
                    transposed=True,
                ),
            )
            hi = lo + max(self.stride[i], self.dilation[i]) - 1
            if not lo <= want <= hi:
                raise ValueError(
                    f"{self._describe()}: requested output size {size} is not reachable; "
                    f"axis {i} allows sizes {lo} to {hi}"
                )
            out.append(want - lo)
        return tuple(out)


class ConvTranspose1d(ConvTranspose2d):
    r"""1-D transposed convolution over (N, C, L) (``torch.nn.ConvTranspose1d``).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ConvTranspose1d(4, 2, 3, stride=2)(cr.zeros(1, 4, 5)).shape
        (1, 2, 11)
    """

    _nd = 1
