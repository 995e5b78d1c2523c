r"""Adam: momentum on the gradient plus RMSprop's per-parameter scaling, bias corrected."""

from __future__ import annotations

from typing import Any

from chainrule.backend import Array, get_array_module
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    addcmul_,
    check_betas,
    check_common,
    check_nonneg,
    lerp_,
)
from chainrule.tensor import Tensor

__all__ = ["Adam"]


class Adam(Optimizer):
    r"""Adam, PyTorch's ``torch.optim.Adam``.

    The notes' (002) rule: :math:`m_t = β_1 m_{t-1} + (1-β_1) g_t`,
    :math:`v_t = β_2 v_{t-1} + (1-β_2) g_t^2`, :math:`θ_{t+1} = θ_t - η \hat m_t /
    (\sqrt{\hat v_t} + ε)`. Both moments are exponentially weighted averages started at 0,
    so early on they are biased toward 0; dividing by :math:`1 - β^t` (the bias correction)
    removes that.

    The full algorithm (γ lr, λ weight decay)::

        m_0 ← 0, v_0 ← 0, v^max_0 ← 0
        for t = 1, 2, ...:
            g_t ← ∇θ f_t(θ_{t-1})            (−∇ if maximize; + l1·sign(θ))
            if λ ≠ 0:
                θ_{t-1} ← θ_{t-1} (1 − γ λ)     if decoupled_weight_decay  (AdamW)
                g_t ← g_t + λ θ_{t-1}           otherwise
            m_t ← β1 m_{t-1} + (1 − β1) g_t
            v_t ← β2 v_{t-1} + (1 − β2) g_t²
            m̂_t ← m_t / (1 − β1^t)
            if amsgrad:
                v^max_t ← max(v^max_{t-1}, v_t);  v̂_t ← v^max_t / (1 − β2^t)
            else:
                v̂_t ← v_t / (1 − β2^t)
            θ_t ← θ_{t-1} − γ m̂_t / (√v̂_t + ε)

    Args:
        params: parameters or parameter groups.
        lr: learning rate γ (default 1e-3).
        betas: (β1, β2), the decay of the first and second moments, each in [0, 1)
            (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: weight decay λ (default 0).
        amsgrad: use the running maximum of v_t (AMSGrad).
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: decay the weights directly instead of through the gradient
            (this makes Adam AdamW).
        l1: L1 penalty coefficient, adds ``l1 * sign(θ)`` to the gradient (default 0).

    See also: ``torch.optim.Adam``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> _ = opt.step()          # first step: m̂ / √v̂ = g / |g| = 1, so θ moves by lr
        >>> round(float(w), 6)
        0.9
    """

    _state_keys = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        l1: float = 0,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas) if isinstance(betas, list) else betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
            "l1": l1,
        }
        super().__init__(params, defaults)

    def _validate(self, hp: dict[str, Any]) -> None:
        name = type(self).__name__
        check_common(name, hp)
        check_nonneg(name, hp, "eps", "epsilon value")
        check_betas(name, hp)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        xp = get_array_module(p.data)
        state: dict[str, Any] = {
            "step": 0,
            "exp_avg": xp.zeros_like(p.data),
            "exp_avg_sq": xp.zeros_like(p.data),
        }
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        return state

    def _update(self, p: Tensor, g: Array, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = get_array_module(p.data)
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        step = state["step"]
        if wd != 0 and group["decoupled_weight_decay"]:
            p.data *= 1 - lr * wd
        lerp_(exp_avg, g, 1 - beta1)
        exp_avg_sq *= beta2
        addcmul_(exp_avg_sq, g, g, 1 - beta2)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        if group["amsgrad"]:
            max_sq = state.get("max_exp_avg_sq")
            if max_sq is None:  # amsgrad switched on after the first step
                max_sq = state["max_exp_avg_sq"] = xp.zeros_like(p.data)
            xp.maximum(max_sq, exp_avg_sq, out=max_sq)
            denom = xp.sqrt(max_sq)
        else:
            denom = xp.sqrt(exp_avg_sq)
        denom /= bias_correction2_sqrt
        denom += eps
        update = exp_avg * step_size
        update /= denom
        p.data -= update
