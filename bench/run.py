"""``make bench``: the speed suite, chainrule against PyTorch CPU side by side (issue 9).

Every row does the same work in both frameworks (PyTorch's weights are copied into chainrule)
in one process: after a warm-up, rounds alternate between the frameworks (the order rotates
each round, so load drift on a shared machine hits both alike) and each row reports the
median per-call time, the spread (interquartile range / median) and the ratio
chainrule / PyTorch (< 1: chainrule is faster). Threads are pinned to 2 for both
(``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` before NumPy loads, ``torch.set_num_threads``;
``BENCH_THREADS`` overrides); OpenBLAS's idle workers sleep at once
(``OPENBLAS_THREAD_TIMEOUT=4``, so that they do not hold PyTorch's cores; the ``process``
section also measures OpenBLAS's default; see ``_common.py``);
``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` are dropped for the benchmark
(``BENCH_KEEP_CORETYPE=1`` keeps them) and the BLAS kernel in use is recorded.

Rows (float32):

- train steps at batch 128, SGD momentum 0.9, cross-entropy (zero_grad, forward, backward,
  step): the MLP 784-256-128-10, with a hand-written NumPy step (no autograd) as a third
  column, and LeNet-5 (conv 5x5 pad 2 -> ReLU -> maxpool -> conv 5x5 -> ReLU -> maxpool ->
  400-120-84-10);
- inference at batch 1000 under ``no_grad`` (eval mode) of both models;
- layers: Conv2d 3x3 pad 1 forward+backward at N=128 (1->32 at 28x28, a first layer: no input
  gradient; 32->64 at 14x14, with the input gradient), MaxPool2d 2x2 and BatchNorm2d
  (training) forward+backward on (128, 32, 28, 28), LSTM seq 50 batch 64 hidden 128
  forward+backward;
- the engine: per-op overhead on 4x4 tensors and a 1000-op chain forward+backward;
- peak RSS of one LeNet-5 epoch on Fashion-MNIST (synthetic 60k images when absent), one child
  process per framework (``_rss_child.py``; ``ru_maxrss`` of that child);
- process: the MLP and LeNet-5 train steps again, each framework in a child process of its
  own (``_step_child.py``), children alternating A B A B, a new batch each step. In the
  one-process rows PyTorch shares chainrule's process-wide allocator tuning, which speeds its
  LeNet-5 step by about a quarter; a user's own PyTorch process does not have it. Both views
  are reported.

The BLAS limit: each row with matrix products lists its GEMM shapes; the suite times NumPy's
sgemm on exactly those shapes in the same run, and the limit is their summed time (the
step's FLOPs over the measured sgemm rate on its shapes). "of limit" is limit / median: the
fraction of the step's time that the arithmetic alone needs.

Usage: ``.venv/bin/python bench/run.py [--quick] [--only SECTION ...] [--no-rss]`` with
sections ``train infer layers engine rss process``. Prints the table and writes
``bench/results/latest.json`` and ``bench/results/latest.md`` (git-ignored; ``bench/RESULTS.md``
is a committed copy). No timing asserts: measurements to read.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# _common pins the thread pools and the OpenBLAS kernel: import it before NumPy and torch
from _common import (  # noqa: E402
    RESULTS_DIR,
    SETTLE_S,
    THREADS,
    environment,
    summarize,
    time_many,
)

# isort: split
import argparse
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import bench_engine  # noqa: E402
import bench_layers  # noqa: E402
import bench_lstm  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _rss_child import MLP_SIZES, mlp  # noqa: E402

import chainrule as cr  # noqa: E402

N = 128
FW = ("chainrule", "torch", "numpy")
ROW_BUDGET_S = 30.0  # a row whose rounds would take longer gets fewer rounds (at least 5)
RSS_MAX_S = 90.0  # per framework: a loaded machine gets a partial epoch (reported as such)

Gemm = tuple[int, int, int, int]  # (count, m, k, n): count products of (m, k) @ (k, n)


@dataclass
class Row:
    section: str
    name: str
    fns: dict[str, Callable[[], Any]]
    gemms: list[Gemm] = field(default_factory=list)
    target: float | None = None  # the ratio target (chainrule / PyTorch)


# ---- GEMM shapes of each row ----
def dense_gemms(batch: int, sizes: tuple[int, ...], train: bool, first_input_grad: bool) -> list:
    """Forward x Wᵀ per layer; backward Gᵀ x (weights) and G W (inputs, not for the first
    layer unless its input needs a gradient)."""
    out: list[Gemm] = []
    for i, (fin, fout) in enumerate(zip(sizes[:-1], sizes[1:])):
        out.append((1, batch, fin, fout))
        if train:
            out.append((1, fout, batch, fin))
            if i > 0 or first_input_grad:
                out.append((1, batch, fout, fin))
    return out


def conv_gemms(n, c, o, k, hw_out, train: bool, input_grad: bool) -> list:
    """im2col form: W (O, C k k) @ cols (C k k, N Ho Wo); backward G colsᵀ and Wᵀ G."""
    kk, length = c * k * k, n * hw_out * hw_out
    out: list[Gemm] = [(1, o, kk, length)]
    if train:
        out.append((1, o, length, kk))
        if input_grad:
            out.append((1, kk, o, length))
    return out


def lenet_gemms(batch: int, train: bool) -> list:
    return (
        conv_gemms(batch, 1, 6, 5, 28, train, False)
        + conv_gemms(batch, 6, 16, 5, 10, train, True)
        + dense_gemms(batch, (400, 120, 84, 10), train, True)
    )


def lstm_gemms(seq, batch, hidden, inp) -> list:
    g = 4 * hidden
    return [
        (1, seq * batch, inp, g),  # input projection of every step at once
        (seq, batch, hidden, g),  # recurrent products, one per step
        (seq, batch, g, hidden),  # backward: δ W_hh per step
        (1, seq * batch, g, inp),  # ∂x
        (1, g, seq * batch, inp),  # ∂W_ih
        (1, g, seq * batch, hidden),  # ∂W_hh
    ]


def gemm_flops(gemms: list[Gemm]) -> float:
    return float(sum(2 * c * m * k * n for c, m, k, n in gemms))


def sgemm_times(shapes: set[tuple[int, int, int]], repeat: int) -> dict:
    """Median seconds of one NumPy float32 matmul per (m, k, n), into a preallocated output."""
    rng = np.random.default_rng(0)
    out = {}
    for m, k, n in sorted(shapes):
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        c = np.empty((m, n), np.float32)
        _, (ts,) = time_many([lambda a=a, b=b, c=c: np.matmul(a, b, out=c)], repeat=repeat)
        out[(m, k, n)] = summarize(ts)[0]
    return out


# ---- MLP: chainrule, PyTorch and a hand-written NumPy step ----
def _state(tmod) -> dict:
    return {k: v.detach().numpy().copy() for k, v in tmod.state_dict().items()}


class NumpyMLP:
    """The MLP step written by hand in NumPy (no autograd, no framework): what the framework's
    overhead is measured against. Same math as the frameworks: ReLU layers, softmax
    cross-entropy (mean), SGD with momentum (b ← μ b + g, θ ← θ − γ b) in place."""

    def __init__(self, state: dict, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.params = [state[f"{i}.{k}"].copy() for i in (0, 2, 4) for k in ("weight", "bias")]
        self.bufs: list[np.ndarray | None] = [None] * len(self.params)
        self.tmps = [np.empty_like(p) for p in self.params]
        self.lr, self.mu = np.float32(lr), np.float32(momentum)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        w1, b1, w2, b2, w3, b3 = self.params
        n = x.shape[0]
        rows = np.arange(n)
        z1 = x @ w1.T
        z1 += b1
        a1 = np.maximum(z1, 0, out=z1)
        z2 = a1 @ w2.T
        z2 += b2
        a2 = np.maximum(z2, 0, out=z2)
        z3 = a2 @ w3.T
        z3 += b3
        z3 -= z3.max(axis=1, keepdims=True)
        p = np.exp(z3)
        p /= p.sum(axis=1, keepdims=True)
        loss = -float(np.log(p[rows, y]).mean())
        d3 = p
        d3[rows, y] -= 1
        d3 *= np.float32(1 / n)
        d2 = d3 @ w3
        d2 *= a2 > 0
        d1 = d2 @ w2
        d1 *= a1 > 0
        grads = [d1.T @ x, d1.sum(0), d2.T @ a1, d2.sum(0), d3.T @ a2, d3.sum(0)]
        for i, (p_, g) in enumerate(zip(self.params, grads)):
            buf = self.bufs[i]
            if buf is None:
                self.bufs[i] = buf = g
            else:
                buf *= self.mu
                buf += g
            p_ -= np.multiply(buf, self.lr, out=self.tmps[i])
        return loss


def mlp_rows() -> list[Row]:
    torch.manual_seed(0)
    tnet = mlp(torch.nn)
    net = mlp(cr.nn)
    state = _state(tnet)
    net.load_state_dict(state)
    hand = NumpyMLP(state)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (N, 784)).astype(np.float32)
    y = rng.integers(0, 10, N)
    cx, cy, tx, ty = cr.tensor(x), cr.tensor(y), torch.tensor(x), torch.tensor(y)
    opt = cr.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    topt = torch.optim.SGD(tnet.parameters(), lr=0.01, momentum=0.9)

    def ours():
        opt.zero_grad()
        cr.nn.functional.cross_entropy(net(cx), cy).backward()
        opt.step()

    def theirs():
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tnet(tx), ty).backward()
        topt.step()

    train = Row(
        "train",
        "MLP 784-256-128-10 train step b128",
        {"chainrule": ours, "torch": theirs, "numpy": lambda: hand.step(x, y)},
        dense_gemms(N, MLP_SIZES, True, False),
        0.85,
    )
    net.eval()
    tnet.eval()
    xi = rng.uniform(0, 1, (1000, 784)).astype(np.float32)
    cxi, txi = cr.tensor(xi), torch.tensor(xi)

    def ours_inf():
        with cr.no_grad():
            net(cxi)

    def theirs_inf():
        with torch.no_grad():
            tnet(txi)

    infer = Row(
        "infer",
        "MLP inference b1000",
        {"chainrule": ours_inf, "torch": theirs_inf},
        dense_gemms(1000, MLP_SIZES, False, False),
    )
    return [train, infer]


def build_rows(sections: set[str]) -> list[Row]:
    rows: list[Row] = []
    if "train" in sections or "infer" in sections:
        mrows = mlp_rows()
    if "train" in sections:
        rows.append(mrows[0])
        ours, theirs = bench_layers.lenet_step()
        rows.append(
            Row(
                "train",
                "LeNet-5 train step b128",
                {"chainrule": ours, "torch": theirs},
                lenet_gemms(N, True),
                1.0,
            )
        )
        ours, theirs = bench_layers.lenet_step(stream=True)
        rows.append(
            Row(
                "train",
                "↳ LeNet-5 train step, a new batch each step (60,000 images in turn)",
                {"chainrule": ours, "torch": theirs},
                lenet_gemms(N, True),
            )
        )
    if "infer" in sections:
        rows.append(mrows[1])
        ours, theirs = bench_layers.lenet_inference()
        rows.append(
            Row(
                "infer",
                "LeNet-5 inference b1000",
                {"chainrule": ours, "torch": theirs},
                lenet_gemms(1000, False),
            )
        )
    if "layers" in sections:
        for c, o, hw in ((1, 32, 28), (32, 64, 14)):
            grad_in = c > 1
            torch.manual_seed(0)
            pair = (cr.nn.Conv2d(c, o, 3, padding=1), torch.nn.Conv2d(c, o, 3, padding=1))
            ours, theirs = bench_layers._fwd_bwd(*pair, (N, c, hw, hw), grad_in)
            rows.append(
                Row(
                    "layers",
                    f"Conv2d {c}->{o} {hw}x{hw} 3x3 fwd+bwd" + ("" if grad_in else " (no dx)"),
                    {"chainrule": ours, "torch": theirs},
                    conv_gemms(N, c, o, 3, hw, True, grad_in),
                    1.5,
                )
            )
        ours, theirs = bench_layers._fwd_bwd(
            cr.nn.MaxPool2d(2), torch.nn.MaxPool2d(2), (N, 32, 28, 28), True
        )
        rows.append(
            Row(
                "layers",
                "MaxPool2d 2x2 (128,32,28,28) fwd+bwd",
                {"chainrule": ours, "torch": theirs},
                target=1.5,
            )
        )
        ours, theirs = bench_layers._fwd_bwd(
            cr.nn.BatchNorm2d(32), torch.nn.BatchNorm2d(32), (N, 32, 28, 28), True
        )
        rows.append(
            Row(
                "layers", "BatchNorm2d (128,32,28,28) fwd+bwd", {"chainrule": ours, "torch": theirs}
            )
        )
        *_, ours, theirs = bench_lstm._pair("LSTM")
        s, b, h, i = bench_lstm.SEQ, bench_lstm.BATCH, bench_lstm.HIDDEN, bench_lstm.INPUT
        rows.append(
            Row(
                "layers",
                f"LSTM seq {s} b{b} h{h} fwd+bwd",
                {"chainrule": ours, "torch": theirs},
                lstm_gemms(s, b, h, i),
                1.5,
            )
        )
    if "engine" in sections:
        for c in bench_engine.cases():
            rows.append(Row("engine", c.name, {"chainrule": c.ours, "torch": c.torch}))
    return rows


# ---- peak RSS of a LeNet-5 epoch, one child process per framework ----
def rss_epoch(steps: int | None, max_seconds: float) -> dict[str, Any]:
    child = Path(__file__).resolve().parent / "_rss_child.py"
    out: dict[str, Any] = {}
    for fw in ("chainrule", "torch"):
        cmd = [sys.executable, str(child), fw, "--max-seconds", str(max_seconds)]
        cmd += [] if steps is None else ["--steps", str(steps)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            out[fw] = {"error": r.stderr.strip().splitlines()[-1:] or ["failed"]}
            continue
        out[fw] = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"  RSS child {fw}: {out[fw]}", flush=True)
    return out


PROCESS_REPEATS = 5

# The children of the process section: (label, framework, OpenBLAS idle-worker timeout or None
# for OpenBLAS's default spin). Each child is otherwise a user's plain process (see
# ``_step_child.py``); chainrule runs twice, with OpenBLAS as NumPy ships it and with the
# short spin the one-process rows use, since its convolution and recurrent paths gain from the
# second setting and its MLP from the first (see ``_common.py``).
PROCESS_VARIANTS = (
    ("chainrule", "chainrule", None),
    ("chainrule, OPENBLAS_THREAD_TIMEOUT=4", "chainrule", "4"),
    ("torch", "torch", None),
)


def _child_env(timeout: str | None) -> dict[str, str]:
    """This process's environment with the OpenBLAS setting of a variant, for the child's
    ``_common`` to apply (this process's own OPENBLAS_THREAD_TIMEOUT is not inherited)."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    env["BENCH_OPENBLAS_SPIN"] = "1" if timeout is None else "0"
    env["BENCH_OPENBLAS_TIMEOUT"] = timeout or ""
    return env


def process_steps(repeats: int) -> list[dict[str, Any]]:
    """Median train-step times with each framework in a process of its own (see
    ``_step_child.py``): ``repeats`` children per variant (``PROCESS_VARIANTS``) and model,
    the order rotating from repeat to repeat."""
    child = Path(__file__).resolve().parent / "_step_child.py"
    rows = []
    for model, label, steps in (("mlp", "MLP 784-256-128-10", 400), ("lenet", "LeNet-5", 150)):
        got: dict[str, list[float]] = {v[0]: [] for v in PROCESS_VARIANTS}
        k = len(PROCESS_VARIANTS)
        for i in range(repeats):
            for j in range(k):
                name, fw, timeout = PROCESS_VARIANTS[(i + j) % k]
                cmd = [sys.executable, str(child), fw, model, "--steps", str(steps)]
                r = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=600, env=_child_env(timeout)
                )
                if r.returncode != 0:
                    raise RuntimeError(f"_step_child {fw} {model} failed: {r.stderr[-500:]}")
                got[name].append(json.loads(r.stdout.strip().splitlines()[-1])["median_s"])
        row: dict[str, Any] = {"name": f"{label} train step b128, own process", "model": model}
        for name, ts in got.items():
            med, mn, spread = summarize(ts)
            row[name] = {"median_s": med, "min_s": mn, "spread": spread, "runs_s": ts}
        t = row["torch"]["median_s"]
        row["ratios"] = {v[0]: row[v[0]]["median_s"] / t for v in PROCESS_VARIANTS[:-1]}
        row["ratio"] = row["ratios"]["chainrule"]
        print(
            f"  {row['name']:<40} "
            + "  ".join(f"{n} {fmt_s(row[n]['median_s'])}" for n in got)
            + "  ratios "
            + ", ".join(f"{x:.2f}" for x in row["ratios"].values()),
            flush=True,
        )
        rows.append(row)
    return rows


