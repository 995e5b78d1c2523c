r"""Keras's ``compile``: attach an optimizer, the loss(es), loss weights and metrics to a model.

Names are resolved here, so a misspelled loss, metric or optimizer fails at ``compile`` time
with the valid names listed and the nearest suggested (RELIABILITY A9). :class:`Compiled` is
what ``fit``/``evaluate`` (:mod:`chainrule.training.trainer`) read back: the loss, weight and
metrics of each output of a model with several outputs.
"""

from __future__ import annotations

from typing import Any

from chainrule._suggest import unknown_name
from chainrule.training.state import jsonable

__all__ = ["LOSSES", "Compiled", "compile_model", "compiled_of"]

#: ``compile(loss=name)`` names (Keras and PyTorch spellings) -> ``chainrule.nn.functional``.
LOSSES: dict[str, str] = {
    "cross_entropy": "cross_entropy",
    "categorical_crossentropy": "cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy",
    "nll": "nll_loss",
    "nll_loss": "nll_loss",
    "mse": "mse_loss",
    "mean_squared_error": "mse_loss",
    "mae": "l1_loss",
    "l1": "l1_loss",
    "mean_absolute_error": "l1_loss",
    "bce": "binary_cross_entropy",
    "binary_crossentropy": "binary_cross_entropy",
    "bce_with_logits": "binary_cross_entropy_with_logits",
    "huber": "huber_loss",
    "smooth_l1": "smooth_l1_loss",
    "kl_div": "kl_div",
}
_MODULE_LOSSES = {
    "CrossEntropyLoss": "cross_entropy",
    "NLLLoss": "nll_loss",
    "MSELoss": "mse_loss",
    "L1Loss": "l1_loss",
    "BCELoss": "binary_cross_entropy",
    "BCEWithLogitsLoss": "binary_cross_entropy_with_logits",
    "HuberLoss": "huber_loss",
    "SmoothL1Loss": "smooth_l1_loss",
    "KLDivLoss": "kl_div",
}
#: Keras's default learning rates for optimizers given by name.
_DEFAULT_LR = {"sgd": 0.01}


def _resolve_loss(spec: Any) -> tuple[Any, str]:
    if isinstance(spec, str):
        key = spec.lower()
        if key not in LOSSES:
            raise ValueError(
                unknown_name("loss", spec, sorted(LOSSES), owner="compile", cutoff=0.5)
            )
        from chainrule.nn import functional as F

        fn = getattr(F, LOSSES[key], None)
        if fn is None:
            raise ValueError(
                f"loss {spec!r} needs chainrule.nn.functional.{LOSSES[key]}, "
                "which this build does not provide"
            )
        return fn, LOSSES[key]
    if callable(spec):
        label = (
            _MODULE_LOSSES.get(type(spec).__name__)
            or getattr(spec, "__name__", None)
            or type(spec).__name__
        )
        return spec, label
    raise TypeError(
        f"loss must be a name, a loss Module or a callable loss(output, target), "
        f"got {type(spec).__name__}"
    )


class Compiled:
    """What ``compile`` attached: the optimizer, the loss(es), weights and metrics."""

    def __init__(self, optimizer: Any, loss: Any, loss_weights: Any, metrics: Any) -> None:
        self.optimizer = optimizer
        self.loss, self.loss_weights, self.metrics = loss, loss_weights, metrics
        # Resolve now, so a wrong name fails at compile time.
        for spec in _iter_specs(loss):
            if spec is not None:
                _resolve_loss(spec)
        from chainrule.training.metrics import get_metric

        for spec in _iter_metric_specs(metrics):
            get_metric(spec)

    @staticmethod
    def _pick(spec: Any, i: int, key: Any, n: int, what: str) -> Any:
        if isinstance(spec, dict):
            name = str(key) if key is not None and not isinstance(key, int) else f"output_{i}"
            return spec.get(name, spec.get(key)) if key is not None else None
        if isinstance(spec, (list, tuple)):
            if len(spec) != n:
                raise ValueError(
                    f"compile: {what} has {len(spec)} entries but the model has {n} outputs"
                )
            return spec[i]
        return spec

    def loss_for(self, i: int, key: Any, n: int) -> tuple[Any, str | None]:
        if self.loss is None:
            raise RuntimeError(
                "the model was compiled without a loss; call "
                "model.compile(optimizer=..., loss=...) first"
            )
        if n == 1 and key is None and isinstance(self.loss, dict):
            raise ValueError("compile: loss is a dict but the model has a single output")
        spec = self._pick(self.loss, i, key, n, "loss")
        return (None, None) if spec is None else _resolve_loss(spec)

    def weight_for(self, i: int, key: Any, n: int) -> float:
        if self.loss_weights is None:
            return 1.0
        w = self._pick(self.loss_weights, i, key, n, "loss_weights")
        return 1.0 if w is None else float(w)

    def metrics_for(self, i: int, key: Any, n: int) -> list[Any]:
        m = self.metrics
        if m is None:
            return []
        if isinstance(m, dict):
            name = str(key) if key is not None and not isinstance(key, int) else f"output_{i}"
            got = m.get(name, m.get(key)) if key is not None else None
            if got is None and key is None:
                raise ValueError("compile: metrics is a dict but the model has a single output")
            return [] if got is None else (list(got) if isinstance(got, (list, tuple)) else [got])
        if isinstance(m, (list, tuple)):
            if n > 1 and m and all(isinstance(v, (list, tuple)) for v in m):
                if len(m) != n:
                    raise ValueError(
                        f"compile: metrics has {len(m)} lists but the model has {n} outputs"
                    )
                return list(m[i])
            return list(m)
        return [m]

    def describe(self) -> dict[str, Any]:
        def name(s: Any) -> Any:
            if isinstance(s, dict):
                return {str(k): name(v) for k, v in s.items()}
            if isinstance(s, (list, tuple)):
                return [name(v) for v in s]
            return (
                s
                if isinstance(s, (str, int, float)) or s is None
                else getattr(s, "name", None) or getattr(s, "__name__", None) or type(s).__name__
            )

        return {
            "loss": name(self.loss),
            "loss_weights": jsonable(self.loss_weights),
            "metrics": name(self.metrics),
        }


