"""Losses: the OpInfo table (forward, VJP, finite differences, errors), the nn modules against
torch's, the extreme cases of RELIABILITY.md (C2-C5, C11) and Barron's adaptive loss (values of
ρ at its special α, the partition function against closed forms and quadrature, learning α)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
import chainrule.nn.functional as F
from harness import assert_close, module_gradcheck, module_parity
from op_db_loss import LOSS_OPS, ROBUST_NLL_SAMPLES, rho_ref
from opinfo import (
    generic_op_tests,
)

DTYPES = [np.float32, np.float64]
FINITE = {"over": "raise", "divide": "raise", "invalid": "raise", "under": "ignore"}


# ---- the table ----
test_forward, test_vjp, test_gradcheck, test_errors = generic_op_tests(LOSS_OPS)


# ---- modules ----
def _ce_inputs(rng):
    return [rng.standard_normal((6, 4)), rng.integers(0, 4, 6)]


def _pair(rng, lo=None):
    if lo is not None:
        return [rng.uniform(lo, 1 - lo, (3, 4)), rng.uniform(0, 1, (3, 4))]
    return [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]


LOSS_MODULES = [
    ("L1Loss", lambda: cr.nn.L1Loss(), lambda: torch.nn.L1Loss(), _pair),
    (
        "MSELoss_sum",
        lambda: cr.nn.MSELoss(reduction="sum"),
        lambda: torch.nn.MSELoss(reduction="sum"),
        _pair,
    ),
    ("HuberLoss", lambda: cr.nn.HuberLoss(delta=0.7), lambda: torch.nn.HuberLoss(delta=0.7), _pair),
    (
        "SmoothL1Loss",
        lambda: cr.nn.SmoothL1Loss(beta=0.5),
        lambda: torch.nn.SmoothL1Loss(beta=0.5),
        _pair,
    ),
    ("BCELoss", lambda: cr.nn.BCELoss(), lambda: torch.nn.BCELoss(), lambda rng: _pair(rng, 0.05)),
    (
        "BCEWithLogitsLoss",
        lambda: cr.nn.BCEWithLogitsLoss(pos_weight=cr.tensor([1.0, 2, 3, 4])),
        lambda: torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0, 2, 3, 4])),
        _pair,
    ),
    (
        "CrossEntropyLoss",
        lambda: cr.nn.CrossEntropyLoss(weight=cr.tensor([1.0, 0.5, 2.0, 1.5]), label_smoothing=0.1),
        lambda: torch.nn.CrossEntropyLoss(
            weight=torch.tensor([1.0, 0.5, 2.0, 1.5]), label_smoothing=0.1
        ),
        _ce_inputs,
    ),
    (
        "NLLLoss",
        lambda: cr.nn.NLLLoss(ignore_index=1),
        lambda: torch.nn.NLLLoss(ignore_index=1),
        _ce_inputs,
    ),
    (
        "KLDivLoss",
        lambda: cr.nn.KLDivLoss(reduction="batchmean", log_target=True),
        lambda: torch.nn.KLDivLoss(reduction="batchmean", log_target=True),
        _pair,
    ),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(
    "name, make, make_torch, inputs", LOSS_MODULES, ids=[m[0] for m in LOSS_MODULES]
)
def test_module_parity(name, make, make_torch, inputs, dtype, rng):
    module_parity(make(), make_torch(), inputs(rng), dtype)


def test_module_repr_and_buffers():
    assert repr(cr.nn.CrossEntropyLoss()) == repr(torch.nn.CrossEntropyLoss())
    assert repr(cr.nn.MSELoss()) == "MSELoss()"
    m = cr.nn.CrossEntropyLoss(weight=cr.tensor([1.0, 2.0]))
    assert list(m.state_dict()) == list(
        torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0])).state_dict()
    )
    assert list(cr.nn.BCEWithLogitsLoss(pos_weight=cr.tensor([2.0])).state_dict()) == ["pos_weight"]
    assert list(cr.nn.CrossEntropyLoss().parameters()) == []
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none'"):
        cr.nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="size_average and reduce are deprecated"):
        cr.nn.L1Loss(size_average=True)


def test_hinge_module_and_labels():
    x = cr.tensor([2.0, 0.5, -1.0, 0.2], requires_grad=True)
    y = cr.tensor([1.0, 1.0, 1.0, -1.0])
    loss = cr.nn.HingeLoss()(x, y)
    assert loss.item() == pytest.approx((0 + 0.5 + 2.0 + 1.2) / 4)
    loss.backward()
    np.testing.assert_allclose(x.grad.data, [0, -0.25, -0.25, 0.25])


# ---- RELIABILITY.md extremes ----
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_c2_cross_entropy_extreme_logits(dtype):
    with np.errstate(**FINITE):
        x = cr.tensor(np.array([[1e4, 0.0, -1e4]], dtype=dtype), requires_grad=True)
        loss = F.cross_entropy(x, cr.tensor([2]))
        assert loss.dtype == np.dtype(dtype)
        assert loss.item() == 2e4
        loss.backward()
        np.testing.assert_array_equal(x.grad.data, [[1.0, 0.0, -1.0]])
        assert F.cross_entropy(x.detach(), cr.tensor([0])).item() == 0.0


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_c3_c4_bce_with_logits_extremes(dtype):
    with np.errstate(**FINITE):
        x = cr.tensor(np.array([1e4, -1e4, 0.0], dtype=dtype), requires_grad=True)
        y = cr.tensor(np.array([0.0, 1.0, 0.5], dtype=dtype))
        loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        np.testing.assert_allclose(loss.data, [1e4, 1e4, 0.6931471805599453], rtol=1e-7)
        loss.sum().backward()
        np.testing.assert_array_equal(x.grad.data, [1.0, -1.0, 0.0])
        x4 = cr.tensor(np.array([0.0, -120.0], dtype=dtype))
        y4 = cr.tensor(np.array([0.0, 1.0], dtype=dtype))
        for pw in (None, cr.tensor(np.ones(2, dtype=dtype))):
            v = F.binary_cross_entropy_with_logits(x4, y4, pos_weight=pw).item()
            assert v == pytest.approx(60.346573590279974, rel=1e-7)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_c5_bce_log_clamp(dtype):
    with np.errstate(**FINITE):
        p = cr.tensor(np.array([0.0, 1.0, 0.0], dtype=dtype), requires_grad=True)
        y = cr.tensor(np.array([1.0, 1.0, 0.0], dtype=dtype))
        loss = F.binary_cross_entropy(p, y, reduction="none")
        np.testing.assert_array_equal(loss.data, [100.0, 0.0, 0.0])
        loss.sum().backward()
        assert np.all(np.isfinite(p.grad.data))


def test_c11_mse_overflow_is_inf_without_warning():
    loss = F.mse_loss(cr.tensor([1e200], dtype="float64"), cr.tensor([0.0], dtype="float64"))
    np.testing.assert_array_equal(loss.data, np.inf)
    loss32 = F.mse_loss(cr.tensor([1e30]), cr.tensor([0.0]))
    assert loss32.dtype == np.float32 and np.isinf(loss32.item())


def test_cross_entropy_all_ignored_is_nan_like_torch():
    x, t = np.zeros((2, 3)), np.array([-100, -100])
    ours = F.cross_entropy(cr.tensor(x), cr.tensor(t)).item()
    assert math.isnan(ours) and math.isnan(
        torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t)).item()
    )


def test_cross_entropy_equals_log_softmax_nll(rng):
    x = cr.tensor(rng.standard_normal((5, 7)))
    t = cr.tensor(rng.integers(0, 7, 5))
    assert_close(F.cross_entropy(x, t), F.nll_loss(F.log_softmax(x, 1), t))


def test_cross_entropy_keeps_float32(rng):
    x = cr.tensor(rng.standard_normal((8, 10)).astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(x, cr.tensor(rng.integers(0, 10, 8)), label_smoothing=0.1)
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


# ---- Barron's robust loss ----
def test_robust_special_cases_match_their_limits():
    x = np.linspace(-5, 5, 41)
    t = cr.tensor(x)
    z = x**2
    cases = {
        2.0: z / 2,  # L2
        0.0: np.log1p(z / 2),  # Cauchy
        -2.0: 2 * z / (z + 4),  # Geman-McClure
        1.0: np.sqrt(z + 1) - 1,  # pseudo-Huber
        -np.inf: -np.expm1(-z / 2),  # Welsch
    }
    for a, expected in cases.items():
        got = F.robust_loss(t, alpha=a, reduction="none").data
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15, err_msg=str(a))
    # continuity: α → 0 and α → 2 approach the limits
    for a, expected in ((1e-9, cases[0.0]), (2 - 1e-9, cases[2.0]), (-1e9, cases[-np.inf])):
        got = F.robust_loss(t, alpha=a, reduction="none").data
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def test_robust_tiny_alpha_is_accurate():
    # the paper's code divides by max(|α|, eps) and is off by α/eps for tiny α; here not
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    a = 1e-9
    got = F.robust_loss(cr.tensor(x.numpy()), alpha=a, reduction="none").data
    np.testing.assert_allclose(got, np.log1p(x.numpy() ** 2 / 2), rtol=1e-8)
    np.testing.assert_allclose(
        F.robust_loss(cr.tensor(x.numpy()), alpha=0.3, reduction="none").data,
        rho_ref(x, torch.tensor(0.3, dtype=torch.float64), 1.0).numpy(),
        rtol=1e-13,
    )


def _log_z_quadrature(alpha: float) -> float:
    """log ∫ exp(−ρ(x, α, 1)) dx by the trapezoid rule in u = log x on a finer, longer grid
    than the library's (and ρ from the torch reference where it applies)."""
    h = 0.02
    u = np.arange(-45.0, 60.0, h)
    x = torch.tensor(np.exp(u))
    if alpha == 0:
        rho = torch.log1p(x**2 / 2)
    elif alpha == 2:
        rho = x**2 / 2
    else:
        rho = rho_ref(x, torch.tensor(alpha, dtype=torch.float64), 1.0)
    with np.errstate(under="ignore"):
        w = np.exp(-rho.numpy() + u)
    return math.log(2 * (h * w.sum() + math.exp(u[0])))