def process_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "",
        f"Train steps with each framework in a process of its own (median over {PROCESS_REPEATS} "
        "child processes per variant, the order rotating, of each child's median step; a new "
        "batch each step; spread = IQR / median over the children). Each child has its "
        "library's defaults (OpenBLAS's idle workers spin), and chainrule runs a second time "
        "with OPENBLAS_THREAD_TIMEOUT=4, the one-process rows' setting:",
        "",
        "| row | "
        + " | ".join(f"{v[0]} (spread)" for v in PROCESS_VARIANTS)
        + "".join(f" | ratio, {v[0]}" for v in PROCESS_VARIANTS[:-1])
        + " | each child's median: "
        + "; ".join(v[0] for v in PROCESS_VARIANTS)
        + " |",
        "|---|" + "---:|" * (2 * len(PROCESS_VARIANTS) - 1) + "---|",
    ]
    for r in rows:
        cells = [
            f"{fmt_s(r[v[0]]['median_s'])} ({r[v[0]]['spread']:.0%})" for v in PROCESS_VARIANTS
        ]
        runs = "; ".join(", ".join(fmt_s(x) for x in r[v[0]]["runs_s"]) for v in PROCESS_VARIANTS)
        ratios = "".join(f" | {x:.2f}" for x in r["ratios"].values())
        lines.append(f"| {r['name']} | {' | '.join(cells)}{ratios} | {runs} |")
    return lines + [""]


