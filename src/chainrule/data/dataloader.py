"""``DataLoader``: mini-batches of tensors, seeded shuffling and exact mid-epoch resume.

Mini-batch gradient descent (notes 002) updates on ``x(i:i+n), y(i:i+n)``: each epoch the
loader draws a permutation of ``0..N-1`` from its own seeded generator (when shuffling) and
cuts it into batches of ``batch_size`` indices.

Fast path: when the dataset has ``get_batch`` (a :class:`TensorDataset`, or a ``Subset`` of
one) a batch is one slice or one ``np.take`` per array; otherwise items are read one by one
and collated with :func:`default_collate`.

Exact resume: :meth:`DataLoader.state_dict` captures the epoch counter, the position within
the current epoch, the current permutation (an int64 array), the generator state and the
transforms' random states. A loader given that state with :meth:`DataLoader.load_state_dict`
first yields exactly the remaining batches of the interrupted epoch and then the same later
epochs as an uninterrupted loader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from chainrule.data._util import as_generator, check_int, to_array
from chainrule.random import Generator

__all__ = ["DataLoader", "default_collate"]

STATE_VERSION = 1


def _stack(values: list[Any]) -> np.ndarray:
    from chainrule.tensor import Tensor

    first = values[0]
    if isinstance(first, (np.ndarray, Tensor)):
        return np.stack([to_array(v) for v in values])
    if isinstance(first, np.generic):
        return np.asarray(values)
    if isinstance(first, bool):
        return np.asarray(values, dtype=np.bool_)
    if isinstance(first, int):
        return np.asarray(values, dtype=np.int64)
    if isinstance(first, float):
        from chainrule.dtypes import get_default_dtype

        return np.asarray(values, dtype=get_default_dtype())
    raise TypeError(
        f"default_collate: cannot batch items of type {type(first).__name__}; expected "
        f"arrays, tensors, numbers, or tuples/lists/dicts of them (pass collate_fn= for others)"
    )


def default_collate(items: list[Any]) -> Any:
    """Stack a list of samples into a batch of NumPy arrays, mirroring the sample structure.

    Arrays and tensors are stacked along a new first axis; Python ints give int64, floats
    the default float dtype (float32), bools bool; tuples, lists and dicts are collated field
    by field (a tuple of samples gives a tuple of batches).

    Example:
        >>> default_collate([(np.zeros(2), 1), (np.ones(2), 0)])
        (array([[0., 0.],
               [1., 1.]]), array([1, 0]))
    """
    first = items[0]
    if isinstance(first, tuple):
        if any(len(it) != len(first) for it in items):
            sizes = sorted({len(it) for it in items})
            raise ValueError(
                f"default_collate: every sample must have the same number of fields, got "
                f"samples with {sizes} fields; check the dataset's __getitem__"
            )
        return tuple(default_collate([it[k] for it in items]) for k in range(len(first)))
    if isinstance(first, list):
        return [default_collate([it[k] for it in items]) for k in range(len(first))]
    if isinstance(first, Mapping):
        return {k: default_collate([it[k] for it in items]) for k in first}
    return _stack(items)


def _to_tensors(batch: Any) -> Any:
    from chainrule.tensor import Tensor

    if isinstance(batch, np.ndarray):
        return Tensor(batch)
    if isinstance(batch, tuple):
        return tuple(_to_tensors(b) for b in batch)
    if isinstance(batch, list):
        return [_to_tensors(b) for b in batch]
    if isinstance(batch, dict):
        return {k: _to_tensors(v) for k, v in batch.items()}
    return batch


def _state(fn: Any) -> Any:
    sd = getattr(fn, "state_dict", None)
    return sd() if callable(sd) else None


class DataLoader:
    """Iterate over a dataset in mini-batches of chainrule tensors.

    Args:
        dataset: a map-style dataset (``__len__`` and ``__getitem__``), e.g. a
            :class:`~chainrule.data.TensorDataset`.
        batch_size: samples per batch (>= 1). The last batch may be smaller.
        shuffle: draw a new permutation every epoch.
        drop_last: drop the last, incomplete batch.
        collate_fn: turns a list of samples into a batch (default :func:`default_collate`,
            whose arrays are converted to tensors). With a custom ``collate_fn`` batches are
            returned as it builds them and the per-item path is used.
        generator: the shuffling generator: a :class:`chainrule.Generator`, an int seed, or
            ``None`` for one seeded from chainrule's default generator at construction
            (``chainrule.manual_seed`` fixes it; NumPy's global RNG is never used).
        transform: a batch transform applied to the first field of each batch (the inputs),
            e.g. ``Compose([RandomCrop(28, padding=2), Normalize(0.5, 0.5)])``.
        target_transform: a batch transform for the second field (the targets).

    Yields:
        A tuple of tensors per batch for a ``TensorDataset`` (``(x, y)``), and in general
        the collated structure of the samples with arrays turned into tensors.

    Raises:
        ValueError: ``batch_size < 1``, an empty dataset, or ``drop_last=True`` with
            ``batch_size`` larger than the dataset (it would yield no batch at all).
        TypeError: arguments of the wrong type.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> ds = cr.data.TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
        >>> loader = cr.data.DataLoader(ds, batch_size=4, shuffle=True, generator=0)
        >>> len(loader), [tuple(x.shape) for x, y in loader]
        (3, [(4,), (4,), (2,)])
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        generator: Generator | int | None = None,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        target_transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader: dataset must have __len__ and __getitem__ (a map-style dataset "
                f"such as TensorDataset), got {type(dataset).__name__}"
            )
        self.batch_size = check_int(batch_size, "batch_size", "DataLoader", 1)
        n = len(dataset)
        if n == 0:
            raise ValueError(
                "DataLoader: the dataset is empty (0 samples); an epoch would run 0 steps"
            )
        if drop_last and self.batch_size > n:
            raise ValueError(
                f"DataLoader: drop_last=True with batch_size={self.batch_size} larger than the "
                f"dataset ({n} samples) would yield no batches; lower batch_size or set "
                f"drop_last=False"
            )
        for name, fn in (
            ("collate_fn", collate_fn),
            ("transform", transform),
            ("target_transform", target_transform),
        ):
            if fn is not None and not callable(fn):
                raise TypeError(f"DataLoader: {name} must be callable, got {type(fn).__name__}")
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.transform = transform
        self.target_transform = target_transform
        self.generator: Generator | None = (
            as_generator(generator, "DataLoader") if shuffle or generator is not None else None
        )
        self._n = n
        self._fast = collate_fn is None and hasattr(dataset, "get_batch")
        self._epoch = 0  # epochs fully handed out
        self._in_epoch = False
        self._pos = 0  # batches handed out in the current epoch
        self._perm: np.ndarray | None = None
        self._resume = False

    # ---- sizes ----
    def __len__(self) -> int:
        """Batches per epoch."""
        if self.drop_last:
            return self._n // self.batch_size
        return -(-self._n // self.batch_size)

    @property
    def epoch(self) -> int:
        """Number of epochs completely handed out so far."""
        return self._epoch

    @property
    def position(self) -> int:
        """Batches handed out in the current (unfinished) epoch."""
        return self._pos if self._in_epoch else 0

    # ---- iteration ----
    def __iter__(self) -> Iterator[Any]:
        if len(self.dataset) != self._n:
            raise RuntimeError(
                f"DataLoader: the dataset changed size from {self._n} to {len(self.dataset)} "
                f"samples after the loader was built; build a new DataLoader"
            )
        if self._resume:
            self._resume = False
        else:
            gen = self.generator if self.shuffle else None  # shuffle implies a generator
            self._perm = gen.permutation(self._n) if gen is not None else None
            self._pos = 0
            self._in_epoch = True
        return self._batches(self._perm, self._pos)

    def _batches(self, perm: np.ndarray | None, start: int) -> Iterator[Any]:
        nb, b, n = len(self), self.batch_size, self._n
        for i in range(start, nb):
            lo, hi = i * b, min((i + 1) * b, n)
            index: slice | np.ndarray = slice(lo, hi) if perm is None else perm[lo:hi]
            batch = self._fetch(index)
            if i + 1 == nb:  # the epoch is complete once its last batch is handed out
                self._epoch += 1
                self._in_epoch = False
                self._pos = 0
                self._perm = None
            else:
                self._pos = i + 1
            yield batch

    def _fetch(self, index: slice | np.ndarray) -> Any:
        if self._fast:
            batch: Any = self.dataset.get_batch(index)
        else:
            ids = range(index.start, index.stop) if isinstance(index, slice) else index.tolist()
            items = [self.dataset[i] for i in ids]
            if self.collate_fn is not None:
                return self._transform(self.collate_fn(items))
            batch = default_collate(items)
        return _to_tensors(self._transform(batch))

    def _transform(self, batch: Any) -> Any:
        if self.transform is None and self.target_transform is None:
            return batch
        if isinstance(batch, (tuple, list)):
            out = list(batch)
            if self.transform is not None:
                out[0] = self.transform(out[0])
            if self.target_transform is not None and len(out) > 1:
                out[1] = self.target_transform(out[1])
            return tuple(out) if isinstance(batch, tuple) else out
        return self.transform(batch) if self.transform is not None else batch

    # ---- exact resume ----
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this loader is.

        Returns a dict of ints, bools, strings, ``None``, nested generator-state dicts (with
        big ints) and ``permutation``: the current epoch's order as an int64 array (``None``
        between epochs or without shuffling). :func:`chainrule.io.save` stores it as is
        (the array in the tensor table); for plain JSON, convert it with ``.tolist()``.
        """
        return {
            "version": STATE_VERSION,
            "num_samples": self._n,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
            "epoch": self._epoch,
            "in_epoch": self._in_epoch,
            "position": self._pos if self._in_epoch else 0,
            "permutation": None if self._perm is None else self._perm.astype(np.int64),
            "generator": None if self.generator is None else self.generator.get_state(),
            "transform": _state(self.transform),
            "target_transform": _state(self.target_transform),
            "dataset": _state(self.dataset),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`; the next ``iter()`` continues the interrupted epoch.

        Raises:
            ValueError: the state is malformed or was saved by a loader with a different
                dataset size, batch size, shuffle or drop_last (every difference listed).
        """
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            raise ValueError(
                f"DataLoader.load_state_dict: expected a state from DataLoader.state_dict() "
                f"(version {STATE_VERSION}), got {type(state).__name__}"
            )
        mine = {
            "num_samples": self._n,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
        }
        diffs = [
            f"{k}: saved {state.get(k)!r}, now {v!r}" for k, v in mine.items() if state.get(k) != v
        ]
        if diffs:
            raise ValueError(
                "DataLoader.load_state_dict: the state was saved by a differently configured "
                "loader (" + "; ".join(diffs) + "); exact resume needs the same data and settings"
            )
        in_epoch = bool(state.get("in_epoch"))
        pos = state.get("position", 0)
        epoch = state.get("epoch", 0)
        check_int(epoch, "epoch", "DataLoader.load_state_dict", 0)
        check_int(pos, "position", "DataLoader.load_state_dict", 0)
        if pos > len(self) or (in_epoch and pos == len(self)):
            raise ValueError(
                f"DataLoader.load_state_dict: position {pos} is outside the epoch's "
                f"{len(self)} batches"
            )
        perm = state.get("permutation")
        if perm is not None:
            perm = np.asarray(perm)
            if perm.shape != (self._n,) or perm.dtype.kind not in "iu":
                raise ValueError(
                    f"DataLoader.load_state_dict: permutation must be {self._n} ints, got "
                    f"shape {perm.shape} of {perm.dtype}"
                )
            perm = perm.astype(np.int64)
            ok = perm.min() >= 0 and perm.max() < self._n
            if not ok or not np.all(np.bincount(perm, minlength=self._n) == 1):
                raise ValueError(
                    "DataLoader.load_state_dict: permutation is not a permutation of "
                    f"0..{self._n - 1}"
                )
        if in_epoch and self.shuffle and perm is None:
            raise ValueError(
                "DataLoader.load_state_dict: a shuffled loader saved mid-epoch must carry "
                "its permutation"
            )
        gen_state = state.get("generator")
        if gen_state is not None:
            if self.generator is None:
                self.generator = Generator(0)
            self.generator.set_state(dict(gen_state))
        for name, fn in (
            ("transform", self.transform),
            ("target_transform", self.target_transform),
        ):
            sub = state.get(name)
            if sub is not None:
                if not callable(getattr(fn, "load_state_dict", None)):
                    raise ValueError(
                        f"DataLoader.load_state_dict: the state has {name} state but this "
                        f"loader's {name} has none"
                    )
                fn.load_state_dict(sub)  # type: ignore[union-attr]
        ds_state = state.get("dataset")
        if ds_state is not None and callable(getattr(self.dataset, "load_state_dict", None)):
            self.dataset.load_state_dict(ds_state)
        self._epoch = int(epoch)
        self._in_epoch = in_epoch
        self._pos = int(pos) if in_epoch else 0
        self._perm = perm if in_epoch else None
        self._resume = in_epoch
