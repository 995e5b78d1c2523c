"""Numerical stress cases of RELIABILITY.md section C that concern the engine (C1, C6-C10,
C13), and hypothesis property tests of softmax, log_softmax and logsumexp.

Cases with finite expected values run inside ``np.errstate(over/divide/invalid="raise")`` so
a hidden overflow in an intermediate fails even when the final value looks right; cases whose
expected values are inf or NaN run in the default error state (where the suite's
``filterwarnings = error`` still turns any NumPy warning into a failure) and compare exactly,
NaN equal to NaN. Expected values are RELIABILITY.md's (measured on torch 2.13) and torch's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import chainrule as cr
from op_db import OP_DB
from opinfo import _build, _outputs, op_params, upstream

F = cr.nn.functional
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
RAISE = dict(over="raise", divide="raise", invalid="raise", under="ignore")


def _run(fn, values, dtype, grad=True):
    """fn on a tensor of ``values``; returns (output, gradient under a fixed upstream)."""
    x = cr.tensor(np.asarray(values, dtype=dtype), requires_grad=grad)
    y = fn(x)
    if not grad:
        return np.asarray(y.data), None
    y.backward(cr.tensor(upstream(y.shape, dtype, seed=3)))
    return np.asarray(y.data), np.asarray(x.grad)


def _torch_run(fn, values, dtype):
    x = torch.tensor(np.asarray(values, dtype=dtype), requires_grad=True)
    y = fn(x)
    y.backward(torch.from_numpy(upstream(tuple(y.shape), dtype, seed=3)))
    return y.detach().numpy(), x.grad.numpy()


# ---- C1: extreme logits, finite results, no FP exception ----
@pytest.mark.parametrize("dtype", DTYPES)
def test_c1_log_softmax_and_softmax_at_1e4(dtype):
    z = [1e4, 0.0, -1e4]
    with np.errstate(**RAISE):
        ls, gls = _run(lambda x: F.log_softmax(x, dim=-1), z, dtype)
        sm, gsm = _run(lambda x: F.softmax(x, dim=-1), z, dtype)
        lse, glse = _run(lambda x: cr.logsumexp(x, dim=0), z, dtype)
    np.testing.assert_array_equal(ls, np.array([0.0, -1e4, -2e4], dtype=dtype))
    np.testing.assert_array_equal(sm, np.array([1.0, 0.0, 0.0], dtype=dtype))
    assert lse == dtype(1e4)
    for got, ref in (
        ((ls, gls), _torch_run(lambda x: torch.log_softmax(x, -1), z, dtype)),
        ((sm, gsm), _torch_run(lambda x: torch.softmax(x, -1), z, dtype)),
        ((lse, glse), _torch_run(lambda x: torch.logsumexp(x, 0), z, dtype)),
    ):
        assert np.all(np.isfinite(got[1])) and got[1].dtype == dtype
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-6, atol=0)
        np.testing.assert_allclose(got[1], ref[1], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_c1_batched_and_other_axis(dtype):
    z = np.array([[1e4, -1e4], [0.0, 1e4], [-1e4, 0.0]], dtype=dtype)
    with np.errstate(**RAISE):
        out, g = _run(lambda x: F.log_softmax(x, dim=0), z, dtype)
    ref, tg = _torch_run(lambda x: torch.log_softmax(x, 0), z, dtype)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_allclose(g, tg, rtol=1e-6, atol=1e-7)


# ---- C6 / C7: infinities (default error state, exact comparison) ----
C6 = [
    ([-np.inf, -np.inf], -np.inf),
    ([np.inf, 1.0], np.inf),
    ([-1000.0, -1000.0], -999.3068528194401),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("values, expected", C6, ids=["neg_inf", "pos_inf", "minus_1000"])
def test_c6_logsumexp_with_infinities(values, expected, dtype):
    out, g = _run(lambda x: cr.logsumexp(x, dim=0), values, dtype)
    np.testing.assert_array_equal(out, np.asarray(expected, dtype=dtype))
    ref, tg = _torch_run(lambda x: torch.logsumexp(x, 0), values, dtype)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_allclose(g, tg, rtol=1e-6, equal_nan=True)  # NaN where torch has NaN


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("values", [[-np.inf, -np.inf], [np.inf, 1.0]], ids=["neg_inf", "inf"])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_c7_softmax_with_infinities_is_nan_like_torch(values, name, dtype):
    out, _ = _run(lambda x: getattr(F, name)(x, dim=0), values, dtype, grad=False)
    ref = getattr(torch, name)(torch.tensor(np.asarray(values, dtype=dtype)), 0).numpy()
    np.testing.assert_array_equal(out, ref)
    if name == "softmax":
        assert np.isnan(out).all()  # parity with torch, documented in softmax's docstring


# ---- C8: saturating activations ----
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "name, expected", [("sigmoid", [1.0, 0.0]), ("tanh", [1.0, -1.0])], ids=["sigmoid", "tanh"]
)
def test_c8_saturation_at_1e4(name, expected, dtype):
    with np.errstate(**RAISE):
        out, g = _run(getattr(cr, name), [1e4, -1e4], dtype)
    np.testing.assert_array_equal(out, np.asarray(expected, dtype=dtype))
    np.testing.assert_array_equal(g, np.zeros(2, dtype=dtype))
    _, tg = _torch_run(getattr(torch, name), [1e4, -1e4], dtype)
    np.testing.assert_array_equal(g, tg)


# ---- C9: log, sqrt, abs, relu, max at 0 ----
@pytest.mark.parametrize("dtype", DTYPES)
def test_c9_values_and_gradients_at_zero(dtype):
    ones = lambda y: np.ones(y.shape, dtype)  # noqa: E731
    cases = {
        "log": (cr.log, torch.log, [0.0], -np.inf, np.inf),
        "sqrt": (cr.sqrt, torch.sqrt, [0.0], 0.0, np.inf),
        "abs": (cr.abs, torch.abs, [0.0], 0.0, 0.0),
        "relu": (cr.relu, torch.relu, [0.0], 0.0, 0.0),
    }
    for name, (fn, tfn, x, value, grad) in cases.items():
        t = cr.tensor(np.asarray(x, dtype=dtype), requires_grad=True)
        y = fn(t)
        y.backward(ones(y))
        assert y.item() == value, name
        assert t.grad.item() == grad, name
        tt = torch.tensor(np.asarray(x, dtype=dtype), requires_grad=True)
        tfn(tt).backward(torch.ones(1, dtype=tt.dtype))
        assert t.grad.item() == tt.grad.item(), name
    # max: ties share the gradient (torch.amax / full torch.max rule)
    x = cr.tensor(np.zeros(4, dtype), requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), np.full(4, 0.25, dtype))


# ---- C10: NaN propagates ----
@pytest.mark.parametrize("dtype", DTYPES)
def test_c10_nan_propagates(dtype):
    v = np.array([np.nan, -1.0, 2.0], dtype=dtype)
    np.testing.assert_array_equal(cr.relu(cr.tensor(v)).numpy(), np.array([np.nan, 0.0, 2.0]))
    assert np.isnan(cr.tensor(v).max().item()) and np.isnan(cr.tensor(v).min().item())
    assert np.isnan(cr.tensor(v).sum().item()) and np.isnan(cr.tensor(v).mean().item())
    m = cr.tensor(np.array([[1.0, np.nan], [2.0, 3.0]], dtype=dtype))
    mm = (m @ cr.tensor(np.eye(2, dtype=dtype))).numpy()
    assert np.isnan(mm[0]).all() and not np.isnan(mm[1]).any()
    assert cr.tensor(np.array([1.0, np.nan, 5.0, np.nan], dtype)).argmax().item() == 1
    assert cr.tensor(np.array([1.0, np.nan, -5.0], dtype)).argmin().item() == 1
    rows = cr.tensor(np.array([[1.0, np.nan], [3.0, 2.0]], dtype))
    assert rows.argmax(dim=1).tolist() == [1, 0]
    np.testing.assert_array_equal(rows.max(dim=1).numpy(), np.array([np.nan, 3.0], dtype))
    # gradients through NaN follow torch
    for fn, tfn in ((cr.relu, torch.relu), (lambda t: t.max(), torch.amax), (cr.sum, torch.sum)):
        _, g = _run(fn, v, dtype)
        _, tg = _torch_run(tfn, v, dtype)
        np.testing.assert_array_equal(g, tg)


# ---- C13: float32 in, float32 out, for every engine op, forward and gradient ----
def _float32_samples():
    for p in op_params(OP_DB):
        op, s = p.values
        if "dtype" in s.kwargs:  # an explicit dtype= asks for another dtype
            continue
        if not any(x.dtype.kind == "f" for x in s.leaves()):
            continue
        yield p


@pytest.mark.parametrize("op, sample", list(_float32_samples()))
def test_c13_float32_is_preserved(op, sample):
    cargs, _, leaves, _ = _build(sample, np.float32, requires_grad=op.grad)
    with np.errstate(**RAISE):
        outs = _outputs(op.op(*cargs, **sample.kwargs))
        floats = [o for o in outs if o.dtype.kind == "f"]
        for o in floats:
            assert o.dtype == np.float32, f"{op.name}: output is {o.dtype}"
        diff = [o for o in floats if o.requires_grad]
    if not diff:
        return
    finite = all(np.isfinite(o.data).all() for o in diff)  # -inf * u may meet +inf in the sum
    with np.errstate(**(RAISE if finite else {"invalid": "ignore"})):
        sum((o * cr.tensor(upstream(o.shape, np.float32))).sum() for o in diff).backward()
    for i in sample.diff_leaves():
        g = leaves[i].grad
        assert g is None or g.dtype == np.float32, f"{op.name}: gradient is {g.dtype}"


# ---- property tests (hypothesis), float64 ----
LOGITS = arrays(
    np.float64,
    array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=8),
    elements=st.floats(-1e4, 1e4, allow_nan=False),
)


def _axis(x, data):
    return data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")


@given(LOGITS, st.data())
def test_softmax_is_a_distribution(x, data):
    d = _axis(x, data)
    with np.errstate(**RAISE):
        p = F.softmax(cr.tensor(x), dim=d).numpy()
    assert np.all(p >= 0) and np.all(p <= 1)
    np.testing.assert_allclose(p.sum(axis=d), 1.0, rtol=0, atol=1e-12)


@given(LOGITS, st.data())
def test_log_softmax_is_log_of_softmax_and_nonpositive(x, data):
    d = _axis(x, data)
    with np.errstate(**RAISE):
        ls = F.log_softmax(cr.tensor(x), dim=d).numpy()
        p = F.softmax(cr.tensor(x), dim=d).numpy()
    assert np.all(ls <= 0)
    np.testing.assert_allclose(np.exp(ls), p, rtol=1e-12, atol=1e-300)


@given(LOGITS, st.floats(-1e4, 1e4), st.data())
def test_softmax_shift_invariance(x, c, data):
    d = _axis(x, data)
    with np.errstate(**RAISE):
        p = F.softmax(cr.tensor(x), dim=d).numpy()
        q = F.softmax(cr.tensor(x + c), dim=d).numpy()
    # x + c rounds to the spacing of 2e4 (3.6e-12): softmax moves by that relative amount
    np.testing.assert_allclose(q, p, rtol=1e-10, atol=1e-12)


@given(LOGITS, st.data())
def test_logsumexp_bounds(x, data):
    d = _axis(x, data)
    n = x.shape[d]
    with np.errstate(**RAISE):
        lse = cr.logsumexp(cr.tensor(x), dim=d).numpy()
    m = x.max(axis=d)
    assert np.all(lse >= m - 1e-9 * np.maximum(1, np.abs(m)))
    assert np.all(lse <= m + np.log(n) + 1e-9 * np.maximum(1, np.abs(m)))


@given(LOGITS, st.data())
def test_softmax_family_parity_with_torch(x, data):
    d = _axis(x, data)
    t = torch.from_numpy(x)
    with np.errstate(**RAISE):
        ours = [
            F.softmax(cr.tensor(x), dim=d).numpy(),
            F.log_softmax(cr.tensor(x), dim=d).numpy(),
            cr.logsumexp(cr.tensor(x), dim=d).numpy(),
        ]
    theirs = [torch.softmax(t, d), torch.log_softmax(t, d), torch.logsumexp(t, d)]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-6, atol=1e-8)


@given(LOGITS, st.data())
def test_softmax_gradients_finite_and_match_torch(x, data):
    d = _axis(x, data)
    u = upstream(x.shape, np.float64, seed=5)
    for name in ("softmax", "log_softmax"):
        c = cr.tensor(x, requires_grad=True)
        with np.errstate(**RAISE):
            getattr(F, name)(c, dim=d).backward(cr.tensor(u))
        t = torch.tensor(x, requires_grad=True)
        getattr(torch, name)(t, d).backward(torch.from_numpy(u))
        g = np.asarray(c.grad)
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-6, atol=1e-8)
