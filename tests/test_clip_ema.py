"""Gradient clipping, the explicit penalties, flat parameter vectors and the EMA of weights,
against torch (torch.nn.utils, torch.optim.swa_utils) and against the notes' formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.nn import utils as U
from harness import assert_close
from optim_harness import CrMLP, batches, cr_loss, model_pair, roundtrip, torch_loss

SHAPES = [(3, 4), (5,), (2, 2, 2), ()]


def grads_pair(dtype, scale, seed=0):
    """Parameters with identical gradients in both frameworks."""
    rng = np.random.default_rng(seed)
    cps, tps = [], []
    for shape in SHAPES:
        g = np.asarray(rng.standard_normal(shape) * scale, dtype=dtype)
        cp = cr.nn.Parameter(cr.zeros(*shape, dtype=dtype))
        cp.grad = cr.tensor(g.copy())
        tp = torch.zeros(shape, dtype=torch.from_numpy(g).dtype, requires_grad=True)
        tp.grad = torch.from_numpy(g.copy())
        cps.append(cp)
        tps.append(tp)
    return cps, tps


CLIP = [
    (norm_type, max_norm, scale)
    for norm_type in (2.0, 1.0, math.inf, 3.0, 0.5)
    for max_norm, scale in ((0.5, 1.0), (100.0, 1.0), (1.0, 1e-3))
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("norm_type, max_norm, scale", CLIP)
def test_clip_grad_norm_matches_torch(norm_type, max_norm, scale, dtype):
    cps, tps = grads_pair(dtype, scale)
    total = U.clip_grad_norm_(cps, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type=norm_type, foreach=False)
    assert isinstance(total, cr.Tensor) and total.shape == () and total.dtype == dtype
    assert_close(total, ttotal, dtype, "total norm")
    for cp, tp in zip(cps, tps):
        assert_close(cp.grad, tp.grad, dtype, "clipped grad")
    new_total = float(U.clip_grad_norm_(cps, math.inf if max_norm > 1e3 else 1e9, norm_type))
    assert new_total <= max_norm * (1 + 1e-5)  # really clipped (or already small)


def test_clip_grad_norm_details():
    # a module and a single tensor are accepted; no gradients -> 0
    model = CrMLP()
    assert float(U.clip_grad_norm_(model, 1.0)) == 0.0
    x, y = batches(np.float32)[0]
    cr_loss(model, x, y).backward()
    before = [p.grad for p in model.parameters()]
    buffers = [p.grad.data for p in model.parameters()]
    U.clip_grad_norm_(model, 1e-3)
    assert [p.grad for p in model.parameters()] == before  # scaled in place, as torch
    assert all(p.grad.data is b for p, b in zip(model.parameters(), buffers))
    norm = math.sqrt(
        sum(float((p.grad.data.astype(np.float64) ** 2).sum()) for p in model.parameters())
    )
    assert norm == pytest.approx(1e-3, rel=1e-4)
    w = cr.nn.Parameter(cr.zeros(2))
    w.grad = cr.tensor([3.0, 4.0])
    assert float(U.clip_grad_norm_(w, 10.0)) == 5.0
    # the notes' question: clipping keeps the direction
    np.testing.assert_allclose(w.grad.data, [3.0, 4.0], rtol=1e-6)


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_clip_grad_norm_nonfinite(bad):
    cps, tps = grads_pair(np.float64, 1.0)
    cps[0].grad.data[0, 0] = bad
    tps[0].grad[0, 0] = bad
    with pytest.raises(RuntimeError, match="non-finite"):
        U.clip_grad_norm_(cps, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(tps, 1.0, error_if_nonfinite=True, foreach=False)
    total = U.clip_grad_norm_(cps, 1.0)  # default: scale anyway, as torch
    ttotal = torch.nn.utils.clip_grad_norm_(tps, 1.0, foreach=False)
    assert_close(total, ttotal, np.float64)
    for cp, tp in zip(cps, tps):
        np.testing.assert_array_equal(np.isnan(cp.grad.data), np.isnan(tp.grad.numpy()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_clip_grad_value_matches_torch(dtype):
    cps, tps = grads_pair(dtype, 2.0)
    U.clip_grad_value_(cps, 0.7)
    torch.nn.utils.clip_grad_value_(tps, 0.7, foreach=False)
    for cp, tp in zip(cps, tps):
        np.testing.assert_array_equal(cp.grad.data, tp.grad.numpy())
    assert max(float(np.abs(cp.grad.data).max()) for cp in cps) == pytest.approx(0.7)


def test_clipping_inside_training_matches_torch():
    """SGD with clip_grad_norm_ before every step, 100 steps, float64."""
    cm, tm = model_pair(np.float64)
    co = cr.optim.SGD(cm.parameters(), lr=0.5, momentum=0.9)
    to = torch.optim.SGD(tm.parameters(), lr=0.5, momentum=0.9, foreach=False)
    data = batches(np.float64)
    norms = []
    for step in range(100):
        x, y = data[step % len(data)]
        co.zero_grad()
        cr_loss(cm, x, y).backward()
        n = U.clip_grad_norm_(cm.parameters(), 0.05)
        co.step()
        to.zero_grad()
        torch_loss(tm, x, y).backward()
        tn = torch.nn.utils.clip_grad_norm_(tm.parameters(), 0.05, foreach=False)
        to.step()
        assert float(n) == pytest.approx(tn.item(), rel=1e-9)
        norms.append(float(n))
        for cp, tp in zip(cm.parameters(), tm.parameters()):
            np.testing.assert_allclose(cp.data, tp.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert max(norms) > 0.05  # clipping was active


# ---- penalties and flat vectors ----
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_penalties_match_torch(dtype):
    cm, tm = model_pair(dtype)
    for cr_pen, t_pen in [
        (U.l1_penalty, lambda ps: sum(p.abs().sum() for p in ps)),
        (U.l2_penalty, lambda ps: sum((p * p).sum() for p in ps)),
    ]:
        cm.zero_grad()
        tm.zero_grad()
        c = cr_pen(cm)
        t = t_pen(list(tm.parameters()))
        assert_close(c, t, dtype, cr_pen.__name__)
        (c * 0.3).backward()
        (t * 0.3).backward()
        for cp, tp in zip(cm.parameters(), tm.parameters()):
            assert_close(cp.grad, tp.grad, dtype, f"{cr_pen.__name__} grad")
    with pytest.raises(ValueError, match="l1_penalty: got no parameters"):
        U.l1_penalty([])
    with pytest.raises(TypeError, match="expects tensors"):
        U.l2_penalty([np.ones(2)])


def test_parameter_vectors_match_torch():
    cm, tm = model_pair(np.float64)
    v = U.parameters_to_vector(cm.parameters())
    tv = torch.nn.utils.parameters_to_vector(tm.parameters())
    assert_close(v, tv, np.float64)
    (v * cr.tensor(np.arange(v.shape[0], dtype=np.float64))).sum().backward()
    assert cm.fc2.bias.grad.tolist() == list(range(v.shape[0] - 4, v.shape[0]))
    new = np.linspace(-1, 1, v.shape[0])
    U.vector_to_parameters(cr.tensor(new), cm.parameters())
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new), tm.parameters())
    for cp, tp in zip(cm.parameters(), tm.parameters()):
        np.testing.assert_array_equal(cp.data, tp.detach().numpy())
    with pytest.raises(TypeError, match="expects a Tensor"):
        U.vector_to_parameters(new, cm.parameters())
    with pytest.raises(ValueError, match="1-D vector of 92 elements"):
        U.vector_to_parameters(cr.tensor(new[:-1]), cm.parameters())


# ---- exponential moving average ----
def test_ema_formula_from_the_notes():
    """v_t = β v_{t-1} + (1-β) θ_t from v_0 = 0, corrected by 1 - β^t."""
    w = cr.nn.Parameter(cr.tensor([0.0, 10.0], dtype=cr.float64))
    beta = 0.9
    ema = cr.optim.ExponentialMovingAverage([w], decay=beta)
    thetas = [np.array([1.0, 2.0]), np.array([3.0, -1.0]), np.array([0.5, 4.0])]
    v = np.zeros(2)
    for t, theta in enumerate(thetas, start=1):
        w.data[...] = theta
        ema.update()
        v = beta * v + (1 - beta) * theta
        np.testing.assert_allclose(ema.shadow[0], v, rtol=1e-15)
        np.testing.assert_allclose(ema.averages()[0], v / (1 - beta**t), rtol=1e-14)
    # the corrected average is a weighted mean: weights (1-β)β^{t-i} / (1-β^t) sum to one
    weights = np.array([(1 - beta) * beta ** (3 - i) for i in (1, 2, 3)]) / (1 - beta**3)
    np.testing.assert_allclose(ema.averages()[0], weights @ np.stack(thetas), rtol=1e-14)
    # the first corrected average is exactly the first weights (no bias toward 0)
    e2 = cr.optim.ExponentialMovingAverage([w], decay=0.999)
    e2.update()
    np.testing.assert_allclose(e2.averages()[0], w.data, rtol=1e-12)


def test_ema_without_bias_correction_matches_torch_averaged_model():
    """bias_correction=False starts at θ_0: torch's AveragedModel with get_ema_multi_avg_fn."""
    cm, tm = model_pair(np.float64)
    decay = 0.95
    ema = cr.optim.ExponentialMovingAverage(cm, decay=decay, bias_correction=False)
    tema = torch.optim.swa_utils.AveragedModel(
        tm, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(decay)
    )
    tema.update_parameters(tm)  # copies θ_0
    co = cr.optim.Adam(cm.parameters(), lr=0.01)
    to = torch.optim.Adam(tm.parameters(), lr=0.01, foreach=False)
    data = batches(np.float64)
    for step in range(40):
        x, y = data[step % len(data)]
        co.zero_grad()
        cr_loss(cm, x, y).backward()
        co.step()
        ema.update()
        to.zero_grad()
        torch_loss(tm, x, y).backward()
        to.step()
        tema.update_parameters(tm)
    for avg, tp in zip(ema.averages(), tema.module.parameters()):
        np.testing.assert_allclose(avg, tp.detach().numpy(), rtol=1e-9, atol=1e-12)
    # evaluation with the averaged weights, then the training weights come back
    x, y = data[0]
    trained = [p.data.copy() for p in cm.parameters()]
    with ema.average_parameters():
        with cr.no_grad():
            eval_loss = float(cr_loss(cm, x, y))
    assert eval_loss == pytest.approx(torch_loss(tema.module, x, y).item(), rel=1e-9)
    for p, saved in zip(cm.parameters(), trained):
        np.testing.assert_array_equal(p.data, saved)


