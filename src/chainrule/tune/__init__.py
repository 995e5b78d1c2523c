"""Hyperparameter tuning on Optuna: grid, random and TPE search, pruning, parallel workers,
resumable studies (``chainrule tune``; the notes' hyperparameter tuning pattern).

Optuna is an optional extra: ``pip install 'chainrule[tune]'``. This package imports without
it; its entry points then raise a ``ModuleNotFoundError`` that says how to install it.

- :func:`tune`: a whole study from a run config with a ``[tune]`` table
  (:mod:`~chainrule.tune.run`);
- :mod:`~chainrule.tune.space`: the ``[tune.params]`` table as Optuna distributions and grids;
- :mod:`~chainrule.tune.objective`: :class:`TrialObjective` (one trial = one training run) and
  :class:`PruningCallback` (reports each epoch's metric, raises ``optuna.TrialPruned``);
- :mod:`~chainrule.tune.study`: settings, samplers, pruner, storage choice, dead-worker
  recovery, the worker loop;
- :mod:`~chainrule.tune.workers`: K worker processes with pinned BLAS threads, supervised;
- :mod:`~chainrule.tune.report`: trials table, best config, plots.

Example:
    >>> from chainrule.tune import parse_space
    >>> [s.kind for s in parse_space({"train.lr": {"low": 1e-4, "high": 0.1, "log": True}})]
    ['float']
"""

from chainrule.tune._optuna import INSTALL_HINT, require_optuna
from chainrule.tune.objective import PruningCallback, SurplusTrial, TrialObjective, metric_value
from chainrule.tune.report import (
    best_config,
    format_table,
    plot_optimization_history,
    plot_parallel_coordinate,
    plot_param_importances,
    trials_table,
    write_report,
)
from chainrule.tune.run import TuneResult, print_summary, tune
from chainrule.tune.space import ParamSpec, apply_params, grid_space, parse_space, search_space
from chainrule.tune.study import (
    TuneSettings,
    fail_and_retry,
    infer_direction,
    make_pruner,
    make_sampler,
    open_storage,
    open_study,
    parse_settings,
    recover_stale,
    run_trials,
)
from chainrule.tune.workers import blas_env, run_workers, threads_per_worker

__all__ = [
    "INSTALL_HINT",
    "ParamSpec",
    "PruningCallback",
    "SurplusTrial",
    "TrialObjective",
    "TuneResult",
    "TuneSettings",
    "apply_params",
    "best_config",
    "blas_env",
    "fail_and_retry",
    "format_table",
    "grid_space",
    "infer_direction",
    "make_pruner",
    "make_sampler",
    "metric_value",
    "open_storage",
    "open_study",
    "parse_settings",
    "parse_space",
    "plot_optimization_history",
    "plot_parallel_coordinate",
    "plot_param_importances",
    "print_summary",
    "recover_stale",
    "require_optuna",
    "run_trials",
    "run_workers",
    "search_space",
    "threads_per_worker",
    "trials_table",
    "tune",
    "write_report",
]
