"""Shared timing helpers for the chainrule-vs-PyTorch benchmarks in ``bench/``.

Import this module *first* in a benchmark script: it pins the BLAS/OpenMP thread pools and
torch's intra-op pool to the same count (2 by default, ``BENCH_THREADS`` overrides) before
NumPy does any work, so both frameworks run on equal footing.

Method (after tinygrad's ``external_test_speed_v_torch.py`` and ``timeit``):

- each case is a pair of zero-argument callables, one per framework, doing the same work;
- both are warmed up (``warmup`` calls, discarded);
- ``repeat`` rounds alternate chainrule and PyTorch (so drift on a shared machine hits both),
  each round timing ``number`` back-to-back calls with ``time.perf_counter``;
- reported per call: the median over rounds, the minimum, and the spread (interquartile
  range / median); the ratio column is chainrule's median over PyTorch's (> 1: slower).

No timing asserts anywhere: these are measurements to read, not tests.

Example::

    from _common import Case, run_cases, print_table, write_results
    results = run_cases([Case("add", lambda: a + b, lambda: ta + tb)])
    print_table(results, "engine")
    write_results("engine", results)
"""

from __future__ import annotations

import os

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

# OpenBLAS's idle worker threads spin for a while after each matrix product (2^28 cycles,
# about 0.1 s here). In one process that alternates NumPy and PyTorch work, those spinning
# threads hold the cores that PyTorch's pool then needs: measured here, PyTorch's MLP step
# went from 2.3 ms to 4.8 ms and its LeNet-5 step from 11.7 ms to 33 ms, which made chainrule
# look 2-3x better than it is. By default the one-process rows therefore set the shortest
# spin (OPENBLAS_THREAD_TIMEOUT=4, BENCH_OPENBLAS_TIMEOUT=N sets another): the workers sleep
# after every product, and each multi-threaded product pays their wake-up. That is not NumPy
# as a user's process runs it (the hand-written NumPy MLP step, four pairs of processes:
# 1.3-2.2 ms with the default spin, 2.0-3.1 ms with timeout 4, slower in every pair), so
# the rows run in processes of their own (``run.py``'s section ``process``) are also
# measured with OpenBLAS's default. BENCH_OPENBLAS_SPIN=1
# keeps the default spin here too; rounds of different frameworks are then SETTLE_S seconds
# apart (sleep, then one untimed call; see ``time_many``), longer than either library's
# spin, so that one's spinning workers are asleep before the other is timed (measured:
# PyTorch's MLP step 4.2 ms without the pause, 2.5-2.6 ms with it, 2.7-3.3 ms alone).
SPIN = os.environ.get("BENCH_OPENBLAS_SPIN", "") not in ("", "0")
if not SPIN:
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = os.environ.get("BENCH_OPENBLAS_TIMEOUT") or "4"
SETTLE_S = float(os.environ.get("BENCH_SETTLE_S", "0.25" if SPIN else "0"))

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: some machines of this workplace set them, because old
# OpenBLAS builds crash or compute wrongly on their processors; they make a current NumPy pick
# a slower kernel. The benchmark measures NumPy at its best, so it drops both (together, for
# this process only, before NumPy loads OpenBLAS) and records which kernel runs; tests and CI
# keep them. BENCH_KEEP_CORETYPE=1 keeps them (to measure what the test suite sees).
CORETYPE_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
CORETYPE_FOUND = {v: os.environ.get(v) for v in CORETYPE_VARS if os.environ.get(v) is not None}
CORETYPE_KEPT = os.environ.get("BENCH_KEEP_CORETYPE", "") not in ("", "0")
if not CORETYPE_KEPT:
    for _var in CORETYPE_VARS:
        os.environ.pop(_var, None)

import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(THREADS)
try:  # also cap pools NumPy already started (no-op when the env vars took effect)
    from threadpoolctl import threadpool_limits  # noqa: E402

    threadpool_limits(THREADS)
except ImportError:  # pragma: no cover
    pass

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# The clock: wall time by default. BENCH_CLOCK=cpu times the process's CPU time instead, which
# a loaded machine distorts far less (a descheduled process accrues none); it is meaningful
# with BENCH_THREADS=1 only (with more threads it adds up the threads, spin-waits included).
CLOCK_NAME = os.environ.get("BENCH_CLOCK", "wall")
_clock = time.process_time if CLOCK_NAME == "cpu" else time.perf_counter

__all__ = [
    "Case",
    "RESULTS_DIR",
    "SETTLE_S",
    "Result",
    "THREADS",
    "blas_info",
    "environment",
    "print_table",
    "run_cases",
    "summarize",
    "time_many",
    "time_pair",
    "write_results",
]


@dataclass
class Case:
    """One benchmark: the same work in chainrule (``ours``) and PyTorch (``torch``)."""

    name: str
    ours: Callable[[], Any]
    torch: Callable[[], Any]
    number: int | None = None  # calls per round; None: calibrated to ~``round_s`` seconds


@dataclass
class Result:
    """Per-call timings in microseconds."""

    name: str
    ours_median_us: float
    ours_min_us: float
    ours_spread: float
    torch_median_us: float
    torch_min_us: float
    torch_spread: float
    number: int
    repeat: int

    @property
    def ratio(self) -> float:
        return self.ours_median_us / self.torch_median_us


def _round(fn: Callable[[], Any], number: int) -> float:
    t0 = _clock()
    for _ in range(number):
        fn()
    return (_clock() - t0) / number


