"""``chainrule.summary``: a Keras-style table of a model's layers, output shapes and parameter
counts.

The shapes come from running one small batch of zeros through the model (under ``no_grad``,
in eval mode, with forward hooks on the layers), so they are the shapes the model really
produces, whatever its ``forward`` does. Zeros, not random numbers: building a summary never
advances a random generator, so it cannot change a seeded training run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chainrule import dtypes
from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import zeros
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["summary"]


def _fmt_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"  # pragma: no cover


def _shape_of(out: Any) -> str:
    if isinstance(out, Tensor):
        if out.ndim == 0:
            return "()"
        return "(" + ", ".join(["None", *(str(d) for d in out.shape[1:])]) + ")"
    if isinstance(out, (list, tuple)):
        return "[" + ", ".join(_shape_of(o) for o in out) + "]"
    if isinstance(out, dict):
        return "{" + ", ".join(f"{k}: {_shape_of(v)}" for k, v in out.items()) + "}"
    return type(out).__name__


def _own_params(m: Module) -> list[Any]:
    return [p for p in m._parameters.values() if p is not None]


def _input_shapes(input_shape: Any) -> list[tuple[int, ...]]:
    if isinstance(input_shape, int):
        return [(input_shape,)]
    if isinstance(input_shape, Sequence) and all(isinstance(d, int) for d in input_shape):
        return [tuple(input_shape)]
    if isinstance(input_shape, Sequence) and all(
        isinstance(s, Sequence) and all(isinstance(d, int) for d in s) for s in input_shape
    ):
        return [tuple(s) for s in input_shape]
    raise TypeError(
        f"summary: input_shape must be a tuple of ints (one sample, without the batch axis) "
        f"or a list of such tuples for several inputs, got {input_shape!r}"
    )


def summary(
    model: Module,
    input_shape: Any,
    dtype: Any = None,
    batch_size: int = 2,
    print_fn: Callable[[str], Any] | None = None,
    quiet: bool = False,
) -> str:
    """Print (unless ``quiet``) and return a table of the model's layers: name and type,
    output shape (batch axis as ``None``) and parameter count, then the totals (total,
    trainable and frozen parameters, with their size in bytes).

    Every leaf module (one without children), and every module with parameters of its own,
    gets a row per call, in call order; a layer called twice (shared) shows its parameters
    on its first row only, and the totals count each parameter once. Layers the forward pass
    never calls are listed at the end. Buffers (e.g. BatchNorm's running statistics) are not
    parameters; their count is shown on a separate line.

    Args:
        model: the model.
        input_shape: the shape of one sample, without the batch axis (Keras's convention),
            e.g. ``(1, 28, 28)``; a list of shapes for a model with several inputs.
        dtype: input dtype (default: float32; use an integer dtype for ``Embedding``).
        batch_size: rows of the zero batch that is run through the model.
        print_fn: called with the whole table (default ``print``).
        quiet: return the text without printing it.

    Returns:
        The table as one string.

    Example:
        >>> import chainrule as cr
        >>> model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 2))
        >>> text = cr.summary(model, (4,), quiet=True)
        >>> print(text.splitlines()[4])
         0 (Linear)     (None, 8)           40
        >>> print(text.splitlines()[-4])
        Total params: 58 (232.00 B)
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected a chainrule.nn.Module, got {type(model).__name__}")
    shapes = _input_shapes(input_shape)
    d = dtypes.resolve_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    names: dict[int, str] = {}
    for name, m in model.named_modules():
        names.setdefault(id(m), name or type(model).__name__)
    watched = [m for m in model.modules() if not any(True for _ in m.children()) or _own_params(m)]
    calls: list[tuple[Module, str]] = []

    def hook(m: Module, inputs: Any, output: Any) -> None:
        calls.append((m, _shape_of(output)))

    removers = [m.register_forward_hook(hook) for m in watched]
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with no_grad():
            model(*[zeros(batch_size, *s, dtype=d) for s in shapes])
    finally:
        for r in removers:
            r()
        for m, mode in modes:
            object.__setattr__(m, "training", mode)

    rows: list[tuple[str, str, str]] = []
    counted: set[int] = set()

    def param_cell(m: Module) -> str:
        own = _own_params(m)
        new = [p for p in own if id(p) not in counted]
        counted.update(id(p) for p in own)
        if own and not new:
            return "0 (shared)"
        return f"{sum(p.data.size for p in new):,}"

    seen: set[int] = set()
    for m, shape in calls:
        if m is model and len(watched) > 1 and not _own_params(m):
            continue
        rows.append((f"{names[id(m)]} ({type(m).__name__})", shape, param_cell(m)))
        seen.add(id(m))
    for m in watched:
        if id(m) not in seen and (m is not model or _own_params(m)):
            rows.append((f"{names[id(m)]} ({type(m).__name__})", "(not called)", param_cell(m)))

    params = list(model.parameters())
    total = sum(p.data.size for p in params)
    trainable = sum(p.data.size for p in params if p.requires_grad)
    total_b = sum(p.data.nbytes for p in params)
    train_b = sum(p.data.nbytes for p in params if p.requires_grad)
    buffers = [b for _, b in model.named_buffers()]

    header = ("Layer (type)", "Output Shape", "Param #")
    w0 = max(len(header[0]), *(len(r[0]) for r in rows)) if rows else len(header[0])
    w1 = max(len(header[1]), *(len(r[1]) for r in rows)) if rows else len(header[1])
    w2 = max(len(header[2]), *(len(r[2]) for r in rows)) if rows else len(header[2])
    width = w0 + w1 + w2 + 7

    def line(cells: tuple[str, str, str]) -> str:
        return f" {cells[0]:<{w0}}   {cells[1]:<{w1}}   {cells[2]:>{w2}}".rstrip()

    title = getattr(model, "name", None)  # a functional Model's name, else the class
    title = title if isinstance(title, str) and title else type(model).__name__
    out = [f'Model: "{title}"', "_" * width, line(header), "=" * width]
    out += [line(r) for r in rows]
    out += [
        "=" * width,
        f"Total params: {total:,} ({_fmt_bytes(total_b)})",
        f"Trainable params: {trainable:,} ({_fmt_bytes(train_b)})",
        f"Non-trainable params: {total - trainable:,} ({_fmt_bytes(total_b - train_b)})",
    ]
    if buffers:
        n_buf = sum(b.data.size for b in buffers)
        n_bytes = sum(b.data.nbytes for b in buffers)
        out.append(f"Buffers (not parameters): {n_buf:,} ({_fmt_bytes(n_bytes)})")
    out.append("_" * width)
    text = "\n".join(out)
    if not quiet:
        (print_fn or print)(text)
    return text
