r"""Callbacks: Keras's hook names and ``logs`` dicts, with state for exact resume.

A callback is handed the model (:meth:`Callback.set_model`) and the run's parameters
(``params``: ``epochs``, ``steps``, ``verbose``, ``metrics`` = the keys the epoch logs will
hold), then ``fit`` calls, in this order::

    on_train_begin
      on_epoch_begin(epoch)                       (skipped for an epoch resumed mid-way)
        on_train_batch_begin(batch) / on_train_batch_end(batch, logs)   logs: running means
        on_test_begin / on_test_batch_* / on_test_end                   (validation)
      on_epoch_end(epoch, logs)                   logs: loss, metrics, val_loss, val_metrics
    on_train_end

Setting ``model.stop_training = True`` ends training after the current batch (the epoch's
validation and ``on_epoch_end`` still run, as in Keras). A callback whose behaviour depends on
what it has seen implements :meth:`Callback.state_dict` / :meth:`Callback.load_state_dict`;
:class:`~chainrule.callbacks.BackupAndRestore` stores them, and on resume ``fit`` calls
``load_state_dict`` *after* ``on_train_begin`` (so a reset there is overridden).

This module holds the base class, the list and the small callbacks; the file-writing ones
are in :mod:`chainrule.training.checkpoint`.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from chainrule._suggest import did_you_mean, unknown_name

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "LambdaCallback",
    "LearningRateScheduler",
    "ProgressBar",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]


class Callback:
    """Base class: every hook is a no-op; override the ones you need.

    Attributes:
        model: the model being trained (set by ``fit``/``evaluate``/``predict``).
        params: ``{"epochs", "steps", "verbose", "metrics"}`` for the current run.

    Example:
        >>> import chainrule as cr
        >>> class Count(cr.callbacks.Callback):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.batches = 0
        ...     def on_train_batch_end(self, batch, logs=None):
        ...         self.batches += 1
        ...     def state_dict(self):
        ...         return {"batches": self.batches}
        ...     def load_state_dict(self, state):
        ...         self.batches = state["batches"]
    """

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    # ---- resume ----
    def state_dict(self) -> dict[str, Any]:
        """What this callback must remember across a crash (JSON-like values and arrays)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; called after ``on_train_begin`` when resuming."""

    # ---- hooks (Keras's names) ----
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None: ...
    def on_train_end(self, logs: dict[str, Any] | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None: ...
    def on_test_end(self, logs: dict[str, Any] | None = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_predict_begin(self, logs: dict[str, Any] | None = None) -> None: ...
    def on_predict_end(self, logs: dict[str, Any] | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...


_HOOKS = [
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
]


class CallbackList(Callback):
    """Calls a list of callbacks in order; the hooks a callback does not override are skipped.

    Example:
        >>> cbs = CallbackList([TerminateOnNaN()])
        >>> cbs.on_train_batch_end(0, {"loss": 1.0})
    """

    def __init__(
        self, callbacks: Iterable[Callback] | None = None, model: Any = None, **params: Any
    ) -> None:
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be chainrule.callbacks.Callback instances, got "
                    f"{type(cb).__name__}"
                )
        self._active: dict[str, list[Callable[..., None]]] = {}
        self._index()
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def _index(self) -> None:
        for hook in _HOOKS:
            base = getattr(Callback, hook)
            self._active[hook] = [
                getattr(cb, hook)
                for cb in self.callbacks
                if getattr(type(cb), hook, base) is not base or hook in cb.__dict__
            ]

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)
        self._index()

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def _call(self, hook: str, *args: Any) -> None:
        for fn in self._active[hook]:
            fn(*args)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_train_batch_end", batch, logs)

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._call("on_test_begin", logs)

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        self._call("on_test_end", logs)

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs: dict[str, Any] | None = None) -> None:
        self._call("on_predict_end", logs)

    def on_predict_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._call("on_predict_batch_end", batch, logs)

    def keyed(self) -> dict[str, Callback]:
        """Callbacks by a stable key (``ClassName_k``, the k-th of that class) for checkpoints."""
        out: dict[str, Callback] = {}
        counts: dict[str, int] = {}
        for cb in self.callbacks:
            name = type(cb).__name__
            k = counts.get(name, 0)
            counts[name] = k + 1
            out[f"{name}_{k}"] = cb
        return out


# ---- helpers shared by monitoring callbacks ----
def _monitor_op(owner: str, mode: str, monitor: str) -> tuple[Callable[[float, float], bool], int]:
    """(better(a, b), sign): ``mode='auto'`` is max for accuracy-like names, else min."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        name = monitor.removeprefix("val_")
        maxish = ("acc", "accuracy", "precision", "recall", "f1", "auc", "r2")
        mode = (
            "max"
            if any(name == m or name.startswith(m) or name.endswith(m) for m in maxish)
            else "min"
        )
    return (np.greater, 1) if mode == "max" else (np.less, -1)


