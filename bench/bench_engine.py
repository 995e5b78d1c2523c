"""Engine overhead: chainrule vs PyTorch (CPU) on tiny tensors, where the framework's own
per-op cost (Python dispatch, graph recording, backward bookkeeping) dominates the math.

Cases:
- per op on 4x4 float32 tensors that require grad (so the graph is recorded): ``add``,
  ``mul``, ``matmul``, ``relu``, ``sum``, ``getitem`` (a slice); forward alone, and forward
  plus ``backward`` with an upstream gradient;
- a chain of 1000 ops (500 x ``y * 0.999``, 500 x ``y + 0.001``) on a 4x4 tensor, forward
  plus backward: the engine's per-node cost (topological sort, gradient routing, freeing).

Run: ``.venv/bin/python bench/bench_engine.py [--quick]``. Prints a table and writes
``bench/results/engine.{json,md}``.
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

CHAIN = 1000


def _pair(shape=(4, 4), seed=0):
    rng = np.random.default_rng(seed)
    a, b = (
        rng.standard_normal(shape).astype(np.float32),
        rng.standard_normal(shape).astype(np.float32),
    )
    ours = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    theirs = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    return ours, theirs


def _chain(x, n=CHAIN):
    y = x
    for _ in range(n // 2):
        y = y * 0.999
        y = y + 0.001
    return y


def cases() -> list[Case]:
    (a, b), (ta, tb) = _pair()
    ops = {
        "add": (lambda: a + b, lambda: ta + tb),
        "mul": (lambda: a * b, lambda: ta * tb),
        "matmul 4x4": (lambda: a @ b, lambda: ta @ tb),
        "relu": (lambda: a.relu(), lambda: ta.relu()),
        "sum": (lambda: a.sum(), lambda: ta.sum()),
        "getitem [1:3]": (lambda: a[1:3], lambda: ta[1:3]),
    }
    out = [Case(f"{k} fwd", f, g) for k, (f, g) in ops.items()]
    for k, (f, g) in ops.items():
        out.append(Case(f"{k} fwd+bwd", _fwd_bwd(f), _fwd_bwd_torch(g)))
    out.append(
        Case(
            f"chain {CHAIN} ops fwd+bwd",
            lambda: _chain(a).sum().backward(),
            lambda: _chain(ta).sum().backward(),
        )
    )
    return out


def _fwd_bwd(f):
    def run():
        y = f()
        y.backward(np.ones(y.shape, np.float32))

    return run


def _fwd_bwd_torch(f):
    def run():
        y = f()
        y.backward(torch.ones(y.shape))

    return run


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    print(f"engine overhead, chainrule vs PyTorch (median of {5 if quick else 15} rounds)")
    results = run_cases(cases(), repeat=5 if quick else 15)
    print_table(results, "Engine overhead (4x4 float32, requires_grad)")
    path = write_results("engine", results, "Engine overhead (4x4 float32, requires_grad)")
    print(f"written {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
    main(sys.argv[1:])
