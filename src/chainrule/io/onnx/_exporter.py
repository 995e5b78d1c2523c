"""The conversion machinery of ``export_onnx``: which value each traced tensor is, the
comparison of the two traces, and the context (:class:`Cx`) handed to each converter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from chainrule.io.onnx import ExportError
from chainrule.io.onnx._builder import Builder
from chainrule.io.onnx._trace import OpRecord, Trace
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["Cx", "Exporter"]


# ---- references: which value a tensor or array of a trace is ----
class _Refs:
    """Maps ``id()`` of tensors and arrays to ("in", i) / ("op", k) / ("param", name)."""

    def __init__(self, trace: Trace, params: dict[int, str]) -> None:
        self.known: dict[int, tuple[str, Any]] = {}
        self.params = params
        for i, t in enumerate(trace.inputs):
            self.known[id(t)] = self.known[id(t.data)] = ("in", i)
        self.trace = trace
        self._upto = 0

    def advance(self, k: int) -> None:
        """Make the outputs of records before ``k`` known (an op sees only earlier values)."""
        recs = self.trace.records
        while self._upto < k:
            out = recs[self._upto].out
            if isinstance(out, Tensor):
                self.known[id(out)] = self.known[id(out.data)] = ("op", self._upto)
            self._upto += 1

    def ref(self, obj: Any) -> tuple[str, Any] | None:
        if isinstance(obj, Tensor):
            r = self.known.get(id(obj)) or self.known.get(id(obj.data))
            if r is None:
                name = self.params.get(id(obj)) or self.params.get(id(obj.data))
                r = ("param", name) if name else ("const", obj.data)
            return r
        if isinstance(obj, np.ndarray):
            r = self.known.get(id(obj))
            if r is None and id(obj) in self.params:
                r = ("param", self.params[id(obj)])
            return r
        return None


def _walk(obj: Any) -> list[Any]:
    """Tensors and arrays inside (nested tuples/lists/dicts of) an op's arguments."""
    out: list[Any] = []
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, (Tensor, np.ndarray)):
            out.append(o)
        elif isinstance(o, (tuple, list)):
            stack.extend(o)
        elif isinstance(o, dict):
            stack.extend(o.values())
    return out


def _same_static(a: Any, b: Any) -> bool:
    if type(a) is not type(b) and not (np.isscalar(a) and np.isscalar(b)):
        return False
    if isinstance(a, np.ndarray):
        return (
            a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=True))
        )
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same_static(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_static(a[k], b[k]) for k in a)
    if isinstance(a, float) and a != a:
        return b != b
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        return False


# ---- the conversion context handed to each converter ----
class Cx:
    """One op being converted: its arguments (as ONNX values or static Python values), shapes,
    and what changes between the two traces (``dyn``: per-axis flags, true on the batch axis)."""

    def __init__(self, ex: Exporter, k: int, rec: OpRecord, rec2: OpRecord) -> None:
        self.ex, self.k, self.rec, self.rec2 = ex, k, rec, rec2
        self.b: Builder = ex.b
        self.opset = ex.b.opset
        self.args, self.args2 = rec.args, rec2.args
        out = rec.out
        self.out_shape: tuple[int, ...] = tuple(out.shape)
        self.out_dtype = out.data.dtype
        o2 = tuple(rec2.out.shape)
        self.out_dyn = (
            tuple(a != b for a, b in zip(self.out_shape, o2))
            if len(o2) == len(self.out_shape)
            else (True,) * len(self.out_shape)
        )

    # -- values --
    def v(self, obj: Any, dtype: Any = None) -> str:
        """The ONNX value of a tensor/array argument; a number becomes a constant of
        ``dtype`` (default: the op's output dtype)."""
        if obj is None:
            return ""
        r = self.ex.refs.ref(obj)
        if r is None:
            if isinstance(obj, np.ndarray):
                return self.b.const(obj, name="const")
            if isinstance(obj, (bool, int, float, np.generic)):
                return self.b.const(np.asarray(obj, dtype=dtype or self.out_dtype))
            self.fail(f"cannot use an argument of type {type(obj).__name__} as a tensor")
        return self.ex.value_name(r, obj)

    def x(self, i: int, dtype: Any = None) -> str:
        return self.v(self.args[i], dtype)

    def shape(self, obj: Any) -> tuple[int, ...]:
        return tuple((obj.data if isinstance(obj, Tensor) else np.asarray(obj)).shape)

    def dyn(self, i: int) -> tuple[bool, ...]:
        """Per axis of positional tensor argument ``i``: does its size change between traces."""
        s1, s2 = self.shape(self.args[i]), self.shape(self.args2[i])
        if len(s1) != len(s2):
            return (True,) * len(s1)
        return tuple(a != b for a, b in zip(s1, s2))

    def kw(self, key: str, default: Any = None) -> Any:
        return self.rec.kwargs.get(key, default)

    def changed(self, i: int) -> bool:
        return not _same_static(self.args[i], self.args2[i])

    def fail(self, message: str) -> NoReturn:
        raise ExportError(f"export_onnx: {self.ex.where(self.rec)}: {message}")


