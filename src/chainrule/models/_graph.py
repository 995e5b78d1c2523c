"""Recording a graph of layer calls: symbolic tensors, nodes and the dummy-batch shape check.

The machinery behind :mod:`chainrule.models.functional` (Keras's ``KerasTensor`` and
``Node``). ``Module.__call__`` hands a call whose first argument is a :class:`SymbolicTensor`
to :func:`record_call`, which runs the layer on the inputs' two dummy batches (2 and 3 samples,
the declared dtype, eval mode, ``no_grad``) to learn its output shapes, and returns symbolic
outputs that remember the call.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from chainrule import dtypes
from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import numpy as _np
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["Input", "SymbolicTensor", "TensorOp", "record_call"]

_ids = itertools.count()  # creation order of tensors and nodes: a valid topological order
# The two dummy batches every layer call is checked on: (batch size, size of each dimension
# declared None). An output axis whose size differs between the two is reported as None.
_VARIANTS = ((2, 3), (3, 5))
_BATCH = _VARIANTS[0][0]


class SymbolicTensor:
    """A placeholder for a tensor in a graph being built (Keras's ``KerasTensor``).

    ``shape`` includes the batch axis as ``None``: ``Input(shape=(1, 28, 28)).shape`` is
    ``(None, 1, 28, 28)``. Calling a module on it, an arithmetic operator (``a + b``, ``a * 2``),
    indexing (``a[:, :3]``) or a ``Tensor`` method (``a.flatten(1)``, ``a.relu()``) records a
    node. It holds no values: ``.data``, ``.item()`` or ``bool(a)`` are errors.
    """

    _chainrule_symbolic = True  # what Module.__call__ looks for
    __slots__ = ("shape", "dtype", "name", "_node", "_values", "_id")

    def __init__(
        self,
        shape: tuple[int | None, ...],
        dtype: Any,
        values: tuple[Tensor, ...],
        node: _Node | None = None,
        name: str | None = None,
    ) -> None:
        self.shape = shape
        self.dtype = dtype
        self.name = name
        self._node = node
        self._values = values  # the two dummy batches (see _VARIANTS)
        self._id = next(_ids)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        src = f"name={self.name!r}" if self._node is None else f"from {self._node.describe()}"
        return f"<SymbolicTensor shape={self.shape} dtype={self.dtype} {src}>"

    # ---- no values ----
    def __bool__(self) -> bool:
        raise TypeError(
            "a symbolic tensor (from chainrule.Input) has no values, so it has no truth value; "
            "build a chainrule.Model and call it on real tensors"
        )

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(
            "a symbolic tensor cannot be iterated; index it (x[:, 0]) or split it with a layer"
        )

    def __len__(self) -> int:
        raise TypeError("a symbolic tensor has no length (its batch size is unknown)")

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "a symbolic tensor (from chainrule.Input) has no values to convert to an array"
        )

    # ---- tensor operations record nodes ----
    def __getattr__(self, name: str) -> Any:
        attr = getattr(Tensor, name, None) if not name.startswith("_") else None
        if isinstance(attr, property) and name not in _VALUE_ATTRS:
            return _op(name, is_property=True)(self)
        if attr is None or not callable(attr) or name in _VALUE_ATTRS:
            raise AttributeError(
                f"symbolic tensor has no attribute {name!r}"
                + (
                    " (it holds no values: build a chainrule.Model and call it on real tensors)"
                    if name in _VALUE_ATTRS
                    else ""
                )
            )

        def method(*args: Any, **kwargs: Any) -> Any:
            return _op(name)(self, *args, **kwargs)

        return method

    def __getitem__(self, index: Any) -> Any:
        return _op("__getitem__")(self, index)

    def __add__(self, other: Any) -> Any:
        return _op("__add__")(self, other)

    def __radd__(self, other: Any) -> Any:
        return _op("__radd__")(self, other)

    def __sub__(self, other: Any) -> Any:
        return _op("__sub__")(self, other)

    def __rsub__(self, other: Any) -> Any:
        return _op("__rsub__")(self, other)

    def __mul__(self, other: Any) -> Any:
        return _op("__mul__")(self, other)

    def __rmul__(self, other: Any) -> Any:
        return _op("__rmul__")(self, other)

    def __truediv__(self, other: Any) -> Any:
        return _op("__truediv__")(self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return _op("__rtruediv__")(self, other)

    def __pow__(self, other: Any) -> Any:
        return _op("__pow__")(self, other)

    def __matmul__(self, other: Any) -> Any:
        return _op("__matmul__")(self, other)

    def __neg__(self) -> Any:
        return _op("__neg__")(self)


_VALUE_ATTRS = frozenset(
    {
        "data",
        "grad",
        "item",
        "numpy",
        "tolist",
        "backward",
        "requires_grad",
        "requires_grad_",
        "is_leaf",
        "grad_fn",
        "retain_grad",
        "register_hook",
        "size",
        "numel",
        "fill_",
        "zero_",
        "copy_",
        "detach_",
        "device",
    }
)


class TensorOp(Module):
    """A ``Tensor`` method or operator recorded in a graph (``x.flatten(1)``, ``a + b``)."""

    def __init__(self, method: str, is_property: bool = False) -> None:
        super().__init__()
        self.method = method
        self.is_property = is_property
        self.name = method.strip("_")

    def forward(self, input: Tensor, *args: Any, **kwargs: Any) -> Any:
        attr = getattr(input, self.method)
        return attr if self.is_property else attr(*args, **kwargs)

    def extra_repr(self) -> str:
        return repr(self.method)


def _op(method: str, is_property: bool = False) -> Callable[..., Any]:
    layer = TensorOp(method, is_property)
    return lambda *args, **kwargs: record_call(layer, args, kwargs)


def Input(  # noqa: N802  (Keras's name)
    shape: int | Sequence[int | None], name: str | None = None, dtype: Any = None
) -> SymbolicTensor:
    """A symbolic model input: ``shape`` is one sample's shape, without the batch axis.

    Args:
        shape: e.g. ``(1, 28, 28)`` for grey images or ``(13,)`` for 13 features; ``None``
            marks a dimension whose size varies between batches (a sequence length).
        name: the input's name (keys of dict inputs, rows of ``summary``); by default
            ``input``, ``input_1``, ... in the order the model lists its inputs.
        dtype: the dtype fed to the model (the default float dtype unless given; use
            ``"int64"`` for class indices fed to an ``Embedding``).

    Returns:
        A :class:`SymbolicTensor` of shape ``(None, *shape)``.

    Example:
        >>> import chainrule as cr
        >>> cr.Input(shape=(1, 28, 28), name="image").shape
        (None, 1, 28, 28)
    """
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in shape
    ):
        raise ValueError(
            "Input: shape must be a tuple of positive ints or None (one sample, without the "
            f"batch axis), e.g. shape=(1, 28, 28); got {shape!r}"
        )
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"Input: name must be a non-empty string, got {name!r}")
    d = dtypes.resolve_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    shape = tuple(shape)
    values = tuple(
        _dummy((batch, *(free if dim is None else dim for dim in shape)), d)
        for batch, free in _VARIANTS
    )
    return SymbolicTensor((None, *shape), d, values, name=name)


def _dummy(shape: tuple[int, ...], dtype: Any) -> Tensor:
    """Deterministic dummy values: floats in (0, 1] (no log(0), no RNG draw), zeros otherwise."""
    n = int(_np.prod(shape))
    if dtype.kind == "f":
        arr = ((_np.arange(n) % 7 + 1) / 8).astype(dtype).reshape(shape)
    else:
        arr = _np.zeros(shape, dtype=dtype)
    return Tensor(arr)


class _Node:
    """One call of a layer on symbolic tensors."""

    __slots__ = ("layer", "args", "kwargs", "inputs", "outputs", "out_struct", "_id")

    def __init__(
        self,
        layer: Module,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        inputs: list[SymbolicTensor],
    ) -> None:
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.inputs = inputs
        self.outputs: list[SymbolicTensor] = []
        self.out_struct: Any = None
        self._id = next(_ids)

    def describe(self) -> str:
        return _layer_label(self.layer)


def _layer_label(layer: Module) -> str:
    name = getattr(layer, "name", None)
    cls = type(layer).__name__
    return f"'{name}' ({cls})" if isinstance(name, str) and name else cls


# ---- nested structures (tuples, lists, dicts) of tensors ----
def _leaves(obj: Any, out: list[Any], kind: type) -> list[Any]:
    if isinstance(obj, kind):
        out.append(obj)
    elif type(obj) in (list, tuple):
        for o in obj:
            _leaves(o, out, kind)
    elif type(obj) is dict:
        for o in obj.values():
            _leaves(o, out, kind)
    return out


def _map(obj: Any, kind: type, fn: Callable[[Any], Any]) -> Any:
    if isinstance(obj, kind):
        return fn(obj)
    if type(obj) in (list, tuple):
        return type(obj)(_map(o, kind, fn) for o in obj)
    if type(obj) is dict:
        return {k: _map(o, kind, fn) for k, o in obj.items()}
    return obj


def _fmt_shape(shape: Any) -> str:
    if isinstance(shape, tuple) and all(d is None or isinstance(d, int) for d in shape):
        return (
            "("
            + ", ".join("None" if d is None else str(d) for d in shape)
            + (",)" if len(shape) == 1 else ")")
        )
    return str(shape)


def _fmt_struct(obj: Any) -> str:
    """Shapes of a (nested) output structure: ``(None, 4)`` or ``[(None, 5, 8), ...]``."""
    if isinstance(obj, SymbolicTensor):
        return _fmt_shape(obj.shape)
    if type(obj) in (list, tuple):
        return "[" + ", ".join(_fmt_struct(o) for o in obj) + "]"
    if type(obj) is dict:
        return "{" + ", ".join(f"{k}: {_fmt_struct(o)}" for k, o in obj.items()) + "}"
    return repr(obj)


def _expected_input(layer: Module) -> str | None:
    """The input shape a layer declares through its PyTorch attributes, where it does."""
    cls = type(layer).__name__
    get = layer.__dict__.get
    inputs = get("inputs")
    if isinstance(inputs, list) and inputs and all(isinstance(t, SymbolicTensor) for t in inputs):
        return ", ".join(_fmt_shape(t.shape) for t in inputs)  # a functional Model
    if isinstance(get("in_features"), int):
        return f"(None, ..., {get('in_features')})"
    rank = {"1d": ", L", "2d": ", H, W", "3d": ", D, H, W"}.get(cls[-2:], ", ...")
    if isinstance(get("in_channels"), int):
        return f"(None, {get('in_channels')}{rank})"
    if isinstance(get("num_features"), int):
        return f"(None, {get('num_features')}{rank if cls.endswith(('2d', '3d')) else ', ...'})"
    normalized = get("normalized_shape")
    if isinstance(normalized, tuple):
        return "(None, ..., " + ", ".join(map(str, normalized)) + ")"
    if isinstance(get("input_size"), int):
        if get("batch_first"):
            return f"(None, L, {get('input_size')})"
        return f"(L, None, {get('input_size')}) (batch_first=False: time first)"
    num_embeddings = get("num_embeddings")
    if isinstance(num_embeddings, int):
        return f"integer indices in [0, {num_embeddings - 1}]"
    return None


def record_call(layer: Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Record ``layer(*args, **kwargs)`` on symbolic tensors as a graph node.

    Called by ``Module.__call__`` when its first argument is symbolic. Runs the layer on the
    inputs' dummy batches to learn the output shapes, and returns symbolic outputs in the
    structure the layer returns (a tensor, or e.g. an LSTM's ``(output, (h, c))``).

    Raises:
        ValueError: the layer cannot take these shapes (names the layer, the shape it got and
            the shape it expects where it declares one; the layer's own error is chained).
        TypeError: the layer raised a ``TypeError`` (e.g. a dtype mismatch; same message
            form), or it returns no tensor.
    """
    inputs: list[SymbolicTensor] = []
    seen: set[int] = set()
    for t in _leaves((args, kwargs), [], SymbolicTensor):
        if id(t) not in seen:
            seen.add(id(t))
            inputs.append(t)
    n_var = max(len(t._values) for t in inputs)
    results = []
    modes = [(m, m.training) for m in layer.modules()]
    try:
        for m, _ in modes:
            object.__setattr__(m, "training", False)
        for v in range(n_var):

            def pick(t: SymbolicTensor, v: int = v) -> Tensor:
                return t._values[min(v, len(t._values) - 1)]

            a = _map(args, SymbolicTensor, pick)
            k = _map(kwargs, SymbolicTensor, pick)
            try:
                with no_grad():
                    results.append(Module.__call__(layer, *a, **k))
            except Exception as e:
                raise _shape_error(layer, inputs, e) from e
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    node = _Node(layer, args, kwargs, inputs)
    leaves = [_leaves(r, [], Tensor) for r in results]
    if not leaves[0]:
        raise TypeError(
            f"layer {_layer_label(layer)} returned {type(results[0]).__name__}, not a tensor "
            "(or a tuple/list/dict of tensors); a functional model needs tensor outputs"
        )
    if any(len(lv) != len(leaves[0]) for lv in leaves) or any(
        x.ndim != y.ndim for lv in leaves for x, y in zip(lv, leaves[0])
    ):
        raise TypeError(
            f"layer {_layer_label(layer)} returns a different number of tensors, or of "
            "dimensions, for batches of different sizes; a functional model cannot record it"
        )
    for i, first in enumerate(leaves[0]):
        variants = tuple(lv[i] for lv in leaves)
        shape = tuple(
            d if all(x.shape[j] == d for x in variants) else None for j, d in enumerate(first.shape)
        )
        node.outputs.append(SymbolicTensor(shape, first.dtype, variants, node=node))
    it = iter(node.outputs)
    node.out_struct = _map(results[0], Tensor, lambda _: next(it))
    return node.out_struct


def _shape_error(layer: Module, inputs: list[SymbolicTensor], e: Exception) -> Exception:
    """One error for a layer that failed on the dummy batch: what it got, what it expects.

    A ``TypeError`` from the layer (e.g. a dtype mismatch) stays a ``TypeError``; anything
    else becomes a ``ValueError``. The layer's own error is chained as the cause.
    """
    got = ", ".join(
        f"{_fmt_shape(t.shape)} {t.dtype} from "
        + (
            f"input '{t.name}'"
            if t._node is None and t.name
            else "an input"
            if t._node is None
            else t._node.describe()
        )
        for t in inputs
    )
    expected = _expected_input(layer)
    head = layer.extra_repr()
    args = f"({head})" if head and "\n" not in head else ""
    msg = (
        f"layer {_layer_label(layer)}{args} cannot take its input: got shape {got}"
        + (f"; expected {expected}" if expected else "")
        + f". The layer said: {type(e).__name__}: {e} "
        f"(checked on a dummy batch of {_BATCH})"
    )
    return TypeError(msg) if isinstance(e, TypeError) else ValueError(msg)
