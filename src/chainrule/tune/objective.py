r"""A trial: draw the parameters, train the config they give, return the monitored metric.

For a trial with parameters :math:`\theta` (learning rate, width, ...) the objective is the
validation metric :math:`m_e(\theta)` of the run trained with them, either its best epoch
(``objective = "best"``: :math:`\max_e m_e` when maximizing, :math:`\min_e m_e` when
minimizing) or its last epoch (``"last"``). After every epoch :class:`PruningCallback` reports
:math:`m_e` to Optuna, and the pruner may stop the trial there (Optuna's MedianPruner: stop
when :math:`m_e` is worse than the median of the earlier trials' values at epoch :math:`e`).

The training itself is ``chainrule.cli.runner.train_run`` (one ``chainrule train`` run), or any
function with its signature ``train_fn(config, run_dir, *, callbacks, quiet) -> result`` whose
result has a ``history`` (``{key: [value per epoch]}``).

Example:
    >>> import optuna, chainrule as cr
    >>> from types import SimpleNamespace
    >>> from chainrule.tune.space import parse_space
    >>> def train_fn(config, run_dir=None, *, callbacks=(), quiet=False):   # a stand-in
    ...     lr = config["train"]["lr"]
    ...     curve = [1.0 - abs(lr - 0.1) / (e + 1) for e in range(3)]
    ...     for e, v in enumerate(curve):
    ...         for cb in callbacks:
    ...             cb.on_epoch_end(e, {"val_accuracy": v})
    ...     return SimpleNamespace(history={"val_accuracy": curve})
    >>> objective = TrialObjective({"train": {"lr": 0.5}},
    ...                            parse_space({"train.lr": [0.01, 0.1]}),
    ...                            "val_accuracy", "maximize", train_fn=train_fn)
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(direction="maximize")
    >>> study.enqueue_trial({"train.lr": 0.1})
    >>> study.optimize(objective, n_trials=1)
    >>> study.best_value
    1.0
"""

from __future__ import annotations

import inspect
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from chainrule.training.callbacks import Callback
from chainrule.tune import _proc
from chainrule.tune._optuna import require_optuna
from chainrule.tune.space import ParamSpec, apply_params

__all__ = ["PruningCallback", "SurplusTrial", "TrialObjective", "metric_value"]

TrainFn = Callable[..., Any]


class SurplusTrial(RuntimeError):
    """A trial started when the study already had its trials complete or running (a race
    between workers); it stops before training and is marked FAIL with ``surplus``."""


def _check_logs(metric: str, logs: Mapping[str, Any], where: str) -> float:
    if metric not in logs:
        keys = ", ".join(sorted(logs)) or "none"
        hint = (
            " (validation metrics need validation data in [data] or [train])"
            if metric.startswith("val_")
            else ""
        )
        raise ValueError(f"[tune] metric {metric!r} is not in the {where}; it has: {keys}{hint}")
    return float(logs[metric])


class PruningCallback(Callback):
    """Report the monitored metric to an Optuna trial after every epoch; raise
    ``optuna.TrialPruned`` when the study's pruner says to stop.

    Args:
        trial: the Optuna trial.
        monitor: the epoch log key, e.g. ``"val_accuracy"``.
        epoch_sleep: seconds to sleep after each report (tests only: keeps a trial running).

    Example:
        >>> import optuna
        >>> study = optuna.create_study(pruner=optuna.pruners.NopPruner())
        >>> trial = study.ask()
        >>> cb = PruningCallback(trial, "val_loss")
        >>> cb.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.5})
        >>> trial.storage.get_trial(trial._trial_id).intermediate_values
        {0: 0.5}
    """

    def __init__(self, trial: Any, monitor: str, epoch_sleep: float = 0.0) -> None:
        super().__init__()
        self.trial, self.monitor, self.epoch_sleep = trial, monitor, epoch_sleep
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = _check_logs(self.monitor, logs or {}, f"epoch {epoch} logs")
        self.trial.report(value, epoch)
        if self.epoch_sleep:
            time.sleep(self.epoch_sleep)
        if self.trial.should_prune():
            self.pruned_at = epoch
            raise require_optuna().TrialPruned(
                f"pruned after epoch {epoch + 1} with {self.monitor} = {value:.6g}"
            )


def _history(result: Any) -> dict[str, list[float]]:
    h = getattr(result, "history", result)
    h = getattr(h, "history", h)  # a History object
    if not isinstance(h, Mapping):
        raise TypeError(
            f"the training function returned {type(result).__name__} without a "
            "history dict ({key: [value per epoch]})"
        )
    return {k: list(v) for k, v in h.items()}


