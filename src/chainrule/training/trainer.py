r"""Keras-style ``compile`` / ``fit`` / ``evaluate`` / ``predict`` for any ``chainrule.nn.Module``.

``nn.Module.compile/fit/evaluate/predict`` delegate here (``compile`` itself, the loss and
optimizer names, is in :mod:`chainrule.training.compile`). ``fit`` is mini-batch gradient
descent (the notes' pattern): for each batch :math:`B` of the (shuffled) data,
:math:`\theta \leftarrow \mathrm{step}(\theta, \nabla_\theta \frac{1}{|B|}\sum_{i\in B}
L(f_\theta(x_i), y_i))`, written with the same public calls as the plain loop
(``zero_grad``, forward, loss, ``backward``, ``step``; see examples/training_loop.py).

Conventions:

- losses are called PyTorch's way, ``loss(output, target)``; metrics Keras's and
  scikit-learn's way, ``metric(y_true, y_pred)``;
- inputs may be arrays, tensors, lists/dicts of them (several inputs: ``model(*x)`` for a
  list, ``model(**x)`` for a dict) or a :class:`chainrule.data.DataLoader` (then ``y`` is
  None); floating inputs are cast to the model's dtype, integer inputs are kept;
- several outputs (a tuple/list/dict returned by ``forward``) take targets of the same
  structure, a loss per output (one loss for all, a list or a dict) and ``loss_weights``;
  their logs are ``loss`` (the weighted sum), ``<output>_loss`` and ``<output>_<metric>``
  with outputs named by their dict key or ``output_<i>``;
- the reported training loss and metrics are means over the samples seen so far in the
  epoch (batch-size weighted), as Keras reports them.

Reproducibility (RELIABILITY E1-E6): the same ``chainrule.manual_seed`` (or ``fit(seed=)``),
data, code, NumPy build and thread count give bit-identical weights, History and logs, in
the same process or a fresh one; NumPy's and Python's global RNGs are never used; evaluate,
predict, building models or loading files between two ``fit`` calls do not change training
(Note [Training stream] in :mod:`chainrule.training._loop`). A different thread count
(``OMP_NUM_THREADS``) may change BLAS summation order and so the last bits; nothing stronger
is promised (PyTorch and NumPy promise nothing stronger either).

Bad input (RELIABILITY A6-A11) raises before training starts: mismatched sample counts
(both lengths named), out-of-range ``validation_split``/``epochs``/``batch_size``, unknown loss,
metric or optimizer names (valid names listed, the nearest suggested), ``EarlyStopping``
monitors that will never be logged (the available keys listed), and NaN/inf in array inputs
(the first bad sample index named). A loss that becomes NaN during training is caught by
:class:`~chainrule.callbacks.TerminateOnNaN`.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.training import _data
from chainrule.training._loop import (
    FitLoop,
    Heads,
    call_model,
    ensure_streams,
    eval_pass,
    model_dtype,
    outputs_struct,
    to_tensor,
)
from chainrule.training.callbacks import CallbackList, ProgressBar
from chainrule.training.compile import LOSSES, Compiled, compile_model, compiled_of
from chainrule.training.history import History
from chainrule.training.state import jsonable

__all__ = ["LOSSES", "compile_model", "evaluate", "fit", "predict"]


# ---- argument checks ----
def _int(v: Any, name: str, lo: int, fn: str, none_ok: bool = False) -> Any:
    if v is None and none_ok:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{fn}: {name} must be an int, got {type(v).__name__} {v!r}")
    if v < lo:
        raise ValueError(f"{fn}: {name} must be >= {lo}, got {v}")
    return int(v)


def _verbose(v: Any, fn: str) -> int:
    if v == "auto":
        return 1 if getattr(sys.stderr, "isatty", lambda: False)() else 0
    if v not in (0, 1, 2) or isinstance(v, bool):
        raise ValueError(f"{fn}: verbose must be 'auto', 0, 1 or 2, got {v!r}")
    return int(v)


def _arrays_or_loader(
    x: Any, y: Any, fn: str, batch_size: int, shuffle: bool, generator: Any, steps: int | None
) -> tuple[Any, Any, Any]:
    """(stream, x_arrays or None, y_arrays or None)."""
    if _data.is_dataset(x):
        from chainrule.data import DataLoader

        x = DataLoader(x, batch_size=batch_size, shuffle=shuffle, generator=generator)
    if _data.is_loader(x):
        if y is not None:
            raise ValueError(f"{fn}: y must be None when x is a DataLoader (it yields (x, y))")
        return _data.LoaderStream(x, steps), None, None
    if x is None:
        raise ValueError(f"{fn}: x is required")
    xa = _data.as_arrays(x, f"{fn} x")
    ya = None if y is None else _data.as_arrays(y, f"{fn} y")
    _data.num_samples(xa, ya, fn)
    return _data.ArrayStream(xa, ya, batch_size, shuffle, generator, steps), xa, ya


# ---- fit ----
def fit(
    model: Any,
    x: Any = None,
    y: Any = None,
    batch_size: int | None = None,
    epochs: int = 1,
    verbose: Any = "auto",
    callbacks: Any = None,
    validation_split: float = 0.0,
    validation_data: Any = None,
    shuffle: bool = True,
    initial_epoch: int = 0,
    steps_per_epoch: int | None = None,
    validation_batch_size: int | None = None,
    seed: int | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs of mini-batch gradient descent.

    Args:
        x: inputs (array, tensor, list/dict of them), a ``Dataset`` or a ``DataLoader``.
        y: targets mirroring the outputs (None with a loader).
        batch_size: samples per step (default 32; a DataLoader keeps its own).
        epochs: the epoch index to stop at (Keras's meaning with ``initial_epoch``).
        verbose: ``'auto'`` (progress bars on a terminal, quiet otherwise), 0, 1 (bars), 2
            (one line per epoch).
        callbacks: :class:`~chainrule.callbacks.Callback` objects.
        validation_split: fraction in [0, 1) of the array samples, taken from the end before
            shuffling, held out for validation.
        validation_data: ``(x_val, y_val)`` or a DataLoader; evaluated at each epoch end.
        shuffle: reshuffle array samples every epoch (a loader keeps its own setting).
        initial_epoch: the epoch to start counting from.
        steps_per_epoch: batches per epoch; the data stream then continues across epochs.
        validation_batch_size: batch size for validation arrays (default ``batch_size``).
        seed: seed the model's training stream (shuffle order and dropout); by default it is
            drawn once from chainrule's default generator (see Note [Training stream]).

    Returns:
        :class:`~chainrule.callbacks.History` with per-epoch ``loss``, metrics, ``val_*``.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
        >>> y = (x.sum(axis=1) > 0).astype(np.int64)
        >>> model = cr.nn.Sequential(cr.nn.Linear(2, 2))
        >>> model.compile(optimizer="sgd", lr=0.5, loss="cross_entropy", metrics=["accuracy"])
        >>> h = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        >>> h.epoch, h.history["accuracy"][-1] > 0.8
        ([0, 1, 2], True)
    """
    fn = "fit"
    compiled = compiled_of(model, fn)
    batch_size = _int(32 if batch_size is None else batch_size, "batch_size", 1, fn)
    epochs = _int(epochs, "epochs", 0, fn)
    initial_epoch = _int(initial_epoch, "initial_epoch", 0, fn)
    steps_per_epoch = _int(steps_per_epoch, "steps_per_epoch", 1, fn, none_ok=True)
    vbs = _int(validation_batch_size or batch_size, "validation_batch_size", 1, fn)
    seed = _int(seed, "seed", 0, fn, none_ok=True)
    v = _verbose(verbose, fn)
    if not isinstance(validation_split, (int, float)) or not 0.0 <= validation_split < 1.0:
        raise ValueError(
            f"fit: validation_split must be a fraction in [0, 1), got {validation_split!r}"
        )
    if not isinstance(shuffle, bool):
        raise TypeError(f"fit: shuffle must be True or False, got {shuffle!r}")
    if validation_split and validation_data is not None:
        raise ValueError("fit: pass validation_split or validation_data, not both")

    rng = ensure_streams(model, seed)
    if _data.is_loader(x) or _data.is_dataset(x):
        if validation_split:
            raise ValueError(
                "fit: validation_split needs array inputs; with a DataLoader pass validation_data="
            )
        stream, xa, ya = _arrays_or_loader(
            x, y, fn, batch_size, shuffle, rng["shuffle"], steps_per_epoch
        )
    else:
        if x is None:
            raise ValueError("fit: x is required")
        xa = _data.as_arrays(x, "fit x")
        ya = None if y is None else _data.as_arrays(y, "fit y")
        if ya is None:
            raise ValueError("fit: y is required with array inputs")
        n = _data.num_samples(xa, ya, fn)
        _data.check_finite(xa, fn)
        if validation_split:
            at = int(n * (1.0 - validation_split))
            if at == 0 or at == n:
                raise ValueError(
                    f"fit: validation_split={validation_split} of {n} samples "
                    f"leaves {at} for training and {n - at} for validation; "
                    "both need at least one"
                )
            (xa, xv), (ya, yv) = _data.split_tail(xa, at), _data.split_tail(ya, at)
            validation_data = (xv, yv)
        stream = _data.ArrayStream(xa, ya, batch_size, shuffle, rng["shuffle"], steps_per_epoch)

    val: _data.LoaderStream | _data.ArrayStream | None = None
    if validation_data is not None:
        if _data.is_loader(validation_data):
            val = _data.LoaderStream(validation_data)
        else:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                what = (
                    f"a {type(validation_data).__name__} of length {len(validation_data)}"
                    if isinstance(validation_data, (tuple, list))
                    else type(validation_data).__name__
                )
                raise ValueError(
                    f"fit: validation_data must be (x_val, y_val) or a DataLoader, got {what}"
                )
            xv = _data.as_arrays(validation_data[0], "fit validation x")
            yv = _data.as_arrays(validation_data[1], "fit validation y")
            _data.num_samples(xv, yv, "fit (validation_data)")
            val = _data.ArrayStream(xv, yv, vbs, False, None)

    heads = Heads(compiled, ya)
    user = list(callbacks or [])
    from chainrule.training.checkpoint import BackupAndRestore

    backups = [cb for cb in user if isinstance(cb, BackupAndRestore)]
    if len(backups) > 1:
        raise ValueError("fit: pass at most one BackupAndRestore callback")
    others = [cb for cb in user if not isinstance(cb, BackupAndRestore)]
    history = History()
    progress = [] if v == 0 or any(isinstance(c, ProgressBar) for c in others) else [ProgressBar(v)]
    cbs = CallbackList(others + progress + [history] + backups, model=model)
    # With a loader the outputs' structure (and so the log keys) is only known after the
    # first batch: monitors are then checked against the first epoch's logs instead.
    keys = heads.keys() if ya is not None else []
    cbs.set_params(
        {
            "epochs": epochs,
            "steps": stream.steps,
            "verbose": v,
            "metrics": keys + ([f"val_{k}" for k in keys] if val is not None else []) or None,
        }
    )

    config = _config(
        model,
        compiled,
        cbs,
        stream,
        val,
        xa,
        ya,
        validation_data,
        backups,
        {
            "batch_size": batch_size,
            "epochs": epochs,
            "initial_epoch": initial_epoch,
            "steps_per_epoch": steps_per_epoch,
            "shuffle": shuffle,
            "validation_split": float(validation_split),
            "validation_batch_size": vbs,
            "seed": seed,
        },
    )
    roots = {"model": model}
    if isinstance(stream, _data.LoaderStream):
        roots["loader"] = stream.loader
    loop = FitLoop(
        model, compiled, heads, stream, val, cbs, backups, epochs, initial_epoch, config, roots
    )
    restored = None
    if backups:
        backups[0]._attach(loop)
        restored = backups[0].load_backup()
        if restored is not None:
            loop.check_config(restored, str(backups[0].backup_dir))
    model.stop_training = False
    model.global_step = 0
    loop.run(restored, str(backups[0].backup_dir) if backups else None)
    object.__setattr__(model, "history", history)
    return history


