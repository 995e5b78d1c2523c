"""The PNG plots of a run folder: learning curves, confusion matrix, sample predictions.

matplotlib is an optional extra (``pip install 'chainrule[viz]'``): :func:`available` says
whether it is installed, and training works without it (the run says the plots were
skipped). Figures are built with ``matplotlib.figure.Figure`` and the Agg canvas, never
pyplot, so no display and no global state are involved.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.viz import figure, save_figure

__all__ = ["available", "plot_confusion_matrix", "plot_curve", "plot_samples", "save_all"]

_TRAIN, _VAL, _GOOD, _BAD = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"


def available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(w: float, h: float) -> Any:
    return figure((w, h), owner="the run's plots", dpi=110, layout="constrained")


def plot_curve(
    history: dict[str, list[float]], metric: str, path: str | os.PathLike, title: str = ""
) -> Path:
    """``metric`` and ``val_<metric>`` per epoch (train solid, validation dashed), with the
    best validation epoch marked."""
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    label = metric.replace("_", " ")
    best_at = None
    for key, color, style, name in (
        (metric, _TRAIN, "-o", "train"),
        (f"val_{metric}", _VAL, "--s", "validation"),
    ):
        ys = history.get(key)
        if not ys:
            continue
        xs = np.arange(1, len(ys) + 1)
        ax.plot(xs, ys, style, color=color, markersize=4, linewidth=1.8, label=name)
        if key.startswith("val_"):
            arr = np.asarray(ys, dtype=float)
            best_at = int(np.nanargmin(arr) if "loss" in metric else np.nanargmax(arr))
            shown = f"{100 * arr[best_at]:.2f}%" if "accuracy" in metric else f"{arr[best_at]:.4g}"
            ax.plot(
                best_at + 1,
                arr[best_at],
                "*",
                color=color,
                markersize=13,
                label=f"best validation: {shown} (epoch {best_at + 1})",
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel(label)
    if "accuracy" in metric:
        ax.yaxis.set_major_formatter(_percent())
    n = max((len(v) for k, v in history.items() if k in (metric, f"val_{metric}")), default=1)
    ax.set_xticks(np.unique(np.linspace(1, n, min(n, 10)).round().astype(int)))
    ax.set_xlim(0.5, n + 0.5)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    ax.set_title(title or f"{label}: train and validation")
    return save_figure(fig, path)


def _percent() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{100 * v:.3g}%")


def plot_confusion_matrix(
    cm: np.ndarray, classes: Sequence[str], path: str | os.PathLike, title: str = "Confusion matrix"
) -> Path:
    """Counts of true class (rows) x predicted class (columns), each cell annotated; colours
    by the share of the row, so each class reads the same whatever its size."""
    k = len(classes)
    size = max(4.8, 0.42 * k + 2.4)
    fig = _figure(size + 1.2, size)
    ax = fig.add_subplot()
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0)
    im = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax, shrink=0.85, label="share of the true class")
    ax.set_xticks(
        range(k),
        classes,
        rotation=45 if max(map(len, classes)) > 2 else 0,
        ha="right" if max(map(len, classes)) > 2 else "center",
    )
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    small = 8 if k > 10 else 9
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    str(int(cm[i, j])),
                    ha="center",
                    va="center",
                    fontsize=small,
                    color="white" if share[i, j] > 0.5 else "black",
                )
    ax.set_title(title)
    return save_figure(fig, path)


def plot_samples(
    images: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    confidence: np.ndarray,
    classes: Sequence[str],
    path: str | os.PathLike,
    title: str = "Sample predictions",
    cols: int = 6,
) -> Path:
    """A grid of images, each titled with the prediction and its probability: green
    (correct, marked ✓) or red (wrong, marked ✗, with the true class)."""
    n = len(images)
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    fig = _figure(1.9 * cols, 2.15 * rows + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.set_axis_off()
            continue
        img = images[i]
        img = img.reshape(img.shape[-2:]) if img.ndim == 3 and img.shape[0] == 1 else img
        if img.ndim == 1:
            side = int(round(np.sqrt(img.size)))
            img = img.reshape(side, side) if side * side == img.size else img[None, :]
        ax.imshow(img, cmap="gray_r", interpolation="nearest")
        ok = y_pred[i] == y_true[i]
        color = _GOOD if ok else _BAD
        text = (
            f"✓ {classes[y_pred[i]]} {100 * confidence[i]:.0f}%"
            if ok
            else f"✗ {classes[y_pred[i]]} {100 * confidence[i]:.0f}%\ntrue: {classes[y_true[i]]}"
        )
        ax.set_title(text, color=color, fontsize=8.5)
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(2.5)
    fig.suptitle(title)
    return save_figure(fig, path)


def pick_samples(y_true: np.ndarray, y_pred: np.ndarray, n: int = 24) -> np.ndarray:
    """Indices to show: up to half wrong predictions (the most informative), the rest
    correct ones, all in test-set order (deterministic)."""
    wrong = np.flatnonzero(y_pred != y_true)
    right = np.flatnonzero(y_pred == y_true)
    w = wrong[: min(len(wrong), n // 2)]
    r = right[: n - len(w)]
    return np.sort(np.concatenate([w, r]))


def save_all(
    folder: str | os.PathLike,
    history: dict[str, list[float]],
    cm: np.ndarray,
    classes: Sequence[str],
    images: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    confidence: np.ndarray,
    run_name: str,
    metrics: Sequence[str] = ("loss", "accuracy"),
) -> list[Path]:
    """Write every plot of a run into ``folder``; returns the paths."""
    folder = Path(folder)
    paths = []
    for m in metrics:
        if history.get(m) or history.get(f"val_{m}"):
            paths.append(
                plot_curve(
                    history,
                    m,
                    folder / f"{m}.png",
                    title=f"{m.replace('_', ' ').capitalize()} per epoch ({run_name})",
                )
            )
    acc = float(np.trace(cm)) / max(1, int(cm.sum()))
    paths.append(
        plot_confusion_matrix(
            cm,
            classes,
            folder / "confusion_matrix.png",
            title=f"Test set: {100 * acc:.2f}% correct of {int(cm.sum()):,} ({run_name})",
        )
    )
    idx = pick_samples(y_true, y_pred)
    if len(idx):
        paths.append(
            plot_samples(
                images[idx],
                y_true[idx],
                y_pred[idx],
                confidence[idx],
                classes,
                folder / "samples.png",
                title=f"Test images: prediction and probability (✓ right, ✗ wrong) ({run_name})",
            )
        )
    return paths