def metric_value(
    history: Mapping[str, Sequence[float]], metric: str, direction: str, objective: str = "best"
) -> tuple[float, int]:
    """``(value, epoch)`` of ``metric``: its best epoch (NaNs skipped) or its last.

    Example:
        >>> metric_value({"val_loss": [0.9, 0.4, 0.6]}, "val_loss", "minimize")
        (0.4, 1)
    """
    values = [float(v) for v in _check_history(history, metric)]
    if objective == "last":
        return values[-1], len(values) - 1
    finite = [(v, e) for e, v in enumerate(values) if not math.isnan(v)]
    if not finite:
        return math.nan, len(values) - 1
    pick = max if direction == "maximize" else min
    v, e = pick(finite, key=lambda ve: ve[0])
    return v, e


def _check_history(history: Mapping[str, Sequence[float]], metric: str) -> Sequence[float]:
    if metric not in history or not len(history[metric]):
        _check_logs(metric, {k: v for k, v in history.items() if len(v)}, "training history")
        raise ValueError(f"[tune] metric {metric!r} has no values in the training history")
    return history[metric]


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _default_train_fn() -> TrainFn:
    from chainrule.cli.runner import train_run

    return train_run


class TrialObjective:
    """The function Optuna calls for each trial.

    Args:
        base_config: the run config (``[model]``, ``[data]``, ``[train]``, ...), not modified.
        specs: the search space.
        metric, direction, objective: what to optimize (see the module docstring).
        study_dir: the study folder; trial ``n`` trains in ``<study_dir>/trials/<n>``
            (None: the training function's default).
        train_fn: the training function (default ``chainrule.cli.runner.train_run``).
        n_trials: the COMPLETE trials wanted; a trial started beyond them (two workers raced
            for the last one) stops at once as :class:`SurplusTrial`.
        worker: this worker's index (recorded in ``user_attrs``).
        epoch_sleep: seconds slept after each epoch (tests only).
        allow_code: passed to the training function (a config naming model-building code).
        done_states: the trial states counted in ``n_trials`` (COMPLETE; also PRUNED for a
            grid search).
        trial_plots: let each trial's run write its own plots (passed as ``plots=`` when the
            training function takes it; off by default: they cost more than a small trial).

    Each trial records in ``user_attrs``: ``pid``, ``host``, ``pid_start``, ``worker``,
    ``blas_threads`` (OMP_NUM_THREADS), ``run_dir``, and when it finishes ``epochs`` and
    ``best_epoch``; ``interrupted`` when Ctrl-C stopped it.
    """

    def __init__(
        self,
        base_config: Mapping[str, Any],
        specs: Sequence[ParamSpec],
        metric: str,
        direction: str,
        objective: str = "best",
        *,
        study_dir: str | os.PathLike | None = None,
        train_fn: TrainFn | None = None,
        n_trials: int | None = None,
        worker: int = 0,
        epoch_sleep: float = 0.0,
        allow_code: bool = False,
        trial_plots: bool = False,
        done_states: Sequence[str] = ("COMPLETE",),
    ) -> None:
        self.base_config = dict(base_config)
        self.specs = list(specs)
        self.metric, self.direction, self.objective = metric, direction, objective
        self.study_dir = None if study_dir is None else Path(study_dir)
        self.train_fn = train_fn
        self.n_trials, self.worker, self.epoch_sleep = n_trials, worker, epoch_sleep
        self.allow_code, self.trial_plots = allow_code, trial_plots
        self.done_states = tuple(done_states)

    def config_for(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The run config of a trial with ``params``."""
        return apply_params(self.base_config, params)

    def __call__(self, trial: Any) -> float:
        optuna = require_optuna()
        attrs = {
            **_proc.identity(),
            "worker": self.worker,
            "blas_threads": os.environ.get("OMP_NUM_THREADS", ""),
        }
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        if self.n_trials is not None:
            from chainrule.tune.study import SURPLUS, is_surplus

            if is_surplus(trial.study, trial.number, self.n_trials, self.done_states):
                trial.set_user_attr(SURPLUS, True)
                raise SurplusTrial(
                    f"trial {trial.number}: the study already has "
                    f"{self.n_trials} trials complete or running"
                )
        params = {s.name: s.suggest(trial) for s in self.specs}
        config = self.config_for(params)
        run_dir = None
        if self.study_dir is not None:
            run_dir = self.study_dir / "trials" / f"{trial.number:04d}"
            trial.set_user_attr("run_dir", str(run_dir))
        pruning = PruningCallback(trial, self.metric, self.epoch_sleep)
        train = self.train_fn or _default_train_fn()
        kwargs: dict[str, Any] = {"callbacks": [pruning], "quiet": True}
        if self.allow_code:
            kwargs["allow_code"] = True
        if _accepts(train, "plots"):
            kwargs["plots"] = self.trial_plots
        try:
            result = train(config, run_dir, **kwargs)
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        history = _history(result)
        if pruning.pruned_at is not None:  # the runner swallowed TrialPruned
            raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at + 1}")
        value, epoch = metric_value(history, self.metric, self.direction, self.objective)
        trial.set_user_attr("epochs", len(history[self.metric]))
        trial.set_user_attr("best_epoch", epoch)
        return value
