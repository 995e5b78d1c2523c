"""Losses (``torch.nn.functional`` names): the regression and margin losses
(:mod:`~chainrule.ops.loss_regression`), the classification losses
(:mod:`~chainrule.ops.loss_classification`) and Barron's general robust loss
(:mod:`~chainrule.ops.loss_robust`), re-exported here for ``chainrule.nn.functional``."""

from __future__ import annotations

from chainrule.ops.loss_classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    kl_div,
    nll_loss,
)
from chainrule.ops.loss_regression import (
    hinge_loss,
    huber_loss,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)
from chainrule.ops.loss_robust import robust_log_partition, robust_loss, robust_loss_nll

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "robust_log_partition",
    "robust_loss",
    "robust_loss_nll",
    "smooth_l1_loss",
]
