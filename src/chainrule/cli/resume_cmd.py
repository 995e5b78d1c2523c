"""``chainrule resume RUN_DIR``: continue an interrupted run exactly where it stopped."""

from __future__ import annotations

import argparse
from typing import Any

from chainrule.cli._common import add_allow_code, common, parse_sets

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "resume",
        parents=[common()],
        help="continue an interrupted run exactly",
        description="Continue the run in RUN_DIR from its last backup: weights, optimizer, "
        "schedule, data order and every random stream are restored, so the result "
        "is bit for bit what an uninterrupted run gives. A finished run trains no "
        "more epochs. A run whose configuration changed is refused, with the "
        "differences.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="the run folder (runs/<name>-<time>)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        dest="sets",
        help="a configuration value; refused unless it equals the run's",
    )
    add_allow_code(p)
    p.add_argument("--debug-step-sleep", type=float, default=0.0, help=argparse.SUPPRESS)
    return p


def run(args: argparse.Namespace) -> int:
    from chainrule.cli.runner import StepSleep, report, resume_run

    extra = [StepSleep(args.debug_step_sleep)] if args.debug_step_sleep > 0 else []
    result = resume_run(
        args.run_dir,
        parse_sets(args.sets),
        callbacks=extra,
        quiet=args.quiet,
        allow_code=args.allow_code,
    )
    print(report(result), flush=True)
    return 1 if result.stopped_early else 0