def test_ema_swap_restores_on_error_and_copy_to_another_model():
    model = CrMLP()
    ema = cr.optim.ExponentialMovingAverage(model.parameters(), decay=0.5)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(RuntimeError, match="no average yet"):
        ema.copy_to()
    ema.update()
    with pytest.raises(ZeroDivisionError):
        with ema.average_parameters():
            1 / 0  # noqa: B018
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
    eval_copy = CrMLP()
    ema.apply_to(eval_copy)
    for p, q in zip(eval_copy.parameters(), model.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-6)
    with pytest.raises(ValueError, match="do not match"):
        ema.copy_to(CrMLP((6, 5, 4)))
    with pytest.raises(RuntimeError, match="without store"):
        ema.restore()


def test_ema_state_dict_resume_and_errors():
    def run(model, ema, steps):
        opt = cr.optim.SGD(model.parameters(), lr=0.1)
        for step in steps:
            x, y = batches(np.float32)[step % 10]
            opt.zero_grad()
            cr_loss(model, x, y).backward()
            opt.step()
            ema.update()

    cr.manual_seed(3)
    a = CrMLP()
    cr.manual_seed(3)
    b = CrMLP()
    ea = cr.optim.ExponentialMovingAverage(a, decay=0.9)
    run(a, ea, range(20))
    eb = cr.optim.ExponentialMovingAverage(b, decay=0.9)
    run(b, eb, range(10))
    sd = roundtrip(eb.state_dict())
    eb2 = cr.optim.ExponentialMovingAverage(b, decay=0.5, bias_correction=False)
    eb2.load_state_dict(sd)
    assert eb2.decay == 0.9 and eb2.bias_correction and eb2.num_updates == 10
    run(b, eb2, range(10, 20))
    for x, y in zip(ea.averages(), eb2.averages()):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="average 0 has shape"):
        cr.optim.ExponentialMovingAverage(CrMLP((6, 5, 4))).load_state_dict(sd)
    sd["shadow"] = sd["shadow"][:2]
    with pytest.raises(ValueError, match="holds 2 averages"):
        eb2.load_state_dict(sd)
    with pytest.raises(ValueError, match="0 <= decay < 1"):
        cr.optim.ExponentialMovingAverage(a, decay=1.0)
    with pytest.raises(ValueError, match="empty parameter list"):
        cr.optim.ExponentialMovingAverage([])
    assert "decay=0.9" in repr(ea)
