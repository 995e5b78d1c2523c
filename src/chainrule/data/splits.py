"""Splitting data: ``random_split``, ``train_test_split``, ``KFold``, ``StratifiedKFold``.

Every random split draws from a :class:`chainrule.Generator` (explicit, or chainrule's
default generator, so ``chainrule.manual_seed`` fixes it); NumPy's global RNG is never used.
K-fold splitting is the cross-validation the notes mention against over-fitting (seed 002).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from chainrule.data._util import check_int, to_array
from chainrule.data.dataset import Subset
from chainrule.random import Generator, default_generator

__all__ = ["KFold", "StratifiedKFold", "random_split", "train_test_split"]


def _split_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in lengths):
        out = [int(v) for v in lengths]
        if any(v < 0 for v in out) or sum(out) != n:
            raise ValueError(
                f"random_split: lengths {out} must be non-negative and sum to the dataset "
                f"size {n} (they sum to {sum(out)})"
            )
        return out
    fr = [float(v) for v in lengths]
    if any(not 0 <= f <= 1 for f in fr) or not math.isclose(sum(fr), 1.0, abs_tol=1e-6):
        raise ValueError(
            f"random_split: fractions {fr} must each lie in [0, 1] and sum to 1 (they sum "
            f"to {sum(fr)}); or pass integer lengths summing to {n}"
        )
    out = [int(math.floor(n * f)) for f in fr]
    for i in range(n - sum(out)):  # hand out the remainder round-robin, as torch does
        out[i % len(out)] += 1
    return out


def random_split(
    dataset: Any, lengths: Sequence[float], generator: Generator | None = None
) -> list[Subset]:
    """Split a dataset into non-overlapping random subsets (``torch.utils.data.random_split``).

    Args:
        dataset: any sized dataset.
        lengths: integer sizes summing to ``len(dataset)``, or fractions summing to 1 (floors,
            with the remainder given one by one to the first subsets).
        generator: the generator for the permutation (default: chainrule's default one).

    Example:
        >>> import numpy as np, chainrule as cr
        >>> a, b = random_split(cr.data.TensorDataset(np.arange(10)), [0.8, 0.2], cr.Generator(0))
        >>> len(a), len(b)
        (8, 2)
    """
    n = len(dataset)
    sizes = _split_lengths(n, lengths)
    perm = (generator or default_generator).permutation(n)
    out, start = [], 0
    for k in sizes:
        out.append(Subset(dataset, perm[start : start + k]))
        start += k
    return out


def _stratified_order(y: np.ndarray, rng: Generator | None) -> np.ndarray:
    """Indices grouped by class (classes in sorted order), shuffled within each class."""
    idx = np.arange(len(y))
    if rng is not None:
        idx = rng.permutation(len(y))
    return idx[np.argsort(y[idx], kind="stable")]


def train_test_split(
    *arrays: Any,
    test_size: float = 0.2,
    stratify: Any = None,
    seed: int | None = 0,
    shuffle: bool = True,
) -> list[np.ndarray]:
    """Split arrays into train and test parts: ``[a_train, a_test, b_train, b_test, ...]``.

    With ``stratify=labels`` each class is split in the same proportion: within each class
    (shuffled), sample number ``j`` goes to the test part when
    ``floor((j + 1) * f) > floor(j * f)`` with ``f = test_size``, so a class of ``n_c``
    samples contributes ``floor(n_c * f)`` or one more test samples.

    Args:
        *arrays: arrays with the same first dimension.
        test_size: the test fraction, in (0, 1).
        stratify: class labels to balance the split on, or ``None``.
        seed: the seed of the shuffle (``None``: draw from chainrule's default generator).
        shuffle: shuffle before splitting (without it, the last samples form the test part).

    Example:
        >>> import numpy as np
        >>> xtr, xte = train_test_split(np.arange(10), test_size=0.3, seed=0)
        >>> len(xtr), len(xte)
        (7, 3)
    """
    if not arrays:
        raise ValueError("train_test_split: expected at least one array")
    arrs = [to_array(a) for a in arrays]
    n = len(arrs[0])
    if any(len(a) != n for a in arrs):
        raise ValueError(
            f"train_test_split: arrays must have the same length, got {[len(a) for a in arrs]}"
        )
    if not 0 < float(test_size) < 1:
        raise ValueError(f"train_test_split: test_size must be in (0, 1), got {test_size}")
    rng = None
    if shuffle:
        rng = Generator(seed) if seed is not None else default_generator
    if stratify is not None:
        y = to_array(stratify)
        if len(y) != n:
            raise ValueError(f"train_test_split: stratify has {len(y)} labels for {n} samples")
        order = _stratified_order(y, rng)
        ys = y[order]
        starts = np.r_[0, np.flatnonzero(ys[1:] != ys[:-1]) + 1]
        j = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))  # rank within class
        test_mask = np.floor((j + 1) * test_size) > np.floor(j * test_size)
        test_idx, train_idx = np.sort(order[test_mask]), np.sort(order[~test_mask])
        if rng is not None:  # keep a shuffled order inside each part
            test_idx, train_idx = rng.permutation(test_idx), rng.permutation(train_idx)
    else:
        order = rng.permutation(n) if rng is not None else np.arange(n)
        k = int(math.floor(n * float(test_size)))
        train_idx, test_idx = order[: n - k], order[n - k :]
    out = []
    for a in arrs:
        out += [np.take(a, train_idx, axis=0), np.take(a, test_idx, axis=0)]
    return out


class KFold:
    """K-fold cross-validation indices: each sample is in exactly one validation fold.

    Folds have ``n // k`` or ``n // k + 1`` samples (the first ``n % k`` folds are larger),
    as in scikit-learn.

    Args:
        n_splits: number of folds ``k >= 2``.
        shuffle: shuffle the samples before cutting folds.
        seed: the shuffle seed; ``None`` draws from chainrule's default generator when
            :meth:`split` is called.

    Example:
        >>> [v.tolist() for _, v in KFold(3).split(np.zeros(5))]
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, n_splits: int = 5, shuffle: bool = False, seed: int | None = None) -> None:
        self.n_splits = check_int(n_splits, "n_splits", type(self).__name__, 2)
        self.shuffle = bool(shuffle)
        self.seed = seed

    def _rng(self) -> Generator | None:
        if not self.shuffle:
            return None
        return Generator(self.seed) if self.seed is not None else default_generator

    def _n(self, x: Any) -> int:
        n = x if isinstance(x, (int, np.integer)) and not isinstance(x, bool) else len(x)
        if n < self.n_splits:
            raise ValueError(
                f"{type(self).__name__}: n_splits={self.n_splits} is more than the {n} samples"
            )
        return int(n)

    def get_n_splits(self) -> int:
        return self.n_splits

    def split(self, x: Any, y: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_idx, val_idx)`` int64 arrays; ``x`` is the data or its length."""
        n = self._n(x)
        rng = self._rng()
        order = rng.permutation(n) if rng is not None else np.arange(n)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        start = 0
        for k in sizes:
            val = order[start : start + k]
            train = np.concatenate([order[:start], order[start + k :]])
            yield train.astype(np.int64), val.astype(np.int64)
            start += k


class StratifiedKFold(KFold):
    """K-fold where each fold keeps the class proportions of ``y``.

    Samples are grouped by class (shuffled within each class when ``shuffle``) and dealt to
    the folds in turn, so each class's count differs by at most one between folds and the
    fold sizes differ by at most one. A class with fewer than ``k`` samples is absent from
    some validation folds.

    Example:
        >>> y = np.array([0, 0, 0, 1, 1, 1])
        >>> [np.bincount(y[v]).tolist() for _, v in StratifiedKFold(3).split(y, y)]
        [[1, 1], [1, 1], [1, 1]]
    """

    def split(self, x: Any, y: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if y is None:
            raise ValueError("StratifiedKFold.split: needs the labels y")
        labels = to_array(y)
        n = self._n(x)
        if len(labels) != n:
            raise ValueError(f"StratifiedKFold.split: {len(labels)} labels for {n} samples")
        order = _stratified_order(labels, self._rng())
        fold = np.arange(n) % self.n_splits
        for k in range(self.n_splits):
            val = np.sort(order[fold == k])
            train = np.sort(order[fold != k])
            yield train.astype(np.int64), val.astype(np.int64)
