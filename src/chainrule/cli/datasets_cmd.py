"""``chainrule datasets``: which datasets exist, which are usable offline here, and where."""

from __future__ import annotations

import argparse
from typing import Any

from chainrule.cli._common import common, format_table

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "datasets",
        parents=[common()],
        help="list the datasets and where they were found",
        description="List the datasets chainrule knows, whether each is usable offline on "
        "this machine, and where it was found (or how to get it). chainrule never "
        "downloads.",
    )
    p.add_argument("--data-root", help="also look in this folder")
    return p


def run(args: argparse.Namespace) -> int:
    from chainrule.data.datasets import available

    rows = []
    for info in available(args.data_root):
        cli = info.name.replace("_", "-")
        usable = cli in ("digits", "fashion-mnist", "mnist")
        where = (
            info.location
            if usable
            else f"{info.location}; Python API: chainrule.data.{info.name}()"
        )
        rows.append((cli if usable else info.name, "yes" if info.available else "no", where))
    print(format_table(("dataset", "available", "where"), rows))
    if not args.quiet:
        print("\nUse the first three with 'chainrule train --data NAME'.")
    return 0
