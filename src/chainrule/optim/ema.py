r"""Exponential moving average of a model's weights, for evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chainrule.backend import Array, get_array_module
from chainrule.tensor import Tensor

__all__ = ["ExponentialMovingAverage"]


class ExponentialMovingAverage:
    r"""Keep an exponentially weighted average of parameters while they train.

    **What is an exponentially weighted average?** (the notes, 002) A running mean that
    forgets geometrically: after each update of the weights :math:`θ_t`,

    .. math::  v_t = β v_{t-1} + (1 - β) θ_t,  \qquad v_0 = 0,

    so :math:`v_t = (1-β) \sum_{i=1}^{t} β^{t-i} θ_i`: the newest value has weight
    :math:`1-β`, one step older :math:`(1-β)β`, and so on. It averages roughly the last
    :math:`1/(1-β)` values (β = 0.999: about a thousand steps). Because :math:`v_0 = 0`, the
    weights :math:`(1-β)\sum β^{t-i} = 1 - β^t` do not sum to one early on and :math:`v_t` is
    biased toward zero; dividing by them is the bias correction Adam applies to its moments:

    .. math::  \hat v_t = v_t / (1 - β^t).

    Evaluating with :math:`\hat v_t` instead of the last weights smooths out the noise of the
    final SGD steps (Polyak averaging) and usually generalizes a little better.

    With ``bias_correction=False`` the average starts at the initial weights,
    :math:`v_0 = θ_0`, and is used as is (the other common convention).

    Args:
        parameters: a :class:`~chainrule.nn.Module` (its parameters) or an iterable of tensors.
        decay: β in [0, 1) (default 0.999).
        bias_correction: zero start with Adam's correction (default True), or start at θ_0.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([0.0]))
        >>> ema = cr.optim.ExponentialMovingAverage([w], decay=0.5)
        >>> for value in [1.0, 2.0, 3.0]:
        ...     w.data[...] = value
        ...     ema.update()
        >>> # v = 0.5·(0.5·(0.5·1) + 0.5·2) + 0.5·3 = 2.125, corrected by 1 - 0.5³ = 0.875
        >>> with ema.average_parameters():
        ...     print(round(float(w), 6))
        2.428571
        >>> float(w)                       # the training weights are back
        3.0
    """

    def __init__(self, parameters: Any, decay: float = 0.999, bias_correction: bool = True) -> None:
        from chainrule.nn.module import Module

        params = list(parameters.parameters() if isinstance(parameters, Module) else parameters)
        if not params:
            raise ValueError("ExponentialMovingAverage got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"ExponentialMovingAverage expects tensors, but parameter {i} is a "
                    f"{type(p).__name__}"
                )
        if isinstance(decay, bool) or not 0.0 <= decay < 1.0:
            raise ValueError(f"ExponentialMovingAverage expects 0 <= decay < 1, got {decay!r}")
        self.params = params
        self.decay = float(decay)
        self.bias_correction = bool(bias_correction)
        self.num_updates = 0
        self.shadow: list[Array] = [
            get_array_module(p.data).zeros_like(p.data) if bias_correction else p.data.copy()
            for p in params
        ]
        self._backup: list[Array] | None = None

    def update(self) -> None:
        r"""Fold the current parameters in: :math:`v ← β v + (1 - β) θ`."""
        self.num_updates += 1
        for v, p in zip(self.shadow, self.params):
            v *= self.decay
            v += p.data * (1.0 - self.decay)

    def averages(self) -> list[Array]:
        r"""The averaged weights :math:`\hat v_t` (new arrays), one per parameter."""
        if not self.bias_correction:
            return [v.copy() for v in self.shadow]
        if self.num_updates == 0:
            raise RuntimeError(
                "ExponentialMovingAverage has no average yet: call update() after an "
                "optimizer step first"
            )
        correction = 1.0 - self.decay**self.num_updates
        return [v / correction for v in self.shadow]

    def copy_to(self, parameters: Any = None) -> None:
        """Write the averaged weights into ``parameters`` (default: the tracked ones), in place.

        ``parameters`` may be a Module or an iterable of tensors shaped like the tracked ones
        (e.g. a separate evaluation copy of the model).
        """
        targets = self._targets(parameters)
        for p, avg in zip(targets, self.averages()):
            p.data[...] = avg

    apply_to = copy_to

    def store(self) -> None:
        """Save a copy of the tracked parameters (to :meth:`restore` after evaluation)."""
        self._backup = [p.data.copy() for p in self.params]

    def restore(self) -> None:
        """Put back the parameters saved by :meth:`store`."""
        if self._backup is None:
            raise RuntimeError("ExponentialMovingAverage.restore() called without store()")
        for p, saved in zip(self.params, self._backup):
            p.data[...] = saved
        self._backup = None

    @contextmanager
    def average_parameters(self) -> Iterator[None]:
        """Swap the averaged weights into the model for the ``with`` block, then restore the
        training weights (even if the block raises)."""
        self.store()
        try:
            self.copy_to()
            yield
        finally:
            self.restore()

    def state_dict(self) -> dict[str, Any]:
        """``decay``, ``bias_correction``, ``num_updates`` and the ``shadow`` arrays (live
        buffers, as the optimizers' state dicts)."""
        return {
            "decay": self.decay,
            "bias_correction": self.bias_correction,
            "num_updates": self.num_updates,
            "shadow": list(self.shadow),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict` (arrays copied; shapes checked)."""
        shadow = state_dict["shadow"]
        if len(shadow) != len(self.params):
            raise ValueError(
                f"ExponentialMovingAverage.load_state_dict: the state holds {len(shadow)} "
                f"averages, but {len(self.params)} parameters are tracked"
            )
        arrays = []
        for i, (v, p) in enumerate(zip(shadow, self.params)):
            xp = get_array_module(p.data)
            arr = xp.array(v.data if isinstance(v, Tensor) else v, dtype=p.data.dtype, copy=True)
            if arr.shape != p.data.shape:
                raise ValueError(
                    f"ExponentialMovingAverage.load_state_dict: average {i} has shape "
                    f"{tuple(arr.shape)}, but parameter {i} has shape {p.shape}"
                )
            arrays.append(arr)
        self.decay = float(state_dict["decay"])
        self.bias_correction = bool(state_dict["bias_correction"])
        self.num_updates = int(state_dict["num_updates"])
        self.shadow = arrays

    def _targets(self, parameters: Any) -> list[Tensor]:
        from chainrule.nn.module import Module

        if parameters is None:
            return self.params
        targets = list(parameters.parameters() if isinstance(parameters, Module) else parameters)
        if len(targets) != len(self.params) or any(
            t.shape != p.shape for t, p in zip(targets, self.params)
        ):
            raise ValueError(
                "ExponentialMovingAverage.copy_to: the target parameters "
                f"{[t.shape for t in targets]} do not match the tracked ones "
                f"{[p.shape for p in self.params]}"
            )
        return targets

    def __repr__(self) -> str:
        return (
            f"ExponentialMovingAverage(decay={self.decay}, bias_correction="
            f"{self.bias_correction}, num_updates={self.num_updates}, "
            f"parameters={len(self.params)})"
        )
