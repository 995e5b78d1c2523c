"""Shared by the optimizer tests: the same small MLP in chainrule and PyTorch, fixed batches,
and a state-dict serializer (arrays through safetensors bytes, the rest through JSON)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

import chainrule as cr

TORCH_DTYPE = {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64}
# relative tolerance of the step-for-step comparison (issue 4)
STEP_RTOL = {np.dtype("float32"): 1e-5, np.dtype("float64"): 1e-10}


class CrMLP(cr.nn.Module):
    """6-8-4 with tanh (fc1 -> tanh -> fc2)."""

    def __init__(self, sizes: tuple[int, int, int] = (6, 8, 4)) -> None:
        super().__init__()
        self.fc1 = cr.nn.Linear(sizes[0], sizes[1])
        self.fc2 = cr.nn.Linear(sizes[1], sizes[2])

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.fc2(self.fc1(x).tanh())


class TorchMLP(torch.nn.Module):
    def __init__(self, sizes: tuple[int, int, int] = (6, 8, 4)) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(sizes[0], sizes[1])
        self.fc2 = torch.nn.Linear(sizes[1], sizes[2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.tanh(self.fc1(x)))


def model_pair(dtype: Any, seed: int = 0) -> tuple[CrMLP, TorchMLP]:
    """Identical weights in both frameworks."""
    d = np.dtype(dtype)
    torch.manual_seed(seed)
    tm = TorchMLP().to(TORCH_DTYPE[d])
    cm = CrMLP().to(d)
    cm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    return cm, tm


def batches(dtype: Any, n: int = 10, batch: int = 5, seed: int = 1) -> list[tuple[Any, Any]]:
    rng = np.random.default_rng(seed)
    d = np.dtype(dtype)
    return [
        (rng.normal(size=(batch, 6)).astype(d), rng.normal(size=(batch, 4)).astype(d))
        for _ in range(n)
    ]


def cr_loss(model: CrMLP, x: Any, y: Any) -> cr.Tensor:
    """MSE with engine ops (the loss module may not exist yet)."""
    diff = model(cr.tensor(x)) - cr.tensor(y)
    return (diff * diff).mean()


def torch_loss(model: TorchMLP, x: Any, y: Any) -> torch.Tensor:
    diff = model(torch.from_numpy(x)) - torch.from_numpy(y)
    return (diff * diff).mean()


def flat(params: Any) -> np.ndarray:
    return np.concatenate(
        [
            np.asarray(p.detach().numpy() if isinstance(p, torch.Tensor) else p.data).ravel()
            for p in params
        ]
    )


# ---- serialization: arrays as safetensors bytes, everything else as JSON ----
def to_bytes(state: Any) -> tuple[str, bytes]:
    """Split a (nested) state dict into a JSON string and a safetensors blob."""
    from safetensors.numpy import save

    arrays: dict[str, np.ndarray] = {}

    def walk(obj: Any, path: str) -> Any:
        if isinstance(obj, np.ndarray):
            arrays[path] = np.ascontiguousarray(obj)
            return {"__array__": path}
        if isinstance(obj, dict):
            return {str(k): walk(v, f"{path}.{k}") for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [walk(v, f"{path}.{i}") for i, v in enumerate(obj)]
        if isinstance(obj, (bool, int, float, str)) or obj is None:
            return obj
        raise TypeError(f"not serializable: {path} is a {type(obj).__name__}")

    text = json.dumps(walk(state, "s"))
    return text, save(arrays) if arrays else b""


def from_bytes(text: str, blob: bytes) -> Any:
    from safetensors.numpy import load

    arrays = load(blob) if blob else {}

    def walk(obj: Any) -> Any:
        if isinstance(obj, dict):
            if set(obj) == {"__array__"}:
                return arrays[obj["__array__"]]
            return {k: walk(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        return obj

    return walk(json.loads(text))


def roundtrip(state: Any) -> Any:
    return from_bytes(*to_bytes(state))
