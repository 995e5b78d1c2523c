r"""A DCGAN trained adversarially (issue 6): a generator G and a discriminator D
(``chainrule.models.DCGANGenerator`` / ``DCGANDiscriminator``) on the bundled 8x8 digits
(default) or Fashion-MNIST (``--dataset fashion``, 28x28).

Each step, with real images x (scaled to [-1, 1], G's tanh range) and z ~ N(0, I):

    D step:  L_D = bce(l(x), 1) + bce(l(G(z)), 0)   (G(z) detached: only D learns)
    G step:  L_G = bce(l(G(z)), 1)                    (the non-saturating loss; only G learns)

where l is D's logit and bce is ``binary_cross_entropy_with_logits``. Adam with betas (0.5,
0.999) for both (DCGAN's; lr 1e-3 on the small digits, DCGAN's 2e-4 on Fashion-MNIST), and
DCGAN's initialisation (``dcgan_init_``).

Logged per epoch: the mean D and G losses, D's accuracy on the real and on the generated
images of the epoch's batches (a real image counts as right when l > 0, a generated one when
l < 0; chance is 50%), and the diversity of a fixed batch of samples: their mean pairwise
distance divided by that of real images (0 means full mode collapse, every sample the same).
A PNG grid of samples from a fixed set of latent vectors is saved after every epoch
(``samples_epoch_NNN.png``), the loss and accuracy curves at the end (``curves.png``).

    python examples/gan.py                       # short: digits, 12 epochs
    python examples/gan.py --full                # Fashion-MNIST, 28x28, 5 epochs
    python examples/gan.py --dataset fashion --train-size 6000 --epochs 3

Measured on the project's 2-core machine, shared with other jobs (load 9-11), one BLAS thread:

- short (digits 8x8, 12 epochs of 22 steps): 8.7 s of CPU (26 s wall under that load). D's
  accuracy on generated images peaks at 0.96-0.98 (epochs 2-4), then falls below 0.9 at
  epoch 5-7 and ends at 0.717 / 0.751 / 0.741 (seeds 0 / 1 / 2), with D's accuracy on real
  images 0.70-0.73: the two nets near balance. Sample diversity ends at 0.95-1.03 of the
  real digits' (no mode collapse); the samples are blurry digit shapes.
- ``--full`` (Fashion-MNIST 28x28, 5 epochs of 937 steps): 2,826 s wall under that load,
  about 12 min of CPU (0.15 s per step, timed on a 200-step run). D's accuracy on generated
  images 0.946, 0.878, 0.810, 0.766, 0.747 by epoch, on real ones 0.923 -> 0.730; diversity
  0.96-0.98; from epoch 3 the grid shows recognisable pullovers, trousers, sneakers, dresses
  and bags.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr

F = cr.nn.functional

SHORT = {"dataset": "digits", "epochs": 12, "latent": 32, "width": 32, "batch": 64, "lr": 1e-3}
FULL = {"dataset": "fashion", "epochs": 5, "latent": 64, "width": 32, "batch": 64, "lr": 2e-4}


def load(dataset: str, train_size: int | None) -> np.ndarray:
    """Real images in [-1, 1], shape (N, 1, s, s): the digits' training split or
    Fashion-MNIST's training set (first ``train_size`` images)."""
    if dataset == "digits":
        (x, _), _ = cr.data.digits()
    elif dataset == "fashion":
        (x, _), _ = cr.data.fashion_mnist()
    else:
        raise ValueError(f"gan: unknown dataset {dataset!r}; choose digits or fashion")
    x = x[:train_size] if train_size else x
    return (x * 2.0 - 1.0).astype(np.float32)


def mean_pairwise_distance(images: np.ndarray) -> float:
    """Mean Euclidean distance between all pairs of images (flattened): 0 iff all equal."""
    flat = images.reshape(len(images), -1).astype(np.float64)
    sq = (flat**2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * flat @ flat.T, 0.0)
    n = len(images)
    return float(np.sqrt(d2)[~np.eye(n, dtype=bool)].mean())


def generate(g: cr.nn.Module, z: cr.Tensor) -> np.ndarray:
    """G's images for ``z`` in eval mode (batch norm's running statistics), as an array."""
    was = g.training
    g.eval()
    with cr.no_grad():
        out = g(z).data.copy()
    g.train(was)
    return out