def check_monitor(
    owner: str, monitor: str, params: dict[str, Any], logs: dict[str, Any] | None = None
) -> None:
    """Raise a clear error when ``monitor`` will never appear in the logs (RELIABILITY A10)."""
    keys = list(logs) if logs is not None else list(params.get("metrics") or [])
    if not keys or monitor in keys:
        return
    extra = ""
    if monitor.startswith("val_") and not any(k.startswith("val_") for k in keys):
        extra = " (no validation data: pass validation_data= or validation_split= to fit)"
    raise ValueError(
        f"{owner}: monitor={monitor!r} is not among the available metric keys "
        f"{sorted(keys)}{extra}.{did_you_mean(monitor, keys)}"
    )


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# ---- small callbacks ----
class ProgressBar(Callback):
    """Epoch and batch progress with live loss and metrics (tqdm).

    ``verbose=1``: a tqdm bar per epoch on stderr, updated every batch; ``verbose=2``: one
    line per epoch on stdout; ``verbose=0``: nothing. ``fit(verbose='auto')`` picks 1 when
    stderr is a terminal and 0 otherwise, so logs of batch jobs stay clean.
    """

    def __init__(self, verbose: int = 1, file: Any = None) -> None:
        super().__init__()
        if verbose not in (0, 1, 2):
            raise ValueError(f"ProgressBar: verbose must be 0, 1 or 2, got {verbose!r}")
        self.verbose = verbose
        self.file = file
        self._bar: Any = None
        self._t0 = 0.0
        self._epoch = 0

    def _open(self, epoch: int) -> None:
        self._epoch = epoch
        self._t0 = time.perf_counter()
        if self.verbose != 1:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:  # optional extra: fall back to one line per epoch
            self.verbose = 2
            return
        epochs = self.params.get("epochs", "?")
        self._bar = tqdm(
            total=self.params.get("steps"),
            desc=f"Epoch {epoch + 1}/{epochs}",
            unit="step",
            leave=True,
            file=self.file or sys.stderr,
            dynamic_ncols=True,
        )

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        # An epoch resumed mid-way gets no on_epoch_begin: time it from the resume.
        self._t0 = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._open(epoch)

    def _reopen(self, batch: int) -> None:
        """A bar for an epoch resumed mid-way (it got no on_epoch_begin), at ``batch``."""
        self._open(getattr(self.model, "_cr_epoch", self._epoch))
        if self._bar is not None:
            self._bar.update(batch)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.verbose == 1 and self._bar is None:
            self._reopen(batch)
        if self._bar is not None:
            self._bar.update(1)
            if logs:
                self._bar.set_postfix({k: _fmt(v) for k, v in logs.items()}, refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        items = " - ".join(f"{k}: {_fmt(v)}" for k, v in (logs or {}).items())
        if self._bar is not None:
            self._bar.set_postfix_str(items)
            self._bar.close()
            self._bar = None
        elif self.verbose == 2:
            dt = time.perf_counter() - self._t0
            epochs = self.params.get("epochs", "?")
            print(
                f"Epoch {epoch + 1}/{epochs} - {dt:.1f}s - {items}",
                file=self.file or sys.stdout,
                flush=True,
            )

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class TerminateOnNaN(Callback):
    """Stop training when the loss becomes NaN or infinite (RELIABILITY C11: inf too).

    Prints ``TerminateOnNaN: step N (epoch E, batch B): loss is nan; stopping training.`` to
    stderr, keeps it in :attr:`message`, and sets ``model.stop_training``. ``step`` counts the
    optimizer steps since the start of training (``model.global_step``); epoch and batch are
    1-based here, for people.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> model = cr.nn.Linear(1, 1)
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.ones((8, 1), np.float32), np.full((8, 1), np.nan, np.float32)
        >>> stop = cr.callbacks.TerminateOnNaN()
        >>> h = model.fit(x, y, epochs=5, batch_size=4, verbose=0, callbacks=[stop])
        >>> len(h.epoch), stop.message
        (1, 'TerminateOnNaN: step 1 (epoch 1, batch 1): loss is nan; stopping training.')
    """

    def __init__(self) -> None:
        super().__init__()
        self.message: str | None = None

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        step = getattr(self.model, "global_step", None)
        epoch = getattr(self.model, "_cr_epoch", None)
        where = f"step {step}" if step is not None else f"batch {batch + 1}"
        if epoch is not None:
            where += f" (epoch {epoch + 1}, batch {batch + 1})"
        self.message = f"TerminateOnNaN: {where}: loss is {float(loss)}; stopping training."
        print(self.message, file=sys.stderr, flush=True)
        if self.model is not None:
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Example:
        >>> seen = []
        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
        >>> CallbackList([cb]).on_epoch_end(3, {}); seen
        [3]
    """

    def __init__(self, **hooks: Callable[..., None]) -> None:
        super().__init__()
        for name, fn in hooks.items():
            if name not in _HOOKS:
                raise ValueError(unknown_name("hook", name, _HOOKS, owner="LambdaCallback"))
            setattr(self, name, fn)


class EarlyStopping(Callback):
    r"""Stop when a monitored quantity stops improving: the notes' convergence test ("the
    network has converged when the training and validation error stops decreasing").

    With ``mode='min'`` an epoch improves when :math:`x_t < best - \delta` (``min_delta``
    :math:`\delta \ge 0`); ``mode='max'`` mirrors it. ``wait`` counts epochs since the last
    improvement; training stops when ``wait >= patience``. Epochs before
    ``start_from_epoch`` are not monitored. With ``baseline``, ``wait`` is reset only by
    epochs that also beat the baseline. With ``restore_best_weights`` the model ends with the
    weights of its best epoch. Keras's semantics; ``wait``, ``best`` and the best weights are
    saved for exact resume.

    Raises:
        ValueError: at train start, when ``monitor`` is not one of the epoch log keys
            (the message lists them; RELIABILITY A10).

    Example:
        >>> es = EarlyStopping(monitor="val_loss", patience=2)
        >>> es.patience
        2
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        if patience < 0 or start_from_epoch < 0:
            raise ValueError(
                f"EarlyStopping: patience and start_from_epoch must be >= 0, got "
                f"patience={patience}, start_from_epoch={start_from_epoch}"
            )
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self._better, self._sign = _monitor_op("EarlyStopping", mode, monitor)
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self._sign < 0 else -math.inf
        self.best_epoch = 0
        self.best_weights: dict[str, np.ndarray] | None = None

    def _improves(self, value: float, ref: float) -> bool:
        return bool(self._better(value - self._sign * self.min_delta, ref))

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        check_monitor("EarlyStopping", self.monitor, self.params)
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            check_monitor("EarlyStopping", self.monitor, self.params, logs)
        if epoch < self.start_from_epoch:
            return
        current = float(logs[self.monitor])
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _weights(self.model)
        self.wait += 1
        if self._improves(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = _weights(self.model)
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", flush=True)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    f"Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}.",
                    flush=True,
                )
            self.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        bw = state["best_weights"]
        self.best_weights = None if bw is None else {k: np.array(v) for k, v in bw.items()}