# ---- formatting ----
def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    if x < 1e-3:
        return f"{x * 1e6:.1f} µs"
    if x < 1:
        return f"{x * 1e3:.2f} ms"
    return f"{x:.2f} s"


def measure(rows: list[Row], repeat: int, sgemm: dict) -> list[dict]:
    results = []
    for row in rows:
        names = [f for f in FW if f in row.fns]
        # the engine rows' 4x4 tensors start no BLAS or OpenMP workers: nothing to settle
        settle = 0.0 if row.section == "engine" else SETTLE_S
        number, times = time_many(
            [row.fns[f] for f in names],
            repeat=repeat,
            warmup=2,
            budget_s=ROW_BUDGET_S,
            settle_s=settle,
        )
        res: dict[str, Any] = {
            "section": row.section,
            "name": row.name,
            "number": number,
            "repeat": len(times[0]),
            "target": row.target,
        }
        for f, ts in zip(names, times):
            med, mn, spread = summarize(ts)
            res[f] = {"median_s": med, "min_s": mn, "spread": spread}
        res["ratio"] = res["chainrule"]["median_s"] / res["torch"]["median_s"]
        if "numpy" in res:
            res["numpy_ratio"] = res["numpy"]["median_s"] / res["torch"]["median_s"]
        if row.gemms:
            limit = sum(c * sgemm[(m, k, n)] for c, m, k, n in row.gemms)
            flops = gemm_flops(row.gemms)
            res["gemm_mflop"] = flops / 1e6
            res["blas_limit_s"] = limit
            res["sgemm_gflops"] = flops / limit / 1e9
            for f in names:
                res[f]["of_limit"] = limit / res[f]["median_s"]
        results.append(res)
        line = f"  {row.name:<40} " + "  ".join(
            f"{f} {fmt_s(res[f]['median_s']):>10}" for f in names
        )
        print(line + f"  ratio {res['ratio']:.2f}", flush=True)
    return results


