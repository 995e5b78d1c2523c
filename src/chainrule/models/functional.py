r"""The functional pattern (notes 001: "allows complex architecture where layers have multiple
i/p, o/p"): Keras's functional API on chainrule modules.

``Input(shape)`` makes a *symbolic* tensor: it has a shape and a dtype but no values. Calling
any :class:`chainrule.nn.Module` on symbolic tensors does not compute; it records a *node*
(the layer and the tensors it was called on) and returns new symbolic tensors.
``Model(inputs, outputs)`` walks the recorded nodes back from the outputs and becomes an
ordinary ``Module`` that runs them in topological order.

Shapes are checked as the graph is built. Each call runs the layer on two small dummy batches
(2 and 3 samples, the declared dtype, in eval mode, under ``no_grad``), so a layer that cannot
take the shape it was given fails at once, with one error naming the layer, the shape it got
and, where the layer declares it (``in_features``, ``in_channels``, ``num_features``, ...), the
shape it expected. Dimensions declared ``None`` (a variable sequence length) get sizes 3 and 5
in the two batches; an output axis whose size differs between them is ``None`` (the batch axis,
wherever a layer puts it, like the second axis of an LSTM's hidden state).

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
from collections.abc import Callable, Mapping
from typing import Any

from chainrule.autograd.grad_mode import no_grad
from chainrule.models._graph import (
    Input,
    SymbolicTensor,
    _fmt_shape,
    _fmt_struct,
    _map,
    _Node,
    record_call,
)
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["Input", "Model", "SymbolicTensor", "record_call"]


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
        self._input_checks = [  # (rank, ((axis, size) of each fixed axis)) per input
            (len(t.shape), tuple((i, d) for i, d in enumerate(t.shape) if d is not None))
            for t in in_list
        ]
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
            got = tuple(o.shape)
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

    def _bind_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        """The inputs in ``self.inputs`` order: tensors, or symbolic tensors when the model
        is called on ``Input``s (a model used as a layer)."""
        n = len(self.inputs)
        if not kwargs and len(args) == n:  # fast path: model(a, b) on tensors of the right rank
            for x, (ndim, fixed) in zip(args, self._input_checks):
                if type(x) is not Tensor:
                    break
                shape = x.data.shape
                if len(shape) != ndim or any(shape[i] != d for i, d in fixed):
                    break
            else:
                return list(args)
        names = self.input_names
        if kwargs:
            if args:
                raise TypeError(
                    f"Model {self.name!r}: pass the inputs either positionally or by name, not both"
                )
            args = (kwargs,)
        if len(args) == 1 and (type(args[0]) is dict or isinstance(args[0], Mapping)):
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
        symbolic = [isinstance(x, SymbolicTensor) for x in xs]
        if any(symbolic):
            if not all(symbolic):
                raise TypeError(
                    f"Model {self.name!r}: some inputs are symbolic (chainrule.Input) and some "
                    "are real tensors; call a model on symbolic tensors to build a graph, or on "
                    "real ones to compute"
                )
            return xs
        for i, (x, t) in enumerate(zip(xs, self.inputs)):
            if not isinstance(x, Tensor):
                x = xs[i] = Tensor(x)
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
        xs = self._bind_inputs(args, kwargs)
        if xs and isinstance(xs[0], SymbolicTensor):  # e.g. model(image=x, tab=t) on Inputs
            return record_call(self, tuple(xs), {})
        outs = self._run(xs)
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
