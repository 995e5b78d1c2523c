r"""The functional pattern (notes 001: "allows complex architecture where layers have multiple
i/p, o/p"): Keras's functional API on chainrule modules.

``Input(shape)`` makes a *symbolic* tensor: it has a shape and a dtype but no values. Calling
any :class:`chainrule.nn.Module` on symbolic tensors does not compute; it records a *node*
(the layer and the tensors it was called on) and returns new symbolic tensors.
``Model(inputs, outputs)`` walks the recorded nodes back from the outputs and becomes an
ordinary ``Module`` that runs them in topological order.

Shapes are checked as the graph is built. Each call runs the layer once on a small dummy batch
(batch of 2, the declared dtype, in eval mode, under ``no_grad``), so a layer that cannot take
the shape it was given fails at once, with one error naming the layer, the shape it got and,
where the layer declares it (``in_features``, ``in_channels``, ``num_features``, ...), the shape
it expected. Dimensions declared ``None`` (a variable sequence length) are run at two sizes;
output dimensions that follow them are reported as ``None``.

The layers become the model's children, named after their ``name`` attribute or their class
(``linear``, ``linear_1``, ... in call order, like Keras), so ``state_dict`` works and a layer
called on two branches (a shared layer) appears, with its parameters, once.

Example:
    >>> import chainrule as cr
    >>> image = cr.Input(shape=(4,), name="image")
    >>> extra = cr.Input(shape=(2,), name="extra")
    >>> h = cr.nn.Linear(4, 3)(image)
    >>> both = cr.nn.Concatenate(dim=1)([h, extra])
    >>> label, value = cr.nn.Linear(5, 10)(both), cr.nn.Linear(5, 1)(both)
    >>> model = cr.Model(inputs=[image, extra], outputs=[label, value], name="two_heads")
    >>> [o.shape for o in model(cr.zeros(8, 4), cr.zeros(8, 2))]
    [(8, 10), (8, 1)]
    >>> list(model.state_dict())[:2]
    ['linear.weight', 'linear.bias']
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from chainrule import dtypes
from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import numpy as _np
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["Input", "Model", "SymbolicTensor", "record_call"]

_ids = itertools.count()  # creation order of tensors and nodes: a valid topological order
_BATCH = 2  # rows of the dummy batch that checks shapes
_FREE_SIZES = (3, 5)  # sizes tried for dimensions declared None


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
        self._values = values  # dummy batches, one per size tried for free dims
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
    sizes = _FREE_SIZES if None in shape else _FREE_SIZES[:1]
    values = tuple(
        _dummy((_BATCH, *(s if dim is None else dim for dim in shape)), d) for s in sizes
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
    if isinstance(layer, Model):
        return ", ".join(_fmt_shape(t.shape) for t in layer.inputs)
    if isinstance(get("in_features"), int):
        return f"(None, ..., {get('in_features')})"
    rank = {"1d": ", L", "2d": ", H, W", "3d": ", D, H, W"}.get(cls[-2:], ", ...")
    if isinstance(get("in_channels"), int):
        return f"(None, {get('in_channels')}{rank})"
    if isinstance(get("num_features"), int):
        return f"(None, {get('num_features')}{rank if cls.endswith(('2d', '3d')) else ', ...'})"
    if isinstance(get("normalized_shape"), tuple):
        return "(None, ..., " + ", ".join(map(str, get("normalized_shape"))) + ")"
    if isinstance(get("input_size"), int):
        if get("batch_first"):
            return f"(None, L, {get('input_size')})"
        return f"(L, None, {get('input_size')}) (batch_first=False: time first)"
    if isinstance(get("num_embeddings"), int):
        return f"integer indices in [0, {get('num_embeddings') - 1}]"
    return None


def record_call(layer: Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Record ``layer(*args, **kwargs)`` on symbolic tensors as a graph node.

    Called by ``Module.__call__`` when its first argument is symbolic. Runs the layer on the
    inputs' dummy batches to learn the output shapes, and returns symbolic outputs in the
    structure the layer returns (a tensor, or e.g. an LSTM's ``(output, (h, c))``).

    Raises:
        ValueError: the layer cannot take these shapes (names the layer, the shape it got and
            the shape it expects where it declares one; the layer's own error is chained).
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
    for i, first in enumerate(leaves[0]):
        variants = tuple(lv[i] for lv in leaves)
        dims = [
            d if all(x.shape[j] == d for x in variants) else None for j, d in enumerate(first.shape)
        ]
        shape = (None, *dims[1:]) if dims else ()
        node.outputs.append(SymbolicTensor(shape, first.dtype, variants, node=node))
    it = iter(node.outputs)
    node.out_struct = _map(results[0], Tensor, lambda _: next(it))
    return node.out_struct


def _shape_error(layer: Module, inputs: list[SymbolicTensor], e: Exception) -> ValueError:
    got = ", ".join(
        f"{_fmt_shape(t.shape)} from "
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
        f"(shapes are checked on a dummy batch of {_BATCH})"
    )
    return ValueError(msg)


class _Slot:
    """A reference to a computed value in a compiled graph."""

    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i


def _fill(template: Any, values: list[Any]) -> Any:
    if type(template) is _Slot:
        return values[template.i]
    if type(template) in (list, tuple):
        return type(template)(_fill(t, values) for t in template)
    if type(template) is dict:
        return {k: _fill(t, values) for k, t in template.items()}
    return template


def _store(template: Any, out: Any, values: list[Any], layer: str) -> None:
    if type(template) is _Slot:
        values[template.i] = out
    elif type(template) in (list, tuple):
        if not isinstance(out, (list, tuple)) or len(out) != len(template):
            raise RuntimeError(
                f"layer {layer} returned {type(out).__name__} where its graph expects "
                f"a sequence of {len(template)}"
            )
        for t, o in zip(template, out):
            _store(t, o, values, layer)
    elif type(template) is dict:
        for k, t in template.items():
            _store(t, out[k], values, layer)


_RESERVED = re.compile(r"[^0-9A-Za-z_]")


class Model(Module):
    """A model defined by a graph of layer calls from :func:`Input` tensors to outputs.

    Args:
        inputs: one symbolic tensor from :func:`Input`, a list of them, or a dict
            ``{name: tensor}`` (the keys become the input names).
        outputs: one symbolic tensor, a list/tuple, or a dict ``{name: tensor}``.
        name: the model's name (``summary`` prints it; the default is ``"model"``).

    ``model(...)`` accepts the inputs positionally (``model(image, features)``), as one list
    or tuple, as a dict keyed by input name, or as keyword arguments by input name; NumPy
    arrays are wrapped as tensors. It returns one tensor, a tuple in output order, or a dict,
    as ``outputs`` was given.

    Raises:
        TypeError: an input is not from ``Input()``, or an output is not symbolic.
        ValueError: an output depends on an input that is not listed (a disconnected graph),
            an input is listed twice, or a layer cannot take its input shape.

    Example:
        >>> import chainrule as cr
        >>> x = cr.Input(shape=(3,))
        >>> shared = cr.nn.Linear(3, 3)
        >>> y = shared(shared(x).relu())            # one layer, called twice
        >>> m = cr.Model(x, y)
        >>> [name for name, _ in m.named_parameters()]
        ['linear.weight', 'linear.bias']
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None) -> None:
        super().__init__()
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Model: name must be a string, got {type(name).__name__}")
        self.name = name or "model"
        in_list, in_names = self._parse_inputs(inputs)
        self._output_kind, out_list, out_keys = self._parse_outputs(outputs)
        self.inputs = in_list
        self.input_names = in_names
        self.outputs = out_list
        nodes = self._collect(in_list, out_list, in_names)
        self._nodes = nodes
        self._layer_names = self._register_layers(nodes)
        if out_keys is None:
            out_keys = [self._tensor_label(t) for t in out_list]
        self.output_names = list(out_keys)
        self._compile()
        self._check_build()

    # ---- construction ----
    @staticmethod
    def _parse_inputs(inputs: Any) -> tuple[list[SymbolicTensor], list[str]]:
        if isinstance(inputs, Mapping):
            keys, items = list(inputs.keys()), list(inputs.values())
        elif isinstance(inputs, (list, tuple)):
            keys, items = None, list(inputs)
        else:
            keys, items = None, [inputs]
        if not items:
            raise ValueError("Model: inputs is empty; pass the tensors made by chainrule.Input()")
        for i, t in enumerate(items):
            if not isinstance(t, SymbolicTensor):
                raise TypeError(
                    f"Model: inputs[{i}] is a {type(t).__name__}; inputs must be tensors made "
                    "by chainrule.Input(shape=...)"
                )
            if t._node is not None:
                raise TypeError(
                    f"Model: inputs[{i}] is the output of {t._node.describe()}, not a "
                    "chainrule.Input(); a model's inputs must be Input tensors"
                )
        if len({id(t) for t in items}) != len(items):
            raise ValueError("Model: the same Input tensor is listed twice in inputs")
        if keys is None:
            taken = {t.name for t in items if t.name}
            counter = itertools.count()
            keys = []
            for t in items:
                if t.name:
                    keys.append(t.name)
                    continue
                while True:
                    k = next(counter)
                    cand = "input" if k == 0 else f"input_{k}"
                    if cand not in taken:
                        break
                taken.add(cand)
                keys.append(cand)
        for k in keys:
            if not isinstance(k, str) or not k:
                raise TypeError(f"Model: input names must be non-empty strings, got {k!r}")
        if len(set(keys)) != len(keys):
            raise ValueError(f"Model: input names must be unique, got {keys}")
        return items, [str(k) for k in keys]

    @staticmethod
    def _parse_outputs(outputs: Any) -> tuple[str, list[SymbolicTensor], list[str] | None]:
        if isinstance(outputs, Mapping):
            kind, keys, items = "dict", [str(k) for k in outputs], list(outputs.values())
        elif isinstance(outputs, (list, tuple)):
            kind, keys, items = "list", None, list(outputs)
        else:
            kind, keys, items = "single", None, [outputs]
        if not items:
            raise ValueError("Model: outputs is empty")
        for i, t in enumerate(items):
            if not isinstance(t, SymbolicTensor):
                raise TypeError(
                    f"Model: outputs[{i}] is a {type(t).__name__}; outputs must be symbolic "
                    "tensors, made by calling layers on chainrule.Input(...) tensors"
                )
        return kind, items, keys

    @staticmethod
    def _collect(
        inputs: list[SymbolicTensor], outputs: list[SymbolicTensor], names: list[str]
    ) -> list[_Node]:
        """The nodes between inputs and outputs, in topological (creation) order."""
        input_ids = {id(t) for t in inputs}
        nodes: dict[int, _Node] = {}
        stack = list(outputs)
        seen: set[int] = set()
        while stack:
            t = stack.pop()
            if id(t) in seen or id(t) in input_ids:
                continue
            seen.add(id(t))
            if t._node is None:
                listed = ", ".join(f"'{n}'" for n in names)
                raise ValueError(
                    "Model: graph disconnected: an output depends on input "
                    f"{('' + repr(t.name)) if t.name else 'tensor'} {_fmt_shape(t.shape)}, "
                    f"which is not in inputs ({listed}); add it to inputs"
                )
            nodes[id(t._node)] = t._node
            stack.extend(t._node.inputs)
        return sorted(nodes.values(), key=lambda n: n._id)

    def _register_layers(self, nodes: list[_Node]) -> dict[int, str]:
        names: dict[int, str] = {}
        used: set[str] = set()
        for node in nodes:
            layer = node.layer
            if id(layer) in names:
                continue
            if layer is self:
                raise ValueError("Model: a model cannot contain itself")
            given = getattr(layer, "name", None)
            base = given if isinstance(given, str) and given else type(layer).__name__.lower()
            base = _RESERVED.sub("_", base)
            cand, k = base, 0
            while cand in used or cand in self.__dict__ or hasattr(type(self), cand):
                k += 1
                cand = f"{base}_{k}"
            used.add(cand)
            names[id(layer)] = cand
            self.add_module(cand, layer)
        return names

    def _tensor_label(self, t: SymbolicTensor) -> str:
        if t._node is None:
            return self.input_names[[id(i) for i in self.inputs].index(id(t))]
        node = t._node
        name = self._layer_names[id(node.layer)]
        calls = [n for n in self._nodes if n.layer is node.layer]
        if len(calls) > 1 or len(node.outputs) > 1:  # Keras's layer[call][output]
            k = [id(o) for o in node.outputs].index(id(t))
            name += f"[{calls.index(node)}][{k}]"
        return name

    def _compile(self) -> None:
        slots: dict[int, int] = {id(t): i for i, t in enumerate(self.inputs)}
        for node in self._nodes:
            for t in node.outputs:
                slots[id(t)] = len(slots)

        def slot(t: SymbolicTensor) -> _Slot:
            return _Slot(slots[id(t)])

        plan = []
        for node in self._nodes:
            args = _map(node.args, SymbolicTensor, slot)
            kwargs = _map(node.kwargs, SymbolicTensor, slot)
            out = _map(node.out_struct, SymbolicTensor, slot)
            fast_in = args[0].i if len(args) == 1 and type(args[0]) is _Slot and not kwargs else -1
            fast_out = out.i if type(out) is _Slot else -1
            label = f"'{self._layer_names[id(node.layer)]}' ({type(node.layer).__name__})"
            plan.append((node.layer, fast_in, args, kwargs, fast_out, out, label))
        self._plan = plan
        self._n_slots = len(slots)
        self._out_slots = [slots[id(t)] for t in self.outputs]

    def _check_build(self) -> None:
        """Run the compiled graph once on the dummy batch and compare every output shape."""
        modes = [(m, m.training) for m in self.modules()]
        try:
            for m, _ in modes:
                object.__setattr__(m, "training", False)
            with no_grad():
                outs = self._run([t._values[0] for t in self.inputs])
        finally:
            for m, mode in modes:
                object.__setattr__(m, "training", mode)
        for t, o, n in zip(self.outputs, outs, self.output_names):
            got = (None, *o.shape[1:]) if o.ndim else ()
            want = tuple(g if w is None else w for g, w in zip(got, t.shape))
            if len(got) != len(t.shape) or got != want:
                raise RuntimeError(
                    f"Model {self.name!r}: output {n!r} has shape {_fmt_shape(got)} when the "
                    f"graph is replayed, but {_fmt_shape(t.shape)} when it was recorded; was a "
                    "layer changed after it was called?"
                )

    # ---- running ----
    def _run(self, xs: list[Tensor]) -> list[Tensor]:
        values: list[Any] = [None] * self._n_slots
        values[: len(xs)] = xs
        for layer, fast_in, args, kwargs, fast_out, out_t, label in self._plan:
            if fast_in >= 0:
                out = layer(values[fast_in])
            else:
                out = layer(*_fill(args, values), **_fill(kwargs, values))
            if fast_out >= 0:
                values[fast_out] = out
            else:
                _store(out_t, out, values, label)
        return [values[i] for i in self._out_slots]

    def _bind_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Tensor]:
        n = len(self.inputs)
        names = self.input_names
        if kwargs:
            if args:
                raise TypeError(
                    f"Model {self.name!r}: pass the inputs either positionally or by name, not both"
                )
            args = (kwargs,)
        if len(args) == 1 and isinstance(args[0], Mapping):
            given = args[0]
            missing = [k for k in names if k not in given]
            extra = [k for k in given if k not in names]
            if missing or extra:
                raise ValueError(
                    f"Model {self.name!r} expects inputs {names}; "
                    + (f"missing {missing}" if missing else "")
                    + ("; " if missing and extra else "")
                    + (f"unknown {extra}" if extra else "")
                )
            xs = [given[k] for k in names]
        elif len(args) == 1 and isinstance(args[0], (list, tuple)) and (n > 1 or len(args[0]) == 1):
            xs = list(args[0])
        else:
            xs = list(args)
        if len(xs) != n:
            raise TypeError(
                f"Model {self.name!r} expects {n} input{'s' if n > 1 else ''} ({', '.join(names)}),"
                f" got {len(xs)}"
            )
        for i, (x, t) in enumerate(zip(xs, self.inputs)):
            if not isinstance(x, Tensor):
                if isinstance(x, SymbolicTensor):
                    raise TypeError("internal error: symbolic input reached Model.forward")
                x = xs[i] = Tensor(x) if not isinstance(x, Tensor) else x
            shape = x.shape
            if len(shape) != len(t.shape) or any(
                d is not None and d != s for d, s in zip(t.shape[1:], shape[1:])
            ):
                raise ValueError(
                    f"Model {self.name!r}: input {names[i]!r} expects shape "
                    f"{_fmt_shape(t.shape)} (None: any size), got {_fmt_shape(tuple(shape))}"
                )
        return xs

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        outs = self._run(self._bind_inputs(args, kwargs))
        if self._output_kind == "single":
            return outs[0]
        if self._output_kind == "dict":
            return dict(zip(self.output_names, outs))
        return tuple(outs)

    # ---- inspection ----
    @property
    def layers(self) -> list[Module]:
        """The layers, each once, in the order they were first called."""
        return list(self._modules.values())  # type: ignore[arg-type]

    def get_layer(self, name: str) -> Module:
        """The layer registered under ``name`` (see :meth:`summary`)."""
        if name not in self._modules:
            raise KeyError(
                f"Model {self.name!r} has no layer {name!r}; layers: {list(self._modules)}"
            )
        return self._modules[name]  # type: ignore[return-value]

    def summary_text(self) -> str:
        """The table :meth:`summary` prints."""
        rows: list[tuple[str, str, str, str]] = []
        for t, n in zip(self.inputs, self.input_names):
            rows.append((f"{n} (Input)", _fmt_shape(t.shape), "0", "-"))
        counted: set[int] = set()
        for node in self._nodes:
            layer = node.layer
            name = f"{self._layer_names[id(layer)]} ({type(layer).__name__})"
            if id(layer) in counted:
                params = "shared"
            else:
                counted.add(id(layer))
                params = f"{layer.num_parameters():,}"
            shape = _fmt_struct(node.out_struct)
            conn = ", ".join(self._tensor_label(t) for t in node.inputs)
            rows.append((name, shape, params, conn))
        head = ("Layer (type)", "Output Shape", "Param #", "Connected to")
        w = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]

        def line(r: tuple[str, str, str, str]) -> str:
            return f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:>{w[2]}}  {r[3]}".rstrip()

        rule = "=" * max(len(line(r)) for r in [head, *rows])
        total = self.num_parameters()
        trainable = self.num_parameters(trainable_only=True)
        lines = [
            f'Model: "{self.name}"',
            line(head),
            rule,
            *(line(r) for r in rows),
            rule,
            f"Total params: {total:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
            "Inputs: "
            + ", ".join(self.input_names)
            + "  |  Outputs: "
            + ", ".join(self.output_names),
        ]
        return "\n".join(lines)

    def summary(self, print_fn: Callable[[str], Any] | None = None) -> None:
        """Print the graph: each layer (type), its output shape, parameters and the layers it
        is connected to (Keras's ``Model.summary``), then the totals.

        Example:
            >>> import chainrule as cr
            >>> x = cr.Input(shape=(4,), name="x")
            >>> cr.Model(x, cr.nn.Linear(4, 2)(x), name="tiny").summary()
            Model: "tiny"
            Layer (type)     Output Shape  Param #  Connected to
            ====================================================
            x (Input)        (None, 4)           0  -
            linear (Linear)  (None, 2)          10  x
            ====================================================
            Total params: 10
            Trainable params: 10
            Non-trainable params: 0
            Inputs: x  |  Outputs: linear
        """
        (print_fn or print)(self.summary_text())

    def extra_repr(self) -> str:
        return f"name={self.name!r}, inputs={self.input_names}, outputs={self.output_names}"
