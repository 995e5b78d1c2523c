"""Transfer learning (issue 6, notes 004: "pretrained CNN models ... are often used as starting
points"): pretrain a CNN on Fashion-MNIST classes 0-4, save it, then learn classes 5-9 from 50
labels per class, starting from the saved backbone (frozen, new head) or from scratch.

Source task: T-shirt/top, Trouser, Pullover, Dress, Coat (classes 0-4, all their training
images with ``--full``). Target task: Sandal, Shirt, Sneaker, Bag, Ankle boot (classes 5-9,
relabelled 0-4), ``--labels`` images per class drawn from the training set; accuracy on all
5,000 test images of classes 5-9.

1. pretrain ``lenet5(num_classes=5)`` (or ``--model vgg``: ``vgg_small(convs_per_stage=1)``) on
   the source task and save its ``state_dict`` with ``chainrule.save`` (a safetensors file);
2. fine-tune: build the same network, load every weight but the head's
   (``load_pretrained(..., exclude=HEAD)``), freeze the backbone with ``requires_grad_(False)``
   and train only the new, freshly initialised head on the few labels;
3. from scratch: the same network and the same training (labels, optimizer, epochs, batch),
   every layer trainable, from a fresh initialisation.

Both runs repeat for ``--seeds`` seeds (each seed draws its own labelled images and initial
head); the script prints each pair and the mean gain. ``--weights FILE`` skips step 1 and
starts from a safetensors file, e.g. weights trained in PyTorch and exported with
``chainrule.io.torch_interop.export_torch_weights`` (or ``safetensors.torch.save_file``) from
the same architecture; that module's docstring gives the path for real pretrained networks.

    python examples/transfer_learning.py           # short: pretrain on 6,000 images, 3 seeds
    python examples/transfer_learning.py --full    # pretrain on all 30,000, 5 seeds

Measured (2-core machine shared with other jobs, load 9-11, one BLAS thread; test accuracy on
the 5,000 test images of classes 5-9, chance 0.2):

- short: pretraining 13 s wall (source accuracy 0.805 on classes 0-4); seeds 0-4:
  fine-tuned 0.9131 +- 0.0023, from scratch 0.8977 +- 0.0061, gain +0.015 (min +0.009);
  whole run about 15 s of CPU;
- ``--full``: pretraining 173 s wall (source accuracy 0.910); seeds 0-4: fine-tuned
  0.9261 +- 0.0053, from scratch 0.8977 +- 0.0061, gain +0.028 (min +0.019); about 9 s wall
  per fine-tuning and 15-20 s per from-scratch run (the frozen backbone needs no backward).

Freezing more than the convolutions (LeNet's 400->120->84 layers too, training only the
last 84->5 layer) loses: 0.60 against 0.90 from scratch, those layers having specialised to
the source classes.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.io.torch_interop import load_pretrained

SHORT = {"pretrain_size": 6000, "pretrain_epochs": 2, "seeds": 3}
FULL = {"pretrain_size": None, "pretrain_epochs": 5, "seeds": 5}
SOURCE, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
# the backbone is every layer before the classifier; the head is what the new task replaces
BACKBONE = {"lenet5": slice(0, 6), "vgg": "features"}
HEAD = {"lenet5": ["7.", "9.", "11."], "vgg": ["classifier."]}


def build(name: str) -> cr.nn.Sequential:
    if name == "lenet5":
        return cr.models.lenet5(num_classes=5)
    if name == "vgg":
        return cr.models.vgg_small(num_classes=5, convs_per_stage=1)
    raise ValueError(f"transfer_learning: unknown model {name!r}; choose lenet5 or vgg")


def backbone(model: cr.nn.Sequential, name: str) -> cr.nn.Module:
    part = BACKBONE[name]
    return model[part] if isinstance(part, slice) else getattr(model, part)


def split(x: np.ndarray, y: np.ndarray, classes: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """The images of ``classes``, relabelled 0..len(classes)-1 in that order."""
    keep = np.isin(y, classes)
    relabel = np.full(10, -1, np.int64)
    relabel[list(classes)] = np.arange(len(classes))
    return x[keep], relabel[y[keep]]


def few_labels(x: np.ndarray, y: np.ndarray, per_class: int, seed: int) -> tuple[np.ndarray, ...]:
    """``per_class`` images of every class, drawn without replacement with ``seed``."""
    g = cr.Generator(seed)
    idx = []
    for c in np.unique(y):
        pool = np.flatnonzero(y == c)
        idx.append(pool[np.asarray(g.permutation(len(pool)))[:per_class]])
    take = np.sort(np.concatenate(idx))
    return x[take], y[take]


def fit(
    model: cr.nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
) -> None:
    params = [p for p in model.parameters() if p.requires_grad]
    opt = cr.optim.Adam(params, lr=lr)
    model.compile(optimizer=opt, loss="cross_entropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=batch_size, epochs=epochs, seed=seed, verbose=0)


def pretrain(args: argparse.Namespace, x: np.ndarray, y: np.ndarray, path: Path) -> dict:
    cr.manual_seed(args.seed)
    model = build(args.model)
    steps = -(-len(x) // 128)
    opt = cr.optim.Adam(model.parameters(), lr=3e-3)
    sched = cr.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=3e-3, epochs=args.pretrain_epochs, steps_per_epoch=steps
    )
    model.compile(optimizer=opt, loss="cross_entropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(
        x,
        y,
        batch_size=128,
        epochs=args.pretrain_epochs,
        seed=args.seed,
        verbose=0,
        callbacks=[cr.callbacks.LearningRateScheduler(sched, interval="step")],
    )
    wall = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    cr.save(
        model.state_dict(),
        path,
        metadata={"task": "fashion-mnist classes 0-4", "model": args.model},
    )
    return {"wall_s": wall, "model": model}


def run_pair(args: argparse.Namespace, weights: Path, data: tuple, seed: int) -> dict:
    """Fine-tuned (frozen pretrained backbone + new head) vs from scratch, same labels."""
    (xl, yl), (xt, yt) = data
    out = {}
    for mode in ("fine-tuned", "scratch"):
        cr.manual_seed(1000 + seed)  # the same fresh head in both modes
        model = build(args.model)
        if mode == "fine-tuned":
            load_pretrained(model, weights, exclude=HEAD[args.model])
            backbone(model, args.model).requires_grad_(False)
        t0 = time.perf_counter()
        fit(model, xl, yl, args.epochs, args.lr, args.batch_size, seed)
        acc = model.evaluate(xt, yt, batch_size=1000, verbose=0, return_dict=True)["accuracy"]
        out[mode] = {
            "acc": float(acc),
            "wall_s": time.perf_counter() - t0,
            "trainable": model.num_parameters(trainable_only=True),
        }
    return out


def threads(n: int | None) -> Any:
    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(n)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="pretrain on all 30,000 source images")
    p.add_argument("--model", choices=("lenet5", "vgg"), default="lenet5")
    p.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="start from this safetensors state_dict instead of pretraining",
    )
    p.add_argument("--pretrain-size", type=int, default=None)
    p.add_argument("--pretrain-epochs", type=int, default=None)
    p.add_argument("--labels", type=int, default=50, help="labelled images per target class")
    p.add_argument("--epochs", type=int, default=30, help="epochs on the few labels")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seeds", type=int, default=None, help="repetitions (seeds 0..n-1)")
    p.add_argument("--seed", type=int, default=0, help="pretraining seed")
    p.add_argument("--threads", type=int, default=None, help="BLAS threads (threadpoolctl)")
    p.add_argument("--out", type=Path, default=Path("runs/examples/transfer"))
    args = p.parse_args(argv)
    mode = FULL if args.full else SHORT
    for k in ("pretrain_size", "pretrain_epochs", "seeds"):
        if getattr(args, k) is None:
            setattr(args, k, mode[k])
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    (x, y), (xt, yt) = cr.data.fashion_mnist()
    xs, ys = split(x, y, SOURCE)
    xtarget, ytarget = split(x, y, TARGET)
    test = split(xt, yt, TARGET)
    result: dict[str, Any] = {"pairs": []}
    with threads(args.threads):
        if args.weights is None:
            xs, ys = xs[: args.pretrain_size], ys[: args.pretrain_size]
            weights = args.out / f"pretrained_{args.model}_classes0-4.safetensors"
            pre = pretrain(args, xs, ys, weights)
            src_test = split(xt, yt, SOURCE)
            src_acc = pre["model"].evaluate(
                *src_test, batch_size=1000, verbose=0, return_dict=True
            )["accuracy"]
            result.update(pretrain_wall_s=pre["wall_s"], source_acc=float(src_acc))
            print(
                f"pretrained {args.model} on classes 0-4: {len(xs)} images, "
                f"{args.pretrain_epochs} epochs, {pre['wall_s']:.1f} s; source test accuracy "
                f"{src_acc:.4f}; saved {weights}"
            )
        else:
            weights = args.weights
            print(f"starting from {weights}")
        print(
            f"target: classes 5-9, {args.labels} labels per class, {args.epochs} epochs, "
            f"Adam lr {args.lr}, batch {args.batch_size}; test: {len(test[0])} images"
        )
        for seed in range(args.seeds):
            data = (few_labels(xtarget, ytarget, args.labels, seed), test)
            pair = run_pair(args, weights, data, seed)
            result["pairs"].append(pair)
            ft, sc = pair["fine-tuned"], pair["scratch"]
            print(
                f"seed {seed}: fine-tuned {ft['acc']:.4f} ({ft['trainable']:,} trainable, "
                f"{ft['wall_s']:.1f} s)  from scratch {sc['acc']:.4f} "
                f"({sc['trainable']:,} trainable, {sc['wall_s']:.1f} s)",
                flush=True,
            )
    gains = np.array([p["fine-tuned"]["acc"] - p["scratch"]["acc"] for p in result["pairs"]])
    ft = np.array([p["fine-tuned"]["acc"] for p in result["pairs"]])
    sc = np.array([p["scratch"]["acc"] for p in result["pairs"]])
    result.update(gains=gains, fine_tuned=ft, scratch=sc)
    print(
        f"mean over {len(gains)} seeds: fine-tuned {ft.mean():.4f} +- {ft.std():.4f}, "
        f"from scratch {sc.mean():.4f} +- {sc.std():.4f}, gain {gains.mean():+.4f} "
        f"(min {gains.min():+.4f})"
    )
    return result


if __name__ == "__main__":
    main()
