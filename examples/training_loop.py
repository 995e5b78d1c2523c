"""The plain PyTorch-style training loop, written out, next to ``model.fit``.

``fit`` is built on exactly these public pieces, one step per mini-batch (the notes'
mini-batch gradient descent)::

    optimizer.zero_grad()          # forget the previous step's gradients
    output = model(xb)             # forward: build the graph
    loss = loss_fn(output, yb)     # a scalar
    loss.backward()                # reverse-mode autodiff fills p.grad for every parameter
    optimizer.step()               # update the parameters from p.grad

so the hand-written loop below and ``fit(shuffle=False)`` end with bit-identical weights (the
script checks it). Write the loop yourself when you need something ``fit`` does not do
(several optimizers, gradient accumulation, custom stepping); use ``fit`` for the rest
(metrics, validation, callbacks, checkpoints, exact resume).

The loop also shows the other habits of a PyTorch loop: ``model.train()`` while training,
``model.eval()`` and ``chainrule.no_grad()`` while evaluating, a seeded shuffle per epoch, and
a checkpoint with ``chainrule.save`` (weights and optimizer state in one safe file).

    python examples/training_loop.py
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F


def make_model() -> cr.nn.Module:
    return cr.nn.Sequential(
        cr.nn.Flatten(), cr.nn.Linear(64, 64), cr.nn.ReLU(), cr.nn.Linear(64, 10)
    )


def evaluate(model: cr.nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 256):
    """Mean loss and accuracy, in eval mode, without building a graph."""
    model.eval()
    total, correct = 0.0, 0
    with cr.no_grad():
        for i in range(0, len(x), batch_size):
            xb, yb = cr.tensor(x[i : i + batch_size]), cr.tensor(y[i : i + batch_size])
            out = model(xb)
            total += F.cross_entropy(out, yb).item() * len(xb)
            correct += int((out.data.argmax(1) == yb.data).sum())
    model.train()
    return total / len(x), correct / len(x)


def plain_loop(x, y, xt, yt, epochs: int = 3, batch_size: int = 32, shuffle: bool = True):
    cr.manual_seed(0)
    model = make_model()
    optimizer = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    order = cr.Generator(1)  # the shuffle stream: seeded, never NumPy's global RNG
    model.train()
    for epoch in range(epochs):
        perm = order.permutation(len(x)) if shuffle else np.arange(len(x))
        running = 0.0
        for i in range(0, len(x), batch_size):
            idx = perm[i : i + batch_size]
            xb, yb = cr.tensor(x[idx]), cr.tensor(y[idx])
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(idx)
        val_loss, val_acc = evaluate(model, xt, yt)
        print(
            f"epoch {epoch + 1}: loss {running / len(x):.4f}  "
            f"test loss {val_loss:.4f}  test accuracy {val_acc:.4f}"
        )
    return model, optimizer


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)  # --help
    (x, y), (xt, yt) = cr.data.digits()
    print("plain loop:")
    model, optimizer = plain_loop(x, y, xt, yt)

    # A checkpoint of the loop's state: weights and optimizer state, one safe file.
    path = os.path.join(tempfile.mkdtemp(), "loop.safetensors")
    cr.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    state = cr.load(path)
    restored = make_model()
    restored.load_state_dict(state["model"])
    print("checkpoint reloads:", evaluate(restored, xt, yt) == evaluate(model, xt, yt))

    # The same training through fit (no shuffling on either side): identical weights.
    loop_model, _ = plain_loop(x, y, xt, yt, shuffle=False)
    cr.manual_seed(0)
    fit_model = make_model()
    fit_model.compile(
        optimizer=cr.optim.SGD(fit_model.parameters(), lr=0.1, momentum=0.9),
        loss="cross_entropy",
        metrics=["accuracy"],
    )
    fit_model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    same = all(
        a.data.tobytes() == b.data.tobytes()
        for a, b in zip(loop_model.state_dict().values(), fit_model.state_dict().values())
    )
    print("fit and the plain loop give bit-identical weights:", same)


if __name__ == "__main__":
    main()
