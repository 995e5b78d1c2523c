"""Shared test configuration: seeding, thread pinning, the hypothesis profile."""

from __future__ import annotations

import os

# Under pytest-xdist (make test runs 2 workers on 2 cores) each worker gets one BLAS thread:
# two workers with two spinning OpenBLAS threads each on two cores slow small matrix
# products down by an order of magnitude (measured: the modular-blocks example test took 45 s
# instead of 1.5 s). The worker value is forced, not a default: the xdist controller imports
# this file first and its workers inherit its environment (and `make test` exports
# OMP_NUM_THREADS=2), so a setdefault here would keep 2. CHAINRULE_TEST_THREADS overrides it.
# A single-process run keeps the caller's setting, else two threads.
_BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in _BLAS_VARS:
        os.environ[_var] = os.environ.get("CHAINRULE_TEST_THREADS", "1")
else:
    for _var in _BLAS_VARS:
        os.environ.setdefault(_var, "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

import chainrule as cr  # noqa: E402

try:  # numpy may have been imported (by a plugin) before the variables above were set
    from threadpoolctl import threadpool_limits

    threadpool_limits(int(os.environ["OPENBLAS_NUM_THREADS"]))
except ImportError:  # pragma: no cover - threadpoolctl is a test dependency
    pass

settings.register_profile("chainrule", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("chainrule")


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every test starts from the same chainrule seed (NumPy's global RNG is never used)."""
    cr.manual_seed(0)
    cr.set_default_dtype("float32")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def blas_tasks(monkeypatch):
    """Turn on Note [BLAS helper thread] for every size: the BLAS thread-count setter as
    where OpenBLAS's workers sleep, two intra-op threads, no minimum work for the recurrent
    layers' and the convolutions' tasks. Yields the list of ``BlasTasks.create`` results
    (True where a helper was used) so tests can check the path they meant was taken."""
    from chainrule import backend
    from chainrule.ops import _rnn_kernels, conv

    setter = backend._find_openblas_local_setter()
    if setter is None:  # only NumPy builds without openblas_set_num_threads_local lack it
        assert np.__config__.CONFIG["Build Dependencies"]["blas"]["name"] != "scipy-openblas"
        pytest.skip("this NumPy's BLAS has no openblas_set_num_threads_local")
    monkeypatch.setattr(backend, "_blas_set_local", setter)
    monkeypatch.setattr(_rnn_kernels, "_OVERLAP_MIN_FLOP", 0)
    monkeypatch.setattr(conv, "_TASKS_MIN_FLOP", 0)
    used: list[bool] = []
    create = backend.BlasTasks.create

    def spy(like=None):
        tasks = create(like)
        used.append(tasks is not None)
        return tasks

    monkeypatch.setattr(backend.BlasTasks, "create", staticmethod(spy))
    threads = cr.get_num_threads()
    cr.set_num_threads(2)
    yield used
    cr.set_num_threads(threads)
