"""``chainrule tune CONFIG.toml [flags]``: hyperparameter search over a run config's ``[tune]``
table (grid, random or TPE on Optuna), in parallel worker processes, resumable.

Optuna is an optional extra: without it the command says ``pip install 'chainrule[tune]'``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from chainrule.cli._common import add_allow_code, common, parse_sets

__all__ = ["add_parser", "run"]

_EPILOG = """\
examples:
  chainrule tune configs/tune_digits_mlp.toml --sampler tpe --trials 20 --workers 2
  chainrule tune configs/tune_digits_mlp.toml --resume          # continue a stopped study
  chainrule tune cfg.toml --study s1 --storage postgresql://user@host/db   # on each machine

The study folder (default RUNS_DIR/tune-STUDY) gets study.journal (the default storage),
trials/NNNN (one run folder per trial), trials.csv, best_config.toml (retrain with
'chainrule train best_config.toml') and PNG plots."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "tune",
        parents=[common()],
        help="search hyperparameters (grid, random, TPE; Optuna)",
        description="Tune the values listed in CONFIG.toml's [tune.params] table: each trial "
        "trains the config with sampled values (as 'chainrule train') and reports "
        "the monitored validation metric after every epoch, so bad trials are "
        "pruned early. Flags override the [tune] table.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", metavar="CONFIG.toml", help="a run configuration with a [tune] table")
    p.add_argument(
        "--sampler",
        choices=("grid", "random", "tpe"),
        help="grid search, random search or TPE (Bayesian; default)",
    )
    p.add_argument(
        "--trials",
        type=int,
        metavar="N",
        help="complete trials the study must reach (default 20; grid: its size)",
    )
    p.add_argument("--timeout", type=float, metavar="S", help="start no new trial after S seconds")
    p.add_argument(
        "--seed",
        type=int,
        help="the sampler's seed (reproduces a one-worker study; give each machine its own)",
    )
    p.add_argument(
        "--workers", type=int, metavar="K", help="worker processes on this machine (default 1)"
    )
    p.add_argument("--study", metavar="NAME", help="study name (default: the config's stem)")
    p.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage: sqlite:///f.db, postgresql://..., or a .journal file "
        "(default: STUDY_DIR/study.journal)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an existing study: retry trials of dead or interrupted "
        "workers, then run until it has N complete trials",
    )
    p.add_argument("--metric", help="the history key to optimize, e.g. val_accuracy")
    p.add_argument(
        "--direction", choices=("minimize", "maximize"), help="default: from the metric's name"
    )
    p.add_argument(
        "--study-dir", metavar="DIR", help="the study folder (default RUNS_DIR/tune-STUDY)"
    )
    p.add_argument(
        "--heartbeat",
        type=int,
        metavar="S",
        help="heartbeat interval of trials on RDB storages (default 60)",
    )
    p.add_argument(
        "--grace",
        type=int,
        metavar="S",
        help="seconds without heartbeat before a trial counts as dead (default 120)",
    )
    p.add_argument("--no-plots", action="store_true", help="do not write the PNG plots")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        dest="sets",
        help="set a configuration key for every trial, e.g. --set train.epochs=3",
    )
    add_allow_code(p)
    p.add_argument("--debug-trial-sleep", type=float, default=0.0, help=argparse.SUPPRESS)
    return p


_TUNE_FLAGS = (
    "sampler",
    "trials",
    "timeout",
    "seed",
    "workers",
    "study",
    "storage",
    "metric",
    "direction",
    "heartbeat",
    "grace",
)


def run(args: argparse.Namespace) -> int:
    from chainrule.tune._optuna import require_optuna

    optuna = require_optuna("chainrule tune")
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # one line per trial is printed here
    from chainrule.cli.config import apply_overrides, load_config
    from chainrule.tune.run import print_summary, tune

    config: dict[str, Any] = load_config(args.config)
    sets = parse_sets(getattr(args, "sets", None))
    if any(k.split(".")[0] == "tune" for k in sets):
        bad = next(k for k in sets if k.split(".")[0] == "tune")
        raise ValueError(
            f"--set {bad}: set [tune] values with their own flags (--trials, "
            "--sampler, ...) or in the config file"
        )
    config = apply_overrides(config, sets)
    overrides = {k: getattr(args, k, None) for k in _TUNE_FLAGS}
    runs_dir = config.get("runs_dir", "runs")
    try:
        result = tune(
            config,
            overrides=overrides,
            study_dir=args.study_dir,
            out=runs_dir,
            default_study=Path(args.config).stem,
            resume=args.resume,
            quiet=args.quiet,
            allow_code=args.allow_code,
            plots=not args.no_plots,
            epoch_sleep=args.debug_trial_sleep,
        )
    except KeyboardInterrupt:
        print(
            f"chainrule tune: interrupted; the study is kept: 'chainrule tune {args.config} "
            "--resume' (with the same --study/--storage/--study-dir) continues it",
            file=sys.stderr,
            flush=True,
        )
        raise
    print_summary(result)
    from chainrule.tune.study import count_states

    counts = count_states(result.study)
    done, wanted = result.settings.n_done(counts), result.settings.trials
    if done < wanted:
        what = " or ".join(s.lower() for s in result.settings.done_states)
        print(
            f"chainrule tune: the study has {done} of {wanted} {what} trials (timeout or "
            "stopped); 'chainrule tune --resume' continues it",
            flush=True,
        )
    return 0 if counts.get("COMPLETE", 0) else 1
