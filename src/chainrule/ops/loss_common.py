"""Argument checks and the ``reduction`` shared by every loss.

``reduction`` follows PyTorch: ``'none'`` keeps one loss per element (or per sample), ``'sum'``
adds them and ``'mean'`` averages them (the weighted losses divide by the total weight).
"""

from __future__ import annotations

from typing import Any

from chainrule.backend import get_array_module
from chainrule.ops.elementwise import _floating, cast
from chainrule.ops.reduction import mean, sum
from chainrule.tensor import Tensor

__all__ = [
    "as_target",
    "check_reduction",
    "float_input",
    "float_target",
    "legacy_args",
    "reduce",
    "same_shape",
    "weight_array",
]

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: Any, op: str, extra: tuple[str, ...] = ()) -> str:
    """``reduction`` itself, or a ValueError listing the valid values."""
    valid = REDUCTIONS + extra
    if reduction not in valid:
        raise ValueError(
            f"{op}: reduction must be one of {', '.join(repr(v) for v in valid)}, got {reduction!r}"
        )
    return reduction


def legacy_args(size_average: Any, reduce: Any, op: str) -> None:
    """PyTorch's deprecated ``size_average``/``reduce`` are accepted positionally but must be
    left at None: ``reduction`` says the same thing unambiguously."""
    if size_average is not None or reduce is not None:
        raise ValueError(
            f"{op}: size_average and reduce are deprecated (as in PyTorch); use reduction="
            "'mean' | 'sum' | 'none' instead"
        )


def reduce(loss: Tensor, reduction: str) -> Tensor:
    """Apply ``'mean'``, ``'sum'`` or ``'none'`` to an elementwise loss."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return sum(loss)
    return mean(loss)


def as_target(target: Any, op: str) -> Tensor:
    """The target as a Tensor (arrays and lists are accepted and converted)."""
    if isinstance(target, Tensor):
        return target
    if isinstance(target, (list, tuple)) or hasattr(target, "__array__"):
        return Tensor(target)
    raise TypeError(f"{op}: target must be a Tensor, got {type(target).__name__}")


def same_shape(input: Tensor, target: Tensor, op: str) -> None:
    """Elementwise losses need equal shapes: a silently broadcast (N, 1) against (N,) target
    is a classic bug, so chainrule refuses it where PyTorch only warns."""
    if input.shape != target.shape:
        raise ValueError(
            f"{op}: target shape {tuple(target.shape)} does not match input shape "
            f"{tuple(input.shape)}; they must be equal (reshape the target, e.g. "
            f"target.reshape{tuple(input.shape)})"
        )


def float_target(input: Tensor, target: Any, op: str, allow_int: bool = True) -> Tensor:
    """A floating target of the input's dtype and shape (integers are converted when
    ``allow_int``, else refused with a TypeError naming the expected dtype)."""
    target = as_target(target, op)
    if target.data.dtype.kind != "f":
        if not allow_int:
            raise TypeError(
                f"{op}: target must be a floating tensor (probabilities/labels as "
                f"{input.data.dtype}), got dtype {target.data.dtype}; convert it with .float()"
            )
        target = Tensor._make(target.data.astype(input.data.dtype), False, None)
    elif target.data.dtype != input.data.dtype:
        target = cast(target, input.data.dtype)
    same_shape(input, target, op)
    return target


def float_input(input: Any, op: str) -> Tensor:
    """The input as a floating tensor (integers are converted to the default dtype)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    return _floating(input, op)


def weight_array(weight: Any, input: Tensor, op: str, name: str = "weight") -> Any:
    """A constant weight (Tensor or array) as an array of the input's dtype, or None."""
    if weight is None:
        return None
    arr = (
        weight.data if isinstance(weight, Tensor) else get_array_module(input.data).asarray(weight)
    )
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{op}: {name} must be numeric, got dtype {arr.dtype}")
    return arr.astype(input.data.dtype, copy=False)
