"""The ONNX graph under construction: unique names, nodes, initializers, opset-aware helpers.

Helpers hide the few places where the ONNX operator set changed the form of an op between
opset 13 and today (``axes`` of the ``Reduce*`` ops became an input in opset 18,
``LayerNormalization`` arrived in 17, ``Gelu`` in 20, ``Pad``'s ``wrap`` mode in 19), so the
converters are written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Builder", "INT64_MAX"]

INT64_MAX = np.iinfo(np.int64).max


class Builder:
    """Collects nodes and initializers; ``onnx`` is the imported ``onnx`` module."""

    def __init__(self, onnx: Any, opset: int) -> None:
        self.onnx = onnx
        self.helper = onnx.helper
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.used: set[str] = set()
        self._const_cache: dict[tuple[Any, ...], str] = {}
        self.scope = ""  # prefix of node names (the layer being converted)

    # ---- names ----
    def fresh(self, base: str) -> str:
        base = base or "v"
        name, k = base, 0
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name

    def reserve(self, name: str) -> None:
        self.used.add(name)

    # ---- initializers ----
    def initializer(self, name: str, array: np.ndarray) -> str:
        arr = np.asarray(array)
        self.initializers[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
        self.used.add(name)
        return name

    def const(self, value: Any, dtype: Any = None, name: str = "const") -> str:
        """A constant initializer (small ones are shared when equal)."""
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype == np.float64 and dtype is None and not isinstance(value, np.ndarray):
            arr = arr.astype(np.float32)
        key = None
        if arr.size <= 64:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._const_cache:
                return self._const_cache[key]
        out = self.initializer(self.fresh(name), arr)
        if key is not None:
            self._const_cache[key] = out
        return out

    def ints(self, values: Sequence[int], name: str = "const") -> str:
        return self.const(np.asarray(list(values), dtype=np.int64), name=name)

    # ---- nodes ----
    def op(self, op_type: str, inputs: Sequence[str], n_out: int = 1, **attrs: Any) -> Any:
        """Add a node; returns its output name (or a list of ``n_out`` names)."""
        base = f"{self.scope}/{op_type}" if self.scope else op_type
        outs = [self.fresh(base) for _ in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        node = self.helper.make_node(
            op_type, list(inputs), outs, name=self.fresh("node:" + base), **attrs
        )
        self.nodes.append(node)
        return outs[0] if n_out == 1 else outs

    # ---- opset-aware helpers ----
    def reduce(self, op_type: str, x: str, axes: Sequence[int] | None, keepdims: bool) -> str:
        """``Reduce*`` over ``axes`` (all axes when None)."""
        k = int(bool(keepdims))
        if axes is None:
            return self.op(op_type, [x], keepdims=k)
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, [x, self.ints(axes, "axes")], keepdims=k)
        return self.op(op_type, [x], axes=axes, keepdims=k)

    def unsqueeze(self, x: str, axes: Sequence[int]) -> str:
        return self.op("Unsqueeze", [x, self.ints(axes, "axes")])

    def squeeze(self, x: str, axes: Sequence[int]) -> str:
        return self.op("Squeeze", [x, self.ints(axes, "axes")])

    def reshape(self, x: str, shape: Sequence[int]) -> str:
        return self.op("Reshape", [x, self.ints(shape, "shape")])

    def slice(
        self,
        x: str,
        starts: Sequence[int],
        ends: Sequence[int],
        axes: Sequence[int],
        steps: Sequence[int] | None = None,
    ) -> str:
        ins = [x, self.ints(starts, "starts"), self.ints(ends, "ends"), self.ints(axes, "axes")]
        if steps is not None:
            ins.append(self.ints(steps, "steps"))
        return self.op("Slice", ins)

    def pad(
        self,
        x: str,
        pads: Sequence[int],
        mode: str = "constant",
        value: Any = None,
        dtype: Any = None,
    ) -> str:
        """``Pad`` with ONNX's ``pads`` layout (all begins, then all ends)."""
        ins = [x, self.ints(pads, "pads")]
        if mode == "constant" and value is not None and value != 0:
            ins.append(self.const(np.asarray(value, dtype=dtype), name="pad_value"))
        return self.op("Pad", ins, mode=mode)

    def cast(self, x: str, dtype: Any) -> str:
        return self.op("Cast", [x], to=self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
