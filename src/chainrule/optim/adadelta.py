r"""AdaDelta: step sizes from running RMS of gradients and of past updates."""

from __future__ import annotations

from typing import Any

from chainrule.backend import Array, get_array_module
from chainrule.optim.optimizer import Optimizer, ParamsT, addcmul_, check_common, check_nonneg
from chainrule.tensor import Tensor

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""AdaDelta, PyTorch's ``torch.optim.Adadelta``.

    The notes' (002) rule: :math:`Δθ_t = -\mathrm{RMS}[Δθ]_{t-1} / \mathrm{RMS}[g]_t · g_t`,
    :math:`θ_{t+1} = θ_t + Δθ_t`: a window of recent squared gradients replaces Adagrad's
    ever-growing sum, and the ratio of two RMS values gives the step its units, so no learning
    rate is needed (PyTorch keeps ``lr`` as a final scale, 1.0 by default).

    The full algorithm (γ lr, ρ decay, λ weight decay)::

        v_0 ← 0 (square avg), u_0 ← 0 (accumulated update)
        for t = 1, 2, ...:
            g_t ← ∇θ f_t(θ_{t-1})            (−∇ if maximize; + l1·sign(θ); + λ θ_{t-1})
            v_t ← ρ v_{t-1} + (1 − ρ) g_t²
            Δx_t ← √(u_{t-1} + ε) / √(v_t + ε) · g_t
            u_t ← ρ u_{t-1} + (1 − ρ) Δx_t²
            θ_t ← θ_{t-1} − γ Δx_t

    Args:
        params: parameters or parameter groups.
        lr: scale γ applied to the update (default 1.0).
        rho: decay ρ of the running averages, in [0, 1] (default 0.9).
        eps: added inside the square roots (default 1e-6).
        weight_decay: L2 penalty λ (default 0).
        maximize: maximize the objective instead of minimizing it.
        l1: L1 penalty coefficient, adds ``l1 * sign(θ)`` to the gradient (default 0).

    See also: ``torch.optim.Adadelta``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0], dtype=cr.float64))
        >>> opt = cr.optim.Adadelta([w])
        >>> (w * w).sum().backward()
        >>> _ = opt.step()          # first step: sqrt(eps) / sqrt(0.1 g² + eps) · g
        >>> round(1.0 - float(w), 6)
        0.003162
    """

    _state_keys = ("step", "square_avg", "acc_delta")

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
        l1: float = 0,
    ) -> None:
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "l1": l1,
        }
        super().__init__(params, defaults)

    def _validate(self, hp: dict[str, Any]) -> None:
        check_common("Adadelta", hp)
        check_nonneg("Adadelta", hp, "rho", "rho value")
        if hp["rho"] > 1.0:
            raise ValueError(f"Invalid rho value: {hp['rho']} (Adadelta expects 0 <= rho <= 1)")
        check_nonneg("Adadelta", hp, "eps", "epsilon value")

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        xp = get_array_module(p.data)
        return {"step": 0, "square_avg": xp.zeros_like(p.data), "acc_delta": xp.zeros_like(p.data)}

    def _update(self, p: Tensor, g: Array, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = get_array_module(p.data)
        rho, eps = group["rho"], group["eps"]
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        state["step"] += 1
        square_avg *= rho
        addcmul_(square_avg, g, g, 1 - rho)
        std = square_avg + eps
        xp.sqrt(std, out=std)
        delta = acc_delta + eps
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= g
        acc_delta *= rho
        addcmul_(acc_delta, delta, delta, 1 - rho, tmp=std)
        delta *= group["lr"]
        p.data -= delta
