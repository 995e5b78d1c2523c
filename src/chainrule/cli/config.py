"""Run configurations: read TOML, fill defaults, apply overrides, validate, write TOML back.

A configuration is a TOML file (every key optional; ``chainrule train --help`` lists the
flags that override them)::

    name = "digits-cnn"          # the run folder is <runs_dir>/<name>-<timestamp>
    seed = 0                     # weights, shuffling, dropout, augmentation
    runs_dir = "runs"

    [model]
    name = "small_cnn"           # a zoo model (chainrule.models.available_models())
    dropout = 0.25               # ... and its keyword arguments
    # builder = "my_models:build"  # or your own function (runs code: needs --allow-code)

    [data]
    name = "digits"              # digits | fashion-mnist | mnist
    validation_split = 0.1       # taken from the end of the training set
    # root = "/data/fashion"     # where the IDX files are (default: the usual places)
    # train_samples = 1000       # use only the first N training / test images
    # normalize / random_crop / horizontal_flip: augmentation and preprocessing

    [train]
    epochs = 8
    batch_size = 32
    optimizer = "adam"           # sgd adam adamw nadam rmsprop adagrad adadelta
    lr = 3e-3                    # default: the optimizer's (sgd 0.01)
    scheduler = "cosine"         # none step multistep exponential cosine linear onecycle plateau
    backup_every = 20            # steps between resume backups (0: at epoch ends only)

    [train.early_stopping]
    enabled = false

    [tune]                       # read by ``chainrule tune``; ``train`` passes it through

:func:`resolve_config` turns such a dict into the *resolved* configuration: every key
present, defaults filled (the model's input size and class count from the dataset), every
name and type checked. An unknown key is an error naming the nearest valid one
(``learnig_rate`` -> ``did you mean 'lr'?``). The run folder stores the resolved
configuration (:func:`dump_config`), so a run can be repeated or resumed exactly.
"""

from __future__ import annotations

import copy
import inspect
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainrule._suggest import nearest
from chainrule.data.datasets.idx import FASHION_MNIST_CLASSES

__all__ = [
    "DATASETS",
    "ConfigError",
    "DatasetSpec",
    "apply_overrides",
    "config_differences",
    "dump_config",
    "load_config",
    "parse_value",
    "resolve_config",
]


class ConfigError(ValueError):
    """A configuration problem: unknown key, wrong type, bad value (one line, no traceback)."""


@dataclass(frozen=True)
class DatasetSpec:
    """What the command line knows about a dataset without loading it."""

    name: str
    shape: tuple[int, int, int]  # one image: channels, height, width
    classes: tuple[str, ...]


_DIGITS = tuple(str(i) for i in range(10))
DATASETS: dict[str, DatasetSpec] = {
    "digits": DatasetSpec("digits", (1, 8, 8), _DIGITS),
    "fashion-mnist": DatasetSpec("fashion-mnist", (1, 28, 28), FASHION_MNIST_CLASSES),
    "mnist": DatasetSpec("mnist", (1, 28, 28), _DIGITS),
}

OPTIMIZERS = ("sgd", "adam", "adamw", "nadam", "rmsprop", "adagrad", "adadelta")
_MOMENTUM = ("sgd", "rmsprop")
_BETAS = ("adam", "adamw", "nadam")
#: scheduler name -> chainrule.optim.lr_scheduler class
SCHEDULERS = {
    "none": None,
    "step": "StepLR",
    "multistep": "MultiStepLR",
    "exponential": "ExponentialLR",
    "cosine": "CosineAnnealingLR",
    "linear": "LinearLR",
    "onecycle": "OneCycleLR",
    "plateau": "ReduceLROnPlateau",
}

# ---- the schema: table -> key -> (type, default); a default of _DERIVED is computed ----
_DERIVED = object()
_OPTIONAL = object()  # absent unless given (TOML has no null)
_FLOAT_LIST = "list[float]"
_STR_LIST = "list[str]"
_TABLE = "table"

