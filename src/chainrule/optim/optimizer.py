r"""``Optimizer``: the base class of every optimizer, with PyTorch's anatomy.

An optimizer holds ``param_groups`` (a list of dicts, each with ``"params"`` and its own
hyperparameters) and a lazily filled per-parameter ``state``. :meth:`Optimizer.step` walks the
groups, skips frozen parameters (``requires_grad`` False or ``grad`` None), forms the gradient
the update rule sees and hands it to the subclass's ``_update``, which changes ``p.data`` and
the state buffers in place. The update works on arrays: it never records a graph and never
writes into ``p.grad`` (another holder may read it).

The gradient handed to ``_update`` is the notes' :math:`g_t`, built as torch does::

    g_t = ∇_θ f(θ_{t-1})                      (or −∇ when maximize=True)
    g_t = g_t + l1 · sign(θ_{t-1})            (chainrule's L1 option; torch has none)
    g_t = g_t + λ θ_{t-1}                     (coupled weight decay, the L2 penalty λ/2‖θ‖²)

Decoupled weight decay (AdamW, ``NAdam(decoupled_weight_decay=True)``) instead shrinks
:math:`θ` inside ``_update``.

``state_dict()`` has torch's shape, ``{"state": {index: {...}}, "param_groups": [{...,
"params": [indices]}]}``, with state values as arrays or Python numbers (steps are ints), so a
checkpoint can store the arrays as safetensors and the rest as JSON. ``load_state_dict``
checks the group count and sizes and every state array's shape against its parameter
(never a silent zip by position), and copies the arrays, so a restored optimizer continues
bit for bit.
"""

from __future__ import annotations

import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from chainrule import dtypes
from chainrule.autograd.grad_mode import enable_grad
from chainrule.backend import Array, errstate, get_array_module
from chainrule.tensor import Tensor

__all__ = ["Optimizer", "ParamsT"]

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]


