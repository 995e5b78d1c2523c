"""``export_onnx``: two traces of the model, their ops converted, checked, verified, written."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from chainrule.io.onnx._builder import Builder
from chainrule.io.onnx._trace import OpRecord, Trace, run_trace
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["ExportError", "export_onnx", "require"]

MIN_OPSET = 13
#: unused state entries (e.g. BatchNorm's num_batches_tracked) up to this size go in the
#: metadata as JSON; onnxruntime warns about unused initializers
_META_MAX = 4096
_PROTOBUF_LIMIT = 2**31 - 1


class ExportError(ValueError):
    """The model cannot be expressed as an ONNX graph (names the layer and the op)."""


def require(name: str, what: str) -> Any:
    """Import ``onnx`` or ``onnxruntime``, or say how to install them."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ImportError(
            f"{what} needs the {name!r} package, which is not installed: "
            f"pip install 'chainrule[onnx]' ({e})"
        ) from None


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

    def __init__(self, ex: _Exporter, k: int, rec: OpRecord, rec2: OpRecord) -> None:
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


class _Exporter:
    def __init__(
        self,
        onnx: Any,
        model: Module,
        opset: int,
        traces: tuple[Trace, Trace],
        params: dict[int, str],
        converters: dict[Any, tuple[ConvertFn, bool]],
        batch: tuple[int, int] | None,
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
        self.batch = batch

    def where(self, rec: OpRecord) -> str:
        name, cls = rec.layer
        layer = f"layer {name!r} ({cls})" if cls else "the model's own forward"
        if cls and not name:
            layer = f"the model ({cls})"
        return f"{layer}, op {rec.name}"

    def value_name(self, r: tuple[str, Any], obj: Any) -> str:
        kind, key = r
        if kind == "const":
            arr = np.asarray(key)
            name = self.const_ids.get(id(obj))
            if name is None:
                name = self.b.const(arr, dtype=arr.dtype, name="const")
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
            for x, y in zip(ra, rb):
                if x is None and y is None:
                    continue
                static = False
                if x is None or y is None or x[0] != y[0]:
                    self._differ(rec)
                if x[0] == "const":
                    if not _same_static(np.asarray(x[1]), np.asarray(y[1])):
                        raise ExportError(
                            f"export_onnx: {self.where(rec)}: a tensor made outside chainrule's "
                            f"ops (shape {tuple(np.shape(x[1]))}: from NumPy, .data, "
                            "Tensor(...) or a random draw inside forward) changes with the input "
                            + ("or the batch size " if self.batch else "")
                            + "(it would be frozen into the graph); compute it with tensor ops"
                            + (", or export with dynamic_batch=False" if self.batch else "")
                        )
                elif x != y:
                    self._differ(rec)
            if static and not _same_static(a, b):
                changed.add(pos)
        return changed

    def _differ(self, rec: OpRecord) -> NoReturn:
        raise ExportError(
            f"export_onnx: {self.where(rec)}: the model ran different ops on two inputs "
            "(Python control flow that depends on the values or the batch size); an ONNX "
            "graph records one path. Make forward take the same ops for every input"
            + (", or export with dynamic_batch=False" if self.batch else "")
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
                    + ("different batch sizes" if self.batch else "different values")
                    + "; it cannot be a constant of the graph"
                    + (" (export with dynamic_batch=False)" if self.batch else "")
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


# ---- inputs ----
def _prepare(
    model: Module, example: Any
) -> tuple[list[Tensor], Callable[[list[Tensor]], Any], list[str] | None]:
    def as_tensor(x: Any, where: str) -> Tensor:
        if isinstance(x, Tensor):
            return x
        if isinstance(x, (np.ndarray, list, float, int)) and not isinstance(x, bool):
            arr = np.asarray(x)
            if arr.dtype.kind in "biuf":
                return Tensor(arr)
        raise TypeError(
            f"export_onnx: example_input{where} must be a Tensor or a NumPy array, "
            f"got {type(x).__name__}"
        )

    if isinstance(example, dict):
        keys = [str(k) for k in example]
        xs = [as_tensor(v, f"[{k!r}]") for k, v in example.items()]
        return xs, lambda ts: model(**dict(zip(keys, ts))), keys
    if isinstance(example, (tuple, list)) and not (
        isinstance(example, list) and example and not isinstance(example[0], (Tensor, np.ndarray))
    ):
        if not example:
            raise ValueError("export_onnx: example_input is empty")
        xs = [as_tensor(v, f"[{i}]") for i, v in enumerate(example)]
        return xs, lambda ts: model(*ts), None
    return [as_tensor(example, "")], lambda ts: model(*ts), None


def _variant(t: Tensor, dynamic: bool) -> Tensor:
    """A second input: one more sample (dynamic batch) or the same shape with other values."""
    x = t.data
    if x.ndim == 0:
        return Tensor(x * 0.5 if x.dtype.kind == "f" else x.copy())
    flipped = np.ascontiguousarray(x[::-1])
    if dynamic:
        return Tensor(np.concatenate([flipped, x[:1]]))
    if x.shape[0] > 1:
        return Tensor(flipped)
    return Tensor((x * 0.5).astype(x.dtype) if x.dtype.kind == "f" else x.copy())


def _names(given: Sequence[str] | None, default: list[str], n: int, what: str) -> list[str]:
    if given is None:
        return default
    if isinstance(given, str):
        given = [given]
    names = list(given)
    if len(names) != n or not all(isinstance(s, str) and s for s in names):
        raise ValueError(
            f"export_onnx: {what}_names must be {n} non-empty string"
            f"{'s' if n > 1 else ''} (one per model {what}), got {given!r}"
        )
    if len(set(names)) != n:
        raise ValueError(f"export_onnx: {what}_names must be unique, got {names}")
    return names


def _state(model: Module) -> tuple[dict[int, str], dict[str, list[str]], dict[str, np.ndarray]]:
    """Parameter/buffer names by id, every alias of each, and the state_dict arrays."""
    params: dict[int, str] = {}
    aliases: dict[str, list[str]] = {}
    state = {k: np.asarray(v.data) for k, v in model.state_dict().items()}
    named = list(model.named_parameters(remove_duplicate=False)) + list(
        model.named_buffers(remove_duplicate=False)
    )
    for name, t in named:
        first = params.setdefault(id(t), name)
        params.setdefault(id(t.data), first)
        aliases.setdefault(first, [])
        if name in state and name not in aliases[first]:
            aliases[first].append(name)
    return params, aliases, state


def _value_info(helper: Any, name: str, arr: np.ndarray, dyn: Sequence[bool], batch: Any) -> Any:
    dims: list[Any] = []
    for i, (d, moving) in enumerate(zip(arr.shape, dyn)):
        dims.append(("batch" if i == 0 else f"{name}_dim{i}") if moving else int(d))
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(arr.dtype), dims)


def export_onnx(
    model: Module,
    example_input: Any,
    path: str | os.PathLike[str],
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_batch: bool = True,
    opset: int = 17,
    verify: bool = True,
    external_data: bool = False,
) -> Path:
    """See :func:`chainrule.io.export_onnx` (the documented entry point)."""
    onnx = require("onnx", "export_onnx")
    from chainrule.io.onnx._convert import CONVERTERS

    if not isinstance(model, Module):
        raise TypeError(
            f"export_onnx: model must be a chainrule.nn.Module, got {type(model).__name__}"
        )
    top = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= top:
        raise ValueError(
            f"export_onnx: opset must be an int from {MIN_OPSET} to {top} (the "
            f"installed onnx {onnx.__version__}), got {opset!r}"
        )
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"export_onnx: {path} is a folder; give a file name such as {path / 'model.onnx'}"
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(f"export_onnx: the folder {path.parent} does not exist")
    xs, call, keys = _prepare(model, example_input)
    if dynamic_batch and any(t.data.ndim == 0 for t in xs):
        raise ValueError(
            "export_onnx: dynamic_batch=True needs inputs with a batch axis "
            "(axis 0); got a 0-d input (pass dynamic_batch=False)"
        )
    xs2 = [_variant(t, dynamic_batch) for t in xs]
    default_in = keys or (
        list(model.input_names)
        if isinstance(getattr(model, "input_names", None), list)
        and len(model.input_names) == len(xs)
        else ["input"]
        if len(xs) == 1
        else [f"input_{i}" for i in range(len(xs))]
    )
    in_names = _names(input_names, default_in, len(xs), "input")
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        t1, out_keys = run_trace(model, call, xs)
        t2, _ = run_trace(model, call, xs2)
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    n_out = len(t1.outputs)
    own = getattr(model, "output_names", None)
    default_out = out_keys or (
        list(own)
        if isinstance(own, list) and len(own) == n_out
        else ["output"]
        if n_out == 1
        else [f"output_{i}" for i in range(n_out)]
    )
    out_names = _names(output_names, default_out, n_out, "output")
    if set(out_names) & set(in_names):
        raise ValueError(
            f"export_onnx: input and output names overlap: {sorted(set(out_names) & set(in_names))}"
        )
    params, aliases, state = _state(model)
    batch = (xs[0].data.shape[0], xs2[0].data.shape[0]) if dynamic_batch else None
    ex = _Exporter(onnx, model, opset, (t1, t2), params, CONVERTERS, batch)
    for i, name in enumerate(in_names):
        ex.b.reserve(name)
        ex.names[("in", i)] = name
    for name in out_names:
        ex.b.reserve(name)
    for name in state:
        ex.b.reserve(name)
    results = ex.convert()
    proto = _assemble(
        ex, model, in_names, out_names, results, xs, xs2, t1, t2, aliases, state, dynamic_batch
    )
    onnx.checker.check_model(proto, full_check=True)
    if verify:
        _verify(proto, in_names, (xs, xs2), (t1, t2))
    return _write(onnx, proto, path, external_data)


def _assemble(
    ex: _Exporter,
    model: Module,
    in_names: list[str],
    out_names: list[str],
    results: list[str],
    xs: list[Tensor],
    xs2: list[Tensor],
    t1: Trace,
    t2: Trace,
    aliases: dict[str, list[str]],
    state: dict[str, np.ndarray],
    dynamic_batch: bool,
) -> Any:
    import chainrule

    onnx, helper, b = ex.onnx, ex.onnx.helper, ex.b
    produced = {o: node for node in b.nodes for o in node.output}
    renamed: dict[str, str] = {}
    for res, want in zip(results, out_names):
        if res in produced and res not in renamed:
            node = produced.pop(res)
            for j, o in enumerate(node.output):
                if o == res:
                    node.output[j] = want
            for other in b.nodes:
                for j, i in enumerate(other.input):
                    if i == res:
                        other.input[j] = want
            renamed[res] = want
        else:  # an input, a weight, or a value already given another output's name
            b.scope = ""
            b.op("Identity", [renamed.get(res, res)])
            b.nodes[-1].output[0] = want
    inputs = [
        _value_info(helper, n, t.data, [dynamic_batch and i == 0 for i in range(t.data.ndim)], None)
        for n, t in zip(in_names, xs)
    ]
    outputs = []
    for n, o1, o2 in zip(out_names, t1.outputs, t2.outputs):
        s1, s2 = o1.data.shape, o2.data.shape
        dyn = [a != c for a, c in zip(s1, s2)] if len(s1) == len(s2) else [True] * len(s1)
        outputs.append(_value_info(helper, n, o1.data, dyn, None))
    inits = [onnx.numpy_helper.from_array(a, n) for n, a in b.initializers.items()]
    mapping = {n: aliases[n] for n in b.initializers if n in aliases}
    covered = {k for keys in mapping.values() for k in keys}
    extra: dict[str, Any] = {}
    for key, arr in state.items():
        if key in covered:
            continue
        if arr.size <= _META_MAX:
            extra[key] = {
                "dtype": arr.dtype.str,
                "shape": list(arr.shape),
                "data": arr.reshape(-1).tolist(),
            }
        else:
            inits.append(onnx.numpy_helper.from_array(np.ascontiguousarray(arr), key))
            mapping[key] = [key]
    graph = helper.make_graph(
        b.nodes, getattr(model, "name", None) or type(model).__name__, inputs, outputs, inits
    )
    opsets = [helper.make_opsetid("", b.opset)]
    proto = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="chainrule",
        producer_version=str(getattr(chainrule, "__version__", "")),
    )
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    proto.doc_string = f"{type(model).__name__} exported by chainrule.io.export_onnx"
    helper.set_model_props(
        proto,
        {
            "chainrule.state_dict": json.dumps(mapping, sort_keys=True),
            "chainrule.extra_state": json.dumps(extra, sort_keys=True),
            "chainrule.state_keys": json.dumps(list(state)),
        },
    )
    return proto


