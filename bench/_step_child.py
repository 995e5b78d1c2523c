"""One framework's train step in a process of its own (``bench/run.py``, section ``process``).

Run: ``python bench/_step_child.py chainrule|torch mlp|lenet [--steps N]``. Prints one JSON
line: the median, minimum and quartiles of the step times (seconds) over ``N`` steps after a
warm-up.

Why a child process. In ``run.py``'s alternating rows both frameworks share one process, and
with it chainrule's allocator tuning (Note [malloc tuning] in ``chainrule/backend.py``), which
is process-wide: PyTorch's CPU allocator goes through the same glibc ``malloc`` and gets the
same page-fault savings (measured: PyTorch's LeNet-5 step 13.0-15.2 ms in a plain process,
10.6-11.8 ms once ``import chainrule`` has run). A user runs each framework in a process of its
own, with its own defaults; this child measures that. Each step takes the next batch of 128 of
60,000 images (as an epoch does, with no data loader, so only the step is timed).

Threads as in ``_common.py``: ``BENCH_THREADS`` (default 2) for OpenMP/OpenBLAS and torch's
intra-op pool, coretype variables dropped. OpenBLAS's idle-worker setting is ``_common.py``'s:
``run.py`` sets it per child (``PROCESS_VARIANTS``: OpenBLAS's default spin, as in any user's
process, and timeout 4); run alone, the child has timeout 4 unless ``BENCH_OPENBLAS_SPIN=1``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402,F401  (pins the thread pools before NumPy and torch load)

# isort: split
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _rss_child import lenet, mlp  # noqa: E402

BATCH = 128
N_BATCHES = 469  # 60,032 images: one epoch of Fashion-MNIST at batch 128


def build(nn, model: str):
    """LeNet-5 or the MLP 784-256-128-10, exactly as the in-process rows build them."""
    return lenet(nn) if model == "lenet" else mlp(nn)


def _split(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The epoch's batches: views of consecutive 128-row slices."""
    return [
        (x[i * BATCH : (i + 1) * BATCH], y[i * BATCH : (i + 1) * BATCH]) for i in range(N_BATCHES)
    ]


def main(argv: list[str]) -> None:
    fw, model = argv[0], argv[1]
    steps = int(argv[argv.index("--steps") + 1]) if "--steps" in argv else 200
    if fw not in ("chainrule", "torch") or model not in ("mlp", "lenet"):
        raise SystemExit("usage: _step_child.py chainrule|torch mlp|lenet [--steps N]")
    rng = np.random.default_rng(0)
    shape = (N_BATCHES * BATCH, 1, 28, 28) if model == "lenet" else (N_BATCHES * BATCH, 784)
    x = rng.uniform(0, 1, shape).astype(np.float32)
    y = rng.integers(0, 10, N_BATCHES * BATCH)
    if fw == "torch":
        import torch

        torch.set_num_threads(_common.THREADS)
        torch.manual_seed(0)
        net = build(torch.nn, model)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        batches = [(torch.from_numpy(xb), torch.from_numpy(yb)) for xb, yb in _split(x, y)]
        loss_fn = torch.nn.functional.cross_entropy
    else:
        import chainrule as cr

        cr.manual_seed(0)
        net = build(cr.nn, model)
        opt = cr.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        batches = [(cr.tensor(xb), cr.tensor(yb)) for xb, yb in _split(x, y)]
        loss_fn = cr.nn.functional.cross_entropy
    times = []
    for i in range(steps + 20):  # 20 warm-up steps
        xb, yb = batches[i % N_BATCHES]
        t0 = time.perf_counter()
        opt.zero_grad()
        loss_fn(net(xb), yb).backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    ts = np.array(times[20:])
    q1, med, q3 = np.percentile(ts, [25, 50, 75])
    out = {
        "framework": fw,
        "model": model,
        "steps": steps,
        "median_s": float(med),
        "min_s": float(ts.min()),
        "q1_s": float(q1),
        "q3_s": float(q3),
        "pid": os.getpid(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
