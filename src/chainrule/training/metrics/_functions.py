"""The metrics as functions of whole arrays, ``fn(y_true, y_pred) -> float`` (formulas in
:mod:`chainrule.training.metrics`)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "accuracy",
    "confusion_matrix",
    "f1_score",
    "mean_absolute_error",
    "mean_squared_error",
    "precision",
    "r2_score",
    "recall",
    "top_k_accuracy",
]

_AVERAGES = ("macro", "micro", "weighted", "binary", None)


# ---- input handling ----
def _np(a: Any, what: str) -> np.ndarray:
    """Tensor / list / array -> ndarray (no copy for arrays)."""
    data = getattr(a, "data", a) if type(a).__name__ == "Tensor" else a
    if type(data).__module__.startswith("torch"):
        data = data.detach().cpu().numpy()
    arr = np.asarray(data)
    if arr.dtype == object:
        raise TypeError(f"{what}: expected a numeric array, got an object array")
    return arr


def _pair(y_true: Any, y_pred: Any, fn: str) -> tuple[np.ndarray, np.ndarray]:
    t, p = _np(y_true, f"{fn} y_true"), _np(y_pred, f"{fn} y_pred")
    n_t = t.shape[0] if t.ndim else 1
    n_p = p.shape[0] if p.ndim else 1
    if n_t != n_p:
        raise ValueError(
            f"{fn}: y_true and y_pred must have the same number of samples, got "
            f"{n_t} (shape {t.shape}) and {n_p} (shape {p.shape})"
        )
    return t, p


def _labels(
    y_true: Any, y_pred: Any, fn: str, threshold: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Both sides as flat integer class labels (see the module docstring for the rules)."""
    t, p = _pair(y_true, y_pred, fn)
    if p.ndim == t.ndim + 1 and p.shape[-1] == 1:  # a (N, 1) binary output
        p = p.reshape(p.shape[:-1])
    if p.ndim == t.ndim + 1:  # scores (N, C) against indices (N,)
        p = p.argmax(axis=-1)
    elif p.shape == t.shape and p.ndim >= 2 and p.shape[-1] > 1 and threshold is None:
        if t.dtype.kind == "f" and not _is_one_hot(t):
            raise ValueError(
                f"{fn}: y_true of shape {t.shape} is not one-hot; for multi-label targets "
                "pass threshold=0.5 (element-wise binary accuracy)"
            )
        t, p = t.argmax(axis=-1), p.argmax(axis=-1)  # one-hot targets and scores
    elif p.shape == t.shape or (p.size == t.size and p.ndim <= t.ndim + 1):
        p = p.reshape(t.shape)
        if p.dtype.kind == "f" or threshold is not None:
            p = (p > (0.5 if threshold is None else threshold)).astype(np.int64)
    else:
        raise ValueError(
            f"{fn}: cannot compare y_true of shape {t.shape} with y_pred of shape {p.shape}; "
            "expected y_pred of shape (N,) labels, (N, C) scores, or the shape of y_true"
        )
    if t.dtype.kind == "f":
        if not np.all(np.isfinite(t)) or np.any(t != np.round(t)):
            raise ValueError(f"{fn}: y_true holds non-integer values; expected class labels")
    return t.astype(np.int64).ravel(), p.astype(np.int64).ravel()


def _is_one_hot(t: np.ndarray) -> bool:
    return bool(np.all((t == 0) | (t == 1)) and np.all(t.sum(axis=-1) == 1))


def _check_negative(t: np.ndarray, p: np.ndarray, fn: str) -> None:
    for arr, side in ((t, "y_true"), (p, "y_pred")):
        if arr.size and arr.min() < 0:
            i = int(np.argmax(arr < 0))
            raise ValueError(f"{fn}: {side}[{i}] = {int(arr[i])} is a negative class label")


# ---- classification functions ----
def accuracy(y_true: Any, y_pred: Any, threshold: float | None = None) -> float:
    """Fraction of correct predictions.

    Args:
        y_true: class indices ``(N,)``, one-hot ``(N, C)``, or binary labels.
        y_pred: class indices, scores ``(N, C)`` (arg-max), or probabilities/logits of the
            shape of ``y_true`` compared with ``threshold`` (0.5 by default; use 0 for logits).
        threshold: force element-wise thresholding (binary / multi-label accuracy).

    Example:
        >>> accuracy([0, 1, 2], [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1]])
        0.6666666666666666
    """
    t, p = _labels(y_true, y_pred, "accuracy", threshold)
    if t.size == 0:
        return 0.0
    return float(np.count_nonzero(t == p) / t.size)