def _weights(model: Any) -> dict[str, np.ndarray]:
    return {k: np.array(v.data, copy=True) for k, v in model.state_dict().items()}


class LearningRateScheduler(Callback):
    """Drive a learning-rate schedule from ``fit``.

    Args:
        schedule: a ``chainrule.optim.lr_scheduler`` scheduler (PyTorch semantics:
            ``step()`` after each epoch, or after each batch with ``interval='step'``;
            ``ReduceLROnPlateau`` gets ``step(logs[monitor])`` at epoch end), or a Keras-style
            function ``schedule(epoch, lr) -> lr`` applied at each epoch begin to every
            parameter group of the compiled optimizer.
        interval: ``'epoch'`` or ``'step'`` (schedulers only).
        monitor: the log key fed to ``ReduceLROnPlateau``.

    The scheduler's ``state_dict`` is saved for exact resume; the learning rate of the epoch
    appears in the logs as ``lr``.

    Example:
        >>> cb = LearningRateScheduler(lambda epoch, lr: lr * 0.5)
        >>> cb.interval
        'epoch'
    """

    def __init__(
        self, schedule: Any, interval: str = "epoch", monitor: str = "val_loss", verbose: int = 0
    ) -> None:
        super().__init__()
        if interval not in ("epoch", "step"):
            raise ValueError(
                f"LearningRateScheduler: interval must be 'epoch' or 'step', got {interval!r}"
            )
        self.is_scheduler = hasattr(schedule, "step") and hasattr(schedule, "state_dict")
        if not self.is_scheduler and not callable(schedule):
            raise TypeError(
                "LearningRateScheduler: schedule must be a chainrule.optim.lr_scheduler "
                f"scheduler or a function schedule(epoch, lr), got {type(schedule).__name__}"
            )
        if not self.is_scheduler and interval == "step":
            raise ValueError("LearningRateScheduler: interval='step' needs a scheduler object")
        self.schedule = schedule
        self.interval = interval
        self.monitor = monitor
        self.verbose = verbose
        self.plateau = self.is_scheduler and type(schedule).__name__ == "ReduceLROnPlateau"

    def _optimizer(self) -> Any:
        opt = getattr(self.schedule, "optimizer", None) or getattr(self.model, "optimizer", None)
        if opt is None:
            raise ValueError("LearningRateScheduler: the model has no optimizer; call compile()")
        return opt

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.plateau:
            check_monitor("LearningRateScheduler", self.monitor, self.params)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.is_scheduler:
            return
        opt = self._optimizer()
        lr = float(self.schedule(epoch, float(opt.param_groups[0]["lr"])))
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"LearningRateScheduler: schedule returned lr={lr} at epoch {epoch}")
        for g in opt.param_groups:
            g["lr"] = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.is_scheduler and self.interval == "step" and not self.plateau:
            self.schedule.step()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            logs["lr"] = float(self._optimizer().param_groups[0]["lr"])
        if not self.is_scheduler:
            return
        if self.plateau:
            logs = logs or {}
            if self.monitor not in logs:
                check_monitor("LearningRateScheduler", self.monitor, self.params, logs)
            self.schedule.step(float(logs[self.monitor]))
        elif self.interval == "epoch":
            self.schedule.step()

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.schedule.state_dict()} if self.is_scheduler else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.is_scheduler and "scheduler" in state:
            self.schedule.load_state_dict(state["scheduler"])


