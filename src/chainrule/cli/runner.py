"""``train_run``: everything ``chainrule train`` does, callable from Python (the tuner calls it
once per trial), and ``resume_run`` for ``chainrule resume``.

A run folder (``runs/<name>-<timestamp>/``) holds::

    config.toml                     the resolved configuration (repeat the run with it)
    metrics.csv                     one row per epoch: loss, metrics, val_*, lr
    results.json                    final, best and test metrics, per-class scores, timings
    checkpoints/model.safetensors   the final weights (+ the configuration, for predict)
    checkpoints/best.safetensors    the weights of the best epoch (checkpoint_monitor)
    checkpoints/backup/             the resume backups (BackupAndRestore; the last is kept)
    checkpoints/run.json            the configuration at the start (to refuse changed resumes)
    plots/loss.png, plots/accuracy.png, plots/confusion_matrix.png, plots/samples.png

Exact resume: the model, data split and augmentation streams are rebuilt from the seed, then
:class:`~chainrule.callbacks.BackupAndRestore` restores weights, optimizer, schedule, data
position, every RNG, metric totals and callback states, so an interrupted run that is resumed
ends with the same weights, bit for bit, as one that never stopped. A finished run resumes to
no extra epochs (its final backup is kept). A run whose configuration changed since it
started is refused with the list of differences (RELIABILITY B5, B8).
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.cli.build import (
    BEST,
    META_KEY,
    RUN_INFO,
    WEIGHTS,
    CLIError,
    build_model,
    check_code_allowed,
    load_data,
    make_optimizer,
    make_scheduler,
    model_input_shape,
    train_stream,
)
from chainrule.cli.config import (
    config_differences,
    dump_config,
    load_config,
    resolve_config,
)
from chainrule.training.callbacks import Callback

__all__ = ["RunResult", "new_run_dir", "resume_run", "sanitize_name", "train_run"]


@dataclass
class RunResult:
    """What a run produced.

    Attributes:
        run_dir: the run folder.
        config: the resolved configuration.
        history: per-epoch logs (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``,
            ``lr`` ...), one float per epoch.
        metrics: the last epoch's logs plus the test set's (``test_loss``,
            ``test_accuracy``, ... ).
        best: for every logged key, its best value over the epochs (min for losses, max
            otherwise), and ``epoch`` (1-based) of the best ``checkpoint_monitor`` value.
        plots: the PNG files written (empty when matplotlib is missing).
        epochs_run: epochs trained by this call (0 when a finished run was resumed).
    """

    run_dir: Path
    config: dict[str, Any]
    history: dict[str, list[float]]
    metrics: dict[str, float]
    best: dict[str, Any]
    plots: list[Path] = field(default_factory=list)
    epochs_run: int = 0
    per_class: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: str | None = None

    @property
    def test_accuracy(self) -> float | None:
        v = self.metrics.get("test_accuracy")
        return None if v is None else float(v)


# ---- run folders ----
def sanitize_name(name: str) -> str:
    """A run name safe as one folder name: letters, digits, ``.``, ``_`` and ``-`` only, no
    leading dots or dashes, at most 64 characters (RELIABILITY D4: ``../../x`` -> ``x``).

    Example:
        >>> sanitize_name("../../etc/passwd"), sanitize_name("my run #1")
        ('etc-passwd', 'my-run-1')
    """
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", str(name))
    s = re.sub(r"-{2,}", "-", re.sub(r"\.{2,}", ".", s))
    s = s.strip(".-")
    s = re.sub(r"^[.-]+", "", s)
    return s[:64].rstrip(".-") or "run"


def new_run_dir(runs_dir: str | Path, name: str) -> Path:
    """Create ``<runs_dir>/<name>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``... if taken)."""
    base = Path(runs_dir)
    base.mkdir(parents=True, exist_ok=True)
    stem = f"{sanitize_name(name)}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    for k in range(1, 1000):
        path = base / (stem if k == 1 else f"{stem}-{k}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        if path.resolve().parent != base.resolve():  # pragma: no cover (sanitized)
            raise CLIError(f"run name {name!r} leads outside {base}")
        return path
    raise CLIError(f"cannot create a run folder in {base}: too many runs named {stem}")


def _check_run_dir(config: dict[str, Any], run_dir: str | Path | None) -> bool:
    """Whether the run starts fresh (nothing is created yet). An existing folder of a run
    with the same configuration is continued; with another configuration it is refused."""
    if run_dir is None:
        return True
    p = Path(run_dir)
    if p.is_symlink():
        raise CLIError(f"run folder {p} is a symbolic link; refused")
    info = p / "checkpoints" / RUN_INFO
    if info.is_file():
        if info.is_symlink():
            raise CLIError(f"{info} is a symbolic link; refused")
        try:
            with open(info, encoding="utf-8") as f:
                started = json.load(f)["config"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CLIError(
                f"{info} is unreadable ({type(e).__name__}: {e}); the run cannot be "
                "checked, so it is not continued"
            ) from None
        diffs = config_differences(started, config, ignore=("name", "runs_dir", "tune"))
        if diffs:
            raise CLIError(
                f"the run in {p} was started with another configuration, so it cannot continue "
                f"exactly; differences (started -> now): {'; '.join(diffs)}. Start a new run "
                "with chainrule train instead"
            )
        return False
    if p.exists() and (not p.is_dir() or any(p.iterdir())):
        raise CLIError(
            f"{p} exists and is not a chainrule run folder (no checkpoints/"
            f"{RUN_INFO}); choose another --run-dir"
        )
    return True


# ---- callbacks of the runner ----
class _EpochCounter(Callback):
    """Counts and times the epochs this process trains (stateless: not in the backup)."""

    def __init__(self) -> None:
        super().__init__()
        self.epochs = 0
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self._t = (0.0, 0.0)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._t = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epochs += 1
        if self._t[0]:  # (an epoch resumed mid-way has no begin in this process)
            self.wall.append(round(time.perf_counter() - self._t[0], 3))
            self.cpu.append(round(time.process_time() - self._t[1], 3))
        self._t = (0.0, 0.0)


class StepSleep(Callback):
    """Sleeps after every step (``--debug-step-sleep``: makes kill tests land mid-epoch)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = float(seconds)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        time.sleep(self.seconds)


class _Bar(Callback):
    """A tqdm bar over prediction batches (on a terminal only)."""

    def __init__(self, desc: str, enabled: bool) -> None:
        super().__init__()
        self.desc, self.enabled = desc, enabled
        self.bar: Any = None

    def on_predict_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.enabled:
            try:
                from tqdm.auto import tqdm  # type: ignore[import-untyped, unused-ignore]
            except ImportError:
                return
            self.bar = tqdm(
                total=self.params.get("steps"),
                desc=self.desc,
                unit="batch",
                leave=False,
                file=sys.stderr,
                dynamic_ncols=True,
            )

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_predict_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _StopMessage:
    """stderr proxy that turns fit's stop line into one that names ``chainrule resume``."""

    _PAT = re.compile(r"^fit: stopped by (\w+) at (.*?);.*$", re.S)

    def __init__(self, stream: Any, run_dir: Path) -> None:
        self._stream, self._run_dir = stream, run_dir

    def write(self, s: str) -> int:
        m = self._PAT.match(s)
        if m:
            s = (
                f"chainrule: training stopped by {m.group(1)} at {m.group(2)}; the backup is "
                f"saved, continue with: chainrule resume {self._run_dir}"
            )
        return self._stream.write(s)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _stop_message(run_dir: Path) -> Iterator[None]:
    old = sys.stderr
    sys.stderr = _StopMessage(old, run_dir)
    try:
        yield
    finally:
        sys.stderr = old


# ---- evaluation of the test set ----
def test_predictions(model: Any, x: np.ndarray, batch_size: int, bar: bool = False) -> np.ndarray:
    """Class scores (logits) for ``x``, in eval mode without gradients."""
    return np.asarray(
        model.predict(
            x, batch_size=max(256, batch_size), verbose=0, callbacks=[_Bar("test set", bar)]
        )
    )


def score(
    config: dict[str, Any], logits: np.ndarray, y: np.ndarray, prefix: str = "test_"
) -> dict[str, float]:
    """Loss and metrics of ``logits`` against ``y``, computed as ``evaluate`` does."""
    import chainrule as cr
    from chainrule.nn import functional as F
    from chainrule.training.metrics import get_metric
    from chainrule.training.trainer import LOSSES

    t = config["train"]
    fn = getattr(F, LOSSES[t["loss"]])
    target = y if LOSSES[t["loss"]] in ("cross_entropy", "nll_loss") else y.astype(np.float32)
    with cr.no_grad():
        loss = float(fn(cr.tensor(logits), cr.tensor(target)).data)
    out = {f"{prefix}loss": loss}
    for name in t["metrics"]:
        m = get_metric(name)
        m.update(y, logits)
        r = m.result()
        if np.ndim(r) == 0:
            out[f"{prefix}{name}"] = float(r)
    return out


def per_class(cm: np.ndarray, classes: list[str] | tuple[str, ...]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of each class from a confusion matrix."""
    tp = np.diag(cm).astype(np.float64)
    pred, true = cm.sum(axis=0).astype(np.float64), cm.sum(axis=1).astype(np.float64)
    p = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    r = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    f = np.divide(2 * p * r, p + r, out=np.zeros_like(tp), where=(p + r) > 0)
    return [
        {
            "class": str(c),
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(true[i]),
        }
        for i, c in enumerate(classes)
    ]


def _best(history: dict[str, list[float]], monitor: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in history.items():
        arr = np.asarray(v, dtype=float)
        if arr.size == 0 or k == "lr" or np.all(np.isnan(arr)):
            continue
        out[k] = float(np.nanmin(arr) if "loss" in k else np.nanmax(arr))
    if history.get(monitor):
        arr = np.asarray(history[monitor], dtype=float)
        if not np.all(np.isnan(arr)):
            i = int(np.nanargmin(arr) if "loss" in monitor else np.nanargmax(arr))
            out["epoch"] = i + 1
    return out


def _json(obj: Any) -> str:
    def fix(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return repr(v)
        if isinstance(v, dict):
            return {str(k): fix(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [fix(x) for x in v]
        if isinstance(v, Path):
            return str(v)
        return v

    return json.dumps(fix(obj), indent=2) + "\n"


# ---- the run ----
def train_run(
    config: Mapping[str, Any],
    run_dir: str | Path | None = None,
    *,
    callbacks: Iterable[Any] = (),
    quiet: bool = False,
    allow_code: bool = False,
    plots: bool = True,
) -> RunResult:
    """Train, evaluate and plot one run described by ``config``; everything
    ``chainrule train`` does.

    Args:
        config: a configuration dict (resolved here, so raw TOML contents are fine).
        run_dir: the run folder; ``None`` creates ``<runs_dir>/<name>-<timestamp>``. An
            existing folder of a run started with the same configuration is continued
            exactly (resume); with another configuration it is refused.
        callbacks: extra callbacks appended to the run's (e.g. a tuner's pruning callback).
        quiet: no progress bars and no messages (the returned result says everything).
        allow_code: allow ``model.builder = "module:function"`` (imports and runs it).
        plots: write the PNG plots (needs matplotlib; a tuner's trials may skip them).

    Returns:
        :class:`RunResult`.

    Raises:
        ConfigError: a bad configuration (unknown key with the nearest valid one...).
        CLIError: a refused or impossible request (code without ``allow_code``, a changed
            configuration on resume, a model that cannot take the data, a missing dataset).
        TrainingInterrupted: Ctrl-C during training, after a consistent backup was saved.

    Example:
        >>> import tempfile
        >>> r = train_run({"data": {"train_samples": 100, "test_samples": 30},
        ...                "train": {"epochs": 1}}, tempfile.mkdtemp(), quiet=True,
        ...               plots=False)
        >>> sorted(p.name for p in r.run_dir.iterdir())[:3]
        ['checkpoints', 'config.toml', 'metrics.csv']
        >>> 0.0 <= r.test_accuracy <= 1.0
        True
    """
    import chainrule as cr
    from chainrule.callbacks import TerminateOnNaN
    from chainrule.io import atomic_write, save

    check_code_allowed(dict(config), allow_code, "the configuration")
    cfg = resolve_config(config)
    say = (lambda *a, **k: None) if quiet else (lambda *a, **k: print(*a, **k, flush=True))
    t0 = time.perf_counter()
    fresh = _check_run_dir(cfg, run_dir)
    cr.manual_seed(cfg["seed"])
    data = load_data(cfg)
    model = build_model(cfg, allow_code=allow_code)
    t = cfg["train"]
    opt = make_optimizer(model, t)
    model.compile(optimizer=opt, loss=t["loss"], metrics=list(t["metrics"]))
    stream = train_stream(cfg, data)
    steps = math.ceil(len(data.x_train) / t["batch_size"])
    scheduler = make_scheduler(opt, cfg, steps)

    # everything is checked: only now is the run folder created
    if run_dir is None:
        folder = new_run_dir(cfg["runs_dir"], cfg["name"])
    else:
        folder = Path(run_dir)
        folder.mkdir(parents=True, exist_ok=True)
    ck = folder / "checkpoints"
    ck.mkdir(exist_ok=True)
    say(f"Run folder: {folder}" + ("" if fresh else " (continuing the run from its backup)"))
    if fresh:
        info = {
            "config": cfg,
            "preprocess": data.preprocess,
            "input_shape": list(model_input_shape(cfg)),
            "classes": list(data.spec.classes),
            "chainrule_version": cr.__version__,
            "started": datetime.now().isoformat(timespec="seconds"),
        }
        atomic_write(ck / RUN_INFO, _json(info))
        atomic_write(
            folder / "config.toml",
            f"# chainrule run configuration (resolved: every default filled in)\n"
            f"# repeat with: chainrule train {folder / 'config.toml'}\n\n" + dump_config(cfg),
        )
    say(
        f"Model {cfg['model'].get('name') or cfg['model'].get('builder')}: "
        f"{model.num_parameters():,} parameters; data {cfg['data']['name']}: "
        f"{len(data.x_train):,} train, {0 if data.x_val is None else len(data.x_val):,} "
        f"validation, {len(data.x_test):,} test images"
    )

    counter = _EpochCounter()
    cbs = _callbacks(cfg, folder, scheduler, [*callbacks, counter])
    verbose = 0 if quiet else (1 if getattr(sys.stderr, "isatty", lambda: False)() else 2)
    x_fit, y_fit = stream if isinstance(stream, tuple) else (stream, None)
    val = (data.x_val, data.y_val) if data.x_val is not None else None
    t_fit = time.perf_counter()
    with _stop_message(folder):
        history = model.fit(
            x_fit,
            y_fit,
            batch_size=t["batch_size"],
            epochs=t["epochs"],
            validation_data=val,
            shuffle=True,
            seed=cfg["seed"],
            verbose=verbose,
            callbacks=cbs,
        )
    fit_seconds = time.perf_counter() - t_fit
    hist = {k: [float(x) for x in v] for k, v in history.history.items()}
    if counter.epochs == 0 and hist:
        n = len(hist.get("loss", []))
        say(
            f"The run had already finished ({n} epoch{'s' if n != 1 else ''}); nothing more "
            "to train"
        )
    nan_stop = next((c.message for c in cbs if isinstance(c, TerminateOnNaN) and c.message), None)

    # the test set, the final weights, the plots, results.json
    logits = test_predictions(model, data.x_test, t["batch_size"], bar=verbose == 1)
    pred = logits.argmax(axis=1)
    cm = cr.metrics.confusion_matrix(data.y_test, pred, num_classes=len(data.spec.classes))
    metrics = {**{key: v[-1] for key, v in hist.items() if v}, **score(cfg, logits, data.y_test)}
    metrics.setdefault("test_accuracy", float(np.mean(pred == data.y_test)))
    classes = per_class(cm, data.spec.classes)
    best = _best(hist, t["checkpoint_monitor"])
    meta = {
        META_KEY: {
            "config": cfg,
            "preprocess": data.preprocess,
            "input_shape": list(model_input_shape(cfg)),
            "classes": list(data.spec.classes),
        }
    }
    save(model.state_dict(), ck / WEIGHTS, metadata=meta)
    written = _plots(folder, data, hist, cm, logits) if plots else []
    if plots and not written and not quiet:
        print(
            "Plots skipped: matplotlib is not installed (pip install 'chainrule[viz]')",
            file=sys.stderr,
            flush=True,
        )
    atomic_write(
        folder / "results.json",
        _json(
            {
                "name": cfg["name"],
                "run_dir": folder,
                "epochs": len(hist.get("loss", [])),
                "final": metrics,
                "best": best,
                "per_class": classes,
                "confusion_matrix": cm.tolist(),
                "preprocess": data.preprocess,
                "stopped": nan_stop,
                "fit_seconds": round(fit_seconds, 3),
                "epoch_seconds": counter.wall,
                "epoch_cpu_seconds": counter.cpu,
                "total_seconds": round(time.perf_counter() - t0, 3),
                "chainrule_version": cr.__version__,
            }
        ),
    )
    return RunResult(folder, cfg, hist, metrics, best, written, counter.epochs, classes, nan_stop)


def _callbacks(cfg: dict[str, Any], folder: Path, scheduler: Any, extra: list[Any]) -> list[Any]:
    """The run's callbacks, in a fixed order (their backup keys depend on it): the best
    weights, the CSV log, the NaN guard, early stopping, the schedule, ``extra``, and last
    the backup, so a backup sees every other callback's state after its epoch."""
    from chainrule.callbacks import (
        BackupAndRestore,
        CSVLogger,
        EarlyStopping,
        ModelCheckpoint,
        TerminateOnNaN,
    )

    t, ck = cfg["train"], folder / "checkpoints"
    es = t["early_stopping"]
    cbs: list[Any] = [
        ModelCheckpoint(ck / BEST, monitor=t["checkpoint_monitor"], save_best_only=True),
        CSVLogger(folder / "metrics.csv"),
        TerminateOnNaN(),
    ]
    if es["enabled"]:
        cbs.append(
            EarlyStopping(
                monitor=es["monitor"],
                patience=es["patience"],
                min_delta=es["min_delta"],
                restore_best_weights=es["restore_best_weights"],
            )
        )
    if scheduler is not None:
        cbs.append(scheduler)
    return [
        *cbs,
        *extra,
        BackupAndRestore(
            ck / "backup", save_freq=t["backup_every"] or "epoch", delete_checkpoint=False
        ),
    ]


def _plots(
    folder: Path, data: Any, hist: dict[str, list[float]], cm: np.ndarray, logits: np.ndarray
) -> list[Path]:
    """The PNG plots (empty when matplotlib is missing)."""
    from chainrule.cli import plots as P

    if not P.available():
        return []
    z = logits - logits.max(axis=1, keepdims=True)
    prob = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    images = data.x_test
    if data.preprocess:  # show the images as they were, not standardised
        images = images * data.preprocess["std"] + data.preprocess["mean"]
    return P.save_all(
        folder / "plots",
        hist,
        cm,
        list(data.spec.classes),
        images,
        data.y_test,
        logits.argmax(axis=1),
        prob.max(axis=1),
        folder.name,
    )


def report(result: RunResult) -> str:
    """The closing lines of ``chainrule train``: where everything is, and the test accuracy."""
    d = result.run_dir
    monitor = result.config["train"]["checkpoint_monitor"]
    lines = [
        f"Run folder: {d}",
        "  config.toml  metrics.csv  results.json",
        f"  checkpoints/{WEIGHTS} (final weights)  checkpoints/{BEST} (best {monitor})",
    ]
    if result.plots:
        lines.append("  " + "  ".join(str(p.relative_to(d)) for p in result.plots))
    else:
        lines.append("  (no plots: matplotlib is not installed, or plots were turned off)")
    n = sum(c["support"] for c in result.per_class)
    acc = result.test_accuracy
    acc_text = "n/a" if acc is None else f"{100 * acc:.2f}%"
    lines.append(
        f"Test accuracy: {acc_text} on {n:,} test images "
        f"(loss {result.metrics.get('test_loss', float('nan')):.4f})"
    )
    return "\n".join(lines)


def resume_run(
    run_dir: str | Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    callbacks: Iterable[Any] = (),
    quiet: bool = False,
    allow_code: bool = False,
) -> RunResult:
    """Continue the run in ``run_dir`` exactly where it stopped (see the module notes).

    The configuration is the run's own ``config.toml``; ``overrides`` are only accepted when
    they change nothing (a changed configuration is refused, with the differences). A
    configuration naming code is refused unless ``allow_code`` is given again (D3).
    """
    p = Path(run_dir)
    if not p.is_dir():
        raise CLIError(f"{p}: no such run folder")
    if p.is_symlink():
        raise CLIError(f"run folder {p} is a symbolic link; refused")
    cfg_path = p / "config.toml"
    if cfg_path.is_symlink():
        raise CLIError(f"{cfg_path} is a symbolic link; refused")
    if not cfg_path.is_file() or not (p / "checkpoints" / RUN_INFO).is_file():
        raise CLIError(
            f"{p} is not a chainrule run folder (config.toml and checkpoints/{RUN_INFO} are needed)"
        )
    raw = load_config(cfg_path)
    check_code_allowed(raw, allow_code, f"run folder {p}")
    if overrides:
        raw = resolve_config(raw, overrides)
    return train_run(raw, p, callbacks=callbacks, quiet=quiet, allow_code=allow_code)
