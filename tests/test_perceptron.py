"""The perceptron of the notes (rule, AND/OR/XOR, non-convergence) and the MLP that learns XOR."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.models.perceptron import ConvergenceWarning, Perceptron, PerceptronHistory

X = [[0, 0], [0, 1], [1, 0], [1, 1]]
AND, OR, XOR = [0, 0, 0, 1], [0, 1, 1, 1], [0, 1, 1, 0]


@pytest.mark.parametrize("target", [AND, OR], ids=["AND", "OR"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learns_linearly_separable_functions(target, seed):
    cr.manual_seed(seed)
    p = Perceptron(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        history = p.fit(X, target, epochs=50)
    assert isinstance(history, PerceptronHistory)
    assert history.converged and history.errors[-1] == 0 and history.epochs < 50
    assert all(e > 0 for e in history.errors[:-1])  # it stops at the first error-free epoch
    assert p.predict(X).ravel().tolist() == target
    assert p.score(X, target) == 1.0
    np.testing.assert_array_equal(p(cr.tensor(X)).data.ravel(), np.array(target, np.float32))


def test_fails_on_xor_and_says_so():
    p = Perceptron(2)
    with pytest.warns(ConvergenceWarning, match=r"did not converge in 20 epochs .*XOR"):
        history = p.fit(X, XOR, epochs=20)
    assert not history.converged and history.epochs == 20
    assert min(history.errors) > 0  # no epoch is ever free of errors
    assert p.score(X, XOR) < 1.0


def test_update_rule_by_hand():
    # w_ij <- w_ij + η (t_j − y_j) x_i, with the bias input −1 appended to x
    p = Perceptron(2, out_features=2, eta=0.1, bias_input=-1.0)
    w0 = np.array([[0.2, -0.3], [0.1, 0.4], [0.5, -0.1]], dtype=np.float32)
    p.weight.data[...] = w0
    x, t = np.array([[1.0, 2.0]]), np.array([[1, 1]])
    xa = np.array([1.0, 2.0, -1.0])
    y = (xa @ w0 > 0).astype(np.float32)  # h = [-0.1, 0.6] -> y = [0, 1]
    np.testing.assert_array_equal(y, [0, 1])
    with pytest.warns(ConvergenceWarning):
        history = p.fit(x, t, epochs=1)
    assert history.errors == [1]
    np.testing.assert_allclose(p.weight.data, w0 + 0.1 * np.outer(xa, t[0] - y), rtol=1e-6)


def test_several_neurons_learn_and_or_together():
    cr.manual_seed(0)
    p = Perceptron(2, out_features=2)
    history = p.fit(X, np.stack([AND, OR], axis=1))
    assert history.converged
    np.testing.assert_array_equal(p.predict(X), np.stack([AND, OR], axis=1))


def test_reproducible_and_shuffled_with_generator():
    runs = []
    for _ in range(2):
        p = Perceptron(2, generator=cr.Generator(3))
        runs.append(
            (p.fit(X, OR, shuffle=True, generator=cr.Generator(4)).errors, p.weight.data.copy())
        )
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_weights_are_a_frozen_parameter():
    p = Perceptron(3, out_features=2)
    assert p.weight.shape == (4, 2) and not p.weight.requires_grad
    assert list(p.state_dict()) == ["weight"]
    assert "Non-trainable params: 8 " in cr.summary(p, (3,), quiet=True)
    assert repr(p) == "Perceptron(in_features=3, out_features=2, eta=0.25, bias_input=-1.0)"


def test_bad_input():
    p = Perceptron(2)
    with pytest.raises(
        ValueError, match=r"expected inputs of shape \(n, 2\) .* got shape \(4, 3\)"
    ):
        p.fit(np.zeros((4, 3)), AND)
    with pytest.raises(ValueError, match="targets must be 0 or 1, got -1"):
        p.fit(X, [0, 1, -1, 1])
    with pytest.raises(ValueError, match=r"targets must have shape \(4, 1\)"):
        p.fit(X, [0, 1])
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        p.fit(X, AND, epochs=0)
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        Perceptron(0)


def test_mlp_with_one_hidden_layer_learns_xor():
    cr.manual_seed(0)
    x = cr.tensor(X, dtype="float32")
    t = cr.tensor(XOR, dtype="float32").reshape(4, 1)
    model = cr.nn.Sequential(cr.nn.Linear(2, 4), cr.nn.Tanh(), cr.nn.Linear(4, 1))
    params = list(model.parameters())
    first = None
    for _ in range(300):
        model.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x), t)
        loss.backward()
        first = loss.item() if first is None else first
        for p in params:  # plain gradient descent
            p.data -= 1.0 * p.grad.data
    assert loss.item() < 0.05 < first
    assert (model(x).data.ravel() > 0).astype(int).tolist() == XOR


def test_example_runs():
    script = Path(__file__).resolve().parents[1] / "examples" / "perceptron.py"
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "converged=False after 50 epochs" in r.stdout
    assert "outputs [0, 1, 1, 0]" in r.stdout
