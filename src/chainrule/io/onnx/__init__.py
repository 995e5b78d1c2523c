r"""ONNX export and weight import, so chainrule models run in onnxruntime and elsewhere.

- :func:`export_onnx`: trace a model on an example input and write an ONNX graph whose
  weights are initializers named by the model's ``state_dict`` keys.
- :func:`load_onnx_weights`: the initializers of an ONNX file as NumPy arrays, keyed by
  ``state_dict`` names when the file was written by :func:`export_onnx` (so
  ``model.load_state_dict(load_onnx_weights(path))`` brings weights back, e.g. after
  fine-tuning elsewhere and re-exporting).

What exports: ``Sequential`` models, functional ``chainrule.Model`` graphs, the zoo and its
blocks, and custom modules, as long as their forward uses chainrule ops that have a
converter: linear layers, convolutions (every padding mode, dilation, groups) and transposed
convolutions, max/average/adaptive/Lp pooling, batch and layer norm, embeddings, dropout
(eval: the identity), RNN/LSTM/GRU layers, the activations, merges, and the tensor methods
(arithmetic, reductions, reshapes, indexing, comparisons). An op without one is an
:class:`ExportError` naming the layer that used it.

Both need the optional packages ``onnx`` (and ``onnxruntime`` to verify an export):
``pip install 'chainrule[onnx]'``. Neither is imported until one of these functions runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ExportError", "export_onnx", "load_onnx_weights"]


class ExportError(ValueError):
    """A model that cannot be expressed as an ONNX graph; the message names the layer and the
    op, and what would make it exportable."""


def _require(name: str, what: str) -> Any:
    """Import ``onnx`` or ``onnxruntime``, or say how to install them."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ImportError(
            f"{what} needs the {name!r} package, which is not installed: "
            f"pip install 'chainrule[onnx]' ({e})"
        ) from None


def export_onnx(
    model: Any,
    example_input: Any,
    path: str | os.PathLike[str],
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_batch: bool = True,
    dynamic_axes: Mapping[str, Sequence[int] | Mapping[int, str]] | None = None,
    opset: int = 17,
    verify: bool = True,
    external_data: bool = False,
) -> Path:
    r"""Export ``model`` to an ONNX file by tracing its forward pass on ``example_input``.

    The model runs in eval mode (dropout is the identity, batch norm uses its running
    statistics; the previous modes are restored) and every chainrule op it calls is recorded
    and converted to ONNX nodes (see Note [op-level tracing] in
    :mod:`chainrule.io.onnx._trace`): ``Sequential`` models, functional ``chainrule.Model``
    graphs, the zoo's blocks and custom modules export alike. The model is traced twice, the
    second time with each dynamic axis longer (one more sample for ``dynamic_batch``) or
    with other values, to find which sizes in every shape follow the inputs and to refuse
    what a fixed graph cannot express (control flow on values, tensors built from NumPy
    inside ``forward``).

    The graph computes :math:`y = f_\theta(x)` with :math:`\theta` stored as initializers
    named by ``state_dict`` keys (``features.0.conv.weight``); the graph is checked with
    ``onnx.checker`` and, when ``onnxruntime`` is installed and ``verify``, run on both
    traced inputs and compared with chainrule's outputs (max error :math:`\le 10^{-4}`
    relative for float32) before anything is written. The file is written atomically.

    Args:
        model: a ``chainrule.nn.Module``.
        example_input: a Tensor or NumPy array, a tuple/list of them (positional inputs) or
            a dict (keyword inputs, e.g. a functional model's named inputs).
        path: the ``.onnx`` file to write.
        input_names, output_names: graph value names; by default a functional model's own
            names, a dict's keys, else ``input``/``output`` (``input_0``, ... when several).
        dynamic_batch: make axis 0 of every input symbolic (named ``batch``; for a
            time-major recurrent model that axis is the sequence length).
        dynamic_axes: instead, the symbolic axes of each input, by input name:
            ``{"tokens": [0, 1]}`` or ``{"tokens": {0: "batch", 1: "length"}}``. Axes with
            the same name must have the same size. The outputs' symbolic axes follow.
        opset: the ONNX operator set, from 13 to the installed ``onnx``'s newest.
        verify: compare onnxruntime's outputs with chainrule's (skipped if it is missing).
        external_data: store the weights in ``<path>.data`` next to the file (automatic
            above protobuf's 2 GiB).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ImportError: ``onnx`` is not installed (the message says how to install it).
        ExportError: (a ``ValueError``) an op or layer has no converter (the message names
            the layer, the op and lists what is supported), the model's two traces differ,
            or the verification failed.
        ValueError: bad arguments (opset, names, dynamic axes).
        TypeError: ``model`` is not a Module or ``example_input`` holds something else.

    Example:
        >>> import os, tempfile, numpy as np, chainrule as cr
        >>> model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 3))
        >>> path = os.path.join(tempfile.mkdtemp(), "mlp.onnx")
        >>> cr.io.export_onnx(model, cr.randn(2, 4), path).name
        'mlp.onnx'
        >>> sorted(cr.io.load_onnx_weights(path))
        ['0.bias', '0.weight', '2.bias', '2.weight']
    """
    from chainrule.io.onnx._export import export_onnx as _export

    return _export(
        model,
        example_input,
        path,
        input_names=input_names,
        output_names=output_names,
        dynamic_batch=dynamic_batch,
        dynamic_axes=dynamic_axes,
        opset=opset,
        verify_outputs=verify,
        external_data=external_data,
    )


def load_onnx_weights(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The weights (initializers) of an ONNX file as NumPy arrays.

    For a file written by :func:`export_onnx` the keys are the model's ``state_dict`` keys
    (every one of them: entries the graph does not use, like batch norm's
    ``num_batches_tracked``, travel in the file's metadata), so
    ``model.load_state_dict(load_onnx_weights(path))`` restores the model. For any other ONNX
    file the keys are the initializer names.

    Loading never runs code (ONNX is a protobuf message), and every declared size is checked
    before an array is made; external data must be a plain file inside the model's folder.

    Raises:
        ImportError: ``onnx`` is not installed.
        FileNotFoundError: no such file.
        chainrule.io.CheckpointError: (a ``ValueError``) the file is not ONNX, is corrupt,
            declares sizes it does not hold, or points outside its folder.

    Example:
        >>> import chainrule as cr
        >>> weights = cr.io.load_onnx_weights("model.onnx")  # doctest: +SKIP
    """
    from chainrule.io.onnx._load import load_onnx_weights as _load

    return _load(path)
