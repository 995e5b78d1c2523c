r"""Recurrent cells: ``RNNCell``, ``LSTMCell``, ``GRUCell`` (one time step), with PyTorch's
signatures, parameter names (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``) and gate
orders. A cell runs through the same fused op as the layers, with a sequence of length 1.
Exported as ``chainrule.nn.<Name>`` through :mod:`chainrule.nn.modules.recurrent`.
"""

from __future__ import annotations

import math
from typing import Any

from chainrule import dtypes
from chainrule.backend import get_array_module
from chainrule.creation import zeros
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops.recurrent import GATES, run_gru, run_lstm, run_rnn
from chainrule.tensor import Tensor

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "RNNCellBase"]


def _zeros_state(x: Tensor, batch: int, hidden: int) -> Tensor:
    """The default state: zeros (batch, hidden) in x's dtype, no gradient."""
    xp = get_array_module(x.data)
    return Tensor._make(xp.zeros((batch, hidden), dtype=x.dtype), False, None)


def _check_dtype(name: str, t: Tensor, dtype: Any, what: str) -> None:
    if t.dtype != dtype:
        raise TypeError(
            f"{name}: {what} has dtype {t.dtype} but the layer's parameters are {dtype}; "
            f"convert the {what} or call .to({t.dtype}) on the layer"
        )


class RNNCellBase(Module):
    """Shared machinery of the cells: parameters ``weight_ih`` (G·H, input_size), ``weight_hh``
    (G·H, H), ``bias_ih``, ``bias_hh`` (G·H), all ~ U(−1/√H, 1/√H). A cell is one time step of
    the matching layer and runs through the same fused op with a sequence of length 1."""

    def __init__(
        self, kind: str, input_size: int, hidden_size: int, bias: bool, dtype: Any = None
    ) -> None:
        super().__init__()
        name = {"RNN": "RNNCell", "LSTM": "LSTMCell", "GRU": "GRUCell"}[kind]
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: {what} must be a positive int, got {v!r}")
        self._kind = kind
        self._name = name
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        d = dtypes.resolve_dtype(dtype) if dtype is not None else None
        G = GATES[kind] * hidden_size
        self.weight_ih = Parameter(zeros(G, input_size, dtype=d))
        self.weight_hh = Parameter(zeros(G, hidden_size, dtype=d))
        if bias:
            self.bias_ih = Parameter(zeros(G, dtype=d))
            self.bias_hh = Parameter(zeros(G, dtype=d))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare(self, input: Any, hx: Any) -> tuple[Tensor, list[Tensor], bool]:
        """Check shapes; return the input as a (1, B, I) sequence, the states as (B, H) and
        whether the input was batched."""
        name = self._name
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input of shape (batch, {self.input_size}) or "
                f"({self.input_size},) (input_size={self.input_size}), got {input.shape}"
            )
        _check_dtype(name, input, self.weight_ih.dtype, "input")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        B, H = x.shape[0], self.hidden_size
        n_states = 2 if self._kind == "LSTM" else 1
        if hx is None:
            z = _zeros_state(x, B, H)
            states = [z] * n_states
        else:
            if n_states == 2:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(
                        f"{name}: hx must be a tuple (h_0, c_0) of tensors, got {type(hx).__name__}"
                    )
                parts = list(hx)
            else:
                parts = [hx]
            states = []
            expected = (B, H) if batched else (H,)
            for what, h in zip(("h_0", "c_0"), parts):
                if not isinstance(h, Tensor) or h.shape != expected:
                    got = h.shape if isinstance(h, Tensor) else type(h).__name__
                    raise ValueError(f"{name}: expected {what} of shape {expected}, got {got}")
                _check_dtype(name, h, self.weight_ih.dtype, what)
                states.append(h if batched else h.unsqueeze(0))
        return x.unsqueeze(0), states, batched

    def _weights(self) -> tuple[Any, ...]:
        return (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


class RNNCell(RNNCellBase):
    r"""One Elman step: :math:`h' = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})` (or ReLU).

    ``forward(input, hx=None)``: input (B, input_size) or (input_size,); hx the same with
    hidden_size (zeros when ``None``); returns h'.

    Example:
        >>> import chainrule as cr
        >>> cell = cr.nn.RNNCell(10, 20)
        >>> cell(cr.randn(3, 10)).shape
        (3, 20)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        super().__init__("RNN", input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), batched = self._prepare(input, hx)
        _, h1 = run_rnn(x, h, self._weights(), self.nonlinearity, False)
        return h1 if batched else h1.squeeze(0)


class LSTMCell(RNNCellBase):
    r"""One LSTM step (gates i, f, g, o): :math:`c' = f ⊙ c + i ⊙ g`, :math:`h' = o ⊙ \tanh c'`.

    ``forward(input, hx=None)`` with ``hx = (h, c)``; returns ``(h', c')``.

    Example:
        >>> import chainrule as cr
        >>> cell = cr.nn.LSTMCell(10, 20)
        >>> h, c = cell(cr.randn(3, 10))
        >>> h.shape, c.shape
        ((3, 20), (3, 20))
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, dtype)

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Tensor]:
        x, (h, c), batched = self._prepare(input, hx)
        _, h1, c1 = run_lstm(x, h, c, self._weights(), False)
        if not batched:
            return h1.squeeze(0), c1.squeeze(0)
        return h1, c1


class GRUCell(RNNCellBase):
    r"""One GRU step (gates r, z, n): :math:`n = \tanh(W_{in} x + b_{in} + r ⊙ (W_{hn} h +
    b_{hn}))`, :math:`h' = (1 - z) ⊙ n + z ⊙ h`.

    Example:
        >>> import chainrule as cr
        >>> cell = cr.nn.GRUCell(10, 20)
        >>> cell(cr.randn(10)).shape
        (20,)
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), batched = self._prepare(input, hx)
        _, h1 = run_gru(x, h, self._weights(), False)
        return h1 if batched else h1.squeeze(0)
