"""Datasets: ``Dataset`` (the protocol), ``TensorDataset`` (arrays in memory), ``Subset``.

A dataset is anything with ``__len__`` and ``__getitem__(i)`` (PyTorch's map-style protocol).
Datasets held as arrays also offer ``get_batch(index)``, where ``index`` is a slice or an
int64 index array: one slice or fancy-index per array instead of a Python loop over
samples. :class:`~chainrule.data.DataLoader` uses it when present (its fast path).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.data._util import to_array

__all__ = ["Dataset", "Subset", "TensorDataset"]

BatchIndex = slice | np.ndarray


class Dataset:
    """Base class of map-style datasets: override ``__getitem__`` and ``__len__``.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return float(i), float(i * i)
        >>> Squares()[3]
        (3.0, 9.0)
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


def _state_of(fn: Any) -> Any:
    sd = getattr(fn, "state_dict", None)
    return sd() if callable(sd) else None


def _load_state_into(fn: Any, state: Any, what: str) -> None:
    if state is None:
        return
    loader = getattr(fn, "load_state_dict", None)
    if not callable(loader):
        raise ValueError(
            f"{what}: the saved state has transform state, but this transform has none"
        )
    loader(state)


class TensorDataset(Dataset):
    """Samples are rows of in-memory arrays: item ``i`` is ``(a[i] for a in arrays)``.

    Args:
        *arrays: NumPy arrays or chainrule tensors with the same first dimension (for
            example images ``N x C x H x W`` and labels ``N``). Tensors are stored as their
            arrays; nothing is copied.
        transform: optional batch transform (a callable on the stacked first array, e.g.
            :class:`~chainrule.data.transforms.Normalize`) applied when items are read.
        target_transform: the same for the second array.

    Raises:
        ValueError: no arrays, a 0-d array, or first dimensions that differ (all listed).

    Example:
        >>> import numpy as np
        >>> ds = TensorDataset(np.zeros((5, 3), np.float32), np.arange(5))
        >>> len(ds), ds[2][1]
        (5, np.int64(2))
        >>> [a.shape for a in ds.get_batch(np.array([4, 0]))]
        [(2, 3), (2,)]
    """

    def __init__(
        self,
        *arrays: Any,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        target_transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array, got none")
        arrs = tuple(to_array(a) for a in arrays)
        for i, a in enumerate(arrs):
            if a.ndim == 0:
                raise ValueError(
                    f"TensorDataset: array {i} is 0-dimensional; expected arrays whose first "
                    f"dimension indexes samples"
                )
        lengths = [len(a) for a in arrs]
        if len(set(lengths)) != 1:
            raise ValueError(
                f"TensorDataset: all arrays must have the same first dimension (number of "
                f"samples), got lengths {lengths}"
            )
        self.arrays: tuple[np.ndarray, ...] = arrs
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self.arrays[0])

    def _apply(self, batch: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        if self.transform is not None:
            batch[0] = self.transform(batch[0])
        if self.target_transform is not None and len(batch) > 1:
            batch[1] = self.target_transform(batch[1])
        return tuple(batch)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"TensorDataset: index must be an int, got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"TensorDataset: index {index} is out of range for {n} samples")
        if self.transform is None and self.target_transform is None:
            return tuple(a[index] for a in self.arrays)
        i = int(index) % n
        items = self._apply([a[i : i + 1] for a in self.arrays])
        return tuple(a[0] for a in items)

    def get_batch(self, index: BatchIndex) -> tuple[np.ndarray, ...]:
        """Rows ``index`` (a slice or an int64 index array) of every array, transformed.

        One slice (copied, so batches never alias the dataset) or one ``np.take`` per array.
        """
        if isinstance(index, slice):
            batch = [a[index].copy() for a in self.arrays]
        else:
            batch = [np.take(a, index, axis=0) for a in self.arrays]
        return self._apply(batch)

    def state_dict(self) -> dict[str, Any]:
        """The random state of the transforms (for exact resume)."""
        return {
            "transform": _state_of(self.transform),
            "target_transform": _state_of(self.target_transform),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _load_state_into(self.transform, state.get("transform"), "TensorDataset")
        _load_state_into(self.target_transform, state.get("target_transform"), "TensorDataset")


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (what :func:`random_split` returns).

    Keeps the fast batch path when ``dataset`` has one.

    Example:
        >>> import numpy as np
        >>> s = Subset(TensorDataset(np.arange(10)), [7, 3])
        >>> len(s), s[0][0]
        (2, np.int64(7))
    """

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray) -> None:
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise TypeError(f"Subset: indices must be a 1-D sequence of ints, got {idx.dtype}")
        idx = idx.astype(np.int64, copy=False)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(
                f"Subset: indices must lie in [{-n}, {n - 1}] for a dataset of {n} samples, "
                f"got values from {idx.min()} to {idx.max()}"
            )
        self.dataset = dataset
        self.indices = np.where(idx < 0, idx + n, idx)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __getattr__(self, name: str) -> Any:
        if name == "get_batch" and hasattr(self.__dict__.get("dataset"), "get_batch"):
            return self._get_batch
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _get_batch(self, index: BatchIndex) -> Any:
        return self.dataset.get_batch(self.indices[index])

    def state_dict(self) -> Any:
        return _state_of(self.dataset)

    def load_state_dict(self, state: Any) -> None:
        _load_state_into(self.dataset, state, "Subset")
