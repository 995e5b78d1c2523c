"""The last steps of ``export_onnx``: the ModelProto assembled, verified in onnxruntime against
chainrule's own outputs, and written atomically (weights optionally in a ``.data`` file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.io.onnx import ExportError
from chainrule.io.onnx._exporter import Exporter
from chainrule.io.onnx._trace import Trace
from chainrule.tensor import Tensor

__all__ = ["assemble", "verify", "write"]

#: unused state entries (e.g. BatchNorm's num_batches_tracked) up to this size go in the
#: metadata as JSON; onnxruntime warns about unused initializers
_META_MAX = 4096
_PROTOBUF_LIMIT = 2**31 - 1


def _value_info(helper: Any, name: str, dtype: Any, dims: list[Any]) -> Any:
    return helper.make_tensor_value_info(
        name,
        helper.np_dtype_to_tensor_dtype(np.dtype(dtype)),
        [d if isinstance(d, str) else int(d) for d in dims],
    )


def assemble(
    ex: Exporter,
    in_names: list[str],
    out_names: list[str],
    results: list[str],
    axis_names: dict[tuple[int, int], str],
    aliases: dict[str, list[str]],
    state: dict[str, np.ndarray],
) -> Any:
    """The ModelProto: the converted nodes, inputs and outputs (dynamic axes named), the
    weights as initializers, and the metadata that maps them back to ``state_dict`` keys."""
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
    by_pair = {pair: axis_names[src] for pair, src in ex.dims.items()}
    inputs = []
    for i, (n, t) in enumerate(zip(in_names, ex.t1.inputs)):
        dims = [axis_names.get((i, a), d) for a, d in enumerate(t.data.shape)]
        inputs.append(_value_info(helper, n, t.data.dtype, dims))
    outputs = []
    for n, o1, o2 in zip(out_names, ex.t1.outputs, ex.t2.outputs):
        s1, s2 = o1.data.shape, o2.data.shape
        dims = [
            d1 if d1 == d2 else by_pair.get((d1, d2), f"{n}_dim{a}")
            for a, (d1, d2) in enumerate(zip(s1, s2 if len(s2) == len(s1) else (-1,) * len(s1)))
        ]
        outputs.append(_value_info(helper, n, o1.data.dtype, dims))
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
    model = ex.model
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


def verify(
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


def write(onnx: Any, proto: Any, path: Path, external_data: bool) -> Path:
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
