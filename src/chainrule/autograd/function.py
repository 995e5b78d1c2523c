"""``Function``: one differentiable op, its forward and backward side by side.

Note [First-order backward]
    ``forward`` and ``backward`` take and return backend arrays, not Tensors. Each backward
    is then a direct transcription of the derivative in the notes and runs at NumPy speed.
    The price is that gradients are not themselves differentiable (no double backward),
    which no chainrule feature needs. Do not "fix" this by making backward build a graph.

An op is written as::

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = get_array_module(x).exp(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, gy):
            (y,) = ctx.saved_tensors
            return (gy * y,)

and called as ``Exp.apply(t)``. ``backward`` returns one entry per positional input of
``forward``, ``None`` where ``ctx.needs_input_grad[i]`` is false or the input is not a tensor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chainrule.autograd.grad_mode import _State

if TYPE_CHECKING:
    from chainrule.tensor import Tensor

__all__ = ["Function"]


class Function:
    """Base class of every differentiable op; an instance is the ``ctx`` of one call."""

    parents: tuple[Any, ...]
    needs_input_grad: tuple[bool, ...]
    saved_tensors: tuple[Any, ...]

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep exactly what backward needs (freed after backward runs)."""
        self.saved_tensors = arrays

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Any, grad_output: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run ``forward`` on the arrays of ``args`` and, when needed, record the node."""
        ctx = cls.__new__(cls)
        if _State.enabled:
            arrays = []
            needs = []
            any_needs = False
            for a in args:
                if isinstance(a, Tensor):
                    arrays.append(a.data)
                    r = a._requires_grad
                    needs.append(r)
                    any_needs = any_needs or r
                else:
                    arrays.append(a)
                    needs.append(False)
            record = any_needs
            ctx.needs_input_grad = tuple(needs) if record else (False,) * len(needs)
        else:  # no_grad: no bookkeeping at all, just the arrays
            arrays = [a.data if isinstance(a, Tensor) else a for a in args]
            record = False
            ctx.needs_input_grad = (False,) * len(arrays)
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        except ValueError as e:  # NumPy's broadcast error names neither the op nor the fix
            if "could not be broadcast" not in str(e):
                raise
            raise ValueError(f"{cls.__name__.lower()}: {e}") from None
        if record and out.dtype.kind == "f":  # integer and bool results carry no gradient
            ctx.parents = args
            return Tensor._make(out, True, ctx)
        return Tensor._make(out, False, None)


from chainrule.tensor import Tensor  # noqa: E402  (circular: Tensor delegates to ops)
