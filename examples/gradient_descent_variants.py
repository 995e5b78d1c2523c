"""Batch, stochastic and mini-batch gradient descent: one optimizer, three batch sizes.

The notes (002) list three optimizers that are one rule, θ ← θ - η ∇J(θ; batch), applied to
batches of different sizes:

* batch gradient descent: the batch is the whole training set, one update per epoch;
* stochastic gradient descent: the batch is one example, n updates per epoch;
* mini-batch gradient descent: the batch has b examples (here 32), n / b updates per epoch.

All three run the same ``chainrule.optim.SGD`` with the same learning rate on the same
linear-regression problem: scikit-learn's diabetes data (442 patients, 10 standardized
features, a disease-progression score), or a synthetic linear problem if scikit-learn is not
installed. The full-training-set loss is recorded after every epoch and plotted against
epochs and against the number of updates: per epoch, SGD is fastest but noisy; per update,
the full batch is smoothest; mini-batches get most of both.

Run:  python examples/gradient_descent_variants.py [--epochs 40] [--quick] [--out DIR]
The plot needs matplotlib (``pip install chainrule[viz]``); without it the table still prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import viz


def load_problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """Standardized features and targets (float64) and the problem's name."""
    try:
        from sklearn.datasets import load_diabetes

        x, y = load_diabetes(return_X_y=True)
        name = "diabetes regression (scikit-learn, 442 x 10)"
    except ImportError:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(442, 10))
        y = x @ rng.normal(size=10) + 0.5 * rng.normal(size=442)
        name = "synthetic linear regression (442 x 10; scikit-learn not installed)"
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    return x, y.reshape(-1, 1), name


def mse(model: cr.nn.Module, x: np.ndarray, y: np.ndarray) -> cr.Tensor:
    diff = model(cr.tensor(x)) - cr.tensor(y)
    return (diff * diff).mean()


def train(
    x: np.ndarray, y: np.ndarray, batch_size: int, epochs: int, lr: float, seed: int = 0
) -> tuple[list[float], list[int]]:
    """SGD on batches of ``batch_size``; the full-set loss after each epoch and the number of
    updates made so far."""
    cr.manual_seed(seed)  # the same initial weights for every variant
    model = cr.nn.Linear(x.shape[1], 1).double()
    opt = cr.optim.SGD(model.parameters(), lr=lr)
    order = np.random.default_rng(seed)
    n = len(x)
    with cr.no_grad():
        losses = [float(mse(model, x, y))]
    updates = [0]
    for _ in range(epochs):
        perm = order.permutation(n)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            opt.zero_grad()
            mse(model, x[idx], y[idx]).backward()
            opt.step()
        with cr.no_grad():
            losses.append(float(mse(model, x, y)))
        updates.append(updates[-1] + -(-n // batch_size))
    return losses, updates


def plot(curves: dict, title: str, out: Path) -> Path | None:
    try:
        fig = viz.figure((12, 4.5))  # a Figure without pyplot: no backend, nothing to close
    except ImportError as e:
        print(f"no plot: {e}")
        return None
    a, b = fig.subplots(1, 2)
    for label, (losses, updates) in curves.items():
        a.plot(range(len(losses)), losses, marker=".", label=label)
        b.plot(updates[1:], losses[1:], marker=".", label=label)  # after each epoch
    a.set_xlabel("epoch")
    b.set_xlabel("updates (log scale)")
    b.set_xscale("log")
    for ax in (a, b):
        ax.set_ylabel("training MSE (whole set)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path = viz.save_figure(fig, out / "gradient_descent_variants.png", dpi=110)
    print(f"\nplot saved to {path}")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--batch", type=int, default=32, help="mini-batch size")
    parser.add_argument("--quick", action="store_true", help="2 epochs (a smoke test)")
    parser.add_argument("--out", type=Path, default=Path("runs/examples"))
    args = parser.parse_args()
    epochs = 2 if args.quick else args.epochs
    x, y, name = load_problem()
    variants = {
        f"batch GD (batch = {len(x)})": len(x),
        "stochastic GD (batch = 1)": 1,
        f"mini-batch GD (batch = {args.batch})": args.batch,
    }
    print(f"{name}; SGD lr={args.lr}, {epochs} epochs")
    curves = {}
    for label, bs in variants.items():
        losses, updates = train(x, y, bs, epochs, args.lr)
        curves[label] = (losses, updates)
        print(
            f"  {label:30s} loss: start {losses[0]:.4f}  epoch 1 {losses[1]:.4f}  "
            f"final {losses[-1]:.4f}  ({updates[-1]} updates)"
        )
    plot(curves, f"Same SGD, three batch sizes: {name}", args.out)


if __name__ == "__main__":
    main()
