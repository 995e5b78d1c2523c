"""Pretrained weights in, from chainrule checkpoints or from PyTorch through safetensors.

chainrule layers use PyTorch's parameter names and layouts (``Conv2d.weight`` is
``(out, in, kh, kw)``, ``Linear.weight`` is ``(out, in)``, batch norm keeps
``running_mean``/``running_var``/``num_batches_tracked``), so a PyTorch ``state_dict`` of
the same architecture loads as is. The file between the two is safetensors: plain named
arrays, nothing to unpickle (a ``torch.save`` ``.pt`` file is a pickle, which
:func:`chainrule.load` refuses to open).

The path for real pretrained weights (torchvision's, a colleague's PyTorch model), in three
steps:

1. where PyTorch is installed, export once::

       import torch, torchvision
       from chainrule.io.torch_interop import export_torch_weights
       net = torchvision.models.resnet18(weights="IMAGENET1K_V1")
       export_torch_weights(net, "resnet18.safetensors")
       # or, with the safetensors package alone:
       # safetensors.torch.save_file(net.state_dict(), "resnet18.safetensors")

2. build the same architecture in chainrule (same layer names, or a ``rename`` mapping);
3. load the backbone, leave out the old head, freeze, train a new head::

       model = build_my_resnet18(num_classes=5)
       load_pretrained(model, "resnet18.safetensors", exclude=["fc."])
       for name, p in model.named_parameters():
           p.requires_grad_(name.startswith("fc."))

ImageNet models expect 3-channel 224x224 images normalised with ImageNet's mean and std;
the weights do not carry that, so apply the same ``Normalize`` the model was trained with.

PyTorch is imported inside :func:`export_torch_weights` and :func:`torch_state_dict_to_numpy`
only: chainrule itself never needs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.io.checkpoint import load, save

__all__ = ["export_torch_weights", "load_pretrained", "torch_state_dict_to_numpy"]


def torch_state_dict_to_numpy(module_or_state: Any) -> dict[str, np.ndarray]:
    """A PyTorch module's ``state_dict`` (or a ``state_dict``) as ``{name: ndarray}``:
    detached, on the CPU, contiguous; bfloat16 and float16 become float32 (NumPy has no
    bfloat16).

    Raises:
        TypeError: not a ``torch.nn.Module`` nor a mapping of tensors.

    Example:
        >>> import torch
        >>> sd = torch_state_dict_to_numpy(torch.nn.Linear(3, 2))
        >>> {k: v.shape for k, v in sd.items()}
        {'weight': (2, 3), 'bias': (2,)}
    """
    import torch

    state: Mapping[Any, Any]
    if isinstance(module_or_state, torch.nn.Module):
        state = module_or_state.state_dict()
    elif isinstance(module_or_state, Mapping):
        state = module_or_state
    else:
        raise TypeError(
            f"torch_state_dict_to_numpy: expected a torch.nn.Module or a state_dict, got "
            f"{type(module_or_state).__name__}"
        )
    out: dict[str, np.ndarray] = {}
    for k, v in state.items():
        if not isinstance(v, torch.Tensor):
            raise TypeError(
                f"torch_state_dict_to_numpy: entry {k!r} is a {type(v).__name__}, not a tensor"
            )
        t = v.detach().cpu()
        if t.dtype in (torch.bfloat16, torch.float16):
            t = t.float()
        out[str(k)] = np.array(t.numpy(), order="C")  # a copy; keeps 0-d arrays 0-d
    return out


def export_torch_weights(
    module_or_state: Any, path: str | os.PathLike, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write a PyTorch model's weights to a safetensors file that :func:`load_pretrained`
    (and :func:`chainrule.load`) reads, atomically. Needs PyTorch (imported here only).

    Example:
        >>> import torch, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "lin.safetensors")
        >>> _ = export_torch_weights(torch.nn.Linear(3, 2), p, metadata={"from": "torch"})
        >>> sorted(load(p))
        ['bias', 'weight']
    """
    return save(torch_state_dict_to_numpy(module_or_state), path, metadata=metadata)


