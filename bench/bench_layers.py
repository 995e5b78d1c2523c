"""Convolution, pooling, batch-norm layers and a LeNet-5 train step: chainrule vs PyTorch CPU.

Cases (float32, batch 128; "fwd+bwd" is a forward pass then ``backward`` with a fixed random
upstream gradient; inputs of the first layer of a network do not require grad, others do):

- ``Conv2d 1->32 28x28 3x3 p1 fwd+bwd``: a first layer (no input gradient);
- ``Conv2d 32->64 14x14 3x3 p1 fwd+bwd``: a hidden layer (input gradient too);
- the same two convolutions, forward only under ``no_grad``;
- ``MaxPool2d 2x2 (128,32,28,28) fwd+bwd``, ``BatchNorm2d(32) (128,32,28,28) fwd+bwd``
  (training mode);
- ``LeNet-5 train step``: conv 1->6 5x5 pad 2, ReLU, maxpool 2, conv 6->16 5x5, ReLU,
  maxpool 2, flatten, 400->120->84->10, cross-entropy, SGD with momentum 0.9 (zero_grad,
  forward, backward, step), on a fixed Fashion-MNIST-sized batch;
- ``LeNet-5 inference b1000`` under ``no_grad``.

Each convolution row also prints its arithmetic rate (GEMM FLOPs over chainrule's median).
The targets of the speed issue: Conv2d and MaxPool2d rows within 1.5x of PyTorch, the LeNet-5
step at or below PyTorch. On a shared machine read the ratios (the two frameworks alternate
round by round), not the absolute times.

Run: ``.venv/bin/python bench/bench_layers.py [--quick]``. Prints a table and writes
``bench/results/layers.{json,md}``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# _common pins the thread pools: import it before NumPy and torch
from _common import Case, print_table, run_cases, write_results  # noqa: E402
from _rss_child import lenet  # noqa: E402  (the one LeNet-5 of every row)

# isort: split
import numpy as np  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402

N = 128


def _fwd_bwd(cr_mod, t_mod, shape, input_grad, seed=0):
    """Two closures doing forward + backward (fixed upstream gradient) on the same data."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    cr_mod.load_state_dict({k: v.detach().numpy() for k, v in t_mod.state_dict().items()})
    cx = cr.tensor(x, requires_grad=input_grad)
    tx = torch.tensor(x, requires_grad=input_grad)
    with torch.no_grad():
        out_shape = tuple(t_mod(tx).shape)
    u = rng.uniform(-1, 1, out_shape).astype(np.float32)
    cu, tu = cr.tensor(u), torch.tensor(u)

    def ours():
        cr_mod.zero_grad()
        cx.grad = None
        cr_mod(cx).backward(cu)

    def theirs():
        t_mod.zero_grad()
        tx.grad = None
        t_mod(tx).backward(tu)

    return ours, theirs


