"""LeNet-5 on Fashion-MNIST with ``fit`` (issue 5 acceptance), optionally next to PyTorch.

The notes' CNN pipeline: conv 1->6 5x5 padding 2, ReLU, max pool 2, conv 6->16 5x5, ReLU,
max pool 2, flatten, dense 400->120->84->10, softmax cross-entropy; SGD lr 0.05, momentum
0.9, batch 128, 2 epochs, images standardised (mean 0.2860, std 0.3530; ``--raw`` to skip).
The issue asks for >= 87% test accuracy; after only 2 epochs the result depends on the seed
by about a point (tests/test_train_fashion.py lists the measurements).

    python examples/train_lenet_fashion.py                    # chainrule only
    python examples/train_lenet_fashion.py --compare-torch    # and the same run in PyTorch

With ``--compare-torch`` PyTorch trains the same architecture from the *same initial
weights* (copied from the chainrule model) with the same optimizer, batch size and epochs,
and the script prints each framework's time per epoch and final test accuracy. Both are
pinned to the same thread count (``--threads``, default 2). The data comes from
``chainrule.data.fashion_mnist()`` (Debian's dataset-fashion-mnist files, $CHAINRULE_DATA or
~/.cache/chainrule/fashion-mnist); ``--limit N`` trains on the first N images for a quick try.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--raw", action="store_true", help="do not standardise the images")
    p.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--compare-torch", action="store_true")
    p.add_argument("--verbose", type=int, default=2)
    return p.parse_args()


class EpochTimer:
    """Wall time of each epoch's training (validation excluded)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._t = 0.0

    def begin(self) -> None:
        self._t = time.perf_counter()

    def end(self) -> None:
        self.times.append(time.perf_counter() - self._t)


def train_chainrule(args: argparse.Namespace, data: tuple) -> dict:
    import chainrule as cr

    (x, y), (xt, yt) = data
    cr.manual_seed(args.seed)
    model = cr.models.lenet5()
    init = {k: v.data.copy() for k, v in model.state_dict().items()}
    model.compile(
        optimizer=cr.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum),
        loss="cross_entropy",
        metrics=["accuracy"],
    )
    timer = EpochTimer()
    cb = cr.callbacks.LambdaCallback(
        on_epoch_begin=lambda e, logs: timer.begin(), on_epoch_end=lambda e, logs: timer.end()
    )
    history = model.fit(
        x, y, batch_size=args.batch_size, epochs=args.epochs, callbacks=[cb], verbose=args.verbose
    )
    loss, acc = model.evaluate(xt, yt, batch_size=1000, verbose=0)
    return {
        "init": init,
        "epoch_s": timer.times,
        "test_acc": acc,
        "test_loss": loss,
        "train_loss": history.history["loss"],
    }


def train_torch(args: argparse.Namespace, data: tuple, init: dict) -> dict:
    import torch
    from torch import nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    (x, y), (xt, yt) = data
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )
    model.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    times, losses = [], []
    for _ in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(xs))
        total = 0.0
        for i in range(0, len(xs), args.batch_size):
            idx = perm[i : i + args.batch_size]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xs[idx]), ys[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        times.append(time.perf_counter() - t0)
        losses.append(total / len(xs))
    model.eval()
    with torch.no_grad():
        logits = torch.cat(
            [model(torch.from_numpy(xt[i : i + 1000])) for i in range(0, len(xt), 1000)]
        )
    acc = float((logits.argmax(1).numpy() == yt).mean())
    return {"epoch_s": times, "test_acc": acc, "train_loss": losses}


def main() -> None:
    args = parse()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    import chainrule as cr

    (x, y), (xt, yt) = cr.data.fashion_mnist()
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    if not args.raw:  # the training set's mean and standard deviation
        x, xt = (x - 0.2860) / 0.3530, (xt - 0.2860) / 0.3530
    data = ((x, y), (xt, yt))
    print(
        f"Fashion-MNIST: {len(x)} training, {len(xt)} test images; LeNet-5, SGD lr "
        f"{args.lr} momentum {args.momentum}, batch {args.batch_size}, {args.epochs} epochs, "
        f"{args.threads} threads"
    )
    ours = train_chainrule(args, data)
    rows = [("chainrule", ours)]
    if args.compare_torch:
        rows.append(("pytorch", train_torch(args, data, ours["init"])))
    print(f"\n{'framework':<10} {'s/epoch':>10} {'train loss':>12} {'test acc':>9}")
    for name, r in rows:
        per_epoch = " ".join(f"{t:.1f}" for t in r["epoch_s"])
        print(f"{name:<10} {per_epoch:>10} {r['train_loss'][-1]:>12.4f} {r['test_acc']:>9.4f}")
    if args.compare_torch:
        ratio = np.mean(ours["epoch_s"]) / np.mean(rows[1][1]["epoch_s"])
        print(f"\nchainrule / PyTorch epoch time: {ratio:.2f}x")


if __name__ == "__main__":
    main()
