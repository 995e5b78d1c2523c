"""``chainrule.recommend``: the notes' table of task -> output activation, loss, optimizer.

Notes 002 end their optimizer section with a table "adjusted based on the number of independent
features and data size". It is reproduced here as data (:data:`TABLE`), one row per line:

=========================  ===============  ===========  =========================  =============
Scenario                   Task             Activation   Loss function              Optimizer
=========================  ===============  ===========  =========================  =============
More independent features  Regression       None / ReLU  Mean Squared Error (MSE)   Adam, RMSprop
Less independent features  Regression       None / ReLU  Mean Squared Error (MSE)   Adam, SGD
Large dataset              Binary Class.    Sigmoid      Binary Cross-Entropy       Adam, RMSprop
Small dataset              Binary Class.    Sigmoid      Binary Cross-Entropy       Adam, SGD
More independent features  Multiclass       Softmax      Categorical Cross-Entropy  Adam, RMSprop
Less independent features  Multiclass       Softmax      Categorical Cross-Entropy  Adam, SGD
Large dataset              Deep (CNN, RNN)  ReLU         Cross-Entropy              Adam, RMSprop
Small dataset              Deep (CNN, RNN)  ReLU         Cross-Entropy              Adam, SGD
=========================  ===============  ===========  =========================  =============

The notes do not say where "more" features or a "large" dataset begin; chainrule draws the lines
at :data:`MANY_FEATURES` = 20 features and :data:`LARGE_DATASET` = 10,000 samples (both can be
passed to :func:`recommend`). In the deep-learning rows the activation column is the hidden
layers' (ReLU); their output activation follows the class count, as in the classification rows.

The loss names are the ones ``compile(loss=...)`` takes. The classification losses are the fused,
numerically stable forms (PyTorch's ``CrossEntropyLoss`` and ``BCEWithLogitsLoss``): they apply
the softmax or sigmoid themselves, so the model's last layer outputs raw scores (logits) and the
activation is applied only to read probabilities (``from_logits`` is then true).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chainrule._suggest import unknown_name

__all__ = ["LARGE_DATASET", "MANY_FEATURES", "TABLE", "TASKS", "Recommendation", "recommend"]

MANY_FEATURES = 20
LARGE_DATASET = 10_000

# (task, scenario, activation column, loss column, optimizer column), as in notes 002.
TABLE: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "regression",
        "More independent features",
        "None / ReLU",
        "Mean Squared Error (MSE)",
        "Adam, RMSprop",
    ),
    (
        "regression",
        "Less independent features",
        "None / ReLU",
        "Mean Squared Error (MSE)",
        "Adam, SGD",
    ),
    ("binary", "Large dataset", "Sigmoid", "Binary Cross-Entropy", "Adam, RMSprop"),
    ("binary", "Small dataset", "Sigmoid", "Binary Cross-Entropy", "Adam, SGD"),
    (
        "multiclass",
        "More independent features",
        "Softmax",
        "Categorical Cross-Entropy",
        "Adam, RMSprop",
    ),
    (
        "multiclass",
        "Less independent features",
        "Softmax",
        "Categorical Cross-Entropy",
        "Adam, SGD",
    ),
    ("deep", "Large dataset", "ReLU", "Cross-Entropy", "Adam, RMSprop"),
    ("deep", "Small dataset", "ReLU", "Cross-Entropy", "Adam, SGD"),
)

_TASK_LABEL = {
    "regression": "Regression",
    "binary": "Binary Classification",
    "multiclass": "Multiclass Classification",
    "deep": "Deep Learning (CNNs, RNNs)",
}

TASKS: dict[str, str] = {
    "regression": "regression",
    "binary": "binary",
    "binary_classification": "binary",
    "multiclass": "multiclass",
    "multiclass_classification": "multiclass",
    "multi_class": "multiclass",
    "classification": "classification",  # binary or multiclass by n_classes
    "deep": "deep",
    "deep_learning": "deep",
    "cnn": "deep",
    "rnn": "deep",
    "image": "deep",
    "sequence": "deep",
}

_LOSS = {  # table's loss column -> compile() name
    "Mean Squared Error (MSE)": "mse",
    "Binary Cross-Entropy": "bce_with_logits",
    "Categorical Cross-Entropy": "cross_entropy",
}


@dataclass(frozen=True)
class Recommendation:
    """One row of the notes' table, made concrete for a problem.

    Attributes:
        task: ``"regression"``, ``"binary"``, ``"multiclass"`` or ``"deep"``.
        scenario: the table's scenario column for this problem ("Small dataset", ...).
        output_activation: ``"identity"`` (no activation), ``"sigmoid"`` or ``"softmax"``.
        hidden_activation: ``"relu"`` (the notes: "standard ReLU is often chosen").
        loss: a loss name for ``compile(loss=...)``: ``"mse"``, ``"bce_with_logits"`` or
            ``"cross_entropy"``.
        from_logits: the loss applies the output activation itself, so the model ends in a
            ``Linear`` layer without it.
        optimizer: the first optimizer the row names (``"adam"``), for ``compile``.
        alternatives: the other optimizer(s) the row names (``("rmsprop",)`` or ``("sgd",)``).
        out_features: units of the output layer (1 for regression and binary, else classes).
        reason: one line quoting the table row and why it applies.
    """

    task: str
    scenario: str
    output_activation: str
    hidden_activation: str
    loss: str
    from_logits: bool
    optimizer: str
    alternatives: tuple[str, ...]
    out_features: int
    reason: str

    def loss_module(self) -> Any:
        """The loss as a ``chainrule.nn`` module (``MSELoss``, ``BCEWithLogitsLoss``,
        ``CrossEntropyLoss``), for a hand-written training loop."""
        from chainrule import nn

        name = {
            "mse": "MSELoss",
            "bce_with_logits": "BCEWithLogitsLoss",
            "cross_entropy": "CrossEntropyLoss",
        }[self.loss]
        return getattr(nn, name)()


def _check_count(name: str, value: Any, least: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"recommend: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < least:
        raise ValueError(f"recommend: {name} must be >= {least}, got {value}")
    return value


def _need(task: str, name: str, value: int | None, why: str) -> int:
    if value is None:
        raise ValueError(f"recommend(task={task!r}) needs {name}= to {why}")
    return value


def recommend(
    task: str,
    n_classes: int | None = None,
    n_samples: int | None = None,
    n_features: int | None = None,
    *,
    many_features: int = MANY_FEATURES,
    large_dataset: int = LARGE_DATASET,
) -> Recommendation:
    """Output activation, loss and optimizer for a task, from the notes' table (002).

    Args:
        task: ``"regression"``, ``"binary"``, ``"multiclass"``, ``"classification"`` (binary
            or multiclass by ``n_classes``), or ``"deep"`` (a CNN or RNN classifier; also
            ``"cnn"``, ``"rnn"``, ``"image"``, ``"sequence"``).
        n_classes: number of classes (classification); 2 means binary.
        n_samples: training-set size: picks the "Large/Small dataset" rows (binary, deep).
        n_features: independent input features: picks the "More/Less independent features"
            rows (regression, multiclass).
        many_features: from this many features on, a problem has "more independent features".
        large_dataset: from this many samples on, a dataset is "large".

    Returns:
        A :class:`Recommendation`.

    Raises:
        ValueError: unknown task (the valid ones and the nearest are listed), a count below
            its minimum, a class count that contradicts the task, or the count that picks the
            row is missing.
        TypeError: a count is not an int.

    Example:
        >>> import chainrule as cr
        >>> r = cr.recommend(task="classification", n_classes=3, n_samples=178, n_features=13)
        >>> r.output_activation, r.loss, r.optimizer, r.alternatives, r.out_features
        ('softmax', 'cross_entropy', 'adam', ('sgd',), 3)
        >>> print(r.reason)  # doctest: +NORMALIZE_WHITESPACE
        notes 002, row 'Less independent features | Multiclass Classification | Softmax |
        Categorical Cross-Entropy | Adam, SGD': 13 features < 20; the loss applies the softmax,
        so the model outputs logits
    """
    if not isinstance(task, str):
        raise TypeError(f"recommend: task must be a string, got {type(task).__name__}")
    key = task.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in TASKS:
        raise ValueError(unknown_name("task", task, TASKS, owner="recommend", valid="tasks"))
    n_classes = _check_count("n_classes", n_classes, 2)
    n_samples = _check_count("n_samples", n_samples, 1)
    n_features = _check_count("n_features", n_features, 1)
    kind = TASKS[key]
    if kind == "classification":
        _need(task, "n_classes", n_classes, "choose between binary and multiclass")
        kind = "binary" if n_classes == 2 else "multiclass"
    if kind == "binary" and n_classes not in (None, 2):
        raise ValueError(
            f"recommend: task {task!r} is binary but n_classes={n_classes}; use task='multiclass'"
        )
    if kind == "multiclass":
        _need(task, "n_classes", n_classes, "size the output layer")
        if n_classes == 2:
            raise ValueError(
                "recommend: n_classes=2 is binary classification (one sigmoid output); use "
                "task='binary'"
            )
    if kind == "deep":
        _need(task, "n_classes", n_classes, "size the output layer")

    if kind in ("regression", "multiclass"):
        n_features = _need(
            task,
            "n_features",
            n_features,
            "choose between the 'More' and 'Less independent features' rows",
        )
        more = n_features >= many_features
        scenario = "More independent features" if more else "Less independent features"
        why = f"{n_features} features {'>=' if more else '<'} {many_features}"
    else:
        n_samples = _need(
            task, "n_samples", n_samples, "choose between the 'Large' and 'Small dataset' rows"
        )
        large = n_samples >= large_dataset
        scenario = "Large dataset" if large else "Small dataset"
        why = f"{n_samples:,} samples {'>=' if large else '<'} {large_dataset:,}"

    row = next(r for r in TABLE if r[0] == kind and r[1] == scenario)
    _, _, act_col, loss_col, opt_col = row
    optimizers = tuple(o.strip().lower() for o in opt_col.split(","))
    if kind == "regression":
        output, loss, out_features, logits = "identity", "mse", 1, False
        note = "no output activation (use ReLU only for a target that cannot be negative)"
    else:
        binary = kind == "binary" or n_classes == 2
        output = "sigmoid" if binary else "softmax"
        loss = _LOSS["Binary Cross-Entropy" if binary else "Categorical Cross-Entropy"]
        out_features = 1 if binary else int(n_classes)  # type: ignore[arg-type]
        logits = True
        note = f"the loss applies the {output}, so the model outputs logits"
        if kind == "deep":
            note = f"ReLU in the hidden layers; {note}"
    quoted = " | ".join((scenario, _TASK_LABEL[kind], act_col, loss_col, opt_col))
    return Recommendation(
        task=kind,
        scenario=scenario,
        output_activation=output,
        hidden_activation="relu",
        loss=loss,
        from_logits=logits,
        optimizer=optimizers[0],
        alternatives=optimizers[1:],
        out_features=out_features,
        reason=f"notes 002, row '{quoted}': {why}; {note}",
    )
