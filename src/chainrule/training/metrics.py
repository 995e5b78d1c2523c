r"""Metrics on NumPy arrays: functions, and stateful accumulators that ``fit`` uses.

Every function takes ``(y_true, y_pred)`` in that order (scikit-learn's and Keras's order; the
losses take PyTorch's ``(input, target)``). Classification predictions may be class indices
``(N,)``, scores or logits ``(N, C)`` (the arg-max is the predicted class), or probabilities of
the same shape as ``y_true`` (thresholded: binary or multi-label).

From the confusion matrix :math:`M_{ij}` = number of samples of true class :math:`i` predicted
as :math:`j`, with :math:`tp_c = M_{cc}`, :math:`fp_c = \sum_i M_{ic} - tp_c`,
:math:`fn_c = \sum_j M_{cj} - tp_c`:

.. math::
    P_c = \frac{tp_c}{tp_c + fp_c}, \quad R_c = \frac{tp_c}{tp_c + fn_c}, \quad
    F1_c = \frac{2 P_c R_c}{P_c + R_c}

``macro`` averages :math:`P_c` over the classes that occur in ``y_true`` or ``y_pred``
(scikit-learn's rule); ``micro`` pools the counts first; an undefined ratio (0/0) is 0.
Regression: :math:`MAE = \frac1n\sum|y-\hat y|`, :math:`MSE = \frac1n\sum(y-\hat y)^2`,
:math:`R^2 = 1 - \frac{\sum (y-\hat y)^2}{\sum (y-\bar y)^2}` per output column, then averaged.

Accumulators (:class:`Metric`) follow Keras: ``update(y_true, y_pred)``, ``result()``,
``reset()``; their ``state_dict()`` holds exact float64 totals, so a resumed epoch reports the
same numbers as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._suggest import unknown_name

__all__ = [
    "Accuracy",
    "ConfusionMatrix",
    "F1Score",
    "Mean",
    "MeanAbsoluteError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "R2Score",
    "Recall",
    "TopKAccuracy",
    "accuracy",
    "confusion_matrix",
    "f1_score",
    "get_metric",
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
class Metric:
    """A stateful metric: ``update(y_true, y_pred)`` per batch, ``result()``, ``reset()``.

    Subclasses keep their totals in :attr:`state` (a dict of ints, floats and arrays) so
    :meth:`state_dict` / :meth:`load_state_dict` restore a half-finished epoch exactly.
    """

    name: str

    def __init__(self, name: str | None = None) -> None:
        self.name = name or _default_name(type(self).__name__)
        self.state: dict[str, Any] = {}
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, y_true: Any, y_pred: Any) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.state.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        expected = set(self.state)
        if not isinstance(state, dict) or set(state) != expected:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: state keys {got} do not match the "
                f"expected {sorted(expected)}"
            )
        self.state = {
            k: (
                np.array(v, dtype=self.state[k].dtype)
                if isinstance(self.state[k], np.ndarray)
                else type(self.state[k])(v)
                if self.state[k] is not None
                else v
            )
            for k, v in state.items()
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _default_name(cls: str) -> str:
    return {
        "TopKAccuracy": "top_k_accuracy",
        "F1Score": "f1",
        "R2Score": "r2",
        "MeanAbsoluteError": "mae",
        "MeanSquaredError": "mse",
        "ConfusionMatrix": "confusion_matrix",
    }.get(cls, cls.lower())


class Mean(Metric):
    """Weighted running mean of scalars: ``update(value, weight=1)``; float64 totals.

    Example:
        >>> m = Mean(); m.update(1.0, 2); m.update(4.0, 1); m.result()
        2.0
    """

    def reset(self) -> None:
        self.state = {"total": 0.0, "count": 0.0}

    def update(self, value: Any, weight: float = 1.0) -> None:
        self.state["total"] += float(value) * float(weight)
        self.state["count"] += float(weight)

    def result(self) -> float:
        c = self.state["count"]
        return self.state["total"] / c if c else 0.0


class MeanMetricWrapper(Mean):
    """Batch-size-weighted mean of ``fn(y_true, y_pred)`` (Keras's wrapper for function metrics).

    Example:
        >>> m = MeanMetricWrapper(mean_absolute_error, name="mae")
        >>> m.update([0.0, 0.0], [1.0, 3.0]); m.result()
        2.0
    """

    def __init__(self, fn: Callable[[Any, Any], Any], name: str | None = None) -> None:
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def update(self, y_true: Any, y_pred: Any) -> None:  # type: ignore[override]
        n = len(y_true) if hasattr(y_true, "__len__") else 1
        super().update(_scalar(self.fn(y_true, y_pred), self.name), n)


def _scalar(v: Any, name: str) -> float:
    arr = _np(v, name)
    if arr.size != 1:
        raise ValueError(f"metric {name!r} must return a scalar, got shape {arr.shape}")
    return float(arr.reshape(()))


class Accuracy(Metric):
    """Running accuracy (counts correct / seen); arguments as :func:`accuracy`.

    Example:
        >>> m = Accuracy(); m.update([0, 1], [0, 0]); m.update([1], [1]); m.result()
        0.6666666666666666
    """

    def __init__(self, name: str | None = None, threshold: float | None = None) -> None:
        self.threshold = threshold
        super().__init__(name)

    def reset(self) -> None:
        self.state = {"correct": 0, "count": 0}

    def update(self, y_true: Any, y_pred: Any) -> None:
        t, p = _labels(y_true, y_pred, self.name, self.threshold)
        self.state["correct"] += int(np.count_nonzero(t == p))
        self.state["count"] += int(t.size)

    def result(self) -> float:
        c = self.state["count"]
        return self.state["correct"] / c if c else 0.0


class TopKAccuracy(Metric):
    """Running top-k accuracy; arguments as :func:`top_k_accuracy`.

    Example:
        >>> m = TopKAccuracy(k=1); m.update([1], [[0.2, 0.8]]); m.result()
        1.0
    """

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"TopKAccuracy: k must be a positive int, got {k!r}")
        self.k = int(k)
        super().__init__(name or f"top_{k}_accuracy")

    def reset(self) -> None:
        self.state = {"hits": 0, "count": 0}

    def update(self, y_true: Any, y_pred: Any) -> None:
        hits, n = _top_k_count(y_true, y_pred, self.k, self.name)
        self.state["hits"] += hits
        self.state["count"] += n

    def result(self) -> float:
        c = self.state["count"]
        return self.state["hits"] / c if c else 0.0


class ConfusionMatrix(Metric):
    """Running confusion matrix (grows as new classes appear unless ``num_classes`` is set).

    Example:
        >>> m = ConfusionMatrix(); m.update([0, 1], [1, 1]); m.result().tolist()
        [[0, 1], [0, 1]]
    """

    def __init__(
        self,
        num_classes: int | None = None,
        name: str | None = None,
        threshold: float | None = None,
    ) -> None:
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 1):
            raise ValueError(f"num_classes must be a positive int or None, got {num_classes!r}")
        self.num_classes = num_classes
        self.threshold = threshold
        super().__init__(name)

    def reset(self) -> None:
        c = self.num_classes or 0
        self.state = {"matrix": np.zeros((c, c), np.int64)}

    def update(self, y_true: Any, y_pred: Any) -> None:
        t, p = _labels(y_true, y_pred, self.name, self.threshold)
        _check_negative(t, p, self.name)
        m = self.state["matrix"]
        width = _np(y_pred, self.name)
        c_seen = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
        if width.ndim == t.ndim + 1 and width.ndim > 1 and width.shape[-1] > 0:
            c_seen = max(c_seen, width.shape[-1])
        c = max(m.shape[0], c_seen) if self.num_classes is None else self.num_classes
        new = _confusion(t, p, c, self.name)
        if m.shape[0] < c:
            grown = np.zeros((c, c), np.int64)
            grown[: m.shape[0], : m.shape[0]] = m
            m = grown
        self.state["matrix"] = m + new

    def result(self) -> np.ndarray:
        return self.state["matrix"].copy()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        m = np.asarray(state.get("matrix") if isinstance(state, dict) else None)
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"{self.name}: expected a square 'matrix' state, got {m.shape}")
        self.state = {"matrix": m.astype(np.int64)}


class _PRF(ConfusionMatrix):
    which = ""

    def __init__(
        self,
        average: str | None = "macro",
        num_classes: int | None = None,
        name: str | None = None,
        threshold: float | None = None,
    ) -> None:
        _check_average(average, type(self).__name__)
        self.average = average
        super().__init__(num_classes, name, threshold)

    def result(self) -> Any:
        return _prf_from_confusion(self.state["matrix"], self.average, self.which)


class Precision(_PRF):
    """Running precision from an accumulated confusion matrix; see :func:`precision`.

    Example:
        >>> m = Precision(); m.update([0, 1, 1], [0, 1, 0]); m.result()
        0.75
    """

    which = "precision"


class Recall(_PRF):
    """Running recall; see :func:`recall`.

    Example:
        >>> m = Recall(); m.update([0, 1, 1], [0, 1, 0]); m.result()
        0.75
    """

    which = "recall"


class F1Score(_PRF):
    """Running F1; see :func:`f1_score`.

    Example:
        >>> m = F1Score(average="micro"); m.update([0, 1, 1], [0, 1, 0]); round(m.result(), 4)
        0.6667
    """

    which = "f1"


class MeanAbsoluteError(Metric):
    """Running MAE (float64 totals).

    Example:
        >>> m = MeanAbsoluteError(); m.update([0.0], [2.0]); m.update([1.0], [1.0]); m.result()
        1.0
    """

    def reset(self) -> None:
        self.state = {"total": 0.0, "count": 0}

    def update(self, y_true: Any, y_pred: Any) -> None:
        t, p = _regression(y_true, y_pred, self.name)
        self.state["total"] += float(self._err(t - p).sum())
        self.state["count"] += int(t.size)

    @staticmethod
    def _err(d: np.ndarray) -> np.ndarray:
        return np.abs(d)

    def result(self) -> float:
        c = self.state["count"]
        return self.state["total"] / c if c else 0.0


class MeanSquaredError(MeanAbsoluteError):
    """Running MSE (float64 totals).

    Example:
        >>> m = MeanSquaredError(); m.update([0.0, 0.0], [1.0, 3.0]); m.result()
        5.0
    """

    @staticmethod
    def _err(d: np.ndarray) -> np.ndarray:
        return np.square(d)


class R2Score(Metric):
    r"""Running :math:`R^2`: per column, Chan's parallel update of the mean and
    :math:`\sum (y - \bar y)^2` (no cancellation), and :math:`\sum (y - \hat y)^2`.

    Example:
        >>> m = R2Score(); m.update([1.0, 2.0], [1.0, 2.0]); m.update([3.0], [4.0]); m.result()
        0.5
    """

    def reset(self) -> None:
        self.state = {"n": 0, "mean": None, "m2": None, "ss_res": None}

    def update(self, y_true: Any, y_pred: Any) -> None:
        t, p = _regression(y_true, y_pred, self.name)
        if t.shape[0] == 0:
            return
        t2, p2 = t.reshape(t.shape[0], -1), p.reshape(p.shape[0], -1)
        nb = t2.shape[0]
        mb = t2.mean(axis=0)
        m2b = np.square(t2 - mb).sum(axis=0)
        rb = np.square(t2 - p2).sum(axis=0)
        s = self.state
        if s["n"] == 0:
            s.update(n=nb, mean=mb, m2=m2b, ss_res=rb)
            return
        if s["mean"].shape != mb.shape:
            raise ValueError(
                f"{self.name}: output width changed from {s['mean'].shape} to "
                f"{mb.shape} between updates"
            )
        n = s["n"] + nb
        delta = mb - s["mean"]
        s["mean"] = s["mean"] + delta * (nb / n)
        s["m2"] = s["m2"] + m2b + np.square(delta) * (s["n"] * nb / n)
        s["ss_res"] = s["ss_res"] + rb
        s["n"] = n

    def result(self) -> float:
        if self.state["n"] == 0:
            return 0.0
        return _r2_from(self.state["ss_res"], self.state["m2"])

    def state_dict(self) -> dict[str, Any]:
        s = self.state
        return {
            "n": s["n"],
            **{k: (None if s[k] is None else np.array(s[k])) for k in ("mean", "m2", "ss_res")},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or set(state) != {"n", "mean", "m2", "ss_res"}:
            raise ValueError(f"{self.name}: expected state keys n, mean, m2, ss_res")
        self.state = {
            "n": int(state["n"]),
            **{
                k: (None if state[k] is None else np.asarray(state[k], np.float64))
                for k in ("mean", "m2", "ss_res")
            },
        }


# ---- names ----
_REGISTRY: dict[str, Callable[..., Metric]] = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "top_k_accuracy": TopKAccuracy,
    "top_5_accuracy": lambda name=None, **kw: TopKAccuracy(5, name=name),
    "top_3_accuracy": lambda name=None, **kw: TopKAccuracy(3, name=name),
    "precision": Precision,
    "recall": Recall,
    "f1": F1Score,
    "f1_score": F1Score,
    "precision_micro": lambda name=None, **kw: Precision("micro", name=name, **kw),
    "recall_micro": lambda name=None, **kw: Recall("micro", name=name, **kw),
    "f1_micro": lambda name=None, **kw: F1Score("micro", name=name, **kw),
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "r2": R2Score,
    "r2_score": R2Score,
}


def get_metric(spec: Any, threshold: float | None = None) -> Metric:
    """A fresh :class:`Metric` from a name, a ``Metric`` instance or a function.

    Functions are called as ``fn(y_true, y_pred)`` on NumPy arrays per batch and averaged
    weighted by batch size.

    Raises:
        ValueError: an unknown name; the message lists the valid names and the nearest one.

    Example:
        >>> get_metric("accuracy")
        Accuracy(name='accuracy')
    """
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, str):
        key = spec.lower()
        if key not in _REGISTRY:
            raise ValueError(
                unknown_name(
                    "metric",
                    spec,
                    sorted(_REGISTRY),
                    cutoff=0.5,
                    extra=" Or pass a chainrule.metrics.Metric or a function fn(y_true, y_pred).",
                )
            )
        factory = _REGISTRY[key]
        kw: dict[str, Any] = {"name": spec}
        if threshold is not None and key in (
            "accuracy",
            "acc",
            "precision",
            "recall",
            "f1",
            "f1_score",
            "precision_micro",
            "recall_micro",
            "f1_micro",
        ):
            kw["threshold"] = threshold
        return factory(**kw)
    if callable(spec):
        return MeanMetricWrapper(spec)
    raise TypeError(
        f"a metric must be a name, a chainrule.metrics.Metric or a callable, got "
        f"{type(spec).__name__}"
    )
