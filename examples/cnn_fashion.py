"""CNNs on Fashion-MNIST (issue 6): LeNet-5 and a small VGG-style network with batch norm and
dropout, trained with ``fit``; figures of the first layer's filters and of the feature maps
one image produces.

The notes' CNN pipeline (001): input -> convolution (feature maps) -> pooling -> flatten ->
fully connected -> output. Both models come from the zoo:

- ``lenet5()``: conv 1->6 5x5, pool, conv 6->16 5x5, pool, 400->120->84->10 (61,706 parameters);
- ``vgg_small(convs_per_stage=1, dropout=0.1)``: two ConvBlocks (3x3 conv, batch norm, ReLU,
  2x2 max pool, dropout 0.1) with 32 and 64 channels, then 3136->128 (dropout 0.2) ->10 (421,738
  parameters, 4.2 M multiply-adds per image). The zoo's default ``convs_per_stage=2``
  costs 4.5x more per image (18.7 M; measured 3-5x slower per step): roughly 45 minutes of
  CPU for the same 6 epochs, outside a 30-minute budget on this machine.

Recipe (both models): Adam with the one-cycle schedule (peak lr 3e-3, stepped every batch),
batch 128, cross-entropy on logits, no augmentation; images in [0, 1] as loaded.

    python examples/cnn_fashion.py               # short: 3,000 training images (~12 s CPU)
    python examples/cnn_fashion.py --full        # all 60,000 images (the budget below)
    python examples/cnn_fashion.py --full --models vgg --threads 1

Measured budget (the >= 91% claim), ``--full``, one BLAS thread (``--threads 1``), on the
project's 2-core machine, shared with other jobs (1-minute load average noted per run):

=======  =======  ====  =========  ========  ============================================
model    dropout  seed  test acc.  CPU time  wall time
=======  =======  ====  =========  ========  ============================================
vgg      0.1      0     0.9234     9.1 min   12.5 min (load 5 falling to 1.5)
vgg      0.1      1     0.9264     8.8 min   8.9 min (load about 1: wall = CPU)
vgg      0.25     0     0.9152     ~10.5 m   42 min (load 9-14; CPU time estimated)
vgg      0.25     1     0.9130     10.6 min  40 min (load 5-11)
lenet5   -        0     0.8957     1.7 min   10.4 min (8 epochs; load about 10)
=======  =======  ====  =========  ========  ============================================

So the VGG-style network reaches 91% (92.3-92.6%) in 6 epochs and 9 minutes of CPU, about 9
minutes of wall time on an idle machine with one thread. Test accuracy after each epoch
(dropout 0.1, seed 0): 0.822, 0.883, 0.906, 0.919, 0.918, 0.923. The zoo's dropout 0.25
(0.5 in the classifier) also passes but underfits this short schedule: its training accuracy
(0.91, dropout on) stayed below its test accuracy, which is why the second pair of runs
lowered it; the choice was made after seeing the first runs' test accuracy, so read the 0.1
figures as a second try, not a blind one. The short run takes about 12 s of CPU (LeNet-5
0.73-0.74, VGG-style 0.79-0.82 on the first 2,000 test images, seeds 0-2).

The figures go to ``--out`` (default ``runs/examples/cnn_fashion``): ``filters_<model>.png``
(the first convolution's kernels) and ``feature_maps_<model>.png`` (the activation maps of one
test image after each convolution's ReLU, notes 003: "every kernel has its own activation
map").

Fashion-MNIST is read by ``chainrule.data.fashion_mnist()`` (Debian's dataset-fashion-mnist
files; nothing is downloaded). The test set is used once, after training, except with
``--full`` where it is also reported after each epoch as ``val_accuracy`` to show the curve
(nothing is chosen by it during a run; the epoch count is fixed in advance).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr

SHORT = {"train": 3000, "test": 2000, "epochs": {"lenet5": 5, "vgg": 2}}
FULL = {"train": None, "test": None, "epochs": {"lenet5": 8, "vgg": 6}}
CLASSES = cr.data.FASHION_MNIST_CLASSES


def build(name: str, dropout: float = 0.1) -> cr.nn.Module:
    """The two CNNs of the example, from the zoo."""
    if name == "lenet5":
        return cr.models.lenet5()
    if name == "vgg":
        return cr.models.vgg_small(convs_per_stage=1, dropout=dropout)
    raise ValueError(f"cnn_fashion: unknown model {name!r}; choose lenet5 or vgg")


def first_conv(model: cr.nn.Module) -> cr.nn.Conv2d:
    return next(m for m in model.modules() if isinstance(m, cr.nn.Conv2d))


def map_layers(name: str) -> dict[str, str]:
    """Where to look at feature maps (after each convolution's ReLU), with row titles."""
    if name == "lenet5":
        return {"1": "conv1 + ReLU", "4": "conv2 + ReLU"}
    return {
        "features.0.act": "block 1: conv, BN, ReLU",
        "features.1.act": "block 2: conv, BN, ReLU",
    }


def threads(n: int | None) -> Any:
    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(n)


def train(
    name: str, data: tuple, epochs: int, args: argparse.Namespace, watch_test: bool
) -> dict[str, Any]:
    """Build, train with ``fit`` and evaluate one model; returns accuracies and times."""
    (x, y), (xt, yt) = data
    cr.manual_seed(args.seed)
    model = build(name, args.dropout)
    opt = cr.optim.Adam(model.parameters(), lr=args.lr)
    steps = -(-len(x) // args.batch_size)
    sched = cr.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, epochs=epochs, steps_per_epoch=steps
    )
    model.compile(optimizer=opt, loss="cross_entropy", metrics=["accuracy"])
    callbacks = [cr.callbacks.LearningRateScheduler(sched, interval="step")]
    t0, c0 = time.perf_counter(), time.process_time()
    history = model.fit(
        x,
        y,
        batch_size=args.batch_size,
        epochs=epochs,
        seed=args.seed,
        validation_data=(xt, yt) if watch_test else None,
        validation_batch_size=1000,
        callbacks=callbacks,
        verbose=args.verbose,
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    loss, acc = model.evaluate(xt, yt, batch_size=1000, verbose=0)
    return {
        "model": model,
        "history": history.history,
        "test_acc": float(acc),
        "test_loss": float(loss),
        "wall_s": wall,
        "cpu_s": cpu,
        "params": model.num_parameters(),
    }


def save_figures(
    name: str, model: cr.nn.Module, image: np.ndarray, label: int, out: Path
) -> list[Path]:
    from chainrule import viz

    out.mkdir(parents=True, exist_ok=True)
    conv = first_conv(model)
    paths = [out / f"filters_{name}.png", out / f"feature_maps_{name}.png"]
    viz.plot_filters(conv, paths[0], title=f"{name}: first convolution's kernels")
    layers = map_layers(name)
    maps = viz.feature_maps(model, image[None], list(layers))
    titles = [f"{layers[k]}\n({k})" for k in maps]
    pred = int(model.predict(image[None], verbose=0).argmax())
    viz.plot_feature_maps(
        maps,
        paths[1],
        image=image,
        max_channels=8,
        layer_titles=titles,
        title=f"{name}: feature maps of one test image (true: {CLASSES[label]}, "
        f"predicted: {CLASSES[pred]}); each map scaled to its own range",
    )
    return paths


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="all 60,000 training images")
    p.add_argument("--models", default="lenet5,vgg", help="comma-separated: lenet5, vgg")
    p.add_argument("--epochs", type=int, default=None, help="override the epochs of every model")
    p.add_argument("--train-size", type=int, default=None, help="first N training images")
    p.add_argument("--test-size", type=int, default=None, help="first N test images")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (one-cycle)")
    p.add_argument(
        "--dropout",
        type=float,
        default=0.1,
        help="VGG-style: after each block (the classifier's is twice, at most 0.5)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="BLAS threads (threadpoolctl)")
    p.add_argument("--out", type=Path, default=Path("runs/examples/cnn_fashion"))
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--verbose", type=int, default=2)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    mode = FULL if args.full else SHORT
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for n in names:
        build(n)  # unknown names fail before the data loads
    (x, y), (xt, yt) = cr.data.fashion_mnist()
    n_train = args.train_size or mode["train"] or len(x)
    n_test = args.test_size or mode["test"] or len(xt)
    data = ((x[:n_train], y[:n_train]), (xt[:n_test], yt[:n_test]))
    print(
        f"Fashion-MNIST: {n_train} training and {n_test} test images "
        f"({'full' if args.full else 'short'} run), batch {args.batch_size}, "
        f"Adam one-cycle peak lr {args.lr}, seed {args.seed}"
    )
    results: dict[str, Any] = {}
    with threads(args.threads):
        for name in names:
            epochs = args.epochs or mode["epochs"][name]
            r = train(name, data, epochs, args, watch_test=args.full)
            r["epochs"] = epochs
            print(
                f"{name}: {r['params']:,} parameters, {epochs} epochs, test accuracy "
                f"{r['test_acc']:.4f} (loss {r['test_loss']:.4f}), fit {r['wall_s']:.1f} s "
                f"wall / {r['cpu_s']:.1f} s CPU",
                flush=True,
            )
            if not args.no_plot:
                r["figures"] = save_figures(
                    name, r["model"], data[1][0][0], int(data[1][1][0]), args.out
                )
                print("  figures: " + ", ".join(str(p) for p in r["figures"]))
            results[name] = r
    return results


if __name__ == "__main__":
    main()
