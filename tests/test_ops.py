"""The engine's op table (``tests/op_db.py``) run through the generic OpInfo checks, the
kink conventions pinned to PyTorch's exact values, and the table's coverage of the ops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autograd.gradcheck import GradcheckError
from op_db import OP_DB
from opinfo import (
    ErrorInput,
    OpInfo,
    SampleInput,
    check_error,
    check_forward,
    check_gradcheck,
    check_vjp,
    generic_op_tests,
    upstream,
)

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]

test_op_forward, test_op_vjp, test_op_gradcheck, test_op_error = generic_op_tests(
    OP_DB, dtype_ids=("float32", "float64")
)


# ---- kinks: pinned to PyTorch's exact values, on exact inputs ----
def _grads(fn_cr, fn_torch, *arrays, dtype=np.float64):
    """Gradients of every input under a fixed random upstream gradient, for both frameworks."""
    xs = [np.asarray(a, dtype=dtype) for a in arrays]
    cx = [cr.tensor(x, requires_grad=True) for x in xs]
    tx = [torch.tensor(x, requires_grad=True) for x in xs]
    out, tout = fn_cr(*cx), fn_torch(*tx)
    np.testing.assert_array_equal(np.asarray(out.data), tout.detach().numpy())
    u = upstream(tuple(tout.shape), dtype, seed=7)
    out.backward(cr.tensor(u))
    tout.backward(torch.from_numpy(u))
    return [np.asarray(c.grad) for c in cx], [t.grad.numpy() for t in tx]


KINKS = [
    ("relu_at_0", cr.relu, torch.relu, [[-1.0, 0.0, 1.0]]),
    ("relu_nan", cr.relu, torch.relu, [[np.nan, -1.0, 2.0]]),
    ("abs_at_0", cr.abs, torch.abs, [[-1.0, 0.0, 1.0]]),
    ("sign_at_0", cr.sign, torch.sign, [[-1.0, 0.0, 1.0]]),
    ("sqrt_at_0", cr.sqrt, torch.sqrt, [[0.0, 1.0]]),
    ("log_at_0", cr.log, torch.log, [[0.0, 1.0]]),
    ("pow_scalar_half_at_0", lambda x: x**0.5, lambda x: x**0.5, [[0.0, 4.0]]),
    ("pow_scalar_0_at_0", lambda x: x**0, lambda x: x**0, [[0.0, 2.0]]),
    ("pow_tensor_at_0", lambda x, y: x**y, lambda x, y: x**y, [[0.0, 0.0, 2.0], [0.0, 1.0, 0.0]]),
    (
        "clip_at_bounds",
        lambda x: cr.clip(x, -0.5, 0.5),
        lambda x: torch.clamp(x, -0.5, 0.5),
        [[-1.0, -0.5, 0.0, 0.5, 1.0]],
    ),
    (
        "clip_tensor_bounds_at_bounds",
        cr.clip,
        torch.clamp,
        [[-1.0, -0.5, 0.0, 0.5, 1.0], [-0.5, -0.5, -0.5, -0.5, 2.0], [0.5, 0.5, 0.5, 0.5, 0.5]],
    ),
    (
        "clip_tensor_min_above_max",
        cr.clip,
        torch.clamp,
        [[-1.0, 0.0, 1.0], [0.5, 0.5, 0.5], [-0.5, -0.5, -0.5]],
    ),
    ("maximum_ties", cr.maximum, torch.maximum, [[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]]),
    ("minimum_ties", cr.minimum, torch.minimum, [[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]]),
    ("maximum_nan", cr.maximum, torch.maximum, [[np.nan, 1.0], [1.0, np.nan]]),
    ("minimum_nan", cr.minimum, torch.minimum, [[np.nan, 1.0], [1.0, np.nan]]),
    ("max_all_ties", cr.max, torch.max, [[[1.0, 3.0, 3.0], [3.0, 2.0, 0.0]]]),
    ("min_all_ties", cr.min, torch.min, [[[1.0, 0.0, 3.0], [0.0, 2.0, 0.0]]]),
    (
        "amax_dim_ties",
        lambda x: cr.amax(x, dim=1),
        lambda x: torch.amax(x, dim=1),
        [[[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]],
    ),
    (
        "amin_dim_ties_keepdim",
        lambda x: cr.amin(x, dim=0, keepdim=True),
        lambda x: torch.amin(x, dim=0, keepdim=True),
        [[[1.0, 3.0, 2.0], [1.0, 2.0, 2.0]]],
    ),
    ("std_constant", cr.std, torch.std, [[2.0, 2.0, 2.0]]),
    (
        "std_constant_rows",
        lambda x: cr.std(x, dim=1),
        lambda x: torch.std(x, dim=1),
        [[[1.0, 1.0], [1.0, 3.0]]],
    ),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, tfn, arrays", [pytest.param(f, t, a, id=n) for n, f, t, a in KINKS])
def test_op_kink(fn, tfn, arrays, dtype):
    with np.errstate(all="ignore"):  # inf/NaN gradients are the point here
        ours, theirs = _grads(fn, tfn, *arrays, dtype=dtype)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_array_equal(a, b, err_msg=f"gradient of input {k}")


# ---- the checks themselves can fail ----
class _IgnoresUpstream(cr.Function):
    """y = 3x with a backward that forgets the upstream gradient (right only under .sum())."""

    @staticmethod
    def forward(ctx, x):
        return 3 * x

    @staticmethod
    def backward(ctx, gy):
        return (np.full_like(gy, 3.0),)


def _bad_samples(rng):
    yield SampleInput("v", rng.standard_normal(4))


BAD_OPS = [
    OpInfo("ignores_upstream", _IgnoresUpstream.apply, lambda x: 3 * x, _bad_samples),
    OpInfo("wrong_value", lambda x: x * 3.001, lambda x: 3 * x, _bad_samples),
    OpInfo("upcasts", lambda x: x.double() * 3, lambda x: 3 * x, _bad_samples),
]


def test_opinfo_checks_catch_wrong_ops():
    ignores, wrong, upcasts = BAD_OPS
    (s,) = ignores.samples()
    check_forward(ignores, s, np.float64)  # the forward is right ...
    with pytest.raises(AssertionError, match="grad of leaf 0"):
        check_vjp(ignores, s, np.float64)  # ... the backward is caught by the random upstream
    with pytest.raises(GradcheckError):
        check_gradcheck(ignores, s)
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        check_forward(wrong, s, np.float32)
    with pytest.raises(AssertionError, match="dtype float64 != torch torch.float32"):
        check_forward(upcasts, s, np.float32)
    bad_error = ErrorInput(SampleInput("e", np.ones(3), np.ones(3)), ValueError, "x")
    with pytest.raises(pytest.fail.Exception):
        check_error(OpInfo("add", cr.add, torch.add, _bad_samples), bad_error)


# ---- coverage ----
ENGINE_MODULES = {
    "chainrule.ops.arithmetic",
    "chainrule.ops.elementwise",
    "chainrule.ops.reduction",
    "chainrule.ops.shape",
    "chainrule.ops.indexing",
    "chainrule.ops.linalg",
}
ENGINE_ACTIVATIONS = {"softmax", "log_softmax"}  # the rest of ops/activation.py has its table


def test_op_db_covers_every_engine_op():
    """Every public function of the engine's families in ``chainrule.ops.__all__`` has an
    op_db entry of the same name (aliases such as ``cat``/``concat`` included)."""
    import inspect

    engine = {
        name
        for name in cr.ops.__all__
        if inspect.isfunction(obj := getattr(cr.ops, name))
        and (obj.__module__ in ENGINE_MODULES or name in ENGINE_ACTIVATIONS)
    }
    assert len(engine) > 50  # the families are really found
    missing = engine - {op.name for op in OP_DB}
    assert not missing, f"ops without an op_db entry: {sorted(missing)}"
    names = [op.name for op in OP_DB]
    assert len(names) == len(set(names)), "duplicate OpInfo names"
