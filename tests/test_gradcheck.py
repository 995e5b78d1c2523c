"""``chainrule.gradcheck``: passes on right backward passes, and on a wrong one raises
``GradcheckError`` naming the worst element, in full-Jacobian and directional modes."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.gradcheck import GradcheckError, GradcheckReport, numerical_vjp


class _SquareWrong(cr.Function):
    """y = x², with the derivative written as 3x instead of 2x (a deliberate bug)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return (gy * 3 * x,)


class _OffByOneElement(cr.Function):
    """y = 2x, with a backward that is right everywhere but at flat index 5."""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, gy):
        g = 2 * gy
        g.reshape(-1)[5] += 0.5
        return (g,)


def _t(values, requires_grad=True):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


CORRECT = [
    ("sigmoid_of_square", lambda x: (x * x).sigmoid(), [[0.5, -1.0, 2.0]]),
    ("matmul_tanh", lambda a, b: (a @ b).tanh(), [np.ones((2, 3)) * 0.3, np.eye(3)[:, :2] - 0.2]),
    ("broadcast_div", lambda a, b: a / b, [[[1.0], [2.0]], [1.5, -2.0, 3.0]]),
    ("reduction", lambda x: x.logsumexp(dim=1) + x.std(dim=0).sum(), [[[1.0, 2.0], [0.5, -1]]]),
    ("tuple_output", lambda x: (x.exp(), x.sin().sum()), [[0.1, 0.2, 0.3]]),
    ("scalar_0d", lambda x: x * x * x, [1.5]),
]


@pytest.mark.parametrize("fn, inputs", [pytest.param(f, i, id=n) for n, f, i in CORRECT])
def test_gradcheck_passes_on_correct_functions(fn, inputs):
    report = cr.gradcheck(fn, *[_t(x) for x in inputs])
    assert isinstance(report, GradcheckReport) and report.passed and bool(report)
    assert len(report.inputs) == len(inputs)
    assert all(r.max_abs_error < 1e-6 for r in report.inputs)


def test_gradcheck_raises_on_wrong_derivative_naming_worst_element():
    x = _t([0.1, -2.0, 0.5])  # error |x| per element: largest at index 1
    with pytest.raises(GradcheckError) as info:
        cr.gradcheck(_SquareWrong.apply, x)
    msg = str(info.value)
    assert "FAILED" in msg and "input 0 (3,) [full]" in msg
    assert "worst at (1,)" in msg
    # analytical 3x·u vs numerical 2x·u at the worst element: ratio 3/2
    worst = [line for line in msg.splitlines() if "worst at" in line][0]
    a = float(worst.split("analytical ")[1].split(",")[0])
    n = float(worst.split("numerical ")[1])
    assert a / n == pytest.approx(1.5, rel=1e-6)


def test_gradcheck_finds_a_single_wrong_element_of_a_matrix():
    x = _t(np.arange(12.0).reshape(3, 4) / 10)
    report = cr.gradcheck(_OffByOneElement.apply, x, raise_exception=False)
    assert not report.passed and not bool(report)
    (r,) = report.inputs
    assert r.worst[0] == (1, 1)  # flat index 5 of a (3, 4) input
    assert r.worst[1] - r.worst[2] == pytest.approx(0.5, abs=1e-6)
    assert r.max_abs_error == pytest.approx(0.5, abs=1e-6)


def test_gradcheck_reports_only_the_bad_input():
    a, b = _t([0.3, 0.7]), _t([1.5, -0.5])
    report = cr.gradcheck(lambda x, y: _SquareWrong.apply(x) + y * y, a, b, raise_exception=False)
    assert [r.passed for r in report.inputs] == [False, True]
    text = str(report)
    assert "input 0 (2,) [full]" in text and "MISMATCH" in text
    assert text.count("MISMATCH") == 1 and "input 1 (2,) [full]" in text


def test_directional_mode_for_large_inputs():
    x = _t(np.linspace(-1, 1, 300))
    report = cr.gradcheck(lambda t: (t * t).sin(), x)  # 300 > max_elements=256
    assert report.inputs[0].method == "3 random directions"
    with pytest.raises(GradcheckError, match=r"\[3 random directions\].*worst at direction"):
        cr.gradcheck(_SquareWrong.apply, x)
    small = cr.gradcheck(lambda t: t.exp(), _t(np.ones(20)), max_elements=10, directions=5)
    assert small.inputs[0].method == "5 random directions"


def test_report_printing():
    report = cr.gradcheck(lambda t: t.tanh(), _t([[0.5, 1.0]]))
    text = str(report)
    assert text.splitlines()[0] == "gradcheck (atol=1e-05, rtol=0.001): passed"
    assert "input 0 (1, 2) [full]: max abs err" in text and " ok" in text
    bad = str(cr.gradcheck(_SquareWrong.apply, _t([1.0]), raise_exception=False))
    assert bad.splitlines()[0].endswith("FAILED")
    assert "input 0 (1,) [full]" in bad and "MISMATCH; worst at (0,): analytical" in bad


def test_inputs_without_requires_grad_are_not_checked_and_not_modified():
    x, c = _t([0.5, 1.5]), _t([2.0, 3.0], requires_grad=False)
    before = c.data.copy()
    report = cr.gradcheck(lambda a, b: a * b, x, c)
    assert [r.index for r in report.inputs] == [0]
    np.testing.assert_array_equal(c.data, before)
    with pytest.raises(ValueError, match="no input requires grad"):
        cr.gradcheck(lambda a: a * 2, c)
    with pytest.raises(ValueError, match="does not depend on any input"):
        cr.gradcheck(lambda a: cr.tensor([1.0]), x)


def test_float32_inputs_are_checked_in_float64():
    x = cr.tensor([0.25, -0.75], requires_grad=True)  # float32
    seen = []
    cr.gradcheck(lambda t: seen.append(t.dtype) or t.exp(), x)
    assert set(seen) == {np.dtype(np.float64)}
    assert x.dtype == np.float32 and x.grad is None  # the original is untouched


def test_numerical_vjp_is_a_central_difference():
    u = [np.array([1.0, -2.0])]
    arrays = [np.array([0.5, 2.0])]
    g = numerical_vjp(lambda t: t * t * t, arrays, u, 0, 1e-6)
    np.testing.assert_allclose(g, 3 * arrays[0] ** 2 * u[0], rtol=1e-8)
    np.testing.assert_array_equal(arrays[0], [0.5, 2.0])  # restored after perturbation


def test_tolerances_are_applied():
    x = _t([1.0])
    # 3x vs 2x at x=1 with u in (-1, 1): the error is |u| < 1, so a huge atol passes
    assert cr.gradcheck(_SquareWrong.apply, x, atol=1.0, rtol=0.0).passed
    assert not cr.gradcheck(_SquareWrong.apply, x, atol=0.0, rtol=0.4, raise_exception=False)
