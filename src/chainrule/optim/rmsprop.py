r"""RMSprop: divide the gradient by a running RMS of recent gradients."""

from __future__ import annotations

from typing import Any

from chainrule.backend import Array, get_array_module
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    addcmul_,
    check_common,
    check_nonneg,
    lerp_,
)
from chainrule.tensor import Tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop, PyTorch's ``torch.optim.RMSprop``.

    The notes' (002) rule: :math:`E[g^2]_t = 0.9 E[g^2]_{t-1} + 0.1 g_t^2`,
    :math:`θ_{t+1} = θ_t - η / \sqrt{E[g^2]_t + ε} · g_t`: Adagrad with a moving average in
    place of the sum, so the step size does not vanish. PyTorch's default smoothing is
    α = 0.99, ε goes outside the root, and the centered variant divides by an estimate of the
    gradient's variance instead of its raw second moment.

    The full algorithm (α smoothing, γ lr, λ weight decay, μ momentum)::

        v_0 ← 0, g^ave_0 ← 0, b_0 ← 0
        for t = 1, 2, ...:
            g_t ← ∇θ f_t(θ_{t-1})            (−∇ if maximize; + l1·sign(θ); + λ θ_{t-1})
            v_t ← α v_{t-1} + (1 − α) g_t²
            ṽ_t ← v_t
            if centered:
                g^ave_t ← g^ave_{t-1} α + (1 − α) g_t
                ṽ_t ← ṽ_t − (g^ave_t)²
            if μ > 0:
                b_t ← μ b_{t-1} + g_t / (√ṽ_t + ε)
                θ_t ← θ_{t-1} − γ b_t
            else:
                θ_t ← θ_{t-1} − γ g_t / (√ṽ_t + ε)

    Args:
        params: parameters or parameter groups.
        lr: learning rate γ (default 1e-2).
        alpha: smoothing constant α (default 0.99).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty λ (default 0).
        momentum: momentum factor μ (default 0).
        centered: normalize by the estimated variance of the gradient.
        maximize: maximize the objective instead of minimizing it.
        l1: L1 penalty coefficient, adds ``l1 * sign(θ)`` to the gradient (default 0).

    See also: ``torch.optim.RMSprop``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0], dtype=cr.float64))
        >>> opt = cr.optim.RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward()
        >>> _ = opt.step()          # first step: g / sqrt(0.01 g²) = 10, times lr
        >>> round(float(w), 6)
        0.9
    """

    _state_keys = ("step", "square_avg", "momentum_buffer", "grad_avg")

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
        l1: float = 0,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "l1": l1,
        }
        super().__init__(params, defaults)

    def _validate(self, hp: dict[str, Any]) -> None:
        check_common("RMSprop", hp)
        check_nonneg("RMSprop", hp, "eps", "epsilon value")
        check_nonneg("RMSprop", hp, "momentum", "momentum value")
        check_nonneg("RMSprop", hp, "alpha", "alpha value")

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        xp = get_array_module(p.data)
        state: dict[str, Any] = {"step": 0, "square_avg": xp.zeros_like(p.data)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = xp.zeros_like(p.data)
        if group["centered"]:
            state["grad_avg"] = xp.zeros_like(p.data)
        return state

    def _update(self, p: Tensor, g: Array, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = get_array_module(p.data)
        alpha, lr = group["alpha"], group["lr"]
        square_avg = state["square_avg"]
        state["step"] += 1
        square_avg *= alpha
        addcmul_(square_avg, g, g, 1 - alpha)
        if group["centered"]:
            grad_avg = state.get("grad_avg")
            if grad_avg is None:  # centered switched on after the first step
                grad_avg = state["grad_avg"] = xp.zeros_like(p.data)
            lerp_(grad_avg, g, 1 - alpha)
            avg = addcmul_(square_avg.copy(), grad_avg, grad_avg, -1)
            xp.sqrt(avg, out=avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += group["eps"]
        if group["momentum"] > 0:
            buf = state.get("momentum_buffer")
            if buf is None:  # momentum switched on after the first step
                buf = state["momentum_buffer"] = xp.zeros_like(p.data)
            buf *= group["momentum"]
            buf += xp.divide(g, avg, out=avg)
            buf_lr = xp.multiply(buf, lr, out=avg)
            p.data -= buf_lr
        else:
            update = g * lr
            update /= avg
            p.data -= update
