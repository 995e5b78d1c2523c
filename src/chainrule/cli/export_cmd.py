r"""``chainrule export RUN_DIR|CHECKPOINT --format onnx -o model.onnx``: a trained model as ONNX.

The target is a run folder or a checkpoint written by ``chainrule train`` (they carry their
configuration), or any checkpoint holding a ``state_dict`` saved with ``chainrule.save``
together with ``--model NAME`` (a zoo model; its arguments with ``--set model.KEY=VALUE``)
and ``--data DATASET`` or ``--input-shape C,H,W`` for the input shape.

A run that standardised its inputs (``data.normalize``) gets the standardisation
:math:`(x - \mu) / \sigma` as the first nodes of the graph, so the exported model takes
images scaled to [0, 1] like ``chainrule predict`` does (``--no-preprocess`` leaves it out).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chainrule.cli._common import add_allow_code, common
from chainrule.nn.module import Module

__all__ = ["add_parser", "run"]

FORMATS = ("onnx",)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export",
        parents=[common()],
        help="export a trained model to ONNX",
        description="Export a trained model (a run folder, a checkpoint written by chainrule "
        "train, or a state_dict checkpoint with --model) to an ONNX file that "
        "onnxruntime and other runtimes can run. Needs the onnx extra: "
        "pip install 'chainrule[onnx]'.",
    )
    p.add_argument("target", metavar="RUN_DIR|CHECKPOINT")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="output format (onnx)")
    p.add_argument(
        "-o",
        "--output",
        help="file to write (default: model.onnx in the run "
        "folder, or the checkpoint's name with .onnx)",
    )
    p.add_argument(
        "--model",
        help="zoo model the checkpoint's state_dict belongs to (for a "
        "checkpoint without a run configuration)",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        dest="sets",
        help="a model argument with --model, e.g. --set model.dropout=0.3",
    )
    p.add_argument(
        "--data",
        help="dataset the model takes (sets the input shape and the zoo "
        "model's defaults), with --model",
    )
    p.add_argument("--input-shape", help="one sample's shape, e.g. 1,28,28 (with --model)")
    p.add_argument("--opset", type=int, default=17, help="ONNX operator set (default 17)")
    p.add_argument(
        "--static-batch",
        action="store_true",
        help="fix the batch size to 1 instead of a symbolic batch axis",
    )
    p.add_argument(
        "--no-preprocess",
        action="store_true",
        help="leave the run's input standardisation out of the graph",
    )
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="do not compare onnxruntime's outputs with chainrule's",
    )
    add_allow_code(p)
    return p


def _shape(text: str) -> tuple[int, ...]:
    from chainrule.cli.build import CLIError

    try:
        shape = tuple(int(s) for s in text.replace("x", ",").split(",") if s.strip())
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise CLIError(f"--input-shape {text!r}: expected positive integers such as 1,28,28")
    return shape


def _from_state_dict(args: argparse.Namespace) -> tuple[Any, tuple[int, ...], str]:
    """The zoo model named by ``--model`` with the checkpoint's state_dict loaded."""
    import chainrule as cr
    from chainrule.cli._common import parse_sets
    from chainrule.cli.build import CLIError, build_model, model_input_shape
    from chainrule.cli.config import apply_overrides, resolve_config

    sets = parse_sets(args.sets)
    bad = [k for k in sets if not k.startswith("model.")]
    if bad:
        raise CLIError(f"--set {bad[0]}: only model.KEY=VALUE settings apply to an export")
    if args.data:
        raw = apply_overrides({"model": {"name": args.model}, "data": {"name": args.data}}, sets)
        config = resolve_config(raw)
        model = build_model(config)
        shape = _shape(args.input_shape) if args.input_shape else model_input_shape(config)
    elif args.input_shape:
        kwargs = {
            k.split(".", 1)[1]: tuple(v) if isinstance(v, list) else v for k, v in sets.items()
        }
        model = cr.models.get_model(args.model, **kwargs)
        shape = _shape(args.input_shape)
    else:
        raise CLIError(
            "with --model, give the input shape: --data DATASET (digits, "
            "fashion-mnist, mnist) or --input-shape C,H,W"
        )
    path = Path(args.target)
    if not path.is_file():
        raise CLIError(f"{path}: no such checkpoint file")
    state = cr.io.load(path)
    if isinstance(state, dict) and state.get("format") == "chainrule.backup":
        state = state["model"]
    if not isinstance(state, dict):
        raise CLIError(f"{path} holds a {type(state).__name__}, not a state_dict")
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError) as e:
        raise CLIError(
            f"{path} does not fit model {args.model}: {' '.join(str(e).split())}"
        ) from None
    model.eval()
    return model, shape, args.model


class _Standardize(Module):
    """``model((x - mean) / std)``, sharing the model's parameters, buffers and children (so
    the ONNX initializers keep the model's own ``state_dict`` keys)."""

    def __init__(self, model: Module, mean: float, std: float) -> None:
        super().__init__()
        object.__setattr__(self, "_inner", model)
        for store in ("_parameters", "_buffers", "_non_persistent", "_modules"):
            object.__setattr__(self, store, getattr(model, store))
        object.__setattr__(self, "_stats", (float(mean), float(std)))

    def forward(self, x: Any) -> Any:
        mean, std = self._stats
        return self._inner((x - mean) / std)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import chainrule as cr
    from chainrule.cli.build import CLIError, load_trained

    if args.model:
        model, shape, name = _from_state_dict(args)
        pre: dict[str, Any] = {}
        default_out = Path(args.target).with_suffix(".onnx")
    else:
        if args.data or args.input_shape or args.sets:
            raise CLIError(
                "--data, --input-shape and --set go with --model (a checkpoint "
                "without a run configuration)"
            )
        trained = load_trained(args.target, allow_code=args.allow_code)
        model, shape, pre = trained.model, trained.input_shape, dict(trained.preprocess)
        name = trained.config["model"].get("name") or trained.config["model"].get("builder")
        run_dir = trained.run_dir
        default_out = (
            run_dir / "model.onnx"
            if run_dir is not None
            else Path(args.target).with_suffix(".onnx")
        )
    out = Path(args.output) if args.output else default_out
    if out.suffix.lower() != ".onnx":
        raise CLIError(f"{out}: the output file must end in .onnx")
    exported = model
    note = ""
    if "mean" in pre and not args.no_preprocess:
        exported = _Standardize(model, pre["mean"], pre["std"])
        note = (
            f"; the graph standardises its input first ((x - {pre['mean']:.4g}) / "
            f"{pre['std']:.4g}): feed values scaled to [0, 1]"
        )
    batch = 1 if args.static_batch else 2
    example = cr.Tensor(np.zeros((batch, *shape), dtype=np.float32))
    cr.io.export_onnx(
        exported,
        example,
        out,
        input_names=["input"],
        output_names=["output"],
        dynamic_batch=not args.static_batch,
        opset=args.opset,
        verify=not args.no_verify,
    )
    dims = ", ".join(["batch" if not args.static_batch else "1", *map(str, shape)])
    size = out.stat().st_size
    if not args.quiet:
        print(
            f"Exported {name} ({model.num_parameters():,} parameters) to {out} "
            f"({size / 1024:,.1f} KiB, ONNX opset {args.opset}); input 'input' float32 "
            f"[{dims}], output 'output'{note}"
        )
    else:
        print(out)
    return 0