SCHEMA: dict[str, dict[str, tuple[Any, Any]]] = {
    "": {"name": (str, _DERIVED), "seed": (int, 0), "runs_dir": (str, "runs")},
    "model": {"name": (str, _OPTIONAL), "builder": (str, _OPTIONAL)},  # + the model's kwargs
    "data": {
        "name": (str, "digits"),
        "root": (str, _OPTIONAL),
        "validation_split": (float, 0.1),
        "train_samples": (int, _OPTIONAL),
        "test_samples": (int, _OPTIONAL),
        "normalize": (bool, False),
        "random_crop": (int, 0),
        "horizontal_flip": (float, 0.0),
        "batch_size": (int, _OPTIONAL),  # accepted here too; resolved into [train]
    },
    "train": {
        "epochs": (int, 10),
        "batch_size": (int, 32),
        "optimizer": (str, "adam"),
        "lr": (float, _DERIVED),
        "momentum": (float, 0.0),
        "nesterov": (bool, False),
        "weight_decay": (float, _DERIVED),
        "betas": (_FLOAT_LIST, [0.9, 0.999]),
        "scheduler": (str, "none"),
        "scheduler_args": (_TABLE, {}),
        "scheduler_interval": (str, _DERIVED),
        "loss": (str, "cross_entropy"),
        "metrics": (_STR_LIST, ["accuracy"]),
        "backup_every": (int, 50),
        "checkpoint_monitor": (str, _DERIVED),
        "early_stopping": (_TABLE, None),  # see EARLY_STOPPING
    },
}
EARLY_STOPPING: dict[str, tuple[Any, Any]] = {
    "enabled": (bool, False),
    "monitor": (str, _DERIVED),
    "patience": (int, 5),
    "min_delta": (float, 0.0),
    "restore_best_weights": (bool, True),
}
TABLES = ("model", "data", "train", "tune")

# Common spellings of valid keys, used only to suggest the right one.
_ALIASES = {
    "learning_rate": "lr",
    "learningrate": "lr",
    "lr_scheduler": "scheduler",
    "schedule": "scheduler",
    "num_epochs": "epochs",
    "n_epochs": "epochs",
    "epoch": "epochs",
    "batchsize": "batch_size",
    "optim": "optimizer",
    "opt": "optimizer",
    "loss_fn": "loss",
    "criterion": "loss",
    "metric": "metrics",
    "val_split": "validation_split",
    "dataset": "name",
    "model": "name",
    "wd": "weight_decay",
    "decay": "weight_decay",
    "random_seed": "seed",
    "output_dir": "runs_dir",
    "run_dir": "runs_dir",
    "patience": "early_stopping",
}


# ---- reading ----
def _toml_module() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    else:  # pragma: no cover (Python 3.10)
        try:
            import tomli  # type: ignore[import-not-found, unused-ignore]

            return tomli
        except ImportError:
            raise ConfigError(
                "reading TOML configs on Python 3.10 needs the 'tomli' package (pip install "
                "tomli); Python 3.11+ has it built in"
            ) from None


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a TOML configuration file (not yet resolved: see :func:`resolve_config`).

    Raises:
        FileNotFoundError: no such file.
        ConfigError: the file is not valid TOML (the parser's line and column included).

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "c.toml"
        >>> _ = p.write_text('[train]\\nepochs = 3\\n')
        >>> load_config(p)
        {'train': {'epochs': 3}}
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"config file {p} not found" if not p.exists() else f"config {p} is not a file"
        )
    toml = _toml_module()
    try:
        with open(p, "rb") as f:
            return dict(toml.load(f))
    except toml.TOMLDecodeError as e:
        raise ConfigError(f"{p}: invalid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not a UTF-8 text file ({e})") from None


def parse_value(text: str) -> Any:
    """A command-line value as TOML (``3``, ``1e-3``, ``true``, ``[32, 64]``, ``"x"``);
    anything that is not TOML is taken as a plain string.

    Example:
        >>> parse_value("[32, 64]"), parse_value("1e-3"), parse_value("adam")
        ([32, 64], 0.001, 'adam')
    """
    toml = _toml_module()
    try:
        return toml.loads(f"v = {text}")["v"]
    except toml.TOMLDecodeError:
        return text