def _forward(cr_mod, t_mod, shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    cx, tx = cr.tensor(x), torch.tensor(x)

    def ours():
        with cr.no_grad():
            cr_mod(cx)

    def theirs():
        with torch.no_grad():
            t_mod(tx)

    return ours, theirs


def _lenet_pair():
    torch.manual_seed(0)
    tnet = lenet(torch.nn)
    net = lenet(cr.nn)
    net.load_state_dict({k: v.detach().numpy() for k, v in tnet.state_dict().items()})
    return net, tnet


def lenet_step(stream: bool = False):
    """A LeNet-5 SGD step in both frameworks. ``stream=False``: the same batch every step
    (the issue's row). ``stream=True``: a different batch each step, the next 128 of 60,000
    images (an epoch without a data loader), which is what training does: the fixed batch stays
    in the CPU caches between steps and favours the framework that reads it more often."""
    net, tnet = _lenet_pair()
    rng = np.random.default_rng(0)
    n_batches = 469 if stream else 1
    x = rng.uniform(0, 1, (n_batches * N, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, n_batches * N)
    cbatches = [(cr.tensor(x[i * N : (i + 1) * N]), cr.tensor(y[i * N : (i + 1) * N]))
                for i in range(n_batches)]  # fmt: skip
    tbatches = [(torch.from_numpy(x[i * N : (i + 1) * N]), torch.from_numpy(y[i * N : (i + 1) * N]))
                for i in range(n_batches)]  # fmt: skip
    opt = cr.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    topt = torch.optim.SGD(tnet.parameters(), lr=0.01, momentum=0.9)
    at = {"ours": 0, "theirs": 0}

    def ours():
        cx, cy = cbatches[at["ours"] % n_batches]
        at["ours"] += 1
        opt.zero_grad()
        cr.nn.functional.cross_entropy(net(cx), cy).backward()
        opt.step()

    def theirs():
        tx, ty = tbatches[at["theirs"] % n_batches]
        at["theirs"] += 1
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tnet(tx), ty).backward()
        topt.step()

    return ours, theirs


def lenet_inference():
    net, tnet = _lenet_pair()
    net.eval()
    tnet.eval()
    return _forward(net, tnet, (1000, 1, 28, 28))


def conv_flops(c, o, hw, k=3, backward=True, input_grad=True):
    one = 2 * N * o * c * k * k * hw * hw
    return one * (1 + (1 + int(input_grad) if backward else 0))


def cases() -> list[tuple[Case, float | None]]:
    out: list[tuple[Case, float | None]] = []
    for c, o, hw in ((1, 32, 28), (32, 64, 14)):
        grad_in = c > 1
        torch.manual_seed(0)
        pair = (cr.nn.Conv2d(c, o, 3, padding=1), torch.nn.Conv2d(c, o, 3, padding=1))
        ours, theirs = _fwd_bwd(*pair, (N, c, hw, hw), grad_in)
        out.append(
            (
                Case(f"Conv2d {c}->{o} {hw}x{hw} 3x3 p1 fwd+bwd", ours, theirs),
                conv_flops(c, o, hw, input_grad=grad_in),
            )
        )
        ours, theirs = _forward(*pair, (N, c, hw, hw))
        out.append(
            (
                Case(f"Conv2d {c}->{o} {hw}x{hw} 3x3 p1 fwd", ours, theirs),
                conv_flops(c, o, hw, backward=False),
            )
        )
    ours, theirs = _fwd_bwd(cr.nn.MaxPool2d(2), torch.nn.MaxPool2d(2), (N, 32, 28, 28), True)
    out.append((Case("MaxPool2d 2x2 (128,32,28,28) fwd+bwd", ours, theirs), None))
    ours, theirs = _fwd_bwd(cr.nn.BatchNorm2d(32), torch.nn.BatchNorm2d(32), (N, 32, 28, 28), True)
    out.append((Case("BatchNorm2d (128,32,28,28) fwd+bwd", ours, theirs), None))
    ours, theirs = lenet_step()
    out.append((Case("LeNet-5 train step b128 (SGD momentum)", ours, theirs), None))
    ours, theirs = lenet_inference()
    out.append((Case("LeNet-5 inference b1000", ours, theirs), None))
    return out


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    repeat = 5 if quick else 15
    title = "Layers (float32, batch 128)"
    print(f"layers, chainrule vs PyTorch (median of {repeat} alternating rounds)")
    pairs = cases()
    results = run_cases([c for c, _ in pairs], repeat=repeat)
    print_table(results, title)
    for r, (_, flops) in zip(results, pairs):
        if flops:
            rate = flops / (r.ours_median_us * 1e-6) / 1e9
            print(f"  {r.name:<40} {flops / 1e6:7.0f} MFLOP of GEMM, chainrule {rate:6.1f} GFLOP/s")
    path = write_results("layers", results, title)
    print(f"written {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
    main(sys.argv[1:])
