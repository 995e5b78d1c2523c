r"""``chainrule.nn.utils``: gradient clipping, explicit L1/L2 penalties, flat parameter vectors.

Gradient clipping fights exploding gradients (deep or recurrent nets): ``clip_grad_norm_``
rescales all gradients together so that their joint norm is at most ``max_norm`` (the
direction is kept), ``clip_grad_value_`` clamps each element. Both change ``p.grad`` in place,
as torch's do (every leaf owns its gradient buffer).

The penalties are differentiable tensors a user adds to the loss:
``loss + λ/2 · l2_penalty(model)`` has the gradient of SGD's ``weight_decay=λ``, and
``loss + α · l1_penalty(model)`` the gradient of the optimizers' ``l1=α`` option.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from chainrule import ops
from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import errstate, get_array_module
from chainrule.tensor import Tensor

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "l1_penalty",
    "l2_penalty",
    "parameters_to_vector",
    "vector_to_parameters",
]


def _tensors(parameters: Any, owner: str) -> list[Tensor]:
    from chainrule.nn.module import Module

    if isinstance(parameters, Tensor):
        return [parameters]
    if isinstance(parameters, Module):
        return list(parameters.parameters())
    out = list(parameters)
    for i, p in enumerate(out):
        if not isinstance(p, Tensor):
            raise TypeError(f"{owner} expects tensors, but item {i} is a {type(p).__name__}")
    return out


def _norm(a: Any, norm_type: float) -> Any:
    """The p-norm of an array as a 0-d array of its dtype (torch.linalg.vector_norm)."""
    xp = get_array_module(a)
    a = a.reshape(-1)
    if a.size == 0:
        return xp.zeros((), dtype=a.dtype)
    if norm_type == math.inf:
        return xp.abs(a).max()
    if norm_type == -math.inf:
        return xp.abs(a).min()
    if norm_type == 0:
        return xp.asarray(xp.count_nonzero(a), dtype=a.dtype)
    if norm_type == 2:
        return xp.sqrt(xp.dot(a, a))
    if norm_type == 1:
        return xp.abs(a).sum()
    return (xp.abs(a) ** norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(
    parameters: Any,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    r"""Rescale gradients in place so that their total norm is at most ``max_norm``.

    .. math::
        \|g\| = \Big\| \big(\|g_1\|_p, \ldots, \|g_n\|_p\big) \Big\|_p, \qquad
        g_i ← g_i · \min\Big(1, \frac{\text{max\_norm}}{\|g\| + 10^{-6}}\Big)

    (the norm of all gradients seen as one vector; the gradients keep their direction).
    Parameters without a gradient are skipped.

    Args:
        parameters: a tensor, an iterable of tensors, or a Module.
        max_norm: the largest allowed total norm.
        norm_type: p of the p-norm; ``math.inf`` for the max norm (default 2).
        error_if_nonfinite: raise if the total norm is NaN or infinite (default False:
            the gradients are then scaled by a NaN/zero factor, as torch).

    Returns:
        The total norm before clipping, as a 0-d tensor (of the gradients' dtype).

    Raises:
        RuntimeError: ``error_if_nonfinite`` and the total norm is NaN or infinite.

    See also: ``torch.nn.utils.clip_grad_norm_``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.zeros(2))
        >>> w.grad = cr.tensor([3.0, 4.0])
        >>> cr.nn.utils.clip_grad_norm_([w], max_norm=1.0)
        tensor(5.)
        >>> w.grad
        tensor([0.6, 0.8])
    """
    params = _tensors(parameters, "clip_grad_norm_")
    norm_type = float(norm_type)
    max_norm = float(max_norm)
    grads = [p.grad.data for p in params if p.grad is not None]
    if not grads:
        return Tensor(0.0)
    xp = get_array_module(grads[0])
    dtype = grads[0].dtype
    norms = xp.stack([xp.asarray(_norm(g, norm_type), dtype=dtype) for g in grads])
    total = _norm(norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            f"non-finite ({float(total)}), so it cannot be clipped. To disable this error and "
            "scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    # torch: clip_coef = max_norm / (total + 1e-6), evaluated as reciprocal(total + 1e-6) *
    # max_norm in the gradients' dtype, then clamped to 1; the multiply always happens.
    with errstate(divide="ignore", invalid="ignore"):
        coef = xp.minimum(
            dtype.type(1) / (total + dtype.type(1e-6)) * dtype.type(max_norm), dtype.type(1.0)
        )
        for g in grads:  # NaN/inf grads stay NaN, as torch (silently)
            g *= coef.astype(g.dtype)
    return Tensor._make(xp.asarray(total), False, None)


def clip_grad_value_(parameters: Any, clip_value: float) -> None:
    r"""Clamp every gradient element into :math:`[-c, c]`, in place.

    Args:
        parameters: a tensor, an iterable of tensors, or a Module.
        clip_value: the bound c.

    See also: ``torch.nn.utils.clip_grad_value_``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.zeros(3))
        >>> w.grad = cr.tensor([-5.0, 0.5, 2.0])
        >>> cr.nn.utils.clip_grad_value_([w], 1.0)
        >>> w.grad
        tensor([-1. ,  0.5,  1. ])
    """
    c = float(clip_value)
    for p in _tensors(parameters, "clip_grad_value_"):
        if p.grad is not None:
            g = p.grad.data
            get_array_module(g).clip(g, -c, c, out=g)


def l1_penalty(parameters: Any) -> Tensor:
    r""":math:`\sum_i |θ_i|` over all parameters, a differentiable scalar (L1, lasso).

    Add ``α · l1_penalty(model)`` to the loss: its gradient :math:`α\,\mathrm{sign}(θ)` pushes
    weights to exactly zero (sparse models). Equals the optimizers' ``l1=α`` option.

    Args:
        parameters: a Module, a tensor or an iterable of tensors.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0]))
        >>> float(cr.nn.utils.l1_penalty([w]))
        3.0
    """
    return _penalty(parameters, "l1_penalty", lambda p: ops.sum(ops.abs(p)))


def l2_penalty(parameters: Any) -> Tensor:
    r""":math:`\sum_i θ_i^2` over all parameters, a differentiable scalar (L2, ridge).

    Add ``λ/2 · l2_penalty(model)`` to the loss: its gradient :math:`λθ` is the coupled
    ``weight_decay=λ`` of SGD and Adam (not AdamW's decoupled decay).

    Args:
        parameters: a Module, a tensor or an iterable of tensors.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0]))
        >>> float(cr.nn.utils.l2_penalty([w]))
        5.0
    """
    return _penalty(parameters, "l2_penalty", lambda p: ops.sum(p * p))


def _penalty(parameters: Any, fn: str, term: Any) -> Tensor:
    """``Σ term(p)`` over the parameters, as one differentiable scalar."""
    params = _tensors(parameters, fn)
    if not params:
        raise ValueError(f"{fn}: got no parameters (an empty module or list)")
    total = term(params[0])
    for p in params[1:]:
        total = total + term(p)
    return total


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Flatten and concatenate parameters into one vector (differentiable).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.utils.parameters_to_vector(cr.nn.Linear(2, 1).parameters()).shape
        (3,)
    """
    params = _tensors(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector got no parameters")
    return ops.cat([ops.reshape(p, (-1,)) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters' data (not recorded).

    Raises:
        TypeError: ``vec`` is not a tensor.
        ValueError: ``vec`` is not 1-D or its length differs from the parameters' total size.

    Example:
        >>> import chainrule as cr
        >>> lin = cr.nn.Linear(2, 1)
        >>> cr.nn.utils.vector_to_parameters(cr.tensor([1.0, 2.0, 3.0]), lin.parameters())
        >>> lin.weight.tolist(), lin.bias.tolist()
        ([[1.0, 2.0]], [3.0])
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters expects a Tensor, but got: {type(vec).__name__}")
    params = _tensors(parameters, "vector_to_parameters")
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ValueError(
            f"vector_to_parameters expects a 1-D vector of {total} elements (the parameters' "
            f"total size), got shape {vec.shape}"
        )
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.data[...] = vec.data[offset : offset + n].reshape(p.shape)
            offset += n
