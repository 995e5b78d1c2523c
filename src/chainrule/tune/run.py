"""``tune(config)``: a whole study, from a run config with a ``[tune]`` table to its report.

The study folder (default ``runs/tune-<study>``) holds the default storage
(``study.journal``), one run folder per trial (``trials/0000``, ...), and the report
(:mod:`chainrule.tune.report`). Running ``tune`` again on the same study joins it: the study
goes on until it has ``trials`` COMPLETE trials, counting those already there, so a stopped
study continues where it was. ``resume=True`` also fails and retries the trials left RUNNING
by dead processes and those stopped by Ctrl-C (``chainrule tune --resume``), and refuses a
study that does not exist.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainrule.tune._optuna import require_optuna
from chainrule.tune.objective import TrialObjective
from chainrule.tune.report import _note, write_report
from chainrule.tune.space import apply_params
from chainrule.tune.study import (
    TuneSettings,
    count_states,
    open_storage,
    open_study,
    parse_settings,
    recover_stale,
    run_trials,
)

__all__ = ["TuneResult", "tune"]


@dataclass
class TuneResult:
    """What :func:`tune` returns."""

    study: Any
    settings: TuneSettings
    study_dir: Path
    storage: str
    report: dict[str, Path] = field(default_factory=dict)
    recovered: list[int] = field(default_factory=list)

    @property
    def best_trial(self) -> Any:
        return self.study.best_trial

    @property
    def best_value(self) -> float:
        return self.study.best_value

    @property
    def best_params(self) -> dict[str, Any]:
        return self.study.best_params


class _Progress:
    """Prints one line per finished trial."""

    def __init__(self, study: Any, metric: str, quiet: bool) -> None:
        self.study, self.metric, self.quiet = study, metric, quiet
        self.seen = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}

    def line(self, t: Any) -> str:
        params = "  ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items()
        )
        value = f"{self.metric}={t.value:.4f}" if t.value is not None else ""
        secs = ""
        if t.datetime_start is not None and t.datetime_complete is not None:
            secs = f"{(t.datetime_complete - t.datetime_start).total_seconds():.1f} s"
        who = f"worker {t.user_attrs['worker']}" if "worker" in t.user_attrs else ""
        extra = ", ".join(x for x in (secs, who, _note(t)) if x)
        return f"trial {t.number:>3} {t.state.name:<8} {value}  {params}  ({extra})"

    def __call__(self, study: Any = None, trial: Any = None) -> None:
        for t in self.study.get_trials(deepcopy=False):
            if t.state.is_finished() and t.number not in self.seen:
                self.seen.add(t.number)
                if not self.quiet:
                    print(self.line(t), flush=True)


def _check_paths(base: Mapping[str, Any], settings: TuneSettings) -> None:
    """Apply one value per parameter now, so a bad path fails before any trial runs; with the
    CLI's config module present, validate the result as ``chainrule train`` would."""
    sample = {}
    for s in settings.params:
        if s.grid:
            sample[s.name] = s.grid[0]
        elif s.kind == "categorical":
            sample[s.name] = (s.choices or (None,))[0]
        else:
            sample[s.name] = s.low
    cfg = apply_params(base, sample)
    try:
        from chainrule.cli.config import resolve_config
    except ImportError:
        return
    resolve_config(cfg, {})


