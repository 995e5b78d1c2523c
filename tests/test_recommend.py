"""chainrule.recommend: the notes' (002) task -> output activation / loss / optimizer table."""

from __future__ import annotations

import doctest
import glob
import importlib
import os
import re

import pytest

import chainrule as cr

# the module (chainrule.models.recommend is also the function's name)
rec_mod = importlib.import_module("chainrule.models.recommend")

# The table as the notes print it (../shared/seeds/002_*.txt), copied by hand:
# scenario, task, activation, loss, optimizers.
NOTES_TABLE = [
    (
        "More independent features",
        "Regression",
        "None / ReLU",
        "Mean Squared Error (MSE)",
        "Adam, RMSprop",
    ),
    (
        "Less independent features",
        "Regression",
        "None / ReLU",
        "Mean Squared Error (MSE)",
        "Adam, SGD",
    ),
    ("Large dataset", "Binary Classification", "Sigmoid", "Binary Cross-Entropy", "Adam, RMSprop"),
    ("Small dataset", "Binary Classification", "Sigmoid", "Binary Cross-Entropy", "Adam, SGD"),
    (
        "More independent features",
        "Multiclass Classification",
        "Softmax",
        "Categorical Cross-Entropy",
        "Adam, RMSprop",
    ),
    (
        "Less independent features",
        "Multiclass Classification",
        "Softmax",
        "Categorical Cross-Entropy",
        "Adam, SGD",
    ),
    ("Large dataset", "Deep Learning (CNNs, RNNs)", "ReLU", "Cross-Entropy", "Adam, RMSprop"),
    ("Small dataset", "Deep Learning (CNNs, RNNs)", "ReLU", "Cross-Entropy", "Adam, SGD"),
]

# One call per row, and what it must give:
# kwargs, task, output activation, loss, optimizer, alternatives, out_features
ROWS = [
    (
        dict(task="regression", n_features=64),
        "regression",
        "identity",
        "mse",
        "adam",
        ("rmsprop",),
        1,
    ),
    (
        dict(task="regression", n_features=10, n_samples=442),
        "regression",
        "identity",
        "mse",
        "adam",
        ("sgd",),
        1,
    ),
    (
        dict(task="binary", n_samples=50_000),
        "binary",
        "sigmoid",
        "bce_with_logits",
        "adam",
        ("rmsprop",),
        1,
    ),
    (
        dict(task="binary", n_samples=569, n_features=30),
        "binary",
        "sigmoid",
        "bce_with_logits",
        "adam",
        ("sgd",),
        1,
    ),
    (
        dict(task="multiclass", n_classes=10, n_features=784),
        "multiclass",
        "softmax",
        "cross_entropy",
        "adam",
        ("rmsprop",),
        10,
    ),
    (
        dict(task="multiclass", n_classes=3, n_features=13),
        "multiclass",
        "softmax",
        "cross_entropy",
        "adam",
        ("sgd",),
        3,
    ),
    (
        dict(task="cnn", n_classes=10, n_samples=60_000),
        "deep",
        "softmax",
        "cross_entropy",
        "adam",
        ("rmsprop",),
        10,
    ),
    (
        dict(task="deep", n_classes=10, n_samples=1_797),
        "deep",
        "softmax",
        "cross_entropy",
        "adam",
        ("sgd",),
        10,
    ),
]


def test_table_is_the_notes_table():
    assert [r[1:] for r in rec_mod.TABLE] == [(s, a, lo, o) for s, _, a, lo, o in NOTES_TABLE]
    labels = [rec_mod._TASK_LABEL[r[0]] for r in rec_mod.TABLE]
    assert labels == [t for _, t, *_ in NOTES_TABLE]


def test_table_matches_the_notes_file():
    paths = glob.glob(os.path.join(os.path.dirname(__file__), "../../shared/seeds/002_*.txt"))
    if not paths:
        pytest.skip("the notes (../shared/seeds/002_*.txt) are not next to this checkout")
    with open(paths[0], encoding="utf-8") as f:
        text = f.read()
    start = text.index("| Scenario")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [re.sub(r"\*\*", "", c).strip() for c in line.strip("|").split("|")]
        rows.append(tuple(cells))
    assert rows == NOTES_TABLE


@pytest.mark.parametrize("row", range(len(ROWS)))
def test_each_row(row):
    kwargs, task, act, loss, opt, alts, out = ROWS[row]
    r = cr.recommend(**kwargs)
    scenario, task_label, act_col, loss_col, opt_col = NOTES_TABLE[row]
    assert (r.task, r.scenario, r.output_activation, r.loss, r.optimizer, r.alternatives) == (
        task,
        scenario,
        act,
        loss,
        opt,
        alts,
    )
    assert r.out_features == out
    assert r.hidden_activation == "relu"
    assert r.from_logits == (task != "regression")
    quoted = f"'{scenario} | {task_label} | {act_col} | {loss_col} | {opt_col}'"
    assert r.reason.startswith(f"notes 002, row {quoted}: ")
    assert "\n" not in r.reason


def test_reason_says_why():
    r = cr.recommend(task="regression", n_features=10)
    assert "10 features < 20" in r.reason and "no output activation" in r.reason
    r = cr.recommend(task="binary", n_samples=569)
    assert "569 samples < 10,000" in r.reason and "applies the sigmoid" in r.reason
    r = cr.recommend(task="image", n_classes=10, n_samples=60_000)
    assert "60,000 samples >= 10,000" in r.reason and "ReLU in the hidden layers" in r.reason


