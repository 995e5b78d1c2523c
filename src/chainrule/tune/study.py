r"""The study: settings from the ``[tune]`` table, sampler, pruner, storage, and the worker loop.

Settings (``[tune]`` keys; ``chainrule tune`` flags override them):

=======================  ==============================================================
``metric``               the objective: a key of the training history, e.g.
                         ``"val_accuracy"`` (default ``"val_loss"``)
``direction``            ``"maximize"`` or ``"minimize"``; default from the metric's name
                         (loss/error/mse/mae/... minimize, accuracy/f1/auc/... maximize)
``objective``            ``"best"`` epoch of the run (default) or ``"last"`` epoch
``sampler``              ``"tpe"`` (default), ``"random"`` or ``"grid"``
``trials``               COMPLETE trials the study must reach (default 20); for ``grid``,
                         grid points evaluated (COMPLETE or PRUNED), at most the grid's
                         size, which is also the default
``timeout``              seconds after which no new trial starts (default none)
``seed``                 the sampler's seed (other workers and continued studies derive
                         theirs from it: :func:`sampler_seed`)
``workers``              local worker processes (default 1: this process)
``pruner``               ``"median"`` (default) or ``"none"``
``pruner_startup_trials``  trials finished before pruning starts (default 5)
``pruner_warmup_epochs``   epochs of a trial never pruned (default 1)
``study``                the study's name (default: the config file's stem)
``storage``              an Optuna RDB URL (``sqlite:///f.db``, ``postgresql://...``) or a
                         ``*.journal`` file; default a journal file in the study folder
``heartbeat``, ``grace``   RDB heartbeat interval and grace period, seconds (60, 120)
``params``               the search space (:mod:`chainrule.tune.space`)
=======================  ==============================================================

Storage choice. Default: Optuna's journal file (``JournalStorage(JournalFileBackend)``), not
SQLite. Measured with ``bench/bench_tune_storage.py`` (P processes on one study, 40 trivial
trials each, every trial doing a chainrule trial's storage calls: 3 suggests, 3 user attrs,
5 reports with pruning; ext4, 2 shared cores, noisy): journal 7.7 / 7.5 / 10.6 trials/s for
P = 1 / 2 / 4 against SQLite 1.5 / 1.8 / 2.3, no errors for either (SQLite with a 30 s busy
timeout). The journal file is 4-5x faster per storage call, needs no database driver, and is
what Optuna recommends over SQLite for several processes. What it lacks is Optuna's
heartbeat; chainrule covers that with the owner's pid (see below). SQLite and PostgreSQL stay
available by URL, with heartbeat and stale-trial retry.

Dead workers. Every trial records its process (``pid``, ``host``, ``pid_start``). A RUNNING
trial whose process is gone from this machine is failed and its parameters queued again
(:func:`fail_and_retry`, Optuna's ``RetryHeartbeatStaleTrialCallback``, so
``retried_trial_number`` finds the original) by whichever process notices first: the parent
of ``--workers K`` when its child dies, any worker waiting for the last trials, or
``--resume``. On RDB storages the heartbeat does the same for workers on other machines after
``grace`` seconds.

Example:
    >>> s = parse_settings({"metric": "val_accuracy", "params": {"train.lr": [0.1, 0.01]}})
    >>> s.direction, s.sampler, s.trials
    ('maximize', 'tpe', 20)
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import random
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainrule._suggest import unknown_name
from chainrule.tune import _proc
from chainrule.tune._optuna import require_optuna
from chainrule.tune.objective import SurplusTrial
from chainrule.tune.space import ParamSpec, grid_space, parse_space

__all__ = [
    "SAMPLERS",
    "StudyHandle",
    "TuneSettings",
    "count_states",
    "fail_and_retry",
    "infer_direction",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "open_study",
    "parse_settings",
    "recover_stale",
    "run_trials",
    "sampler_seed",
]

SAMPLERS = ("grid", "random", "tpe")
_PRUNERS = ("median", "none")
_MINIMIZE = ("loss", "error", "mse", "mae", "rmse", "perplexity", "nll", "entropy", "time")
_MAXIMIZE = (
    "acc",
    "accuracy",
    "f1",
    "auc",
    "precision",
    "recall",
    "r2",
    "iou",
    "dice",
    "score",
    "top",
)
#: How many times one set of parameters is retried after its worker died.
MAX_RETRY = 3
#: ``user_attrs`` key of a trial started past the requested count (a race between workers).
SURPLUS = "surplus"


def infer_direction(metric: str, direction: str | None = None) -> str:
    """``"minimize"`` or ``"maximize"``: ``direction`` if given, else from the metric's name.

    Raises:
        ValueError: a bad ``direction``, or a metric name that says neither (give
            ``direction``).

    Example:
        >>> infer_direction("val_loss"), infer_direction("val_accuracy")
        ('minimize', 'maximize')
    """
    if direction is not None:
        if direction not in ("minimize", "maximize"):
            raise ValueError(
                f"[tune] direction must be 'minimize' or 'maximize', got {direction!r}"
            )
        return direction
    words = metric.lower().replace("-", "_").split("_")
    if words and words[0] in ("val", "train", "test"):
        words = words[1:]
    if any(w in _MINIMIZE for w in words):
        return "minimize"
    if any(w in _MAXIMIZE for w in words):
        return "maximize"
    raise ValueError(
        f"[tune] cannot tell whether metric {metric!r} should be minimized or "
        "maximized from its name: set direction = 'minimize' or 'maximize'"
    )


@dataclass
class TuneSettings:
    """The resolved ``[tune]`` table (see the module docstring for each field)."""

    params: list[ParamSpec]
    metric: str = "val_loss"
    direction: str = "minimize"
    objective: str = "best"
    sampler: str = "tpe"
    trials: int = 20
    timeout: float | None = None
    seed: int | None = None
    workers: int = 1
    pruner: str = "median"
    pruner_startup_trials: int = 5
    pruner_warmup_epochs: int = 1
    study: str | None = None
    storage: str | None = None
    heartbeat: int = 60
    grace: int = 120
    trials_given: bool = field(default=False, repr=False)

    @property
    def done_states(self) -> tuple[str, ...]:
        """The trial states that count towards ``trials``: COMPLETE, and for a grid search
        also PRUNED (a pruned grid point has been evaluated; re-running it prunes it again)."""
        return ("COMPLETE", "PRUNED") if self.sampler == "grid" else ("COMPLETE",)

    def n_done(self, counts: Mapping[str, int]) -> int:
        """How many trials of ``counts`` (:func:`count_states`) count towards ``trials``."""
        return sum(counts.get(s, 0) for s in self.done_states)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``params`` as the raw spec tables), for the worker processes."""
        d = dataclasses.asdict(self)
        d["params"] = [dataclasses.asdict(p) for p in self.params]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TuneSettings:
        d = dict(d)
        params = []
        for p in d.pop("params"):
            fields: dict[str, Any] = {
                k: tuple(v) if isinstance(v, list) else v for k, v in p.items()
            }
            params.append(ParamSpec(**fields))
        return cls(params=params, **d)


