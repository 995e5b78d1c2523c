r"""Learning-rate schedules with PyTorch's semantics (``torch.optim.lr_scheduler``).

A scheduler owns an optimizer's ``group["lr"]``: the constructor records each group's
``initial_lr`` (the base learning rates) and performs step 0; every ``scheduler.step()``
(called after ``optimizer.step()``) advances ``last_epoch`` and writes the next learning
rates into the groups. Most schedules are computed as torch computes them, recursively from
the current ``group["lr"]`` (the "chainable" form), so the float sequences match torch's to
the last bit and two schedulers can act on one optimizer; ``step(epoch)`` uses the closed
form where torch has one.

The schedules live one family per file: :mod:`~chainrule.optim.lr_scheduler._base`
(:class:`LRScheduler`), :mod:`~chainrule.optim.lr_scheduler._decay` (the one-formula
schedules), :mod:`~chainrule.optim.lr_scheduler._sequential`,
:mod:`~chainrule.optim.lr_scheduler._one_cycle` and :mod:`~chainrule.optim.lr_scheduler._plateau`;
import them from here.

``state_dict()`` returns plain Python values (JSON-safe, no functions): LambdaLR's lambdas
are code and are not saved, as torch.

Example:
    >>> import chainrule as cr
    >>> w = cr.nn.Parameter(cr.zeros(1))
    >>> opt = cr.optim.SGD([w], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     opt.step()
    ...     lrs.append(sched.get_last_lr()[0])
    ...     sched.step()
    >>> lrs
    [1.0, 1.0, 0.5, 0.5, 0.25]
"""

from chainrule.optim.lr_scheduler._base import LRScheduler
from chainrule.optim.lr_scheduler._decay import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    StepLR,
)
from chainrule.optim.lr_scheduler._one_cycle import OneCycleLR
from chainrule.optim.lr_scheduler._plateau import ReduceLROnPlateau
from chainrule.optim.lr_scheduler._sequential import SequentialLR

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]
