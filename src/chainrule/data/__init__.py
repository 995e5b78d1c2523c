"""The data pipeline: datasets, loaders, splits, transforms and the bundled/IDX datasets.

- :class:`Dataset`, :class:`TensorDataset`, :class:`Subset`;
- :class:`DataLoader`: mini-batches of tensors, seeded shuffling, exact mid-epoch resume
  (``state_dict`` / ``load_state_dict``), a vectorised path for array datasets;
- :func:`random_split`, :func:`train_test_split`, :class:`KFold`, :class:`StratifiedKFold`;
- transforms: :class:`Normalize`, :class:`OneHot` / :func:`one_hot`, :class:`RandomCrop`,
  :class:`RandomHorizontalFlip`, :class:`Compose`;
- datasets (also in :mod:`chainrule.data.datasets`): :func:`digits`, :func:`fashion_mnist`,
  :func:`mnist`, :func:`read_idx`, :func:`logic_gates`, :func:`two_spirals`,
  :func:`noisy_sine`, :func:`make_regression`, :func:`available`.

Example:
    >>> import chainrule as cr
    >>> (x, y), _ = cr.data.digits()
    >>> loader = cr.data.DataLoader(cr.data.TensorDataset(x, y), batch_size=64, shuffle=True)
    >>> xb, yb = next(iter(loader))
    >>> xb.shape, yb.dtype
    ((64, 1, 8, 8), dtype('int64'))
"""

from chainrule.data import datasets, transforms
from chainrule.data.dataloader import DataLoader, default_collate
from chainrule.data.dataset import Dataset, Subset, TensorDataset
from chainrule.data.datasets import (
    FASHION_MNIST_CLASSES,
    DatasetInfo,
    available,
    digits,
    fashion_mnist,
    logic_gates,
    make_regression,
    mnist,
    noisy_sine,
    read_idx,
    two_spirals,
)
from chainrule.data.splits import KFold, StratifiedKFold, random_split, train_test_split
from chainrule.data.transforms import (
    Compose,
    Normalize,
    OneHot,
    RandomCrop,
    RandomHorizontalFlip,
    Transform,
    one_hot,
)

__all__ = [
    "FASHION_MNIST_CLASSES",
    "Compose",
    "DataLoader",
    "Dataset",
    "DatasetInfo",
    "KFold",
    "Normalize",
    "OneHot",
    "RandomCrop",
    "RandomHorizontalFlip",
    "StratifiedKFold",
    "Subset",
    "TensorDataset",
    "Transform",
    "available",
    "datasets",
    "default_collate",
    "digits",
    "fashion_mnist",
    "logic_gates",
    "make_regression",
    "mnist",
    "noisy_sine",
    "one_hot",
    "random_split",
    "read_idx",
    "train_test_split",
    "transforms",
]
