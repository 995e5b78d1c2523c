r"""The search space: the ``[tune.params]`` table of a run config as Optuna distributions.

Each entry names a config value by its dotted path (``"train.lr"``, ``"model.dropout"``,
``"model.hidden[0]"`` for the first item of a list) and says how to draw it:

- ``{type = "float", low = 1e-4, high = 0.3, log = true}``: a real number in
  :math:`[low, high]`, uniform, or uniform in :math:`\log x` with ``log`` (use it for rates);
  ``step`` makes it a multiple of ``step`` above ``low``;
- ``{type = "int", low = 16, high = 256, log = true}``: an integer, ``step`` (default 1) apart;
- ``{type = "categorical", choices = ["adam", "sgd"]}``, or just the list ``["adam", "sgd"]``:
  one of the choices (numbers, strings, booleans);
- ``grid = [...]`` (any type) lists the values :class:`optuna.samplers.GridSampler` tries, and
  ``points = n`` asks for ``n`` values spread over ``[low, high]`` (geometrically with ``log``).
  Categorical entries and integer ranges of at most 16 values need neither.

``type`` may be left out: ``choices`` means categorical, integer bounds mean int, other bounds
float. Entries may also be nested as TOML tables (``[tune.params.train] lr = {...}`` is
``"train.lr"``). Only the ``model``, ``data`` and ``train`` tables can be tuned.

Example:
    >>> specs = parse_space({"train.lr": {"low": 1e-3, "high": 1e-1, "log": True},
    ...                      "model.hidden[0]": {"low": 16, "high": 64, "log": True, "points": 3},
    ...                      "train.optimizer": ["adam", "sgd"]})
    >>> [(s.name, s.kind) for s in specs]
    [('train.lr', 'float'), ('model.hidden[0]', 'int'), ('train.optimizer', 'categorical')]
    >>> specs[1].grid_values()
    [16, 32, 64]
    >>> apply_params({"model": {"hidden": [8]}, "train": {"lr": 0.1}},
    ...              {"model.hidden[0]": 32, "train.lr": 0.01})
    {'model': {'hidden': [32]}, 'train': {'lr': 0.01}}
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chainrule._suggest import did_you_mean, unknown_name
from chainrule.tune._optuna import require_optuna

__all__ = [
    "TUNABLE_TABLES",
    "ParamSpec",
    "apply_params",
    "grid_space",
    "parse_space",
    "search_space",
    "set_path",
]

#: The config tables whose values a search space may set.
TUNABLE_TABLES = ("model", "data", "train")
_KINDS = ("float", "int", "categorical")
_KEYS = ("type", "low", "high", "log", "step", "choices", "grid", "points")
_SPEC_MARKERS = ("type", "low", "high", "choices", "grid")
_AUTO_GRID_MAX = 16
_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_\-]*)((?:\[\d+\])*)$")


def _err(name: str, msg: str) -> ValueError:
    return ValueError(f"[tune.params] {name!r}: {msg}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class ParamSpec:
    """One tuned value: its config path, kind and range (see the module docstring)."""

    name: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] | None = None
    grid: tuple[Any, ...] | None = None
    points: int | None = None

    def distribution(self) -> Any:
        """The Optuna distribution (``FloatDistribution``, ``IntDistribution`` or
        ``CategoricalDistribution``)."""
        d = require_optuna().distributions
        if self.kind == "float":
            return d.FloatDistribution(self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            return d.IntDistribution(self.low, self.high, log=self.log, step=self.step or 1)
        return d.CategoricalDistribution(self.choices)

    def grid_values(self) -> list[Any]:
        """The values a grid search tries, in increasing order (choices in their order).

        Raises:
            ValueError: a float range, or an int range of more than 16 values, with neither
                ``grid`` nor ``points``.
        """
        if self.grid is not None:
            return list(self.grid)
        if self.kind == "categorical":
            return list(self.choices or ())
        lo: Any = self.low  # numbers for the int and float kinds
        hi: Any = self.high
        if self.points is None:
            if self.kind == "int":
                step = int(self.step or 1)
                n = (int(hi) - int(lo)) // step + 1
                if n <= _AUTO_GRID_MAX:
                    return list(range(int(lo), int(hi) + 1, step))
            raise _err(
                self.name,
                f"a grid search needs the values to try: add grid = [...] or "
                f"points = n to this {self.kind} range [{lo}, {hi}]",
            )
        n = self.points
        if n == 1:
            raw = [float(lo)]
        elif self.log:
            a, b = math.log(lo), math.log(hi)
            raw = [math.exp(a + (b - a) * i / (n - 1)) for i in range(n)]
        else:
            raw = [lo + (hi - lo) * i / (n - 1) for i in range(n)]
        raw[-1] = hi if n > 1 else raw[-1]
        if self.kind == "int":
            step = int(self.step or 1)
            vals = sorted({int(lo) + step * round((v - lo) / step) for v in raw})
            return [min(max(v, int(lo)), int(hi)) for v in vals]
        if self.step is not None:
            raw = [lo + self.step * round((v - lo) / self.step) for v in raw]
        return [min(max(float(v), float(lo)), float(hi)) for v in raw]

    def suggest(self, trial: Any) -> Any:
        """Draw this value for an Optuna trial (``trial.suggest_float/int/categorical``)."""
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            return trial.suggest_int(
                self.name, self.low, self.high, log=self.log, step=self.step or 1
            )
        return trial.suggest_categorical(self.name, list(self.choices or ()))


def _check_path(name: str) -> None:
    parts = name.split(".")
    if parts[0] not in TUNABLE_TABLES:
        raise _err(
            name,
            f"a tuned value lives in one of the tables {', '.join(TUNABLE_TABLES)}, "
            f"got table {parts[0]!r}.{did_you_mean(parts[0], TUNABLE_TABLES)} "
            "Write it as e.g. 'train.lr'",
        )
    if len(parts) < 2 or not all(_SEGMENT.match(p) for p in parts):
        raise _err(name, "expected a dotted config path such as 'train.lr' or 'model.hidden[0]'")


def _scalar_choices(name: str, values: Any, what: str) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise _err(name, f"{what} must be a non-empty list, got {values!r}")
    for v in values:
        if v is not None and not isinstance(v, (bool, int, float, str)):
            raise _err(
                name,
                f"{what} may hold numbers, strings, booleans only (Optuna stores "
                f"them as they are), got {v!r} of type {type(v).__name__}",
            )
    if len(set(map(repr, values))) != len(values):
        raise _err(name, f"{what} has repeated values: {list(values)!r}")
    return tuple(values)


def _one_spec(name: str, raw: Any) -> ParamSpec:
    _check_path(name)
    if isinstance(raw, (list, tuple)):
        return ParamSpec(name, "categorical", choices=_scalar_choices(name, raw, "the choices"))
    if not isinstance(raw, Mapping):
        raise _err(
            name,
            f"expected a table such as {{type = 'float', low = 1e-4, high = 0.1, "
            f"log = true}} or a list of choices, got {raw!r}",
        )
    unknown = [k for k in raw if k not in _KEYS]
    if unknown:
        raise _err(name, unknown_name("key", unknown[0], _KEYS, valid="keys"))
    kind = raw.get("type")
    if kind is None:
        if "choices" in raw or ("grid" in raw and "low" not in raw):
            kind = "categorical"
        elif _is_number(raw.get("low")) and _is_number(raw.get("high")):
            ints = all(isinstance(raw.get(k, 1), int) for k in ("low", "high", "step"))
            kind = "int" if ints else "float"
        else:
            raise _err(
                name,
                f"cannot tell the type: give type = 'float' | 'int' | "
                f"'categorical', or low and high, or choices; got {dict(raw)!r}",
            )
    if kind not in _KINDS:
        raise _err(name, unknown_name("type", kind, _KINDS, valid="types"))
    grid = raw.get("grid")
    grid_t = _scalar_choices(name, grid, "grid") if grid is not None else None
    points = raw.get("points")
    if points is not None and (
        not isinstance(points, int) or isinstance(points, bool) or points < 1
    ):
        raise _err(name, f"points must be an integer >= 1, got {points!r}")
    if kind == "categorical":
        extra = [k for k in ("low", "high", "log", "step", "points") if k in raw]
        if extra:
            raise _err(name, f"a categorical value takes choices (and grid), not {extra[0]!r}")
        choices = _scalar_choices(name, raw.get("choices", grid), "the choices")
        if grid_t is not None and not set(map(repr, grid_t)) <= set(map(repr, choices)):
            raise _err(
                name, f"grid {list(grid_t)!r} must be a subset of the choices {list(choices)!r}"
            )
        return ParamSpec(name, "categorical", choices=choices, grid=grid_t)
    if "choices" in raw:
        raise _err(
            name,
            f"a {kind} range takes low/high, not choices "
            "(use type = 'categorical' for a list of values)",
        )
    lo: Any = raw.get("low")
    hi: Any = raw.get("high")
    log, step = raw.get("log", False), raw.get("step")
    if not (_is_number(lo) and _is_number(hi)):
        raise _err(name, f"a {kind} range needs numbers low and high, got low={lo!r}, high={hi!r}")
    if not isinstance(log, bool):
        raise _err(name, f"log must be true or false, got {log!r}")
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise _err(name, f"expected finite low <= high, got low={lo!r}, high={hi!r}")
    if log and lo <= 0:
        raise _err(name, f"a log range needs low > 0, got low={lo!r}")
    if step is not None and (not _is_number(step) or step <= 0):
        raise _err(name, f"step must be a positive number, got {step!r}")
    if kind == "int":
        if not (isinstance(lo, int) and isinstance(hi, int)):
            raise _err(name, f"an int range needs integer bounds, got low={lo!r}, high={hi!r}")
        if step is not None and not isinstance(step, int):
            raise _err(name, f"an int step must be an integer, got {step!r}")
        if log and step not in (None, 1):
            raise _err(name, f"a log int range cannot have step {step!r} (Optuna allows 1 only)")
    else:
        lo, hi = float(lo), float(hi)
        if log and step is not None:
            raise _err(name, "a float range cannot have both log = true and a step")
    spec = ParamSpec(name, kind, low=lo, high=hi, log=log, step=step, grid=grid_t, points=points)
    if grid_t is not None:
        for v in grid_t:
            if (
                not _is_number(v)
                or not (lo <= v <= hi)
                or (kind == "int" and not isinstance(v, int))
            ):
                raise _err(name, f"grid value {v!r} is not a {kind} in [{lo}, {hi}]")
    return spec


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and not any(m in value for m in _SPEC_MARKERS):
            if not value:
                raise _err(name, "an empty table: expected a range, choices or nested entries")
            out.update(_flatten(value, name))
        else:
            out[name] = value
    return out


def parse_space(table: Mapping[str, Any]) -> list[ParamSpec]:
    """Read a ``[tune.params]`` table into :class:`ParamSpec` entries (in the table's order).

    Raises:
        ValueError: naming the entry: an unknown key or type (nearest suggested), a path
            outside the model/data/train tables, bounds out of order, a log range with
            ``low <= 0``, empty or unsupported choices, or an empty table.
        TypeError: ``table`` is not a table.
    """
    if not isinstance(table, Mapping):
        raise TypeError(
            f"[tune.params] must be a table of tuned values, got {type(table).__name__}"
        )
    flat = _flatten(table)
    if not flat:
        raise ValueError(
            "[tune.params] is empty: list at least one value to tune, e.g. "
            "\"train.lr\" = {type = 'float', low = 1e-4, high = 0.1, log = true}"
        )
    return [_one_spec(name, raw) for name, raw in flat.items()]


def search_space(specs: Sequence[ParamSpec]) -> dict[str, Any]:
    """``{name: optuna distribution}`` for the specs."""
    return {s.name: s.distribution() for s in specs}


def grid_space(specs: Sequence[ParamSpec]) -> dict[str, list[Any]]:
    """``{name: values}`` for :class:`optuna.samplers.GridSampler` (see
    :meth:`ParamSpec.grid_values`)."""
    return {s.name: s.grid_values() for s in specs}


def _parse_path(path: str) -> list[str | int]:
    keys: list[str | int] = []
    for part in path.split("."):
        m = _SEGMENT.match(part)
        if m is None:
            raise ValueError(f"config path {path!r}: bad segment {part!r}")
        keys.append(m.group(1))
        keys.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return keys


def set_path(config: dict[str, Any], path: str, value: Any) -> None:
    """Set ``config[a][b]...`` for the dotted ``path`` in place (tables are created as needed;
    list items must exist).

    Raises:
        ValueError: the path goes through a value that is not a table, or indexes past the
            end of a list (both named).
    """
    keys = _parse_path(path)
    node: Any = config
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                got = f"a list of {len(node)}" if isinstance(node, list) else type(node).__name__
                raise ValueError(
                    f"config path {path!r}: index [{key}] needs a list with more "
                    f"than {key} items in the config, got {got}"
                )
        elif not isinstance(node, dict):
            where = ".".join(str(k) for k in keys[:i]) or "the config"
            raise ValueError(
                f"config path {path!r}: {where} is a {type(node).__name__} "
                f"({node!r}), not a table, so it has no key {key!r}"
            )
        if last:
            node[key] = value
        elif isinstance(key, str) and key not in node:
            node[key] = {}
            node = node[key]
        else:
            node = node[key]


def apply_params(config: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``config`` with each ``params[path]`` set at its dotted path."""
    out = copy.deepcopy(dict(config))
    for path, value in params.items():
        set_path(out, path, value)
    return out