_KEYS = {f.name for f in dataclasses.fields(TuneSettings)} - {"trials_given"}


def _int(name: str, v: Any, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"[tune] {name} must be an integer >= {lo}, got {v!r}")
    return v


def parse_settings(
    table: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
    default_study: str | None = None,
) -> TuneSettings:
    """Validate a ``[tune]`` table, apply ``overrides`` (CLI flags; None values ignored).

    Raises:
        ValueError: a missing or empty ``params``, an unknown key (nearest suggested), a value
            out of range, an unknown sampler or pruner.
    """
    if not isinstance(table, Mapping):
        raise TypeError(f"[tune] must be a table, got {type(table).__name__}")
    raw = dict(table)
    for k, v in (overrides or {}).items():
        if v is not None:
            raw[k] = v
    unknown = sorted(k for k in raw if k not in _KEYS)
    if unknown:
        raise ValueError(
            unknown_name("key", unknown[0], sorted(_KEYS), owner="[tune]", valid="keys")
        )
    if "params" not in raw:
        raise ValueError(
            "the config has no [tune.params] table: list the values to tune, e.g. "
            "[tune.params] \"train.lr\" = {type = 'float', low = 1e-4, high = 0.1, "
            "log = true}"
        )
    s = TuneSettings(params=parse_space(raw.pop("params")))
    s.trials_given = "trials" in raw
    for k, v in raw.items():
        setattr(s, k, v)
    if not isinstance(s.metric, str) or not s.metric:
        raise ValueError(
            f"[tune] metric must be a history key such as 'val_accuracy', got {s.metric!r}"
        )
    s.direction = infer_direction(s.metric, raw.get("direction"))
    for name, valid in (
        ("sampler", SAMPLERS),
        ("pruner", _PRUNERS),
        ("objective", ("best", "last")),
    ):
        value = getattr(s, name)
        if value not in valid:
            raise ValueError(unknown_name(name, value, valid, owner="[tune]", valid="values"))
    _int("trials", s.trials, 1)
    _int("workers", s.workers, 1)
    _int("pruner_startup_trials", s.pruner_startup_trials, 0)
    _int("pruner_warmup_epochs", s.pruner_warmup_epochs, 0)
    _int("heartbeat", s.heartbeat, 1)
    _int("grace", s.grace, 1)
    if s.seed is not None:
        _int("seed", s.seed, 0)
    if s.timeout is not None and (
        isinstance(s.timeout, bool)
        or not isinstance(s.timeout, (int, float))
        or not s.timeout > 0
        or not math.isfinite(s.timeout)
    ):
        raise ValueError(f"[tune] timeout must be a positive number of seconds, got {s.timeout!r}")
    if s.study is None:
        s.study = default_study or "chainrule"
    if not isinstance(s.study, str) or not s.study.strip():
        raise ValueError(f"[tune] study must be a non-empty name, got {s.study!r}")
    if s.storage is not None and (not isinstance(s.storage, str) or not s.storage):
        raise ValueError(f"[tune] storage must be a URL or a .journal path, got {s.storage!r}")
    if s.sampler == "grid":
        size = math.prod(len(v) for v in grid_space(s.params).values())
        if not s.trials_given or s.trials > size:
            s.trials = size
    return s


