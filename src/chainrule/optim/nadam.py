r"""NAdam: Adam with Nesterov momentum (a look-ahead first moment)."""

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
    scalar_dtype,
)
from chainrule.tensor import Tensor

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam (Dozat, 2016), PyTorch's ``torch.optim.NAdam``.

    The notes (004) describe Nadam as Adam with Nesterov's accelerated gradient: the update
    uses the momentum it is about to have (:math:`μ_{t+1}`) on :math:`m_t` plus the current
    gradient, which looks one step ahead. The momentum coefficient warms up,
    :math:`μ_t = β_1 (1 - ½ · 0.96^{t ψ})`, and :math:`\prod μ` replaces Adam's
    :math:`β_1^t` in the bias correction.

    The full algorithm (γ lr, λ weight decay, ψ momentum decay)::

        m_0 ← 0, v_0 ← 0, μ-product ← 1
        for t = 1, 2, ...:
            g_t ← ∇θ f_t(θ_{t-1})            (−∇ if maximize; + l1·sign(θ))
            if λ ≠ 0:
                θ_{t-1} ← θ_{t-1} (1 − γ λ)     if decoupled_weight_decay
                g_t ← g_t + λ θ_{t-1}           otherwise
            μ_t ← β1 (1 − ½ 0.96^{t ψ});   μ_{t+1} ← β1 (1 − ½ 0.96^{(t+1) ψ})
            m_t ← β1 m_{t-1} + (1 − β1) g_t
            v_t ← β2 v_{t-1} + (1 − β2) g_t²
            m̂_t ← μ_{t+1} m_t / (1 − ∏_{i≤t+1} μ_i) + (1 − μ_t) g_t / (1 − ∏_{i≤t} μ_i)
            v̂_t ← v_t / (1 − β2^t)
            θ_t ← θ_{t-1} − γ m̂_t / (√v̂_t + ε)

    Args:
        params: parameters or parameter groups.
        lr: learning rate γ (default 2e-3).
        betas: (β1, β2), each in [0, 1) (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: weight decay λ (default 0).
        momentum_decay: ψ (default 4e-3).
        decoupled_weight_decay: decay the weights directly, as AdamW (NAdamW).
        maximize: maximize the objective instead of minimizing it.
        l1: L1 penalty coefficient, adds ``l1 * sign(θ)`` to the gradient (default 0).

    NOTE: the running product ∏μ is kept, as torch keeps it, in float32 unless the default
    dtype is float64 (torch's ``_get_scalar_dtype``), so trajectories match torch's.

    See also: ``torch.optim.NAdam``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.NAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> _ = opt.step()
        >>> round(float(w), 4)     # 1 − 0.1 (the gradient term) − 0.0056 (the momentum term)
        0.8944
    """

    _state_keys = ("step", "mu_product", "exp_avg", "exp_avg_sq")
    _scalar_state_keys = ("step", "mu_product")

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
        l1: float = 0,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas) if isinstance(betas, list) else betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "l1": l1,
        }
        super().__init__(params, defaults)

    def _validate(self, hp: dict[str, Any]) -> None:
        check_common("NAdam", hp)
        check_nonneg("NAdam", hp, "eps", "epsilon value")
        check_betas("NAdam", hp)
        check_nonneg("NAdam", hp, "momentum_decay", "momentum_decay value")

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        xp = get_array_module(p.data)
        return {
            "step": 0,
            "mu_product": 1.0,
            "exp_avg": xp.zeros_like(p.data),
            "exp_avg_sq": xp.zeros_like(p.data),
        }

    def _update(self, p: Tensor, g: Array, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = get_array_module(p.data)
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        psi = group["momentum_decay"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        step = state["step"]
        bias_correction2 = 1 - beta2**step
        if wd != 0 and group["decoupled_weight_decay"]:
            p.data *= 1 - lr * wd
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
        sd = scalar_dtype().type
        mu_product = float(sd(state["mu_product"]) * sd(mu))
        state["mu_product"] = mu_product
        lerp_(exp_avg, g, 1 - beta1)
        exp_avg_sq *= beta2
        addcmul_(exp_avg_sq, g, g, 1 - beta2)
        denom = exp_avg_sq / bias_correction2
        xp.sqrt(denom, out=denom)
        denom += eps
        mu_product_next = mu_product * mu_next
        update = g * (-lr * (1.0 - mu) / (1.0 - mu_product))
        update /= denom
        p.data += update
        xp.multiply(exp_avg, (-lr * mu_next) / (1.0 - mu_product_next), out=update)
        update /= denom
        p.data += update