def top_k_accuracy(y_true: Any, y_score: Any, k: int = 5) -> float:
    r"""Fraction of samples whose true class is among the ``k`` highest scores.

    A sample counts as a hit when fewer than ``k`` classes score strictly higher than its true
    class, so ties at the boundary count as hits (``tf.math.in_top_k``'s rule).

    Example:
        >>> top_k_accuracy([2, 0], [[0.1, 0.5, 0.4], [0.2, 0.3, 0.5]], k=2)
        0.5
    """
    hits, n = _top_k_count(y_true, y_score, k, "top_k_accuracy")
    return hits / n if n else 0.0


def _top_k_count(y_true: Any, y_score: Any, k: int, fn: str) -> tuple[int, int]:
    t, s = _pair(y_true, y_score, fn)
    if s.ndim != 2 or t.ndim != 1:
        raise ValueError(
            f"{fn} expects y_true of shape (N,) and y_score of shape (N, C), got "
            f"{t.shape} and {s.shape}"
        )
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{fn}: k must be a positive int, got {k!r}")
    t = t.astype(np.int64)
    if t.size and (t.min() < 0 or t.max() >= s.shape[1]):
        bad = int(np.argmax((t < 0) | (t >= s.shape[1])))
        raise ValueError(f"{fn}: y_true[{bad}] = {int(t[bad])} is outside [0, {s.shape[1] - 1}]")
    if t.size == 0:
        return 0, 0
    return int(np.count_nonzero(_top_k_hits(t, s, k))), int(t.size)


def _top_k_hits(t: np.ndarray, s: np.ndarray, k: int) -> np.ndarray:
    true_score = s[np.arange(t.size), t][:, None]
    return (s > true_score).sum(axis=1) < k


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """``M[i, j]`` = number of samples of true class ``i`` predicted as class ``j`` (int64).

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 1, 0])
        array([[1, 0],
               [1, 1]])
    """
    t, p = _labels(y_true, y_pred, "confusion_matrix")
    _check_negative(t, p, "confusion_matrix")
    return _confusion(t, p, num_classes, "confusion_matrix")


def _confusion(t: np.ndarray, p: np.ndarray, num_classes: int | None, fn: str) -> np.ndarray:
    hi = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    c = hi if num_classes is None else int(num_classes)
    if hi > c:
        raise ValueError(f"{fn}: found class label {hi - 1} but num_classes={c}")
    return np.bincount(t * c + p, minlength=c * c).reshape(c, c).astype(np.int64)


def _prf_from_confusion(m: np.ndarray, average: str | None, which: str) -> Any:
    tp = np.diag(m).astype(np.float64)
    pred = m.sum(axis=0).astype(np.float64)
    true = m.sum(axis=1).astype(np.float64)
    if average == "binary":
        if m.shape[0] > 2:
            raise ValueError(
                f"{which}: average='binary' needs two classes, got {m.shape[0]}; "
                "use 'macro', 'micro', 'weighted' or None"
            )
        m2 = np.zeros((2, 2), np.int64)
        m2[: m.shape[0], : m.shape[1]] = m
        return float(_prf_from_confusion(m2, None, which)[1])
    if average == "micro":
        tp, pred, true = tp.sum(keepdims=True), pred.sum(keepdims=True), true.sum(keepdims=True)
    p = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    r = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    if which == "precision":
        v = p
    elif which == "recall":
        v = r
    else:
        s = p + r
        v = np.divide(2 * p * r, s, out=np.zeros_like(tp), where=s > 0)
    if average is None:
        return v
    if average == "micro":
        return float(v[0])
    present = (pred + true) > 0
    if average == "weighted":
        return float((v * true).sum() / true.sum()) if true.sum() > 0 else 0.0
    return float(v[present].mean()) if present.any() else 0.0


def _check_average(average: Any, fn: str) -> None:
    if average not in _AVERAGES:
        raise ValueError(f"{fn}: average must be one of {list(_AVERAGES)}, got {average!r}")


