r"""Loss modules (PyTorch names, arguments and defaults), wrapping the functional losses of
:mod:`chainrule.ops.loss`; each docstring gives the formula, the functional form its gradient.
Class weights are registered as buffers (``weight``, ``pos_weight``), as PyTorch does, so
``state_dict`` round-trips. ``AdaptiveRobustLoss`` has learnable parameters: give them to the
optimizer together with the model's.
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.creation import full
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops import loss as L
from chainrule.ops.activation_pointwise import softplus
from chainrule.ops.elementwise import sigmoid
from chainrule.ops.loss_common import check_reduction, legacy_args
from chainrule.ops.loss_robust import ALPHA_MAX
from chainrule.tensor import Tensor

__all__ = [
    "AdaptiveRobustLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HingeLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "NLLLoss",
    "SmoothL1Loss",
]


class _Loss(Module):
    _op = "loss"
    _extra: tuple[str, ...] = ()

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean"):
        super().__init__()
        legacy_args(size_average, reduce, type(self).__name__)
        self.reduction = check_reduction(reduction, type(self).__name__, self._extra)


class _WeightedLoss(_Loss):
    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight))


def _buffer(t: Any) -> Tensor | None:
    if t is None or isinstance(t, Tensor):
        return t
    return Tensor(t)


class L1Loss(_Loss):
    r"""Mean absolute error :math:`\frac1n\sum_i |\hat y_i - y_i|` (``reduction`` 'mean').

    Example:
        >>> import chainrule as cr
        >>> cr.nn.L1Loss()(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 4.0]))
        tensor(1.5)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    r"""Mean squared error :math:`\frac1n\sum_i (\hat y_i - y_i)^2`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.MSELoss()(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 4.0]))
        tensor(2.5)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.mse_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    r"""Huber loss: :math:`\tfrac12 d^2` for :math:`|d| \le δ`, :math:`δ(|d| - \tfrac12δ)` beyond.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.HuberLoss(delta=1.0)(cr.tensor([3.0]), cr.tensor([0.0]))
        tensor(2.5)
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    r"""Smooth L1: :math:`\tfrac12 d^2/β` for :math:`|d| < β`, :math:`|d| - \tfrac12β` beyond.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.SmoothL1Loss()(cr.tensor([3.0]), cr.tensor([0.0]))
        tensor(2.5)
    """

    def __init__(
        self,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        beta: float = 1.0,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        if not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HingeLoss(_Loss):
    r"""Hinge loss :math:`\max(0, m - y\hat y)` for labels :math:`y \in \{-1, +1\}` and raw
    scores :math:`\hat y` (binary margin classification, as a linear SVM).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.HingeLoss()(cr.tensor([2.0, -0.5]), cr.tensor([1.0, 1.0]))
        tensor(0.75)
    """

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.hinge_loss(input, target, reduction=self.reduction, margin=self.margin)


class BCELoss(_WeightedLoss):
    r"""Binary cross-entropy of probabilities,
    :math:`-w[y\log\hat y + (1-y)\log(1-\hat y)]`, logs clamped at −100.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.BCELoss()(cr.tensor([0.5]), cr.tensor([1.0]))
        tensor(0.6931)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    r"""Sigmoid + binary cross-entropy in one stable formula,
    :math:`\max(x,0) - xy + \log(1 + e^{-|x|})`, with ``pos_weight`` for the positive class.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.BCEWithLogitsLoss()(cr.tensor([0.0]), cr.tensor([1.0]))
        tensor(0.6931)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight))
        self.register_buffer("pos_weight", _buffer(pos_weight))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class CrossEntropyLoss(_WeightedLoss):
    r"""Softmax cross-entropy of logits, :math:`-\sum_c y_c\log\mathrm{softmax}(z)_c`, with
    integer class labels or class probabilities, ``ignore_index``, class ``weight`` and
    ``label_smoothing`` (see :func:`chainrule.nn.functional.cross_entropy`).

    Example:
        >>> import chainrule as cr
        >>> loss = cr.nn.CrossEntropyLoss()
        >>> loss(cr.tensor([[2.0, 0.0, -1.0]]), cr.tensor([0]))
        tensor(0.1698)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    r"""Negative log-likelihood of log-probabilities, :math:`-w_{t}\,x_{t}`.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.NLLLoss()(cr.tensor([[-0.5, -1.0]]), cr.tensor([1]))
        tensor(1.)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class KLDivLoss(_Loss):
    r"""KL divergence :math:`\sum y(\log y - x)` of log-probabilities x from target y;
    ``reduction='batchmean'`` gives the per-sample KL.

    Example:
        >>> import chainrule as cr
        >>> p = cr.tensor([[0.25, 0.75]])
        >>> cr.nn.KLDivLoss(reduction="batchmean")(p.log(), p)
        tensor(0.)
    """

    _extra = ("batchmean",)

    def __init__(
        self,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        log_target: bool = False,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class AdaptiveRobustLoss(Module):
    r"""Barron's adaptive robust loss (CVPR 2019) with learnable shape α and scale c, one of
    each per dimension of the last axis (``num_dims``; 1 shares them over everything).

    α is a number (fixed) or learned through a sigmoid into ``[alpha_lo, alpha_hi]``:
    :math:`α = α_{lo} + (α_{hi} - α_{lo})σ(\ell_α)`; c is a number (fixed) or learned through a
    softplus: :math:`c = \mathrm{softplus}(\ell_c) + c_{lo}`, as the paper's reference code
    (``AdaptiveLossFunction``). The latent parameters are ``latent_alpha`` and
    ``latent_scale``, shape (num_dims,).

    With anything learnable the loss is the negative log-likelihood
    :math:`ρ(x, α, c) + \log c + \log Z(α)` (otherwise minimising it would just drive α and c
    to the least-penalising values); with α and c both fixed it is plain :math:`ρ(x, α, c)`.
    See :mod:`chainrule.ops.loss_robust` for ρ and Z.

    Args:
        num_dims: size of the last axis of the residuals (1: shared α and c).
        alpha: a fixed α, or None to learn it.
        scale: a fixed c, or None to learn it.
        alpha_lo, alpha_hi: the range of a learned α (within [0, 8]).
        alpha_init: the initial learned α (default: the middle of the range).
        scale_lo: the smallest learned scale.
        scale_init: the initial learned scale.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> loss = cr.nn.AdaptiveRobustLoss(num_dims=2)
        >>> [n for n, _ in loss.named_parameters()]
        ['latent_alpha', 'latent_scale']
        >>> round(loss.alpha().tolist()[0], 6), round(loss.scale().tolist()[0], 6)
        (1.0, 1.0)
        >>> loss(cr.zeros(3, 2)).shape
        ()
    """

    def __init__(
        self,
        num_dims: int = 1,
        alpha: float | None = None,
        scale: float | None = None,
        alpha_lo: float = 0.001,
        alpha_hi: float = 1.999,
        alpha_init: float | None = None,
        scale_lo: float = 1e-5,
        scale_init: float = 1.0,
        reduction: str = "mean",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = "AdaptiveRobustLoss"
        if isinstance(num_dims, bool) or not isinstance(num_dims, int) or num_dims < 1:
            raise ValueError(f"{name}: num_dims must be a positive int, got {num_dims!r}")
        self.reduction = check_reduction(reduction, name)
        self.num_dims = num_dims
        self.fixed_alpha = None if alpha is None else float(alpha)
        self.fixed_scale = None if scale is None else float(scale)
        self.alpha_lo, self.alpha_hi = float(alpha_lo), float(alpha_hi)
        self.scale_lo = float(scale_lo)
        if alpha is None:
            if not 0 <= alpha_lo <= alpha_hi <= ALPHA_MAX:
                raise ValueError(
                    f"{name}: need 0 <= alpha_lo <= alpha_hi <= {ALPHA_MAX:g}, "
                    f"got alpha_lo={alpha_lo}, alpha_hi={alpha_hi}"
                )
            init = (alpha_lo + alpha_hi) / 2 if alpha_init is None else float(alpha_init)
            if alpha_hi > alpha_lo:
                if not alpha_lo < init < alpha_hi:
                    raise ValueError(
                        f"{name}: alpha_init={init} must lie strictly inside "
                        f"({alpha_lo}, {alpha_hi})"
                    )
                frac = (init - alpha_lo) / (alpha_hi - alpha_lo)
                latent = math.log(frac / (1 - frac))
            else:
                latent = 0.0
            self.latent_alpha = Parameter(full((num_dims,), latent, dtype=dtype))
        elif scale is None and not 0 <= float(alpha) <= ALPHA_MAX:
            raise ValueError(
                f"{name}: a learned scale needs the likelihood, defined for alpha in "
                f"[0, {ALPHA_MAX:g}], got alpha={alpha}"
            )
        if scale is None:
            if not scale_init > scale_lo >= 0:
                raise ValueError(
                    f"{name}: need scale_init > scale_lo >= 0, got scale_init={scale_init}, "
                    f"scale_lo={scale_lo}"
                )
            d = scale_init - scale_lo  # inverse softplus
            latent_c = d + math.log(-math.expm1(-d))
            self.latent_scale = Parameter(full((num_dims,), latent_c, dtype=dtype))
        elif not scale > 0:
            raise ValueError(f"{name}: scale must be positive, got {scale}")

    @property
    def learnable_scale(self) -> bool:
        return self.fixed_scale is None

    @property
    def learnable(self) -> bool:
        return self.fixed_alpha is None or self.fixed_scale is None

    def alpha(self) -> Tensor | float:
        """The current α (a tensor of shape (num_dims,) when learned)."""
        if self.fixed_alpha is not None:
            return self.fixed_alpha
        if self.alpha_hi == self.alpha_lo:
            return self.latent_alpha * 0.0 + self.alpha_lo
        return sigmoid(self.latent_alpha) * (self.alpha_hi - self.alpha_lo) + self.alpha_lo

    def scale(self) -> Tensor | float:
        """The current scale c (a tensor of shape (num_dims,) when learned)."""
        if self.fixed_scale is not None:
            return self.fixed_scale
        return softplus(self.latent_scale) + self.scale_lo

    def forward(self, input: Tensor, target: Tensor | None = None) -> Tensor:
        if self.num_dims > 1 and (input.ndim == 0 or input.shape[-1] != self.num_dims):
            raise ValueError(
                f"AdaptiveRobustLoss expected residuals with last dimension {self.num_dims} "
                f"(num_dims), got shape {tuple(input.shape)}"
            )
        a, c = self.alpha(), self.scale()
        if isinstance(a, Tensor) and a.data.dtype != input.data.dtype:
            a = a.to(input.data.dtype)
        if isinstance(c, Tensor) and c.data.dtype != input.data.dtype:
            c = c.to(input.data.dtype)
        if self.learnable:
            return L.robust_loss_nll(input, target, a, c, reduction=self.reduction)
        return L.robust_loss(input, target, a, c, reduction=self.reduction)

    def extra_repr(self) -> str:
        parts = [f"num_dims={self.num_dims}"]
        if self.fixed_alpha is not None:
            parts.append(f"alpha={self.fixed_alpha}")
        else:
            parts.append(f"alpha_lo={self.alpha_lo}, alpha_hi={self.alpha_hi}")
        if self.fixed_scale is not None:
            parts.append(f"scale={self.fixed_scale}")
        return ", ".join(parts)
