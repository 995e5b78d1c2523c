"""``Parameter``: a tensor that a :class:`~chainrule.nn.Module` registers as learnable."""

from __future__ import annotations

from typing import Any

from chainrule.tensor import Tensor, _to_array

__all__ = ["Buffer", "Parameter"]


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and is registered by ``Module.__setattr__``.

    Example:
        >>> import chainrule as cr
        >>> p = cr.nn.Parameter(cr.zeros(2))
        >>> p.requires_grad
        True
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = _to_array([])
        arr = data.detach().data if isinstance(data, Tensor) else _to_array(data)
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a module attribute."""

    __slots__ = ("persistent",)

    def __init__(self, data: Any, persistent: bool = True) -> None:
        arr = data.detach().data if isinstance(data, Tensor) else _to_array(data)
        super().__init__(arr)
        self.persistent = persistent
