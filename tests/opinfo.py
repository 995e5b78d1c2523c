"""OpInfo: table-driven op tests (after ``torch/testing/_internal/opinfo/core.py``).

An op is described once, by an :class:`OpInfo`; generic checks then run every sample of every
entry against PyTorch and against finite differences. Family tables live in
``tests/op_db.py`` (the engine) and ``tests/op_db_<family>.py``; each test file runs the
generic checks over its table (:func:`generic_op_tests`)::

    from opinfo import OpInfo, SampleInput, generic_op_tests

    def _relu_samples(rng):
        yield SampleInput("vector", rng.standard_normal(5))
        yield SampleInput("batched", rng.standard_normal((3, 4)))

    OPS = [OpInfo("relu", cr.relu, torch.relu, _relu_samples, nondiff_points=(0.0,))]

    test_forward, test_vjp, test_gradcheck, test_errors = generic_op_tests(OPS)

(``op_params``, ``error_params`` and the ``check_*`` functions stay available for tests of
their own.)

The API (stable; add optional fields only):

``SampleInput(name, *args, **kwargs)``
    One call of the op. Positional ``args`` are passed to both the chainrule op and the torch
    reference after conversion: a NumPy array becomes a tensor (``cr.tensor`` / ``torch``),
    a *list* of arrays becomes a list of tensors (``cat``, ``stack``), anything else (ints,
    tuples, slices, index tuples holding arrays) is passed as is. The arrays are the *leaves*,
    numbered in order of appearance. Sample generators make floating leaves float64; the
    checks copy them to the dtype under test, keeping a transposed (non-contiguous) layout
    (see :func:`noncontiguous`). Other keywords are the op's kwargs, except these reserved
    options:

    - ``torch_kwargs``: kwargs for the torch reference when they differ (``axis`` vs ``dim``);
    - ``grad_inputs``: indices of the leaves to differentiate (default: every floating leaf);
    - ``gradcheck``: ``False`` for a sample that sits on a kink by design (ties, clip bounds);
      it is then checked against PyTorch only, never by finite differences.

``ErrorInput(sample, error_type, match)``
    ``op(*sample)`` must raise ``error_type`` with a message matching the regex ``match``.

``OpInfo(name, op, torch_ref, sample_inputs, error_inputs=None, grad=True, nondiff_points=None,
atol=None, rtol=None, grad_atol=None, grad_rtol=None, gradcheck_eps=1e-6, gradcheck_atol=None,
gradcheck_rtol=None, tags=())``
    ``sample_inputs(rng)`` and ``error_inputs()`` return iterables; ``rng`` is a NumPy
    ``Generator`` seeded from the op's name, so samples are the same in every run.
    ``grad=False`` marks an op without gradient (``argmax``): only forward and errors run.
    ``nondiff_points`` lists the input values where the op has a kink (``(0.0,)`` for relu),
    or is a callable ``sample -> values``; the gradcheck moves every differentiable element
    closer than ``DODGE`` to such a point away from it. Tolerances default to
    ``harness.TOL[dtype]`` (forward and VJP) and ``harness.GRADCHECK`` (finite differences);
    ``atol``/``rtol``/``grad_atol``/``grad_rtol`` override them, either as one float for both
    dtypes or as a dict ``{"float32": ..., "float64": ...}``.

Checks: :func:`check_forward` (values, shape and dtype vs torch), :func:`check_vjp` (random
upstream gradient U(-1, 1), the gradient of every differentiable leaf vs torch, including
broadcast ones, with its shape and dtype), :func:`check_gradcheck` (float64 central
differences through :func:`chainrule.gradcheck`), :func:`check_error`. Parametrization:
:func:`op_params` (``(op, sample)`` pairs with readable ids ``name-sample``) and
:func:`error_params`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from harness import GRADCHECK, TOL, assert_close

__all__ = [
    "DODGE",
    "ErrorInput",
    "OpInfo",
    "SampleInput",
    "check_error",
    "check_forward",
    "check_gradcheck",
    "check_vjp",
    "error_params",
    "noncontiguous",
    "op_params",
    "upstream",
]

DODGE = 1e-2  # gradcheck keeps differentiable inputs at least this far from a kink


class SampleInput:
    """One set of arguments for an op; see the module docstring."""

    def __init__(
        self,
        name: str,
        *args: Any,
        torch_kwargs: dict[str, Any] | None = None,
        grad_inputs: Sequence[int] | None = None,
        gradcheck: bool = True,
        **kwargs: Any,
    ) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs
        self.torch_kwargs = kwargs if torch_kwargs is None else torch_kwargs
        self.grad_inputs = None if grad_inputs is None else tuple(grad_inputs)
        self.gradcheck = gradcheck

    def leaves(self) -> list[np.ndarray]:
        """The array leaves of ``args``, in order."""
        out: list[np.ndarray] = []
        for a in self.args:
            if isinstance(a, np.ndarray):
                out.append(a)
            elif _is_array_list(a):
                out.extend(a)
        return out

    def diff_leaves(self) -> tuple[int, ...]:
        """Indices of the leaves that are differentiated."""
        if self.grad_inputs is not None:
            return self.grad_inputs
        return tuple(i for i, x in enumerate(self.leaves()) if x.dtype.kind == "f")

    def __repr__(self) -> str:
        shapes = [tuple(x.shape) for x in self.leaves()]
        return f"SampleInput({self.name!r}, leaves={shapes}, kwargs={self.kwargs})"


@dataclass
class ErrorInput:
    """A sample on which the op must raise ``error_type`` with a message matching ``match``."""

    sample: SampleInput
    error_type: type[BaseException]
    match: str


Tol = float | dict[str, float] | None


@dataclass
class OpInfo:
    """One op under test; see the module docstring."""

    name: str
    op: Callable[..., Any]
    torch_ref: Callable[..., Any]
    sample_inputs: Callable[[np.random.Generator], Iterable[SampleInput]]
    error_inputs: Callable[[], Iterable[ErrorInput]] | None = None
    grad: bool = True
    nondiff_points: Sequence[float] | Callable[[SampleInput], Sequence[float]] | None = None
    atol: Tol = None
    rtol: Tol = None
    grad_atol: Tol = None
    grad_rtol: Tol = None
    gradcheck_eps: float = GRADCHECK["eps"]
    gradcheck_atol: float | None = None
    gradcheck_rtol: float | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def samples(self) -> list[SampleInput]:
        """The samples, from a generator seeded by the op's name (the same in every run)."""
        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        return list(self.sample_inputs(rng))

    def tol(self, dtype: Any, grad: bool = False) -> dict[str, float]:
        d = np.dtype(dtype)
        out = dict(TOL[d])
        for key, val in (
            ("atol", self.grad_atol if grad else self.atol),
            ("rtol", self.grad_rtol if grad else self.rtol),
        ):
            if isinstance(val, dict):
                val = val.get(d.name)
            if val is not None:
                out[key] = val
        return out