# ---- overrides ----
def apply_overrides(config: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with ``overrides`` merged in: nested dicts merge key by key; a dotted key
    ``"train.lr"`` means ``{"train": {"lr": ...}}``. ``None`` values are ignored (a flag the
    user did not pass).

    Example:
        >>> apply_overrides({"train": {"lr": 0.1, "epochs": 2}}, {"train.lr": 0.5})
        {'train': {'lr': 0.5, 'epochs': 2}}
    """
    out = copy.deepcopy(dict(config))
    for key, value in overrides.items():
        if value is None:
            continue
        parts = str(key).split(".")
        if isinstance(value, Mapping) and len(parts) == 1:
            base = out.get(key)
            out[key] = apply_overrides(base if isinstance(base, Mapping) else {}, value)
            continue
        node = out
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                if nxt is not None:
                    where = ".".join(parts[: i + 1])
                    raise ConfigError(f"override {key!r}: {where} is a value, not a table")
                nxt = node[part] = {}
            node = nxt
        node[parts[-1]] = copy.deepcopy(value)
    return out


# ---- checking ----
def _where(table: str, key: str) -> str:
    return f"{table}.{key}" if table else key


def _suggest(key: str, valid: list[str], table: str) -> str:
    """``"; did you mean 'lr'?"`` or ``""``."""
    k = key.lower()
    if k in _ALIASES and _ALIASES[k] in valid:
        return f"; did you mean {_ALIASES[k]!r}?"
    pool = valid + [a for a, v in _ALIASES.items() if v in valid]
    near = nearest(k, pool)
    if near:
        name = near if near in valid else _ALIASES[near]
        return f"; did you mean {name!r}?"
    # the key may belong to another table
    for other, keys in SCHEMA.items():
        if other != table and (k in keys or _ALIASES.get(k) in keys):
            name = k if k in keys else _ALIASES[k]
            return f"; {name!r} belongs in [{other}]" if other else f"; {name!r} is a top-level key"
    return ""


def _unknown(table: str, key: str, valid: list[str], extra: str = "") -> ConfigError:
    where = f"[{table}]" if table else "the top level"
    return ConfigError(
        f"config: unknown key {key!r} in {where}{_suggest(key, valid, table)} "
        f"(valid keys: {', '.join(sorted(valid))}{extra})"
    )


def _check_type(kind: Any, value: Any, where: str) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(
            f"config: {where} must be {expected}, got {type(value).__name__} {value!r}"
        )

    if kind is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        if not math.isfinite(value):
            raise bad("a finite number")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if kind == _FLOAT_LIST:
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        ):
            raise bad("a list of numbers")
        return [float(v) for v in value]
    if kind == _STR_LIST:
        if isinstance(value, str):
            return [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise bad("a list of strings")
        return list(value)
    if kind == _TABLE:
        if not isinstance(value, Mapping):
            raise bad("a table")
        return dict(value)
    raise AssertionError(kind)  # pragma: no cover  # noqa: S101


def _range(cond: bool, where: str, expected: str, value: Any) -> None:
    if not cond:
        raise ConfigError(f"config: {where} must be {expected}, got {value!r}")


def _choice(value: str, choices: list[str], where: str, what: str) -> str:
    key = value.strip().lower()
    if key in choices:
        return key
    near = nearest(key, choices, cutoff=0.5)
    hint = f"; did you mean {near!r}?" if near else ""
    raise ConfigError(
        f"config: unknown {what} {value!r} for {where}{hint} (valid: {', '.join(choices)})"
    )


def _table(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = config.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"config: [{name}] must be a table, got {type(value).__name__} {value!r}")
    return dict(value)


def _fill(
    table: str, given: dict[str, Any], schema: dict[str, tuple[Any, Any]], derived: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, (kind, default) in schema.items():
        if key in given:
            out[key] = _check_type(kind, given[key], _where(table, key))
        elif default is _DERIVED:
            out[key] = derived[key]
        elif default is not _OPTIONAL and default is not None:
            out[key] = copy.deepcopy(default)
    return out


# ---- the model table ----
def _zoo_signature(name: str) -> inspect.Signature:
    from chainrule.models import zoo

    return inspect.signature(getattr(zoo, name))


def _resolve_model(given: dict[str, Any], data: DatasetSpec) -> dict[str, Any]:
    from chainrule.models import available_models

    if "builder" in given:
        builder = _check_type(str, given["builder"], "model.builder")
        if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", builder):
            raise ConfigError(
                f"config: model.builder must look like 'module:function' (a "
                f"Python module and the function in it that returns the model), "
                f"got {builder!r}"
            )
        if "name" in given:
            raise ConfigError(
                "config: [model] takes either name (a zoo model) or builder "
                "(your own function), not both"
            )
        return dict(given)  # the builder's own keyword arguments are not known here
    names = available_models()
    name = _choice(
        _check_type(str, given.get("name", "small_cnn"), "model.name").replace("-", "_"),
        names,
        "model.name",
        "model",
    )
    params = _zoo_signature(name).parameters
    out: dict[str, Any] = {"name": name}
    c, h, w = data.shape
    auto = {
        "in_channels": c,
        "num_classes": len(data.classes),
        "input_size": h,
        "in_features": c * h * w,
        "out_features": len(data.classes),
    }
    valid = [p for p in params]
    for key, value in given.items():
        if key == "name":
            continue
        if key not in params:
            raise _unknown(
                "model",
                key,
                ["name", "builder", *valid],
                extra=f"; {name} takes {', '.join(valid) or 'no arguments'}",
            )
        default = params[key].default
        where = f"model.{key}"
        if isinstance(default, bool):
            value = _check_type(bool, value, where)
        elif isinstance(default, int):
            value = _check_type(int, value, where)
        elif isinstance(default, float):
            value = _check_type(float, value, where)
        elif isinstance(default, tuple):
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"config: {where} must be a list, got {value!r}")
            value = list(value)
        out[key] = value
    for key, p in params.items():
        if key in out:
            continue
        if key in auto:
            out[key] = auto[key]
        elif p.default is inspect.Parameter.empty:
            raise ConfigError(f"config: model {name} needs model.{key}")
        elif isinstance(p.default, (bool, int, float, str)):
            out[key] = p.default
        elif isinstance(p.default, tuple):
            out[key] = list(p.default)
    return out


# ---- resolve ----
def _optimizer_default(opt: str, arg: str) -> float:
    if opt == "sgd" and arg == "lr":
        return 0.01  # Keras's default, as compile(optimizer="sgd")
    import chainrule.optim as optim

    return float(inspect.signature(optim.OPTIMIZERS[opt]).parameters[arg].default)


def _resolve_scheduler(train: dict[str, Any]) -> None:
    name = _choice(train["scheduler"], list(SCHEDULERS), "train.scheduler", "scheduler")
    train["scheduler"] = name
    args = train["scheduler_args"]
    if name == "none":
        if args:
            raise ConfigError("config: train.scheduler_args given but train.scheduler is 'none'")
        train["scheduler_interval"] = train.get("scheduler_interval") or "epoch"
    else:
        from chainrule.optim import lr_scheduler

        params = inspect.signature(getattr(lr_scheduler, str(SCHEDULERS[name]))).parameters
        valid = [p for p in params if p not in ("optimizer", "last_epoch", "verbose")]
        for key in args:
            if key not in valid:
                raise ConfigError(
                    f"config: unknown key {key!r} in train.scheduler_args for {name} "
                    f"({SCHEDULERS[name]}){_suggest(key, valid, '-')} "
                    f"(valid keys: {', '.join(valid)})"
                )
    interval = train.get("scheduler_interval")
    if interval is None:
        interval = "step" if name == "onecycle" else "epoch"
    train["scheduler_interval"] = _choice(
        interval, ["epoch", "step"], "train.scheduler_interval", "interval"
    )


def resolve_config(
    config: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The complete, validated configuration: ``overrides`` applied (see
    :func:`apply_overrides`), every default filled, every key and type checked.

    Resolving a resolved configuration changes nothing, so ``resolve_config(c)`` is also
    the way to validate one.

    Raises:
        ConfigError: an unknown key (the nearest valid key suggested), a value of the wrong
            type or out of range, an unknown model, dataset, optimizer, loss, metric or
            scheduler name (the valid names listed).

    Example:
        >>> c = resolve_config({"train": {"epochs": 2}}, {"train.lr": 0.01})
        >>> c["model"]["name"], c["data"]["name"], c["train"]["lr"], c["train"]["optimizer"]
        ('small_cnn', 'digits', 0.01, 'adam')
        >>> try:
        ...     resolve_config({"train": {"learnig_rate": 0.1}})
        ... except ConfigError as e:
        ...     print(str(e).split(" (")[0])
        config: unknown key 'learnig_rate' in [train]; did you mean 'lr'?
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"config must be a table (dict), got {type(config).__name__}")
    raw = apply_overrides(config, overrides or {})
    top_valid = list(SCHEMA[""]) + list(TABLES)
    for key in raw:
        if key not in top_valid:
            raise _unknown("", key, top_valid)

    # [data]
    data_in = _table(raw, "data")
    for key in data_in:
        if key not in SCHEMA["data"]:
            raise _unknown("data", key, list(SCHEMA["data"]))
    data = _fill("data", data_in, SCHEMA["data"], {})
    dname = _choice(data["name"].replace("_", "-"), list(DATASETS), "data.name", "dataset")
    data["name"] = dname
    vs = data["validation_split"]
    _range(0.0 <= vs < 1.0, "data.validation_split", "in [0, 1)", vs)
    for key in ("train_samples", "test_samples"):
        if key in data:
            _range(data[key] >= 1, f"data.{key}", "a positive integer", data[key])
    _range(
        data["random_crop"] >= 0, "data.random_crop", "a number of pixels >= 0", data["random_crop"]
    )
    _range(
        0.0 <= data["horizontal_flip"] <= 1.0,
        "data.horizontal_flip",
        "a probability in [0, 1]",
        data["horizontal_flip"],
    )

    # [model]
    model = _resolve_model(_table(raw, "model"), DATASETS[dname])

    # [train]
    train_in = _table(raw, "train")
    for key in train_in:
        if key not in SCHEMA["train"]:
            raise _unknown("train", key, list(SCHEMA["train"]))
    if "batch_size" in data:
        bs = data.pop("batch_size")
        if "batch_size" in train_in and train_in["batch_size"] != bs:
            raise ConfigError(
                f"config: data.batch_size ({bs}) and train.batch_size "
                f"({train_in['batch_size']}) disagree; give one"
            )
        train_in.setdefault("batch_size", bs)
    opt = _choice(
        _check_type(str, train_in.get("optimizer", "adam"), "train.optimizer"),
        list(OPTIMIZERS),
        "train.optimizer",
        "optimizer",
    )
    train_in["optimizer"] = opt
    derived = {
        "lr": _optimizer_default(opt, "lr"),
        "weight_decay": _optimizer_default(opt, "weight_decay"),
        "scheduler_interval": None,
        "checkpoint_monitor": None,
    }
    es_in = train_in.pop("early_stopping", {})
    train = _fill("train", train_in, SCHEMA["train"], derived)
    for key in ("epochs", "batch_size"):
        _range(train[key] >= 1, f"train.{key}", "a positive integer", train[key])
    _range(
        train["backup_every"] >= 0,
        "train.backup_every",
        "a number of steps >= 0 (0: back up at epoch ends only)",
        train["backup_every"],
    )
    _range(train["lr"] > 0, "train.lr", "> 0", train["lr"])
    _range(train["weight_decay"] >= 0, "train.weight_decay", ">= 0", train["weight_decay"])
    _range(0.0 <= train["momentum"] < 1.0, "train.momentum", "in [0, 1)", train["momentum"])
    if train["momentum"] and opt not in _MOMENTUM:
        raise ConfigError(f"config: train.momentum applies to {' and '.join(_MOMENTUM)}, not {opt}")
    if train["nesterov"] and (opt != "sgd" or not train["momentum"]):
        raise ConfigError("config: train.nesterov needs optimizer 'sgd' with momentum > 0")
    betas = train["betas"]
    _range(
        len(betas) == 2 and all(0.0 <= b < 1.0 for b in betas),
        "train.betas",
        "two numbers in [0, 1)",
        betas,
    )
    if betas != [0.9, 0.999] and opt not in _BETAS:
        raise ConfigError(f"config: train.betas applies to {', '.join(_BETAS)}, not {opt}")
    _resolve_scheduler(train)
    from chainrule.training.metrics import get_metric
    from chainrule.training.trainer import LOSSES

    train["loss"] = _choice(train["loss"], list(LOSSES), "train.loss", "loss")
    for m in train["metrics"]:
        try:
            get_metric(m)
        except ValueError as e:
            raise ConfigError(f"config: train.metrics: {e}") from None
    prefix = "val_" if vs > 0 else ""
    acc = "accuracy" in [m.lower() for m in train["metrics"]]
    if train["checkpoint_monitor"] is None:
        train["checkpoint_monitor"] = prefix + ("accuracy" if acc else "loss")
    logged = ["loss", *train["metrics"]]
    logged += [f"val_{k}" for k in logged] if vs > 0 else []
    if train["checkpoint_monitor"] not in logged:
        raise ConfigError(
            f"config: train.checkpoint_monitor {train['checkpoint_monitor']!r} "
            f"is not logged; logged keys: {', '.join(logged)}"
        )

    es_in = _check_type(_TABLE, es_in, "train.early_stopping")
    for key in es_in:
        if key not in EARLY_STOPPING:
            raise _unknown("train.early_stopping", key, list(EARLY_STOPPING))
    es = _fill("train.early_stopping", es_in, EARLY_STOPPING, {"monitor": prefix + "loss"})
    _range(es["patience"] >= 0, "train.early_stopping.patience", ">= 0", es["patience"])
    if es["monitor"] not in logged:
        raise ConfigError(
            f"config: train.early_stopping.monitor {es['monitor']!r} is not "
            f"logged; logged keys: {', '.join(logged)}"
        )
    train["early_stopping"] = es

    # top level
    top = _fill(
        "",
        {k: raw[k] for k in SCHEMA[""] if k in raw},
        SCHEMA[""],
        {"name": f"{model.get('name', 'custom')}-{dname}"},
    )
    _range(top["seed"] >= 0, "seed", "an integer >= 0", top["seed"])
    _range(bool(top["name"].strip()), "name", "a non-empty string", top["name"])
    out: dict[str, Any] = {**top, "model": model, "data": data, "train": train}
    if "tune" in raw:
        out["tune"] = _check_type(_TABLE, raw["tune"], "tune")  # the tuner validates it
    return out


def config_differences(
    before: Mapping[str, Any], after: Mapping[str, Any], ignore: tuple[str, ...] = ()
) -> list[str]:
    """``["train.epochs: 3 -> 5", ...]`` between two configurations (dotted keys, sorted).

    Example:
        >>> config_differences({"train": {"epochs": 3}}, {"train": {"epochs": 5}})
        ['train.epochs: 3 -> 5']
    """

    def flat(d: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(d, Mapping) and d:
            out: dict[str, Any] = {}
            for k, v in d.items():
                out.update(flat(v, f"{prefix}.{k}" if prefix else str(k)))
            return out
        return {prefix: d}

    a, b = flat(before), flat(after)
    missing = "<absent>"
    return [
        f"{k}: {a.get(k, missing)!r} -> {b.get(k, missing)!r}".replace("'<absent>'", missing)
        for k in sorted(set(a) | set(b))
        if a.get(k, missing) != b.get(k, missing)
        and not any(k == i or k.startswith(i + ".") for i in ignore)
    ]


# ---- writing ----
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE.match(k) else _string(k)


def _string(s: str) -> str:
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value(v: Any, where: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x, f"{where}[{i}]") for i, x in enumerate(v)) + "]"
    if isinstance(v, Mapping):
        return (
            "{"
            + ", ".join(
                f"{_key(str(k))} = {_value(x, f'{where}.{k}')}"
                for k, x in v.items()
                if x is not None
            )
            + "}"
        )
    raise ConfigError(f"dump_config: {where} holds {type(v).__name__}, which TOML cannot store")


def dump_config(config: Mapping[str, Any]) -> str:
    """The configuration as TOML text (scalars, lists, nested tables; ``None`` values are
    left out, since TOML has no null). ``load_config`` reads it back unchanged.

    Example:
        >>> print(dump_config({"seed": 0, "train": {"lr": 0.001, "betas": [0.9, 0.999],
        ...                    "early_stopping": {"enabled": False}}}), end="")
        seed = 0
        <BLANKLINE>
        [train]
        lr = 0.001
        betas = [0.9, 0.999]
        <BLANKLINE>
        [train.early_stopping]
        enabled = false
    """
    lines: list[str] = []

    def table(path: list[str], d: Mapping[str, Any]) -> None:
        scalars = [(k, v) for k, v in d.items() if v is not None and not isinstance(v, Mapping)]
        subs = [(k, v) for k, v in d.items() if isinstance(v, Mapping)]
        if path and (scalars or not subs):
            if lines:
                lines.append("")
            lines.append("[" + ".".join(_key(p) for p in path) + "]")
        for k, v in scalars:
            lines.append(f"{_key(str(k))} = {_value(v, '.'.join([*path, str(k)]))}")
        for k, v in subs:
            table([*path, str(k)], v)

    table([], config)
    return "\n".join(lines) + "\n"
