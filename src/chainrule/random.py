"""Seeded randomness: one default generator, explicit generators, JSON-safe states.

Every random draw in chainrule (weight initialisation, dropout, shuffling, augmentation)
goes through a :class:`Generator`, by default :data:`default_generator`, so
``chainrule.manual_seed(n)`` makes a run reproducible and NumPy's global RNG is never used.
States are plain dicts of ints and strings, so a checkpoint stores them as JSON (no pickle).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "Generator",
    "default_generator",
    "get_rng_state",
    "manual_seed",
    "seed",
    "set_rng_state",
]


class Generator:
    """A seedable random generator (PCG64), the analogue of ``torch.Generator``.

    Args:
        seed: initial seed; ``None`` seeds from the operating system.

    Example:
        >>> g = Generator(0)
        >>> g.normal((2,)).shape
        (2,)
    """

    __slots__ = ("_seed", "rng")

    def __init__(self, seed: int | None = None) -> None:
        self._seed = seed
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def manual_seed(self, seed: int) -> Generator:
        """Reseed in place; returns ``self`` (as torch does)."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
        if seed < 0:
            raise ValueError(f"manual_seed expects a non-negative seed, got {seed}")
        self._seed = int(seed)
        self.rng = np.random.Generator(np.random.PCG64(int(seed)))
        return self

    def initial_seed(self) -> int | None:
        return self._seed

    def get_state(self) -> dict[str, Any]:
        """The full state as a JSON-serialisable dict."""
        return _jsonable(self.rng.bit_generator.state)

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state`."""
        if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
            got = state.get("bit_generator") if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"Generator.set_state: expected a PCG64 state dict from Generator.get_state(), "
                f"got {got!r}"
            )
        self.rng.bit_generator.state = state

    # ---- draws (float64 from NumPy; callers cast) ----
    def uniform(self, shape: tuple[int, ...], low: float = 0.0, high: float = 1.0) -> np.ndarray:
        return self.rng.uniform(low, high, size=shape)

    def normal(self, shape: tuple[int, ...], mean: float = 0.0, std: float = 1.0) -> np.ndarray:
        return self.rng.normal(mean, std, size=shape)

    def random(self, shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
        return self.rng.random(size=shape, dtype=dtype)

    def permutation(self, n: int | np.ndarray) -> np.ndarray:
        """A shuffled ``arange(n)``, or a shuffled copy of the array ``n`` (NumPy's rule)."""
        return self.rng.permutation(n)

    def integers(self, low: int, high: int, shape: Any = None) -> Any:
        return self.rng.integers(low, high, size=shape)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


default_generator = Generator(None)


def manual_seed(seed: int) -> Generator:
    """Seed chainrule's default generator (``torch.manual_seed``): initialisation, shuffling,
    dropout and augmentation draw from it unless given a generator of their own.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(42)
        >>> a = cr.randn(3)
        >>> _ = cr.manual_seed(42)
        >>> bool((cr.randn(3).numpy() == a.numpy()).all())
        True
    """
    return default_generator.manual_seed(seed)


seed = manual_seed


def get_rng_state() -> dict[str, Any]:
    """The default generator's state (JSON-serialisable)."""
    return default_generator.get_state()


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the default generator's state."""
    default_generator.set_state(state)