def _verify(
    proto: Any,
    in_names: list[str],
    inputs: tuple[list[Tensor], list[Tensor]],
    traces: tuple[Trace, Trace],
) -> None:
    """Run the graph in onnxruntime on both traced inputs; compare with chainrule's outputs."""
    try:
        import onnxruntime as ort  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return
    if proto.ByteSize() >= _PROTOBUF_LIMIT:
        return
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(
            proto.SerializeToString(), opts, providers=["CPUExecutionProvider"]
        )
    except Exception as e:  # noqa: BLE001 (onnxruntime raises its own exception types)
        raise ExportError(f"export_onnx: onnxruntime cannot load the exported graph: {e}") from e
    for xs, trace in zip(inputs, traces):
        got = sess.run(None, {n: np.asarray(t.data) for n, t in zip(in_names, xs)})
        for k, (g, want) in enumerate(zip(got, trace.outputs)):
            w = np.asarray(want.data)
            if g.shape != w.shape:
                raise ExportError(
                    f"export_onnx: verification failed: output {k} has shape "
                    f"{g.shape} in onnxruntime, {w.shape} in chainrule"
                )
            if w.dtype.kind == "f":
                tol = 1e-4 if w.dtype.itemsize <= 4 else 1e-9
                scale = max(1.0, float(np.nanmax(np.abs(w))) if w.size else 1.0)
                err = float(np.nanmax(np.abs(g.astype(np.float64) - w))) if w.size else 0.0
                same_nan = np.array_equal(np.isnan(g), np.isnan(w))
                if not (err <= tol * scale and same_nan):
                    raise ExportError(
                        f"export_onnx: verification failed: output {k} differs from chainrule's "
                        f"forward by up to {err:.3g} in onnxruntime (tolerance {tol * scale:.3g})"
                        "; pass verify=False to write the file anyway, and please report it"
                    )
            elif not np.array_equal(g, w):
                raise ExportError(
                    f"export_onnx: verification failed: output {k} differs from "
                    "chainrule's forward in onnxruntime"
                )


def _write(onnx: Any, proto: Any, path: Path, external_data: bool) -> Path:
    from chainrule.io._atomic import atomic_write

    if not external_data and proto.ByteSize() < _PROTOBUF_LIMIT:
        atomic_write(path, proto.SerializeToString())
        return path
    from onnx.external_data_helper import set_external_data

    location = path.name + ".data"
    blob = bytearray()
    for t in proto.graph.initializer:
        raw = t.raw_data
        if len(raw) < 1024:
            continue
        pad = (-len(blob)) % 64
        blob += b"\0" * pad
        set_external_data(t, location=location, offset=len(blob), length=len(raw))
        blob += raw
        t.ClearField("raw_data")
        t.data_location = onnx.TensorProto.EXTERNAL
    atomic_write(path.with_name(location), bytes(blob))
    atomic_write(path, proto.SerializeToString())
    return path
