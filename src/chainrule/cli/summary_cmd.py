"""``chainrule summary CONFIG|CHECKPOINT|RUN_DIR``: the model's layer table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chainrule.cli._common import add_allow_code, common

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "summary",
        parents=[common()],
        help="print a model's layers, shapes and parameters",
        description="Print the layer table (output shapes, parameter counts) of the model a "
        "configuration file describes, or of a trained run folder or checkpoint.",
    )
    p.add_argument("target", metavar="CONFIG|CHECKPOINT|RUN_DIR")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        dest="sets",
        help="override a configuration key (with a CONFIG)",
    )
    add_allow_code(p)
    return p


def run(args: argparse.Namespace) -> int:
    import chainrule as cr
    from chainrule.cli._common import parse_sets
    from chainrule.cli.build import (
        build_model,
        check_code_allowed,
        load_trained,
        model_input_shape,
    )
    from chainrule.cli.config import DATASETS, load_config, resolve_config

    target = Path(args.target)
    if target.suffix.lower() == ".toml":
        raw = load_config(target)
        check_code_allowed(raw, args.allow_code, f"config {target}")
        config = resolve_config(raw, parse_sets(args.sets))
        cr.manual_seed(config["seed"])
        model = build_model(config, allow_code=args.allow_code)
        source = str(target)
    else:
        trained = load_trained(target, allow_code=args.allow_code, need_weights=False)
        model, config = trained.model, trained.config
        source = str(trained.weights or target)
    shape = model_input_shape(config)
    spec = DATASETS[config["data"]["name"]]
    name = config["model"].get("name") or config["model"].get("builder")
    print(
        f"{name} for {spec.name} ({'x'.join(map(str, shape))} inputs, {len(spec.classes)} "
        f"classes), from {source}"
    )
    cr.summary(model, shape)
    return 0
