"""Note [intra-op threads]: chainrule's own thread pool (``set_num_threads``/``parallel_for``).

The pool must never change a result: every kernel that runs on it is checked bit for bit
against the same kernel run in the caller alone, with the size threshold lowered to 0 so
that small test arrays take the threaded path (and several threads, so chunks are uneven).
The pool's contract itself (every chunk once, errors raised in the caller, nested and
concurrent calls inline, forked children) is tested directly.
"""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest

import chainrule as cr
import chainrule.backend as backend
from chainrule.backend import get_num_threads, parallel_for, set_num_threads

F = cr.nn.functional


@pytest.fixture
def threads(monkeypatch):
    """Run with ``n`` pool threads and no size threshold; restores the thread count."""
    old = get_num_threads()
    monkeypatch.setattr(backend, "PARALLEL_MIN_BYTES", 0)

    def use(n: int) -> None:
        set_num_threads(n)

    yield use
    set_num_threads(old)


# ---- the pool's contract ----
@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_set_num_threads_rejects_non_positive_ints(bad):
    with pytest.raises(ValueError, match="set_num_threads: expected a positive int"):
        set_num_threads(bad)


def test_num_threads_round_trip_and_public_names(threads):
    threads(3)
    assert cr.get_num_threads() == 3
    cr.set_num_threads(1)
    assert get_num_threads() == 1


def test_default_thread_count_follows_the_environment(monkeypatch):
    for var in ("CHAINRULE_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert backend._default_num_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert backend._default_num_threads() == 2
    monkeypatch.setenv("CHAINRULE_NUM_THREADS", "5")
    assert backend._default_num_threads() == 5
    monkeypatch.setenv("CHAINRULE_NUM_THREADS", "junk")  # ignored, next variable wins
    assert backend._default_num_threads() == 2


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_parallel_for_covers_the_range_once(threads, n, k):
    threads(k)
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def fn(a: int, b: int) -> None:
        with lock:
            seen.append((a, b))

    parallel_for(n, fn, nbytes=1 << 30)
    seen.sort()
    assert seen[0][0] == 0 and seen[-1][1] == n
    assert all(b0 == a1 for (_, b0), (a1, _) in zip(seen, seen[1:]))  # contiguous, disjoint
    assert len(seen) == (1 if k == 1 or n == 1 else min(n, k * backend.CHUNKS_PER_THREAD))


def test_parallel_for_below_the_threshold_runs_inline(threads, monkeypatch):
    threads(2)
    monkeypatch.setattr(backend, "PARALLEL_MIN_BYTES", 1 << 20)
    calls = []
    parallel_for(10, lambda a, b: calls.append((a, b, threading.get_ident())), nbytes=1000)
    assert calls == [(0, 10, threading.get_ident())]


def test_parallel_for_uses_another_thread(threads):
    threads(2)
    idents = set()
    barrier = threading.Barrier(2, timeout=10)

    def fn(a: int, b: int) -> None:  # both chunks must be running at once to pass
        barrier.wait()
        idents.add(threading.get_ident())

    parallel_for(2, fn, nbytes=1 << 30)
    assert len(idents) == 2 and threading.get_ident() in idents


def test_parallel_for_raises_a_chunk_error_after_all_chunks(threads):
    threads(3)
    done = []

    def fn(a: int, b: int) -> None:
        if a > 0:
            raise KeyError(f"chunk at {a}")
        done.append(a)

    with pytest.raises(KeyError, match="chunk at"):
        parallel_for(9, fn, nbytes=1 << 30)
    assert done == [0]
    out = np.zeros(9)  # the pool still works afterwards
    parallel_for(9, lambda a, b: out.__setitem__(slice(a, b), 1), nbytes=1 << 30)
    assert out.sum() == 9


def test_nested_and_concurrent_calls_run_inline(threads):
    threads(2)
    inner = []

    def fn(a: int, b: int) -> None:
        parallel_for(4, lambda c, d: inner.append((c, d)), nbytes=1 << 30)

    parallel_for(2, fn, nbytes=1 << 30)
    assert sorted(inner) == [(0, 4), (0, 4)]  # each nested call ran whole, in its thread

    results = []
    start = threading.Barrier(3, timeout=10)

    def caller() -> None:
        start.wait()
        x = np.arange(1000.0)
        for _ in range(50):
            parallel_for(1000, lambda a, b: np.multiply(x[a:b], 1.0, out=x[a:b]), 1 << 30)
        results.append(x.sum())

    ts = [threading.Thread(target=caller) for _ in range(2)]
    for t in ts:
        t.start()
    caller()
    for t in ts:
        t.join()
    assert results == [499500.0] * 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_a_new_pool(threads):
    threads(2)
    parallel_for(2, lambda a, b: None, nbytes=1 << 30)  # the parent's workers exist
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            x = np.zeros(100)
            parallel_for(100, lambda a, b: x.__setitem__(slice(a, b), 1.0), nbytes=1 << 30)
            os.write(w, str(int(x.sum())).encode())
        finally:
            os._exit(0)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    got = os.read(r, 100).decode()
    os.close(r)
    assert status == 0 and got == "100"


# ---- kernels: bit-identical for any thread count ----
def _run(fn, n_threads, threads):
    threads(n_threads)
    cr.manual_seed(0)
    return fn()


def _same(a, b, what):
    assert len(a) == len(b)
    for i, (u, v) in enumerate(zip(a, b)):
        u, v = np.asarray(u), np.asarray(v)
        assert u.shape == v.shape and u.dtype == v.dtype, f"{what}[{i}]"
        assert u.tobytes() == v.tobytes(), f"{what}[{i}]: differs between thread counts"


def _fwd_bwd(module, x, cnhw=False, upstream=None):
    def run():
        data = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3) if cnhw else x
        t = cr.tensor(data, requires_grad=True)
        y = module(t)
        u = upstream if upstream is not None else np.linspace(-1, 1, y.numel()).reshape(y.shape)
        y.backward(cr.tensor(u.astype(y.data.dtype)))
        grads = [p.grad.data for p in module.parameters()]
        module.zero_grad()
        return [y.data, t.grad.data, *grads]

    return run