def test_partition_function_closed_forms_and_quadrature():
    closed = {
        0.0: math.log(math.pi * math.sqrt(2)),
        1.0: math.log(2 * math.e * 0.6019072301972346),  # 2e K1(1)
        2.0: 0.5 * math.log(2 * math.pi),
    }
    for a, v in closed.items():
        got = F.robust_log_partition(cr.tensor([a], dtype="float64")).item()
        assert got == pytest.approx(v, abs=1e-11), a
    for a in (0.0013, 0.05, 0.37, 1.23456, 1.9987, 2.0042, 3.3, 5.05, 7.9):
        got = F.robust_log_partition(cr.tensor([a], dtype="float64")).item()
        assert got == pytest.approx(_log_z_quadrature(a), abs=5e-9), a


def test_robust_alpha_gradient_at_zero_and_near_two():
    # the reference's α = 0 branch has no α-gradient; ρ is smooth in α there, so check by
    # finite differences, and near (not at) 2 where the slope grows like log|α − 2|
    x = cr.tensor(np.linspace(-3, 3, 7))
    for a0 in (0.0, 1.99, 2.01):
        a = cr.tensor(a0, dtype="float64", requires_grad=True)
        cr.gradcheck(lambda t: F.robust_loss(x, alpha=t, scale=0.8, reduction="none"), a)


