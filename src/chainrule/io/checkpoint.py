"""``save`` / ``load``: checkpoints as one safetensors file, arrays plus JSON, never pickle.

A checkpoint is any nested structure of dicts (``str`` or ``int`` keys), lists, tuples,
``str``, ``int`` (any size), ``float`` (``nan``/``inf`` included), ``bool``, ``None``, NumPy
arrays and chainrule tensors: a model's ``state_dict()``, or
``{"model": ..., "optimizer": opt.state_dict(), "rng": ..., "loader": loader.state_dict(),
"epoch": 3}``.

File layout (an ordinary safetensors file):

- every array goes into the safetensors tensor table, little-endian, bit for bit (``-0.0``
  and NaN payloads survive), named after its path in the structure: ``model.fc.weight``,
  ``optimizer.state.3.exp_avg`` (a flat ``state_dict`` therefore keeps its own keys, and
  ``safetensors.torch.load_file`` opens the file as PyTorch users expect);
- everything else is JSON in the safetensors ``__metadata__`` under the key ``"chainrule"``:
  ``{"format": "chainrule", "format_version": 1, "chainrule_version": ..., "metadata": ...,
  "root": ...}`` where arrays appear as ``{"$array": name}``, non-finite floats as
  ``{"$float": "nan"}``, tuples as ``{"$tuple": [...]}`` and dicts with int keys (or keys
  starting with ``$``) as ``{"$dict": [[key, value], ...]}``;
- ``"chainrule_sha256"`` in ``__metadata__``: a SHA-256 of that JSON and of every tensor's
  name, dtype, shape and bytes, so a flipped byte that still parses is detected on load (an
  integrity check against corruption, not a signature).

``load`` returns the same structure with NumPy arrays (tensors come back as arrays), dicts as
plain ``dict`` (key types and order preserved) and tuples as tuples. A safetensors file
written by another tool loads as a flat ``{name: array}`` dict.

Writes are atomic (:func:`chainrule.io.atomic_write`); loads validate every byte of the
header and structure first (:mod:`chainrule.io._format`) and raise
:class:`~chainrule.io.CheckpointError` naming the file.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.io._atomic import atomic_write
from chainrule.io._errors import CheckpointError
from chainrule.io._format import DTYPES, read_safetensors
from chainrule.io._json import MAX_DEPTH, MAX_INT_DIGITS, JSONLimitError, dumps, loads

__all__ = ["FORMAT_VERSION", "load", "read_metadata", "save"]

FORMAT_VERSION = 1
_META_KEY = "chainrule"
_SUM_KEY = "chainrule_sha256"
_SUPPORTED = {np.dtype(d).newbyteorder("=") for d in DTYPES.values()}
_SUPPORTED_TEXT = (
    "dict (str or int keys), list, tuple, str, int, float, bool, None, numpy arrays and "
    "chainrule tensors"
)


def _version() -> str:
    import chainrule

    return str(getattr(chainrule, "__version__", "unknown"))


# ---------------------------------------------------------------- encoding (save)


class _Encoder:
    def __init__(self, allow_arrays: bool = True) -> None:
        self.tensors: dict[str, np.ndarray] = {}
        self.allow_arrays = allow_arrays

    def _name(self, path: str) -> str:
        base = path or "tensor"
        name, k = base, 1
        while name in self.tensors:
            name = f"{base}#{k}"
            k += 1
        return name

    def _array(self, arr: np.ndarray, path: str) -> dict[str, str]:
        if not self.allow_arrays:
            raise TypeError(
                f"chainrule.io.save: metadata at {path or '<root>'} holds an array; "
                f"metadata must be JSON-like (use the object for arrays)"
            )
        if arr.dtype.newbyteorder("=") not in _SUPPORTED:
            raise TypeError(
                f"chainrule.io.save: the array at {path or '<root>'} has dtype {arr.dtype}; "
                f"supported dtypes: " + ", ".join(sorted(str(d) for d in _SUPPORTED))
            )
        if not arr.flags.c_contiguous:  # (np.ascontiguousarray would turn 0-d into 1-d)
            arr = arr.copy(order="C")
        if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and np.little_endian is False):
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        name = self._name(path)
        self.tensors[name] = arr
        return {"$array": name}

    def encode(self, obj: Any, path: str = "", depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError(
                f"chainrule.io.save: the structure nests deeper than {MAX_DEPTH} levels at "
                f"{path}; flatten it"
            )
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, (int, np.integer)):
            v = int(obj)
            if len(str(abs(v))) > MAX_INT_DIGITS:
                raise ValueError(
                    f"chainrule.io.save: the int at {path or '<root>'} has more than "
                    f"{MAX_INT_DIGITS} digits; store it as a string"
                )
            return v
        if isinstance(obj, (float, np.floating)):
            f = float(obj)
            if math.isfinite(f):
                return f
            return {"$float": "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf")}
        if isinstance(obj, np.ndarray):
            return self._array(obj, path)
        from chainrule.tensor import Tensor

        if isinstance(obj, Tensor):
            from chainrule.backend import to_numpy

            return self._array(to_numpy(obj.data), path)
        if isinstance(obj, Mapping):
            return self._mapping(obj, path, depth)
        if isinstance(obj, (list, tuple)):
            items = [
                self.encode(v, f"{path}.{i}" if path else str(i), depth + 1)
                for i, v in enumerate(obj)
            ]
            return {"$tuple": items} if isinstance(obj, tuple) else items
        hint = ""
        if hasattr(obj, "state_dict") and callable(obj.state_dict):  # a model, an optimizer
            hint = (
                "; a checkpoint holds data, not objects: save its state_dict() and load it "
                "back with load_state_dict()"
            )
        raise TypeError(
            f"chainrule.io.save: cannot save the value at {path or '<root>'} of type "
            f"{type(obj).__module__}.{type(obj).__qualname__}; supported: {_SUPPORTED_TEXT}"
            f"{hint}"
        )

    def _mapping(self, obj: Mapping, path: str, depth: int) -> Any:
        plain = True
        pairs = []
        for k, v in obj.items():
            if isinstance(k, np.integer):
                k = int(k)
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(
                    f"chainrule.io.save: the dict at {path or '<root>'} has a key {k!r} of type "
                    f"{type(k).__name__}; keys must be str or int"
                )
            if not isinstance(k, str) or k.startswith("$"):
                plain = False
            child = f"{path}.{k}" if path else str(k)
            pairs.append((k, self.encode(v, child, depth + 1)))
        if plain:
            return dict(pairs)
        return {"$dict": [[k, v] for k, v in pairs]}


def save(obj: Any, path: str | os.PathLike, metadata: Mapping[str, Any] | None = None) -> Path:
    """Save ``obj`` to ``path`` as a safetensors file, atomically.

    Arrays are stored bit for bit in the tensor table; the rest of the structure, the
    chainrule version, the format version and ``metadata`` go as JSON in the safetensors
    header (see the module docstring for the layout). The write goes to a temporary file in
    the same folder (``.<name>.tmp-<pid>-<hex>``), is fsynced and renamed over ``path``, so
    a crash leaves either the old file or the new one.

    Args:
        obj: a nested structure of dicts (str/int keys), lists, tuples, str, int, float, bool,
            None, NumPy arrays and chainrule tensors.
        path: the file to write (conventionally ``*.safetensors``).
        metadata: optional JSON-like extra information (no arrays), returned by
            :func:`read_metadata`.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: an unsupported value or key type, naming its path in the structure.
        ValueError: nesting deeper than 64 levels or an int longer than 1000 digits.
        OSError: the write failed (the previous file is unchanged).

    Example:
        >>> import numpy as np, tempfile, os, chainrule as cr
        >>> p = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
        >>> _ = cr.save({"w": np.ones(2, np.float32), "epoch": 3, "opt": {0: {"step": 7}}}, p)
        >>> cr.load(p)
        {'w': array([1., 1.], dtype=float32), 'epoch': 3, 'opt': {0: {'step': 7}}}
    """
    from safetensors.numpy import save as st_save  # optional dependency ("train" extra)

    enc = _Encoder()
    root = enc.encode(obj)
    user_meta = None if metadata is None else _Encoder(allow_arrays=False).encode(dict(metadata))
    doc = {
        "format": "chainrule",
        "format_version": FORMAT_VERSION,
        "chainrule_version": _version(),
        "metadata": user_meta,
        "root": root,
    }
    text = dumps(doc)
    meta = {_META_KEY: text, _SUM_KEY: _digest(text, enc.tensors)}
    data = st_save(enc.tensors, metadata=meta)
    return atomic_write(path, data)


# ---------------------------------------------------------------- decoding (load)


class _Decoder:
    def __init__(self, path: str, tensors: dict[str, np.ndarray]) -> None:
        self.path = path
        self.tensors = tensors
        self.used: set[str] = set()

    def fail(self, where: str, what: str) -> CheckpointError:
        return CheckpointError(
            self.path, f"the stored structure is invalid at {where or '<root>'}: {what}"
        )

    def decode(self, node: Any, where: str = "", depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(where, f"nesting deeper than {MAX_DEPTH} levels")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v, f"{where}.{i}", depth + 1) for i, v in enumerate(node)]
        if not isinstance(node, dict):  # pragma: no cover - JSON has no other types
            raise self.fail(where, f"unexpected {type(node).__name__}")
        tags = [k for k in node if k.startswith("$")]
        if not tags:
            return {k: self.decode(v, f"{where}.{k}", depth + 1) for k, v in node.items()}
        if len(node) != 1:
            raise self.fail(where, f"a tagged value must have one key, got {list(node)[:5]}")
        tag, val = tags[0], node[tags[0]]
        if tag == "$array":
            if not isinstance(val, str) or val not in self.tensors:
                raise self.fail(
                    where,
                    f"it refers to a tensor {str(val)[:80]!r} that is not stored in the file "
                    f"({len(self.tensors)} tensors are)",
                )
            self.used.add(val)
            return self.tensors[val]
        if tag == "$float":
            special = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
            if val not in special:
                raise self.fail(where, f"$float must be 'nan', 'inf' or '-inf', got {val!r}")
            return special[val]
        if tag == "$tuple":
            if not isinstance(val, list):
                raise self.fail(where, "$tuple must hold a list")
            return tuple(self.decode(v, f"{where}.{i}", depth + 1) for i, v in enumerate(val))
        if tag == "$dict":
            if not isinstance(val, list):
                raise self.fail(where, "$dict must hold a list of [key, value] pairs")
            out: dict[Any, Any] = {}
            for pair in val:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise self.fail(where, "$dict entries must be [key, value] pairs")
                k, v = pair
                if isinstance(k, bool) or not isinstance(k, (str, int)):
                    raise self.fail(where, f"dict key {str(k)[:40]!r} is not a str or int")
                if k in out:
                    raise self.fail(where, f"duplicate dict key {str(k)[:40]!r}")
                out[k] = self.decode(v, f"{where}.{k}", depth + 1)
            return out
        raise self.fail(where, f"unknown tag {tag[:40]!r}")


def _digest(text: str, tensors: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over the structure JSON and every tensor's name, dtype, shape and bytes.

    An integrity check against corruption (a flipped byte that still parses), not a
    signature: whoever can write the file can recompute it.
    """
    h = hashlib.sha256(text.encode("utf-8"))
    for name in sorted(tensors):
        a = tensors[name]
        h.update(f"\0{name}\0{a.dtype.newbyteorder('<').str}\0{a.shape}\0".encode())
        if a.size:
            h.update(a.reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def _parse_doc(path: str, meta: dict[str, str] | None) -> dict[str, Any] | None:
    if meta is None or _META_KEY not in meta:
        if meta is not None and _SUM_KEY in meta:
            raise CheckpointError(
                path, f"the header has {_SUM_KEY!r} but no {_META_KEY!r} entry; it is corrupt"
            )
        return None
    if _SUM_KEY not in meta:
        raise CheckpointError(
            path, f"the chainrule metadata has no {_SUM_KEY!r} checksum; the file is corrupt"
        )
    try:
        doc = loads(meta[_META_KEY])
    except JSONLimitError as e:
        raise CheckpointError(path, f"the chainrule metadata is invalid: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != "chainrule" or "root" not in doc:
        raise CheckpointError(
            path, "the chainrule metadata is not an object with format='chainrule' and a root"
        )
    version = doc.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(path, f"invalid format_version {str(version)[:40]!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            path,
            f"written with checkpoint format {version} (chainrule "
            f"{str(doc.get('chainrule_version'))[:20]}); this chainrule ({_version()}) reads "
            f"format {FORMAT_VERSION} and older; upgrade chainrule",
        )
    return doc


def load(path: str | os.PathLike, *, follow_symlinks: bool = False) -> Any:
    """Load a checkpoint written by :func:`save` (or any safetensors file).

    Every byte of the header is checked before data is read: sizes, dtypes, shapes against
    offsets, overlaps, trailing bytes, the metadata JSON (size, depth, number lengths) and
    that every array placeholder resolves to a stored tensor (and every stored tensor is
    used), then the SHA-256 checksum of structure and data. Nothing is unpickled and
    nothing named in the file is imported.

    Args:
        path: the checkpoint file.
        follow_symlinks: symbolic links are refused unless ``True`` (a planted link cannot
            redirect the read).

    Returns:
        The saved structure with NumPy arrays (tensors come back as arrays; mappings as
        ``dict`` with key types preserved; tuples as tuples). A plain safetensors file
        without chainrule metadata gives ``{name: array}``.

    Raises:
        CheckpointError: (a ``ValueError``) the file is corrupt, truncated, crafted, a link,
            or another format (pickle, ``torch.save``, ``.npz``, ``.npy``), with the file
            name, what was declared and what is there.
        OSError: the file is missing or unreadable.

    Example:
        >>> import numpy as np, tempfile, os, chainrule as cr
        >>> p = os.path.join(tempfile.mkdtemp(), "w.safetensors")
        >>> _ = cr.save({"fc.weight": np.zeros((2, 3), np.float32)}, p)
        >>> cr.load(p)["fc.weight"].shape
        (2, 3)
    """
    p = os.fspath(path)
    tensors, meta = read_safetensors(p, follow_symlinks=follow_symlinks)
    doc = _parse_doc(p, meta)
    if doc is None:
        return tensors
    stored = meta if meta is not None else {}
    if _digest(stored[_META_KEY], tensors) != stored[_SUM_KEY]:
        raise CheckpointError(
            p,
            "checksum mismatch: the contents do not match the SHA-256 recorded when the file "
            "was saved; the file is corrupt (a flipped or overwritten byte)",
        )
    dec = _Decoder(p, tensors)
    obj = dec.decode(doc["root"])
    unused = [n for n in tensors if n not in dec.used]
    if unused:
        raise CheckpointError(
            p,
            f"{len(unused)} stored tensors are not referenced by the stored structure "
            f"(e.g. {unused[0][:80]!r}); the file is corrupt or was edited",
        )
    return obj


def read_metadata(path: str | os.PathLike, *, follow_symlinks: bool = False) -> dict[str, Any]:
    """The ``metadata`` passed to :func:`save`, plus ``chainrule_version`` and
    ``format_version``, reading and validating only the header (no tensor data).

    Returns ``{}`` for a safetensors file without chainrule metadata.

    Example:
        >>> import tempfile, os, chainrule as cr
        >>> p = os.path.join(tempfile.mkdtemp(), "m.safetensors")
        >>> _ = cr.save({"epoch": 1}, p, metadata={"note": "hi"})
        >>> read_metadata(p)["metadata"]
        {'note': 'hi'}
    """
    p = os.fspath(path)
    _, meta = read_safetensors(p, read_data=False, follow_symlinks=follow_symlinks)
    doc = _parse_doc(p, meta)
    if doc is None:
        return {}
    user = _Decoder(p, {}).decode(doc.get("metadata"), "metadata")
    return {
        "chainrule_version": doc.get("chainrule_version"),
        "format_version": doc["format_version"],
        "metadata": user,
    }
