r"""ONNX export and weight import, so chainrule models run in onnxruntime and elsewhere.

- :func:`export_onnx`: trace a model on an example input and write an ONNX graph whose
  weights are initializers named by the model's ``state_dict`` keys.
- :func:`load_onnx_weights`: the initializers of an ONNX file as NumPy arrays, keyed by
  ``state_dict`` names when the file was written by :func:`export_onnx` (so
  ``model.load_state_dict(load_onnx_weights(path))`` brings weights back, e.g. after
  fine-tuning elsewhere and re-exporting).

Both need the optional packages ``onnx`` (and ``onnxruntime`` to verify an export):
``pip install 'chainrule[onnx]'``. Neither is imported until one of these functions runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["export_onnx", "load_onnx_weights"]


def export_onnx(
    model: Any,
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
    r"""Export ``model`` to an ONNX file by tracing its forward pass on ``example_input``.

    The model runs in eval mode (dropout is the identity, batch norm uses its running
    statistics; the previous modes are restored) and every chainrule op it calls is recorded
    and converted to ONNX nodes (see Note [op-level tracing] in
    :mod:`chainrule.io.onnx._trace`): ``Sequential`` models, functional ``chainrule.Model``
    graphs, the zoo's blocks and custom modules export alike. The model is traced twice, the
    second time on a batch one sample larger (``dynamic_batch``) or with other values, to
    find the batch axis of every shape and to refuse what a fixed graph cannot express
    (control flow on values, tensors built from NumPy inside ``forward``).

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
        dynamic_batch: make axis 0 of every input (and the outputs' batch axes) symbolic.
        opset: the ONNX operator set, from 13 to the installed ``onnx``'s newest.
        verify: compare onnxruntime's outputs with chainrule's (skipped if it is missing).
        external_data: store the weights in ``<path>.data`` next to the file (automatic
            above protobuf's 2 GiB).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ImportError: ``onnx`` is not installed (the message says how to install it).
        ValueError: an op or layer has no converter (the message names the layer, the op and
            lists what is supported), the model's two traces differ, bad arguments, or the
            verification failed.
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
        opset=opset,
        verify=verify,
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