def table(results: list[dict], rss: dict[str, Any] | None, env: dict[str, Any]) -> list[str]:
    lines = [
        "| row | chainrule (spread) | PyTorch (spread) | ratio | target | GEMM MFLOP "
        "| BLAS limit | chainrule of limit | PyTorch of limit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        c, t = r["chainrule"], r["torch"]
        target = "-"
        if r["target"] is not None:
            target = f"≤ {r['target']:.2f} " + ("✓" if r["ratio"] <= r["target"] else "✗")
        lim = r.get("blas_limit_s")
        lines.append(
            f"| {r['name']} | {fmt_s(c['median_s'])} ({c['spread']:.0%}) "
            f"| {fmt_s(t['median_s'])} ({t['spread']:.0%}) | {r['ratio']:.2f} | {target} "
            f"| {r['gemm_mflop']:.0f} | {fmt_s(lim)} | {c['of_limit']:.0%} | {t['of_limit']:.0%} |"
            if lim
            else f"| {r['name']} | {fmt_s(c['median_s'])} ({c['spread']:.0%}) "
            f"| {fmt_s(t['median_s'])} ({t['spread']:.0%}) | {r['ratio']:.2f} | {target} "
            f"| - | - | - | - |"
        )
        if "numpy" in r:
            n = r["numpy"]
            lines.append(
                f"| ↳ the same step in hand-written NumPy (no autograd) "
                f"| {fmt_s(n['median_s'])} ({n['spread']:.0%}) | {fmt_s(t['median_s'])} "
                f"| {r['numpy_ratio']:.2f} | - | {r['gemm_mflop']:.0f} | {fmt_s(lim)} "
                f"| {n['of_limit']:.0%} | - |"
            )
    if rss:
        c, t = rss.get("chainrule", {}), rss.get("torch", {})
        if "peak_rss_mb" in c and "peak_rss_mb" in t:
            ratio = c["peak_rss_mb"] / t["peak_rss_mb"]
            ok = "✓" if ratio <= 1.5 else "✗"
            lines += [
                "",
                f"Peak RSS of a LeNet-5 epoch ({c['data']}, {c['steps']} (chainrule) and "
                f"{t['steps']} (PyTorch) of the epoch's {c.get('epoch_steps', '?')} steps of "
                "batch 128; one child process per framework):",
                "",
                "| framework | peak RSS | RSS before the epoch | wall time | steps/s |",
                "|---|---:|---:|---:|---:|",
                f"| chainrule | {c['peak_rss_mb']:.0f} MiB | {c['rss_before_epoch_mb']:.0f} MiB "
                f"| {c['epoch_s']:.1f} s | {c['steps'] / c['epoch_s']:.1f} |",
                f"| PyTorch | {t['peak_rss_mb']:.0f} MiB | {t['rss_before_epoch_mb']:.0f} MiB "
                f"| {t['epoch_s']:.1f} s | {t['steps'] / t['epoch_s']:.1f} |",
                f"| chainrule / PyTorch | {ratio:.2f} (target ≤ 1.50 {ok}) | | | "
                f"{(t['steps'] / t['epoch_s']) / (c['steps'] / c['epoch_s']):.2f} (time per "
                "step, data loading included; sequential, not alternated) |",
            ]
        else:
            lines += ["", f"Peak RSS: a child failed: {rss}"]
    blas = env.get("blas", {})
    coretype = (
        f"kept {env['openblas_coretype_found']}"
        if env["openblas_coretype_kept"]
        else (
            f"dropped {env['openblas_coretype_found']}"
            if env["openblas_coretype_found"]
            else "not set"
        )
    )
    lines += [
        "",
        f"Median of {max((r['repeat'] for r in results), default=0)} alternating rounds each "
        "(at least 5 on slow rows); spread = "
        "IQR / median; ratio = chainrule / PyTorch (< 1: chainrule faster). BLAS limit: NumPy "
        "sgemm on the row's GEMM shapes, timed in the same run; 'of limit' = limit / median.",
        f"numpy {env['numpy']} ({blas.get('internal_api')} {blas.get('version')}, kernel "
        f"{blas.get('architecture')}, {blas.get('num_threads')} threads; OPENBLAS_CORETYPE "
        f"{coretype}; OPENBLAS_THREAD_TIMEOUT {env.get('openblas_thread_timeout') or 'default'}"
        f"; {env.get('settle_s', 0):g} s settle between frameworks), "
        f"torch {env['torch']} ({env['torch_threads']} threads), "
        f"{env['cpu_count']} CPUs, clock: "
        f"{'process CPU time' if env.get('clock') == 'cpu' else 'wall'}, "
        f"load average {env['loadavg_start'][0]:.1f} at start, "
        f"{env['loadavg'][0]:.1f} at end, {env['time']}, {env['wall_s']:.0f} s.",
    ]
    return lines


def main(argv: list[str]) -> None:
    all_sections = ["train", "infer", "layers", "engine", "rss", "process"]
    parser = argparse.ArgumentParser(
        description="chainrule vs PyTorch CPU, side by side in one process (make bench)."
    )
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 11")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=all_sections,
        metavar="SECTION",
        help=f"run only these sections ({', '.join(all_sections)})",
    )
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS epoch")
    args = parser.parse_args(argv)
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    repeat = 5 if args.quick else 11
    sections = set(args.only or all_sections)
    if args.no_rss:
        sections.discard("rss")
    print(
        f"chainrule vs PyTorch, {THREADS} threads, median of {repeat} alternating rounds; "
        f"load average {load_start[0]:.1f}",
        flush=True,
    )
    rows = build_rows(sections)
    shapes = {(m, k, n) for r in rows for _, m, k, n in r.gemms}
    print(f"timing NumPy sgemm on {len(shapes)} GEMM shapes", flush=True)
    sgemm = sgemm_times(shapes, repeat=repeat)
    results = measure(rows, repeat, sgemm)
    rss = None
    if "rss" in sections:
        print("peak RSS of a LeNet-5 epoch (child processes)", flush=True)
        rss = rss_epoch(100 if args.quick else None, max_seconds=RSS_MAX_S)
    process = None
    if "process" in sections:
        print("train steps, each framework in a process of its own", flush=True)
        process = process_steps(2 if args.quick else PROCESS_REPEATS)
    env = environment()
    env["loadavg_start"] = load_start
    env["wall_s"] = time.perf_counter() - t_start
    lines = table(results, rss, env)
    if process:
        lines[-2:-2] = process_table(process)
    print()
    print("\n".join(lines))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    data = {
        "environment": env,
        "sgemm_s": {f"{m}x{k}x{n}": t for (m, k, n), t in sgemm.items()},
        "rows": results,
        "rss": rss,
        "process": process,
    }
    (RESULTS_DIR / "latest.json").write_text(json.dumps(data, indent=2))
    (RESULTS_DIR / "latest.md").write_text("\n".join(lines) + "\n")
    print(f"\nwritten {RESULTS_DIR / 'latest.json'} and {RESULTS_DIR / 'latest.md'}")


if __name__ == "__main__":
    main(sys.argv[1:])