def ReduceLROnPlateau(optimizer: Any = None, monitor: str = "val_loss", **kwargs: Any) -> Any:  # noqa: N802
    """Keras-style shortcut: ``LearningRateScheduler`` driving
    ``chainrule.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs)`` on ``monitor``.

    ``optimizer`` defaults to the compiled one, bound when training starts.

    Example:
        >>> import chainrule as cr
        >>> cb = cr.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)
        >>> isinstance(cb, cr.callbacks.LearningRateScheduler)
        True
    """
    return _PlateauCallback(optimizer, monitor, kwargs)


class _PlateauCallback(LearningRateScheduler):
    def __init__(self, optimizer: Any, monitor: str, kwargs: dict[str, Any]) -> None:
        Callback.__init__(self)
        self._opt, self._kwargs = optimizer, kwargs
        self.schedule = None
        self.is_scheduler = self.plateau = True
        self.interval, self.monitor, self.verbose = "epoch", monitor, 0
        self._pending: dict[str, Any] | None = None
        if "mode" in kwargs and kwargs["mode"] not in ("min", "max"):
            raise ValueError(
                f"ReduceLROnPlateau: mode must be 'min' or 'max', got {kwargs['mode']!r}"
            )

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.schedule is None:
            from chainrule.optim.lr_scheduler import ReduceLROnPlateau as _Plateau

            opt = self._opt or getattr(self.model, "optimizer", None)
            if opt is None:
                raise ValueError("ReduceLROnPlateau: the model has no optimizer; call compile()")
            kw = dict(self._kwargs)
            if "mode" not in kw:
                _, sign = _monitor_op("ReduceLROnPlateau", "auto", self.monitor)
                kw["mode"] = "max" if sign > 0 else "min"
            self.schedule = _Plateau(opt, **kw)
        super().on_train_begin(logs)

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.schedule.state_dict()} if self.schedule is not None else {}