class Optimizer:
    """Base class: parameter groups, lazy state, ``zero_grad``, ``step``, state dicts.

    Subclasses pass their hyperparameter ``defaults`` to ``__init__`` and implement
    ``_validate(hparams)`` (argument checks), ``_init_state(p, group)`` (the per-parameter state
    created on the first step that parameter has a gradient) and ``_update(p, g, state,
    group)`` (one parameter's update on arrays, in place).

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs (e.g.
            ``model.named_parameters()``), or of dicts defining parameter groups.
        defaults: hyperparameter values used by groups that do not set them.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0]))
        >>> opt = cr.optim.SGD([w], lr=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w.tolist()                 # θ − 0.5 · 2θ
        [0.0, 0.0]
    """

    #: every key a parameter's state may hold (load_state_dict rejects others)
    _state_keys: ClassVar[tuple[str, ...]] = ()
    #: state keys that are Python numbers, not arrays shaped like the parameter
    _scalar_state_keys: ClassVar[tuple[str, ...]] = ("step",)

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        self.defaults = dict(defaults)
        self._validate(self.defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._opt_called = False  # read by lr schedulers ("scheduler stepped first?")
        self._scratch_buf: dict[Any, Array] = {}  # see _scratch()

        from chainrule.nn.module import Module

        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, but got a single "
                f"Tensor of shape {params.shape}; wrap it in a list: {name}([t], ...)"
            )
        if isinstance(params, Module):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, but got the module "
                f"{type(params).__name__}; pass model.parameters()"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: optimizer parameters need to be organized in ordered collections, "
                "but the ordering of tensors in sets will change between runs. Please use a "
                "list instead."
            )
        groups: list[Any] = list(params)
        if len(groups) == 0:
            raise ValueError(
                f"{name}: optimizer got an empty parameter list (does the model have no "
                "parameters, or was the model.parameters() generator already consumed?)"
            )
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---- subclass interface ----
    def _validate(self, hparams: dict[str, Any]) -> None:
        """Raise ValueError/TypeError for a bad hyperparameter (defaults and every group)."""

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """The state of a parameter before its first update."""
        return {}

    def _update(self, p: Tensor, g: Array, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement _update()")

    def _scratch(self, like: Array) -> Array:
        """A temporary of ``like``'s shape and dtype for an update's intermediate values (a
        view into one flat buffer per dtype, as large as the largest parameter so far):
        ``xp.multiply(buf, lr, out=self._scratch(p.data))`` allocates nothing, step after step.
        Its content is garbage between calls; it is not optimizer state."""
        bufs = self.__dict__.setdefault("_scratch_buf", {})  # also for copies made without __init__
        key = (type(like), like.dtype)
        buf = bufs.get(key)
        if buf is None or buf.size < like.size:
            buf = get_array_module(like).empty(like.size, dtype=like.dtype)
            bufs[key] = buf
        return buf[: like.size].reshape(like.shape)

    # ---- groups ----
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (fine-tuning, unfreezing).

        Missing hyperparameters take the optimizer's ``defaults``.

        Raises:
            TypeError: ``param_group`` is not a dict, its params are a set or not tensors.
            ValueError: a parameter is not a leaf, appears twice, or is already in a group;
                a hyperparameter is out of range.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: param_group must be a dict, but got {type(param_group)}")
        if "params" not in param_group:
            raise ValueError(f"{name}: param_group has no 'params' entry: {sorted(param_group)}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: optimizer parameters need to be organized in ordered collections, "
                "but the ordering of tensors in sets will change between runs. Please use a "
                "list instead."
            )
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError(
                    f"{name}: all optimizer params should be with/without names. Some param "
                    "names are missing"
                )
            group["param_names"] = names
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: optimizer can only optimize Tensors, but parameter {i} of the "
                    f"group is a {type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor (parameter {i} of the group, "
                    f"shape {p.shape}, was computed by an op); optimize the leaf it came from"
                )
        if len({id(p) for p in params}) != len(params):
            raise ValueError(
                f"{name}: optimizer contains a parameter group with duplicate parameters; "
                "give each parameter once"
            )
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for g in self.param_groups:
            if ("param_names" in g) != ("param_names" in group):
                raise ValueError(
                    f"{name}: all optimizer param groups should be with/without names. cannot "
                    f"add param group {'with' if names else 'without'} names to the optimizer"
                )
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ---- gradients ----
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every optimized parameter: to None (default) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def _gradient(self, p: Tensor, group: dict[str, Any]) -> Array:
        """g_t as the update rule sees it (a new array whenever it differs from p.grad)."""
        g = p.grad.data  # type: ignore[union-attr]
        if group.get("maximize", False):
            g = -g
        l1 = group.get("l1", 0.0)
        if l1 != 0:
            g = g + get_array_module(g).sign(p.data) * l1
        wd = group.get("weight_decay", 0.0)
        if wd != 0 and not group.get("decoupled_weight_decay", False):
            g = g + p.data * wd
        return g

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one update of every parameter that has a gradient.

        Args:
            closure: re-evaluates the model and returns the loss (run with gradients on).

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._opt_called = True
        # A diverging run overflows to inf/NaN silently, as torch's optimizers do (one
        # errstate per step, ~1.4 us; TerminateOnNaN is what reports it).
        with errstate(over="ignore", invalid="ignore", divide="ignore"):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None or not p.requires_grad:
                        continue
                    state = self.state[p]
                    if not state:
                        state.update(self._init_state(p, group))
                    self._update(p, self._gradient(p, group), state, group)
        return loss

    # ---- state dicts ----
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in torch's layout, parameters replaced by their index.

        The arrays are the live buffers (as torch's tensors are): serialize them, or copy
        them, before the next ``step``.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = dict(self.state[p])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state saved by :meth:`state_dict` (arrays are copied).

        State indices may be ints or their decimal strings (as after a JSON round trip).

        Raises:
            ValueError: the group count or a group's size differs, a state entry names an
                unknown parameter index or key, or a state array's shape differs from its
                parameter's.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(
                f"{name}.load_state_dict expects a dict with 'state' and 'param_groups', got {got}"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: loaded state dict has a different number of parameter "
                f"groups ({len(saved_groups)}) than the optimizer ({len(self.param_groups)})"
            )
        id_map: dict[int, tuple[Tensor, int, int]] = {}
        for gi, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: loaded state dict contains a parameter group "
                    f"that doesn't match the size of optimizer's group: group {gi} has "
                    f"{len(saved['params'])} parameters in the state dict and "
                    f"{len(group['params'])} in the optimizer"
                )
            for pi, (idx, p) in enumerate(zip(saved["params"], group["params"])):
                id_map[int(idx)] = (p, gi, pi)
        new_state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, entry in state_dict["state"].items():
            idx = int(key)
            if idx not in id_map:
                raise ValueError(
                    f"{name}.load_state_dict: state entry {key!r} names no parameter of the "
                    f"loaded param_groups (indices {sorted(id_map)})"
                )
            p, gi, pi = id_map[idx]
            new_state[p] = self._load_param_state(
                p, entry, f"parameter {idx} (group {gi}, position {pi})"
            )
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            g = {k: v for k, v in saved.items() if k != "params"}
            if "param_names" in group and "param_names" not in g:
                g["param_names"] = group["param_names"]
            for k, v in self.defaults.items():
                g.setdefault(k, v)
            if isinstance(g.get("betas"), list):
                g["betas"] = tuple(g["betas"])
            g["params"] = group["params"]
            self._validate(g)
            new_groups.append(g)
        self.state = new_state
        self.param_groups = new_groups

    def _load_param_state(self, p: Tensor, entry: dict[str, Any], where: str) -> dict[str, Any]:
        name = type(self).__name__
        unknown = sorted(set(entry) - set(self._state_keys))
        if unknown:
            raise ValueError(
                f"{name}.load_state_dict: state of {where} has unknown keys {unknown}; "
                f"{name} keeps {list(self._state_keys)} (was it saved by another optimizer?)"
            )
        xp = get_array_module(p.data)
        out: dict[str, Any] = {}
        for k, v in entry.items():
            if v is None:
                out[k] = None
            elif k in self._scalar_state_keys:
                v = v.item() if hasattr(v, "item") else v
                out[k] = int(v) if k == "step" and float(v).is_integer() else float(v)
            else:
                arr = xp.array(v.data if isinstance(v, Tensor) else v, copy=True)
                if arr.shape != p.data.shape:
                    raise ValueError(
                        f"{name}.load_state_dict: state '{k}' of {where} has shape "
                        f"{tuple(arr.shape)}, but the parameter has shape {p.shape}; the state "
                        "dict does not belong to these parameters"
                    )
                if dtypes.is_floating(arr.dtype) and arr.dtype != p.data.dtype:
                    arr = arr.astype(p.data.dtype)
                out[k] = arr
        return out

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# ---- helpers shared by the optimizers ----
def check_real(owner: str, key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{owner}: {key} must be a real number, got {type(value).__name__} {value!r}"
        )