def sampler_seed(seed: int | None, worker: int = 0, start: int = 0) -> int | None:
    """The seed of worker ``worker`` joining a study that has ``start`` trials: ``seed`` itself
    for the first worker of a new study (so ``--seed`` reproduces a one-worker study, E8),
    otherwise one derived from all three, so that other workers and a continued study draw
    other points than the first run did.

    Example:
        >>> sampler_seed(7), sampler_seed(7, worker=1) != 7, sampler_seed(None, 3, 5)
        (7, True, None)
    """
    if seed is None or (worker == 0 and start == 0):
        return seed
    import numpy as np

    return int(np.random.SeedSequence([seed, worker, start]).generate_state(1)[0])


def make_sampler(settings: TuneSettings, worker: int = 0, start: int = 0) -> Any:
    """Optuna's GridSampler (seeded with ``seed``), RandomSampler or TPESampler (seeded with
    :func:`sampler_seed`: K workers, or a continued study, do not repeat the same points)."""
    optuna = require_optuna()
    if settings.sampler == "grid":
        # One seed for all: the seed shuffles the grid, and trial n takes point n of it, so
        # workers must share the order (each point is then run once).
        return optuna.samplers.GridSampler(grid_space(settings.params), seed=settings.seed)
    seed = sampler_seed(settings.seed, worker, start)
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    startup = max(2, min(10, settings.trials // 3))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def make_pruner(settings: TuneSettings) -> Any:
    """Optuna's MedianPruner (prune a trial whose epoch value is worse than the median of the
    earlier trials at that epoch), or NopPruner for ``pruner = "none"``."""
    optuna = require_optuna()
    if settings.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(
        n_startup_trials=settings.pruner_startup_trials,
        n_warmup_steps=settings.pruner_warmup_epochs,
    )


#: ``user_attrs`` describing one attempt, not carried over to its retry.
ATTEMPT_ATTRS = (
    "pid",
    "host",
    "pid_start",
    "worker",
    "blas_threads",
    "run_dir",
    "epochs",
    "best_epoch",
    "fail_reason",
    "interrupted",
    SURPLUS,
)


def retry_callback() -> Any:
    """Optuna's ``RetryHeartbeatStaleTrialCallback`` (the retry is a WAITING trial with the same
    parameters, and ``retried_trial_number`` names the original), except that the attempt's
    own ``user_attrs`` (its process, failure reason...) are not copied to the retry."""
    optuna = require_optuna()

    base: Any = optuna.storages.RetryHeartbeatStaleTrialCallback

    class RetryStaleTrial(base):
        def __call__(self, study: Any, trial: Any) -> None:
            clean = copy.deepcopy(trial)
            clean.user_attrs = {k: v for k, v in trial.user_attrs.items() if k not in ATTEMPT_ATTRS}
            super().__call__(study, clean)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryStaleTrial(max_retry=MAX_RETRY)


def _is_journal(storage: str) -> bool:
    return "://" not in storage


def open_storage(
    url: str | None,
    study_dir: str | os.PathLike | None = None,
    heartbeat: int = 60,
    grace: int = 120,
) -> tuple[Any, str]:
    """Return ``(storage, description)`` for an RDB URL, a ``.journal`` path, or None (the
    default journal file ``<study_dir>/study.journal``).

    RDB storages get Optuna's heartbeat (``heartbeat`` seconds) and
    ``RetryHeartbeatStaleTrialCallback``; SQLite a 30 s busy timeout.
    """
    optuna = require_optuna()
    if url is None:
        if study_dir is None:
            raise ValueError(
                "open_storage: give a storage URL or a study folder for the default journal file"
            )
        Path(study_dir).mkdir(parents=True, exist_ok=True)
        url = str(Path(study_dir) / "study.journal")
    if _is_journal(url):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url.removeprefix("journal:"))
        if path.exists() and path.is_dir():
            raise ValueError(
                f"storage {str(path)!r} is a folder; expected a .journal file "
                "or a URL such as sqlite:///study.db"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path))), f"journal file {path}"
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 30}}
    for attempt in range(6):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    url,
                    heartbeat_interval=heartbeat,
                    grace_period=grace,
                    heartbeat_stale_trial_callback=retry_callback(),
                    **kwargs,
                )
            break
        except Exception as e:
            # Several processes opening a new database at once race to create its tables
            # (PostgreSQL: "duplicate key ... pg_type"); the loser finds them on a retry.
            if attempt == 5 or not type(e).__module__.startswith("sqlalchemy"):
                raise
            time.sleep(0.2 + random.random() * (attempt + 1) * 0.3)
    return storage, url.split("@")[-1] if "@" in url else url


