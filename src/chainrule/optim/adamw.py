r"""AdamW: Adam with decoupled weight decay."""

from __future__ import annotations

from chainrule.optim.adam import Adam
from chainrule.optim.optimizer import ParamsT

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW, PyTorch's ``torch.optim.AdamW``: Adam whose weight decay does not pass through
    the moments.

    With coupled decay (Adam's ``weight_decay``, L2 regularization) the term λθ is added to
    the gradient and then divided by :math:`\sqrt{\hat v_t}`, so weights with large gradients
    are barely decayed. AdamW shrinks the weights directly, :math:`θ ← θ (1 - γλ)`, before the
    Adam step, so every weight decays at the same rate.

    The full algorithm (γ lr, λ weight decay)::

        m_0 ← 0, v_0 ← 0, v^max_0 ← 0
        for t = 1, 2, ...:
            g_t ← ∇θ f_t(θ_{t-1})            (−∇ if maximize; + l1·sign(θ))
            θ_t ← θ_{t-1} − γ λ θ_{t-1}
            m_t ← β1 m_{t-1} + (1 − β1) g_t
            v_t ← β2 v_{t-1} + (1 − β2) g_t²
            m̂_t ← m_t / (1 − β1^t)
            v̂_t ← max(v^max_{t-1}, v_t) / (1 − β2^t)   if amsgrad   else   v_t / (1 − β2^t)
            θ_t ← θ_t − γ m̂_t / (√v̂_t + ε)

    Args:
        params: parameters or parameter groups.
        lr: learning rate γ (default 1e-3).
        betas: (β1, β2), each in [0, 1) (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: decoupled weight decay λ (default 1e-2).
        amsgrad: use the running maximum of v_t (AMSGrad).
        maximize: maximize the objective instead of minimizing it.
        l1: L1 penalty coefficient, adds ``l1 * sign(θ)`` to the gradient (default 0).

    See also: ``torch.optim.AdamW``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0], dtype=cr.float64))
        >>> opt = cr.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * 0.0).sum().backward()   # zero gradient: only the decay acts
        >>> _ = opt.step()
        >>> float(w)                     # 1 · (1 − 0.1 · 0.5)
        0.95
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        l1: float = 0,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
            l1=l1,
        )

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # AdamW is always decoupled (as torch)
            group["decoupled_weight_decay"] = True
