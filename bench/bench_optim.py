"""Optimizer step time: chainrule vs PyTorch (CPU) on the parameters of the MLP 784-256-128-10.

Each case times one ``optimizer.step()`` over the six parameter tensors (235,146 float32
values) with fixed gradients, after a few warm-up steps (so the state exists). torch runs its
single-tensor path (``foreach=False``, what it uses on CPU by default). Also
``clip_grad_norm_`` over the same gradients.

Run: ``.venv/bin/python bench/bench_optim.py [--quick]``. Prints a table and writes
``bench/results/optim.{json,md}``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# _common pins the thread pools: import it before NumPy and torch
from _common import Case, print_table, run_cases, write_results  # noqa: E402

# isort: split
import numpy as np  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402

SHAPES = [(256, 784), (256,), (128, 256), (128,), (10, 128), (10,)]
CONFIGS = [
    ("SGD", dict(lr=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True)),
    ("Adagrad", dict(lr=0.01)),
    ("Adadelta", dict()),
    ("RMSprop", dict(lr=1e-3)),
    ("RMSprop", dict(lr=1e-3, momentum=0.9, centered=True)),
    ("Adam", dict(lr=1e-3)),
    ("Adam", dict(lr=1e-3, weight_decay=1e-4, amsgrad=True)),
    ("AdamW", dict(lr=1e-3)),
    ("NAdam", dict(lr=1e-3)),
]


def _params(seed: int = 0):
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for shape in SHAPES:
        w = (rng.standard_normal(shape) * 0.05).astype(np.float32)
        g = (rng.standard_normal(shape) * 1e-3).astype(np.float32)
        p = cr.nn.Parameter(cr.tensor(w.copy()))
        p.grad = cr.tensor(g.copy())
        t = torch.tensor(w.copy(), requires_grad=True)
        t.grad = torch.tensor(g.copy())
        ours.append(p)
        theirs.append(t)
    return ours, theirs


def cases() -> list[Case]:
    out = []
    for name, kw in CONFIGS:
        ours, theirs = _params()
        o = getattr(cr.optim, name)(ours, **kw)
        t = getattr(torch.optim, name)(theirs, foreach=False, **kw)
        for _ in range(3):
            o.step()
            t.step()
        label = name + (
            "" if not kw or set(kw) == {"lr"} else " " + ",".join(k for k in kw if k != "lr")
        )
        out.append(Case(f"{label} step", o.step, t.step))
    ours, theirs = _params(1)
    out.append(
        Case(
            "clip_grad_norm_",
            lambda: cr.nn.utils.clip_grad_norm_(ours, 1e9),
            lambda: torch.nn.utils.clip_grad_norm_(theirs, 1e9, foreach=False),
        )
    )
    return out


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    title = "Optimizer step, MLP 784-256-128-10 parameters (235,146 float32)"
    print(f"{title}, chainrule vs PyTorch (median of {5 if quick else 15} rounds)")
    results = run_cases(cases(), repeat=5 if quick else 15)
    print_table(results, title)
    path = write_results("optim", results, title)
    print(f"written {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
    main(sys.argv[1:])