class CSVLogger(Callback):
    """Append one row per epoch to a CSV file: ``epoch`` (0-based, as Keras) and every log key.

    Rows are flushed and fsynced as they are written. For exact resume the callback
    remembers how many bytes of the file belong to the run; on resume the file is cut back
    to that length, so the final file is byte-identical to an uninterrupted run's.

    Args:
        filename: the CSV path.
        separator: the field separator.
        append: keep an existing file and append (the header is not repeated).

    Example:
        >>> import tempfile, os
        >>> log = CSVLogger(os.path.join(tempfile.mkdtemp(), "metrics.csv"))
        >>> log.append
        False
    """

    def __init__(
        self, filename: str | os.PathLike, separator: str = ",", append: bool = False
    ) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self.offset: int | None = None  # bytes of the file owned by this run so far
        self.rows = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.keys, self.rows = None, 0
        exists = os.path.exists(self.filename)
        self.offset = os.path.getsize(self.filename) if (self.append and exists) else 0
        if self.append and exists and self.offset:
            with open(self.filename, encoding="utf-8", newline="") as f:
                header = f.readline().rstrip("\r\n")
            if header:
                self.keys = header.split(self.sep)[1:]
        parent = os.path.dirname(self.filename)
        if parent:
            os.makedirs(parent, exist_ok=True)
        # The file is cut to ``offset`` at the first write, not here: on resume,
        # load_state_dict (called after on_train_begin) first restores the offset.

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        lines = []
        if self.keys is None:
            self.keys = sorted(logs)
            lines.append(self.sep.join(["epoch", *self.keys]))
        row = [str(epoch)] + [_csv_value(logs.get(k, "NA")) for k in self.keys]
        lines.append(self.sep.join(row))
        data = ("\n".join(lines) + "\n").encode("utf-8")
        with open(self.filename, "r+b" if os.path.exists(self.filename) else "wb") as f:
            f.truncate(self.offset or 0)
            f.seek(self.offset or 0)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self.offset = (self.offset or 0) + len(data)
        self.rows += 1

    def state_dict(self) -> dict[str, Any]:
        return {"keys": self.keys, "offset": self.offset, "rows": self.rows}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.keys = None if state["keys"] is None else list(state["keys"])
        self.offset = int(state["offset"] or 0)
        self.rows = int(state["rows"])
        size = os.path.getsize(self.filename) if os.path.exists(self.filename) else 0
        if size < self.offset:
            raise ValueError(
                f"CSVLogger: {self.filename} has {size} bytes but the backup recorded "
                f"{self.offset}; the log was truncated or replaced since the backup"
            )
        if size > self.offset:  # rows written after the backup are written again
            with open(self.filename, "r+b") as f:
                f.truncate(self.offset)


def _csv_value(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, (np.ndarray, list, tuple)):
        return '"' + str(np.asarray(v).tolist()).replace('"', "'") + '"'
    return str(v)