@dataclass
class StudyHandle:
    """An opened study and how it was opened."""

    study: Any
    settings: TuneSettings
    storage_desc: str


def open_study(
    settings: TuneSettings,
    study_dir: str | os.PathLike | None = None,
    worker: int = 0,
    storage: Any = None,
    desc: str = "the given storage",
) -> StudyHandle:
    """Create the study, or join it if it exists (several machines join one study by name).

    The study records its metric in ``user_attrs``; joining with another metric or direction
    is refused.

    Raises:
        ValueError: the existing study optimizes another metric or in the other direction.
    """
    optuna = require_optuna()
    if storage is None:
        storage, desc = open_storage(
            settings.storage, study_dir, settings.heartbeat, settings.grace
        )
    try:
        start = storage.get_n_trials(storage.get_study_id_from_name(settings.study))
    except KeyError:
        start = 0
    study = optuna.create_study(
        study_name=settings.study,
        storage=storage,
        load_if_exists=True,
        direction=settings.direction,
        sampler=make_sampler(settings, worker, start),
        pruner=make_pruner(settings),
    )
    name = (
        optuna.study.StudyDirection.MAXIMIZE
        if settings.direction == "maximize"
        else optuna.study.StudyDirection.MINIMIZE
    )
    if study.direction != name:
        raise ValueError(
            f"study {settings.study!r} in {desc} was created to "
            f"{study.direction.name.lower()}, this config asks to "
            f"{settings.direction}: use another --study name"
        )
    attrs = study.user_attrs
    if "metric" not in attrs:
        study.set_user_attr("metric", settings.metric)
        study.set_user_attr("objective", settings.objective)
    elif attrs["metric"] != settings.metric:
        raise ValueError(
            f"study {settings.study!r} in {desc} optimizes {attrs['metric']!r}, "
            f"this config asks for {settings.metric!r}: use another --study name"
        )
    return StudyHandle(study, settings, desc)


def count_states(study: Any) -> dict[str, int]:
    """``{"COMPLETE": n, "RUNNING": n, ...}`` over the study's trials (RUNNING counts only
    trials whose process is not known to be dead)."""
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        if t.state.name == "RUNNING" and _proc.owner_is_dead(t.user_attrs):
            key = "STALE"
        else:
            key = t.state.name
        counts[key] = counts.get(key, 0) + 1
    return counts


def fail_and_retry(study: Any, trial: Any, reason: str) -> bool:
    """Mark a RUNNING trial FAIL and queue its parameters again (at most ``MAX_RETRY`` times).

    Safe to race: of several processes failing the same trial, one succeeds and only that one
    queues the retry. Returns whether this call failed the trial.
    """
    optuna = require_optuna()
    storage = study._storage
    try:
        storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
        if not storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL):
            return False
    except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
        return False
    retry_callback()(study, storage.get_trial(trial._trial_id))
    return True


