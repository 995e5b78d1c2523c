"""The array backend: the one module that imports the array library for computation.

Op code asks its inputs which array module they live in (``xp = get_array_module(x)``,
as Chainer does) and never imports NumPy itself, so CuPy can be dropped in without
touching an op. The few helpers whose NumPy and CuPy forms differ live here.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy

try:  # guarded GPU import: chainrule never requires CuPy
    import cupy
    import cupyx
except Exception:  # pragma: no cover - CuPy absent on CPU machines
    cupy = None
    cupyx = None

__all__ = [
    "Array",
    "BlasTasks",
    "as_strided",
    "blas_workers_sleep",
    "cupy_available",
    "errstate",
    "get_array_module",
    "get_num_threads",
    "kernels_inline",
    "numpy",
    "parallel_for",
    "scatter_add",
    "set_num_threads",
    "single_thread_blas",
    "sliding_window_view",
    "to_numpy",
]

Array = Any  # numpy.ndarray or cupy.ndarray

# Note [malloc tuning]
#     Training allocates and frees the same large arrays (activations, gradients, im2col
#     columns: megabytes each) every step. glibc serves blocks above its mmap threshold with
#     fresh mmap()s and gives heap memory above its trim threshold back to the kernel at once,
#     so every step pays page faults to get zeroed pages again (measured, LeNet-5 train step at
#     batch 128: ~2,000 faults and a quarter of the step's time). Raising both thresholds
#     keeps that memory in the process for reuse: the step is ~25% faster (27.6 -> 20.8 ms, 1
#     thread, CPU time; faults 95k -> 10k over 50 steps). At import, on Linux with glibc only,
#     chainrule sets M_MMAP_THRESHOLD = M_TRIM_THRESHOLD = 64 MiB: up to 64 MiB of freed memory
#     stays mapped, blocks over 64 MiB still come from mmap and go back on free (a trim
#     threshold of 32 MiB brought the faults back; 128 MiB kept ~90 MB of a dataset loader's
#     temporaries resident for no speed gain). The price is memory kept for reuse: the peak
#     RSS of a LeNet-5 Fashion-MNIST epoch goes from 260 to 305 MB (the data loading's
#     temporaries stay mapped; a training step's working set is ~43 MB either way).
#     It is process-wide: other libraries in the process get the same allocator behaviour.
#     Turn it off with CHAINRULE_MALLOC_TUNING=0; it is also skipped when the user tuned glibc
#     (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or GLIBC_TUNABLES set).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
MALLOC_MMAP_THRESHOLD = 64 << 20
MALLOC_TRIM_THRESHOLD = 64 << 20


def _tune_malloc() -> dict[str, Any]:
    """Apply Note [malloc tuning]; returns what was done (``chainrule.backend.malloc_tuning``)."""
    if os.environ.get("CHAINRULE_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "off"):
        return {"applied": False, "reason": "CHAINRULE_MALLOC_TUNING=0"}
    if not sys.platform.startswith("linux"):
        return {"applied": False, "reason": f"not Linux ({sys.platform})"}
    user = [v for v in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")
            if v in os.environ]  # fmt: skip
    if user:
        return {"applied": False, "reason": f"glibc tuned by the user ({', '.join(user)})"}
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        version = libc.gnu_get_libc_version().decode()
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl, or no symbols: leave the allocator alone
        return {"applied": False, "reason": "not glibc"}
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mmap = MALLOC_MMAP_THRESHOLD
    ok = mallopt(_M_MMAP_THRESHOLD, mmap) == 1
    if not ok:  # glibc before 2.26 caps the threshold at 32 MiB on 64-bit machines
        mmap = 32 << 20
        ok = mallopt(_M_MMAP_THRESHOLD, mmap) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD) == 1 and ok
    return {
        "applied": ok,
        "glibc": version,
        "mmap_threshold": mmap,
        "trim_threshold": MALLOC_TRIM_THRESHOLD,
    }


malloc_tuning: dict[str, Any] = _tune_malloc()

cupy_available: bool = cupy is not None


def get_array_module(*arrays: Any) -> Any:
    """Return the array module (``numpy`` or ``cupy``) that owns ``arrays``."""
    if cupy is not None:
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
    return numpy


def to_numpy(a: Any) -> numpy.ndarray:
    """Return ``a`` as a NumPy array (a device-to-host copy for CuPy arrays)."""
    if cupy is not None and isinstance(a, cupy.ndarray):
        return cupy.asnumpy(a)
    return numpy.asarray(a)


def scatter_add(target: Any, indices: Any, values: Any) -> None:
    """``target[indices] += values`` with repeated indices accumulated (``np.add.at``)."""
    if cupy is not None and isinstance(target, cupy.ndarray):
        cupyx.scatter_add(target, indices, values)
    else:
        numpy.add.at(target, indices, values)


def as_strided(x: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """A read-only strided view of ``x`` (no copy)."""
    if cupy is not None and isinstance(x, cupy.ndarray):
        return cupy.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)
    return numpy.lib.stride_tricks.as_strided(x, shape=shape, strides=strides, writeable=False)


def errstate(**kwargs: Any) -> Any:
    """NumPy's floating-point error context; ops use it where PyTorch returns inf or NaN
    silently (``log(0)``, ``x / 0``) so that no warning is raised for a legitimate result."""
    return numpy.errstate(**kwargs)


def sliding_window_view(x: Any, window_shape: tuple[int, ...], axis: tuple[int, ...]) -> Any:
    """A read-only view of all windows of ``x`` along ``axis`` (no copy)."""
    xp = get_array_module(x)
    return xp.lib.stride_tricks.sliding_window_view(x, window_shape, axis=axis)


# Note [intra-op threads]
#     BLAS runs a matrix product on every core, but NumPy runs element-wise kernels, copies
#     and reductions on one: at 2 threads the memory-bound half of a convolutional step
#     (im2col and col2im copies, pooling, ReLU, batch norm) kept a core idle while PyTorch
#     spreads every kernel over its pool. NumPy releases the GIL inside those loops on large
#     arrays, so a few persistent Python threads can run one kernel on disjoint slices at once.
#     :func:`parallel_for` cuts the work's leading range into a fixed list of contiguous
#     chunks (``CHUNKS_PER_THREAD`` per thread: chunk i is ``[n*i//m, n*(i+1)//m)``); the
#     caller and the workers take chunks from a shared counter until none is left, and the
#     call returns when every chunk is done. Taking chunks dynamically matters here: waking a
#     sleeping worker costs 15-100 us on this kind of virtual machine (an idle vCPU halts), so
#     the caller starts at once and a late worker only takes what is left (measured: a fixed
#     half per thread lost 30% on a 1 MB copy; claimed chunks never lose more than the
#     wake-up). Rules that keep it safe:
#
#     - only above ``PARALLEL_MIN_BYTES`` of memory traffic: small kernels run inline;
#     - the chunks write disjoint memory and never call BLAS (OpenBLAS already uses every
#       core; two concurrent products would fight over its threads);
#     - which thread runs a chunk never changes its result: element-wise work is
#       bit-identical for any thread count; a kernel that reduces across chunks combines the
#       per-chunk results in chunk order, so its result depends on the thread count only;
#     - one parallel region at a time: a nested call, or a call from a second Python thread
#       while the pool is busy, runs inline (never a deadlock); a forked child starts a new
#       pool on first use.
#
#     The default thread count is ``CHAINRULE_NUM_THREADS``, else ``OMP_NUM_THREADS`` /
#     ``OPENBLAS_NUM_THREADS`` (what the BLAS uses), else the CPUs this process may run on.
PARALLEL_MIN_BYTES = 4 << 20
CHUNKS_PER_THREAD = 1


def _default_num_threads() -> int:
    for var in ("CHAINRULE_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(var, "").split(",")[0].strip()
        if value.isdigit() and int(value) >= 1:
            return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class _Job:
    """One :func:`parallel_for` call: its chunks, claimed and completed through counters
    (``next`` on an ``itertools.count`` is atomic under the GIL)."""

    __slots__ = ("bounds", "claim", "completed", "done", "error", "fn", "m")

    def __init__(self, fn: Callable[[int, int], Any], bounds: list[int]) -> None:
        self.fn = fn
        self.bounds = bounds
        self.m = len(bounds) - 1
        self.claim = itertools.count()
        self.completed = itertools.count(1)
        self.done = threading.Lock()
        self.done.acquire()
        self.error: BaseException | None = None

    def work(self) -> None:
        """Run chunks until none is left to claim."""
        b, m = self.bounds, self.m
        while (i := next(self.claim)) < m:
            try:
                self.fn(b[i], b[i + 1])
            except BaseException as e:  # re-raised in the caller
                self.error = self.error or e
            finally:
                if next(self.completed) == m:  # the last chunk of the job
                    self.done.release()


class _Pool:
    num_threads: int = _default_num_threads()
    workers: list[threading.Lock] = []  # one wake-up lock per worker thread
    job: _Job | None = None
    busy = threading.Lock()


def _worker(wake: threading.Lock) -> None:
    while True:
        wake.acquire()  # released by parallel_for (possibly several times: any job left)
        job = _Pool.job
        if job is not None:
            job.work()
        job = None  # do not keep the arrays of a finished job alive


def _after_fork_in_child() -> None:  # the parent's threads do not exist in a forked child
    _Pool.workers = []
    _Pool.job = None
    _Pool.busy = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def set_num_threads(n: int) -> None:
    """Set how many threads chainrule's own element-wise kernels may use (PyTorch's name).

    This is the intra-op pool of Note [intra-op threads] (copies, pooling, activations, batch
    norm on large arrays); the BLAS behind matrix products keeps its own setting
    (``OPENBLAS_NUM_THREADS``, or ``threadpoolctl``). ``1`` runs everything in the caller.

    Args:
        n: a positive int.

    Raises:
        ValueError: ``n`` is not a positive int.

    Example:
        >>> import chainrule as cr
        >>> old = cr.get_num_threads()
        >>> cr.set_num_threads(1)
        >>> cr.get_num_threads()
        1
        >>> cr.set_num_threads(old)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    _Pool.num_threads = n


