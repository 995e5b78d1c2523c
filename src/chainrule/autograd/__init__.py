"""Reverse-mode automatic differentiation: ``Function``, the backward engine, grad modes and
numerical gradient checking."""

from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["Function", "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled"]