ConvertFn = Callable[[Cx], str]


class Exporter:
    def __init__(
        self,
        onnx: Any,
        model: Module,
        opset: int,
        traces: tuple[Trace, Trace],
        params: dict[int, str],
        converters: dict[Any, tuple[ConvertFn, bool]],
        dims: dict[tuple[int, int], tuple[int, int]],
    ) -> None:
        self.onnx, self.model = onnx, model
        self.b = Builder(onnx, opset)
        self.t1, self.t2 = traces
        self.params = params
        self.refs = _Refs(self.t1, params)
        self.refs2 = _Refs(self.t2, params)
        self.converters = converters
        self.names: dict[tuple[str, Any], str] = {}
        self.const_ids: dict[int, str] = {}
        self.dims = dims  # (size in trace 1, in trace 2) -> (input, axis) it comes from
        self.dynamic = bool(dims)
        self.batch_consts: dict[int, tuple[Any, ...]] = {}
        self._dim_values: dict[tuple[int, int], str] = {}

    def where(self, rec: OpRecord) -> str:
        name, cls = rec.layer
        layer = f"layer {name!r} ({cls})" if cls else "the model's own forward"
        if cls and not name:
            layer = f"the model ({cls})"
        return f"{layer}, op {rec.name}"

    def value_name(self, r: tuple[str, Any], obj: Any) -> str:
        kind, key = r
        if kind == "const":
            name = self.const_ids.get(id(obj))
            if name is None:
                name = self._const(obj, np.asarray(key))
                self.const_ids[id(obj)] = name
            return name
        if kind == "param":
            if key not in self.b.initializers:
                arr = obj.data if isinstance(obj, Tensor) else obj
                self.b.initializer(key, np.asarray(arr))
            return key
        name = self.names.get(r)
        if name is None:
            raise ExportError(f"export_onnx: internal error: value {r} used before it is made")
        return name

    def _const(self, obj: Any, arr: np.ndarray) -> str:
        fill = self.batch_consts.get(id(obj))
        if fill is None:
            return self.b.const(arr, dtype=arr.dtype, name="const")
        value, sizes = fill  # Expand(value, shape with the dynamic sizes read at run time)
        return self.b.op("Expand", [self.b.const(value, dtype=value.dtype), self.shape_of(sizes)])

    def shape_of(self, sizes: list[Any]) -> str:
        """A 1-D int64 shape tensor from ints and (size 1, size 2) pairs of dynamic axes."""
        parts: list[str] = []
        fixed: list[int] = []
        for d in sizes:
            if isinstance(d, tuple):
                if fixed:
                    parts.append(self.b.ints(fixed))
                    fixed = []
                parts.append(self.dim_value(d))
            else:
                fixed.append(int(d))
        if fixed:
            parts.append(self.b.ints(fixed))
        return parts[0] if len(parts) == 1 else self.b.op("Concat", parts, axis=0)

    def dim_value(self, pair: tuple[int, int]) -> str:
        """The run-time size of the dynamic axis whose sizes were ``pair`` in the two traces
        (read from the graph input it comes from), as a 1-element int64 tensor."""
        if pair not in self._dim_values:
            i, axis = self.dims[pair]
            shape = self.b.op("Shape", [self.names[("in", i)]])
            self._dim_values[pair] = self.b.slice(shape, [axis], [axis + 1], [0])
        return self._dim_values[pair]

    # -- checks between the two traces --
    def compare(self, k: int) -> set[Any]:
        """Positions (ints) and keywords whose static values differ between the traces;
        raises when tensors differ in origin or a constant tensor changes."""
        rec, rec2 = self.t1.records[k], self.t2.records[k]
        changed: set[Any] = set()
        pairs: list[tuple[Any, Any, Any]] = [
            (i, a, rec2.args[i] if i < len(rec2.args) else None) for i, a in enumerate(rec.args)
        ]
        pairs += [(key, v, rec2.kwargs.get(key)) for key, v in rec.kwargs.items()]
        if len(rec.args) != len(rec2.args) or rec.kwargs.keys() != rec2.kwargs.keys():
            self._differ(rec)
        for pos, a, b in pairs:
            ta, tb = _walk(a), _walk(b)
            ra = [self.refs.ref(t) for t in ta]
            rb = [self.refs2.ref(t) for t in tb]
            if len(ra) != len(rb):
                self._differ(rec)
            static = True
            for x, y, obj in zip(ra, rb, ta):
                if x is None and y is None:
                    continue
                static = False
                if x is None or y is None or x[0] != y[0]:
                    self._differ(rec)
                if x[0] == "const":
                    a1, a2 = np.asarray(x[1]), np.asarray(y[1])
                    if _same_static(a1, a2):
                        continue
                    fill = self._batch_fill(a1, a2)
                    if fill is None:
                        raise ExportError(
                            f"export_onnx: {self.where(rec)}: a tensor made outside chainrule's "
                            f"ops (shape {a1.shape}: from NumPy, .data, "
                            "Tensor(...) or a random draw inside forward) changes with the input "
                            + ("or the batch size " if self.dynamic else "")
                            + "(it would be frozen into the graph); compute it with tensor ops"
                            + (", or export with dynamic_batch=False" if self.dynamic else "")
                        )
                    self.batch_consts[id(obj)] = fill
                elif x != y:
                    self._differ(rec)
            if static and not _same_static(a, b):
                changed.add(pos)
        return changed

    def _batch_fill(self, a1: np.ndarray, a2: np.ndarray) -> tuple[Any, ...] | None:
        """A constant filled with one value whose changing axes are dynamic input axes (a
        default zero state of batch size): ``(value, sizes)``, else None."""
        if not self.dims or a1.ndim != a2.ndim or a1.size == 0 or a2.size == 0:
            return None
        v = a1.reshape(-1)[0]
        if not (np.all(a1 == v) and np.all(a2 == v)):
            return None
        sizes: list[Any] = [d1 if d1 == d2 else (d1, d2) for d1, d2 in zip(a1.shape, a2.shape)]
        if any(isinstance(d, tuple) and d not in self.dims for d in sizes):
            return None
        return (np.asarray(v, dtype=a1.dtype), sizes)

    def _differ(self, rec: OpRecord) -> NoReturn:
        raise ExportError(
            f"export_onnx: {self.where(rec)}: the model ran different ops on two inputs "
            "(Python control flow that depends on the values or the batch size); an ONNX "
            "graph records one path. Make forward take the same ops for every input"
            + (", or export with dynamic_batch=False" if self.dynamic else "")
        )

    # -- the graph --
    def needed(self, outputs: list[Tensor]) -> list[bool]:
        recs = self.t1.records
        self.refs.advance(len(recs))
        need = [False] * len(recs)
        stack = [self.refs.ref(t) for t in outputs]
        while stack:
            r = stack.pop()
            if r is None or r[0] != "op" or need[r[1]]:
                continue
            need[r[1]] = True
            rec = recs[r[1]]
            for t in _walk((rec.args, rec.kwargs)):
                r2 = self.refs.ref(t)
                if r2 is not None and r2[0] == "op" and r2[1] < r[1]:
                    stack.append(r2)
        self.refs = _Refs(self.t1, self.params)  # rebuilt: values become known in order
        return need

    def convert(self) -> list[str]:
        recs, recs2 = self.t1.records, self.t2.records
        if len(recs) != len(recs2) or any(a.kind is not b.kind for a, b in zip(recs, recs2)):
            bad = next(
                (a for a, b in zip(recs, recs2) if a.kind is not b.kind), recs[-1] if recs else None
            )
            if bad is None:
                raise ExportError("export_onnx: the model ran different ops on two inputs")
            self._differ(bad)
        need = self.needed(self.t1.outputs)
        for k, rec in enumerate(recs):
            self.refs.advance(k)
            self.refs2.advance(k)
            if not need[k]:
                continue
            entry = self.converters.get(rec.kind)
            if entry is None:
                raise ExportError(_unsupported(self.where(rec), rec, self.converters))
            fn, dynamic_ok = entry
            changed = self.compare(k)
            if changed and not dynamic_ok:
                what = ", ".join(
                    f"argument {p}" if isinstance(p, int) else p for p in sorted(changed, key=str)
                )
                raise ExportError(
                    f"export_onnx: {self.where(rec)}: its {what} differs between inputs of "
                    + ("different batch sizes" if self.dynamic else "different values")
                    + "; it cannot be a constant of the graph"
                    + (" (export with dynamic_batch=False)" if self.dynamic else "")
                )
            self.b.scope = rec.layer[0] or "model"
            name = fn(Cx(self, k, rec, recs2[k]))
            self.names[("op", k)] = name
        self.refs.advance(len(recs))
        return [self.value_name(self.refs.ref(t) or ("const", t.data), t) for t in self.t1.outputs]


def _unsupported(where: str, rec: OpRecord, converters: dict[Any, Any]) -> str:
    from chainrule.io.onnx._convert import SUPPORTED_LAYERS

    shown = {"arg": "argmax/argmin", "compare": "comparisons", "_Reshape4d": None, "Dropout": None}
    ops = sorted(
        {
            n
            for k in converters
            if (n := shown.get(name := k if isinstance(k, str) else k.__name__, name))
        }
    )
    return (
        f"export_onnx: {where} has no ONNX converter, so the model cannot be exported. "
        f"Supported layers: {', '.join(SUPPORTED_LAYERS)}; and any module whose forward "
        f"uses only these ops: {', '.join(ops)}"
    )