def _config(
    model: Any,
    compiled: Compiled,
    cbs: CallbackList,
    stream: Any,
    val: Any,
    xa: Any,
    ya: Any,
    validation_data: Any,
    backups: list[Any],
    fit_args: dict[str, Any],
) -> dict[str, Any]:
    """The resolved run configuration stored (and hashed) in each backup (B5)."""
    if not backups:
        return {}
    opt = compiled.optimizer
    defaults = {k: v for k, v in getattr(opt, "defaults", {}).items() if k != "params"}

    def data_desc(s: Any, xs: Any, ys: Any) -> Any:
        if isinstance(s, _data.LoaderStream):
            ld = s.loader
            return {
                "loader": type(ld).__name__,
                "batches": len(ld),
                "batch_size": getattr(ld, "batch_size", None),
                "samples": len(getattr(ld, "dataset", ())) or None,
            }
        return {"x": _data.fingerprint(xs), "y": _data.fingerprint(ys)}

    vdesc = None
    if val is not None:
        vdesc = (
            data_desc(val, val.x, val.y)
            if isinstance(val, _data.ArrayStream)
            else data_desc(val, None, None)
        )
    skip = {"ProgressBar", "History", "BackupAndRestore"}
    return {
        "model": {
            "class": type(model).__qualname__,
            "state": {k: [list(t.shape), str(t.dtype)] for k, t in model.state_dict().items()},
        },
        "optimizer": {"class": type(opt).__name__, "defaults": jsonable(defaults)},
        "compile": compiled.describe(),
        "fit": fit_args,
        "data": {"train": data_desc(stream, xa, ya), "validation": vdesc},
        # Stateful callbacks only: a stateless one (a logger, a debugging hook) may come
        # and go between the crash and the resume.
        "callbacks": [
            k for k, cb in cbs.keyed().items() if type(cb).__name__ not in skip and cb.state_dict()
        ],
    }


