r"""The modular pattern (notes 001: "breaking down the model into reusable components"):
blocks as ``Module`` subclasses that bigger models stack, with nested parameter names
(``features.0.conv.weight``) that match the same structure written in PyTorch.

- :class:`ConvBlock`: convolution, batch norm, activation, max pool, dropout (the notes' CNN
  "feature extraction" stage: input -> feature maps -> pooling).
- :class:`ResidualBlock`: two 3x3 convolution + batch norm layers with a skip connection,
  :math:`y = \mathrm{relu}(F(x) + P(x))`, where :math:`P` is the identity or, when the
  channels or the stride change, a 1x1 convolution + batch norm (He et al., 2016). Parameter
  names are torchvision's ``BasicBlock`` (``conv1``, ``bn1``, ``conv2``, ``bn2``,
  ``downsample.0``, ``downsample.1``), so its weights load.
- :class:`LinearBlock`: linear, optional batch norm, activation, dropout (an MLP layer).

A convolution followed by batch norm has no bias: batch norm subtracts the batch mean, which
removes any constant the convolution adds, and its own :math:`\beta` plays the bias's role
(notes 002, "Normalization layers: the bias might be redundant").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule import nn
from chainrule._suggest import unknown_name
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["ACTIVATIONS", "ConvBlock", "LinearBlock", "ResidualBlock", "activation"]

ACTIVATIONS: dict[str, str] = {
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "elu": "ELU",
    "selu": "SELU",
    "gelu": "GELU",
    "silu": "SiLU",
    "swish": "SiLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "softplus": "Softplus",
    "identity": "Identity",
    "linear": "Identity",
    "none": "Identity",
}


def activation(name: str | Callable[[], Module] | None) -> Module:
    """A fresh activation module from a name (``"relu"``, ``"tanh"``, ...; ``None`` or
    ``"identity"`` for none) or from a factory such as ``cr.nn.LeakyReLU``.

    Raises:
        ValueError: an unknown name (the valid names and the nearest are listed).

    Example:
        >>> from chainrule.models.blocks import activation
        >>> activation("leaky_relu")
        LeakyReLU(negative_slope=0.01)
    """
    if name is None:
        return nn.Identity()
    if callable(name):
        m = name()
        if not isinstance(m, Module):
            raise TypeError(f"activation factory returned {type(m).__name__}, not a Module")
        return m
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name or a Module factory, got {name!r}")
    key = name.lower()
    if key not in ACTIVATIONS:
        raise ValueError(unknown_name("activation", name, ACTIVATIONS))
    return getattr(nn, ACTIVATIONS[key])()


_make_activation = activation  # the blocks' argument ``activation`` shadows the function


def _positive(block: str, **sizes: Any) -> None:
    for k, v in sizes.items():
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{block}: {k} must be a positive int, got {v!r}")


def _rate(block: str, p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"{block}: dropout must be a probability in [0, 1), got {p!r}")
    return float(p)


class ConvBlock(Module):
    r"""Conv2d -> BatchNorm2d -> activation -> MaxPool2d -> Dropout, each optional but the
    convolution: :math:`y = \mathrm{drop}(\mathrm{pool}(g(\mathrm{BN}(W * x + b))))`.

    Args:
        in_channels, out_channels: channels of the input and of the feature maps.
        kernel_size: the square kernel's side (odd sizes keep the map size by default).
        pool: ``True`` for a 2x2 max pool (halves the map), an int for another window, ``False``
            for none.
        batch_norm: add ``BatchNorm2d`` (and drop the convolution's bias).
        dropout: dropout probability after the pool (``0`` for none).
        stride: the convolution's stride.
        padding: the convolution's padding; by default ``kernel_size // 2`` ("same" for odd
            kernels at stride 1).
        activation: a name (``"relu"``) or a module factory.

    Sub-modules: ``conv``, ``bn``, ``act``, ``pool``, ``drop`` (those in use).

    Example:
        >>> import chainrule as cr
        >>> block = cr.models.ConvBlock(1, 8, 3)
        >>> block(cr.zeros(2, 1, 28, 28)).shape
        (2, 8, 14, 14)
        >>> [k for k in block.state_dict()][:3]
        ['conv.weight', 'bn.weight', 'bn.bias']
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        pool: bool | int = True,
        batch_norm: bool = True,
        dropout: float = 0.0,
        stride: int = 1,
        padding: int | str | None = None,
        activation: str | Callable[[], Module] | None = "relu",
    ) -> None:
        super().__init__()
        _positive(
            "ConvBlock",
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=kernel_size,
            stride=stride,
        )
        p = _rate("ConvBlock", dropout)
        if padding is None:
            padding = kernel_size // 2
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            bias=not batch_norm,
        )
        if batch_norm:
            self.bn = nn.BatchNorm2d(out_channels)
        self.act = _make_activation(activation)
        if pool is not False and pool is not None:
            size = 2 if pool is True else pool
            _positive("ConvBlock", pool=size)
            self.pool = nn.MaxPool2d(size)
        if p > 0:
            self.drop = nn.Dropout(p)

    def forward(self, x: Tensor) -> Tensor:
        for m in self._modules.values():
            if m is not None:
                x = m(x)
        return x


class ResidualBlock(Module):
    r"""A basic residual block: :math:`y = \mathrm{relu}(\mathrm{BN}_2(W_2 *
    \mathrm{relu}(\mathrm{BN}_1(W_1 * x))) + P(x))`, with 3x3 kernels and :math:`P` the
    identity, or a 1x1 convolution + batch norm (``downsample``) when ``stride != 1`` or the
    channel count changes, so that the two paths have the same shape.

    The skip connection gives the gradient a path that does not pass through the
    convolutions: :math:`\partial y / \partial x` contains :math:`\partial P / \partial x`
    (the identity), which keeps deep stacks trainable (notes 002, vanishing gradients).

    Args:
        in_channels, out_channels: channels in and out.
        stride: stride of the first convolution (2 halves the map).

    Example:
        >>> import chainrule as cr
        >>> block = cr.models.ResidualBlock(8, 16, stride=2)
        >>> block(cr.zeros(2, 8, 14, 14)).shape
        (2, 16, 7, 7)
        >>> "downsample.0.weight" in block.state_dict()
        True
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        _positive(
            "ResidualBlock", in_channels=in_channels, out_channels=out_channels, stride=stride
        )
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(out + skip)


class LinearBlock(Module):
    r"""Linear -> (BatchNorm1d) -> activation -> (Dropout): one hidden layer of an MLP,
    :math:`a = \mathrm{drop}(g(\mathrm{BN}(W x + b)))`.

    Example:
        >>> import chainrule as cr
        >>> cr.models.LinearBlock(4, 8, dropout=0.2)(cr.zeros(3, 4)).shape
        (3, 8)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str | Callable[[], Module] | None = "relu",
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _positive("LinearBlock", in_features=in_features, out_features=out_features)
        p = _rate("LinearBlock", dropout)
        self.linear = nn.Linear(in_features, out_features, bias=not batch_norm)
        if batch_norm:
            self.bn = nn.BatchNorm1d(out_features)
        self.act = _make_activation(activation)
        if p > 0:
            self.drop = nn.Dropout(p)

    def forward(self, x: Tensor) -> Tensor:
        for m in self._modules.values():
            if m is not None:
                x = m(x)
        return x
