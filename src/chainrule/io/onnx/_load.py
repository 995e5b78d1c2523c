"""``load_onnx_weights``: the initializers of an ONNX file, checked before anything is read.

Loading never runs code: an ONNX file is a protobuf message, parsed, never executed. Every
declared size is checked against what is really there before an array is made (RELIABILITY
D5): the element count from ``dims`` against the bytes present, external data against the
data file's length, and an external data path must name a plain file inside the ONNX file's
own folder (no absolute path, no ``..`` escape, no symbolic link: RELIABILITY D4).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.io._errors import CheckpointError
from chainrule.io.onnx import _require

__all__ = ["load_onnx_weights"]

_PROTOBUF_LIMIT = 2**31 - 1
_MAX_ELEMENTS = 2**40  # far above any real tensor; a larger declared count is a lie
_META_MAX = 4096
_JSON_MAX = 64 << 20


def _dtypes(onnx: Any) -> dict[int, tuple[np.dtype, str]]:
    """ONNX element types accepted, with the typed field that holds them when not raw."""
    T = onnx.TensorProto
    return {
        T.FLOAT: (np.dtype("float32"), "float_data"),
        T.DOUBLE: (np.dtype("float64"), "double_data"),
        T.FLOAT16: (np.dtype("float16"), "int32_data"),
        T.INT8: (np.dtype("int8"), "int32_data"),
        T.INT16: (np.dtype("int16"), "int32_data"),
        T.INT32: (np.dtype("int32"), "int32_data"),
        T.INT64: (np.dtype("int64"), "int64_data"),
        T.UINT8: (np.dtype("uint8"), "int32_data"),
        T.UINT16: (np.dtype("uint16"), "int32_data"),
        T.UINT32: (np.dtype("uint32"), "uint64_data"),
        T.UINT64: (np.dtype("uint64"), "uint64_data"),
        T.BOOL: (np.dtype("bool"), "int32_data"),
    }


def _external(path: Path, tensor: Any, nbytes: int) -> bytes:
    """The bytes of an initializer stored in an external file, after every check."""
    info = {e.key: e.value for e in tensor.external_data}
    where = f"initializer {tensor.name!r}"
    location = info.get("location", "")
    if not location:
        raise CheckpointError(path, f"{where} is external but names no file")
    rel = Path(location)
    if rel.is_absolute() or rel.drive or os.path.isabs(location):
        raise CheckpointError(
            path,
            f"{where}: external data path {location!r} is absolute; "
            "refused (it must be a file in the model's folder)",
        )
    folder = path.parent.resolve()
    target = folder / rel
    resolved = target.resolve()
    if os.path.commonpath([str(folder), str(resolved)]) != str(folder):
        raise CheckpointError(
            path,
            f"{where}: external data path {location!r} leaves the model's folder {folder}; refused",
        )
    probe = target
    while probe != folder and probe != probe.parent:
        if probe.is_symlink():
            raise CheckpointError(
                path,
                f"{where}: external data path {location!r} goes through a symbolic link; refused",
            )
        probe = probe.parent
    if not resolved.is_file():
        raise CheckpointError(
            path, f"{where}: external data file {location!r} is missing or not a plain file"
        )
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else nbytes
    except ValueError:
        raise CheckpointError(
            path, f"{where}: external data offset/length are not integers"
        ) from None
    size = resolved.stat().st_size
    if offset < 0 or length != nbytes or offset + nbytes > size:
        raise CheckpointError(
            path,
            f"{where}: declares {nbytes} bytes at offset {offset} "
            f"(length field {length}) in {location!r}, which holds "
            f"{size} bytes",
        )
    with open(resolved, "rb") as f:
        f.seek(offset)
        data = f.read(nbytes)
    if len(data) != nbytes:
        raise CheckpointError(path, f"{where}: {location!r} ended early")
    return data


def _array(
    onnx: Any, path: Path, tensor: Any, types: dict[int, tuple[np.dtype, str]]
) -> np.ndarray:
    where = f"initializer {tensor.name!r}"
    if tensor.data_type not in types:
        name = (
            onnx.TensorProto.DataType.Name(tensor.data_type)
            if tensor.data_type in onnx.TensorProto.DataType.values()
            else str(tensor.data_type)
        )
        raise CheckpointError(
            path, f"{where} has element type {name}; weights must be float, int or bool tensors"
        )
    dtype, field = types[tensor.data_type]
    dims = [int(d) for d in tensor.dims]
    if any(d < 0 for d in dims):
        raise CheckpointError(path, f"{where} declares a negative dimension {dims}")
    count = math.prod(dims)
    if count > _MAX_ELEMENTS:
        raise CheckpointError(path, f"{where} declares {count} elements ({dims}); refused")
    nbytes = count * dtype.itemsize
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        raw = _external(path, tensor, nbytes)
    elif tensor.HasField("raw_data"):
        raw = tensor.raw_data
        if len(raw) != nbytes:
            raise CheckpointError(
                path,
                f"{where} declares shape {dims} of {dtype} "
                f"({nbytes} bytes) but holds {len(raw)} bytes",
            )
    else:
        held = len(getattr(tensor, field))
        if held != count:
            raise CheckpointError(
                path, f"{where} declares shape {dims} ({count} values) but holds {held}"
            )
        return np.array(onnx.numpy_helper.to_array(tensor), dtype=dtype).reshape(dims)
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(dims)


def _json(path: Path, text: str, key: str) -> Any:
    if len(text) > _JSON_MAX:
        raise CheckpointError(path, f"metadata {key!r} is {len(text)} bytes; refused")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise CheckpointError(path, f"metadata {key!r} is not valid JSON ({e})") from None


def _extra_state(path: Path, raw: Any) -> dict[str, np.ndarray]:
    if not isinstance(raw, dict):
        raise CheckpointError(path, "metadata 'chainrule.extra_state' is not a JSON object")
    out = {}
    for key, spec in raw.items():
        try:
            dtype = np.dtype(str(spec["dtype"]))
            shape = [int(d) for d in spec["shape"]]
            data = spec["data"]
            ok = (
                dtype.kind in "biuf"
                and all(d >= 0 for d in shape)
                and math.prod(shape) <= _META_MAX
                and isinstance(data, list)
                and len(data) == math.prod(shape)
            )
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise CheckpointError(
                path, f"metadata entry {key!r} of 'chainrule.extra_state' is malformed"
            )
        out[str(key)] = np.asarray(data, dtype=dtype).reshape(shape)
    return out


def load_onnx_weights(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """See :func:`chainrule.io.load_onnx_weights` (the documented entry point)."""
    onnx = _require("onnx", "load_onnx_weights")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"load_onnx_weights: {p}: no such file"
            if not p.exists()
            else f"load_onnx_weights: {p} is not a file"
        )
    size = p.stat().st_size
    if size > _PROTOBUF_LIMIT:
        raise CheckpointError(
            p, f"{size} bytes is above the 2 GiB limit of an ONNX protobuf; not a valid ONNX model"
        )
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(p.read_bytes())
    except Exception as e:  # noqa: BLE001 (protobuf's DecodeError and friends)
        raise CheckpointError(p, f"not an ONNX model (the protobuf does not parse: {e})") from None
    if not proto.HasField("graph"):
        raise CheckpointError(p, "not an ONNX model (no graph)")
    types = _dtypes(onnx)
    arrays: dict[str, np.ndarray] = {}
    for t in proto.graph.initializer:
        if t.name in arrays:
            raise CheckpointError(p, f"initializer {t.name!r} appears twice")
        arrays[t.name] = _array(onnx, p, t, types)
    if len(proto.graph.sparse_initializer):
        raise CheckpointError(p, "sparse initializers are not supported")
    props = {m.key: m.value for m in proto.metadata_props}
    if "chainrule.state_dict" not in props:
        return arrays
    mapping = _json(p, props["chainrule.state_dict"], "chainrule.state_dict")
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(s, str) for s in v)
        for k, v in mapping.items()
    ):
        raise CheckpointError(
            p,
            "metadata 'chainrule.state_dict' is not a JSON object of "
            "initializer name -> list of state_dict keys",
        )
    out: dict[str, np.ndarray] = {}
    for init, keys in mapping.items():
        if init not in arrays:
            raise CheckpointError(
                p, f"metadata maps initializer {init!r}, which the graph does not hold"
            )
        for k in keys:
            out[k] = arrays[init] if k == keys[0] else arrays[init].copy()
    extra = _json(p, props.get("chainrule.extra_state", "{}"), "chainrule.extra_state")
    out.update(_extra_state(p, extra))
    order = _json(p, props.get("chainrule.state_keys", "[]"), "chainrule.state_keys")
    if isinstance(order, list) and all(isinstance(k, str) for k in order):
        rank = {k: i for i, k in enumerate(order)}
        out = dict(sorted(out.items(), key=lambda kv: rank.get(kv[0], len(rank))))
    return out
