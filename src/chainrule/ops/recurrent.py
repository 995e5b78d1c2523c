r"""Recurrent layers as fused ops: one RNN, LSTM or GRU layer in one direction is one graph node.

The formulas, the BPTT equations and why the recurrence is fused are in
:mod:`chainrule.ops._rnn_kernels`; this module holds the functions users call, with their
checks. ``chainrule.nn.RNN/LSTM/GRU`` stack these layers (several layers, both directions).

Inputs are time-major: ``input`` is (T, B, input_size) and a state is (B, hidden_size).
"""

from __future__ import annotations

from typing import Any

from chainrule.ops._rnn_kernels import GRULayer, LSTMLayer, RNNLayer
from chainrule.tensor import Tensor

__all__ = ["gru_layer", "lstm_layer", "rnn_layer"]

GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def check_layer_args(
    op: str,
    kind: str,
    input: Tensor,
    states: tuple[Tensor, ...],
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
) -> None:
    """Clear errors for the shapes and dtypes of one layer's arguments; ``op`` names the caller
    in messages, ``kind`` ("RNN", "LSTM" or "GRU") sets the number of gates."""
    for name, t in (("input", input), ("weight_ih", weight_ih), ("weight_hh", weight_hh)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if weight_hh.ndim != 2 or weight_ih.ndim != 2:
        raise ValueError(
            f"{op}: weight_ih and weight_hh must be 2-D, got shapes {weight_ih.shape} "
            f"and {weight_hh.shape}"
        )
    H = weight_hh.shape[1]
    G = GATES[kind] * H
    if weight_hh.shape[0] != G or weight_ih.shape[0] != G:
        raise ValueError(
            f"{op}: expected weight_ih of shape ({G}, input_size) and weight_hh of shape "
            f"({G}, {H}), got {weight_ih.shape} and {weight_hh.shape}"
        )
    if input.ndim != 3 or input.shape[2] != weight_ih.shape[1]:
        raise ValueError(
            f"{op}: expected input of shape (seq_len, batch, {weight_ih.shape[1]}) "
            f"(input_size={weight_ih.shape[1]}), got {input.shape}"
        )
    B = input.shape[1]
    for k, s in enumerate(states):
        if not isinstance(s, Tensor) or s.shape != (B, H):
            got = s.shape if isinstance(s, Tensor) else type(s).__name__
            raise ValueError(f"{op}: expected state {k} of shape ({B}, {H}), got {got}")
    biases: list[Tensor] = []
    if bias_ih is not None and bias_hh is not None:
        biases = [bias_ih, bias_hh]
    elif bias_ih is not None or bias_hh is not None:
        raise ValueError(f"{op}: give both bias_ih and bias_hh, or neither")
    if any(b.shape != (G,) for b in biases):
        shapes = " and ".join(str(b.shape) for b in biases)
        raise ValueError(f"{op}: expected biases of shape ({G},), got {shapes}")
    dt = weight_ih.dtype
    for t in [input, weight_hh, *states, *biases]:
        if t.dtype != dt:
            raise TypeError(
                f"{op}: all tensors must have the parameters' dtype {dt}, got {t.dtype} "
                f"(convert the input, or the layer with .to({t.dtype}))"
            )
    if input.shape[0] == 0:
        raise ValueError(f"{op}: expected a sequence of at least one step, got {input.shape}")


def run_rnn(input: Tensor, h0: Tensor, w: tuple[Any, ...], nonlinearity: str, reverse: bool):
    """Checked arguments in; ``(output, h_n)`` out. ``w`` = (w_ih, w_hh, b_ih, b_hh)."""
    T = input.shape[0]
    Y = RNNLayer.apply(input, h0, *w, nonlinearity=nonlinearity, reverse=reverse)
    return Y[:T], Y[T]


def run_lstm(input: Tensor, h0: Tensor, c0: Tensor, w: tuple[Any, ...], reverse: bool):
    """Checked arguments in; ``(output, h_n, c_n)`` out."""
    T = input.shape[0]
    Y = LSTMLayer.apply(input, h0, c0, *w, reverse=reverse)
    return Y[:T], Y[T], Y[T + 1]


def run_gru(input: Tensor, h0: Tensor, w: tuple[Any, ...], reverse: bool):
    """Checked arguments in; ``(output, h_n)`` out."""
    T = input.shape[0]
    Y = GRULayer.apply(input, h0, *w, reverse=reverse)
    return Y[:T], Y[T]


def rnn_layer(
    input: Tensor,
    hx: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
    reverse: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""One Elman RNN layer over a sequence:
    :math:`h_t = σ(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`, σ = tanh or ReLU.

    Args:
        input: (T, B, I), time-major.
        hx: the initial state :math:`h_0`, (B, H).
        weight_ih, weight_hh: (H, I) and (H, H), PyTorch's layout.
        bias_ih, bias_hh: (H,) each, or both ``None``.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        reverse: run from the last step to the first (the backward direction of a
            bidirectional layer); ``output[t]`` stays aligned with ``input[t]``.

    Returns:
        ``(output, h_n)``: all states (T, B, H) and the last one (B, H).

    Example:
        >>> import chainrule as cr
        >>> x, h0 = cr.randn(5, 2, 3), cr.zeros(2, 4)
        >>> out, h_n = rnn_layer(x, h0, cr.randn(4, 3), cr.randn(4, 4))
        >>> out.shape, h_n.shape, bool((out[-1].numpy() == h_n.numpy()).all())
        ((5, 2, 4), (2, 4), True)
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_layer: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    check_layer_args("rnn_layer", "RNN", input, (hx,), weight_ih, weight_hh, bias_ih, bias_hh)
    return run_rnn(input, hx, (weight_ih, weight_hh, bias_ih, bias_hh), nonlinearity, reverse)


def lstm_layer(
    input: Tensor,
    hx: tuple[Tensor, Tensor],
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    r"""One LSTM layer over a sequence (gates i, f, g, o as PyTorch):
    :math:`c_t = f ⊙ c_{t-1} + i ⊙ g`, :math:`h_t = o ⊙ \tanh c_t` (full formulas and BPTT in
    :class:`chainrule.ops._rnn_kernels.LSTMLayer`).

    Args:
        input: (T, B, I), time-major.
        hx: ``(h_0, c_0)``, each (B, H).
        weight_ih, weight_hh: (4H, I) and (4H, H), rows in the order i, f, g, o.
        bias_ih, bias_hh: (4H,) each, or both ``None``.
        reverse: run from the last step to the first.

    Returns:
        ``(output, (h_n, c_n))``: all hidden states (T, B, H), the last hidden and cell states.

    Example:
        >>> import chainrule as cr
        >>> x, h0, c0 = cr.randn(5, 2, 3), cr.zeros(2, 4), cr.zeros(2, 4)
        >>> out, (h_n, c_n) = lstm_layer(x, (h0, c0), cr.randn(16, 3), cr.randn(16, 4))
        >>> out.shape, h_n.shape, c_n.shape
        ((5, 2, 4), (2, 4), (2, 4))
    """
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"lstm_layer: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
    check_layer_args("lstm_layer", "LSTM", input, tuple(hx), weight_ih, weight_hh, bias_ih, bias_hh)
    out, h, c = run_lstm(input, hx[0], hx[1], (weight_ih, weight_hh, bias_ih, bias_hh), reverse)
    return out, (h, c)


def gru_layer(
    input: Tensor,
    hx: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""One GRU layer over a sequence (gates r, z, n as PyTorch):
    :math:`n = \tanh(W_{in} x + b_{in} + r ⊙ (W_{hn} h + b_{hn}))`,
    :math:`h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}` (full formulas and BPTT in
    :class:`chainrule.ops._rnn_kernels.GRULayer`).

    Args:
        input: (T, B, I), time-major.
        hx: the initial state :math:`h_0`, (B, H).
        weight_ih, weight_hh: (3H, I) and (3H, H), rows in the order r, z, n.
        bias_ih, bias_hh: (3H,) each, or both ``None``.
        reverse: run from the last step to the first.

    Returns:
        ``(output, h_n)``: all states (T, B, H) and the last one (B, H).

    Example:
        >>> import chainrule as cr
        >>> x, h0 = cr.randn(5, 2, 3), cr.zeros(2, 4)
        >>> out, h_n = gru_layer(x, h0, cr.randn(12, 3), cr.randn(12, 4))
        >>> out.shape, h_n.shape
        ((5, 2, 4), (2, 4))
    """
    check_layer_args("gru_layer", "GRU", input, (hx,), weight_ih, weight_hh, bias_ih, bias_hh)
    return run_gru(input, hx, (weight_ih, weight_hh, bias_ih, bias_hh), reverse)