# ---- helpers ----
def _is_array_list(a: Any) -> bool:
    return isinstance(a, list) and bool(a) and all(isinstance(x, np.ndarray) for x in a)


def noncontiguous(a: np.ndarray) -> np.ndarray:
    """The same values as ``a`` in a transposed (non-contiguous) memory layout."""
    if a.ndim < 2:
        return a
    return np.ascontiguousarray(a.T).T


def _cast(x: np.ndarray, dtype: Any) -> np.ndarray:
    """A fresh copy of ``x`` (floating leaves in ``dtype``), in the same memory layout."""
    y = np.empty_like(x, dtype=dtype if x.dtype.kind == "f" else x.dtype, order="K")
    y[...] = x  # order="K" keeps a transposed layout transposed
    return y


def _convert(sample: SampleInput, leaves: list[np.ndarray], to: Callable[[np.ndarray], Any]):
    it = iter(leaves)
    args: list[Any] = []
    for a in sample.args:
        if isinstance(a, np.ndarray):
            args.append(to(next(it)))
        elif _is_array_list(a):
            args.append([to(next(it)) for _ in a])
        else:
            args.append(a)
    return args


def _build(sample: SampleInput, dtype: Any, requires_grad: bool):
    """Chainrule and torch inputs for ``sample`` in ``dtype``: (cr args, torch args, cr leaves,
    torch leaves)."""
    leaves = [_cast(x, dtype) for x in sample.leaves()]
    diff = set(sample.diff_leaves()) if requires_grad else set()
    cr_leaves, t_leaves = [], []
    for i, x in enumerate(leaves):
        c = cr.Tensor(x, requires_grad=i in diff)  # no copy: keeps the memory layout
        t = torch.from_numpy(np.array(x, order="C"))  # (ascontiguousarray makes 0-d 1-d)
        t.requires_grad_(i in diff)
        cr_leaves.append(c)
        t_leaves.append(t)
    ci, ti = iter(cr_leaves), iter(t_leaves)
    cargs = _convert(sample, leaves, lambda _: next(ci))
    targs = _convert(sample, leaves, lambda _: next(ti))
    return cargs, targs, cr_leaves, t_leaves