def test_thresholds_and_overrides():
    assert cr.recommend(task="regression", n_features=19).scenario.startswith("Less")
    assert cr.recommend(task="regression", n_features=20).scenario.startswith("More")
    assert cr.recommend(task="binary", n_samples=9_999).scenario == "Small dataset"
    assert cr.recommend(task="binary", n_samples=10_000).scenario == "Large dataset"
    assert cr.recommend(task="binary", n_samples=500, large_dataset=500).scenario == "Large dataset"
    r = cr.recommend(task="multiclass", n_classes=3, n_features=13, many_features=10)
    assert r.scenario == "More independent features" and r.alternatives == ("rmsprop",)


def test_classification_picks_binary_or_multiclass():
    two = cr.recommend(task="classification", n_classes=2, n_samples=100)
    assert (two.task, two.output_activation, two.loss, two.out_features) == (
        "binary",
        "sigmoid",
        "bce_with_logits",
        1,
    )
    three = cr.recommend(task="Classification", n_classes=3, n_features=4)
    assert (three.task, three.output_activation, three.out_features) == ("multiclass", "softmax", 3)
    deep2 = cr.recommend(task="rnn", n_classes=2, n_samples=100)
    assert (deep2.output_activation, deep2.loss, deep2.out_features) == (
        "sigmoid",
        "bce_with_logits",
        1,
    )
    assert cr.recommend(task="Binary Classification", n_samples=10).task == "binary"
    assert cr.recommend(task="multi-class", n_classes=4, n_features=3).task == "multiclass"


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (
            dict(task="regresion", n_features=3),
            ValueError,
            r"unknown task 'regresion'; valid tasks: regression, binary.*Did you mean 'regression'",
        ),
        (dict(task="clustering"), ValueError, r"unknown task 'clustering'"),
        (dict(task=3), TypeError, r"task must be a string, got int"),
        (
            dict(task="regression"),
            ValueError,
            r"recommend\(task='regression'\) needs n_features= to choose between the 'More' and "
            r"'Less independent features' rows",
        ),
        (dict(task="binary"), ValueError, r"needs n_samples= to choose between the 'Large'"),
        (
            dict(task="classification", n_samples=10),
            ValueError,
            r"needs n_classes= to choose between binary and multiclass",
        ),
        (dict(task="multiclass", n_features=4), ValueError, r"needs n_classes= to size"),
        (dict(task="deep", n_samples=4), ValueError, r"needs n_classes= to size"),
        (dict(task="multiclass", n_classes=2, n_features=4), ValueError, r"use task='binary'"),
        (
            dict(task="binary", n_classes=3, n_samples=5),
            ValueError,
            r"binary but n_classes=3; use task='multiclass'",
        ),
        (
            dict(task="multiclass", n_classes=1, n_features=4),
            ValueError,
            r"n_classes must be >= 2, got 1",
        ),
        (dict(task="binary", n_samples=0), ValueError, r"n_samples must be >= 1, got 0"),
        (
            dict(task="regression", n_features=2.5),
            TypeError,
            r"n_features must be an int, got float",
        ),
        (dict(task="regression", n_features=True), TypeError, r"n_features must be an int"),
    ],
)
def test_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        cr.recommend(**kwargs)


def test_result_is_frozen():
    r = cr.recommend(task="regression", n_features=3)
    with pytest.raises(AttributeError):
        r.loss = "mae"  # type: ignore[misc]


def test_docstring_examples():
    result = doctest.testmod(rec_mod)
    assert result.failed == 0 and result.attempted > 0


def test_mlp_tabular_example_learns():
    """examples/mlp_tabular.py --quick (40 epochs each; measured: breast cancer 0.965 against
    0.629 for the majority class, wine 1.000 against 0.400, diabetes MAE 43.8 against 58.3 for
    the training mean and 45.1 for least squares; about 1 s)."""
    pytest.importorskip("sklearn", reason="scikit-learn (an example dependency) is not installed")
    from example_helpers import load_example

    result = load_example("mlp_tabular").main(["--quick", "--quiet"])
    assert result["breast_cancer"]["accuracy"] > 0.92
    assert result["breast_cancer"]["majority"] < 0.7
    assert result["wine"]["accuracy"] > 0.9
    assert result["diabetes"]["mae"] < 0.85 * result["diabetes"]["mean_mae"]


@pytest.mark.parametrize("row", range(len(ROWS)))
def test_names_work_with_compile_and_loss_module(row, rng):
    from chainrule.training.trainer import LOSSES

    r = cr.recommend(**ROWS[row][0])
    assert r.loss in LOSSES
    assert r.optimizer in cr.optim.OPTIMIZERS
    assert all(a in cr.optim.OPTIMIZERS for a in r.alternatives)
    model = cr.models.mlp(3, (4,), r.out_features)
    model.compile(optimizer=r.optimizer, loss=r.loss)
    out = model(cr.tensor(rng.standard_normal((5, 3)).astype("float32")))
    if r.loss == "cross_entropy":
        target = cr.tensor(rng.integers(0, r.out_features, 5))
    else:
        target = cr.tensor(rng.integers(0, 2, (5, 1)).astype("float32"))
    by_name = getattr(cr.nn.functional, LOSSES[r.loss])(out, target)
    assert float(r.loss_module()(out, target)) == pytest.approx(float(by_name))
