r"""Normalization layers: ``BatchNorm1d``, ``BatchNorm2d`` and ``LayerNorm`` (PyTorch names,
parameters and buffers, so ``state_dict``\ s load strictly in both directions).

Batch normalization (notes 002, "normalize activations during training, stabilizing the
learning process") standardises each channel with the batch statistics while training and
with running averages of them in eval:

.. math::  y = \gamma \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta, \qquad
           r \leftarrow (1 - m)\, r + m\, s_{batch},

with the unbiased batch variance for ``running_var``; ``momentum=None`` makes :math:`m =
1/t` at step :math:`t` (a cumulative average). ``num_batches_tracked`` counts the steps.
"""

from __future__ import annotations

from typing import Any

from chainrule import dtypes
from chainrule.creation import ones, zeros
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops.normalization import batch_norm, layer_norm
from chainrule.tensor import Tensor, tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(Module):
    weight: Parameter | None
    bias: Parameter | None
    _ranks: tuple[int, ...] = (4,)
    _layout = "(N, C, H, W)"

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if (
            not isinstance(num_features, int)
            or isinstance(num_features, bool)
            or (num_features <= 0)
        ):
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        if eps <= 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        d = dtypes.resolve_dtype(dtype) if dtype is not None else None
        if affine:
            self.weight = Parameter(ones(num_features, dtype=d))
            if bias:
                self.bias = Parameter(zeros(num_features, dtype=d))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=d))
            self.register_buffer("running_var", ones(num_features, dtype=d))
            self.register_buffer("num_batches_tracked", tensor(0, dtype="int64"))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:  # affine
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()} expects a Tensor, got {type(input).__name__}")
        x = input.data
        if x.ndim not in self._ranks:
            ranks = " or ".join(f"{r}-D" for r in self._ranks)
            raise ValueError(
                f"{self._describe()} expected a {ranks} input {self._layout}, got a "
                f"{x.ndim}-D input of shape {tuple(x.shape)}"
            )
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{self._describe()} expected input with {self.num_features} channels "
                f"(num_features), got {x.shape[1]} channels: input of shape {tuple(x.shape)}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.data)
        batch_stats = self.training or self.running_mean is None
        return batch_norm(
            input,
            self.running_mean if not self.training or self.track_running_stats else None,
            self.running_var if not self.training or self.track_running_stats else None,
            self.weight,
            self.bias,
            batch_stats,
            factor,
            self.eps,
        )

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.num_features})"

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm2d(_BatchNorm):
    r"""Batch normalization of an NCHW batch per channel (``torch.nn.BatchNorm2d``); statistics
    over the batch and both spatial axes.

    Args:
        num_features: channels C.
        eps: :math:`\epsilon` added to the variance.
        momentum: running-statistics rate; ``None`` for a cumulative average.
        affine: learn :math:`\gamma` (``weight``, ones) and :math:`\beta` (``bias``, zeros).
        bias: (keyword) learn :math:`\beta` too, when ``affine`` (PyTorch 2.13's option).
        track_running_stats: keep ``running_mean``, ``running_var``, ``num_batches_tracked``
            buffers and use them in eval (otherwise batch statistics always).

    Example:
        >>> import chainrule as cr
        >>> bn = cr.nn.BatchNorm2d(3)
        >>> y = bn(cr.randn(4, 3, 5, 5) * 2 + 1)
        >>> [abs(round(float(v), 4)) for v in y.mean(dim=(0, 2, 3))]
        [0.0, 0.0, 0.0]
        >>> sorted(bn.state_dict())
        ['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']
    """

    _ranks = (4,)
    _layout = "(N, C, H, W)"


class BatchNorm1d(_BatchNorm):
    r"""Batch normalization of (N, C) or (N, C, L) inputs per channel
    (``torch.nn.BatchNorm1d``); see :class:`BatchNorm2d` for the arguments.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.BatchNorm1d(10)(cr.randn(8, 10)).shape
        (8, 10)
    """

    _ranks = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class LayerNorm(Module):
    r"""Layer normalization (``torch.nn.LayerNorm``): each sample standardised over its last
    ``len(normalized_shape)`` axes, then scaled and shifted element-wise,
    :math:`y = \gamma \odot \hat x + \beta`.

    Args:
        normalized_shape: the trailing shape to normalise over (an int for one axis).
        eps: :math:`\epsilon` added to the variance.
        elementwise_affine: learn ``weight`` (ones) and, if ``bias``, ``bias`` (zeros).
        bias: learn the shift (with ``elementwise_affine``).

    Example:
        >>> import chainrule as cr
        >>> ln = cr.nn.LayerNorm(4)
        >>> ln(cr.tensor([[1.0, 2.0, 3.0, 4.0]])).shape
        (1, 4)
    """

    weight: Parameter | None
    bias: Parameter | None

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not ns or any(not isinstance(s, int) or s <= 0 for s in ns):
            raise ValueError(
                f"LayerNorm: normalized_shape must be positive ints, got {normalized_shape!r}"
            )
        self.normalized_shape = ns
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        d = dtypes.resolve_dtype(dtype) if dtype is not None else None
        if elementwise_affine:
            self.weight = Parameter(ones(*ns, dtype=d))
            if bias:
                self.bias = Parameter(zeros(*ns, dtype=d))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        x = input.data if isinstance(input, Tensor) else None
        ns = self.normalized_shape
        if x is not None and (x.ndim < len(ns) or tuple(x.shape[x.ndim - len(ns) :]) != ns):
            raise ValueError(
                f"LayerNorm({ns}) expected an input whose last dimensions are {ns} "
                f"(normalized_shape), got shape {tuple(x.shape)}"
            )
        return layer_norm(input, ns, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )
