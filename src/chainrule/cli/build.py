"""From a resolved configuration to the objects of a run: data, model, optimizer, schedule;
and back from a run folder or checkpoint to a model ready to evaluate or predict.

Everything here is deterministic given the configuration's ``seed`` (the caller seeds
chainrule's default generator once before building), so building twice gives the same
initial weights, the same validation split and the same augmentation streams: that is what
lets ``chainrule resume`` continue a run bit for bit.

Code named in a configuration (``model.builder = "module:function"``) is imported only when
the caller passes ``allow_code=True`` (RELIABILITY D3): a configuration or a run folder is
data, and reading data must never run code.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.cli.config import DATASETS, ConfigError, DatasetSpec, load_config, resolve_config

__all__ = [
    "CLIError",
    "Data",
    "Trained",
    "build_model",
    "check_code_allowed",
    "load_data",
    "load_trained",
    "make_optimizer",
    "make_scheduler",
    "model_input_shape",
]

WEIGHTS = "model.safetensors"
BEST = "best.safetensors"
META_KEY = "chainrule_run"
RUN_INFO = "run.json"


class CLIError(Exception):
    """A problem the user can fix (bad file, refused code, missing run): one line, exit 2."""


# ---- code execution guard (D3) ----
def check_code_allowed(config: dict[str, Any], allow_code: bool, where: str) -> None:
    """Refuse a configuration that names Python code unless ``allow_code``."""
    builder = (config.get("model") or {}).get("builder") if isinstance(config, dict) else None
    if builder is not None and not allow_code:
        raise CLIError(
            f"{where} builds its model with code (model.builder = {builder!r}); running code "
            "named in a file is refused unless you pass --allow-code (only for files you trust)"
        )


# ---- data ----
@dataclass
class Data:
    """The arrays of a run, already shaped for the model and preprocessed."""

    spec: DatasetSpec
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray
    preprocess: dict[str, Any] = field(default_factory=dict)


def _load_arrays(
    data: dict[str, Any],
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    from chainrule.data import datasets

    name = data["name"]
    if name == "digits":
        return datasets.digits()
    fn = datasets.fashion_mnist if name == "fashion-mnist" else datasets.mnist
    try:
        return fn(root=data.get("root"))
    except FileNotFoundError as e:
        lines = [" ".join(line.split()) for line in str(e).splitlines() if line.strip()]
        raise CLIError("; ".join(lines).replace(":; ", ": ")) from None


def model_input_shape(config: dict[str, Any]) -> tuple[int, ...]:
    """The shape of one sample as the model takes it: ``(C, H, W)``, or ``(C*H*W,)`` for
    the zoo's ``mlp``."""
    c, h, w = DATASETS[config["data"]["name"]].shape
    if config["model"].get("name") == "mlp":
        return (c * h * w,)
    return (c, h, w)


def apply_preprocess(x: np.ndarray, preprocess: dict[str, Any]) -> np.ndarray:
    """Standardise with the training set's mean and std when the run asked for it."""
    if "mean" in preprocess:
        x = (x - np.float32(preprocess["mean"])) / np.float32(preprocess["std"])
    return x.astype(np.float32, copy=False)


def load_data(config: dict[str, Any]) -> Data:
    """Load the dataset, take the subsets, split off validation, shape and normalise."""
    d = config["data"]
    spec = DATASETS[d["name"]]
    (x, y), (xt, yt) = _load_arrays(d)
    if "train_samples" in d:
        x, y = x[: d["train_samples"]], y[: d["train_samples"]]
    if "test_samples" in d:
        xt, yt = xt[: d["test_samples"]], yt[: d["test_samples"]]
    shape = model_input_shape(config)
    x, xt = x.reshape((len(x), *shape)), xt.reshape((len(xt), *shape))
    n = len(x)
    at = int(n * (1.0 - d["validation_split"])) if d["validation_split"] > 0 else n
    if at < 1 or (d["validation_split"] > 0 and at == n):
        raise CLIError(
            f"data.validation_split={d['validation_split']} of {n} training images "
            f"leaves {at} for training and {n - at} for validation; both need one"
        )
    xv, yv = (x[at:], y[at:]) if at < n else (None, None)
    x, y = x[:at], y[:at]
    pre: dict[str, Any] = {}
    if d["normalize"]:
        std = float(x.std())
        pre = {"mean": float(x.mean()), "std": std if std > 0 else 1.0}
    return Data(
        spec,
        apply_preprocess(x, pre),
        y,
        None if xv is None else apply_preprocess(xv, pre),
        yv,
        apply_preprocess(xt, pre),
        yt,
        pre,
    )


def train_stream(config: dict[str, Any], data: Data) -> Any:
    """``(x, y)`` arrays, or a shuffling DataLoader with the augmentation transforms."""
    d, t = config["data"], config["train"]
    transforms: list[Any] = []
    if d["random_crop"] or d["horizontal_flip"]:
        if data.x_train.ndim != 4:
            raise ConfigError(
                "config: data.random_crop and data.horizontal_flip need image "
                f"inputs, but model {config['model'].get('name')} takes flat "
                "vectors"
            )
        from chainrule.data import transforms as T

        if d["random_crop"]:
            size = data.x_train.shape[-2:]
            transforms.append(T.RandomCrop(size, padding=d["random_crop"]))
        if d["horizontal_flip"]:
            transforms.append(T.RandomHorizontalFlip(d["horizontal_flip"]))
    if not transforms:
        return data.x_train, data.y_train
    from chainrule.data import DataLoader, TensorDataset
    from chainrule.data.transforms import Compose

    return DataLoader(
        TensorDataset(data.x_train, data.y_train),
        batch_size=t["batch_size"],
        shuffle=True,
        transform=Compose(transforms),
    )


# ---- model ----
def _import_builder(spec: str) -> Any:
    module, _, fn = spec.partition(":")
    added = os.getcwd() not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise CLIError(f"model.builder {spec!r}: cannot import {module!r} ({e})") from None
    finally:
        if added:
            sys.path.remove(os.getcwd())
    builder = getattr(mod, fn, None)
    if not callable(builder):
        raise CLIError(f"model.builder {spec!r}: {module} has no function {fn!r}")
    return builder


def build_model(config: dict[str, Any], allow_code: bool = False, check: bool = True) -> Any:
    """The configured model (zoo name or, with ``allow_code``, the builder's), checked with
    one zero batch of the dataset's shape so a model that cannot take the data fails here
    with a clear message instead of deep inside the first training step."""
    from chainrule.nn import Module

    m = dict(config["model"])
    if "builder" in m:
        check_code_allowed(config, allow_code, "the configuration")
        builder = _import_builder(m.pop("builder"))
        model = builder(**m)
        if not isinstance(model, Module):
            raise CLIError(
                f"model.builder {config['model']['builder']!r} returned "
                f"{type(model).__name__}, expected a chainrule.nn.Module"
            )
    else:
        from chainrule.models import get_model

        name = m.pop("name")
        m = {k: tuple(v) if isinstance(v, list) else v for k, v in m.items()}
        model = get_model(name, **m)
    if check:
        _check_fits(model, config)
    return model


def _check_fits(model: Any, config: dict[str, Any]) -> None:
    import chainrule as cr

    shape = model_input_shape(config)
    name = config["model"].get("name") or config["model"].get("builder")
    classes = len(DATASETS[config["data"]["name"]].classes)
    was = model.training
    try:
        model.eval()
        with cr.no_grad():
            out = model(cr.zeros(2, *shape))
    except (ValueError, RuntimeError, TypeError, IndexError) as e:
        raise CLIError(
            f"model {name} cannot take {config['data']['name']} images of shape "
            f"{shape}: {' '.join(str(e).split())}"
        ) from None
    finally:
        model.train(was)
    got = getattr(out, "shape", None)
    if got is None or tuple(got) != (2, classes):
        raise CLIError(
            f"model {name} outputs shape {got} for a batch of 2; "
            f"{config['data']['name']} needs (batch, {classes}) class scores"
        )


# ---- optimizer and schedule ----
def make_optimizer(model: Any, train: dict[str, Any]) -> Any:
    import chainrule.optim as optim

    name = train["optimizer"]
    kw: dict[str, Any] = {"lr": train["lr"], "weight_decay": train["weight_decay"]}
    if name in ("sgd", "rmsprop"):
        kw["momentum"] = train["momentum"]
    if name == "sgd":
        kw["nesterov"] = train["nesterov"]
    if name in ("adam", "adamw", "nadam"):
        kw["betas"] = tuple(train["betas"])
    return optim.OPTIMIZERS[name](model.parameters(), **kw)


def make_scheduler(optimizer: Any, config: dict[str, Any], steps_per_epoch: int) -> Any:
    """A ``LearningRateScheduler`` callback for ``train.scheduler`` (None for 'none'), with
    defaults that fit the run's length."""
    from chainrule.cli.config import SCHEDULERS
    from chainrule.optim import lr_scheduler
    from chainrule.training.callbacks import LearningRateScheduler

    t = config["train"]
    name = t["scheduler"]
    if name == "none":
        return None
    epochs, step = t["epochs"], t["scheduler_interval"] == "step"
    length = epochs * steps_per_epoch if step else epochs
    args = dict(t["scheduler_args"])
    defaults: dict[str, dict[str, Any]] = {
        "step": {"step_size": max(1, length // 3)},
        "multistep": {"milestones": [max(1, length // 2), max(1, 3 * length // 4)]},
        "exponential": {"gamma": 0.9},
        "cosine": {"T_max": length},
        "onecycle": {"max_lr": t["lr"], "total_steps": length},
    }
    for k, v in defaults.get(name, {}).items():
        args.setdefault(k, v)
    monitor = "val_loss" if config["data"]["validation_split"] > 0 else "loss"
    try:
        sched = getattr(lr_scheduler, str(SCHEDULERS[name]))(optimizer, **args)
    except (TypeError, ValueError, KeyError) as e:
        raise ConfigError(
            f"config: train.scheduler {name!r} with scheduler_args {args}: {e}"
        ) from None
    return LearningRateScheduler(sched, interval="step" if step else "epoch", monitor=monitor)


# ---- trained models (evaluate / predict / summary) ----
@dataclass
class Trained:
    """A model with its weights, the configuration it was trained with, and where from."""

    model: Any
    config: dict[str, Any]
    weights: Path | None
    run_dir: Path | None
    preprocess: dict[str, Any]

    @property
    def spec(self) -> DatasetSpec:
        return DATASETS[self.config["data"]["name"]]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return model_input_shape(self.config)


def _no_link(path: Path, what: str) -> None:
    if path.is_symlink():
        raise CLIError(
            f"{what} {path} is a symbolic link; refused (a run folder's files must be its own)"
        )


def _run_config(run_dir: Path) -> dict[str, Any]:
    cfg = run_dir / "config.toml"
    _no_link(cfg, "config")
    if not cfg.is_file():
        raise CLIError(f"{run_dir} is not a chainrule run folder (no config.toml)")
    return load_config(cfg)


def _weights_meta(path: Path) -> dict[str, Any] | None:
    from chainrule.io import read_metadata

    meta = read_metadata(path)
    user = meta.get("metadata") if isinstance(meta, dict) else None
    if isinstance(user, dict) and isinstance(user.get(META_KEY), dict):
        return user[META_KEY]
    return None


def resolve_weights(target: str | Path) -> tuple[Path | None, Path | None]:
    """(weights file or None, run folder or None) for a run folder or a checkpoint path."""
    p = Path(target)
    if not p.exists():
        raise CLIError(f"{p}: no such run folder or checkpoint")
    if p.is_dir():
        _no_link(p, "run folder")
        for name in (WEIGHTS, BEST):
            w = p / "checkpoints" / name
            if w.exists():
                _no_link(w, "checkpoint")
                return w, p
        return None, p
    _no_link(p, "checkpoint")
    run = p.parent.parent if p.parent.name == "checkpoints" else None
    if run is not None and not (run / "config.toml").is_file():
        run = None
    return p, run


def load_trained(
    target: str | Path, allow_code: bool = False, need_weights: bool = True
) -> Trained:
    """The model of a run folder (its final weights, else its best) or of a checkpoint
    written by ``chainrule train`` (which carries its configuration), weights loaded.

    A configuration naming code (``model.builder``) is refused unless ``allow_code`` (D3);
    the check comes before anything is imported or built.
    """
    from chainrule.io import load

    weights, run_dir = resolve_weights(target)
    meta = _weights_meta(weights) if weights is not None else None
    if meta is not None and isinstance(meta.get("config"), dict):
        raw, where = meta["config"], f"checkpoint {weights}"
        pre = dict(meta.get("preprocess") or {})
    elif run_dir is not None:
        raw, where, pre = _run_config(run_dir), f"run folder {run_dir}", {}
        if weights is not None and not pre:
            pre = _results_preprocess(run_dir)
    else:
        raise CLIError(
            f"{target} carries no chainrule run configuration (it was not written "
            "by chainrule train); point at the run folder instead"
        )
    check_code_allowed(raw, allow_code, where)
    config = resolve_config(raw)
    if weights is None and need_weights:
        raise CLIError(
            f"{run_dir} has no trained weights yet (checkpoints/{WEIGHTS}); the run "
            f"was interrupted: finish it with 'chainrule resume {run_dir}'"
        )
    model = build_model(config, allow_code=allow_code)
    if weights is not None:
        state = load(weights)
        if isinstance(state, dict) and state.get("format") == "chainrule.backup":
            state = state["model"]  # a training backup
        _warn_non_finite(state, weights)
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError) as e:
            raise CLIError(
                f"{weights} does not fit the configured model: {' '.join(str(e).split())}"
            ) from None
    model.eval()
    return Trained(model, config, weights, run_dir, pre)


def _warn_non_finite(state: Any, path: Path) -> None:
    """RELIABILITY D7: NaN/inf weights load (the format allows them) but are reported."""
    import warnings

    if not isinstance(state, dict):
        return
    bad = sum(
        int(np.size(v) - np.count_nonzero(np.isfinite(v)))
        for v in state.values()
        if isinstance(v, np.ndarray) and v.dtype.kind == "f"
    )
    if bad:
        warnings.warn(
            f"{path}: the weights contain {bad:,} non-finite values (NaN or inf); "
            "the model's outputs will be meaningless",
            RuntimeWarning,
            stacklevel=2,
        )


def _results_preprocess(run_dir: Path) -> dict[str, Any]:
    """The preprocessing recorded in ``checkpoints/run.json`` when the run started."""
    import json

    path = run_dir / "checkpoints" / RUN_INFO
    if path.is_file() and not path.is_symlink():
        try:
            with open(path, encoding="utf-8") as f:
                return dict(json.load(f).get("preprocess") or {})
        except (OSError, ValueError, AttributeError, TypeError):
            return {}
    return {}