# ---- evaluate / predict ----
def evaluate(
    model: Any,
    x: Any = None,
    y: Any = None,
    batch_size: int | None = None,
    verbose: Any = "auto",
    steps: int | None = None,
    callbacks: Any = None,
    return_dict: bool = False,
) -> Any:
    """Loss and metrics on data, in eval mode and without gradients (Keras's ``evaluate``).

    The loss and metrics are means over every sample (batch-size weighted). The model's
    training mode is restored afterwards and no random generator is touched, so evaluating
    between two ``fit`` calls does not change training (RELIABILITY E4).

    Returns:
        The loss as a float when no metrics are compiled, else ``[loss, metric, ...]`` in
        log order; with ``return_dict=True`` a dict ``{"loss": ..., "<metric>": ...}``.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> model = cr.nn.Sequential(cr.nn.Linear(2, 1))
        >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
        >>> x, y = np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)
        >>> sorted(model.evaluate(x, y, verbose=0, return_dict=True))
        ['loss', 'mae']
    """
    fn = "evaluate"
    compiled = compiled_of(model, fn)
    batch_size = _int(32 if batch_size is None else batch_size, "batch_size", 1, fn)
    steps = _int(steps, "steps", 1, fn, none_ok=True)
    _verbose(verbose, fn)
    stream, xa, ya = _arrays_or_loader(x, y, fn, batch_size, False, None, None)
    if isinstance(stream, _data.ArrayStream):
        if ya is None:
            raise ValueError("evaluate: y is required with array inputs")
        if steps is not None:
            stream.steps = min(stream.steps, steps)
    elif steps is not None:
        stream.steps = steps
    heads = Heads(compiled, ya)
    cbs = CallbackList(list(callbacks or []), model=model)
    cbs.set_params({"steps": stream.steps, "verbose": 0, "metrics": heads.keys()})
    stream.start_epoch()
    logs = eval_pass(model, heads, stream, cbs, model_dtype(model))
    if return_dict:
        return logs
    return logs["loss"] if len(logs) == 1 else list(logs.values())