def get_num_threads() -> int:
    """The number of threads of chainrule's intra-op pool (see :func:`set_num_threads`)."""
    return _Pool.num_threads


def parallel_for(n: int, fn: Callable[[int, int], Any], nbytes: int, like: Any = None) -> None:
    """Run ``fn(start, stop)`` over ``[0, n)`` cut into contiguous chunks, on several threads.

    Note [intra-op threads]: the chunks run on the pool when ``nbytes`` (the memory traffic
    of the whole range) is at least ``PARALLEL_MIN_BYTES``, more than one thread is set and
    ``like`` is not a GPU array; otherwise ``fn(0, n)`` runs in the caller. ``fn`` must
    write disjoint memory per chunk and must not call BLAS. An exception in a chunk is raised
    in the caller once every chunk has finished.

    Example:
        >>> import numpy as np
        >>> from chainrule.backend import parallel_for
        >>> x = np.arange(6.0)
        >>> parallel_for(6, lambda a, b: np.multiply(x[a:b], 2, out=x[a:b]), x.nbytes)
        >>> x
        array([ 0.,  2.,  4.,  6.,  8., 10.])
    """
    k = _Pool.num_threads
    if (
        k <= 1
        or n <= 1
        or nbytes < PARALLEL_MIN_BYTES
        or (cupy is not None and isinstance(like, cupy.ndarray))
        or not _Pool.busy.acquire(blocking=False)  # nested, or another thread's region
    ):
        fn(0, n)
        return
    try:
        m = min(n, k * CHUNKS_PER_THREAD)
        job = _Job(fn, [n * i // m for i in range(m + 1)])
        workers = _Pool.workers
        while len(workers) < k - 1:
            wake = threading.Lock()
            wake.acquire()
            threading.Thread(target=_worker, args=(wake,), name="chainrule-intra-op",
                             daemon=True).start()  # fmt: skip
            workers.append(wake)
        _Pool.job = job
        for wake in workers[: k - 1]:
            try:
                wake.release()
            except RuntimeError:  # already released: that worker has not woken up yet
                pass
        job.work()
        job.done.acquire()  # the chunks other threads claimed
        _Pool.job = None
        if job.error is not None:
            raise job.error
    finally:
        _Pool.busy.release()


# Note [small products on one BLAS thread]
#     A recurrent layer's time loop runs one small matrix product per step (LSTM, batch 64,
#     hidden 128: 64x128 @ 128x512, 4 MFLOP) between a dozen element-wise calls. OpenBLAS
#     splits such a product over its threads. By default its idle workers spin for about 2^28
#     cycles before they sleep, so they are still awake at the next step; but when
#     ``OPENBLAS_THREAD_TIMEOUT`` makes them sleep within ~2^18 cycles (0.1 ms: less than one
#     step's element-wise work), every product pays their wake-up: measured in the loop,
#     130-180 us for a product that takes 74 us with awake workers and 100 us on one thread.
#     In that configuration chainrule runs the loops' products on one thread, setting
#     OpenBLAS's thread count to 1 for the loop and back after it through
#     ``openblas_set_num_threads_local`` (OpenBLAS >= 0.3.27), which returns the previous
#     count. Despite its name the count it sets is process-wide (measured: set in one thread,
#     seen in another), so the large products before and after the loop keep every thread
#     only because the loop restores it; two Python threads running such loops at once can
#     leave each other's products on one thread until they finish (speed only).
#     Measured, fwd+bwd of a 50-step layer (batch 64, hidden 128, 2 threads), with
#     ``OPENBLAS_THREAD_TIMEOUT=4``: LSTM 0.91-0.92, GRU 0.86, RNN 0.56 of the time with both
#     threads; with OpenBLAS's default spin, one thread was 3-7% slower, so there it is not
#     used. With another BLAS, or without the symbol, it does nothing.
_SLEEPY_BLAS_TIMEOUT = 18  # log2 of the spin cycles below which workers sleep between steps


def _openblas_workers_sleep() -> bool:
    """Whether OpenBLAS was told (``OPENBLAS_THREAD_TIMEOUT``, read when it loaded) to put
    its idle workers to sleep within about 2^18 cycles."""
    value = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "").strip()
    return value.isdigit() and 0 < int(value) < _SLEEPY_BLAS_TIMEOUT


def _find_openblas_local_setter() -> Callable[[int], int] | None:
    """OpenBLAS's ``openblas_set_num_threads_local`` in the library NumPy loaded (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split(None, 5)[5].strip() for line in f if "openblas" in line.lower()}
    except (OSError, IndexError):  # pragma: no cover - no procfs
        return None
    for path in sorted(p for p in paths if p.startswith("/")):
        try:
            setter = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        setter.argtypes = (ctypes.c_int,)
        setter.restype = ctypes.c_int
        return setter
    return None


# set only where OpenBLAS's workers sleep between small products (see the Note)
_blas_set_local = _find_openblas_local_setter() if _openblas_workers_sleep() else None


def blas_workers_sleep() -> bool:
    """Whether OpenBLAS's idle workers sleep between products (``OPENBLAS_THREAD_TIMEOUT``
    below 18, and OpenBLAS's thread-count setter found), so that chainrule's own threads get
    the cores right after a product; with OpenBLAS's default the workers spin on them for
    ~0.1 s (Note [small products on one BLAS thread])."""
    return _blas_set_local is not None


class single_thread_blas:  # noqa: N801 - used like a function, as a context manager
    """Within the block, matrix products run on the calling thread only, where OpenBLAS's
    workers sleep between small products (Note [small products on one BLAS thread]); a no-op
    otherwise and for other BLAS libraries."""

    __slots__ = ("old",)

    def __enter__(self) -> None:
        self.old = _blas_set_local(1) if _blas_set_local is not None else None

    def __exit__(self, *exc: object) -> None:
        if self.old is not None and _blas_set_local is not None:
            _blas_set_local(self.old)


# Note [BLAS helper thread]
#     A recurrent layer's time loop keeps one core busy with small products and element-wise
#     calls while the other core idles; the layer's large products (the input projections of
#     all steps before the loop, the weight and input gradients of all steps after it) then
#     run on both cores. :class:`BlasTasks` overlaps the two: the large products are cut by
#     time into tasks that a helper thread runs while the loop goes on (the projections of
#     later steps before the loop reaches them, the gradients of the steps the backward loop
#     has finished), and the caller joins in once its loop is done, running every task not
#     yet started. Both threads call BLAS at once, so tasks are only queued and run inside a
#     :class:`single_thread_blas` block of the caller (OpenBLAS on one thread; two callers of
#     a multi-threaded OpenBLAS fight over its pool, measured 7x slower), and are all joined
#     before the block ends.
#     It is used where Note [small products on one BLAS thread] applies, i.e. where
#     OpenBLAS's idle workers sleep: with its default spin, the workers of the last
#     multi-threaded product keep spinning for ~0.1 s and take the helper's core (measured,
#     LSTM fwd+bwd 1.25x slower than without the helper). Measured with
#     ``OPENBLAS_THREAD_TIMEOUT=4``, LSTM seq 50, batch 64, hidden 128, fwd+bwd at 2 threads:
#     66-67 -> 42 ms (0.62-0.64) against the layer before this Note and the one above. Each
#     task writes its own memory; sums over tasks (the weight gradients) are added in time
#     order, so results do not depend on which thread ran which task.
class _Task:
    __slots__ = ("claimed", "done", "error", "fn")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn: Callable[[], Any] | None = fn
        self.claimed = threading.Lock()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run_if_unclaimed(self) -> None:
        if not self.claimed.acquire(blocking=False):
            return
        fn, self.fn = self.fn, None  # the task's arrays are not kept once it has run
        try:
            if fn is not None:
                fn()
        except BaseException as e:  # re-raised by join
            self.error = e
        finally:
            self.done.set()


class _Helper:
    queue: Any = None  # a queue.SimpleQueue of _Task, served by one daemon thread


def _helper_main(queue: Any) -> None:
    while True:
        queue.get().run_if_unclaimed()


def _reset_helper_after_fork() -> None:
    _Helper.queue = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_helper_after_fork)


class BlasTasks:
    """Large matrix products run by a helper thread while the caller goes on (Note [BLAS
    helper thread]): queue and join them inside a :class:`single_thread_blas` block.
    :meth:`create` returns ``None`` where that cannot help (one thread, OpenBLAS's workers
    spinning, another BLAS, GPU arrays); the caller then computes inline."""

    def __init__(self) -> None:
        self.tasks: list[_Task] = []

    @staticmethod
    def create(like: Any = None) -> BlasTasks | None:
        if _blas_set_local is None or _Pool.num_threads < 2:
            return None
        if cupy is not None and isinstance(like, cupy.ndarray):
            return None
        if _Helper.queue is None:
            import queue

            _Helper.queue = queue.SimpleQueue()
            threading.Thread(target=_helper_main, args=(_Helper.queue,), name="chainrule-blas",
                             daemon=True).start()  # fmt: skip
        return BlasTasks()

    def add(self, fn: Callable[[], Any]) -> int:
        """Queue ``fn`` (no arguments) for the helper thread; returns its index."""
        task = _Task(fn)
        self.tasks.append(task)
        _Helper.queue.put(task)
        return len(self.tasks) - 1

    def join(self, index: int) -> None:
        """Run task ``index`` here if the helper has not started it, else wait for it."""
        task = self.tasks[index]
        task.run_if_unclaimed()
        task.done.wait()
        if task.error is not None:
            raise task.error

    @staticmethod
    def ordered_sum(parts: dict[int, Any]) -> Any:
        """The sum of tasks' partial results, added in the order of their keys (never in the
        order the threads happened to finish); ``None`` when there are none, or they are."""
        keys = sorted(parts)
        if not keys:
            return None
        total = parts[keys[0]]
        if total is not None:
            for key in keys[1:]:
                total = total + parts[key]
        return total

    def join_all(self) -> None:
        """Run every task the helper has not started, in order, then wait for the rest."""
        for task in self.tasks:
            task.run_if_unclaimed()
        for i in range(len(self.tasks)):
            self.join(i)


class kernels_inline:  # noqa: N801 - used like a function, as a context manager
    """Within the block, :func:`parallel_for` runs every kernel in its calling thread (the
    block holds the pool's region lock): for work already split over threads by
    :class:`BlasTasks`, whose tasks must not also wake the pool."""

    def __enter__(self) -> None:
        _Pool.busy.acquire()

    def __exit__(self, *exc: object) -> None:
        _Pool.busy.release()