def _renamer(rename: Any) -> Callable[[str], str]:
    if rename is None:
        return lambda k: k
    if callable(rename):
        return rename
    if isinstance(rename, Mapping):
        pairs = sorted(rename.items(), key=lambda kv: -len(kv[0]))  # longest prefix first

        def by_prefix(k: str) -> str:
            for old, new in pairs:
                if k.startswith(old):
                    return new + k[len(old) :]
            return k

        return by_prefix
    raise TypeError(
        f"load_pretrained: rename must be a mapping of key prefixes or a function, got "
        f"{type(rename).__name__}"
    )


def load_pretrained(
    model: Any,
    source: str | os.PathLike | Mapping[str, Any],
    exclude: Iterable[str] = (),
    rename: Mapping[str, str] | Callable[[str], str] | None = None,
    strict: bool = True,
) -> list[str]:
    """Load pretrained weights into ``model``, leaving out the layers named in ``exclude``
    (typically the old classification head, which the new task replaces).

    Args:
        model: the chainrule module to fill (its parameters are updated in place).
        source: a chainrule checkpoint of a ``state_dict`` (``chainrule.save``), a
            safetensors file exported from PyTorch, or a mapping ``{name: array}``.
        exclude: key prefixes to skip on both sides (``"fc."``, ``"classifier.4."``): those
            layers keep the model's own (fresh) initialisation.
        rename: map the file's key prefixes to the model's (``{"module.": ""}`` for a
            ``DataParallel`` checkpoint), or a function ``old_key -> new_key``; applied
            before ``exclude``.
        strict: every model key outside ``exclude`` must be in the file, and every file key
            outside ``exclude`` must be in the model.

    Returns:
        The model keys that were loaded.

    Raises:
        RuntimeError: with ``strict``, missing or unexpected keys (all listed, in PyTorch's
            wording), and always a shape mismatch (key, file shape, model shape).
        ValueError: the file holds something other than a flat mapping of arrays.

    Example:
        >>> import chainrule as cr
        >>> src, dst = cr.models.lenet5(num_classes=10), cr.models.lenet5(num_classes=5)
        >>> loaded = load_pretrained(dst, src.state_dict(), exclude=["11."])
        >>> len(loaded), bool((dst[0].weight.data == src[0].weight.data).all())
        (8, True)
    """
    if isinstance(source, (str, os.PathLike)):
        state = load(source)
        if isinstance(state, Mapping) and "state_dict" in state and "model" not in state:
            state = state["state_dict"]
    else:
        state = source
    if not isinstance(state, Mapping):
        raise ValueError(
            f"load_pretrained: expected a state_dict (a mapping of names to arrays), got "
            f"{type(state).__name__}"
        )
    name = _renamer(rename)
    skip = (exclude,) if isinstance(exclude, str) else tuple(exclude)
    picked: dict[str, Any] = {}
    for k, v in state.items():
        new = name(str(k))
        if skip and new.startswith(skip):
            continue
        if new in picked:
            raise ValueError(f"load_pretrained: two file keys map to {new!r} after rename")
        if isinstance(v, Mapping) or isinstance(v, (list, tuple, str)):
            raise ValueError(
                f"load_pretrained: entry {k!r} is a {type(v).__name__}, not an array; pass "
                f"the state_dict itself"
            )
        picked[new] = v
    own = [k for k in model.state_dict() if not (skip and k.startswith(skip))]
    own_set = set(own)
    missing = [k for k in own if k not in picked]
    unexpected = [k for k in picked if k not in own_set]
    if strict and (missing or unexpected):
        problems = []
        if missing:
            problems.append("Missing key(s) in state_dict: " + ", ".join(map(repr, missing)))
        if unexpected:
            problems.append("Unexpected key(s) in state_dict: " + ", ".join(map(repr, unexpected)))
        raise RuntimeError(
            f"load_pretrained into {type(model).__name__}: "
            + "; ".join(problems)
            + (f" (excluded prefixes: {', '.join(skip)})" if skip else "")
        )
    model.load_state_dict({k: v for k, v in picked.items() if k in own_set}, strict=False)
    return [k for k in own if k in picked]
