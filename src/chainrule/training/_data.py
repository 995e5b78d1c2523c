"""Data for ``fit``/``evaluate``/``predict``: nested inputs, batching streams, conversion.

Inputs are a NumPy array or tensor, a list/tuple of them (several model inputs or outputs),
or a dict of them; every leaf shares the first (sample) dimension. Two streams hand out
batches and can save and restore their exact position:

- :class:`ArrayStream`: in-memory arrays, shuffled by a seeded generator each pass, batches
  cut by one fancy index per array (no per-sample Python loop);
- :class:`LoaderStream`: a :class:`chainrule.data.DataLoader` (its own ``state_dict``).

An epoch is one pass over the data, or ``steps_per_epoch`` batches of a stream that then
continues across epochs (Keras's behaviour), starting a new pass when one is exhausted.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.random import Generator
from chainrule.tensor import Tensor

__all__ = ["ArrayStream", "LoaderStream", "is_loader", "leaves", "map_struct"]


# ---- nested structures ----
def map_struct(fn: Callable[[Any], Any], s: Any) -> Any:
    if isinstance(s, dict):
        return {k: map_struct(fn, v) for k, v in s.items()}
    if isinstance(s, (list, tuple)):
        return type(s)(map_struct(fn, v) for v in s)
    return fn(s)


def leaves(s: Any) -> list[Any]:
    if isinstance(s, dict):
        return [x for v in s.values() for x in leaves(v)]
    if isinstance(s, (list, tuple)):
        return [x for v in s for x in leaves(v)]
    return [s]


def is_loader(x: Any) -> bool:
    """A DataLoader-like object: iterable, sized, not an array, tensor or container."""
    if isinstance(x, (np.ndarray, Tensor, list, tuple, dict, str, bytes)) or x is None:
        return False
    return hasattr(x, "__iter__") and hasattr(x, "__len__")


def is_dataset(x: Any) -> bool:
    if isinstance(x, (np.ndarray, Tensor, list, tuple, dict, str, bytes)) or x is None:
        return False
    return hasattr(x, "__getitem__") and hasattr(x, "__len__") and not hasattr(x, "__iter__")


def as_arrays(s: Any, what: str) -> Any:
    """Every leaf as a NumPy array (tensors by their data, no copy)."""

    def conv(a: Any) -> np.ndarray:
        if isinstance(a, Tensor):
            return np.asarray(a.data)
        if type(a).__module__.startswith("torch"):
            return a.detach().cpu().numpy()
        arr = np.asarray(a)
        if arr.dtype == object:
            raise TypeError(f"{what}: expected numeric arrays, got an object array")
        return arr

    if (
        isinstance(s, (list, tuple))
        and s
        and all(isinstance(v, (int, float, np.number)) for v in s)
    ):
        return conv(s)  # a plain list of numbers is one array, not several inputs
    return map_struct(conv, s)


def num_samples(x: Any, y: Any, fn: str) -> int:
    """The common first dimension of every leaf; a clear error naming the lengths (A6)."""
    lengths: list[tuple[str, int]] = []
    for name, s in (("x", x), ("y", y)):
        if s is None:
            continue
        for i, a in enumerate(leaves(s)):
            if a.ndim == 0:
                raise ValueError(f"{fn}: {name} holds a 0-d array; expected one row per sample")
            lengths.append((name if len(leaves(s)) == 1 else f"{name}[{i}]", a.shape[0]))
    if not lengths:
        raise ValueError(f"{fn}: no data given")
    if len({n for _, n in lengths}) != 1:
        desc = ", ".join(f"{k} has {n}" for k, n in lengths)
        raise ValueError(f"{fn}: x and y must have the same number of samples; got {desc}")
    n = lengths[0][1]
    if n == 0:
        raise ValueError(f"{fn}: the data is empty (0 samples)")
    return n


def check_finite(x: Any, fn: str) -> None:
    """Reject NaN/inf in floating inputs up front, naming the first bad sample (A11)."""
    for i, a in enumerate(leaves(x)):
        if a.dtype.kind not in "fc":
            continue
        bad = ~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
        if bad.any():
            j = int(np.argmax(bad))
            which = "x" if len(leaves(x)) == 1 else f"x[{i}]"
            raise ValueError(
                f"{fn}: {which} contains non-finite values (NaN or inf) at sample index {j} "
                f"({int(bad.sum())} bad samples); clean or impute the data before training"
            )


def take(s: Any, index: slice | np.ndarray) -> Any:
    if isinstance(index, slice):
        return map_struct(lambda a: a[index], s)
    return map_struct(lambda a: np.take(a, index, axis=0), s)


def split_tail(s: Any, at: int) -> tuple[Any, Any]:
    """Keras's ``validation_split``: the last samples, taken before any shuffling."""
    return map_struct(lambda a: a[:at], s), map_struct(lambda a: a[at:], s)