def check_nonneg(owner: str, hp: dict[str, Any], key: str, label: str) -> None:
    """torch's ``if not 0.0 <= x: raise ValueError(f"Invalid {label}: {x}")``, with context."""
    value = hp[key]
    check_real(owner, key, value)
    if not 0.0 <= value:
        raise ValueError(f"Invalid {label}: {value} ({owner} expects {key} >= 0)")


def check_betas(owner: str, hp: dict[str, Any]) -> None:
    betas = hp["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    for i, b in enumerate(betas):
        check_real(owner, f"betas[{i}]", b)
        if not 0.0 <= b < 1.0:
            raise ValueError(
                f"Invalid beta parameter at index {i}: {b} ({owner} expects 0 <= beta < 1)"
            )


def check_common(owner: str, hp: dict[str, Any]) -> None:
    """lr, weight_decay and l1 (every optimizer has them)."""
    check_nonneg(owner, hp, "lr", "learning rate")
    check_nonneg(owner, hp, "weight_decay", "weight_decay value")
    check_nonneg(owner, hp, "l1", "l1 value")


def lerp_(start: Array, end: Array, weight: float) -> Array:
    """``start += weight * (end - start)`` in place, in torch's two-branch form (exact at
    weight 0 and 1), with ``weight`` rounded to the array's dtype first as torch does."""
    w = start.dtype.type(weight)
    diff = end - start
    if w < 0.5:
        diff *= w
        start += diff
    else:
        diff *= start.dtype.type(1) - w
        get_array_module(start).subtract(end, diff, out=start)
    return start


def addcmul_(target: Array, t1: Array, t2: Array, value: float, tmp: Array | None = None) -> Array:
    """``target += value * t1 * t2`` in place, evaluated left to right as torch's kernel."""
    xp = get_array_module(target)
    tmp = xp.multiply(t1, value, out=tmp)
    tmp *= t2
    target += tmp
    return target


def scalar_dtype() -> Any:
    """The dtype torch keeps optimizer scalars in: float64 under a float64 default dtype,
    else float32 (``torch.optim.optimizer._get_scalar_dtype``)."""
    d = dtypes.get_default_dtype()
    return dtypes.float64 if d == dtypes.float64 else dtypes.float32
