"""Activations: the OpInfo table (forward, VJP, finite differences, errors), the nn modules
against torch's, the extreme-value cases of RELIABILITY.md (C1, C7, C8, C13) and erf."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from harness import assert_close, module_gradcheck, module_parity
from op_db_activation import ACTIVATION_MODULES, ACTIVATION_OPS
from opinfo import (
    generic_op_tests,
)

DTYPES = [np.float32, np.float64]


# ---- the table ----
test_forward, test_vjp, test_gradcheck, test_errors = generic_op_tests(ACTIVATION_OPS)


# ---- modules ----
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name, make, make_torch", ACTIVATION_MODULES, ids=lambda v: v)
def test_module_parity(name, make, make_torch, dtype, rng):
    torch.manual_seed(0)
    module_parity(make(), make_torch(), [rng.standard_normal((2, 3, 4)) * 2], dtype)


@pytest.mark.parametrize(
    "name, make",
    [
        (n, m)
        for n, m, _ in ACTIVATION_MODULES
        if n in ("PReLU_channels", "Swish_learnable", "Maxout", "Sigmoid_beta")
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_module_gradcheck(name, make, rng):
    x = rng.standard_normal((2, 3, 4))
    x[np.abs(x) < 0.02] += 0.05  # away from the PReLU kink
    module_gradcheck(make(), [x])


def test_module_repr_matches_torch():
    pairs = [
        (cr.nn.ReLU(), torch.nn.ReLU()),
        (cr.nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True)),
        (cr.nn.LeakyReLU(), torch.nn.LeakyReLU()),
        (cr.nn.PReLU(3), torch.nn.PReLU(3)),
        (cr.nn.ELU(), torch.nn.ELU()),
        (cr.nn.GELU(), torch.nn.GELU()),
        (cr.nn.Softplus(), torch.nn.Softplus()),
        (cr.nn.Hardtanh(), torch.nn.Hardtanh()),
        (cr.nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        (cr.nn.LogSoftmax(), torch.nn.LogSoftmax()),
        (cr.nn.Threshold(0.1, 20), torch.nn.Threshold(0.1, 20)),
        (cr.nn.Sigmoid(), torch.nn.Sigmoid()),
        (cr.nn.Tanh(), torch.nn.Tanh()),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


def test_prelu_parameter_and_init():
    m = cr.nn.PReLU(4)
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    np.testing.assert_array_equal(m.weight.data, np.full(4, 0.25, np.float32))
    assert m.weight.dtype == np.float32
    assert m.num_parameters() == 4 and m.num_slopes == 4  # Module's count is not shadowed
    with pytest.raises(ValueError, match="num_parameters must be >= 1"):
        cr.nn.PReLU(0)


def test_maxout_layer_parameters_and_errors():
    m = cr.nn.Maxout(5, 3, pieces=4)
    assert m.weight.shape == (12, 5) and m.bias.shape == (12,)
    with pytest.raises(ValueError, match=r"Maxout expected input with last dimension 5"):
        m(cr.zeros(2, 4))
    with pytest.raises(ValueError, match="pieces must be a positive int"):
        cr.nn.Maxout(5, 3, pieces=0)


def test_maxout_generalises_relu():
    # max(h, 0): pieces (h, 0) interleaved give exactly relu
    h = np.random.default_rng(0).standard_normal(8)
    x = np.stack([h, np.zeros_like(h)], axis=-1).reshape(1, 16)
    np.testing.assert_array_equal(F.maxout(cr.tensor(x), 2).data[0], np.maximum(h, 0))


# ---- step, argmax: the neuron and the decision ----
def test_step_is_mcculloch_pitts_and_has_zero_gradient():
    h = cr.tensor([-1.0, 0.0, 0.2, 3.0], requires_grad=True)
    y = F.step(h, theta=0.1)
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 1.0, 1.0])  # fires only if h > θ
    assert y.dtype == np.float32
    (y * cr.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(h.grad.data, np.zeros(4))


def test_argmax_decision():
    logits = cr.tensor([[0.1, 2.0, -1.0], [3.0, 3.0, 0.0], [float("nan"), 1.0, 2.0]])
    np.testing.assert_array_equal(cr.nn.Argmax()(logits).data, [1, 0, 0])  # first max; NaN wins
    assert cr.nn.Argmax(dim=0, keepdim=True)(logits[:2]).shape == (1, 3)


# ---- RELIABILITY.md extremes ----
FINITE = {"over": "raise", "divide": "raise", "invalid": "raise", "under": "ignore"}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_c8_extremes_no_fp_exception(dtype):
    pairs = [
        (cr.sigmoid, [1.0, 0.0], [0.0, 0.0]),
        (cr.tanh, [1.0, -1.0], [0.0, 0.0]),
        (F.softplus, [1e4, 0.0], [1.0, 0.0]),
        (F.log_sigmoid, [0.0, -1e4], [0.0, 1.0]),
        (F.silu, [1e4, -0.0], [1.0, 0.0]),
        (F.elu, [1e4, -1.0], [1.0, 0.0]),
        (F.gelu, [1e4, -0.0], [1.0, 0.0]),
        (lambda x: F.gelu(x, approximate="tanh"), [1e4, -0.0], [1.0, 0.0]),
        (F.softsign, [1e4 / (1 + 1e4), -1e4 / (1 + 1e4)], [1e-8, 1e-8]),
    ]
    with np.errstate(**FINITE):
        for fn, value, grad in pairs:
            x = cr.tensor(np.array([1e4, -1e4], dtype=dtype), requires_grad=True)
            y = fn(x)
            assert y.dtype == np.dtype(dtype)
            np.testing.assert_allclose(y.data, value, rtol=1e-6, atol=0)
            y.sum().backward()
            np.testing.assert_allclose(x.grad.data, grad, rtol=0, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_c1_softmax_extremes(dtype):
    with np.errstate(**FINITE):
        x = cr.tensor(np.array([1e4, 0.0, -1e4], dtype=dtype), requires_grad=True)
        np.testing.assert_array_equal(F.log_softmax(x, 0).data, [0.0, -1e4, -2e4])
        y = F.softmax(x, 0)
        np.testing.assert_array_equal(y.data, [1.0, 0.0, 0.0])
        (y * cr.tensor(np.array([1.0, 2.0, 3.0], dtype=dtype))).sum().backward()
        assert np.all(np.isfinite(x.grad.data))


def test_c7_softmax_infinities_give_nan_like_torch():
    for v in ([-np.inf, -np.inf], [np.inf, 1.0]):
        ours = F.softmax(cr.tensor(np.array(v)), 0).data
        np.testing.assert_array_equal(ours, torch.softmax(torch.tensor(v), 0).numpy())


def test_nan_propagates():
    x = cr.tensor([np.nan, -1.0, 2.0])
    for fn in (F.elu, F.leaky_relu, F.softplus, F.gelu, F.silu, F.log_sigmoid, F.softsign):
        assert np.isnan(fn(x).data[0]), fn.__name__


# ---- erf ----
def test_erf_matches_math_erf():
    from chainrule.ops.activation_gelu import erf, erf_array, ndtr_array

    z = np.concatenate([np.linspace(-7, 7, 4001), [0.0, 1e-300, -2.0, 2.0, 2.0000001]])
    ref = np.array([math.erf(v) for v in z])
    np.testing.assert_allclose(erf_array(z), ref, rtol=1e-13, atol=1e-300)
    x = np.linspace(-37, 8, 3001)
    ref_cdf = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    # 1 + erf(z) for -2 <= z < 0 cancels up to ~2.3 digits (Φ(-2√2) ≈ 2.3e-3)
    np.testing.assert_allclose(ndtr_array(x), ref_cdf, rtol=5e-12, atol=0)
    t = cr.tensor(np.array([0.3, -1.2]), requires_grad=True)
    assert_close(erf(t), torch.erf(torch.tensor([0.3, -1.2], dtype=torch.float64)))
    cr.gradcheck(erf, t)
