"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from chainrule.nn.module import Module

__all__ = ["ModuleDict", "ModuleList", "Sequential"]


class Sequential(Module):
    """A stack of layers where the output of one is the input of the next (notes 001,
    "Sequential pattern"). Layers are named ``0, 1, 2, ...`` or by an ``OrderedDict``.

    Example:
        >>> import chainrule as cr
        >>> model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 2))
        >>> model(cr.zeros(3, 4)).shape
        (3, 2)
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, input: Any) -> Any:
        for m in self._modules.values():
            if m is not None:  # a slot set to None (as torch allows) is skipped
                input = m(input)
        return input

    def add(self, module: Module) -> Sequential:
        """Append a layer (Keras's ``Sequential.add``)."""
        self.add_module(str(len(self._modules)), module)
        return self

    append = add

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(m for m in self._modules.values() if m is not None)

    def __getitem__(self, idx: int | slice) -> Any:
        mods = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(mods[idx]))
        if not -len(mods) <= idx < len(mods):
            raise IndexError(f"index {idx} is out of range for Sequential of length {len(mods)}")
        return mods[idx][1]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[idx]
        self.add_module(key, module)


class ModuleList(Module):
    """A list of modules whose parameters are registered (a Python list's would not be).

    Example:
        >>> import chainrule as cr
        >>> layers = cr.nn.ModuleList([cr.nn.Linear(4, 4) for _ in range(3)])
        >>> len(layers), layers.num_parameters()
        (3, 60)
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        for m in modules or ():
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._modules.values()))

    def __getitem__(self, idx: int | slice) -> Any:
        mods: list[Any] = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(mods[idx])
        return mods[idx]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(list(self._modules)[idx], module)


class ModuleDict(Module):
    """A dict of modules whose parameters are registered.

    Example:
        >>> import chainrule as cr
        >>> heads = cr.nn.ModuleDict({"digit": cr.nn.Linear(8, 10), "ink": cr.nn.Linear(8, 1)})
        >>> sorted(heads.state_dict())
        ['digit.bias', 'digit.weight', 'ink.bias', 'ink.weight']
    """

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        for k, m in (modules or {}).items():
            self.add_module(k, m)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]  # type: ignore[return-value]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Any:
        return self._modules.keys()

    def values(self) -> Any:
        return self._modules.values()

    def items(self) -> Any:
        return self._modules.items()