def _iter_specs(s: Any) -> list[Any]:
    if isinstance(s, dict):
        return list(s.values())
    if isinstance(s, (list, tuple)):
        return list(s)
    return [s]


def _iter_metric_specs(m: Any) -> list[Any]:
    out = []
    for v in _iter_specs(m) if m is not None else []:
        out += list(v) if isinstance(v, (list, tuple)) else [v]
    return out


def compile_model(
    model: Any,
    optimizer: Any = "adam",
    loss: Any = None,
    metrics: Any = None,
    loss_weights: Any = None,
    lr: float | None = None,
    learning_rate: float | None = None,
    **kwargs: Any,
) -> None:
    """Attach an optimizer, a loss and metrics for :func:`fit` (Keras's ``compile``).

    Args:
        model: the module to train.
        optimizer: an optimizer instance built on ``model.parameters()``, a name
            (``'sgd'``, ``'adam'``, ``'adamw'``, ``'rmsprop'``, ``'adagrad'``, ``'adadelta'``,
            ``'nadam'``; PyTorch's defaults, SGD 0.01) used with ``lr``, or a callable
            ``params -> optimizer``.
        loss: a name (see :data:`LOSSES`: ``'cross_entropy'``, ``'mse'``,
            ``'bce_with_logits'``...), a loss module or function ``loss(output, target)``,
            or a list/dict of them for several outputs.
        metrics: names (``'accuracy'``, ``'top_5_accuracy'``, ``'precision'``, ``'recall'``,
            ``'f1'``, ``'mae'``, ``'mse'``, ``'r2'``...), ``chainrule.metrics.Metric`` objects,
            or functions ``fn(y_true, y_pred)``; a dict or a list of lists for several outputs.
        loss_weights: a list or dict of per-output loss weights.
        lr: the learning rate for an optimizer given by name (``learning_rate`` is an alias).

    Raises:
        ValueError: unknown names (valid ones listed, nearest suggested), an optimizer that
            holds none of the model's parameters.
        TypeError: unknown keyword arguments.

    Example:
        >>> import chainrule as cr
        >>> model = cr.nn.Sequential(cr.nn.Linear(4, 3))
        >>> model.compile(optimizer="sgd", lr=0.1, loss="cross_entropy", metrics=["accuracy"])
        >>> type(model.optimizer).__name__, model.optimizer.param_groups[0]["lr"]
        ('SGD', 0.1)
    """
    if kwargs:
        raise TypeError(
            f"compile() got unexpected keyword arguments {sorted(kwargs)}; valid: "
            "optimizer, loss, metrics, loss_weights, lr (learning_rate)"
        )
    if lr is not None and learning_rate is not None and lr != learning_rate:
        raise ValueError(f"compile: lr={lr} and learning_rate={learning_rate} disagree")
    rate = lr if lr is not None else learning_rate
    opt = _resolve_optimizer(model, optimizer, rate)
    compiled = Compiled(opt, loss, loss_weights, metrics)
    object.__setattr__(model, "_cr_compiled", compiled)
    object.__setattr__(model, "optimizer", opt)
    object.__setattr__(model, "stop_training", False)


def _resolve_optimizer(model: Any, optimizer: Any, lr: float | None) -> Any:
    import chainrule.optim as optim

    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in optim.OPTIMIZERS:
            raise ValueError(
                unknown_name(
                    "optimizer", optimizer, sorted(optim.OPTIMIZERS), owner="compile", cutoff=0.5
                )
            )
        rate = lr if lr is not None else _DEFAULT_LR.get(key)
        kw: dict[str, Any] = {} if rate is None else {"lr": rate}
        return optim.OPTIMIZERS[key](model.parameters(), **kw)
    if lr is not None:
        raise ValueError(
            "compile: lr= applies to an optimizer given by name; set the learning "
            "rate on the optimizer instance instead"
        )
    if isinstance(optimizer, type) or (callable(optimizer) and not hasattr(optimizer, "step")):
        optimizer = optimizer(model.parameters())
    if not (hasattr(optimizer, "step") and hasattr(optimizer, "param_groups")):
        raise TypeError(
            f"optimizer must be a name, a chainrule.optim optimizer or a factory, "
            f"got {type(optimizer).__name__}"
        )
    mine = {id(p) for p in model.parameters()}
    held = {id(p) for g in optimizer.param_groups for p in g["params"]}
    if mine and not (mine & held):
        raise ValueError(
            "compile: the optimizer holds none of this model's parameters; build "
            "it with model.parameters()"
        )
    return optimizer


def compiled_of(model: Any, fn: str) -> Compiled:
    """What ``compile`` attached to ``model``; a clear error naming ``fn`` if nothing."""
    c = getattr(model, "_cr_compiled", None)
    if c is None:
        raise RuntimeError(
            f"{fn}: the model is not compiled; call model.compile(optimizer=..., "
            "loss=..., metrics=...) first (or write the loop yourself: "
            "examples/training_loop.py)"
        )
    return c