def _outputs(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


_TORCH_TO_NP = {
    torch.float16: np.float16,
    torch.float32: np.float32,
    torch.float64: np.float64,
    torch.int8: np.int8,
    torch.int16: np.int16,
    torch.int32: np.int32,
    torch.int64: np.int64,
    torch.uint8: np.uint8,
    torch.bool: np.bool_,
}


def upstream(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    """A random upstream gradient from U(-1, 1) (never all ones: a backward that ignores its
    ``grad_output`` must fail)."""
    return np.random.default_rng(seed).uniform(-1, 1, size=shape).astype(dtype)


# ---- checks ----
def check_forward(op: OpInfo, sample: SampleInput, dtype: Any) -> None:
    """Values, shape and dtype of every output agree with torch on the same inputs."""
    cargs, targs, _, _ = _build(sample, dtype, requires_grad=False)
    outs = _outputs(op.op(*cargs, **sample.kwargs))
    touts = _outputs(op.torch_ref(*targs, **sample.torch_kwargs))
    assert len(outs) == len(touts), f"{op.name}: {len(outs)} outputs, torch gives {len(touts)}"
    for k, (o, t) in enumerate(zip(outs, touts)):
        what = f"{op.name}[{sample.name}] output {k} ({np.dtype(dtype).name})"
        assert isinstance(o, cr.Tensor), f"{what}: returned {type(o).__name__}, not a Tensor"
        assert o.dtype == np.dtype(_TORCH_TO_NP[t.dtype]), (
            f"{what}: dtype {o.dtype} != torch {t.dtype}"
        )
        if o.dtype.kind == "f":  # tolerance of the output's dtype (int inputs give float32)
            assert_close(o, t, o.dtype, what, **op.tol(o.dtype))
        else:
            assert o.shape == tuple(t.shape), f"{what}: shape {o.shape} != {tuple(t.shape)}"
            np.testing.assert_array_equal(np.asarray(o.data), t.numpy(), err_msg=what)


def check_vjp(op: OpInfo, sample: SampleInput, dtype: Any) -> None:
    """The gradient of every differentiable leaf under a random upstream gradient agrees with
    torch (values, shape, dtype); leaves torch gives no gradient get none or zeros."""
    cargs, targs, cl, tl = _build(sample, dtype, requires_grad=True)
    outs = _outputs(op.op(*cargs, **sample.kwargs))
    touts = _outputs(op.torch_ref(*targs, **sample.torch_kwargs))
    us = [upstream(tuple(t.shape), dtype, seed=k) for k, t in enumerate(touts)]
    pairs = [(o, t, u) for o, t, u in zip(outs, touts, us) if t.requires_grad]
    assert pairs, f"{op.name}[{sample.name}]: torch output does not require grad"
    for o, _, _ in pairs:
        assert o.requires_grad, f"{op.name}[{sample.name}]: output does not require grad"
    if len(pairs) == 1:
        pairs[0][0].backward(cr.tensor(pairs[0][2]))
    else:
        sum((o * cr.tensor(u)).sum() for o, _, u in pairs).backward()
    torch.autograd.backward([t for _, t, _ in pairs], [torch.from_numpy(u) for _, _, u in pairs])
    for i in sample.diff_leaves():
        c, t = cl[i], tl[i]
        what = f"{op.name}[{sample.name}] grad of leaf {i} ({np.dtype(dtype).name})"
        if t.grad is None:
            assert c.grad is None or not np.any(np.asarray(c.grad)), f"{what}: expected none"
            continue
        assert c.grad is not None, f"{what}: no gradient"
        assert c.grad.dtype == c.dtype, f"{what}: dtype {c.grad.dtype} != input {c.dtype}"
        assert_close(c.grad, t.grad, dtype, what, **op.tol(dtype, grad=True))


def _dodge(x: np.ndarray, points: Sequence[float]) -> np.ndarray:
    """Move elements closer than DODGE to a kink to DODGE + their distance away from it."""
    x = x.copy()
    for p in points:
        d = x - p
        near = np.abs(d) < DODGE
        x[near] = p + np.where(d[near] >= 0, 1, -1) * (DODGE + np.abs(d[near]))
    return x


def check_gradcheck(op: OpInfo, sample: SampleInput) -> None:
    """Central differences in float64 (``chainrule.gradcheck``), away from kinks."""
    points = op.nondiff_points(sample) if callable(op.nondiff_points) else op.nondiff_points
    diff = set(sample.diff_leaves())
    leaves = []
    for i, x in enumerate(sample.leaves()):
        x = _cast(x, np.float64)
        if points and i in diff:
            x = _dodge(x, points)
        leaves.append(x)
    inputs = [cr.tensor(x, requires_grad=i in diff) for i, x in enumerate(leaves)]

    def fn(*ts: cr.Tensor) -> Any:
        it = iter(ts)
        args = _convert(sample, leaves, lambda _: next(it))
        outs = [o for o in _outputs(op.op(*args, **sample.kwargs)) if o.dtype.kind == "f"]
        return tuple(outs) if len(outs) > 1 else outs[0]

    opts = dict(GRADCHECK)
    opts["eps"] = op.gradcheck_eps
    if op.gradcheck_atol is not None:
        opts["atol"] = op.gradcheck_atol
    if op.gradcheck_rtol is not None:
        opts["rtol"] = op.gradcheck_rtol
    cr.gradcheck(fn, *inputs, **opts)


def check_error(op: OpInfo, error: ErrorInput) -> None:
    """``op(*sample)`` raises ``error.error_type`` with a message matching ``error.match``."""
    s = error.sample
    cargs, _, _, _ = _build(s, np.float32, requires_grad=False)
    with pytest.raises(error.error_type, match=error.match):
        op.op(*cargs, **s.kwargs)


# ---- parametrization ----
def op_params(
    ops: Iterable[OpInfo], *, grad: bool | None = None, gradcheck: bool = False
) -> list[Any]:
    """``pytest.param(op, sample, id="name-sample")`` for every sample of every op.

    Args:
        grad: if True, only ops with a gradient (for VJP and gradcheck tests).
        gradcheck: if True, leave out samples marked ``gradcheck=False``.
    """
    params = []
    for op in ops:
        if grad and not op.grad:
            continue
        seen: set[str] = set()
        for s in op.samples():
            if gradcheck and not s.gradcheck:
                continue
            if grad and not s.diff_leaves():
                continue
            if s.name in seen:
                raise ValueError(f"OpInfo {op.name!r}: two samples named {s.name!r}")
            seen.add(s.name)
            params.append(pytest.param(op, s, id=f"{op.name}-{s.name}"))
    return params


def error_params(ops: Iterable[OpInfo]) -> list[Any]:
    """``pytest.param(op, error_input, id="name-error_k")`` for every error input."""
    params = []
    for op in ops:
        if op.error_inputs is None:
            continue
        for k, e in enumerate(op.error_inputs()):
            params.append(pytest.param(op, e, id=f"{op.name}-{e.sample.name or k}"))
    return params


def generic_op_tests(
    ops: Iterable[OpInfo],
    *,
    dtype_ids: tuple[str, str] = ("f32", "f64"),
    grad_filter: Any = None,
) -> tuple[Any, Any, Any, Any]:
    """The four generic tests every op table runs, parametrized over ``ops``: forward and VJP
    against PyTorch (float32 and float64), float64 gradcheck, and the error inputs. A test
    file binds them to test names (pytest collects them under those names)::

        test_forward, test_vjp, test_gradcheck, test_errors = generic_op_tests(OPS)

    Args:
        dtype_ids: the test ids of the float32 and float64 cases.
        grad_filter: ``param -> bool``, keeps a ``pytest.param`` of the VJP and gradcheck
            tests (e.g. leave out samples whose gradient PyTorch does not define).
    """
    ops = list(ops)
    dtypes = [pytest.param(np.float32, id=dtype_ids[0]), pytest.param(np.float64, id=dtype_ids[1])]

    def grads(**kw: Any) -> list[Any]:
        params = op_params(ops, grad=True, **kw)
        return params if grad_filter is None else [p for p in params if grad_filter(p)]

    @pytest.mark.parametrize("dtype", dtypes)
    @pytest.mark.parametrize("op, sample", op_params(ops))
    def test_forward(op: OpInfo, sample: SampleInput, dtype: Any) -> None:
        check_forward(op, sample, dtype)

    @pytest.mark.parametrize("dtype", dtypes)
    @pytest.mark.parametrize("op, sample", grads())
    def test_vjp(op: OpInfo, sample: SampleInput, dtype: Any) -> None:
        check_vjp(op, sample, dtype)

    @pytest.mark.parametrize("op, sample", grads(gradcheck=True))
    def test_gradcheck(op: OpInfo, sample: SampleInput) -> None:
        check_gradcheck(op, sample)

    @pytest.mark.parametrize("op, error", error_params(ops))
    def test_errors(op: OpInfo, error: ErrorInput) -> None:
        check_error(op, error)

    return test_forward, test_vjp, test_gradcheck, test_errors
