"""Schedules of one formula each: :class:`LambdaLR`, :class:`StepLR`, :class:`MultiStepLR`,
:class:`ExponentialLR`, :class:`CosineAnnealingLR` and :class:`LinearLR` (warm-up)."""

from __future__ import annotations

import copy
import math
import types
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from chainrule.optim.lr_scheduler._base import LRScheduler, _check_optimizer, _lrs
from chainrule.optim.optimizer import Optimizer

__all__ = ["LambdaLR", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR"]


class LambdaLR(LRScheduler):
    r""":math:`η_t = η_0 · λ(t)` for a user function λ (one per group, or one for all).

    Args:
        optimizer: wrapped optimizer.
        lr_lambda: a function of the epoch giving a multiplicative factor, or a list of them,
            one per parameter group.
        last_epoch: index of the last epoch (default -1).

    The lambdas are code, so ``state_dict`` does not save them (as torch; a callable object's
    ``__dict__`` is saved).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter(cr.zeros(1))], lr=0.1)
        >>> sched = cr.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.5 ** epoch)
        >>> opt.step(); sched.step(); sched.get_last_lr()
        [0.05]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer("LambdaLR", optimizer)
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"Expected {n} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        for f in self.lr_lambdas:
            if not callable(f):
                raise TypeError(f"LambdaLR: lr_lambda must be callable, got {f!r}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * f(self.last_epoch) for f, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict[str, Any]:
        sd = {
            k: copy.deepcopy(v)
            for k, v in self.__dict__.items()
            if k not in ("optimizer", "lr_lambdas")
        }
        sd["lr_lambdas"] = [
            None
            if isinstance(f, types.FunctionType) or not hasattr(f, "__dict__")
            else copy.deepcopy(f.__dict__)
            for f in self.lr_lambdas
        ]
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        sd = copy.deepcopy(state_dict)
        lambdas = sd.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        self.__dict__.update(sd)
        for f, saved in zip(self.lr_lambdas, lambdas):
            if saved is not None:
                f.__dict__.update(saved)


class StepLR(LRScheduler):
    r""":math:`η_t = η_0 · γ^{\lfloor t / \text{step\_size} \rfloor}`: decay by γ every
    ``step_size`` epochs.

    Args:
        optimizer: wrapped optimizer.
        step_size: period of the decay (epochs, > 0).
        gamma: multiplicative factor (default 0.1).
        last_epoch: index of the last epoch (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter(cr.zeros(1))], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        >>> opt.step(); sched.step(); sched.get_last_lr()
        [0.5]
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        if not isinstance(step_size, int) or step_size <= 0:
            raise ValueError(f"StepLR expects a positive integer step_size, got {step_size!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    r""":math:`η_t = η_0 · γ^{\#\{m \in \text{milestones}: m \le t\}}`: decay by γ at each
    milestone.

    Args:
        optimizer: wrapped optimizer.
        milestones: epoch indices (a milestone listed n times decays by γ^n).
        gamma: multiplicative factor (default 0.1).
        last_epoch: index of the last epoch (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter(cr.zeros(1))], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 3], gamma=0.5)
        >>> lrs = []
        >>> for _ in range(4):
        ...     opt.step(); sched.step(); lrs.append(sched.get_last_lr()[0])
        >>> lrs
        [1.0, 0.5, 0.25, 0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return _lrs(self.optimizer)
        k = self.milestones[self.last_epoch]
        return [group["lr"] * self.gamma**k for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        return [
            base * self.gamma ** bisect_right(milestones, self.last_epoch) for base in self.base_lrs
        ]

    def state_dict(self) -> dict[str, Any]:
        sd = super().state_dict()
        sd["milestones"] = sorted(self.milestones.elements())  # JSON keys must be strings
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        m = self.milestones
        self.milestones = (
            Counter({int(k): v for k, v in m.items()}) if isinstance(m, dict) else Counter(m)
        )


class ExponentialLR(LRScheduler):
    r""":math:`η_t = η_{t-1} · γ`: decay by γ every epoch.

    Args:
        optimizer: wrapped optimizer.
        gamma: multiplicative factor.
        last_epoch: index of the last epoch (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter(cr.zeros(1))], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> opt.step(); sched.step(); sched.step(); sched.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return _lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from the base lr to ``eta_min`` over ``T_max`` epochs.

    Closed form (SGDR without restarts):
    :math:`η_t = η_{min} + ½ (η_0 - η_{min}) (1 + \cos(π t / T_{max}))`; computed, as
    torch, by the recursion
    :math:`η_{t} = η_{min} + (η_{t-1} - η_{min}) \frac{1 + \cos(π t / T_{max})}
    {1 + \cos(π (t-1) / T_{max})}`. Past ``T_max`` the lr rises again (period 2 T_max).

    Args:
        optimizer: wrapped optimizer.
        T_max: number of epochs of one half cycle.
        eta_min: minimum learning rate (default 0).
        last_epoch: index of the last epoch (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter(cr.zeros(1))], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
        >>> opt.step(); sched.step(); round(sched.get_last_lr()[0], 6)
        0.5
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR expects T_max > 0, got {T_max}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return _lrs(self.optimizer)
        if self._step_count == 1 and t > 0:
            return [
                eta_min + (base - eta_min) * (1 + math.cos(t * math.pi / T)) / 2
                for base in self.base_lrs
            ]
        if (t - 1 - T) % (2 * T) == 0:
            return [
                group["lr"] + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for base, group in zip(self.base_lrs, groups)
            ]
        return [
            (1 + math.cos(math.pi * t / T))
            / (1 + math.cos(math.pi * (t - 1) / T))
            * (group["lr"] - eta_min)
            + eta_min
            for group in groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            self.eta_min
            + (base - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base in self.base_lrs
        ]


class LinearLR(LRScheduler):
    r"""Linear warm-up (or decay) of a multiplicative factor from ``start_factor`` to
    ``end_factor`` over ``total_iters`` epochs:
    :math:`η_t = η_0 (s + (e - s) \min(t, T) / T)`.

    Args:
        optimizer: wrapped optimizer.
        start_factor: factor at epoch 0, in (0, 1] (default 1/3).
        end_factor: factor from epoch ``total_iters`` on, in [0, 1] (default 1).
        total_iters: number of epochs of the ramp (default 5).
        last_epoch: index of the last epoch (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter(cr.zeros(1))], lr=1.0)
        >>> sched = cr.optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> lrs = [sched.get_last_lr()[0]]
        >>> for _ in range(3):
        ...     opt.step(); sched.step(); lrs.append(sched.get_last_lr()[0])
        >>> lrs
        [0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError(
                "Starting multiplicative factor expected to be greater than 0 and less or "
                f"equal to 1 (LinearLR got start_factor={start_factor})"
            )
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError(
                "Ending multiplicative factor expected to be between 0 and 1 (LinearLR got "
                f"end_factor={end_factor})"
            )
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _lrs(self.optimizer)
        s, e = self.start_factor, self.end_factor
        return [
            group["lr"] * (1.0 + (e - s) / (self.total_iters * s + (self.last_epoch - 1) * (e - s)))
            for group in groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        s, e = self.start_factor, self.end_factor
        return [
            base * (s + (e - s) * min(self.total_iters, self.last_epoch) / self.total_iters)
            for base in self.base_lrs
        ]
