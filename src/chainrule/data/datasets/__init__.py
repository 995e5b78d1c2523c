"""Datasets as NumPy arrays: the bundled digits, MNIST-style IDX sets, synthetic sets.

Image datasets return ``(x_train, y_train), (x_test, y_test)`` like
``keras.datasets.*.load_data()``, with images float32 ``N x 1 x H x W`` scaled to [0, 1] and
labels int64; synthetic generators return ``(x, y)``. Nothing is ever downloaded.

=================  ====================================================================
``digits()``       UCI 8x8 handwritten digits, bundled (1,442 train / 355 test, 8 x 8)
``fashion_mnist``  Zalando Fashion-MNIST from local IDX files (60,000 / 10,000, 28 x 28)
``mnist``          MNIST from local IDX files (60,000 / 10,000, 28 x 28)
``logic_gates``    AND/OR/XOR/... truth tables (4 x 2 inputs, 4 x 1 targets)
``two_spirals``    two interleaved spirals (n x 2, labels 0/1)
``noisy_sine``     y = sin(x) + noise (n x 1, n x 1)
``make_regression``  y = x w + b + noise
=================  ====================================================================

:func:`available` reports which are usable offline and where they were found.
"""

from __future__ import annotations

from typing import NamedTuple

from chainrule.data.datasets.digits import bundled_path, digits
from chainrule.data.datasets.idx import (
    FASHION_MNIST_CLASSES,
    fashion_mnist,
    find_idx_files,
    mnist,
    read_idx,
)
from chainrule.data.datasets.synthetic import (
    logic_gates,
    make_regression,
    noisy_sine,
    two_spirals,
)

__all__ = [
    "FASHION_MNIST_CLASSES",
    "DatasetInfo",
    "available",
    "digits",
    "fashion_mnist",
    "logic_gates",
    "make_regression",
    "mnist",
    "noisy_sine",
    "read_idx",
    "two_spirals",
]


class DatasetInfo(NamedTuple):
    """One row of :func:`available`."""

    name: str
    available: bool
    location: str  # where it was found, or how to get it


def available(root: str | None = None) -> list[DatasetInfo]:
    """Every dataset chainrule knows, whether it is usable offline, and where / how to get it.

    Example:
        >>> rows = available()
        >>> rows[0].name, rows[0].available
        ('digits', True)
    """
    rows = [DatasetInfo("digits", bundled_path().is_file(), f"bundled: {bundled_path()}")]
    for name, fn in (("fashion_mnist", "fashion-mnist"), ("mnist", "mnist")):
        files, tried = find_idx_files(fn, root)
        if files is not None:
            rows.append(DatasetInfo(name, True, str(files["train_images"].parent)))
        else:
            how = (
                "apt-get install dataset-fashion-mnist, or put the four IDX files in "
                "$CHAINRULE_DATA or ~/.cache/chainrule/fashion-mnist"
                if fn == "fashion-mnist"
                else "put the four IDX files in $CHAINRULE_DATA or ~/.cache/chainrule/mnist"
            )
            rows.append(DatasetInfo(name, False, f"not found ({how})"))
    for name in ("logic_gates", "two_spirals", "noisy_sine", "make_regression"):
        rows.append(DatasetInfo(name, True, "generated (no files)"))
    return rows
