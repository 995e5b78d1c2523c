"""chainrule.metrics against scikit-learn: functions, accumulators over batches, resume state."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

import chainrule as cr
from chainrule import metrics as M


def _cls(rng: np.random.Generator, n: int = 200, c: int = 5):
    y = rng.integers(0, c, n)
    scores = rng.normal(size=(n, c))
    scores[np.arange(n), y] += 1.0  # better than chance
    return y, scores


def test_accuracy_forms(rng: np.random.Generator) -> None:
    y, s = _cls(rng)
    pred = s.argmax(1)
    ref = skm.accuracy_score(y, pred)
    assert M.accuracy(y, s) == ref  # scores -> arg-max
    assert M.accuracy(y, pred) == ref  # labels
    assert M.accuracy(np.eye(5)[y], s) == ref  # one-hot targets
    assert M.accuracy(cr.tensor(y), cr.tensor(s)) == ref  # tensors
    yb = rng.integers(0, 2, 100)
    p = rng.random(100)
    assert M.accuracy(yb, p) == skm.accuracy_score(yb, p > 0.5)  # probabilities
    assert M.accuracy(yb, p - 0.5, threshold=0.0) == skm.accuracy_score(yb, p > 0.5)  # logits
    assert M.accuracy(yb, p[:, None]) == skm.accuracy_score(yb, p > 0.5)  # (N, 1) outputs
    ym = rng.integers(0, 2, (50, 3)).astype(np.float32)  # multi-label, element-wise
    pm = rng.random((50, 3))
    assert M.accuracy(ym, pm, threshold=0.5) == np.mean(ym == (pm > 0.5))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracy(rng: np.random.Generator, k: int) -> None:
    y, s = _cls(rng)
    ref = skm.top_k_accuracy_score(y, s, k=k, labels=np.arange(5))
    assert M.top_k_accuracy(y, s, k=k) == pytest.approx(ref, abs=0)
    m = M.TopKAccuracy(k=k)
    for i in range(0, 200, 64):
        m.update(y[i : i + 64], s[i : i + 64])
    assert m.result() == pytest.approx(ref, abs=1e-15)
    assert m.name == f"top_{k}_accuracy"


@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
@pytest.mark.parametrize("which", ["precision", "recall", "f1"])
def test_prf_vs_sklearn(rng: np.random.Generator, average: str | None, which: str) -> None:
    y, s = _cls(rng, c=6)
    pred = s.argmax(1)
    pred[pred == 5] = 4  # class 5 never predicted: its precision is 0/0 -> 0
    sk = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}
    ours = {"precision": M.precision, "recall": M.recall, "f1": M.f1_score}[which]
    ref = sk[which](y, pred, average=average, zero_division=0)
    np.testing.assert_allclose(ours(y, pred, average=average), ref, rtol=1e-12, atol=0)
    cls = {"precision": M.Precision, "recall": M.Recall, "f1": M.F1Score}[which]
    m = cls(average=average)
    for i in range(0, 200, 30):
        m.update(y[i : i + 30], pred[i : i + 30])
    np.testing.assert_allclose(m.result(), ref, rtol=1e-12, atol=0)


def test_prf_macro_skips_absent_classes(rng: np.random.Generator) -> None:
    """scikit-learn averages over labels present in y_true or y_pred; so do we."""
    y = np.array([0, 0, 3, 3])
    p = np.array([0, 3, 3, 3])
    for ours, sk in (
        (M.precision, skm.precision_score),
        (M.recall, skm.recall_score),
        (M.f1_score, skm.f1_score),
    ):
        assert ours(y, p) == pytest.approx(sk(y, p, average="macro"), abs=1e-15)


def test_binary_average(rng: np.random.Generator) -> None:
    y = rng.integers(0, 2, 80)
    p = rng.random(80)
    for ours, sk in (
        (M.precision, skm.precision_score),
        (M.recall, skm.recall_score),
        (M.f1_score, skm.f1_score),
    ):
        assert ours(y, p, average="binary") == pytest.approx(sk(y, p > 0.5), abs=1e-15)


def test_confusion_matrix(rng: np.random.Generator) -> None:
    y, s = _cls(rng)
    pred = s.argmax(1)
    ref = skm.confusion_matrix(y, pred, labels=np.arange(5))
    np.testing.assert_array_equal(M.confusion_matrix(y, s), ref)
    np.testing.assert_array_equal(M.confusion_matrix(y, pred, num_classes=7)[:5, :5], ref)
    m = M.ConfusionMatrix()
    m.update(y[:3] * 0, pred[:3] * 0)  # only class 0 seen: grows later
    m.update(y[3:], s[3:])
    full = M.confusion_matrix(y[3:], pred[3:], num_classes=5)
    full[0, 0] += 3
    np.testing.assert_array_equal(m.result(), full)


@pytest.mark.parametrize("shape", [(120,), (120, 3)])
def test_regression_vs_sklearn(rng: np.random.Generator, shape: tuple[int, ...]) -> None:
    y = rng.normal(size=shape) * 3 + 1
    p = y + rng.normal(size=shape)
    pairs = [
        (M.mean_absolute_error, skm.mean_absolute_error, M.MeanAbsoluteError),
        (M.mean_squared_error, skm.mean_squared_error, M.MeanSquaredError),
        (M.r2_score, skm.r2_score, M.R2Score),
    ]
    for fn, sk, cls in pairs:
        ref = sk(y, p)
        assert fn(y, p) == pytest.approx(ref, rel=1e-12)
        m = cls()
        for i in range(0, 120, 25):  # uneven last batch
            m.update(y[i : i + 25], p[i : i + 25])
        assert m.result() == pytest.approx(ref, rel=1e-12), fn.__name__


def test_r2_constant_column_and_stability(rng: np.random.Generator) -> None:
    y = np.stack([np.full(10, 2.0), rng.normal(size=10)], axis=1)
    p = y.copy()
    p[:, 1] += 0.1
    assert M.r2_score(y, p) == pytest.approx(skm.r2_score(y, p), rel=1e-12)
    p[0, 0] = 3.0  # constant target, imperfect prediction -> 0
    assert M.r2_score(y, p) == pytest.approx(skm.r2_score(y, p), rel=1e-12)
    # a large offset: naive sum-of-squares accumulation would cancel catastrophically
    big = 1e8 + rng.normal(size=1000)
    pb = big + 0.1 * rng.normal(size=1000)
    m = M.R2Score()
    for i in range(0, 1000, 7):
        m.update(big[i : i + 7], pb[i : i + 7])
    assert m.result() == pytest.approx(skm.r2_score(big, pb), rel=1e-9)


@pytest.mark.parametrize(
    "name", ["accuracy", "top_3_accuracy", "precision", "f1_micro", "mae", "r2", "confusion_matrix"]
)
def test_state_dict_resume_is_exact(rng: np.random.Generator, name: str) -> None:
    """An accumulator restored from state_dict mid-way ends exactly where an uninterrupted
    one does (the partial-epoch totals of exact resume)."""
    y, s = _cls(rng)
    if name in ("mae", "r2"):
        y, s = s[:, 0], s[:, 1]
    make = (
        (lambda: M.ConfusionMatrix())
        if name == "confusion_matrix"
        else (lambda: M.get_metric(name))
    )
    a, b = make(), make()
    for i in range(0, 200, 40):
        a.update(y[i : i + 40], s[i : i + 40])
        if i < 80:
            b.update(y[i : i + 40], s[i : i + 40])
    state = b.state_dict()
    c = make()
    c.load_state_dict(state)
    for i in range(80, 200, 40):
        c.update(y[i : i + 40], s[i : i + 40])
    ra, rc = np.asarray(a.result()), np.asarray(c.result())
    assert ra.tobytes() == rc.tobytes()
    a.reset()
    assert make().state_dict().keys() == a.state_dict().keys()


def test_mean_and_wrapper() -> None:
    m = M.Mean()
    m.update(2.0, 3)
    m.update(5.0, 1)
    assert m.result() == 11 / 4
    w = M.get_metric(lambda t, p: float(np.max(np.abs(np.asarray(t) - np.asarray(p)))))
    w.update([0.0, 1.0], [0.5, 1.0])
    w.update([0.0], [2.0])
    assert w.result() == pytest.approx((0.5 * 2 + 2.0) / 3)


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown metric 'acuracy'.*Did you mean 'accuracy'"):
        M.get_metric("acuracy")
    with pytest.raises(ValueError, match=r"same number of samples.*3.*2"):
        M.accuracy([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="negative class label"):
        M.confusion_matrix([0, -1], [0, 1])
    with pytest.raises(ValueError, match="average must be one of"):
        M.precision([0, 1], [0, 1], average="samples")
    with pytest.raises(ValueError, match="k must be a positive int"):
        M.top_k_accuracy([0], [[1.0, 0.0]], k=0)
    with pytest.raises(ValueError, match=r"y_true\[1\] = 4 is outside \[0, 1\]"):
        M.top_k_accuracy([0, 4], [[1.0, 0.0], [0.0, 1.0]], k=1)
    with pytest.raises(ValueError, match="not one-hot"):
        M.accuracy(np.array([[0.2, 0.8]]), np.array([[0.1, 0.9]]))
    with pytest.raises(ValueError, match="average='binary' needs two classes"):
        M.precision([0, 1, 2], [0, 1, 2], average="binary")
    with pytest.raises(TypeError, match="a metric must be"):
        M.get_metric(3)
    m = M.Accuracy()
    with pytest.raises(ValueError, match="state keys"):
        m.load_state_dict({"correct": 1})