def _prf(
    which: str,
    y_true: Any,
    y_pred: Any,
    average: str | None,
    num_classes: int | None,
    threshold: float | None,
) -> Any:
    _check_average(average, which)
    t, p = _labels(y_true, y_pred, which, threshold)
    _check_negative(t, p, which)
    return _prf_from_confusion(_confusion(t, p, num_classes, which), average, which)


def precision(
    y_true: Any,
    y_pred: Any,
    average: str | None = "macro",
    num_classes: int | None = None,
    threshold: float | None = None,
) -> Any:
    r"""Precision :math:`tp / (tp + fp)`; per class when ``average=None``.

    Args:
        average: ``'macro'`` (default), ``'micro'``, ``'weighted'`` (by support),
            ``'binary'`` (class 1 of two) or ``None`` (an array, one value per class).
            Note: scikit-learn's default is ``'binary'``.

    Example:
        >>> precision([0, 1, 1, 2], [0, 1, 2, 2])
        0.8333333333333334
    """
    return _prf("precision", y_true, y_pred, average, num_classes, threshold)


def recall(
    y_true: Any,
    y_pred: Any,
    average: str | None = "macro",
    num_classes: int | None = None,
    threshold: float | None = None,
) -> Any:
    r"""Recall :math:`tp / (tp + fn)`; arguments as :func:`precision`.

    Example:
        >>> recall([0, 1, 1, 2], [0, 1, 2, 2])
        0.8333333333333334
    """
    return _prf("recall", y_true, y_pred, average, num_classes, threshold)


def f1_score(
    y_true: Any,
    y_pred: Any,
    average: str | None = "macro",
    num_classes: int | None = None,
    threshold: float | None = None,
) -> Any:
    r"""F1 :math:`2PR/(P+R)` per class, then averaged; arguments as :func:`precision`.

    Example:
        >>> round(f1_score([0, 1, 1, 2], [0, 1, 2, 2]), 6)
        0.777778
    """
    return _prf("f1", y_true, y_pred, average, num_classes, threshold)


# ---- regression functions ----
def _regression(y_true: Any, y_pred: Any, fn: str) -> tuple[np.ndarray, np.ndarray]:
    t, p = _pair(y_true, y_pred, fn)
    if t.shape != p.shape:
        if t.size == p.size:
            p = p.reshape(t.shape)
        else:
            raise ValueError(f"{fn}: y_true shape {t.shape} and y_pred shape {p.shape} differ")
    return t.astype(np.float64), p.astype(np.float64)


def mean_absolute_error(y_true: Any, y_pred: Any) -> float:
    """MAE, the mean of ``|y_true - y_pred|`` over every element.

    Example:
        >>> mean_absolute_error([1.0, 2.0], [1.5, 1.0])
        0.75
    """
    t, p = _regression(y_true, y_pred, "mean_absolute_error")
    return float(np.abs(t - p).mean()) if t.size else 0.0


def mean_squared_error(y_true: Any, y_pred: Any) -> float:
    """MSE, the mean of ``(y_true - y_pred)**2`` over every element.

    Example:
        >>> mean_squared_error([1.0, 2.0], [1.5, 1.0])
        0.625
    """
    t, p = _regression(y_true, y_pred, "mean_squared_error")
    return float(np.square(t - p).mean()) if t.size else 0.0


def r2_score(y_true: Any, y_pred: Any) -> float:
    r"""Coefficient of determination :math:`1 - SS_{res}/SS_{tot}` per output, averaged.

    A constant target column scores 1 when predicted exactly and 0 otherwise
    (scikit-learn's ``force_finite`` rule).

    Example:
        >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
        0.5
    """
    t, p = _regression(y_true, y_pred, "r2_score")
    t2, p2 = t.reshape(t.shape[0], -1), p.reshape(p.shape[0], -1)
    ss_res = np.square(t2 - p2).sum(axis=0)
    ss_tot = np.square(t2 - t2.mean(axis=0)).sum(axis=0)
    return _r2_from(ss_res, ss_tot)


def _r2_from(ss_res: np.ndarray, ss_tot: np.ndarray) -> float:
    ok = ss_tot > 0
    r2 = np.where(ss_res == 0, 1.0, 0.0)
    r2[ok] = 1.0 - ss_res[ok] / ss_tot[ok]
    return float(r2.mean()) if r2.size else 0.0


# ---- accumulators ----
