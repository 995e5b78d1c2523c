r"""Numerical gradient checking: is a backward pass right?

The chain rule gives an *analytical* gradient; the definition of the derivative gives a
*numerical* one. With a random upstream vector :math:`u` and the central difference

.. math::  \frac{\partial \langle u, f(x)\rangle}{\partial x_j} \approx
           \frac{\langle u, f(x + \varepsilon e_j)\rangle - \langle u, f(x - \varepsilon e_j)
           \rangle}{2\varepsilon}

(error :math:`O(\varepsilon^2)`), the two must agree. Computed in float64. Inputs with more
than ``max_elements`` entries are checked along random directions :math:`v` instead
(:math:`\langle \nabla, v\rangle` against a difference along :math:`v`), as Chainer's
``check_backward`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import enable_grad
from chainrule.tensor import Tensor

__all__ = ["GradcheckError", "GradcheckReport", "gradcheck", "numerical_vjp"]


class GradcheckError(ValueError):
    """Raised by :func:`gradcheck` when analytical and numerical gradients disagree."""


@dataclass
class InputReport:
    index: int
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    worst: tuple[Any, float, float] | None  # (element or "direction k", analytic, numeric)
    passed: bool
    method: str


@dataclass
class GradcheckReport:
    """Per-input agreement of analytical and numerical gradients; truthy when all passed."""

    inputs: list[InputReport] = field(default_factory=list)
    atol: float = 0.0
    rtol: float = 0.0

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.inputs)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [
            f"gradcheck (atol={self.atol:g}, rtol={self.rtol:g}): "
            + ("passed" if self.passed else "FAILED")
        ]
        for r in self.inputs:
            status = "ok" if r.passed else "MISMATCH"
            line = (
                f"  input {r.index} {r.shape} [{r.method}]: max abs err {r.max_abs_error:.3g}, "
                f"max rel err {r.max_rel_error:.3g} {status}"
            )
            if r.worst is not None and not r.passed:
                where, a, n = r.worst
                line += f"; worst at {where}: analytical {a:.10g}, numerical {n:.10g}"
            lines.append(line)
        return "\n".join(lines)


def _output_dot(fn: Callable[..., Any], arrays: list[np.ndarray], us: list[np.ndarray]) -> float:
    out = fn(*[Tensor(a) for a in arrays])
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return float(sum(np.sum(np.asarray(o.data, dtype=np.float64) * u) for o, u in zip(outs, us)))


def numerical_vjp(
    fn: Callable[..., Any], arrays: list[np.ndarray], us: list[np.ndarray], i: int, eps: float
) -> np.ndarray:
    """Central-difference gradient of ``<u, fn(*arrays)>`` with respect to ``arrays[i]``."""
    x = arrays[i]
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + eps
        fp = _output_dot(fn, arrays, us)
        flat[j] = old - eps
        fm = _output_dot(fn, arrays, us)
        flat[j] = old
        gflat[j] = (fp - fm) / (2 * eps)
    return g


def gradcheck(
    fn: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_elements: int = 256,
    directions: int = 3,
    seed: int = 0,
    raise_exception: bool = True,
) -> GradcheckReport:
    """Check ``fn``'s backward pass against central differences, in float64.

    Args:
        fn: takes tensors, returns a tensor (or a tuple of tensors).
        *inputs: tensors (or arrays); those with ``requires_grad`` are checked. They are
            copied to float64, so the originals are left alone.
        eps: finite-difference step.
        atol, rtol: a gradient passes where ``|analytic - numeric| <= atol + rtol * |numeric|``.
        max_elements: inputs larger than this are checked along random directions.
        directions: number of random directions for large inputs.
        seed: seed of the random upstream gradient and directions.
        raise_exception: raise :class:`GradcheckError` on a mismatch (else just report).

    Returns:
        A :class:`GradcheckReport`; ``print`` it for a readable table.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([0.5, -1.0], dtype="float64", requires_grad=True)
        >>> bool(cr.gradcheck(lambda t: (t * t).sigmoid(), x))
        True
    """
    rng = np.random.default_rng(seed)
    arrays: list[np.ndarray] = []
    check: list[bool] = []
    for t in inputs:
        if isinstance(t, Tensor):
            a = np.array(t.data, dtype=np.float64 if t.data.dtype.kind == "f" else t.data.dtype)
            arrays.append(a)
            check.append(t.requires_grad)
        else:
            arrays.append(np.array(t, dtype=np.float64))
            check.append(True)
    if not any(check):
        raise ValueError("gradcheck: no input requires grad; nothing to check")

    def as_inputs() -> list[Tensor]:
        return [Tensor(a.copy(), requires_grad=c) for a, c in zip(arrays, check)]

    with enable_grad():
        ts = as_inputs()
        out = fn(*ts)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        us = [rng.uniform(-1, 1, size=o.shape) for o in outs]
        total = None
        for o, u in zip(outs, us):
            if not o.requires_grad:
                continue
            term = (o * Tensor(u.astype(o.data.dtype))).sum()
            total = term if total is None else total + term
        if total is None:
            raise ValueError("gradcheck: the output does not depend on any input requiring grad")
        total.backward()

    report = GradcheckReport(atol=atol, rtol=rtol)
    for i, (t, c) in enumerate(zip(ts, check)):
        if not c:
            continue
        analytic = np.zeros_like(arrays[i]) if t.grad is None else np.asarray(t.grad.data)
        if arrays[i].size <= max_elements:
            numeric = numerical_vjp(fn, arrays, us, i, eps)
            a_vals, n_vals = analytic.reshape(-1), numeric.reshape(-1)
            method = "full"
            labels: Sequence[Any] = [  # plain ints: NumPy 2 would print np.int64(1)
                tuple(int(k) for k in np.unravel_index(j, arrays[i].shape))
                for j in range(a_vals.size)
            ]
        else:
            method = f"{directions} random directions"
            a_list, n_list = [], []
            for _ in range(directions):
                v = rng.standard_normal(arrays[i].shape)
                a_list.append(float(np.sum(analytic * v)))
                base = arrays[i].copy()
                arrays[i] = base + eps * v
                fp = _output_dot(fn, arrays, us)
                arrays[i] = base - eps * v
                fm = _output_dot(fn, arrays, us)
                arrays[i] = base
                n_list.append((fp - fm) / (2 * eps))
            a_vals, n_vals = np.array(a_list), np.array(n_list)
            labels = [f"direction {k}" for k in range(directions)]
        err = np.abs(a_vals - n_vals)
        tol = atol + rtol * np.abs(n_vals)
        rel = err / np.maximum(np.abs(n_vals), 1e-12)
        bad = ~(err <= tol)  # NaN counts as a failure
        worst_j = int(np.argmax(np.where(np.isnan(err), np.inf, err - tol))) if err.size else 0
        worst = (
            (labels[worst_j], float(a_vals[worst_j]), float(n_vals[worst_j])) if err.size else None
        )
        report.inputs.append(
            InputReport(
                index=i,
                shape=arrays[i].shape,
                max_abs_error=float(np.nanmax(err)) if err.size else 0,
                max_rel_error=float(np.nanmax(rel)) if rel.size else 0,
                worst=worst,
                passed=not bool(bad.any()),
                method=method,
            )
        )
    if raise_exception and not report.passed:
        raise GradcheckError(str(report))
    return report
