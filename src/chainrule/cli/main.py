"""The ``chainrule`` command: argument parsing, the subcommand registry, error handling.

Each subcommand is a module ``chainrule.cli.<name>_cmd`` exposing
``add_parser(subparsers)`` (adds its parser, with ``parents=[common()]``) and
``run(args) -> int``. ``tune`` comes from ``chainrule.cli.tune_cmd`` when that module
exists (the tuning extra); otherwise ``chainrule tune`` says tuning is not available.

Errors (RELIABILITY A20): every problem the user can fix (unknown model, missing dataset,
bad config key with the nearest valid one, bad input file, refused code) is one line on
stderr, ``chainrule <command>: error: ...``, exit code 2, no traceback unless ``--debug``.
Ctrl-C stops cleanly (training saves a backup first) with exit code 130; SIGTERM during
training saves a backup and ends the process by the signal (exit status 143 in a shell).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from chainrule.cli._common import Parser, UsageError

__all__ = ["COMMANDS", "build_parser", "main"]

#: the built-in subcommands, in help order (module ``chainrule.cli.<name>_cmd``)
COMMANDS = ("train", "resume", "evaluate", "predict", "summary", "datasets", "export")
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

_DESCRIPTION = """\
chainrule: deep learning from first principles on NumPy.

Train a model from the zoo on a dataset, watch it learn, look at what it learned, resume it
after an interruption. Every run writes a folder runs/<name>-<timestamp>/ with the resolved
config.toml, checkpoints, metrics.csv, results.json and PNG plots."""

_EPILOG = """\
examples:
  chainrule train configs/digits_cnn.toml
  chainrule train --model lenet5 --data fashion-mnist --epochs 5 --optimizer adam --lr 1e-3
  chainrule resume runs/digits-cnn-20250101-120000
  chainrule evaluate runs/digits-cnn-20250101-120000
  chainrule predict runs/digits-cnn-20250101-120000 image.png digits.npy
  chainrule summary configs/fashion_lenet5.toml
  chainrule export runs/digits-cnn-20250101-120000 -o digits_cnn.onnx
  chainrule datasets

'chainrule COMMAND --help' describes each command."""


class _TuneUnavailable:
    """Stands in for ``chainrule.cli.tune_cmd`` when it is missing or cannot load."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def add_parser(self, subparsers: Any) -> None:
        from chainrule.cli._common import common

        p = subparsers.add_parser(
            "tune",
            parents=[common()],
            help="hyperparameter tuning (not available here)",
            add_help=True,
        )
        p.add_argument("rest", nargs="*", help="(ignored)")

    def run(self, args: Any) -> int:
        raise UsageError(f"chainrule tune: hyperparameter tuning is not available: {self.reason}")


def _command_modules() -> dict[str, Any]:
    mods: dict[str, Any] = {}
    for name in COMMANDS:
        mods[name] = importlib.import_module(f"chainrule.cli.{name}_cmd")
    try:
        found = importlib.util.find_spec("chainrule.cli.tune_cmd") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        mods["tune"] = _TuneUnavailable("this installation has no chainrule.cli.tune_cmd")
    else:
        try:
            mods["tune"] = importlib.import_module("chainrule.cli.tune_cmd")
        except Exception as e:  # noqa: BLE001 (an optional extra must not break the CLI)
            mods["tune"] = _TuneUnavailable(f"chainrule.cli.tune_cmd cannot be loaded ({e})")
    return mods


def build_parser() -> tuple[Parser, dict[str, Any]]:
    """The argument parser and the subcommand modules by name."""
    from argparse import RawDescriptionHelpFormatter

    import chainrule

    parser = Parser(
        prog="chainrule",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"chainrule {chainrule.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    mods = _command_modules()
    for mod in mods.values():
        mod.add_parser(sub)
    return parser, mods


def _unknown_options(parser: Parser, args: Any, extra: list[str]) -> None:
    """One line naming the unknown options and the nearest known one."""
    from chainrule._suggest import nearest

    prog, known = "chainrule", list(parser._option_string_actions)
    command = getattr(args, "command", None)
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        sub = getattr(action, "choices", {}).get(command) if command else None
        if sub is not None:
            prog, known = sub.prog, list(sub._option_string_actions)
    first = next((e for e in extra if e.startswith("-")), extra[0])
    flag = first.split("=")[0]
    near = nearest(flag, known)
    hint = f"; did you mean {near}?" if near else ""
    what = "option" if first.startswith("-") else "argument"
    raise UsageError(f"{prog}: unknown {what} {first}{hint} (see '{prog} --help')")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _show_warning(
    message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    print(f"chainrule: warning: {_one_line(str(message))}", file=sys.stderr, flush=True)


#: exceptions that describe a problem with the user's input, shown as one line, exit 2
def _user_errors() -> tuple[type[BaseException], ...]:
    from chainrule.cli.build import CLIError

    return (
        CLIError,
        UsageError,
        ValueError,
        TypeError,
        OSError,
        KeyError,
        IndexError,
        RuntimeError,
        ImportError,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``chainrule`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    Example:
        >>> main(["datasets", "--quiet"])  # doctest: +ELLIPSIS
        dataset...
        0
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    where = "chainrule"
    shown = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        parser, mods = build_parser()
        args, extra = parser.parse_known_args(args_list)
        if extra:
            _unknown_options(parser, args, extra)
        if args.command is None:
            parser.print_help()
            return EXIT_ERROR
        where = f"chainrule {args.command}"
        debug = debug or bool(getattr(args, "debug", False))
        return int(mods[args.command].run(args) or 0)
    except KeyboardInterrupt as e:
        if debug:
            raise
        from chainrule.training import TrainingInterrupted

        if not isinstance(e, TrainingInterrupted):  # fit printed its own line
            print(f"{where}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except SystemExit:
        raise
    except BaseException as e:
        if debug:
            raise
        if isinstance(e, UsageError):
            msg = str(e)
            print(
                msg if msg.startswith("chainrule") else f"{where}: error: {msg}",
                file=sys.stderr,
                flush=True,
            )
            return EXIT_ERROR
        if isinstance(e, _user_errors()):
            text = _one_line(str(e)) or type(e).__name__
            if isinstance(e, (KeyError, IndexError)) or text == type(e).__name__:
                text = f"{type(e).__name__}: {text}"
            print(f"{where}: error: {text}", file=sys.stderr, flush=True)
            return EXIT_ERROR
        print(
            f"{where}: internal error: {type(e).__name__}: {_one_line(str(e))} (run again "
            "with --debug for the traceback, and please report it)",
            file=sys.stderr,
            flush=True,
        )
        return 1
    finally:
        warnings.showwarning = shown


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
