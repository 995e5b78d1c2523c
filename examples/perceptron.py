"""The neuron and the perceptron (notes 002): the perceptron rule learns AND and OR, cannot
learn XOR, and a multi-layer perceptron with one hidden layer, trained by backpropagation and
plain gradient descent written out by hand, can.

Run: .venv/bin/python examples/perceptron.py
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.models.perceptron import ConvergenceWarning, Perceptron

INPUTS = [[0, 0], [0, 1], [1, 0], [1, 1]]
TRUTH_TABLES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}


def perceptron_on(name: str, epochs: int = 50, seed: int = 0) -> tuple[bool, list[int]]:
    """Train a one-neuron perceptron on a truth table; return (converged, predictions)."""
    cr.manual_seed(seed)
    p = Perceptron(2, eta=0.25, bias_input=-1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        history = p.fit(INPUTS, TRUTH_TABLES[name], epochs=epochs)
    preds = p.predict(INPUTS).ravel().tolist()
    print(f"{name:>3}: errors per epoch {history.errors[:8]}{' ...' if history.epochs > 8 else ''}")
    print(f"     converged={history.converged} after {history.epochs} epochs, outputs {preds}")
    if caught:
        print(f"     warning: {caught[0].message}")
    w = p.weight.data[:, 0]
    print(f"     weights w1={w[0]:+.2f} w2={w[1]:+.2f}, bias-input weight (threshold) {w[2]:+.2f}")
    return history.converged, preds


def mlp_xor(hidden: int = 4, steps: int = 300, lr: float = 1.0, seed: int = 0) -> list[int]:
    """A 2-hidden-4-1 MLP with tanh learns XOR by full-batch gradient descent."""
    cr.manual_seed(seed)
    x = cr.tensor(INPUTS, dtype="float32")
    t = cr.tensor(TRUTH_TABLES["XOR"], dtype="float32").reshape(4, 1)
    model = cr.nn.Sequential(cr.nn.Linear(2, hidden), cr.nn.Tanh(), cr.nn.Linear(hidden, 1))
    params = list(model.parameters())
    for step in range(steps):
        model.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x), t)  # sigmoid + cross-entropy
        loss.backward()  # backpropagation: ∂C/∂w for every weight
        for p in params:  # gradient descent: w <- w - α ∂C/∂w
            p.data -= lr * p.grad.data
        if step % 100 == 0 or step == steps - 1:
            print(f"MLP step {step:4d}: loss {loss.item():.4f}")
    with cr.no_grad():
        probs = cr.sigmoid(model(x)).data.ravel()
    preds = (probs > 0.5).astype(np.int64).tolist()
    print(f"MLP on XOR: probabilities {[f'{v:.3f}' for v in probs]}, outputs {preds}")
    return preds


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)  # --help
    results = {name: perceptron_on(name) for name in TRUTH_TABLES}
    assert results["AND"] == (True, TRUTH_TABLES["AND"])
    assert results["OR"] == (True, TRUTH_TABLES["OR"])
    assert results["XOR"][0] is False  # not linearly separable
    assert mlp_xor() == TRUTH_TABLES["XOR"]
    print("The perceptron learns AND and OR but not XOR; one hidden layer learns XOR.")


if __name__ == "__main__":
    main()