def test_partition_function_gradient():
    a = cr.tensor([0.02, 0.8, 1.5, 2.7], dtype="float64", requires_grad=True)
    cr.gradcheck(F.robust_log_partition, a)
    # and the slope is the true d log Z/dα (central difference of the quadrature)
    z = F.robust_log_partition(a)
    z.sum().backward()
    for i, v in enumerate(a.data):
        slope = (_log_z_quadrature(v + 1e-5) - _log_z_quadrature(v - 1e-5)) / 2e-5
        assert a.grad.data[i] == pytest.approx(slope, abs=2e-5)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 8\]"):
        F.robust_log_partition(cr.tensor([-0.5]))


def test_robust_nll_is_a_normalised_density():
    # ∫ exp(−NLL(x)) dx = 1 for a few α, c
    xs = np.linspace(-400, 400, 400001)
    for a, c in ((0.5, 1.0), (1.0, 2.0), (1.9, 0.5)):
        nll = F.robust_loss_nll(cr.tensor(xs), alpha=a, scale=c, reduction="none").data
        mass = np.trapezoid(np.exp(-nll), xs)
        assert mass == pytest.approx(1.0, abs=2e-3 if a < 1 else 1e-6), (a, c)


@pytest.mark.parametrize("name, args", ROBUST_NLL_SAMPLES, ids=[s[0] for s in ROBUST_NLL_SAMPLES])
def test_robust_nll_gradcheck(name, args):
    ts = [
        cr.tensor(a, dtype="float64", requires_grad=True) if isinstance(a, np.ndarray) else a
        for a in args
    ]
    x, target, alpha, scale = ts

    def fn(*t):
        it = iter(t)
        a = next(it) if isinstance(alpha, cr.Tensor) else alpha
        c = next(it) if isinstance(scale, cr.Tensor) else scale
        return F.robust_loss_nll(xx, target, a, c, reduction="none")

    xx = x
    params = [p for p in (alpha, scale) if isinstance(p, cr.Tensor)]
    if params:
        cr.gradcheck(fn, *params)
    cr.gradcheck(lambda t: F.robust_loss_nll(t, None, alpha, scale, reduction="sum"), x)


