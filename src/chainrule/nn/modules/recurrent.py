r"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` (and, re-exported from
:mod:`~chainrule.nn.modules.recurrent_cells`, the cells ``RNNCell``, ``LSTMCell``, ``GRUCell``),
with PyTorch's signatures, defaults, parameter names, gate orders and shapes, so a PyTorch
``state_dict`` loads as is.

Each layer of each direction runs as one fused op (:mod:`chainrule.ops.recurrent`); this module
stacks them: layer k > 0 reads the output of layer k − 1 (both directions concatenated on the
feature axis when bidirectional), with dropout between layers in training mode.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from chainrule import dtypes
from chainrule.creation import zeros
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.modules.recurrent_cells import (
    GRUCell,
    LSTMCell,
    RNNCell,
    RNNCellBase,
    _check_dtype,
    _zeros_state,
)
from chainrule.nn.parameter import Parameter
from chainrule.ops.dropout import dropout
from chainrule.ops.recurrent import GATES, run_gru, run_lstm, run_rnn
from chainrule.ops.shape import cat, stack
from chainrule.tensor import Tensor

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]


class RNNBase(Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU` (PyTorch's
    ``nn.RNNBase``): parameters ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (suffix ``_reverse`` for the backward direction), all initialised
    :math:`U(-1/\\sqrt{H}, 1/\\sqrt{H})` as PyTorch does."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        nonlinearity: str = "tanh",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = "RNN" if mode.startswith("RNN") else mode
        for what, v, lo in (
            ("input_size", input_size, 1),
            ("hidden_size", hidden_size, 1),
            ("num_layers", num_layers, 1),
        ):
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError(f"{name}: {what} must be a positive int, got {v!r}")
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float))
            or not (0 <= dropout <= 1)
        ):
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if proj_size:
            raise NotImplementedError(
                f"{name}: proj_size > 0 (LSTM with projections) is not supported; got "
                f"proj_size={proj_size}"
            )
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{name}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} has no effect with num_layers=1 (dropout is applied "
                "between layers, after every layer but the last)",
                UserWarning,
                stacklevel=3,
            )
        self.mode = mode
        self._name = name
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self.nonlinearity = nonlinearity
        d = dtypes.resolve_dtype(dtype) if dtype is not None else None
        G = GATES[name] * hidden_size
        num_directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * num_directions
            for direction in range(num_directions):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                setattr(self, "weight_ih" + sfx, Parameter(zeros(G, layer_in, dtype=d)))
                setattr(self, "weight_hh" + sfx, Parameter(zeros(G, hidden_size, dtype=d)))
                if bias:
                    setattr(self, "bias_ih" + sfx, Parameter(zeros(G, dtype=d)))
                    setattr(self, "bias_hh" + sfx, Parameter(zeros(G, dtype=d)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(−1/√H, 1/√H) (PyTorch's ``RNNBase.reset_parameters``)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """No-op, for PyTorch code that calls it (cuDNN weight packing does not apply here)."""

    @property
    def _num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _weights(self, layer: int, direction: int) -> tuple[Any, ...]:
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        p = self._parameters
        if self.bias:
            return (
                p["weight_ih" + sfx],
                p["weight_hh" + sfx],
                p["bias_ih" + sfx],
                p["bias_hh" + sfx],
            )
        return (p["weight_ih" + sfx], p["weight_hh" + sfx], None, None)

    # ---- checks ----
    def _check_input(self, input: Any) -> Tensor:
        name = self._name
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(
                f"{name}: expected a 2-D (unbatched: seq_len, input_size) or 3-D (batched) input, "
                f"got shape {input.shape}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input with {self.input_size} features in its last dimension "
                f"(input_size={self.input_size}), got input of shape {input.shape}"
            )
        time_axis = 1 if (self.batch_first and input.ndim == 3) else 0
        if input.shape[time_axis] == 0:
            raise ValueError(
                f"{name}: expected at least one time step, got input shape {input.shape}"
            )
        _check_dtype(name, input, self.weight_ih_l0.dtype, "input")
        return input

    def _check_state(self, h: Any, what: str, batch: int, batched: bool) -> Tensor:
        LD = self.num_layers * self._num_directions
        H = self.hidden_size
        expected = (LD, batch, H) if batched else (LD, H)
        if not isinstance(h, Tensor):
            raise TypeError(f"{self._name}: {what} must be a Tensor, got {type(h).__name__}")
        if h.shape != expected:
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise ValueError(
                f"{self._name}: expected {what} of shape {expected} (num_layers * num_directions, "
                + ("batch, " if batched else "")
                + f"hidden_size) for {kind} input, got {h.shape}"
            )
        _check_dtype(self._name, h, self.weight_ih_l0.dtype, what)
        return h if batched else h.unsqueeze(1)

    # ---- forward ----
    def _states(self, hx: Any, batch: int, batched: bool) -> list[list[Tensor] | None]:
        """The initial states per state kind (h, and c for the LSTM), each a list of
        (B, H) tensors indexed by layer * num_directions + direction; None for zeros."""
        kinds = ("h_0", "c_0") if self.mode == "LSTM" else ("h_0",)
        if hx is None:
            return [None] * len(kinds)
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(
                    f"LSTM: hx must be a tuple (h_0, c_0) of tensors, got {type(hx).__name__}"
                )
            parts = list(hx)
        else:
            parts = [hx]
        out: list[list[Tensor] | None] = []
        for what, h in zip(kinds, parts):
            h = self._check_state(h, what, batch, batched)
            out.append([h[k] for k in range(h.shape[0])])
        return out

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Any]:
        """Run the stacked layers over a sequence.

        Args:
            input: (L, N, input_size), or (N, L, input_size) with ``batch_first``, or an
                unbatched (L, input_size).
            hx: initial state(s) of shape (num_layers * num_directions, N, hidden_size)
                ((num_layers * num_directions, hidden_size) for unbatched input); for the LSTM
                a tuple ``(h_0, c_0)``. ``None``: zeros.

        Returns:
            ``(output, h_n)`` (``(output, (h_n, c_n))`` for the LSTM): ``output`` holds the last
            layer's states at every step, (L, N, D * hidden_size) (batch-first when
            ``batch_first``); ``h_n`` the final state of every layer and direction.
        """
        self._check_input(input)
        batched = input.ndim == 3
        if not batched:
            x = input.unsqueeze(1)
        elif self.batch_first:
            x = input.transpose(0, 1)
        else:
            x = input
        B = x.shape[1]
        states = self._states(hx, B, batched)
        zero = _zeros_state(x, B, self.hidden_size)  # the state where hx gives none
        D = self._num_directions
        finals: list[list[Tensor]] = [[] for _ in states]
        for layer in range(self.num_layers):
            outs = []
            for direction in range(D):
                k = layer * D + direction
                init_k = [s[k] if s is not None else zero for s in states]
                w = self._weights(layer, direction)
                rev = direction == 1
                if self.mode == "LSTM":
                    y, h, c = run_lstm(x, init_k[0], init_k[1], w, rev)
                    finals[0].append(h)
                    finals[1].append(c)
                elif self.mode == "GRU":
                    y, h = run_gru(x, init_k[0], w, rev)
                    finals[0].append(h)
                else:
                    y, h = run_rnn(x, init_k[0], w, self.nonlinearity, rev)
                    finals[0].append(h)
                outs.append(y)
            x = outs[0] if D == 1 else cat(outs, dim=2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout)
        output = x
        last = [stack(f, dim=0) for f in finals]
        if not batched:
            output = output.squeeze(1)
            last = [s.squeeze(1) for s in last]
        elif self.batch_first:
            output = output.transpose(0, 1)
        if self.mode == "LSTM":
            return output, (last[0], last[1])
        return output, last[0]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    r"""Elman RNN: :math:`h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`
    (or ReLU), stacked ``num_layers`` deep, optionally bidirectional (PyTorch's ``nn.RNN``).

    Args:
        input_size: features per step of the input.
        hidden_size: features of the state h.
        num_layers: stacked layers; layer k > 0 reads layer k − 1's output.
        nonlinearity: ``'tanh'`` or ``'relu'``.
        bias: learn ``bias_ih`` and ``bias_hh``.
        batch_first: input and output are (N, L, features) instead of (L, N, features).
        dropout: dropout probability on each layer's output except the last (training only).
        bidirectional: add a layer reading the sequence backwards; outputs are concatenated.

    Shapes: input (L, N, input_size); ``hx`` and ``h_n`` (num_layers * D, N, hidden_size) with
    D = 2 if bidirectional else 1; output (L, N, D * hidden_size). Unbatched input drops N.

    Example:
        >>> import chainrule as cr
        >>> rnn = cr.nn.RNN(10, 20, num_layers=2)
        >>> output, h_n = rnn(cr.randn(5, 3, 10))
        >>> output.shape, h_n.shape
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        mode = "RNN_RELU" if nonlinearity == "relu" else "RNN_TANH"
        super().__init__(
            mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, nonlinearity=nonlinearity, dtype=dtype,
        )  # fmt: skip


class LSTM(RNNBase):
    r"""Long short-term memory, PyTorch's ``nn.LSTM`` (gates i, f, g, o):

    .. math::
        i = σ(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}),\ f = σ(\dots),\
        g = \tanh(\dots),\ o = σ(\dots),\quad
        c_t = f ⊙ c_{t-1} + i ⊙ g,\quad h_t = o ⊙ \tanh c_t.

    Arguments as :class:`RNN` (without ``nonlinearity``); ``proj_size`` must be 0.
    ``forward(input, (h_0, c_0))`` returns ``(output, (h_n, c_n))``. The BPTT equations are in
    :class:`chainrule.ops._rnn_kernels.LSTMLayer`.

    Example:
        >>> import chainrule as cr
        >>> lstm = cr.nn.LSTM(10, 20, batch_first=True, bidirectional=True)
        >>> output, (h_n, c_n) = lstm(cr.randn(3, 5, 10))
        >>> output.shape, h_n.shape, c_n.shape
        ((3, 5, 40), (2, 3, 20), (2, 3, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, proj_size, dtype=dtype,
        )  # fmt: skip


class GRU(RNNBase):
    r"""Gated recurrent unit, PyTorch's ``nn.GRU`` (gates r, z, n):

    .. math::
        r = σ(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}),\quad
        z = σ(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}),

        n = \tanh(W_{in} x_t + b_{in} + r ⊙ (W_{hn} h_{t-1} + b_{hn})),\quad
        h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}.

    Arguments as :class:`RNN` (without ``nonlinearity``). The BPTT equations are in
    :class:`chainrule.ops._rnn_kernels.GRULayer`.

    Example:
        >>> import chainrule as cr
        >>> gru = cr.nn.GRU(10, 20, num_layers=2)
        >>> output, h_n = gru(cr.randn(5, 10))  # unbatched
        >>> output.shape, h_n.shape
        ((5, 20), (2, 20))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, dtype=dtype,
        )  # fmt: skip
