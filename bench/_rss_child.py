"""Child process of ``bench/run.py``: one LeNet-5 training epoch in ONE framework, reporting
its peak resident memory (``VmHWM``; see :func:`_peak_mb` for why not ``ru_maxrss``) as a
JSON line on stdout.

One process cannot separate the memory of two frameworks, so ``run.py`` starts this script
once per framework. Both children read the data the same way (a small IDX reader here, no
framework code), so the difference in peak RSS is the framework: its import, its model,
its per-step buffers and its allocator behaviour.

Usage: ``python bench/_rss_child.py chainrule|torch [--steps N] [--max-seconds S]``.

Data: Fashion-MNIST's 60,000 training images from ``/usr/share/datasets/fashion-mnist``
(``BENCH_FASHION_DIR`` overrides), or synthetic ``60000 x 1 x 28 x 28`` uniform images when
the files are absent. Batch 128, shuffled, SGD lr 0.01 momentum 0.9, cross-entropy.
``--steps`` cuts the epoch short (tests), ``--max-seconds`` too (a heavily loaded machine:
the report then says how many steps ran; the peak is reached within the first steps, since
every step allocates the same arrays).
"""

from __future__ import annotations

import os

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)
if os.environ.get("BENCH_KEEP_CORETYPE", "") in ("", "0"):  # as bench/_common.py decides
    for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        os.environ.pop(_var, None)

import gzip  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

FASHION = Path(os.environ.get("BENCH_FASHION_DIR", "/usr/share/datasets/fashion-mnist"))
BATCH = 128


def _rss_mb() -> float:
    """Current resident set size in MiB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # pragma: no cover
        return 0.0


def _peak_mb() -> float:
    """Peak resident set size of this process in MiB.

    Linux's ``ru_maxrss`` is carried across ``execve``: a child started by a large parent
    (``run.py``, with torch and the benchmark's arrays loaded) reports at least the parent's
    RSS at the fork. ``VmHWM`` in /proc/self/status is the high-water mark of this process's
    own address space, so it is used where it exists; ``ru_maxrss`` elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:  # pragma: no cover
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def load_data() -> tuple[np.ndarray, np.ndarray, str]:
    """(images float32 N x 1 x 28 x 28 in [0, 1], labels int64, description)."""
    img, lab = FASHION / "train-images-idx3-ubyte.gz", FASHION / "train-labels-idx1-ubyte.gz"
    if img.is_file() and lab.is_file():
        with gzip.open(img, "rb") as f:
            raw = f.read()
        x = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28)
        x = x.astype(np.float32) / np.float32(255)
        with gzip.open(lab, "rb") as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
        del raw
        return x, y, f"Fashion-MNIST train ({len(x)} images)"
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (60000, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 60000)
    return x, y, "synthetic 60000 x 1 x 28 x 28 (Fashion-MNIST files absent)"


MLP_SIZES = (784, 256, 128, 10)


def mlp(nn):
    """The MLP 784-256-128-10 of the train-step rows (``nn``: chainrule's or torch's)."""
    (a, b, c, d) = MLP_SIZES
    return nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, c), nn.ReLU(), nn.Linear(c, d))


def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def _stop(n: int, steps: int | None, deadline: float) -> bool:
    return (steps is not None and n >= steps) or time.perf_counter() > deadline


def epoch_chainrule(x: np.ndarray, y: np.ndarray, steps: int | None, deadline: float) -> int:
    import chainrule as cr

    cr.manual_seed(0)
    net = lenet(cr.nn)
    opt = cr.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loader = cr.data.DataLoader(
        cr.data.TensorDataset(x, y), batch_size=BATCH, shuffle=True, generator=0
    )
    n = 0
    for xb, yb in loader:
        opt.zero_grad()
        cr.nn.functional.cross_entropy(net(xb), yb).backward()
        opt.step()
        n += 1
        if _stop(n, steps, deadline):
            break
    return n


def epoch_torch(x: np.ndarray, y: np.ndarray, steps: int | None, deadline: float) -> int:
    import torch

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    net = lenet(torch.nn)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True)
    n = 0
    for xb, yb in loader:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xb), yb).backward()
        opt.step()
        n += 1
        if _stop(n, steps, deadline):
            break
    return n


def main(argv: list[str]) -> None:
    which = argv[0]
    steps = int(argv[argv.index("--steps") + 1]) if "--steps" in argv else None
    max_s = float(argv[argv.index("--max-seconds") + 1]) if "--max-seconds" in argv else 1e9
    if which == "torch":
        import torch  # noqa: F401  (the import is part of the framework's footprint)
    elif which == "chainrule":
        import chainrule  # noqa: F401
    else:
        raise SystemExit(f"usage: _rss_child.py chainrule|torch, got {which!r}")
    x, y, data = load_data()
    before = _rss_mb()
    t0 = time.perf_counter()
    n = (epoch_torch if which == "torch" else epoch_chainrule)(x, y, steps, t0 + max_s)
    seconds = time.perf_counter() - t0
    out = {
        "framework": which,
        "data": data,
        "steps": n,
        "epoch_steps": -(-len(x) // BATCH),
        "epoch_s": seconds,
        "rss_before_epoch_mb": before,
        "peak_rss_mb": _peak_mb(),
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