def test_adaptive_robust_loss_module_values_and_gradcheck(rng):
    m = cr.nn.AdaptiveRobustLoss(num_dims=3, alpha_init=0.7, scale_init=1.5).double()
    a, c = m.alpha(), m.scale()
    np.testing.assert_allclose(a.data, 0.7, rtol=1e-6)  # initialised in float32
    np.testing.assert_allclose(c.data, 1.5, rtol=1e-6)
    x = rng.standard_normal((6, 3))
    expected = F.robust_loss_nll(cr.tensor(x), None, a.detach(), c.detach(), reduction="none")
    m.reduction = "none"
    assert_close(m(cr.tensor(x)), expected.data)
    m.reduction = "mean"
    module_gradcheck(m, [x])
    fixed = cr.nn.AdaptiveRobustLoss(alpha=1.0, scale=2.0, reduction="sum")
    assert list(fixed.parameters()) == []
    assert fixed(cr.tensor([2.0])).item() == pytest.approx(math.sqrt(2) - 1)  # plain ρ
    with pytest.raises(ValueError, match="num_dims"):
        m(cr.zeros(4, 2, dtype="float64"))
    with pytest.raises(ValueError, match="alpha_init"):
        cr.nn.AdaptiveRobustLoss(alpha_init=2.5)


@pytest.mark.parametrize(
    "sampler, alpha_range, scale_range",
    [
        # Gaussian σ = 2: α climbs towards 2 (the sigmoid makes the last stretch slow)
        (lambda r, n: r.normal(0, 2.0, n), (1.8, 2.0), (1.6, 2.1)),
        # Cauchy γ = 0.5: α → 0, where the density is Cauchy with γ = c√2, so c → 0.5/√2
        (lambda r, n: r.standard_cauchy(n) * 0.5, (0.0, 0.01), (0.33, 0.38)),
    ],
    ids=["gaussian", "cauchy"],
)
def test_adaptive_loss_learns_the_shape(sampler, alpha_range, scale_range):
    # maximum likelihood over (α, c): only possible with the log Z(α) + log c terms
    data = cr.tensor(sampler(np.random.default_rng(3), 2000), dtype="float64")
    m = cr.nn.AdaptiveRobustLoss(alpha_lo=0.001, alpha_hi=1.999).double()
    params = list(m.parameters())
    losses = []
    for _ in range(200):
        m.zero_grad()
        loss = m(data)
        loss.backward()
        losses.append(loss.item())
        for p in params:
            p.data -= 4.0 * p.grad.data
    assert losses[-1] < losses[0]
    alpha, scale = float(m.alpha().data[0]), float(m.scale().data[0])
    assert alpha_range[0] <= alpha <= alpha_range[1], alpha
    assert scale_range[0] <= scale <= scale_range[1], scale


# ---- properties (RELIABILITY.md, "Property tests with Hypothesis") ----
_logits = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
    elements=st.floats(-1e4, 1e4, allow_nan=False),
)


@given(_logits, st.data())
def test_property_cross_entropy_is_minus_log_softmax_at_target(z, data):
    t = data.draw(hnp.arrays(np.int64, z.shape[0], elements=st.integers(0, z.shape[1] - 1)))
    with np.errstate(**FINITE):
        ours = F.cross_entropy(cr.tensor(z), cr.tensor(t), reduction="none").data
        ls = F.log_softmax(cr.tensor(z), 1).data
    np.testing.assert_allclose(ours, -ls[np.arange(len(t)), t], rtol=1e-12, atol=1e-12)
    ref = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(t), reduction="none")
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-6, atol=1e-8)


@given(
    hnp.arrays(np.float64, st.integers(1, 16), elements=st.floats(-1e4, 1e4, allow_nan=False)),
    st.data(),
)
def test_property_bce_with_logits_stable_form(x, data):
    y = data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(0, 1)))
    with np.errstate(**FINITE):
        ours = F.binary_cross_entropy_with_logits(cr.tensor(x), cr.tensor(y), reduction="none")
    assert np.all(ours.data >= 0)
    stable = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    np.testing.assert_allclose(ours.data, stable, rtol=1e-12, atol=1e-12)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(x), torch.tensor(y), reduction="none"
    )
    np.testing.assert_allclose(ours.data, ref.numpy(), rtol=1e-6, atol=1e-8)


def test_cross_entropy_backward_with_infinite_upstream_gradient_matches_torch():
    """inf - inf at the target gives nan silently in both frameworks (no NumPy warning)."""
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    t = np.array([0, 1, 2, 0])
    cx = cr.tensor(x, requires_grad=True)
    cr.nn.functional.cross_entropy(cx, cr.tensor(t)).backward(cr.tensor(np.float32(np.inf)))
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.cross_entropy(tx, torch.tensor(t)).backward(torch.tensor(np.inf))
    np.testing.assert_array_equal(np.asarray(cx.grad), tx.grad.numpy())
