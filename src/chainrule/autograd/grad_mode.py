"""Gradient mode: whether ops record the graph (``no_grad``, ``enable_grad``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled"]

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    # A class attribute, read on every op: cheaper than a thread-local. chainrule, like
    # PyTorch's default mode, runs one training loop per process.
    enabled: bool = True


def is_grad_enabled() -> bool:
    """True when ops record the graph for backward."""
    return _State.enabled


class set_grad_enabled:
    """Context manager (and decorator) that sets gradient recording on or off."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.prev = _State.enabled
        _State.enabled = self.mode

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        _State.enabled = self.prev


class _GradModeContext:
    mode: bool = True

    def __enter__(self) -> None:
        self.prev = _State.enabled
        _State.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _State.enabled = self.prev

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradModeContext):
    """Disable graph recording (inference, evaluation, optimizer updates).

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0], requires_grad=True)
        >>> with cr.no_grad():
        ...     y = w * 2
        >>> y.requires_grad
        False
    """

    mode = False


class enable_grad(_GradModeContext):
    """Re-enable graph recording inside a ``no_grad`` block."""

    mode = True