CONVS = [
    dict(c=3, o=4, k=3, padding=1),
    dict(c=2, o=6, k=5, padding=2),  # LeNet's first layer
    dict(c=6, o=4, k=5, padding=0),
    dict(c=3, o=4, k=3, padding=1, stride=2),  # general col2im
    dict(c=4, o=4, k=3, padding=2, dilation=2, groups=2),
    dict(c=3, o=2, k=3, padding=1, padding_mode="reflect"),
    dict(c=3, o=5, k=1),
]


@pytest.mark.parametrize("cfg", CONVS, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_same_bits_any_thread_count(threads, cfg, dtype):
    cfg = dict(cfg)
    c, o, k = cfg.pop("c"), cfg.pop("o"), cfg.pop("k")
    cr.manual_seed(1)
    conv = cr.nn.Conv2d(c, o, k, **cfg).to(dtype)
    x = np.random.default_rng(2).standard_normal((7, c, 9, 10)).astype(dtype)
    run = _fwd_bwd(conv, x)
    ref = _run(run, 1, threads)
    for n in (2, 3):
        _same(ref, _run(run, n, threads), f"conv2d {cfg} threads={n}")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kernel_size=2),  # tiled
        dict(kernel_size=2, stride=2),
        dict(kernel_size=3),  # tiled with a cropped edge (9 = 3*3, 10 = 3*3 + 1)
        dict(kernel_size=3, stride=2, padding=1),  # overlapping windows
        dict(kernel_size=2, stride=1, dilation=2, ceil_mode=True),
    ],
    ids=lambda k: "-".join(f"{a}{b}" for a, b in k.items()),
)
@pytest.mark.parametrize("cnhw", [False, True])
@pytest.mark.parametrize("shape", [(7, 3, 9, 10), (2, 9, 9, 10)])
def test_max_pool2d_same_bits_any_thread_count(threads, kwargs, cnhw, shape):
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    x[0, 0, :2, :2] = 1.5  # ties: the first maximum takes the gradient
    run = _fwd_bwd(cr.nn.MaxPool2d(**kwargs), x, cnhw)
    ref = _run(run, 1, threads)
    for n in (2, 3):
        _same(ref, _run(run, n, threads), f"max_pool2d {kwargs} threads={n}")


