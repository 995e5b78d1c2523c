"""examples/worked_example.py against the notes' numbers (002, "Neural Network Forward and
Backward Propagation") and against PyTorch."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
import torch

from example_helpers import load_example


@pytest.fixture(scope="module")
def example():
    return load_example("worked_example")


# The notes' numbers, as printed there (strings keep their number of digits)
NOTES = {
    "z2": ["0.52", "0.91"],
    "a2": ["0.627", "0.713"],
    "z3": ["1.0413"],
    "a3": ["0.739"],
    "J": ["0.03406"],
    "sigma'(z3)": ["0.1929"],
    "dJ/dz3": ["-0.0503"],
    "dJ/dW2": ["-0.03155", "-0.03587"],
    "dJ/db2": ["-0.0503"],
    "dJ/da2": ["-0.02515", "-0.03018"],
    "sigma'(z2)": ["0.2339", "0.2047"],
    "dJ/dz2": ["-0.00588", "-0.00617"],
    "dJ/db1": ["-0.00588", "-0.00617"],
}
# dJ/dW^1: the notes give its first column only (the weights leaving x_1 = 0.5)
NOTES_W1_COLUMN0 = ["-0.00294", "-0.00308"]


def _agrees_with_notes(value: float, printed: str) -> bool:
    """Within one unit of the notes' last printed digit, or 3 significant digits: the notes
    round a^2 and ŷ to three digits before reusing them, so their later values carry that."""
    unit = float(Decimal(1).scaleb(Decimal(printed).as_tuple().exponent))
    notes = float(printed)
    return abs(value - notes) <= max(unit, 1e-3 * abs(notes))


@pytest.mark.parametrize("key", list(NOTES))
def test_matches_the_notes(example, key):
    got = np.asarray(example.compute()[key]).reshape(-1)
    assert got.size == len(NOTES[key])
    for v, printed in zip(got, NOTES[key]):
        assert _agrees_with_notes(float(v), printed), f"{key}: {v} vs notes {printed}"


def test_dW1_first_column_matches_the_notes(example):
    w1 = example.compute()["dJ/dW1"]
    assert w1.shape == (2, 2)
    for v, printed in zip(w1[:, 0], NOTES_W1_COLUMN0):
        assert _agrees_with_notes(float(v), printed)
    # and the whole matrix is the outer product ∂J/∂z^2 xᵀ (notes: ∂J/∂W^1 = ∂J/∂z^2 · xᵀ)
    v = example.compute()
    np.testing.assert_allclose(w1, np.outer(v["dJ/dz2"], example.X), rtol=1e-12)


def test_backprop_formulas_of_the_notes_hold(example):
    v = example.compute()
    np.testing.assert_allclose(v["dJ/dz3"], (v["a3"] - example.Y) * v["sigma'(z3)"], rtol=1e-12)
    np.testing.assert_allclose(v["dJ/dW2"], v["dJ/dz3"] * v["a2"][None, :], rtol=1e-12)
    np.testing.assert_allclose(
        v["dJ/dz2"], np.asarray(example.W2)[0] * v["dJ/dz3"] * v["sigma'(z2)"], rtol=1e-12
    )
    np.testing.assert_allclose(v["dJ/db1"], v["dJ/dz2"], rtol=0)


def _torch_reference(example):
    t = lambda a, g=False: torch.tensor(a, dtype=torch.float64, requires_grad=g)  # noqa: E731
    x, y = t(example.X), t(example.Y)
    w1, b1, w2, b2 = (t(a, True) for a in (example.W1, example.B1, example.W2, example.B2))
    z2 = w1 @ x + b1
    a2 = torch.sigmoid(z2)
    z3 = w2 @ a2 + b2
    a3 = torch.sigmoid(z3)
    J = 0.5 * ((y - a3) ** 2).sum()  # noqa: N806
    for h in (z2, a2, z3):
        h.retain_grad()
    J.backward()
    return {
        "z2": z2,
        "a2": a2,
        "z3": z3,
        "a3": a3,
        "J": J,
        "dJ/dz3": z3.grad,
        "dJ/dW2": w2.grad,
        "dJ/db2": b2.grad,
        "dJ/da2": a2.grad,
        "dJ/dz2": z2.grad,
        "dJ/dW1": w1.grad,
        "dJ/db1": b1.grad,
    }


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-5)])
def test_matches_pytorch(example, dtype, rtol):
    ours = example.compute(dtype)
    for key, ref in _torch_reference(example).items():
        assert ours[key].dtype == np.dtype(dtype), key
        np.testing.assert_allclose(ours[key], ref.detach().numpy(), rtol=rtol, err_msg=key)


def test_script_prints_every_intermediate(example, capsys):
    example.main([])
    out = capsys.readouterr().out
    for label in ("z^2", "a^2", "z^3", "a^3", "J = ", "∂J/∂z^3", "∂J/∂W^2", "∂J/∂b^2"):
        assert label in out, label
    for label in ("∂J/∂z^2", "∂J/∂W^1", "∂J/∂b^1", "σ'(z^2)", "σ'(z^3)"):
        assert label in out, label
    assert "-0.0503049" in out and "0.0340305" in out  # chainrule's values, printed
