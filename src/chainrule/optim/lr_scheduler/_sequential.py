"""Schedules chained in time: :class:`SequentialLR`."""

from __future__ import annotations

import copy
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from chainrule.optim.lr_scheduler._base import LRScheduler, _check_optimizer
from chainrule.optim.lr_scheduler._plateau import ReduceLROnPlateau
from chainrule.optim.optimizer import Optimizer

__all__ = ["SequentialLR"]


class SequentialLR(LRScheduler):
    r"""Run schedulers one after the other, switching at the ``milestones`` epochs.

    Typical use: a :class:`LinearLR` warm-up, then :class:`CosineAnnealingLR`. At a
    milestone the next scheduler restarts from its epoch 0 (closed form), as torch.

    Args:
        optimizer: wrapped optimizer (all schedulers must wrap it).
        schedulers: the schedulers, in order.
        milestones: the epochs where the next scheduler takes over (one fewer than
            ``schedulers``).
        last_epoch: index of the last epoch (default -1).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.optim import lr_scheduler as S
        >>> opt = cr.optim.SGD([cr.nn.Parameter(cr.zeros(1))], lr=1.0)
        >>> warm = S.LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> decay = S.ExponentialLR(opt, gamma=0.5)
        >>> sched = S.SequentialLR(opt, [warm, decay], milestones=[2])
        >>> lrs = [sched.get_last_lr()[0]]
        >>> for _ in range(4):
        ...     opt.step(); sched.step(); lrs.append(sched.get_last_lr()[0])
        >>> lrs
        [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer("SequentialLR", optimizer)
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler, but got no scheduler.")
        for i, s in enumerate(schedulers):
            if not hasattr(s, "optimizer"):
                raise TypeError(
                    f"SequentialLR at index {i} should have `optimizer` as its attribute."
                )
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(
                    "SequentialLR does not support `ReduceLROnPlateau` scheduler as it requires "
                    "additional kwargs to be specified when calling `step`, but got one at "
                    f"index {i} in the given schedulers sequence."
                )
            if s.optimizer is not optimizer:
                raise ValueError(
                    "SequentialLR expects all schedulers to belong to the same optimizer, but "
                    f"got scheduler {type(s).__name__} at index {i} with a different optimizer"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more "
                f"than the number of milestone points, but got number of schedulers "
                f"{len(schedulers)} and the number of milestones to be equal to {len(milestones)}"
            )
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # reset to the initial lrs
            group["lr"] = group["initial_lr"]
        self._recursive_undo()  # undo the initial step every scheduler made
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def _recursive_undo(self, sched: Any = None) -> None:
        s = self if sched is None else sched
        if hasattr(s, "_schedulers"):
            for inner in s._schedulers:
                self._recursive_undo(inner)
        elif hasattr(s, "last_epoch"):
            s.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        sd = {
            k: copy.deepcopy(v)
            for k, v in self.__dict__.items()
            if k not in ("optimizer", "_schedulers")
        }
        sd["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        sd = dict(state_dict)
        inner = sd.pop("_schedulers")
        if len(inner) != len(self._schedulers):
            raise ValueError(
                f"SequentialLR.load_state_dict: the state holds {len(inner)} schedulers, this "
                f"SequentialLR has {len(self._schedulers)}"
            )
        self.__dict__.update(copy.deepcopy(sd))
        for s, s_sd in zip(self._schedulers, inner):
            s.load_state_dict(s_sd)