def recover_stale(study: Any, interrupted: bool = False) -> list[int]:
    """Fail and retry the RUNNING trials whose process is dead; return their numbers.

    Covers: trials of dead processes on this machine (any storage), stale heartbeats on RDB
    storages (Optuna's ``fail_stale_trials``, which retries them), and with ``interrupted``
    (``--resume``) trials stopped by Ctrl-C that were not retried yet.
    """
    optuna = require_optuna()
    done: list[int] = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if _proc.owner_is_dead(t.user_attrs):
            pid = t.user_attrs.get("pid")
            if fail_and_retry(study, t, f"worker process {pid} died during the trial"):
                done.append(t.number)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    if interrupted:
        trials = study.get_trials(deepcopy=False)
        retried = {t.system_attrs.get("failed_trial") for t in trials}
        retried |= {n for t in trials for n in t.system_attrs.get("retry_history", [])}
        for t in trials:
            if (
                t.state.name == "FAIL"
                and t.user_attrs.get("interrupted")
                and t.number not in retried
            ):
                retry_callback()(study, t)
                done.append(t.number)
    return done


def run_trials(
    handle: StudyHandle,
    objective: Callable[[Any], float],
    *,
    deadline: float | None = None,
    poll: float = 0.5,
    should_stop: Callable[[], bool] | None = None,
    callbacks: Sequence[Callable[[Any, Any], None]] = (),
) -> int:
    """Run trials in this process until the study has ``settings.trials`` COMPLETE trials
    (``MaxTrialsCallback(N, states=(COMPLETE,))``), the ``deadline`` (``time.time()``) passes
    or ``should_stop()``; ``callbacks`` are Optuna callbacks ``(study, frozen_trial)`` run
    after each trial. Returns the number of trials this call ran.

    One trial per ``study.optimize(n_trials=1)`` call, so that between trials the loop can
    wait instead of overshooting: when the remaining trials are all RUNNING in live
    processes, it waits (polling every ``poll`` s), failing and retrying any whose process
    dies, since a retry may need this worker. Waiting trials (retries) are picked first.
    """
    optuna = require_optuna()
    study, settings = handle.study, handle.settings
    n = settings.trials
    states = tuple(optuna.trial.TrialState[s] for s in settings.done_states)
    max_trials = optuna.study.MaxTrialsCallback(n, states=states)
    ran = 0
    while True:
        if deadline is not None and time.time() >= deadline:
            break
        if should_stop is not None and should_stop():
            break
        counts = count_states(study)
        done = settings.n_done(counts)
        if done >= n:
            break
        if counts.get("STALE"):
            recover_stale(study)
            continue
        if counts.get("WAITING", 0) == 0 and done + counts.get("RUNNING", 0) >= n:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)  # RDB heartbeats (other machines)
            time.sleep(poll)
            continue
        try:
            study.optimize(
                objective,
                n_trials=1,
                callbacks=[max_trials, *callbacks],
                gc_after_trial=False,
                catch=(SurplusTrial,),
            )
        except (ValueError, optuna.exceptions.UpdateFinishedTrialError) as e:
            if not _finished_elsewhere(e):
                raise
            print(
                "chainrule tune: another process failed this worker's trial (its heartbeat "
                "was late by more than the grace period); its parameters were queued again "
                "and this result is dropped",
                file=sys.stderr,
                flush=True,
            )
        ran += 1
    return ran


def _finished_elsewhere(e: BaseException) -> bool:
    """An error from updating a trial that another process already finished (failed it as
    stale while this one still ran it)."""
    optuna = require_optuna()
    if isinstance(e, optuna.exceptions.UpdateFinishedTrialError):
        return True
    return isinstance(e, ValueError) and str(e).startswith("Cannot tell a ")


def is_surplus(study: Any, number: int, n: int, done: Sequence[str] = ("COMPLETE",)) -> bool:
    """Whether trial ``number`` (just started) goes past the ``n`` trials wanted: the COMPLETE
    trials plus the live RUNNING ones numbered before it already make ``n`` (two workers
    started the last trial at the same moment; the later one steps back)."""
    ahead = 0
    for t in study.get_trials(deepcopy=False):
        if t.state.name in done:
            ahead += 1
        elif (
            t.state.name == "RUNNING"
            and t.number < number
            and not _proc.owner_is_dead(t.user_attrs)
        ):
            ahead += 1
    return ahead >= n


def trial_values(trials: Sequence[Any]) -> list[float]:
    """The values of the COMPLETE trials, in trial order."""
    return [t.value for t in trials if t.state.name == "COMPLETE" and t.value is not None]
