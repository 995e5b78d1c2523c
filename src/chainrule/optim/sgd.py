r"""Stochastic gradient descent, with momentum, dampening and Nesterov momentum."""

from __future__ import annotations

from typing import Any

from chainrule.backend import Array, get_array_module
from chainrule.optim.optimizer import Optimizer, ParamsT, check_common, check_nonneg
from chainrule.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), PyTorch's ``torch.optim.SGD``.

    The notes' (002) update is :math:`θ ← θ - η ∇J(θ)`; "batch", "stochastic" and
    "mini-batch" gradient descent are this same rule with gradients of the whole set, one
    example or n examples. With momentum, the notes write
    :math:`Δw^t = -η δ a + α Δw^{t-1}`; PyTorch (and chainrule) keep the velocity without the
    learning rate, :math:`b_t = μ b_{t-1} + g_t`, :math:`θ_t = θ_{t-1} - γ b_t`, which is the
    same trajectory for a constant learning rate.

    The full algorithm (γ lr, λ weight decay, μ momentum, τ dampening)::

        for t = 1, 2, ...:
            g_t ← ∇θ f_t(θ_{t-1})          (−∇ if maximize)
            g_t ← g_t + l1 · sign(θ_{t-1})  if l1 ≠ 0        (chainrule's L1 option)
            g_t ← g_t + λ θ_{t-1}           if λ ≠ 0
            if μ ≠ 0:
                b_t ← g_t                          if t = 1
                b_t ← μ b_{t-1} + (1 − τ) g_t      otherwise
                g_t ← g_t + μ b_t   if nesterov    else   g_t ← b_t
            θ_t ← θ_{t-1} − γ g_t

    Args:
        params: parameters or parameter groups.
        lr: learning rate γ (default 1e-3).
        momentum: momentum factor μ (default 0).
        dampening: dampening τ for momentum (default 0).
        weight_decay: L2 penalty λ (default 0).
        nesterov: Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing it.
        l1: L1 penalty coefficient, adds ``l1 * sign(θ)`` to the gradient (default 0).

    See also: ``torch.optim.SGD``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()
        ...     _ = opt.step()
        >>> round(float(w), 4)      # 1 - 0.2 = 0.8, then 0.8 - 0.1 * (0.9 * 2 + 1.6) = 0.46
        0.46
    """

    _state_keys = ("momentum_buffer",)
    _scalar_state_keys = ()

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        l1: float = 0,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "l1": l1,
        }
        super().__init__(params, defaults)

    def _validate(self, hp: dict[str, Any]) -> None:
        check_common("SGD", hp)
        check_nonneg("SGD", hp, "momentum", "momentum value")
        if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):
            raise ValueError(
                "Nesterov momentum requires a momentum and zero dampening (SGD got "
                f"momentum={hp['momentum']}, dampening={hp['dampening']})"
            )

    def _update(self, p: Tensor, g: Array, state: dict[str, Any], group: dict[str, Any]) -> None:
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = g.copy()
                state["momentum_buffer"] = buf
            else:
                buf *= momentum
                dampening = group["dampening"]
                buf += g if dampening == 0 else g * (1 - dampening)  # g * 1 == g exactly
            g = g + buf * momentum if group["nesterov"] else buf
        # θ -= γ g, through a reused temporary (no allocation per step; same rounding)
        p.data -= get_array_module(g).multiply(g, group["lr"], out=self._scratch(g))
