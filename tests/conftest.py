"""Shared test configuration: seeding, thread pinning, the hypothesis profile."""

from __future__ import annotations

import os

# Under pytest-xdist (make test runs 2 workers on 2 cores) each worker gets one BLAS thread:
# two workers with two spinning OpenBLAS threads each on two cores slow small matrix
# products down by an order of magnitude. A single-process run keeps two threads.
_THREADS = "1" if os.environ.get("PYTEST_XDIST_WORKER") else "2"
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _THREADS)

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
