"""Safe checkpoints: safetensors arrays plus JSON, atomic writes, validated loads, no pickle.

``chainrule.save`` and ``chainrule.load`` are aliases of :func:`save` and :func:`load`.

- :func:`save` / :func:`load`: any nested structure of dicts, lists, tuples, numbers, strings,
  ``None``, NumPy arrays and tensors (a ``state_dict``, an optimizer state with int keys,
  RNG states with big ints, a DataLoader position) in one ``.safetensors`` file.
- :func:`read_metadata`: the header information without reading the arrays.
- :func:`atomic_write`: the temp-file + fsync + rename writer used by ``save``, for other
  files that must never be half-written (JSON manifests, CSV logs).
- :func:`is_temp_file`: recognises temporary files left by a killed writer
  (``.<name>.tmp-<pid>-<hex>``); skip them when looking for the latest checkpoint.
- :func:`load_array`: ``.npy``/``.npz``/``.safetensors`` user data, object arrays refused.
- :class:`CheckpointError`: a ``ValueError`` naming the file, for anything corrupt or foreign.

Example:
    >>> import numpy as np, tempfile, os, chainrule as cr
    >>> p = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> _ = cr.io.save({"step": 10, "w": np.arange(3.0)}, p)
    >>> cr.io.load(p)["step"]
    10
"""

from chainrule.io._atomic import atomic_write, clean_stale_temp_files, is_temp_file
from chainrule.io._errors import CheckpointError
from chainrule.io.arrays import load_array
from chainrule.io.checkpoint import FORMAT_VERSION, load, read_metadata, save
from chainrule.io.onnx import export_onnx, load_onnx_weights

__all__ = [
    "FORMAT_VERSION",
    "CheckpointError",
    "atomic_write",
    "clean_stale_temp_files",
    "export_onnx",
    "is_temp_file",
    "load",
    "load_array",
    "load_onnx_weights",
    "read_metadata",
    "save",
]