def _calibrate(fn: Callable[[], Any], round_s: float) -> int:
    number = 1
    while True:
        t = _round(fn, number) * number
        if t >= round_s / 4 or number >= 1 << 20:
            return max(1, int(number * round_s / max(t, 1e-9)))
        number *= 4


def _spread(xs: Sequence[float]) -> float:
    if len(xs) < 4:
        return (max(xs) - min(xs)) / statistics.median(xs)
    q = statistics.quantiles(xs, n=4)
    return (q[2] - q[0]) / statistics.median(xs)


def time_many(
    fns: Sequence[Callable[[], Any]],
    *,
    repeat: int = 15,
    number: int | None = None,
    warmup: int = 3,
    round_s: float = 0.05,
    budget_s: float | None = None,
    settle_s: float = 0.0,
) -> tuple[int, list[list[float]]]:
    """Time several callables doing the same work, round-robin: each round times ``number``
    back-to-back calls of every callable, and the order rotates from round to round so that
    load drift on a shared machine hits all of them alike. With ``budget_s``, slow cases get
    fewer rounds (never fewer than 5) so that the rounds take about that long. With
    ``settle_s``, each round sleeps that long and makes one untimed call first, so that the
    previous callable's idle BLAS/OpenMP workers have stopped spinning (``SETTLE_S``). Returns
    ``number`` and, per callable, the per-call seconds of each round."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        for f in fns:
            f()
    per_round_call = (time.perf_counter() - t0) / max(warmup, 1)  # one call of each
    if number is None:  # calibrated on the first (ours); capped so no callable runs > 4x long
        number = max(_calibrate(fns[0], round_s), 1)
        for f in fns[1:]:
            number = min(number, max(_calibrate(f, round_s), 1) * 4)
    if budget_s is not None and per_round_call > 0:
        repeat = max(min(repeat, 5), min(repeat, int(budget_s / (per_round_call * number))))
    times: list[list[float]] = [[] for _ in fns]
    k = len(fns)
    for r in range(repeat):
        for j in range(k):
            i = (j + r) % k
            if settle_s > 0:
                time.sleep(settle_s)
                fns[i]()
            times[i].append(_round(fns[i], number))
    return number, times


def summarize(xs: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, spread = IQR / median) of per-call seconds."""
    return statistics.median(xs), min(xs), _spread(xs)


def time_pair(
    ours: Callable[[], Any],
    theirs: Callable[[], Any],
    *,
    repeat: int = 15,
    number: int | None = None,
    warmup: int = 3,
    round_s: float = 0.05,
    name: str = "",
) -> Result:
    """Time two callables alternately; see the module docstring for the method."""
    number, (a, b) = time_many(
        [ours, theirs], repeat=repeat, number=number, warmup=warmup, round_s=round_s
    )
    us = 1e6
    return Result(
        name=name,
        ours_median_us=statistics.median(a) * us,
        ours_min_us=min(a) * us,
        ours_spread=_spread(a),
        torch_median_us=statistics.median(b) * us,
        torch_min_us=min(b) * us,
        torch_spread=_spread(b),
        number=number,
        repeat=repeat,
    )


def run_cases(cases: Iterable[Case], *, repeat: int = 15, warmup: int = 3) -> list[Result]:
    """Run :func:`time_pair` on every case, printing a line as each finishes."""
    out = []
    for c in cases:
        r = time_pair(c.ours, c.torch, repeat=repeat, number=c.number, warmup=warmup, name=c.name)
        line = f"  {c.name:<34} {r.ours_median_us:10.1f} us {r.torch_median_us:10.1f} us"
        print(line, flush=True)
        out.append(r)
    return out


def _fmt_us(x: float) -> str:
    return f"{x:,.1f}" if x < 1e4 else f"{x:,.0f}"


def table_lines(results: Sequence[Result], title: str) -> list[str]:
    """A Markdown table: median (spread) per framework and the ratio."""
    lines = [
        f"### {title}",
        "",
        "| case | chainrule median us (IQR/med) | PyTorch median us (IQR/med) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {_fmt_us(r.ours_median_us)} ({r.ours_spread:.0%}) | "
            f"{_fmt_us(r.torch_median_us)} ({r.torch_spread:.0%}) | {r.ratio:.2f}x |"
        )
    return lines


def print_table(results: Sequence[Result], title: str) -> None:
    print()
    print("\n".join(table_lines(results, title)))
    print()


def blas_info() -> dict[str, Any]:
    """NumPy's BLAS as threadpoolctl sees it (library, version, kernel, threads)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return {}
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
            return {k: info.get(k) for k in keys}
    return {}


def environment() -> dict[str, Any]:
    """Versions, thread settings, BLAS kernel and load, stored with every result file."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "threads": THREADS,
        "clock": CLOCK_NAME,
        "torch_threads": torch.get_num_threads(),
        "blas": blas_info(),
        "openblas_coretype_found": CORETYPE_FOUND,
        "openblas_coretype_kept": CORETYPE_KEPT,
        "openblas_thread_timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
        "settle_s": SETTLE_S,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def write_results(name: str, results: Sequence[Result], title: str | None = None) -> Path:
    """Write ``bench/results/<name>.json`` and ``.md`` (git-ignored); returns the JSON path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    data = {
        "environment": environment(),
        "results": [dict(asdict(r), ratio=r.ratio) for r in results],
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    env = data["environment"]
    md = table_lines(results, title or name) + [
        "",
        f"numpy {env['numpy']}, torch {env['torch']}, {env['threads']} threads, {env['time']}",
        "",
    ]
    (RESULTS_DIR / f"{name}.md").write_text("\n".join(md))
    return path
