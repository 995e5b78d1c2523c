"""Accumulating metrics (Keras's ``update`` / ``result`` / ``reset``) that ``fit`` and
``evaluate`` feed batch by batch, and :func:`get_metric` (the names ``compile`` accepts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._suggest import unknown_name
from chainrule.training.metrics._functions import (
    _check_average,
    _check_negative,
    _confusion,
    _labels,
    _np,
    _prf_from_confusion,
    _r2_from,
    _regression,
    _top_k_count,
)

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
    "get_metric",
]


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
        >>> from chainrule.metrics import mean_absolute_error
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
