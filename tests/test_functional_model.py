"""The functional pattern: chainrule.Input / chainrule.Model.

Graph building and shape checks, multi-input / multi-output forward against an equivalent
hand-written Module and against PyTorch (outputs and every gradient), shared layers, dict
inputs and outputs, summary text, state_dict round trips, and the errors."""

from __future__ import annotations

import copy
import doctest
import importlib
import importlib.util
import re

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.random as crandom
from chainrule.models import functional
from example_helpers import load_example
from harness import assert_close, module_gradcheck, to_torch


# ---------------------------------------------------------------------------------------------
# A two-input, two-head model in three forms: functional, hand-written chainrule, PyTorch.
def functional_two_heads() -> cr.Model:
    image = cr.Input(shape=(6,), name="image")
    tab = cr.Input(shape=(3,), name="tab")
    h1 = cr.nn.Linear(6, 5)(image).tanh()
    h2 = cr.nn.Linear(3, 4)(tab).relu()
    joined = cr.nn.Concatenate(dim=1)([h1, h2])
    label = cr.nn.Linear(9, 4)(joined)
    value = cr.nn.Linear(9, 1)(joined)
    return cr.Model(inputs=[image, tab], outputs=[label, value], name="two_heads")


class HandWritten(cr.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = cr.nn.Linear(6, 5)
        self.linear_1 = cr.nn.Linear(3, 4)
        self.linear_2 = cr.nn.Linear(9, 4)
        self.linear_3 = cr.nn.Linear(9, 1)

    def forward(self, image, tab):
        j = cr.cat([self.linear(image).tanh(), self.linear_1(tab).relu()], 1)
        return self.linear_2(j), self.linear_3(j)


class TorchTwoHeads(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(6, 5)
        self.linear_1 = torch.nn.Linear(3, 4)
        self.linear_2 = torch.nn.Linear(9, 4)
        self.linear_3 = torch.nn.Linear(9, 1)

    def forward(self, image, tab):
        j = torch.cat([torch.tanh(self.linear(image)), torch.relu(self.linear_1(tab))], 1)
        return self.linear_2(j), self.linear_3(j)


def _data(rng, n=7, dtype=np.float32):
    return rng.standard_normal((n, 6)).astype(dtype), rng.standard_normal((n, 3)).astype(dtype)


def test_graph_shapes_names_and_children():
    model = functional_two_heads()
    assert [t.shape for t in model.inputs] == [(None, 6), (None, 3)]
    assert [t.shape for t in model.outputs] == [(None, 4), (None, 1)]
    assert model.input_names == ["image", "tab"]
    assert list(model._modules) == [
        "linear",
        "tanh",
        "linear_1",
        "relu",
        "concatenate",
        "linear_2",
        "linear_3",
    ]
    assert model.output_names == ["linear_2", "linear_3"]
    assert list(model.state_dict()) == [
        f"linear{s}.{p}" for s in ("", "_1", "_2", "_3") for p in ("weight", "bias")
    ]
    assert model.get_layer("linear_3").out_features == 1
    with pytest.raises(KeyError, match="has no layer 'dense'.*linear_3"):
        model.get_layer("dense")


def test_forward_matches_hand_written_module(rng):
    model, hand = functional_two_heads(), HandWritten()
    hand.load_state_dict(model.state_dict())
    a, b = _data(rng)
    xa, xb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    ya, yb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    out, ref = model(xa, xb), hand(ya, yb)
    assert isinstance(out, tuple) and len(out) == 2
    for o, r in zip(out, ref):
        np.testing.assert_array_equal(o.data, r.data)
    u = [rng.uniform(-1, 1, o.shape).astype(np.float32) for o in out]
    sum(((o * cr.tensor(w)).sum() for o, w in zip(out, u)), cr.tensor(0.0)).backward()
    sum(((r * cr.tensor(w)).sum() for r, w in zip(ref, u)), cr.tensor(0.0)).backward()
    np.testing.assert_array_equal(xa.grad.data, ya.grad.data)
    np.testing.assert_array_equal(xb.grad.data, yb.grad.data)
    hp = dict(hand.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.grad.data, hp[name].grad.data, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_heads_match_torch(dtype, rng):
    model, tmodel = functional_two_heads(), TorchTwoHeads()
    d = np.dtype(dtype)
    tmodel = tmodel.to(torch.float64 if d == np.float64 else torch.float32)
    model.to(d)
    model.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
    a, b = _data(rng, dtype=dtype)
    cx = [cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)]
    tx = [to_torch(a, requires_grad=True), to_torch(b, requires_grad=True)]
    out, tout = model(*cx), tmodel(*tx)
    for o, t in zip(out, tout):
        assert_close(o, t, d, "forward")
    u = [rng.uniform(-1, 1, o.shape).astype(dtype) for o in out]
    sum(((o * cr.tensor(w)).sum() for o, w in zip(out, u)), cr.tensor(0.0, dtype=d)).backward()
    sum((t * torch.from_numpy(w)).sum() for t, w in zip(tout, u)).backward()
    for c, t in zip(cx, tx):
        assert_close(c.grad, t.grad, d, "input grad")
    tp = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        assert_close(p.grad, tp[name].grad, d, f"grad of {name}")


def test_two_heads_gradcheck(rng):
    module_gradcheck(functional_two_heads(), list(_data(rng, n=3, dtype=np.float64)))


def test_input_forms(rng):
    model = functional_two_heads()
    a, b = (cr.tensor(x) for x in _data(rng))
    ref = model(a, b)
    for out in (
        model([a, b]),
        model((a, b)),
        model({"image": a, "tab": b}),
        model(image=a, tab=b),
        model(a.numpy(), b.numpy()),  # arrays are wrapped
    ):
        for o, r in zip(out, ref):
            np.testing.assert_array_equal(o.data, r.data)


def test_dict_inputs_and_outputs(rng):
    a = cr.Input(shape=(4,))
    b = cr.Input(shape=(2,))
    h = cr.nn.Linear(4, 2)(a)
    model = cr.Model(
        inputs={"left": a, "right": b},
        outputs={"prod": cr.nn.Multiply()(h, b), "sum": cr.nn.Add()(h, b)},
    )
    assert model.input_names == ["left", "right"] and model.output_names == ["prod", "sum"]
    x, y = rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((5, 2))
    y = y.astype(np.float32)
    out = model({"right": cr.tensor(y), "left": cr.tensor(x)})
    assert isinstance(out, dict) and list(out) == ["prod", "sum"]
    lin = model.get_layer("linear")
    hx = x @ lin.weight.data.T + lin.bias.data
    assert_close(out["prod"], hx * y)
    assert_close(out["sum"], hx + y)
    with pytest.raises(
        ValueError, match=r"expects inputs \['left', 'right'\]; missing \['right'\]"
    ):
        model({"left": cr.tensor(x)})
    with pytest.raises(ValueError, match=r"unknown \['middle'\]"):
        model({"left": cr.tensor(x), "right": cr.tensor(y), "middle": cr.tensor(y)})


def test_single_output_and_default_input_names():
    x, y = cr.Input(3), cr.Input(2)
    z = cr.nn.Linear(5, 1)(cr.nn.Concatenate()([x, y]))
    model = cr.Model([x, y], z)
    assert model.input_names == ["input", "input_1"]
    out = model(cr.ones(2, 3), cr.ones(2, 2))
    assert isinstance(out, cr.Tensor) and out.shape == (2, 1)
    listed = cr.Model([x, y], [z])(cr.ones(2, 3), cr.ones(2, 2))
    assert isinstance(listed, tuple) and len(listed) == 1


def test_shared_layer_one_parameter_set_gradients_accumulate(rng):
    a, b = cr.Input((4,), name="a"), cr.Input((4,), name="b")
    encoder = cr.nn.Linear(4, 3)
    head = cr.nn.Linear(3, 2)
    model = cr.Model([a, b], head(cr.nn.Add()(encoder(a), encoder(b).relu())))
    assert [n for n, _ in model.named_parameters()] == [
        "linear.weight",
        "linear.bias",
        "linear_1.weight",
        "linear_1.bias",
    ]
    assert model.num_parameters() == 4 * 3 + 3 + 3 * 2 + 2

    class TorchShared(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 3)
            self.linear_1 = torch.nn.Linear(3, 2)

        def forward(self, a, b):
            return self.linear_1(self.linear(a) + torch.relu(self.linear(b)))

    tm = TorchShared()
    model.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    xa, xb = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((6, 4))
    xb = xb.astype(np.float32)
    out, tout = model(cr.tensor(xa), cr.tensor(xb)), tm(to_torch(xa), to_torch(xb))
    assert_close(out, tout)
    u = rng.uniform(-1, 1, out.shape).astype(np.float32)
    (out * cr.tensor(u)).sum().backward()
    (tout * torch.from_numpy(u)).sum().backward()
    tp = dict(tm.named_parameters())
    for name, p in model.named_parameters():
        assert_close(p.grad, tp[name].grad, what=name)
    # the shared weight's gradient is the sum of both branches' contributions
    enc_grad = model.linear.weight.grad.data.copy()
    model.zero_grad()
    only_a = cr.Model([a, b], head(encoder(a)))(cr.tensor(xa), cr.tensor(xb))
    assert not np.allclose(enc_grad, 0)
    (only_a * cr.tensor(u)).sum().backward()
    assert not np.allclose(model.linear.weight.grad.data, enc_grad)


def test_summary_text(capsys):
    model = functional_two_heads()
    model.summary()
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == 'Model: "two_heads"'
    assert lines[1].split() == [
        "Layer",
        "(type)",
        "Output",
        "Shape",
        "Param",
        "#",
        "Connected",
        "to",
    ]
    rows = {line.split()[0]: line for line in lines[3:12]}
    assert rows["image"].split() == ["image", "(Input)", "(None,", "6)", "0", "-"]
    assert rows["linear"].split() == ["linear", "(Linear)", "(None,", "5)", "35", "image"]
    assert rows["concatenate"].split()[-2:] == ["tanh,", "relu"]
    assert rows["concatenate"].split()[2:4] == ["(None,", "9)"]
    assert rows["linear_3"].split() == ["linear_3", "(Linear)", "(None,", "1)", "10", "concatenate"]
    total = 6 * 5 + 5 + 3 * 4 + 4 + 9 * 4 + 4 + 9 + 1
    assert f"Total params: {total}" in text
    assert f"Trainable params: {total}" in text and "Non-trainable params: 0" in text
    model.linear.requires_grad_(False)
    assert "Non-trainable params: 35" in model.summary_text()
    assert model.summary_text().endswith("Inputs: image, tab  |  Outputs: linear_2, linear_3")


def test_summary_marks_shared_calls_and_multi_outputs():
    x = cr.Input((4,), name="x")
    lin = cr.nn.Linear(4, 4)
    left, right = cr.nn.Lambda(lambda t: t.chunk(2, dim=1), name="halves")(lin(lin(x)))
    model = cr.Model(x, [left, right])
    rows = [line.split() for line in model.summary_text().splitlines()[3:6]]
    assert rows[0] == ["x", "(Input)", "(None,", "4)", "0", "-"]
    assert rows[1] == ["linear", "(Linear)", "(None,", "4)", "20", "x"]
    assert rows[2] == ["linear", "(Linear)", "(None,", "4)", "shared", "linear[0][0]"]
    text = model.summary_text()
    assert "halves (Lambda)  [(None, 2), (None, 2)]" in text
    assert text.splitlines()[6].split()[-1] == "linear[1][0]"
    assert model.output_names == ["halves[0][0]", "halves[0][1]"]
    a, b = model(cr.ones(3, 4))
    assert a.shape == b.shape == (3, 2)


def test_state_dict_round_trip(rng):
    a, b = (cr.tensor(x) for x in _data(rng))
    model = functional_two_heads()
    cr.manual_seed(123)
    other = functional_two_heads()
    assert not np.array_equal(model(a, b)[0].data, other(a, b)[0].data)
    other.load_state_dict(model.state_dict())
    for o, r in zip(other(a, b), model(a, b)):
        np.testing.assert_array_equal(o.data, r.data)
    assert list(model.state_dict()) == list(TorchTwoHeads().state_dict())
    clone = copy.deepcopy(model)
    for o, r in zip(clone(a, b), model(a, b)):
        np.testing.assert_array_equal(o.data, r.data)


def test_symbolic_tensor_ops_record_nodes(rng):
    x = cr.Input((2, 3), name="x")
    y = cr.Input((6,), name="y")
    flat = x.flatten(1)
    z = (flat + y) * 2.0 - 1.0
    z = 3.0 / (1.0 + (-z).exp()) + flat[:, :1] ** 2
    assert flat.shape == (None, 6) and z.shape == (None, 6)
    model = cr.Model([x, y], z)
    xv, yv = rng.uniform(-1, 1, (4, 2, 3)), rng.uniform(-1, 1, (4, 6))
    xv, yv = xv.astype(np.float32), yv.astype(np.float32)
    f = xv.reshape(4, 6)
    zz = (f + yv) * 2.0 - 1.0
    expected = 3.0 / (1.0 + np.exp(-zz)) + f[:, :1] ** 2
    assert_close(model(cr.tensor(xv), cr.tensor(yv)), expected)


def test_variable_length_dimension():
    seq = cr.Input((None, 8), name="seq")
    h = cr.nn.Linear(8, 2)(seq)
    pooled = h.mean(dim=1)
    assert h.shape == (None, None, 2) and pooled.shape == (None, 2)
    model = cr.Model(seq, pooled)
    assert model(cr.ones(3, 11, 8)).shape == (3, 2)
    assert model(cr.ones(1, 2, 8)).shape == (1, 2)


def test_batch_axis_found_wherever_a_layer_puts_it():
    seq = cr.Input((None, 8), name="seq")
    out, (h, c) = cr.nn.LSTM(8, 16, num_layers=2, batch_first=True)(seq)
    assert out.shape == (None, None, 16)
    assert h.shape == c.shape == (2, None, 16)  # (layers, batch, hidden)
    total = cr.nn.Lambda(lambda t: t.sum(dim=0), name="over_batch")(cr.Input((3,)))
    assert total.shape == (3,)  # no batch axis left
    model = cr.Model(seq, [out[:, -1], h])
    last, hidden = model(cr.ones(4, 7, 8))
    assert last.shape == (4, 16) and hidden.shape == (2, 4, 16)
    row = r"lstm \(LSTM\)\s+\[\(None, None, 16\), \[\(2, None, 16\), \(2, None, 16\)\]\]"
    assert re.search(row, model.summary_text())


def test_nested_model_as_layer(rng):
    x = cr.Input((4,))
    inner = cr.Model(x, cr.nn.Linear(4, 2)(x), name="encoder")
    a, b = cr.Input((4,), name="a"), cr.Input((4,), name="b")
    outer = cr.Model([a, b], cr.nn.Subtract()(inner(a), inner(b)), name="siamese")
    assert list(outer.state_dict()) == ["encoder.linear.weight", "encoder.linear.bias"]
    xa, xb = rng.standard_normal((3, 4)).astype(np.float32), np.zeros((3, 4), np.float32)
    lin = inner.get_layer("linear")
    assert_close(outer(xa, xb), xa @ lin.weight.data.T)
    assert "encoder (Model)" in outer.summary_text()


class Probe(cr.nn.Module):
    """Records the mode it runs in, and draws random numbers in training mode."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[bool] = []

    def forward(self, x):
        self.seen.append(self.training)
        return x * cr.rand(*x.shape) if self.training else x


def test_build_runs_in_eval_mode_restores_modes_and_draws_no_random_numbers():
    probe = Probe()
    x = cr.Input((3,))
    state = crandom.get_rng_state()
    model = cr.Model(x, probe(x))
    assert probe.seen == [False] * 3  # two dummy batches recorded, one replayed by Model
    assert probe.training and model.training
    assert crandom.get_rng_state() == state
    probe.eval()
    cr.Model(x, probe(x))
    assert not probe.training
    model.train()
    model(cr.ones(2, 3))
    assert probe.seen[-1] is True


def test_shape_mismatch_names_layer_and_both_shapes():
    x = cr.Input(shape=(20,), name="features")
    h = cr.nn.Linear(20, 16)(x)
    with pytest.raises(ValueError) as info:
        cr.nn.Linear(30, 4)(h)
    msg = str(info.value)
    assert "layer Linear(in_features=30, out_features=4, bias=True)" in msg
    assert "got shape (None, 16) float32 from Linear" in msg
    assert "expected (None, ..., 30)" in msg
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(ValueError, match=r"got shape \(None, 20\) float32 from input 'features'"):
        cr.nn.Concatenate(dim=2)([x, x])
    wide = cr.Input((3,), dtype="float64", name="wide")
    with pytest.raises(TypeError, match=r"got shape \(None, 3\) float64 from input 'wide'.*dtype"):
        cr.nn.Linear(3, 2)(wide)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: cr.Input(shape=(0, 3)), ValueError, r"Input: shape must be .*got \(0, 3\)"),
        (lambda: cr.Input(shape="28x28"), ValueError, r"Input: shape must be"),
        (lambda: cr.Input(shape=(2.5,)), ValueError, r"Input: shape must be"),
        (lambda: cr.Input(shape=(3,), name=7), TypeError, r"Input: name must be"),
        (lambda: cr.Input(shape=(3,), dtype="float99"), (TypeError, ValueError), "float99"),
    ],
)
def test_input_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_model_construction_errors():
    a, b = cr.Input((4,), name="a"), cr.Input((4,), name="b")
    h = cr.nn.Linear(4, 4)(a)
    both = cr.nn.Add()(h, b)
    with pytest.raises(ValueError, match=r"graph disconnected.*input 'b' \(None, 4\).*\('a'\)"):
        cr.Model(a, both)
    with pytest.raises(TypeError, match=r"inputs\[0\] is the output of Linear, not a chainrule"):
        cr.Model(h, both)
    with pytest.raises(TypeError, match=r"inputs\[1\] is a Tensor"):
        cr.Model([a, cr.zeros(2, 4)], both)
    with pytest.raises(TypeError, match=r"outputs\[0\] is a Tensor"):
        cr.Model(a, cr.zeros(2))
    with pytest.raises(ValueError, match="listed twice"):
        cr.Model([a, a, b], both)
    with pytest.raises(ValueError, match="inputs is empty"):
        cr.Model([], both)
    with pytest.raises(ValueError, match="input names must be unique"):
        cr.Model([cr.Input(2, name="x"), cr.Input(2, name="x")], both)


def test_forward_errors():
    model = functional_two_heads()
    with pytest.raises(TypeError, match=r"expects 2 inputs \(image, tab\), got 1"):
        model(cr.ones(2, 6))
    with pytest.raises(ValueError, match=r"input 'tab' expects shape \(None, 3\).*got \(2, 4\)"):
        model(cr.ones(2, 6), cr.ones(2, 4))
    with pytest.raises(ValueError, match=r"input 'image' expects shape \(None, 6\).*got \(6,\)"):
        model(cr.ones(6), cr.ones(2, 3))
    with pytest.raises(TypeError, match="either positionally or by name"):
        model(cr.ones(2, 6), tab=cr.ones(2, 3))
    with pytest.raises(TypeError, match="some inputs are symbolic"):
        model(cr.ones(2, 6), cr.Input((3,)))


def test_model_called_on_symbolic_inputs_by_name():
    inner = functional_two_heads()
    image, tab = cr.Input((6,), name="i"), cr.Input((3,), name="t")
    label, value = inner(image=image, tab=tab)
    assert (label.shape, value.shape) == ((None, 4), (None, 1))
    outer = cr.Model([image, tab], value)
    assert outer(cr.ones(2, 6), cr.ones(2, 3)).shape == (2, 1)
    assert list(outer.state_dict())[0] == "two_heads.linear.weight"


def test_symbolic_tensor_has_no_values():
    x = cr.Input((3,), name="x")
    assert repr(x) == "<SymbolicTensor shape=(None, 3) dtype=float32 name='x'>"
    with pytest.raises(TypeError, match="no truth value"):
        bool(x)
    with pytest.raises(TypeError, match="cannot be iterated"):
        list(x)
    with pytest.raises(AttributeError, match="holds no values"):
        x.data  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        x.nonsense  # noqa: B018
    with pytest.raises(TypeError, match="no values to convert"):
        np.asarray(x)


def test_layer_returning_non_tensor_is_an_error():
    x = cr.Input((3,))
    with pytest.raises(TypeError, match="returned int, not a tensor"):
        cr.nn.Lambda(lambda t: 3, name="three")(x)
    with pytest.raises(TypeError, match="different number of tensors, or of dimensions"):
        cr.nn.Lambda(lambda t: t if t.shape[0] == 2 else t[0], name="odd")(x)


def test_integer_input_dtype_and_reserved_names():
    idx = cr.Input((5,), dtype="int64", name="tokens")
    assert idx.dtype == np.dtype("int64")
    onehot = cr.nn.Lambda(lambda t: (t == 0).float(), name="summary")(idx)
    model = cr.Model(idx, onehot)
    assert "summary_1" in model._modules  # "summary" is a Model method
    out = model(cr.tensor(np.array([[0, 1, 0, 2, 0]])))
    assert out.tolist() == [[1.0, 0.0, 1.0, 0.0, 1.0]]


def test_module_call_fast_path_unchanged():
    lin = cr.nn.Linear(3, 2)
    calls = []
    lin.register_forward_hook(lambda m, i, o: calls.append(o.shape))
    assert lin(cr.ones(4, 3)).shape == (4, 2) and calls == [(4, 2)]
    # lists and tuples of real tensors still reach forward untouched
    assert cr.nn.Concatenate()([cr.ones(1, 2), cr.ones(1, 1)]).shape == (1, 3)


def _fit_data(rng, n=256):
    a, b = _data(rng, n=n)
    labels = (a[:, 0] + b[:, 0] > 0).astype(np.int64) + 2 * (a[:, 1] > 0)
    target = (a[:, :3].sum(1, keepdims=True) * 0.5).astype(np.float32)
    return a, b, labels, target


def test_two_heads_train_with_fit_and_loss_weights(rng):
    """fit with a loss per output (a list) and loss_weights; thresholds from a measured run
    (final accuracy 0.91, regression MSE 0.027 against a target variance of 0.75)."""
    a, b, labels, target = _fit_data(rng)
    model = functional_two_heads()
    model.compile(
        optimizer=cr.optim.Adam(model.parameters(), lr=0.01),
        loss=["cross_entropy", "mse"],
        loss_weights=[1.0, 0.5],
        metrics=[["accuracy"], ["mae"]],
    )
    history = model.fit([a, b], [labels, target], batch_size=32, epochs=15, verbose=0).history
    assert history["loss"][-1] < 0.4 * history["loss"][0]
    for first, second, total in zip(
        history["output_0_loss"], history["output_1_loss"], history["loss"]
    ):
        assert total == pytest.approx(first + 0.5 * second, rel=1e-5)
    assert history["output_0_accuracy"][-1] > 0.8
    logits, value = model.predict([a, b])
    assert (logits.argmax(1) == labels).mean() > 0.8
    assert np.mean((value - target) ** 2) < 0.1 * np.var(target)


def test_dict_outputs_train_with_fit_by_name(rng):
    a, b, labels, target = _fit_data(rng)
    image, tab = cr.Input((6,), name="image"), cr.Input((3,), name="tab")
    h = cr.nn.Concatenate()([cr.nn.Linear(6, 8)(image).tanh(), tab])
    model = cr.Model(
        [image, tab], {"label": cr.nn.Linear(11, 4)(h), "value": cr.nn.Linear(11, 1)(h)}
    )
    model.compile(
        optimizer=cr.optim.Adam(model.parameters(), lr=0.01),
        loss={"label": "cross_entropy", "value": "mse"},
        loss_weights={"label": 1.0, "value": 2.0},
    )
    x = {"image": a, "tab": b}
    history = model.fit(
        x, {"label": labels, "value": target}, batch_size=64, epochs=10, verbose=0
    ).history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["value_loss"][-1] < 0.2 * history["value_loss"][0]
    out = model.predict(x)
    assert sorted(out) == ["label", "value"] and out["value"].shape == (256, 1)


def test_docstring_examples():
    for mod in (functional, importlib.import_module("chainrule.nn.modules.merge")):
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, mod.__name__


def test_functional_two_heads_example_learns():
    """examples/functional_two_heads.py --quick (8 epochs; measured: digit accuracy 0.994,
    ink MAE 0.0098 against 0.0278 for the training mean; 2-15 s on the shared 2 cores)."""
    result = load_example("functional_two_heads").main(["--quick", "--quiet"])
    assert result["accuracy"] > 0.95
    assert result["ink_mae"] < 0.6 * result["baseline_mae"]
