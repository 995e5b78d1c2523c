"""Helpers shared by the table-driven tests: PyTorch conversion, tolerances, module parity.

Tolerances live here, in one place: forward and gradient comparisons with PyTorch use
``TOL[dtype]``; finite-difference checks use ``GRADCHECK`` (float64).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

import chainrule as cr

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))  # see conftest

TOL = {
    np.dtype("float32"): {"rtol": 1e-4, "atol": 1e-5},
    np.dtype("float64"): {"rtol": 1e-7, "atol": 1e-9},
}
GRADCHECK = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3}

TORCH_DTYPE = {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64}


def to_torch(a: Any, requires_grad: bool = False) -> torch.Tensor:
    arr = np.asarray(a.data if isinstance(a, cr.Tensor) else a)
    t = torch.from_numpy(arr.copy())
    if requires_grad:
        t.requires_grad_(True)
    return t


def assert_close(
    actual: Any, expected: Any, dtype: Any = None, what: str = "", **tol: float
) -> None:
    a = np.asarray(actual.data if isinstance(actual, cr.Tensor) else actual)
    e = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    d = np.dtype(dtype) if dtype is not None else (a.dtype if a.dtype.kind == "f" else None)
    kw = dict(TOL.get(d, TOL[np.dtype("float64")]))
    kw.update(tol)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != expected {e.shape}"
    np.testing.assert_allclose(a, e, err_msg=what, equal_nan=True, **kw)


@contextmanager
def swapped_parameters(module: cr.nn.Module, params: dict[str, cr.Tensor]):
    """Temporarily replace a module's parameters by the given tensors (by dotted name)."""
    saved = []
    for name, t in params.items():
        *path, leaf = name.split(".")
        m = module
        for p in path:
            m = m._modules[p]
        saved.append((m, leaf, m._parameters[leaf]))
        m._parameters[leaf] = t
    try:
        yield
    finally:
        for m, leaf, old in saved:
            m._parameters[leaf] = old


def module_parity(
    cr_mod: cr.nn.Module,
    torch_mod: torch.nn.Module,
    inputs: Sequence[np.ndarray],
    dtype: Any = np.float32,
    train: bool = True,
    seed: int = 0,
    input_grad: bool = True,
    **tol: float,
) -> None:
    """Load torch's weights into chainrule, then compare the output, the gradient of every
    input and of every parameter under a random upstream gradient (not all ones)."""
    d = np.dtype(dtype)
    torch_mod = torch_mod.to(TORCH_DTYPE[d])
    cr_mod.to(d)
    missing = cr_mod.load_state_dict(
        {k: v.detach().numpy() for k, v in torch_mod.state_dict().items()}
    )
    assert not missing.missing_keys and not missing.unexpected_keys
    cr_mod.train(train)
    torch_mod.train(train)
    xs = [np.asarray(x) for x in inputs]
    xs = [x.astype(d) if x.dtype.kind == "f" else x for x in xs]
    cx = [cr.tensor(x, requires_grad=input_grad and x.dtype.kind == "f") for x in xs]
    tx = [to_torch(x, requires_grad=input_grad and x.dtype.kind == "f") for x in xs]
    out = cr_mod(*cx)
    tout = torch_mod(*tx)
    assert_close(out, tout, d, "forward", **tol)
    u = np.random.default_rng(seed).uniform(-1, 1, size=out.shape).astype(d)
    (out * cr.tensor(u)).sum().backward()
    (tout * torch.from_numpy(u)).sum().backward()
    for i, (c, t) in enumerate(zip(cx, tx)):
        if t.requires_grad:
            assert_close(c.grad, t.grad, d, f"grad of input {i}", **tol)
    tparams = dict(torch_mod.named_parameters())
    for name, p in cr_mod.named_parameters():
        tp = tparams[name]
        if tp.grad is None:
            assert p.grad is None or not np.any(np.asarray(p.grad)), name
            continue
        assert p.grad is not None, f"no gradient for parameter {name}"
        assert_close(p.grad, tp.grad, d, f"grad of parameter {name}", **tol)
    for name, b in torch_mod.named_buffers():
        if b.dtype.is_floating_point:
            cb = dict(cr_mod.named_buffers())[name]
            assert_close(cb, b, d, f"buffer {name}", **tol)


def module_gradcheck(
    cr_mod: cr.nn.Module, inputs: Sequence[np.ndarray], input_grad: bool = True, **kw: Any
) -> None:
    """Finite-difference check (float64) of a module's input and parameter gradients."""
    cr_mod.double()
    names = [n for n, p in cr_mod.named_parameters() if p.requires_grad]
    params = dict(cr_mod.named_parameters())
    xs = [
        cr.tensor(
            np.asarray(x, dtype=np.float64) if np.asarray(x).dtype.kind == "f" else x,
            requires_grad=input_grad and np.asarray(x).dtype.kind == "f",
        )
        for x in inputs
    ]
    ps = [cr.tensor(params[n].data, requires_grad=True) for n in names]
    nx = len(xs)

    def fn(*args: cr.Tensor) -> cr.Tensor:
        with swapped_parameters(cr_mod, dict(zip(names, args[nx:]))):
            return cr_mod(*args[:nx])

    opts = dict(GRADCHECK)
    opts.update(kw)
    cr.gradcheck(fn, *xs, *ps, **opts)
