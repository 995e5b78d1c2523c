"""Recording a model's forward pass as a list of chainrule ops (the tracer of ``export_onnx``).

Note [op-level tracing]
    Every differentiable op goes through ``Function.apply``, so running the model once with
    ``apply`` wrapped records the whole computation, whatever Python the modules' ``forward``
    methods contain: a ``Sequential``, a functional ``chainrule.Model`` graph, the zoo's
    ``ResidualBlock`` (``out + skip``) or a user's own module all reduce to the same few dozen
    ops, each with one converter. Forward hooks on every sub-module keep the stack of layers
    running, so an op without a converter is reported with the layer that used it. The few
    ops that return tensors without a ``Function`` (comparisons, ``logical_not``, ``argmax``)
    are wrapped too.

    The wrapping is process-wide for the duration of one trace (a lock serialises exports)
    and records only on the tracing thread. Like ``torch.jit.trace``, a trace follows one path
    through Python control flow; the export runs the model twice on different inputs (another
    batch size when the batch is dynamic) and refuses a model whose two traces differ, or
    whose tensors made outside chainrule's ops (``Tensor(numpy_array)``, ``.data`` arithmetic)
    change with the input, since neither can be expressed as a fixed graph.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chainrule.autograd.function import Function
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["OpRecord", "Trace", "run_trace"]

_LOCK = threading.Lock()


@dataclass
class OpRecord:
    """One op call: ``kind`` is a ``Function`` subclass or a pseudo-op name (``"compare"``)."""

    kind: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    out: Any  # the Tensor returned (kept alive so ids stay unique during the export)
    layer: tuple[str, str]  # (qualified module name, class name) of the innermost layer

    @property
    def name(self) -> str:
        return self.kind if isinstance(self.kind, str) else self.kind.__name__


@dataclass
class Trace:
    """A recorded forward pass: the inputs, every op, the outputs (flattened)."""

    inputs: list[Tensor]
    records: list[OpRecord]
    outputs: list[Any]
    keep: list[Any] = field(default_factory=list)  # everything whose id() is used


class _Recorder:
    def __init__(self, names: dict[int, str]) -> None:
        self.thread = threading.get_ident()
        self.records: list[OpRecord] = []
        self.stack: list[tuple[str, str]] = [("", "")]
        self.names = names

    def active(self) -> bool:
        return threading.get_ident() == self.thread

    def record(self, kind: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        self.records.append(OpRecord(kind, args, dict(kwargs), out, self.stack[-1]))


def _wrap_function(obj: Any, attr: str, rec: _Recorder, kind: str) -> Callable[[], None]:
    """Replace the module function ``obj.attr`` by one that records its calls as ``kind``."""
    orig = getattr(obj, attr)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = orig(*args, **kwargs)
        if rec.active():
            rec.record(kind, args, kwargs, out)
        return out

    setattr(obj, attr, wrapper)
    return lambda: setattr(obj, attr, orig)


@contextmanager
def _recording(model: Module, rec: _Recorder) -> Iterator[None]:
    from chainrule.ops import elementwise, reduction

    orig_apply = Function.__dict__["apply"]

    def apply(cls: Any, *args: Any, **kwargs: Any) -> Any:
        out = orig_apply.__func__(cls, *args, **kwargs)
        if rec.active():
            rec.record(cls, args, kwargs, out)
        return out

    undo: list[Callable[[], None]] = []
    if not _LOCK.acquire(blocking=False):
        raise RuntimeError(
            "export_onnx: another export is running in this process; export one model at a time"
        )
    try:
        for name, m in model.named_modules():
            label = (name, type(m).__name__)

            def push(mod: Module, inputs: Any, label: tuple[str, str] = label) -> None:
                if rec.active():
                    rec.stack.append(label)

            def pop(mod: Module, inputs: Any, output: Any) -> None:
                if rec.active() and len(rec.stack) > 1:
                    rec.stack.pop()

            undo.append(m.register_forward_pre_hook(push))
            undo.append(m.register_forward_hook(pop))
        Function.apply = classmethod(apply)  # type: ignore[method-assign,assignment]
        undo.append(lambda: setattr(Function, "apply", orig_apply))
        undo.append(_wrap_function(elementwise, "compare", rec, "compare"))
        undo.append(_wrap_function(elementwise, "logical_not", rec, "logical_not"))
        undo.append(_wrap_function(reduction, "_arg", rec, "arg"))
        yield
    finally:
        for u in reversed(undo):
            u()
        _LOCK.release()


def flatten_outputs(out: Any) -> tuple[list[Tensor], list[str] | None]:
    """The output tensors in order (nested tuples/lists/dicts flattened depth first), and
    their keys when the model returned a flat dict."""
    if isinstance(out, dict) and out and all(isinstance(v, Tensor) for v in out.values()):
        return list(out.values()), [str(k) for k in out]
    leaves: list[Tensor] = []
    stack = [out]
    while stack:
        o = stack.pop()
        if isinstance(o, Tensor):
            leaves.append(o)
        elif isinstance(o, (tuple, list)):
            stack.extend(reversed(o))
        elif isinstance(o, dict):
            stack.extend(reversed(list(o.values())))
        else:
            raise TypeError(
                "export_onnx: the model must return tensors (a tensor, or tuples/lists/dicts "
                f"of tensors); its output holds a {type(o).__name__}"
            )
    if not leaves:
        raise TypeError("export_onnx: the model returned no tensor")
    return leaves, None


def run_trace(
    model: Module, call: Callable[[list[Tensor]], Any], inputs: list[Tensor]
) -> tuple[Trace, list[str] | None]:
    """Run ``call(inputs)`` (the model's forward) with every op recorded."""
    from chainrule.autograd.grad_mode import no_grad

    names = {id(m): n for n, m in model.named_modules()}
    rec = _Recorder(names)
    with _recording(model, rec), no_grad():
        try:
            out = call(inputs)
        except Exception as e:
            if not _reraisable(e):
                raise
            raise type(e)(f"export_onnx: running the model on the example input failed: {e}") from e
    outputs, keys = flatten_outputs(out)
    trace = Trace(list(inputs), rec.records, outputs)
    trace.keep = [out, inputs]
    return trace, keys


def _reraisable(e: Exception) -> bool:
    """Whether ``type(e)(message)`` builds an equivalent exception (plain built-in errors)."""
    return type(e) in (ValueError, TypeError, RuntimeError, IndexError, KeyError)
