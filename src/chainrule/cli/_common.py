"""Pieces shared by the subcommands: the common options, tables, value parsing."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

__all__ = ["UsageError", "add_allow_code", "common", "format_table", "parse_sets"]


class UsageError(Exception):
    """A command-line usage mistake (argparse's errors, as one line)."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (``UsageError``) instead of usage + exit."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def common() -> argparse.ArgumentParser:
    """Options every subcommand takes (used as an argparse parent)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options")
    g.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars or messages (results are still printed)",
    )
    g.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    return p


def add_allow_code(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-code",
        action="store_true",
        help="allow a configuration's model.builder = 'module:function' (imports and "
        "runs that Python code; only for files you trust)",
    )


def parse_sets(items: Sequence[str] | None) -> dict[str, Any]:
    """``["train.lr=0.01", "model.channels=[8, 16]"]`` -> ``{"train.lr": 0.01, ...}``
    (values read as TOML, else as plain strings)."""
    from chainrule.cli.config import parse_value

    out: dict[str, Any] = {}
    for item in items or ():
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key or any(not part for part in key.split(".")):
            raise UsageError(
                f"--set {item!r}: expected KEY=VALUE with a dotted key, e.g. --set train.lr=0.01"
            )
        out[key] = parse_value(value.strip())
    return out


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()
) -> str:
    """A plain text table; columns in ``right`` are right-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))
        ).rstrip()

    return "\n".join([line(cells[0]), *(line(r) for r in cells[1:])])