def train(args: argparse.Namespace, x: np.ndarray) -> dict[str, Any]:
    cr.manual_seed(args.seed)
    size = x.shape[-1]
    g = cr.models.dcgan_init_(cr.models.DCGANGenerator(args.latent, size, 1, args.width))
    d = cr.models.dcgan_init_(cr.models.DCGANDiscriminator(size, 1, args.width))
    opt_g = cr.optim.Adam(g.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = cr.optim.Adam(d.parameters(), lr=args.lr, betas=(0.5, 0.999))
    rng = cr.Generator(args.seed)  # shuffling and latent vectors
    fixed_z = g.sample_latent(64, generator=cr.Generator(args.seed + 1))
    real_div = mean_pairwise_distance(x[:256])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log: dict[str, list[float]] = {
        k: [] for k in ("loss_d", "loss_g", "acc_real", "acc_fake", "diversity")
    }
    n, b = len(x), args.batch_size
    t0, c0 = time.perf_counter(), time.process_time()
    for epoch in range(args.epochs):
        perm = np.asarray(rng.permutation(n))
        sums = np.zeros(4)
        steps = 0
        for i in range(0, n - b + 1, b):  # full batches only: batch norm sees b images
            real = cr.tensor(x[perm[i : i + b]])
            z = g.sample_latent(b, generator=rng)
            fake = g(z)
            # D step: push l(real) up, l(fake) down; fake is detached so G gets no gradient
            opt_d.zero_grad()
            l_real, l_fake = d(real), d(fake.detach())
            loss_d = F.binary_cross_entropy_with_logits(
                l_real, cr.ones(b, 1)
            ) + F.binary_cross_entropy_with_logits(l_fake, cr.zeros(b, 1))
            loss_d.backward()
            opt_d.step()
            # G step: make D call the same fakes real; D is frozen meanwhile, so the backward
            # pass skips its weight gradients and only carries the gradient through it to G
            opt_g.zero_grad()
            d.requires_grad_(False)
            loss_g = F.binary_cross_entropy_with_logits(d(fake), cr.ones(b, 1))
            loss_g.backward()
            d.requires_grad_(True)
            opt_g.step()
            sums += (
                loss_d.item(),
                loss_g.item(),
                float((l_real.data > 0).mean()),
                float((l_fake.data < 0).mean()),
            )
            steps += 1
        mean = sums / max(steps, 1)
        samples = generate(g, fixed_z)
        diversity = mean_pairwise_distance(samples) / real_div
        for k, v in zip(log, (*mean, diversity)):
            log[k].append(float(v))
        print(
            f"epoch {epoch + 1:3d}/{args.epochs}  D loss {mean[0]:.3f}  G loss {mean[1]:.3f}"
            f"  D acc real {mean[2]:.3f} fake {mean[3]:.3f}  diversity {diversity:.3f}"
            f"  ({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
        if not args.no_plot:
            from chainrule import viz

            viz.save_image_grid(
                samples,
                out / f"samples_epoch_{epoch + 1:03d}.png",
                nrow=8,
                value_range=(-1.0, 1.0),
                title=f"{args.dataset} DCGAN, epoch {epoch + 1}: D loss {mean[0]:.2f}, "
                f"G loss {mean[1]:.2f}, D acc on fakes {mean[3]:.0%}",
            )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if not args.no_plot:
        plot_curves(log, out / "curves.png", args.dataset)
    return {
        "log": log,
        "wall_s": wall,
        "cpu_s": cpu,
        "generator": g,
        "discriminator": d,
        "samples": generate(g, fixed_z),
        "real_diversity": real_div,
        "out": out,
    }


def plot_curves(log: dict[str, list[float]], path: Path, dataset: str) -> None:
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return
    epochs = np.arange(1, len(log["loss_d"]) + 1)
    fig = Figure(figsize=(9, 3.4))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(epochs, log["loss_d"], "o-", label="D loss")
    ax1.plot(epochs, log["loss_g"], "s-", label="G loss")
    ax1.axhline(2 * np.log(2), color="grey", ls=":", label="D loss at equilibrium (2 ln 2)")
    ax1.set(xlabel="epoch", ylabel="mean loss over the epoch", title="losses")
    ax1.legend(fontsize=7)
    ax2.plot(epochs, log["acc_real"], "o-", label="D accuracy on real")
    ax2.plot(epochs, log["acc_fake"], "s-", label="D accuracy on generated")
    ax2.plot(epochs, log["diversity"], "^-", label="sample diversity / real")
    ax2.axhline(0.5, color="grey", ls=":", label="chance")
    top = max(1.05, max(log["diversity"]) + 0.05)
    ax2.set(xlabel="epoch", ylabel="fraction", ylim=(0, top), title="discriminator")
    ax2.legend(fontsize=7)
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(f"DCGAN on {dataset}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


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
    p.add_argument("--full", action="store_true", help="Fashion-MNIST 28x28, 5 epochs")
    p.add_argument("--dataset", choices=("digits", "fashion"), default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--train-size", type=int, default=None, help="first N training images")
    p.add_argument("--latent", type=int, default=None, help="latent dimension")
    p.add_argument("--width", type=int, default=None, help="channels of the narrow stage")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="Adam's lr (short 1e-3, full 2e-4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="BLAS threads (threadpoolctl)")
    p.add_argument("--out", type=Path, default=Path("runs/examples/gan"))
    p.add_argument("--no-plot", action="store_true")
    args = p.parse_args(argv)
    mode = FULL if args.full else SHORT
    args.dataset = args.dataset or mode["dataset"]
    args.epochs = args.epochs or mode["epochs"]
    args.latent = args.latent or mode["latent"]
    args.width = args.width or mode["width"]
    args.batch_size = args.batch_size or mode["batch"]
    args.lr = args.lr or mode["lr"]
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    x = load(args.dataset, args.train_size)
    print(
        f"DCGAN on {args.dataset}: {len(x)} images {x.shape[1:]}, latent {args.latent}, "
        f"width {args.width}, batch {args.batch_size}, {args.epochs} epochs, seed {args.seed}"
    )
    with threads(args.threads):
        result = train(args, x)
    log = result["log"]
    print(
        f"done in {result['wall_s']:.1f} s wall / {result['cpu_s']:.1f} s CPU: D accuracy "
        f"on generated images {log['acc_fake'][-1]:.3f} (lowest "
        f"{min(log['acc_fake']):.3f}), diversity "
        f"{log['diversity'][-1]:.3f}; grids in {result['out']}"
    )
    return result


if __name__ == "__main__":
    main()
