"""``export_onnx``: the model traced twice, its ops converted, checked, verified, written."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.io.onnx import _require
from chainrule.io.onnx._exporter import Exporter
from chainrule.io.onnx._finish import assemble, verify, write
from chainrule.io.onnx._trace import run_trace
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["MIN_OPSET", "export_onnx"]

MIN_OPSET = 13

DynamicAxes = Mapping[str, Sequence[int] | Mapping[int, str]]


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


def _dynamic_axes(
    given: DynamicAxes | None, dynamic_batch: bool, names: list[str], xs: list[Tensor]
) -> dict[tuple[int, int], str]:
    """``{(input index, axis): dimension name}`` of the symbolic axes."""
    if given is None:
        if not dynamic_batch:
            return {}
        if any(t.data.ndim == 0 for t in xs):
            raise ValueError(
                "export_onnx: dynamic_batch=True needs inputs with a batch axis (axis 0); got a "
                "0-d input (pass dynamic_batch=False)"
            )
        return {(i, 0): "batch" for i in range(len(xs))}
    if not isinstance(given, Mapping):
        raise TypeError(
            "export_onnx: dynamic_axes must map input names to axes, e.g. "
            f"{{'input': [0, 1]}} or {{'input': {{0: 'batch', 1: 'length'}}}}; got {given!r}"
        )
    out: dict[tuple[int, int], str] = {}
    for key, axes in given.items():
        if key not in names:
            raise ValueError(
                f"export_onnx: dynamic_axes names {key!r}, which is not an input; inputs: "
                f"{names} (output axes follow from the inputs)"
            )
        i = names.index(key)
        nd = xs[i].data.ndim
        items = axes.items() if isinstance(axes, Mapping) else [(a, None) for a in axes]
        for a, dim in items:
            if isinstance(a, bool) or not isinstance(a, int) or not -nd <= a < nd:
                raise ValueError(
                    f"export_onnx: dynamic_axes[{key!r}]: axis {a!r} is not an axis of the "
                    f"{nd}-d example input {key!r}"
                )
            a %= nd
            out[(i, a)] = str(dim) if dim is not None else ("batch" if a == 0 else f"{key}_dim{a}")
    return out


def _variant(t: Tensor, growth: dict[int, int]) -> Tensor:
    """The second trace's input: each dynamic axis longer by its ``growth`` (its slices
    reversed, then the first ones again), or, with none, the same shape with other values."""
    x = t.data
    if not growth:
        if x.ndim and x.shape[0] > 1:
            return Tensor(np.ascontiguousarray(x[::-1]))
        return Tensor((x * 0.5).astype(x.dtype) if x.dtype.kind == "f" else x.copy())
    for axis, extra in growth.items():
        head = np.take(x, np.arange(extra) % x.shape[axis], axis=axis)
        x = np.concatenate([np.flip(x, axis), head], axis=axis)
    return Tensor(np.ascontiguousarray(x))


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


def export_onnx(
    model: Module,
    example_input: Any,
    path: str | os.PathLike[str],
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_batch: bool = True,
    dynamic_axes: DynamicAxes | None = None,
    opset: int = 17,
    verify_outputs: bool = True,
    external_data: bool = False,
) -> Path:
    """See :func:`chainrule.io.export_onnx` (the documented entry point)."""
    onnx = _require("onnx", "export_onnx")
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
    own_in = getattr(model, "input_names", None)
    if keys:
        default_in = keys
    elif isinstance(own_in, list) and len(own_in) == len(xs):
        default_in = list(own_in)
    else:
        default_in = ["input"] if len(xs) == 1 else [f"input_{i}" for i in range(len(xs))]
    in_names = _names(input_names, default_in, len(xs), "input")
    axis_names = _dynamic_axes(dynamic_axes, dynamic_batch, in_names, xs)
    growth_of = {n: k + 1 for k, n in enumerate(dict.fromkeys(axis_names.values()))}
    xs2 = [
        _variant(t, {a: growth_of[n] for (j, a), n in axis_names.items() if j == i})
        for i, t in enumerate(xs)
    ]
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        t1, out_keys = run_trace(model, call, xs)
        t2, _ = run_trace(model, call, xs2)
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    n_out = len(t1.outputs)
    own_out = getattr(model, "output_names", None)
    if out_keys:
        default_out = out_keys
    elif isinstance(own_out, list) and len(own_out) == n_out:
        default_out = list(own_out)
    else:
        default_out = ["output"] if n_out == 1 else [f"output_{i}" for i in range(n_out)]
    out_names = _names(output_names, default_out, n_out, "output")
    if set(out_names) & set(in_names):
        raise ValueError(
            f"export_onnx: input and output names overlap: {sorted(set(out_names) & set(in_names))}"
        )
    params, aliases, state = _state(model)
    dims: dict[tuple[int, int], tuple[int, int]] = {}
    for i, a in axis_names:
        dims.setdefault((xs[i].data.shape[a], xs2[i].data.shape[a]), (i, a))
    ex = Exporter(onnx, model, opset, (t1, t2), params, CONVERTERS, dims)
    for i, name in enumerate(in_names):
        ex.b.reserve(name)
        ex.names[("in", i)] = name
    for name in [*out_names, *state]:
        ex.b.reserve(name)
    results = ex.convert()
    proto = assemble(ex, in_names, out_names, results, axis_names, aliases, state)
    onnx.checker.check_model(proto, full_check=True)
    if verify_outputs:
        verify(proto, in_names, (xs, xs2), (t1, t2))
    return write(onnx, proto, path, external_data)
