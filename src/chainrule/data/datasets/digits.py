"""The UCI 8x8 optical digits, bundled with chainrule (1,797 images, CC BY 4.0).

Alpaydin & Kaynak (1998), UCI Machine Learning Repository, https://doi.org/10.24432/C50P49;
see ``_bundled/ATTRIBUTION.md``. The offline default for demos and fast tests: loading needs
only NumPy (no scikit-learn, no network).
"""

from __future__ import annotations

import gzip
import io
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.data.splits import train_test_split

__all__ = ["DIGITS_FILE", "digits"]

DIGITS_FILE = "digits.csv.gz"
N_DIGITS = 1797


def bundled_path(name: str = DIGITS_FILE) -> Path:
    """Where a bundled data file lives inside the installed package."""
    return Path(str(resources.files("chainrule.data.datasets").joinpath("_bundled").joinpath(name)))


@lru_cache(maxsize=1)
def _raw() -> np.ndarray:
    path = bundled_path()
    try:
        text = gzip.decompress(path.read_bytes()).decode("ascii")
        table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as e:
        raise RuntimeError(
            f"the bundled digits file {path} cannot be read ({e}); reinstall chainrule"
        ) from None
    if (
        table.shape != (N_DIGITS, 65)
        or table[:, :64].min() < 0
        or table[:, :64].max() > 16
        or not set(np.unique(table[:, 64]).tolist()) <= set(range(10))
    ):
        raise RuntimeError(
            f"the bundled digits file {path} is corrupt (shape {table.shape}, expected "
            f"({N_DIGITS}, 65) with pixels 0..16 and labels 0..9); reinstall chainrule"
        )
    table.setflags(write=False)
    return table


def digits(
    test_fraction: float = 0.2, seed: int = 0, flatten: bool = False
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The bundled 8x8 handwritten digits, split into train and test like Keras's ``load_data``.

    The split is fixed and stratified: with the defaults, 1,442 training and 355 test images
    whose class proportions match the whole set, identical on every machine and run (it uses
    its own ``chainrule.Generator(seed)``, not the default generator).

    Args:
        test_fraction: the test share of each class, in (0, 1) (default 0.2).
        seed: the split's seed (default 0).
        flatten: return images as ``N x 64`` rows instead of ``N x 1 x 8 x 8``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: float32 images scaled from 0..16 to [0, 1]
        (``N x 1 x 8 x 8``, or ``N x 64`` with ``flatten``), int64 labels 0..9.

    Example:
        >>> (x, y), (xt, yt) = digits()
        >>> x.shape, x.dtype, y.dtype, xt.shape
        ((1442, 1, 8, 8), dtype('float32'), dtype('int64'), (355, 1, 8, 8))
        >>> float(x.max()) <= 1.0
        True
    """
    table = _raw()
    x = np.divide(table[:, :64], np.float32(16.0), dtype=np.float32)
    y = table[:, 64].astype(np.int64)
    if not flatten:
        x = x.reshape(-1, 1, 8, 8)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, seed=seed
    )
    return (x_train, y_train), (x_test, y_test)


def _location() -> Any:
    return bundled_path()