def tune(
    config: Mapping[str, Any],
    *,
    overrides: Mapping[str, Any] | None = None,
    study_dir: str | Path | None = None,
    out: str | Path = "runs",
    default_study: str | None = None,
    resume: bool = False,
    train_fn: Callable[..., Any] | None = None,
    quiet: bool = False,
    allow_code: bool = False,
    plots: bool = True,
    epoch_sleep: float = 0.0,
) -> TuneResult:
    """Run (or continue) the study a config's ``[tune]`` table describes.

    Args:
        config: a run config with ``[model]``, ``[data]``, ``[train]`` and ``[tune]``.
        overrides: ``[tune]`` values to replace (the CLI flags: sampler, trials, timeout,
            seed, workers, study, storage, heartbeat, grace).
        study_dir: the study folder (default ``<out>/tune-<study>``).
        out: the parent of the default study folder.
        default_study: the study name when ``[tune]`` gives none.
        resume: fail and retry stale and interrupted trials first; the study must exist.
        train_fn: the training function (default ``chainrule.cli.runner.train_run``).
        quiet: print nothing.
        allow_code: let trial configs name model-building code (as ``chainrule train``).
        plots: write the PNG plots.
        epoch_sleep: seconds slept after each epoch of each trial (tests only).

    Returns:
        A :class:`TuneResult` (the Optuna study, the settings, the report's paths).

    Raises:
        ValueError: a config without ``[tune]``, a bad ``[tune]`` table, ``resume`` of a
            study that does not exist.
        ModuleNotFoundError: Optuna is not installed (says how to install it).
    """
    optuna = require_optuna("chainrule tune")
    if "tune" not in config:
        raise ValueError(
            "the config has no [tune] table: add one with the metric and the "
            "values to tune, e.g. [tune] metric = 'val_accuracy' and "
            '[tune.params] "train.lr" = {low = 1e-4, high = 0.1, log = true}'
        )
    settings = parse_settings(config["tune"], overrides, default_study)
    base = {k: v for k, v in config.items() if k != "tune"}
    _check_paths(base, settings)
    sdir = Path(study_dir) if study_dir is not None else Path(out) / f"tune-{settings.study}"
    sdir.mkdir(parents=True, exist_ok=True)
    storage, desc = open_storage(settings.storage, sdir, settings.heartbeat, settings.grace)
    exists = settings.study in optuna.get_all_study_names(storage)
    if resume and not exists:
        names = ", ".join(optuna.get_all_study_names(storage)) or "none"
        raise ValueError(
            f"--resume: no study {settings.study!r} in {desc} (studies there: "
            f"{names}); run without --resume to start it"
        )
    handle = open_study(settings, sdir, storage=storage, desc=desc)
    study = handle.study
    say = (lambda msg: None) if quiet else (lambda msg: print(msg, flush=True))
    recovered = recover_stale(study, interrupted=True) if resume else []
    counts = count_states(study)
    have = settings.n_done(counts)
    say(
        f"study {settings.study!r} ({desc}): {settings.sampler} sampler, "
        f"{settings.direction} {settings.metric}, {settings.trials} complete trials wanted, "
        f"{have} done"
        + (f", {len(study.trials)} trials so far" if exists else "")
        + (f"; retried {len(recovered)} stale/interrupted" if recovered else "")
    )
    deadline = time.time() + settings.timeout if settings.timeout else None
    progress = _Progress(study, settings.metric, quiet)
    if have >= settings.trials:
        say(
            f"the study already has {have} complete trials; nothing to run (ask for more "
            "with --trials)"
        )
    elif settings.workers == 1:
        objective = TrialObjective(
            base,
            settings.params,
            settings.metric,
            settings.direction,
            settings.objective,
            study_dir=sdir,
            train_fn=train_fn,
            n_trials=settings.trials,
            epoch_sleep=epoch_sleep,
            allow_code=allow_code,
            done_states=settings.done_states,
        )
        run_trials(handle, objective, deadline=deadline, callbacks=[progress])
    else:
        from chainrule.tune.workers import run_workers, threads_per_worker

        say(
            f"{settings.workers} worker processes, {threads_per_worker(settings.workers)} "
            "BLAS thread(s) each"
        )
        spec = {
            "config": base,
            "settings": settings.to_dict(),
            "study_dir": str(sdir),
            "deadline": deadline,
            "epoch_sleep": epoch_sleep,
            "allow_code": allow_code,
        }
        run_workers(spec, sdir, settings.workers, train_fn=train_fn, on_poll=progress, quiet=quiet)
        progress()
    report = write_report(study, base, sdir, settings.metric, plots=plots)
    return TuneResult(study, settings, sdir, desc, report, recovered)


def print_summary(result: TuneResult, file: Any = None) -> None:
    """The trials table, the best trial and where the report is."""
    from chainrule.tune.report import format_table, trials_table

    f = file or sys.stdout
    print(format_table(trials_table(result.study)), file=f)
    counts = count_states(result.study)
    print(", ".join(f"{n} {k.lower()}" for k, n in sorted(counts.items())), file=f)
    try:
        best = result.study.best_trial
    except ValueError:
        print("no complete trial: no best config", file=f)
    else:
        params = ", ".join(f"{k}={v}" for k, v in best.params.items())
        print(
            f"best: trial {best.number}, {result.settings.metric} = {best.value:.6g} ({params})",
            file=f,
        )
    for name, path in result.report.items():
        print(f"{name}: {path}", file=f)
