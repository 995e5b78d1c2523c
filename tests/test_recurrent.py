"""RNN, LSTM, GRU and their cells against PyTorch (outputs, final states, the gradients of the
input, the initial states and every parameter, under random upstream gradients), against
float64 finite differences, and their error messages."""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from harness import TORCH_DTYPE, assert_close, swapped_parameters, to_torch

F32, F64 = np.dtype("float32"), np.dtype("float64")
T, B, I, H = 4, 3, 5, 6

LAYERS = {  # name: (chainrule constructor, torch constructor, extra kwargs)
    "rnn_tanh": (cr.nn.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (cr.nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (cr.nn.LSTM, torch.nn.LSTM, {}),
    "gru": (cr.nn.GRU, torch.nn.GRU, {}),
}
CELLS = {
    "rnn_tanh": (cr.nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (cr.nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (cr.nn.LSTMCell, torch.nn.LSTMCell, {}),
    "gru": (cr.nn.GRUCell, torch.nn.GRUCell, {}),
}


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    """PyTorch draws the weights that both frameworks then share: seed it too, so every test
    sees the same numbers on every run."""
    torch.manual_seed(0)


def _flat(out: Any) -> list[Any]:
    """(output, h_n) or (output, (h_n, c_n)) or (h, c) or h -> a flat list of tensors."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _load_torch_weights(cmod: cr.nn.Module, tmod: torch.nn.Module) -> None:
    result = cmod.load_state_dict({k: v.detach().numpy() for k, v in tmod.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys


def recurrent_parity(
    cmod: cr.nn.Module,
    tmod: torch.nn.Module,
    x: np.ndarray,
    states: list[np.ndarray] | None,
    dtype: Any,
    seed: int = 0,
    train: bool = True,
    **tol: float,
) -> None:
    """``module_parity`` for modules returning tuples: copy torch's weights, run both, compare
    every output (sequence and final states); backpropagate random upstream gradients on all
    of them; compare the gradients of the input, of the given initial states and of every
    parameter."""
    d = np.dtype(dtype)
    tmod = tmod.to(TORCH_DTYPE[d])
    cmod.to(d)
    _load_torch_weights(cmod, tmod)
    cmod.train(train)
    tmod.train(train)
    cx = cr.tensor(x.astype(d), requires_grad=True)
    tx = to_torch(x.astype(d), requires_grad=True)
    if states is None:
        cout, tout = cmod(cx), tmod(tx)
        cs, ts = [], []
    else:
        cs = [cr.tensor(s.astype(d), requires_grad=True) for s in states]
        ts = [to_torch(s.astype(d), requires_grad=True) for s in states]
        chx = cs[0] if len(cs) == 1 else tuple(cs)
        thx = ts[0] if len(ts) == 1 else tuple(ts)
        cout, tout = cmod(cx, chx), tmod(tx, thx)
    couts, touts = _flat(cout), _flat(tout)
    assert len(couts) == len(touts)
    rng = np.random.default_rng(seed)
    closs, tloss = None, None
    for k, (c, t) in enumerate(zip(couts, touts)):
        assert_close(c, t, d, f"output {k}", **tol)
        u = rng.uniform(-1, 1, size=c.shape).astype(d)
        cterm, tterm = (c * cr.tensor(u)).sum(), (t * torch.from_numpy(u)).sum()
        closs = cterm if closs is None else closs + cterm
        tloss = tterm if tloss is None else tloss + tterm
    closs.backward()
    tloss.backward()
    assert_close(cx.grad, tx.grad, d, "grad of input", **tol)
    for k, (c, t) in enumerate(zip(cs, ts)):
        assert_close(c.grad, t.grad, d, f"grad of initial state {k}", **tol)
    tparams = dict(tmod.named_parameters())
    assert [n for n, _ in cmod.named_parameters()] == list(tparams)
    for name, p in cmod.named_parameters():
        assert p.grad is not None, f"no gradient for parameter {name}"
        assert_close(p.grad, tparams[name].grad, d, f"grad of parameter {name}", **tol)


# ---- layers: every combination of the options, float32 and float64 ----
# (batch_first is meaningless for unbatched input, so "unbatched" is a third layout)
LAYER_CASES = [
    pytest.param(kind, layers, layout, bidir, given, d, id=f"{kind}-L{layers}-{layout}-"
                 f"{'bi' if bidir else 'uni'}-{'hx' if given else 'zero'}-{d}")
    for kind, layers, layout, bidir, given, d in itertools.product(
        LAYERS, (1, 2), ("seq_first", "batch_first", "unbatched"), (False, True),
        (True, False), ("float32", "float64"),
    )
]  # fmt: skip


@pytest.mark.parametrize("kind,layers,layout,bidir,given,dtype", LAYER_CASES)
def test_layer_parity(kind, layers, layout, bidir, given, dtype, rng):
    cls, tcls, kw = LAYERS[kind]
    opts = dict(num_layers=layers, bidirectional=bidir, batch_first=layout == "batch_first", **kw)
    cmod, tmod = cls(I, H, **opts), tcls(I, H, **opts)
    shape = {"seq_first": (T, B, I), "batch_first": (B, T, I), "unbatched": (T, I)}[layout]
    x = rng.standard_normal(shape)
    LD = layers * (2 if bidir else 1)
    sshape = (LD, H) if layout == "unbatched" else (LD, B, H)
    n_states = 2 if kind == "lstm" else 1
    states = [rng.standard_normal(sshape) for _ in range(n_states)] if given else None
    recurrent_parity(cmod, tmod, x, states, dtype)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_without_bias(kind, dtype, rng):
    cls, tcls, kw = LAYERS[kind]
    cmod, tmod = cls(I, H, num_layers=2, bias=False, **kw), tcls(I, H, 2, bias=False, **kw)
    assert all("bias" not in n for n, _ in cmod.named_parameters())
    recurrent_parity(cmod, tmod, rng.standard_normal((T, B, I)), None, dtype)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_layer_saturated_gates_stay_finite(kind, rng):
    """Inputs large enough to saturate every sigmoid and tanh (exp overflows to inf inside
    the sigmoid, in float32 and float64): no NumPy warning, outputs and gradients finite and
    equal to PyTorch's. In float32 a saturated gate's derivative 1 - a² (a within one ulp of
    1) is rounding noise of size ~1e-7, multiplied by inputs of size 1000 in the weight
    gradients, so float32 is compared with an absolute tolerance of 1e-3 (gradients reach
    ~10); float64 saturates exactly (a = 1) and is compared at the usual tolerances."""
    cls, tcls, kw = LAYERS[kind]
    x = 1000 * rng.standard_normal((T, B, I))
    recurrent_parity(cls(I, H, **kw), tcls(I, H, **kw), x, None, "float64")
    recurrent_parity(cls(I, H, **kw), tcls(I, H, **kw), x, None, "float32", atol=1e-3)


# ---- cells ----
CELL_CASES = [
    pytest.param(kind, batched, given, bias, d,
                 id=f"{kind}-{'batched' if batched else 'unbatched'}-"
                 f"{'hx' if given else 'zero'}-{'bias' if bias else 'nobias'}-{d}")
    for kind, batched, given, bias, d in itertools.product(
        CELLS, (True, False), (True, False), (True, False), ("float32", "float64")
    )
]  # fmt: skip


@pytest.mark.parametrize("kind,batched,given,bias,dtype", CELL_CASES)
def test_cell_parity(kind, batched, given, bias, dtype, rng):
    cls, tcls, kw = CELLS[kind]
    cmod, tmod = cls(I, H, bias=bias, **kw), tcls(I, H, bias=bias, **kw)
    x = rng.standard_normal((B, I) if batched else (I,))
    n_states = 2 if kind == "lstm" else 1
    sshape = (B, H) if batched else (H,)
    states = [rng.standard_normal(sshape) for _ in range(n_states)] if given else None
    recurrent_parity(cmod, tmod, x, states, dtype)


def test_cell_unrolled_equals_layer(rng):
    """An LSTMCell stepped over a sequence computes the same states as a one-layer LSTM
    holding the same weights."""
    lstm, cell = cr.nn.LSTM(I, H), cr.nn.LSTMCell(I, H)
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x = cr.tensor(rng.standard_normal((T, B, I)).astype(np.float32))
    out, (h_n, c_n) = lstm(x)
    h = c = cr.zeros(B, H)
    for t in range(T):
        h, c = cell(x[t], (h, c))
        assert_close(h, out[t].data, what=f"step {t}")
    assert_close(h, h_n[0].data)
    assert_close(c, c_n[0].data)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("frozen", ["weight_ih_l0", "weight_hh_l0", "bias_hh_l0"])
def test_frozen_parameter_and_input_without_grad(kind, frozen, rng):
    """Only what requires grad gets a gradient (each weight-gradient path taken alone), and
    the others still match PyTorch."""
    cls, tcls, kw = LAYERS[kind]
    cmod, tmod = cls(I, H, **kw), tcls(I, H, **kw)
    _load_torch_weights(cmod, tmod)
    getattr(cmod, frozen).requires_grad_(False)
    getattr(tmod, frozen).requires_grad_(False)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    u = rng.uniform(-1, 1, (T, B, H)).astype(np.float32)
    cx, tx = cr.tensor(x), torch.from_numpy(x)
    (cmod(cx)[0] * cr.tensor(u)).sum().backward()
    (tmod(tx)[0] * torch.from_numpy(u)).sum().backward()
    assert cx.grad is None
    for name, p in cmod.named_parameters():
        if name == frozen:
            assert p.grad is None
        else:
            assert_close(p.grad, dict(tmod.named_parameters())[name].grad, F32, name)


# ---- Note [BLAS helper thread]: the large products overlapping the time loop ----
@pytest.mark.parametrize("steps", [4, 19])
@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_parity_with_blas_tasks(kind, bidir, steps, dtype, blas_tasks, rng):
    """With the projections and the gradients cut into spans of steps and run on the helper
    thread (19 steps: spans of 2 and 3 steps), everything still matches PyTorch."""
    cls, tcls, kw = LAYERS[kind]
    opts = dict(num_layers=2, bidirectional=bidir, **kw)
    cmod, tmod = cls(I, H, **opts), tcls(I, H, **opts)
    LD = 4 if bidir else 2
    states = [rng.standard_normal((LD, B, H)) for _ in range(2 if kind == "lstm" else 1)]
    recurrent_parity(cmod, tmod, rng.standard_normal((steps, B, I)), states, dtype)
    assert blas_tasks and all(blas_tasks)  # forward and backward of every layer


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm"])
@pytest.mark.parametrize("frozen", ["weight_ih_l0", "weight_hh_l0", "bias_hh_l0"])
def test_frozen_parameter_with_blas_tasks(kind, frozen, blas_tasks, rng):
    """Each weight-gradient path of the span-wise gradients taken alone, on the helper."""
    cls, tcls, kw = LAYERS[kind]
    cmod, tmod = cls(I, H, **kw), tcls(I, H, **kw)
    _load_torch_weights(cmod, tmod)
    getattr(cmod, frozen).requires_grad_(False)
    getattr(tmod, frozen).requires_grad_(False)
    x = rng.standard_normal((11, B, I)).astype(np.float32)
    u = rng.uniform(-1, 1, (11, B, H)).astype(np.float32)
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (cmod(cx)[0] * cr.tensor(u)).sum().backward()
    (tmod(tx)[0] * torch.from_numpy(u)).sum().backward()
    assert_close(cx.grad, tx.grad, F32, "grad of input")
    for name, p in cmod.named_parameters():
        if name == frozen:
            assert p.grad is None
        else:
            assert_close(p.grad, dict(tmod.named_parameters())[name].grad, F32, name)
    assert blas_tasks and all(blas_tasks)


def test_blas_tasks_error_reaches_the_caller(blas_tasks):
    """An exception in a task is raised by the caller's join, once."""
    from chainrule.backend import BlasTasks

    tasks = BlasTasks.create()
    assert tasks is not None
    done = []
    tasks.add(lambda: done.append(1))
    tasks.add(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        tasks.join_all()
    assert done == [1]


# ---- finite differences (float64, tiny sizes) ----
@pytest.mark.parametrize("kind", list(LAYERS))
def test_layer_gradcheck(kind, rng):
    """Two bidirectional layers with given initial states: the gradient of every input,
    state and parameter against central differences."""
    cls, _, kw = LAYERS[kind]
    mod = cls(2, 3, num_layers=2, bidirectional=True, **kw).double()
    if kind == "rnn_relu":  # keep pre-activations away from ReLU's kink at 0
        for p in mod.parameters():
            p.data[...] = np.abs(p.data)
    x = cr.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    n_states = 2 if kind == "lstm" else 1
    states = [
        cr.tensor(0.5 * rng.standard_normal((4, 2, 3)), requires_grad=True) for _ in range(n_states)
    ]
    names = [n for n, _ in mod.named_parameters()]
    params = [cr.tensor(p.data.copy(), requires_grad=True) for _, p in mod.named_parameters()]
    ns = len(states)

    def fn(x, *rest):
        hx = rest[0] if ns == 1 else tuple(rest[:ns])
        with swapped_parameters(mod, dict(zip(names, rest[ns:]))):
            return tuple(_flat(mod(x, hx)))

    cr.gradcheck(fn, x, *states, *params, eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_gradcheck(kind, rng):
    cls, _, kw = CELLS[kind]
    mod = cls(3, 2, **kw).double()
    if kind == "rnn_relu":
        for p in mod.parameters():
            p.data[...] = np.abs(p.data)
    x = cr.tensor(np.abs(rng.standard_normal((2, 3))), requires_grad=True)
    n_states = 2 if kind == "lstm" else 1
    states = [cr.tensor(rng.standard_normal((2, 2)), requires_grad=True) for _ in range(n_states)]
    names = [n for n, _ in mod.named_parameters()]
    params = [cr.tensor(p.data.copy(), requires_grad=True) for _, p in mod.named_parameters()]

    def fn(x, *rest):
        hx = rest[0] if n_states == 1 else tuple(rest[:n_states])
        with swapped_parameters(mod, dict(zip(names, rest[n_states:]))):
            return tuple(_flat(mod(x, hx)))

    cr.gradcheck(fn, x, *states, *params, eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("fn_name", ["rnn_layer", "lstm_layer", "gru_layer"])
def test_functional_layer_gradcheck(fn_name, reverse, rng):
    """The lowercase functions (one layer, one direction), without biases."""
    fn = getattr(cr.nn.functional, fn_name)
    G = {"rnn_layer": 1, "lstm_layer": 4, "gru_layer": 3}[fn_name] * 3
    x = cr.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    h0 = cr.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    c0 = cr.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w_ih = cr.tensor(0.5 * rng.standard_normal((G, 2)), requires_grad=True)
    w_hh = cr.tensor(0.5 * rng.standard_normal((G, 3)), requires_grad=True)
    if fn_name == "lstm_layer":
        cr.gradcheck(
            lambda x, h, c, a, b: tuple(_flat(fn(x, (h, c), a, b, reverse=reverse))),
            x, h0, c0, w_ih, w_hh, atol=1e-6, rtol=1e-4,
        )  # fmt: skip
    else:
        cr.gradcheck(
            lambda x, h, a, b: tuple(_flat(fn(x, h, a, b, reverse=reverse))),
            x, h0, w_ih, w_hh, atol=1e-6, rtol=1e-4,
        )  # fmt: skip


# ---- PyTorch weights, initialisation, modes ----
@pytest.mark.parametrize("kind", list(LAYERS))
def test_torch_state_dict_loads_strictly(kind):
    cls, tcls, kw = LAYERS[kind]
    tmod = tcls(I, H, num_layers=2, bidirectional=True, **kw)
    cmod = cls(I, H, num_layers=2, bidirectional=True, **kw)
    tsd = tmod.state_dict()
    assert list(cmod.state_dict()) == list(tsd)
    for k, v in cmod.state_dict().items():
        assert tuple(v.shape) == tuple(tsd[k].shape), k
    cmod.load_state_dict({k: v.numpy() for k, v in tsd.items()}, strict=True)
    for k, v in cmod.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v.data), tsd[k].numpy(), err_msg=k)
    with pytest.raises((KeyError, RuntimeError, ValueError)):
        cmod.load_state_dict({k: v.numpy() for k, v in tsd.items() if "reverse" not in k})


@pytest.mark.parametrize("kind", list(LAYERS) + ["lstm_cell"])
def test_initialisation_is_uniform_in_bound(kind):
    """Every parameter ~ U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch: inside the bound, spread
    over it (std close to bound/sqrt(3)), different across parameters."""
    hidden = 64
    if kind == "lstm_cell":
        mod = cr.nn.LSTMCell(32, hidden)
    else:
        cls, _, kw = LAYERS[kind]
        mod = cls(32, hidden, num_layers=2, **kw)
    bound = 1 / np.sqrt(hidden)
    values = np.concatenate([np.asarray(p.data).ravel() for p in mod.parameters()])
    assert np.abs(values).max() <= bound
    assert abs(values.std() - bound / np.sqrt(3)) < 0.05 * bound
    w = [np.asarray(p.data) for p in mod.parameters()]
    assert not np.array_equal(w[0][:4, :4], w[1][:4, :4])


def test_eval_mode_and_dropout(rng):
    """Dropout acts between layers in training mode only: eval mode matches PyTorch with the
    same dropout; training mode with p=1 drops all of layer 0's output, as PyTorch; with
    0 < p < 1 the output changes, is reproducible from the seed, and the gradient is that of
    the masked network."""
    x = rng.standard_normal((T, B, I))
    for dtype in ("float32", "float64"):
        recurrent_parity(
            cr.nn.LSTM(I, H, 2, dropout=0.5), torch.nn.LSTM(I, H, 2, dropout=0.5), x, None,
            dtype, train=False,
        )  # fmt: skip
        recurrent_parity(
            cr.nn.GRU(I, H, 3, dropout=1.0), torch.nn.GRU(I, H, 3, dropout=1.0), x, None,
            dtype, train=True,
        )  # fmt: skip
    mod = cr.nn.LSTM(I, H, 2, dropout=0.5)
    xt = cr.tensor(x.astype(np.float32))
    mod.eval()
    ref = mod(xt)[0].data
    mod.train()
    cr.manual_seed(7)
    a = mod(xt)[0].data
    cr.manual_seed(7)
    b = mod(xt)[0].data
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, ref)


def test_no_grad_inference(rng):
    lstm = cr.nn.LSTM(I, H, 2, bidirectional=True)
    x = cr.tensor(rng.standard_normal((T, B, I)).astype(np.float32), requires_grad=True)
    with cr.no_grad():
        out, (h, c) = lstm(x)
    assert not out.requires_grad and not h.requires_grad and not c.requires_grad
    out2, _ = lstm(x)
    np.testing.assert_array_equal(out.data, out2.data)


def test_bptt_200_steps_stays_finite(rng):
    """A 200-step LSTM: loss and every gradient finite, and equal to PyTorch's; the gradient
    reaching the first step is (much) smaller than that at the last step but not NaN."""
    steps = 200
    cmod, tmod = cr.nn.LSTM(8, 16, num_layers=2), torch.nn.LSTM(8, 16, num_layers=2)
    _load_torch_weights(cmod, tmod)
    x = rng.standard_normal((steps, 4, 8)).astype(np.float32)
    cx, tx = cr.tensor(x, requires_grad=True), to_torch(x, requires_grad=True)
    cout, _ = cmod(cx)
    tout, _ = tmod(tx)
    closs = (cout[-1] ** 2).mean() + (cout**2).mean()
    tloss = (tout[-1] ** 2).mean() + (tout**2).mean()
    closs.backward()
    tloss.backward()
    assert np.isfinite(closs.item())
    assert_close(closs, tloss, F32, "loss")
    assert np.all(np.isfinite(cx.grad.data))
    for name, p in cmod.named_parameters():
        assert np.all(np.isfinite(p.grad.data)), name
    assert_close(cx.grad, tx.grad, F32, "grad of input", atol=1e-6, rtol=1e-3)
    first, last = np.linalg.norm(cx.grad.data[0]), np.linalg.norm(cx.grad.data[-1])
    assert 0 < first < last


# ---- errors ----
def test_error_wrong_feature_size():
    lstm = cr.nn.LSTM(10, 20)
    with pytest.raises(ValueError, match=r"LSTM.*10 features.*input_size=10.*\(5, 3, 7\)"):
        lstm(cr.randn(5, 3, 7))
    with pytest.raises(ValueError, match=r"GRUCell.*input_size=10.*\(3, 7\)"):
        cr.nn.GRUCell(10, 20)(cr.randn(3, 7))
    with pytest.raises(ValueError, match=r"RNN: expected a 2-D .* or 3-D"):
        cr.nn.RNN(10, 20)(cr.randn(10))


def test_error_wrong_state_shapes():
    lstm = cr.nn.LSTM(10, 20, num_layers=2)
    x = cr.randn(5, 3, 10)
    good = cr.zeros(2, 3, 20)
    with pytest.raises(ValueError, match=re.escape("expected h_0 of shape (2, 3, 20)")):
        lstm(x, (cr.zeros(1, 3, 20), good))
    with pytest.raises(ValueError, match=re.escape("expected c_0 of shape (2, 3, 20)")):
        lstm(x, (good, cr.zeros(2, 4, 20)))
    with pytest.raises(TypeError, match=r"LSTM: hx must be a tuple \(h_0, c_0\)"):
        lstm(x, good)
    with pytest.raises(ValueError, match=re.escape("expected h_0 of shape (2, 20)")):
        cr.nn.GRU(10, 20, num_layers=2)(cr.randn(5, 10), cr.zeros(2, 1, 20))
    with pytest.raises(ValueError, match=re.escape("RNNCell: expected h_0 of shape (3, 20)")):
        cr.nn.RNNCell(10, 20)(cr.randn(3, 10), cr.zeros(3, 21))


def test_error_dtype_mismatch():
    with pytest.raises(TypeError, match=r"GRU: input has dtype float64.*float32"):
        cr.nn.GRU(4, 3)(cr.tensor(np.zeros((2, 1, 4))))


def test_error_bad_constructor_arguments():
    with pytest.raises(ValueError, match=r"RNN: nonlinearity must be 'tanh' or 'relu'"):
        cr.nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"LSTM: hidden_size must be a positive int"):
        cr.nn.LSTM(3, 0)
    with pytest.raises(ValueError, match=r"GRU: dropout must be a number in \[0, 1\]"):
        cr.nn.GRU(3, 4, 2, dropout=1.5)
    with pytest.raises(NotImplementedError, match="proj_size"):
        cr.nn.LSTM(3, 4, proj_size=2)
    with pytest.warns(UserWarning, match="no effect with num_layers=1"):
        cr.nn.LSTM(3, 4, dropout=0.5)


def test_error_functional_shapes():
    x, h = cr.randn(5, 2, 3), cr.zeros(2, 4)
    with pytest.raises(ValueError, match=re.escape("lstm_layer: expected weight_ih of shape (16")):
        cr.nn.functional.lstm_layer(x, (h, h), cr.randn(12, 3), cr.randn(12, 4))
    with pytest.raises(ValueError, match=re.escape("gru_layer: expected state 0 of shape (2, 4)")):
        cr.nn.functional.gru_layer(x, cr.zeros(3, 4), cr.randn(12, 3), cr.randn(12, 4))
    w_ih, w_hh = cr.randn(16, 3), cr.randn(16, 4)
    with pytest.raises(ValueError, match="lstm_layer: give both bias_ih and bias_hh, or neither"):
        cr.nn.functional.lstm_layer(x, (h, h), w_ih, w_hh, cr.zeros(16))
    with pytest.raises(ValueError, match=re.escape("expected biases of shape (16,), got (12,)")):
        cr.nn.functional.lstm_layer(x, (h, h), w_ih, w_hh, cr.zeros(12), cr.zeros(16))
    with pytest.raises(TypeError, match="lstm_layer: all tensors must have the parameters' dtype"):
        cr.nn.functional.lstm_layer(x.double(), (h, h), w_ih, w_hh)
    with pytest.raises(ValueError, match=r"rnn_layer: expected input of shape \(seq_len, batch"):
        cr.nn.functional.rnn_layer(cr.randn(5, 2, 2), h, cr.randn(4, 3), cr.randn(4, 4))


def test_blas_thread_count_restored_after_the_helper(blas_tasks):
    """OpenBLAS's thread count, which the layers set to 1 around their loops and tasks, is
    what it was once they return (the setting is process-wide, not per thread)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():  # every BLAS in the process (PyTorch may bring its own)
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    rng = np.random.default_rng(0)
    with threadpool_limits(2, user_api="blas"):
        assert blas_threads() == {2}
        lstm, conv = cr.nn.LSTM(I, H), cr.nn.Conv2d(3, 4, 3, padding=1)
        y, _ = lstm(cr.tensor(rng.standard_normal((9, B, I)).astype(np.float32)))
        y.sum().backward()
        x = cr.tensor(rng.standard_normal((4, 3, 5, 5)).astype(np.float32), requires_grad=True)
        conv(x).sum().backward()
        assert blas_threads() == {2}
    assert any(blas_tasks)
