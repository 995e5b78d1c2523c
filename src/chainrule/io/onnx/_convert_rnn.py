r"""Converters for the fused recurrent layers (one ``RNN``/``LSTM``/``GRU`` layer and direction).

chainrule packs a layer's results along time, ``Y = [h_1 … h_T, h_n (, c_n)]`` (see
:mod:`chainrule.ops._rnn_kernels`); ONNX's ``RNN``/``LSTM``/``GRU`` ops return ``Y``
(T, 1, B, H), ``Y_h`` and ``Y_c`` (1, B, H), so the graph squeezes and concatenates them.

PyTorch and ONNX stack the gates' weight rows in different orders: the LSTM's
:math:`(i, f, g, o)` become ONNX's :math:`(i, o, f, c)`, the GRU's :math:`(r, z, n)` become
:math:`(z, r, h)`. The rows are reordered by ``Slice``/``Concat`` nodes on the initializers
(which keep the ``state_dict`` layout, so weights still load back), and the GRU uses
``linear_before_reset=1``: PyTorch's :math:`n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h +
b_{hn}))`. A zero initial state (the default) is left out: ONNX starts from zeros.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.ops import _rnn_kernels as K

if TYPE_CHECKING:
    from chainrule.io.onnx._exporter import Cx

__all__ = ["RNN_CONVERTERS"]

_ORDER = {"RNN": [0], "LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}


def _gates(cx: Cx, name: str, kind: str, hidden: int) -> str:
    """Rows of a (G*H, ...) weight or (G*H,) bias in ONNX's gate order."""
    order = _ORDER[kind]
    if order == list(range(len(order))):
        return name
    parts = [cx.b.slice(name, [k * hidden], [(k + 1) * hidden], [0]) for k in order]
    return cx.b.op("Concat", parts, axis=0)


def _state(cx: Cx, obj: Any) -> str:
    """An initial state (B, H) as ONNX's (1, B, H), or "" for a zero constant."""
    r = cx.ex.refs.ref(obj)
    if r is not None and r[0] == "const" and not np.any(np.asarray(r[1])):
        return ""
    return cx.b.unsqueeze(cx.v(obj), [0])


def _recurrent(kind: str) -> Any:
    n_states = 2 if kind == "LSTM" else 1

    def convert(cx: Cx) -> str:
        b = cx.b
        names = ["x", "h0", "c0"][: 1 + n_states] + ["w_ih", "w_hh", "b_ih", "b_hh"]
        a = dict(zip(names, cx.args))
        a.update({k: v for k, v in cx.rec.kwargs.items() if k in names})
        reverse = bool(cx.kw("reverse", False))
        hidden = cx.shape(a["w_hh"])[1]
        w = b.unsqueeze(_gates(cx, cx.v(a["w_ih"]), kind, hidden), [0])
        r = b.unsqueeze(_gates(cx, cx.v(a["w_hh"]), kind, hidden), [0])
        bias = ""
        if a.get("b_ih") is not None:
            both = [_gates(cx, cx.v(a[k]), kind, hidden) for k in ("b_ih", "b_hh")]
            bias = b.unsqueeze(b.op("Concat", both, axis=0), [0])
        ins = [cx.v(a["x"]), w, r, bias, "", _state(cx, a["h0"])]
        if kind == "LSTM":
            ins.append(_state(cx, a["c0"]))
        while ins[-1] == "":
            ins.pop()
        attrs: dict[str, Any] = {
            "hidden_size": hidden,
            "direction": "reverse" if reverse else "forward",
        }
        if kind == "RNN":
            attrs["activations"] = ["Relu" if cx.kw("nonlinearity") == "relu" else "Tanh"]
        if kind == "GRU":
            attrs["linear_before_reset"] = 1
        outs = b.op(kind, ins, n_out=1 + n_states, **attrs)
        return b.op("Concat", [b.squeeze(outs[0], [1]), *outs[1:]], axis=0)

    return convert


RNN_CONVERTERS: dict[Any, tuple[Any, bool]] = {
    K.RNNLayer: (_recurrent("RNN"), False),
    K.LSTMLayer: (_recurrent("LSTM"), False),
    K.GRULayer: (_recurrent("GRU"), False),
}
