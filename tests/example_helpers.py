"""Shared helpers for the tests that exercise the scripts in ``examples/``.

The scripts are loaded as modules (their ``main(argv)`` returns the figures the tests check)
rather than run as subprocesses, so a failure shows the script's own traceback.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import chainrule as cr

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load_example(name: str) -> ModuleType:
    """``examples/<name>.py`` imported as the module ``_example_<name>`` (not run)."""
    spec = importlib.util.spec_from_file_location(f"_example_{name}", EXAMPLES / f"{name}.py")
    if spec is None or spec.loader is None:  # pragma: no cover - a missing file fails below
        raise FileNotFoundError(EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    return module


def is_png(path: Path) -> bool:
    """``path`` is a file that starts with the PNG signature."""
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


def one_blas_thread() -> Any:
    """A context with one BLAS thread: the thresholds of the example tests were measured so
    (pytest-xdist workers run with one already; a single-process run would use two)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a test dependency
        return contextlib.nullcontext()
    return threadpool_limits(1)


def fashion_mnist_or_skip() -> tuple:
    """``chainrule.data.fashion_mnist()``, or a visible skip when the files are absent."""
    try:
        return cr.data.fashion_mnist()
    except FileNotFoundError as e:
        pytest.skip(f"Fashion-MNIST files not available ({e}); run `make data`")