def predict(
    model: Any,
    x: Any,
    batch_size: int | None = None,
    verbose: Any = "auto",
    steps: int | None = None,
    callbacks: Any = None,
) -> Any:
    """Model outputs for ``x``, batch by batch, in eval mode without gradients.

    Returns:
        A NumPy array (one output) or a tuple/list/dict of arrays mirroring the outputs,
        with the batches concatenated along the first axis.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> model = cr.nn.Sequential(cr.nn.Linear(3, 2))
        >>> model.predict(np.zeros((5, 3), np.float32), batch_size=2, verbose=0).shape
        (5, 2)
    """
    fn = "predict"
    batch_size = _int(32 if batch_size is None else batch_size, "batch_size", 1, fn)
    steps = _int(steps, "steps", 1, fn, none_ok=True)
    _verbose(verbose, fn)
    if _data.is_loader(x) or _data.is_dataset(x):
        stream, _, _ = _arrays_or_loader(x, None, fn, batch_size, False, None, None)
    else:
        xa = _data.as_arrays(x, "predict x")
        _data.num_samples(xa, None, fn)
        stream = _data.ArrayStream(xa, None, batch_size, False, None)
    if steps is not None:
        stream.steps = min(stream.steps, steps) if isinstance(stream, _data.ArrayStream) else steps
    cbs = CallbackList(list(callbacks or []), model=model)
    cbs.set_params({"steps": stream.steps, "verbose": 0})
    fd = model_dtype(model)
    chunks: list[list[tuple[Any, np.ndarray]]] = []
    was_training = model.training
    model.eval()
    cbs.on_predict_begin()
    stream.start_epoch()
    try:
        with no_grad():
            for b in range(stream.steps):
                cbs.on_predict_batch_begin(b)
                try:
                    xb, _ = stream.next()
                except StopIteration:
                    break
                out = call_model(model, _data.map_struct(lambda a: to_tensor(a, fd), xb))
                pairs = [(k, np.array(t.data, copy=True)) for k, t in outputs_struct(out)]
                chunks.append(pairs)
                cbs.on_predict_batch_end(b, {"outputs": out})
                if b == 0:
                    kind = type(out)
    finally:
        model.train(was_training)
    cbs.on_predict_end()
    if not chunks:
        raise ValueError("predict: the input yielded no batches (an empty DataLoader?)")
    cols = [np.concatenate([c[i][1] for c in chunks], axis=0) for i in range(len(chunks[0]))]
    keys = [k for k, _ in chunks[0]]
    if keys == [None]:
        return cols[0]
    if issubclass(kind, dict):
        return dict(zip(keys, cols))
    return list(cols) if issubclass(kind, list) else tuple(cols)
