"""``chainrule train [CONFIG.toml] [flags]``: train a model and write its run folder."""

from __future__ import annotations

import argparse
from typing import Any

from chainrule.cli._common import add_allow_code, common, parse_sets
from chainrule.cli.config import DATASETS, OPTIMIZERS, SCHEDULERS

__all__ = ["FLAGS", "add_parser", "overrides_from", "run"]

#: flag dest -> (config key, type, help)
FLAGS: dict[str, tuple[str, Any, str]] = {
    "data": ("data.name", str, f"dataset: {', '.join(DATASETS)} (digits is bundled)"),
    "data_root": ("data.root", str, "folder holding the dataset's IDX files"),
    "validation_split": (
        "data.validation_split",
        float,
        "fraction of the training images held out for validation",
    ),
    "epochs": ("train.epochs", int, "number of epochs"),
    "batch_size": ("train.batch_size", int, "samples per step"),
    "optimizer": ("train.optimizer", str, ", ".join(OPTIMIZERS)),
    "lr": ("train.lr", float, "learning rate (default: the optimizer's)"),
    "momentum": ("train.momentum", float, "momentum (sgd, rmsprop)"),
    "weight_decay": ("train.weight_decay", float, "L2 weight decay"),
    "scheduler": ("train.scheduler", str, f"learning-rate schedule: {', '.join(SCHEDULERS)}"),
    "backup_every": (
        "train.backup_every",
        int,
        "steps between resume backups (0: only at epoch ends)",
    ),
    "seed": ("seed", int, "seed for weights, shuffling, dropout, augmentation"),
    "name": ("name", str, "run name (the folder is RUNS_DIR/NAME-TIMESTAMP)"),
    "runs_dir": ("runs_dir", str, "parent folder of the run folders (default: runs)"),
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        parents=[common()],
        help="train a model and write a run folder",
        description="Train a zoo model on a dataset. Settings come from CONFIG.toml (optional), "
        "then from the flags, which override it; every other key can be set with "
        "--set KEY=VALUE. The run folder gets the resolved config.toml, "
        "checkpoints, metrics.csv, results.json and PNG plots.",
    )
    p.add_argument("config", nargs="?", metavar="CONFIG.toml", help="a configuration file")
    from chainrule.models import available_models

    p.add_argument(
        "--model",
        help=f"zoo model ({', '.join(available_models())}); replaces the config's [model] table",
    )
    for dest, (key, kind, text) in FLAGS.items():
        flag = "--" + dest.replace("_", "-")
        p.add_argument(
            flag, dest=dest, type=kind, metavar=dest.split("_")[-1].upper(), help=f"{text} [{key}]"
        )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        dest="sets",
        help="set any configuration key, e.g. --set model.dropout=0.3 "
        "--set train.scheduler_args.T_max=10 (repeatable; values are TOML)",
    )
    p.add_argument(
        "--run-dir",
        help="the exact run folder to use (an existing one of the same run is continued)",
    )
    add_allow_code(p)
    p.add_argument("--debug-step-sleep", type=float, default=0.0, help=argparse.SUPPRESS)
    return p


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration overrides given by the flags (``--set`` last, so it wins)."""
    out: dict[str, Any] = {}
    for dest, (key, _, _) in FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            out[key] = value
    out.update(parse_sets(getattr(args, "sets", None)))
    return out


def run(args: argparse.Namespace) -> int:
    from chainrule.cli.config import apply_overrides, load_config
    from chainrule.cli.runner import StepSleep, report, train_run

    config: dict[str, Any] = load_config(args.config) if args.config else {}
    if args.model:
        config = {**config, "model": {"name": args.model}}
    config = apply_overrides(config, overrides_from(args))
    extra = [StepSleep(args.debug_step_sleep)] if args.debug_step_sleep > 0 else []
    result = train_run(
        config, args.run_dir, callbacks=extra, quiet=args.quiet, allow_code=args.allow_code
    )
    print(report(result), flush=True)
    return 1 if result.stopped_early else 0
