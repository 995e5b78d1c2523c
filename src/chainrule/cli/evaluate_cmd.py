"""``chainrule evaluate RUN_DIR|CHECKPOINT``: loss, metrics and a per-class table."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from chainrule.cli._common import add_allow_code, common, format_table

__all__ = ["add_parser", "classification_report", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "evaluate",
        parents=[common()],
        help="metrics and a per-class table for a trained model",
        description="Evaluate a trained model (a run folder: its final weights, else its best; "
        "or a checkpoint file written by chainrule train) on a dataset split: the "
        "loss, the metrics, and precision / recall / F1 / support per class.",
    )
    p.add_argument("target", metavar="RUN_DIR|CHECKPOINT")
    p.add_argument(
        "--data",
        help="dataset to evaluate on (default: the run's); it must have "
        "the same image size and classes",
    )
    p.add_argument("--data-root", help="folder holding the dataset's IDX files")
    p.add_argument(
        "--split",
        choices=("test", "validation", "train"),
        default="test",
        help="which part of the dataset (default: test)",
    )
    p.add_argument("--batch-size", type=int, default=256, help="samples per batch")
    add_allow_code(p)
    return p


def classification_report(rows: list[dict[str, Any]], accuracy: float) -> str:
    """scikit-learn's layout: one row per class, then accuracy, macro and weighted averages."""
    support = np.array([r["support"] for r in rows], dtype=float)
    total = int(support.sum())
    body: list[tuple[Any, ...]] = [
        (r["class"], f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}", r["support"])
        for r in rows
    ]
    present = support > 0
    for name, w in (("macro avg", present.astype(float)), ("weighted avg", support)):
        s = w.sum() or 1.0
        avg = [sum(r[k] * wi for r, wi in zip(rows, w)) / s for k in ("precision", "recall", "f1")]
        body.append((name, *(f"{v:.4f}" for v in avg), total))
    body.insert(len(rows), ("accuracy", "", "", f"{accuracy:.4f}", total))
    return format_table(
        ("class", "precision", "recall", "f1-score", "support"), body, right=(1, 2, 3, 4)
    )


def run(args: argparse.Namespace) -> int:
    import chainrule as cr
    from chainrule.cli.build import CLIError, apply_preprocess, load_data, load_trained
    from chainrule.cli.config import DATASETS, resolve_config
    from chainrule.cli.runner import per_class, score, test_predictions

    if args.batch_size < 1:
        raise CLIError(f"--batch-size must be >= 1, got {args.batch_size}")
    trained = load_trained(args.target, allow_code=args.allow_code)
    cfg = resolve_config(trained.config, {"data.name": args.data, "data.root": args.data_root})
    old, new = trained.spec, DATASETS[cfg["data"]["name"]]
    if new.shape != old.shape or len(new.classes) != len(old.classes):
        raise CLIError(
            f"the model was trained on {old.name} ({'x'.join(map(str, old.shape))}, "
            f"{len(old.classes)} classes); {new.name} has "
            f"{'x'.join(map(str, new.shape))} images and {len(new.classes)} classes"
        )
    cfg["data"]["normalize"] = False  # the model's own preprocessing is applied below
    data = load_data(cfg)
    x, y = {
        "test": (data.x_test, data.y_test),
        "train": (data.x_train, data.y_train),
        "validation": (data.x_val, data.y_val),
    }[args.split]
    if x is None or y is None:
        raise CLIError("the run has no validation split (data.validation_split = 0)")
    x = apply_preprocess(x, trained.preprocess)
    bar = not args.quiet and getattr(sys.stderr, "isatty", lambda: False)()
    logits = test_predictions(trained.model, x, args.batch_size, bar=bar)
    metrics = score(cfg, logits, y, prefix="")
    pred = logits.argmax(axis=1)
    cm = cr.metrics.confusion_matrix(y, pred, num_classes=len(new.classes))
    acc = float(np.mean(pred == y))
    source = trained.weights
    name = cfg["model"].get("name") or cfg["model"].get("builder")
    print(f"Model: {name} ({trained.model.num_parameters():,} parameters) from {source}")
    print(f"Data: {new.name} {args.split} split, {len(y):,} images")
    print("  ".join(f"{k}: {v:.4f}" for k, v in metrics.items()))
    print()
    print(classification_report(per_class(cm, new.classes), acc))
    return 0
