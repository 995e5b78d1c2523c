"""Data types: float32 by default, float64 on request, integer and bool for indices and masks.

Promotion follows PyTorch: a Python scalar never widens a tensor (``float32 * 2.0`` stays
float32), an integer tensor combined with a float scalar becomes the default float type, and
true division of integers gives the default float type.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "bool_",
    "float16",
    "float32",
    "float64",
    "get_default_dtype",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_floating",
    "resolve_dtype",
    "set_default_dtype",
    "uint8",
]

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

_NAMES: dict[str, np.dtype] = {
    "float16": float16,
    "half": float16,
    "float32": float32,
    "float": float32,
    "float64": float64,
    "double": float64,
    "int8": int8,
    "int16": int16,
    "short": int16,
    "int32": int32,
    "int": int32,
    "int64": int64,
    "long": int64,
    "uint8": uint8,
    "bool": bool_,
}
_SUPPORTED = frozenset(_NAMES.values())

_default_float = float32


def get_default_dtype() -> np.dtype:
    """The floating dtype given to tensors built from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(dtype: Any) -> None:
    """Set the default floating dtype (float32 or float64), as ``torch.set_default_dtype``."""
    global _default_float
    d = resolve_dtype(dtype)
    if d.kind != "f" or d == float16:
        raise TypeError(f"set_default_dtype expects float32 or float64, got {d}")
    _default_float = d


def resolve_dtype(dtype: Any) -> np.dtype:
    """Turn a dtype spec (a name such as ``'float32'``, a NumPy or torch dtype) into a dtype.

    Raises:
        TypeError: the spec names no dtype chainrule supports; the message lists the valid names.
    """
    if isinstance(dtype, str):
        key = dtype.removeprefix("torch.").removeprefix("chainrule.")
        if key in _NAMES:
            return _NAMES[key]
        raise TypeError(
            f"unknown dtype {dtype!r}; expected one of {sorted(_NAMES)} "
            "(or a NumPy dtype such as np.float32)"
        )
    if type(dtype).__module__ == "torch":  # torch.float32 etc., without importing torch
        return resolve_dtype(str(dtype))
    try:
        d = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"unknown dtype {dtype!r}; expected one of {sorted(_NAMES)}") from e
    if d not in _SUPPORTED:
        raise TypeError(f"dtype {d} is not supported; expected one of {sorted(_NAMES)}")
    return d


def is_floating(dtype: np.dtype) -> bool:
    """True for floating dtypes (the only ones that carry gradients)."""
    return dtype.kind == "f"
