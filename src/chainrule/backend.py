"""The array backend: the one module that imports the array library for computation.

Op code asks its inputs which array module they live in (``xp = get_array_module(x)``,
as Chainer does) and never imports NumPy itself, so CuPy can be dropped in without
touching an op. The few helpers whose NumPy and CuPy forms differ live here.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any

import numpy

try:  # guarded GPU import: chainrule never requires CuPy
    import cupy  # type: ignore[import-not-found]
    import cupyx  # type: ignore[import-not-found]
except Exception:  # pragma: no cover - CuPy absent on CPU machines
    cupy = None
    cupyx = None

__all__ = [
    "Array",
    "as_strided",
    "cupy_available",
    "errstate",
    "get_array_module",
    "numpy",
    "scatter_add",
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


def errstate(**kwargs: str) -> Any:
    """NumPy's floating-point error context; ops use it where PyTorch returns inf or NaN
    silently (``log(0)``, ``x / 0``) so that no warning is raised for a legitimate result."""
    return numpy.errstate(**kwargs)


def sliding_window_view(x: Any, window_shape: tuple[int, ...], axis: tuple[int, ...]) -> Any:
    """A read-only view of all windows of ``x`` along ``axis`` (no copy)."""
    xp = get_array_module(x)
    return xp.lib.stride_tricks.sliding_window_view(x, window_shape, axis=axis)