@pytest.mark.parametrize("cnhw", [False, True])
def test_relu_same_bits_any_thread_count(threads, cnhw):
    x = np.random.default_rng(4).standard_normal((5, 3, 6, 7)).astype(np.float32)
    x[1, 1, 1, :3] = [0.0, -0.0, np.nan]
    run = _fwd_bwd(cr.nn.ReLU(), x, cnhw)
    ref = _run(run, 1, threads)
    _same(ref, _run(run, 3, threads), "relu")


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("cnhw", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm2d_same_bits_any_thread_count(threads, affine, cnhw, dtype):
    """Batch norm runs per channel chunk: output, every gradient and the running statistics
    are the same bits at 1, 2 and 3 threads."""
    x = np.random.default_rng(9).standard_normal((6, 7, 5, 4)).astype(dtype) * 3 + 1

    def run():
        bn = cr.nn.BatchNorm2d(7, affine=affine).to(dtype)
        out = _fwd_bwd(bn, x, cnhw)()
        return [*out, bn.running_mean.data, bn.running_var.data]

    ref = _run(run, 1, threads)
    for n in (2, 3):
        _same(ref, _run(run, n, threads), f"batch_norm2d threads={n}")


@pytest.mark.parametrize("module", [cr.nn.ReLU(), cr.nn.MaxPool2d(2)], ids=["relu", "maxpool"])
def test_non_finite_upstream_gradient_same_bits(threads, module):
    """A chunk with an inf/NaN upstream gradient takes the slow path, the others the product:
    blocked cells are exactly 0 either way (signed zeros included)."""
    x = np.random.default_rng(5).standard_normal((6, 2, 4, 4)).astype(np.float32)
    with cr.no_grad():
        out_shape = module(cr.tensor(x)).shape
    u = np.random.default_rng(6).standard_normal(out_shape).astype(np.float32)
    u[-1, 0, 0, 0], u[-1, 1, 0, 1] = np.inf, np.nan  # only in the last chunk
    run = _fwd_bwd(module, x, upstream=u)
    ref = _run(run, 1, threads)
    gx = ref[1]
    assert np.isnan(gx).sum() <= 1 and not np.isinf(gx[:-1]).any()
    for n in (2, 3):
        _same(ref, _run(run, n, threads), f"{type(module).__name__} non-finite threads={n}")


def test_lenet_train_steps_same_bits_any_thread_count(threads):
    """Three SGD steps of a LeNet-style network give the same weights at 1 and 3 threads."""

    def steps():
        cr.manual_seed(7)
        nn = cr.nn
        net = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(400, 10),
        )  # fmt: skip
        opt = cr.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        rng = np.random.default_rng(8)
        x = cr.tensor(rng.uniform(0, 1, (8, 1, 28, 28)).astype(np.float32))
        y = cr.tensor(rng.integers(0, 10, 8))
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        return [p.data for p in net.parameters()]

    ref = _run(steps, 1, threads)
    _same(ref, _run(steps, 3, threads), "LeNet weights")


@pytest.mark.skipif(sys.platform == "win32", reason="daemon worker threads")
def test_workers_are_daemon_threads(threads):
    threads(2)
    parallel_for(2, lambda a, b: None, nbytes=1 << 30)
    workers = [t for t in threading.enumerate() if t.name == "chainrule-intra-op"]
    assert workers and all(t.daemon for t in workers)


# ---- Note [small products on one BLAS thread] ----
_SINGLE_THREAD_PROBE = """
import json, numpy as np, chainrule as cr
from chainrule import backend
setter = backend._blas_set_local
state = {"setter": setter is not None}
if setter is not None:
    with backend.single_thread_blas():
        state["inside"] = setter(1)  # returns the thread's setting, then keeps it at 1
    state["after"] = setter(0)  # what the block restored on exit
    setter(state["after"])
rng = np.random.default_rng(0)
x = cr.tensor(rng.standard_normal((6, 64, 16), dtype=np.float32), requires_grad=True)
for name in ("RNN", "LSTM", "GRU"):
    cr.manual_seed(0)
    layer = getattr(cr.nn, name)(16, 128)
    y, _ = layer(x)
    (y * y).sum().backward()
    state[name] = [float(np.abs(y.numpy()).sum()), float(np.abs(x.grad.numpy()).sum())]
    x.grad = None
print(json.dumps(state))
"""


def _probe(env_timeout):
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    env["OPENBLAS_NUM_THREADS"] = "2"
    if env_timeout is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = env_timeout
    out = subprocess.run(
        [sys.executable, "-c", _SINGLE_THREAD_PROBE], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_single_thread_blas_only_when_openblas_workers_sleep():
    """With OpenBLAS's default spin the block does nothing; with OPENBLAS_THREAD_TIMEOUT=4
    the loop's products run on one thread (OpenBLAS's thread count is 1 inside
    and restored after), and the recurrent layers compute the same values either way."""
    default, sleepy = _probe(None), _probe("4")
    assert default["setter"] is False
    if not sleepy["setter"]:  # a NumPy whose OpenBLAS lacks openblas_set_num_threads_local
        assert np.__config__.CONFIG["Build Dependencies"]["blas"]["name"] != "scipy-openblas"
        return
    assert sleepy["inside"] == 1
    assert sleepy["after"] != 1
    for name in ("RNN", "LSTM", "GRU"):
        np.testing.assert_allclose(sleepy[name], default[name], rtol=1e-6)
