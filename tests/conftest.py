"""Shared test configuration: seeding, thread pinning, the hypothesis profile."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

import chainrule as cr  # noqa: E402

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
