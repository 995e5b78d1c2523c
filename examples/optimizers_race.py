"""Race every chainrule optimizer on two classic surfaces and plot their paths.

* Rosenbrock, f(x, y) = (1 - x)² + 100 (y - x²)²: a curved, narrow valley with its minimum at
  (1, 1). Plain SGD crawls along the valley floor; momentum and the adaptive methods go faster.
* The saddle f(x, y) = x² - y²: the gradient vanishes at (0, 0), which is not a minimum.
  Starting almost on the ridge (y = 1e-3), a method has to pick up the tiny slope along y to
  escape; the distance from (0, 0) after N steps measures how fast it does.

Every optimizer starts from the same point with the same number of steps. The learning rates
are hand-picked per optimizer (each method's natural scale differs), not tuned to win.

Run:  python examples/optimizers_race.py [--steps 2000] [--quick] [--out DIR]
The plot needs matplotlib (``pip install chainrule[viz]``); without it the table still prints.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import viz

# (label, optimizer class, keyword arguments): the same table for both surfaces
RACERS = [
    ("SGD", cr.optim.SGD, dict(lr=1e-3)),
    ("SGD momentum", cr.optim.SGD, dict(lr=1e-3, momentum=0.9)),
    ("SGD Nesterov", cr.optim.SGD, dict(lr=1e-3, momentum=0.9, nesterov=True)),
    ("Adagrad", cr.optim.Adagrad, dict(lr=0.5)),
    ("Adadelta", cr.optim.Adadelta, dict(lr=1.0)),
    ("RMSprop", cr.optim.RMSprop, dict(lr=1e-2)),
    ("Adam", cr.optim.Adam, dict(lr=0.05)),
    ("AdamW", cr.optim.AdamW, dict(lr=0.05, weight_decay=1e-2)),
    ("NAdam", cr.optim.NAdam, dict(lr=0.05)),
]


def rosenbrock(w: cr.Tensor) -> cr.Tensor:
    x, y = w[0], w[1]
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def saddle(w: cr.Tensor) -> cr.Tensor:
    x, y = w[0], w[1]
    return x * x - y * y


SURFACES = {
    "rosenbrock": dict(
        f=rosenbrock, start=(-1.5, 2.0), target=(1.0, 1.0), box=((-2.0, 2.0), (-1.0, 3.0))
    ),
    "saddle": dict(f=saddle, start=(1.0, 1e-3), target=(0.0, 0.0), box=((-1.2, 1.2), (-1.2, 1.2))),
}


def race(surface: dict, steps: int) -> dict[str, list[tuple[float, float]]]:
    """Run every optimizer from the surface's start; return each one's path."""
    paths = {}
    for label, cls, kwargs in RACERS:
        w = cr.nn.Parameter(cr.tensor(surface["start"], dtype=cr.float64))
        opt = cls([w], **kwargs)
        path = [tuple(w.tolist())]
        for _ in range(steps):
            opt.zero_grad()
            surface["f"](w).backward()
            opt.step()
            path.append(tuple(w.tolist()))
            if not all(math.isfinite(v) for v in path[-1]) or max(map(abs, path[-1])) > 1e6:
                break  # left for infinity (the saddle is unbounded below): stop this racer
        paths[label] = path
    return paths


def report(name: str, surface: dict, paths: dict, steps: int) -> None:
    tx, ty = surface["target"]
    what = (
        "distance to the minimum (1, 1)"
        if name == "rosenbrock"
        else ("distance from the saddle point (0, 0); larger = escaped faster")
    )
    print(f"\n{name}: start {surface['start']}, {steps} steps; {what}")
    sign = 1 if name == "rosenbrock" else -1  # best first
    for label, path in sorted(paths.items(), key=lambda kv: sign * _dist(kv[1][-1], tx, ty)):
        x, y = path[-1]
        f = float(surface["f"](cr.tensor([x, y], dtype=cr.float64)))
        print(
            f"  {label:14s} distance {_dist((x, y), tx, ty):10.4g}   f = {f:11.4g}   "
            f"at ({x:.4g}, {y:.4g})"
        )


def _dist(p: tuple[float, float], tx: float, ty: float) -> float:
    return math.hypot(p[0] - tx, p[1] - ty)


def plot(results: dict, out: Path) -> Path | None:
    try:
        fig = viz.figure((13, 5.5))  # a Figure without pyplot: no backend, nothing to close
    except ImportError as e:
        print(f"no plot: {e}")
        return None
    axes = fig.subplots(1, 2)
    for ax, (name, (surface, paths)) in zip(axes, results.items()):
        (x0, x1), (y0, y1) = surface["box"]
        gx, gy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
        if name == "rosenbrock":
            z = np.log10((1 - gx) ** 2 + 100 * (gy - gx**2) ** 2 + 1e-3)
        else:
            z = gx**2 - gy**2
        ax.contourf(gx, gy, z, levels=40, cmap="Greys", alpha=0.6)
        for label, path in paths.items():
            p = np.array(path)
            ax.plot(p[:, 0], p[:, 1], lw=1.4, label=label)
        ax.plot(*surface["start"], "ko")
        ax.plot(*surface["target"], "r*", ms=12)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_title(f"{name} ({'log10 f' if name == 'rosenbrock' else 'f'} in grey)")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = viz.save_figure(fig, out / "optimizers_race.png", dpi=110)
    print(f"\nplot saved to {path}")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="100 steps (a smoke test)")
    parser.add_argument("--out", type=Path, default=Path("runs/examples"))
    args = parser.parse_args()
    steps = 100 if args.quick else args.steps
    results = {}
    for name, surface in SURFACES.items():
        paths = race(surface, steps)
        report(name, surface, paths, steps)
        results[name] = (surface, paths)
    plot(results, args.out)


if __name__ == "__main__":
    main()
