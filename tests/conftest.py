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
