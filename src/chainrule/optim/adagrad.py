r"""Adagrad: a per-parameter learning rate shrinking with the sum of squared gradients."""

from __future__ import annotations

from typing import Any

from chainrule.backend import Array, get_array_module
from chainrule.optim.optimizer import Optimizer, ParamsT, addcmul_, check_common, check_nonneg
from chainrule.tensor import Tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad, PyTorch's ``torch.optim.Adagrad``.

    The notes' (002) rule: :math:`θ_{t+1} = θ_t - η / \sqrt{G_t + ε} · g_t` with
    :math:`G_t` the sum of the squares of past gradients, so often-updated parameters slow
    down and rare ones keep a large step (good for sparse features). PyTorch adds ε outside
    the square root and can decay the learning rate.

    The full algorithm (γ lr, λ weight decay, η lr decay, τ initial accumulator value)::

        state_sum_0 ← τ
        for t = 1, 2, ...:
            g_t ← ∇θ f_t(θ_{t-1})            (−∇ if maximize; + l1·sign(θ); + λ θ_{t-1})
            γ̃ ← γ / (1 + (t − 1) η)
            state_sum_t ← state_sum_{t-1} + g_t²
            θ_t ← θ_{t-1} − γ̃ g_t / (√state_sum_t + ε)

    Args:
        params: parameters or parameter groups.
        lr: learning rate γ (default 1e-2).
        lr_decay: learning-rate decay η (default 0).
        weight_decay: L2 penalty λ (default 0).
        initial_accumulator_value: starting value τ of the sum of squares (default 0).
        eps: added to the denominator (default 1e-10).
        maximize: maximize the objective instead of minimizing it.
        l1: L1 penalty coefficient, adds ``l1 * sign(θ)`` to the gradient (default 0).

    The state is created for every parameter at construction (as torch does), with
    ``step`` 0 and ``sum`` filled with τ.

    See also: ``torch.optim.Adagrad``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([3.0]))
        >>> opt = cr.optim.Adagrad([w], lr=1.0)
        >>> (w * w).sum().backward()
        >>> _ = opt.step()          # first step: g / sqrt(g²) = 1 whatever g is
        >>> float(w)
        2.0
    """

    _state_keys = ("step", "sum")

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        l1: float = 0,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
            "l1": l1,
        }
        super().__init__(params, defaults)

    def _validate(self, hp: dict[str, Any]) -> None:
        check_common("Adagrad", hp)
        check_nonneg("Adagrad", hp, "lr_decay", "lr_decay value")
        check_nonneg("Adagrad", hp, "initial_accumulator_value", "initial_accumulator_value value")
        check_nonneg("Adagrad", hp, "eps", "epsilon value")

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:  # eager state, as torch's constructor creates it
            self.state[p] = self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        xp = get_array_module(p.data)
        return {"step": 0, "sum": xp.full_like(p.data, group["initial_accumulator_value"])}

    def _update(self, p: Tensor, g: Array, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = get_array_module(p.data)
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        addcmul_(state["sum"], g, g, 1)
        std = xp.sqrt(state["sum"])
        std += group["eps"]
        update = g * clr
        update /= std
        p.data -= update
