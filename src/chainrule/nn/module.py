"""``Module``: the base class of every layer and model, with PyTorch's registration rules.

Assigning a :class:`Parameter` to an attribute registers it as learnable, a ``Module``
registers it as a child, and :meth:`Module.register_buffer` keeps non-learnable state (for
example BatchNorm's running statistics). ``state_dict`` names everything with dotted keys
(``features.0.weight``), exactly as PyTorch does, so weights move between the two frameworks
without renaming.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from chainrule import dtypes
from chainrule.autograd.grad_mode import no_grad
from chainrule.nn.parameter import Buffer, Parameter
from chainrule.tensor import Tensor, _to_array

__all__ = ["IncompatibleKeys", "Module"]


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` could not match (PyTorch's ``_IncompatibleKeys``)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class for layers and models.

    Subclasses create their parameters and sub-modules in ``__init__`` (after calling
    ``super().__init__()``) and define ``forward``. Calling the module runs ``forward``.

    Example:
        >>> import chainrule as cr
        >>> class TwoLayer(cr.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = cr.nn.Linear(2, 3)
        ...         self.out = cr.nn.Linear(3, 1)
        ...     def forward(self, x):
        ...         return self.out(self.hidden(x).relu())
        >>> [name for name, _ in TwoLayer().named_parameters()]
        ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    training: bool
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Tensor | None]
    _non_persistent: set[str]
    _modules: dict[str, Module | None]

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "_forward_pre_hooks", [])

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args and type(args[0]) is not Tensor and _is_symbolic(args[0]):
            # Functional API: a call on chainrule.Input(...) records a graph node instead.
            from chainrule.models.functional import record_call

            return record_call(self, args, kwargs)
        if self._forward_pre_hooks:
            for hook in self._forward_pre_hooks:
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in self._forward_hooks:
                r = hook(self, args, out)
                if r is not None:
                    out = r
        return out

    def register_forward_hook(self, hook: Callable[..., Any]) -> Callable[[], None]:
        """Call ``hook(module, inputs, output)`` after every forward; returns a remover."""
        self._forward_hooks.append(hook)
        return lambda: self._forward_hooks.remove(hook)

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> Callable[[], None]:
        """Call ``hook(module, inputs)`` before every forward; returns a remover."""
        self._forward_pre_hooks.append(hook)
        return lambda: self._forward_pre_hooks.remove(hook)

    # ---- registration ----
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() call in "
                f"{type(self).__name__}.__init__"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name, keep=params)  # keep: re-assigning keeps the name's position
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value
        elif isinstance(value, Buffer):
            self._forget(name)
            self.register_buffer(name, value, value.persistent)
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} "
                    "(chainrule.nn.Parameter or None expected)"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module {name!r} "
                    "(chainrule.nn.Module or None expected)"
                )
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer {name!r} "
                    "(chainrule.Tensor or None expected)"
                )
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict[str, Any] | None = None) -> None:
        for d in (self._parameters, self._buffers, self._modules):
            if d is not keep:
                d.pop(name, None)
        self._non_persistent.discard(name)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(
            set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules)
        )

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or a ``None`` placeholder) under ``name``."""
        _check_name(name, self, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} object to parameter {name!r} "
                "(chainrule.nn.Parameter or None required)"
            )
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register non-learnable state; persistent buffers are saved in ``state_dict``."""
        _check_name(name, self, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign {type(tensor).__name__} object to buffer {name!r} "
                "(chainrule.Tensor or None required)"
            )
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a child module under ``name``."""
        _check_name(name, self, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    register_module = add_module

    # ---- traversal ----
    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """Every module in the tree (this one first), with dotted names; iterative walk."""
        seen: set[int] = set() if memo is None else memo
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if remove_duplicate:
                if id(m) in seen:
                    continue
                seen.add(id(m))
            yield name, m
            children = [
                (f"{name}.{k}" if name else k, c) for k, c in m._modules.items() if c is not None
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(
        self, store: str, prefix: str, recurse: bool, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix) if recurse else iter([(prefix, self)])
        for mname, m in mods:
            for k, v in getattr(m, store).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield (f"{mname}.{k}" if mname else k), v

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """``(name, parameter)`` pairs; a parameter shared by two layers is listed once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The module at the dotted path ``target`` (``""``: this one), as torch.

        Example:
            >>> import chainrule as cr
            >>> net = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.Sequential(cr.nn.ReLU()))
            >>> net.get_submodule("1.0")
            ReLU()
        """
        m: Module = self
        if not target:
            return m
        path: list[str] = []
        for part in target.split("."):
            child = m._modules.get(part)
            if child is None:
                at = ".".join(path) or "the model"
                raise AttributeError(
                    f"{type(self).__name__}.get_submodule({target!r}): {at} "
                    f"({type(m).__name__}) has no submodule {part!r}; its children: "
                    f"{[k for k, v in m._modules.items() if v is not None]}"
                )
            path.append(part)
            m = child
        return m

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at the dotted path ``target`` (``"0.weight"``), as torch."""
        return self._get_member(target, "parameter", "_parameters")

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path ``target`` (``"1.running_mean"``), as torch."""
        return self._get_member(target, "buffer", "_buffers")

    def _get_member(self, target: str, kind: str, table: str) -> Any:
        """``get_parameter``/``get_buffer``: the entry ``name`` of the ``table`` dict of the
        sub-module at the path before the last dot; a clear error listing what is there."""
        mod, _, name = target.rpartition(".")
        owner = self.get_submodule(mod)
        entries = getattr(owner, table)
        found = entries.get(name)
        if found is None:
            raise AttributeError(
                f"{type(self).__name__}.get_{kind}({target!r}): {type(owner).__name__} has "
                f"no {kind} {name!r}; its {kind}s: {list(entries)}"
            )
        return found

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every sub-module (children first) and on this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ----
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm uses batch statistics)."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be a bool, got {mode!r}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off, batch norm uses running statistics)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (``False``) or unfreeze every parameter, e.g. a pretrained backbone."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter (to ``None`` by default, as PyTorch)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.data[...] = 0

    # ---- dtype ----
    def to(self, dtype: Any = None, *args: Any, **kwargs: Any) -> Module:
        """Convert every floating parameter and buffer to ``dtype`` in place."""
        dtype = kwargs.get("dtype", dtype if dtype is not None else (args[0] if args else None))
        if dtype is None or dtype == "cpu":
            return self
        d = dtypes.resolve_dtype(dtype)
        if d.kind != "f":
            raise TypeError(f"Module.to only accepts floating dtypes, got {d}")
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is not None and t.data.dtype.kind == "f" and t.data.dtype != d:
                        t.data = t.data.astype(d)
                        if t.grad is not None:
                            t.grad.data = t.grad.data.astype(d)
        return self

    def float(self) -> Module:
        return self.to(dtypes.float32)

    def double(self) -> Module:
        return self.to(dtypes.float64)

    def cpu(self) -> Module:
        return self

    # ---- state ----
    def state_dict(
        self,
        destination: dict[str, Tensor] | None = None,
        prefix: str = "",
        keep_vars: bool = False,
    ) -> dict[str, Tensor]:
        """Every parameter and persistent buffer by dotted name, sharing memory (as torch)."""
        out = OrderedDict() if destination is None else destination
        for mname, m in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            pre = f"{mname}." if mname else ""
            for k, p in m._parameters.items():
                if p is not None:
                    out[pre + k] = p if keep_vars else p.detach()
            for k, b in m._buffers.items():
                if b is not None and k not in m._non_persistent:
                    out[pre + k] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy values into this module's parameters and buffers (in place, so optimizers
        holding the parameters keep working).

        Values may be chainrule tensors, NumPy arrays or PyTorch tensors. Floating values are
        cast to the parameter's dtype.

        Raises:
            RuntimeError: with ``strict``, when keys are missing or unexpected; always, when a
                shape differs. The message lists every problem, in PyTorch's wording.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"expected a mapping of names to arrays, got {type(state_dict)}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        values = {}
        for k, target in own.items():
            if k not in state_dict:
                continue
            arr = _as_array(state_dict[k], k)
            if arr.shape != target.data.shape:
                errors.append(
                    f"size mismatch for {k}: copying a param with shape {tuple(arr.shape)} from "
                    f"checkpoint, the shape in current model is {tuple(target.data.shape)}."
                )
                continue
            values[k] = arr
        if strict:
            if unexpected:
                errors.insert(
                    0,
                    "Unexpected key(s) in state_dict: "
                    + ", ".join(f'"{k}"' for k in unexpected)
                    + ".",
                )
            if missing:
                errors.insert(
                    0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + "."
                )
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        with no_grad():
            for k, arr in values.items():
                t = own[k]
                if t.data.dtype.kind == "f" and arr.dtype != t.data.dtype:
                    arr = arr.astype(t.data.dtype)
                t.data[...] = arr
        return IncompatibleKeys(missing, unexpected)

    # ---- Keras-style training (chainrule.training builds these on the public pieces) ----
    def compile(
        self, optimizer: Any = "adam", loss: Any = None, metrics: Any = None, **kwargs: Any
    ) -> None:
        """Attach an optimizer, a loss and metrics for :meth:`fit` (Keras's ``compile``)."""
        from chainrule.training.compile import compile_model

        compile_model(self, optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def fit(self, x: Any = None, y: Any = None, **kwargs: Any) -> Any:
        """Train with mini-batch gradient descent; returns a ``History`` (Keras's ``fit``)."""
        from chainrule.training.trainer import fit

        return fit(self, x, y, **kwargs)

    def evaluate(self, x: Any = None, y: Any = None, **kwargs: Any) -> Any:
        """Loss and metrics on data, in eval mode and without gradients."""
        from chainrule.training.trainer import evaluate

        return evaluate(self, x, y, **kwargs)

    def predict(self, x: Any, **kwargs: Any) -> Any:
        """Model outputs for ``x`` as NumPy arrays, batch by batch, in eval mode."""
        from chainrule.training.trainer import predict

        return predict(self, x, **kwargs)

    # ---- repr ----
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            mod = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {mod}")
        main = type(self).__name__ + "("
        if not lines:
            return main + ")"
        if len(lines) == 1 and not self._modules:
            return main + lines[0] + ")"
        return main + "\n  " + "\n  ".join(lines) + "\n)"

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Total number of parameter elements (only trainable ones if asked)."""
        return sum(p.data.size for p in self.parameters() if p.requires_grad or not trainable_only)


def _is_symbolic(a: Any) -> bool:
    """A symbolic tensor of the functional API, or a list/tuple starting with one."""
    if type(a) is list or type(a) is tuple:
        return bool(a) and getattr(a[0], "_chainrule_symbolic", False)
    return getattr(a, "_chainrule_symbolic", False)


def _check_name(name: str, module: Module, kind: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if "." in name or name == "":
        raise KeyError(f"{kind} name can't contain \".\" and can't be empty, got {name!r}")
    if hasattr(type(module), name) and not isinstance(getattr(type(module), name), property):
        if (
            name not in module._parameters
            and name not in module._buffers
            and name not in module._modules
        ):
            raise KeyError(f"attribute {name!r} already exists on {type(module).__name__}")


def _as_array(value: Any, key: str) -> Any:
    if isinstance(value, Tensor):
        return value.data
    if type(value).__module__.startswith("torch"):  # a torch.Tensor, without importing torch
        return value.detach().cpu().numpy()
    try:
        return _to_array(value)
    except TypeError as e:
        raise TypeError(f"state_dict entry {key!r}: {e}") from e
