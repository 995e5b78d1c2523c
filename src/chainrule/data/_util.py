"""Small helpers shared by the data pipeline: generators, array conversion, state checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.random import Generator, default_generator

__all__ = ["as_generator", "derive_generator", "to_array"]

_SEED_BOUND = 2**63 - 1


def derive_generator() -> Generator:
    """A new generator seeded by one draw from chainrule's default generator.

    So ``chainrule.manual_seed(n)`` fixes every loader and transform built afterwards, while
    NumPy's global RNG is never touched (RELIABILITY E5).
    """
    return Generator(int(default_generator.integers(0, _SEED_BOUND)))


def as_generator(generator: Any, owner: str) -> Generator:
    """``None`` -> :func:`derive_generator`; an int -> ``Generator(seed)``; a Generator as is."""
    if generator is None:
        return derive_generator()
    if isinstance(generator, Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        if generator < 0:
            raise ValueError(f"{owner}: a seed must be non-negative, got {generator}")
        return Generator(int(generator))
    raise TypeError(
        f"{owner}: generator must be a chainrule.Generator, an int seed or None, got "
        f"{type(generator).__name__}"
    )


def to_array(x: Any) -> np.ndarray:
    """A NumPy array from an array, a chainrule tensor or array-like data (no copy if possible)."""
    from chainrule.backend import to_numpy
    from chainrule.tensor import Tensor

    if isinstance(x, Tensor):
        return to_numpy(x.data)
    if isinstance(x, np.ndarray):
        return x
    return np.asarray(x)


def check_int(value: Any, name: str, owner: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return int(value)