def fingerprint(s: Any) -> Any:
    """Shapes, dtypes and a BLAKE2 digest of the bytes, to refuse resuming on other data."""

    def fp(a: Any) -> Any:
        a = np.ascontiguousarray(a)
        h = hashlib.blake2b(a.view(np.uint8).reshape(-1), digest_size=16).hexdigest()
        return [list(a.shape), str(a.dtype), h]

    return map_struct(fp, s)


# ---- streams ----
class ArrayStream:
    """Batches of in-memory arrays; position and permutation can be saved and restored."""

    def __init__(
        self,
        x: Any,
        y: Any,
        batch_size: int,
        shuffle: bool,
        generator: Generator | None,
        steps_per_epoch: int | None = None,
    ) -> None:
        self.x, self.y = x, y
        self.n = num_samples(x, y, "fit")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.fixed_steps = steps_per_epoch
        self.steps = steps_per_epoch or math.ceil(self.n / batch_size)
        self.perm: np.ndarray | None = None
        self.pos = self.n  # exhausted: the first batch starts a pass
        self.passes = 0

    def start_epoch(self) -> None:
        """Nothing to do: a pass starts lazily when the previous one is exhausted."""

    def next(self) -> tuple[Any, Any]:
        if self.pos >= self.n:
            gen = self.generator if self.shuffle else None  # shuffle implies a generator
            self.perm = gen.permutation(self.n) if gen is not None else None
            self.pos = 0
            self.passes += 1
        lo, hi = self.pos, min(self.pos + self.batch_size, self.n)
        self.pos = hi
        index = slice(lo, hi) if self.perm is None else self.perm[lo:hi]
        return take(self.x, index), (None if self.y is None else take(self.y, index))

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": "arrays",
            "perm": None if self.perm is None else self.perm.copy(),
            "pos": self.pos,
            "passes": self.passes,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != "arrays":
            raise ValueError(
                f"fit: the backup's data position is for {state.get('kind')!r} "
                "input, this run feeds arrays"
            )
        perm = state["perm"]
        if perm is not None:
            perm = np.asarray(perm, dtype=np.int64)
            if perm.shape != (self.n,):
                raise ValueError(
                    f"fit: the backup's permutation covers {perm.shape[0]} samples, "
                    f"this run has {self.n}"
                )
        self.perm, self.pos, self.passes = perm, int(state["pos"]), int(state["passes"])


class LoaderStream:
    """Batches from a DataLoader; its ``state_dict`` holds the position."""

    def __init__(self, loader: Any, steps_per_epoch: int | None = None) -> None:
        self.loader = loader
        self.fixed_steps = steps_per_epoch
        try:
            n = len(loader)
        except TypeError:
            n = 0
        self.steps = steps_per_epoch or n
        if not self.steps:
            raise ValueError(
                "fit: the DataLoader yields no batches (len 0); pass "
                "steps_per_epoch= or a non-empty loader"
            )
        self.it: Any = None

    def start_epoch(self) -> None:
        if self.fixed_steps is None:
            self.it = None

    def next(self) -> tuple[Any, Any]:
        if self.it is None:
            self.it = iter(self.loader)
        try:
            batch = next(self.it)
        except StopIteration:
            if self.fixed_steps is None:
                raise
            self.it = iter(self.loader)
            batch = next(self.it)
        return split_batch(batch)

    def state_dict(self) -> dict[str, Any]:
        sd = getattr(self.loader, "state_dict", None)
        if not callable(sd):
            raise TypeError(
                f"BackupAndRestore: the data loader ({type(self.loader).__name__}) has no "
                "state_dict(); exact resume needs chainrule.data.DataLoader or a loader with "
                "state_dict()/load_state_dict()"
            )
        return {"kind": "loader", "loader": sd()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != "loader":
            raise ValueError(
                f"fit: the backup's data position is for {state.get('kind')!r} "
                "input, this run feeds a DataLoader"
            )
        self.loader.load_state_dict(state["loader"])
        self.it = None


def split_batch(batch: Any) -> tuple[Any, Any]:
    """A loader batch ``(x, y)`` / ``[x, y]`` / ``{"x":..., "y":...}`` / ``x`` -> ``(x, y)``."""
    if isinstance(batch, (tuple, list)):
        if len(batch) == 2:
            return batch[0], batch[1]
        if len(batch) == 1:
            return batch[0], None
        raise ValueError(
            f"fit: a batch from the loader has {len(batch)} fields; expected (inputs, targets)"
        )
    if isinstance(batch, dict) and "x" in batch:
        return batch["x"], batch.get("y")
    return batch, None
