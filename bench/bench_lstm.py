"""Recurrent layers: chainrule vs PyTorch (CPU), the LSTM row of the speed issue and neighbours.

Cases (float32, time-major input (seq, batch, features), input size = hidden size = 128 unless
named otherwise; "fwd+bwd" is a forward pass, then ``backward`` with a fixed random upstream
gradient on the output sequence, the input requiring grad):

- ``LSTM fwd+bwd`` at seq 50, batch 64, hidden 128: the issue's row (target ratio <= 1.5);
- ``LSTM fwd`` under ``no_grad`` (inference);
- ``GRU fwd+bwd`` and ``RNN(tanh) fwd+bwd`` at the same sizes;
- ``LSTM 2 layers bidirectional fwd+bwd`` at the same sizes.

Each case also prints its arithmetic rate: the GEMM FLOPs of the step (2·m·n·k per product:
input projections, recurrent products, and in backward the input, recurrent and both weight
gradients) over chainrule's median time.

Run: ``.venv/bin/python bench/bench_lstm.py [--quick]``. Prints a table and writes
``bench/results/lstm.{json,md}``.
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

SEQ, BATCH, HIDDEN, INPUT = 50, 64, 128, 128
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _pair(kind: str, num_layers: int = 1, bidirectional: bool = False, seed: int = 0):
    """The same layer in both frameworks (PyTorch's weights copied into chainrule), an input
    that requires grad and a fixed upstream gradient for the output."""
    torch.manual_seed(seed)
    tmod = getattr(torch.nn, kind)(INPUT, HIDDEN, num_layers, bidirectional=bidirectional)
    cmod = getattr(cr.nn, kind)(INPUT, HIDDEN, num_layers, bidirectional=bidirectional)
    cmod.load_state_dict({k: v.detach().numpy() for k, v in tmod.state_dict().items()})
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((SEQ, BATCH, INPUT)).astype(np.float32)
    d = 2 if bidirectional else 1
    g = rng.standard_normal((SEQ, BATCH, d * HIDDEN)).astype(np.float32)
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    tg = torch.from_numpy(g)

    def ours():
        out, _ = cmod(cx)
        out.backward(g)
        cx.grad = None
        cmod.zero_grad()

    def theirs():
        out, _ = tmod(tx)
        out.backward(tg)
        tx.grad = None
        tmod.zero_grad()

    return cmod, tmod, cx, tx, ours, theirs


def _forward_only(kind: str):
    cmod, tmod, cx, tx, _, _ = _pair(kind)
    cx, tx = cx.detach(), tx.detach()

    def ours():
        with cr.no_grad():
            cmod(cx)

    def theirs():
        with torch.no_grad():
            tmod(tx)

    return ours, theirs


def gemm_flops(kind: str, num_layers: int = 1, bidirectional: bool = False, backward=True):
    """FLOPs of the GEMMs: forward X·W_ihᵀ and T products h·W_hhᵀ; backward adds ∂x, ∂W_ih,
    ∂W_hh and the T products δ·W_hh (each the size of a forward product)."""
    G = GATES[kind] * HIDDEN
    d = 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        fin = INPUT if layer == 0 else d * HIDDEN
        ih = 2 * SEQ * BATCH * fin * G
        hh = 2 * SEQ * BATCH * HIDDEN * G
        total += d * ((ih + hh) * (3 if backward else 1))
    return total


def cases() -> list[tuple[Case, float]]:
    out = []
    for kind in ("LSTM", "GRU", "RNN"):
        *_, ours, theirs = _pair(kind)
        name = f"{kind} fwd+bwd s{SEQ} b{BATCH} h{HIDDEN}"
        out.append((Case(name, ours, theirs), gemm_flops(kind)))
    ours, theirs = _forward_only("LSTM")
    out.append((Case("LSTM fwd (no_grad)", ours, theirs), gemm_flops("LSTM", backward=False)))
    *_, ours, theirs = _pair("LSTM", 2, True)
    out.append((Case("LSTM 2 layers bi fwd+bwd", ours, theirs), gemm_flops("LSTM", 2, True)))
    return out


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    repeat = 5 if quick else 15
    title = f"Recurrent layers (float32, seq {SEQ}, batch {BATCH}, input/hidden {HIDDEN})"
    print(f"recurrent layers, chainrule vs PyTorch (median of {repeat} rounds)")
    pairs = cases()
    results = run_cases([c for c, _ in pairs], repeat=repeat)
    print_table(results, title)
    for r, (_, flops) in zip(results, pairs):
        rate = flops / (r.ours_median_us * 1e-6) / 1e9
        print(f"  {r.name:<34} {flops / 1e6:8.0f} MFLOP of GEMM, chainrule {rate:6.1f} GFLOP/s")
    path = write_results("lstm", results, title)
    print(f"written {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
    main(sys.argv[1:])
