"""The loops behind ``fit``/``evaluate``/``predict``, built on the public pieces.

One training step is exactly the plain PyTorch loop (examples/training_loop.py)::

    optimizer.zero_grad(); out = model(x); loss = loss_fn(out, y); loss.backward(); optimizer.step()

so ``fit`` and a hand-written loop give bit-identical weights. Around it the loop keeps the
epoch/step counters, the metric accumulators, the callbacks and, for
:class:`~chainrule.callbacks.BackupAndRestore`, the complete state of the run
(:meth:`FitLoop.capture` / :meth:`FitLoop.restore`).

Note [Training stream]: each model owns two generators (``model._cr_rng``): ``shuffle``
orders the samples and ``train`` feeds every draw made through chainrule's default
generator while ``fit`` runs (dropout, augmentation without its own generator). ``fit``
swaps ``train`` in for the default generator and swaps it back at the end, so evaluating,
predicting, building models or loading files between two ``fit`` calls cannot change the
training stream (RELIABILITY E4). The streams are created from ``fit(seed=...)``, or on the
first ``fit`` from one draw of the default generator (``chainrule.manual_seed`` fixes it).
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.autograd.grad_mode import no_grad
from chainrule.random import Generator, default_generator
from chainrule.tensor import Tensor
from chainrule.training import state as st
from chainrule.training._data import leaves, map_struct
from chainrule.training.callbacks import CallbackList
from chainrule.training.metrics import Mean, Metric, get_metric

__all__ = ["FitLoop", "Heads", "TrainingInterrupted", "ensure_streams"]

# Losses whose targets are floats (cast integer targets), and the accuracy threshold to use
# with them (probabilities vs logits).
_FLOAT_TARGET = {
    "mse_loss",
    "l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "huber_loss",
    "smooth_l1_loss",
    "kl_div",
}
_THRESHOLD = {"binary_cross_entropy": 0.5, "binary_cross_entropy_with_logits": 0.0}


class TrainingInterrupted(KeyboardInterrupt):
    """``fit`` stopped cleanly on SIGINT (Ctrl-C) after saving a consistent backup."""


# ---- the model's training stream ----
def _derive(seed: int, k: int) -> Generator:
    s = np.random.SeedSequence([int(seed), k]).generate_state(2, np.uint64)
    return Generator(int(s[0]) << 64 | int(s[1]))


def ensure_streams(model: Any, seed: int | None) -> dict[str, Generator]:
    """The model's ``shuffle`` and ``train`` generators (see Note [Training stream])."""
    rng = getattr(model, "_cr_rng", None)
    if seed is not None or rng is None:
        if seed is None:
            seed = int(default_generator.integers(0, 2**63 - 1))
        rng = {"shuffle": _derive(seed, 0), "train": _derive(seed, 1)}
        object.__setattr__(model, "_cr_rng", rng)
    return rng


@contextlib.contextmanager
def training_stream(gen: Generator) -> Iterator[np.random.Generator]:
    """Route chainrule's default generator to ``gen`` for the duration (yields the outer one)."""
    outer = default_generator.rng
    default_generator.rng = gen.rng
    try:
        yield outer
    finally:
        gen.rng = default_generator.rng  # a manual_seed inside fit stays in the stream
        default_generator.rng = outer


# ---- conversion ----
def model_dtype(model: Any) -> np.dtype:
    for p in model.parameters():
        if p.data.dtype.kind == "f":
            return p.data.dtype
    return np.dtype(dtypes.get_default_dtype())


def to_tensor(a: Any, float_dtype: np.dtype, as_float: bool = False) -> Tensor:
    arr = a.data if isinstance(a, Tensor) else np.asarray(a)
    if arr.dtype.kind == "f" or (as_float and arr.dtype.kind in "iub"):
        if arr.dtype != float_dtype:
            arr = arr.astype(float_dtype)
    if isinstance(a, Tensor) and arr is a.data and not a.requires_grad:
        return a
    return Tensor._make(arr, False, None)


def call_model(model: Any, x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return model(*x)
    if isinstance(x, dict):
        return model(x) if hasattr(model, "input_names") else model(**x)
    return model(x)


def outputs_struct(out: Any) -> list[tuple[Any, Tensor]]:
    """``[(key, tensor)]``: key None (one output), an index, or a dict key."""
    if isinstance(out, Tensor):
        return [(None, out)]
    if isinstance(out, dict):
        return list(out.items())
    if isinstance(out, (list, tuple)):
        return list(enumerate(out))
    raise TypeError(
        f"the model returned {type(out).__name__}; expected a Tensor, or a "
        "tuple/list/dict of Tensors"
    )


# ---- heads: loss and metrics per output ----
class Head:
    def __init__(
        self,
        key: Any,
        name: str | None,
        loss: Any,
        loss_name: str,
        weight: float,
        metric_specs: list[Any],
    ) -> None:
        self.key, self.name, self.loss, self.loss_name = key, name, loss, loss_name
        self.weight = float(weight)
        thr = _THRESHOLD.get(loss_name)
        self.metrics: list[Metric] = [_fresh(get_metric(m, threshold=thr)) for m in metric_specs]
        self.float_target = loss_name in _FLOAT_TARGET

    def prefix(self, s: str) -> str:
        return s if self.name is None else f"{self.name}_{s}"


def _fresh(m: Metric) -> Metric:
    m = copy.deepcopy(m)
    m.reset()
    return m


class Heads:
    """The compiled loss(es), weights and metrics laid over the model's output structure."""

    def __init__(self, compiled: Any, y_struct: Any) -> None:
        self.compiled = compiled
        self.build(y_struct)

    def build(self, y_struct: Any) -> None:
        c = self.compiled
        if isinstance(y_struct, dict):
            keys: list[Any] = list(y_struct)
            names: list[str | None] = [str(k) for k in keys]
        elif isinstance(y_struct, (list, tuple)):
            keys = list(range(len(y_struct)))
            names = [f"output_{i}" for i in keys]
        else:
            keys, names = [None], [None]
        self.structure = (
            "dict"
            if isinstance(y_struct, dict)
            else ("seq" if isinstance(y_struct, (list, tuple)) else "single")
        )
        self.heads = []
        for i, (key, name) in enumerate(zip(keys, names)):
            fn, label = c.loss_for(i, key, len(keys))
            if fn is None:
                continue
            self.heads.append(
                Head(
                    key,
                    name,
                    fn,
                    label,
                    c.weight_for(i, key, len(keys)),
                    c.metrics_for(i, key, len(keys)),
                )
            )
        if not self.heads:
            raise ValueError("compile(loss=...) gives no loss for any of the model's outputs")
        self.loss_mean = Mean("loss")
        self.head_means = [Mean(h.prefix("loss")) for h in self.heads] if len(keys) > 1 else []

    def matches(self, out: Any) -> bool:
        kind = (
            "dict"
            if isinstance(out, dict)
            else ("seq" if isinstance(out, (list, tuple)) else "single")
        )
        return kind == self.structure

    def keys(self) -> list[str]:
        ks = ["loss"] + [m.name for m in self.head_means]
        for h in self.heads:
            ks += [h.prefix(m.name) for m in h.metrics]
        return ks

    def pairs(self, out: Any, y: Any) -> list[tuple[Head, Tensor, Any]]:
        res = []
        for h in self.heads:
            if h.key is None:
                o, t = out, y
            else:
                try:
                    o, t = out[h.key], y[h.key]
                except (KeyError, IndexError, TypeError) as e:
                    raise ValueError(
                        f"fit: output {h.name!r} ({h.key!r}) is missing from the model's outputs "
                        f"or from y ({e}); the targets must mirror the outputs' structure"
                    ) from None
            if not isinstance(o, Tensor):
                raise TypeError(
                    f"the model's output {h.name or ''} is {type(o).__name__}, expected a Tensor"
                )
            res.append((h, o, t))
        return res

    def loss(self, out: Any, y: Any, fdtype: np.dtype) -> tuple[Tensor, list[float], list[Any]]:
        pairs = self.pairs(out, y)
        total: Tensor | None = None
        parts: list[float] = []
        for h, o, t in pairs:
            yt = to_tensor(t, fdtype, h.float_target)
            value = h.loss(o, yt)
            if not isinstance(value, Tensor) or value.data.size != 1:
                shape = getattr(value, "shape", type(value).__name__)
                raise ValueError(
                    f"the loss {h.loss_name!r} must return a scalar Tensor, got "
                    f"{shape}; use reduction='mean' or 'sum'"
                )
            parts.append(float(value.data))
            term = value if (h.weight == 1.0 and len(pairs) == 1) else value * h.weight
            total = term if total is None else total + term
        return total, parts, pairs  # type: ignore[return-value]

    def update(
        self, pairs: list[tuple[Head, Tensor, Any]], total: float, parts: list[float], n: int
    ) -> None:
        self.loss_mean.update(total, n)
        for m, v in zip(self.head_means, parts):
            m.update(v, n)
        for h, o, t in pairs:
            if h.metrics:
                yt = t.data if isinstance(t, Tensor) else np.asarray(t)
                for metric in h.metrics:
                    metric.update(yt, o.data)

    def reset(self) -> None:
        self.loss_mean.reset()
        for m in self.all_metrics()[1:]:
            m.reset()

    def all_metrics(self) -> list[Metric]:
        return [self.loss_mean, *self.head_means, *[m for h in self.heads for m in h.metrics]]

    def results(self, prefix: str = "") -> dict[str, Any]:
        logs: dict[str, Any] = {prefix + "loss": self.loss_mean.result()}
        for m in self.head_means:
            logs[prefix + m.name] = m.result()
        for h in self.heads:
            for metric in h.metrics:
                r = metric.result()
                key = prefix + h.prefix(metric.name)
                if isinstance(r, np.ndarray):
                    if r.ndim > 1:
                        continue  # a confusion matrix is not a log scalar
                    for i, v in enumerate(r.tolist()):
                        logs[f"{key}_{i}"] = float(v)
                else:
                    logs[key] = float(r)
        return logs

    def state_dict(self) -> dict[str, Any]:
        return {f"{i}": m.state_dict() for i, m in enumerate(self.all_metrics())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        ms = self.all_metrics()
        if len(state) != len(ms):
            raise ValueError(
                f"fit: the backup has {len(state)} metric accumulators, this run has {len(ms)}"
            )
        for i, m in enumerate(ms):
            m.load_state_dict(state[f"{i}"])

    def clone(self) -> Heads:
        other = copy.copy(self)
        other.heads = [copy.copy(h) for h in self.heads]
        for h in other.heads:
            h.metrics = [_fresh(m) for m in h.metrics]
        other.loss_mean = Mean("loss")
        other.head_means = [Mean(m.name) for m in self.head_means]
        return other


# ---- evaluation pass (validation, evaluate) ----
def eval_pass(
    model: Any, heads: Heads, stream: Any, callbacks: CallbackList, fdtype: np.dtype
) -> dict[str, Any]:
    heads.reset()
    was_training = model.training
    model.eval()
    callbacks.on_test_begin()
    try:
        with no_grad():
            for b in range(stream.steps):
                callbacks.on_test_batch_begin(b)
                try:
                    xb, yb = stream.next()
                except StopIteration:
                    break
                if yb is None:
                    raise ValueError("evaluate: no targets; pass y (or a loader yielding (x, y))")
                out = call_model(model, map_struct(lambda a: to_tensor(a, fdtype), xb))
                if b == 0 and not heads.matches(out):  # a loader hid the outputs' structure
                    heads.build(out if not isinstance(out, Tensor) else None)
                total, parts, pairs = heads.loss(out, yb, fdtype)
                heads.update(pairs, float(total.data), parts, len(leaves(xb)[0]))
                callbacks.on_test_batch_end(b, heads.results())
    finally:
        model.train(was_training)
    logs = heads.results()
    callbacks.on_test_end(logs)
    return logs


# ---- signals (B7) ----
class _DeferSignals:
    """SIGINT/SIGTERM during ``fit`` are deferred to the next batch boundary (a second
    Ctrl-C interrupts at once)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.prev: dict[int, Any] = {}

    def __enter__(self) -> _DeferSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        # Only default handlers are replaced: a program with its own handlers keeps them.
        for sig, default in (
            (signal.SIGINT, signal.default_int_handler),
            (signal.SIGTERM, signal.SIG_DFL),
        ):
            if signal.getsignal(sig) is default:
                self.prev[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, signum: int, frame: Any) -> None:
        if self.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def restore(self) -> None:
        for sig, h in self.prev.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, h if h is not None else signal.SIG_DFL)
        self.prev = {}

    def __exit__(self, *exc: object) -> None:
        self.restore()


# ---- the fit loop ----
class FitLoop:
    def __init__(
        self,
        model: Any,
        compiled: Any,
        heads: Heads,
        stream: Any,
        val: Any,
        callbacks: CallbackList,
        backups: list[Any],
        epochs: int,
        initial_epoch: int,
        config: dict[str, Any],
        extra_rng_roots: dict[str, Any],
    ) -> None:
        self.model, self.compiled, self.heads = model, compiled, heads
        self.stream, self.val = stream, val
        self.val_heads = heads.clone() if val is not None else None
        self.callbacks, self.backups = callbacks, backups
        self.epochs = epochs
        self.epoch = initial_epoch
        self.batch = 0
        self.in_epoch = False
        self.finished = False
        self.global_step = 0
        self.config = config
        self.config_hash = st.config_hash(config)
        self.fdtype = model_dtype(model)
        self.rng = model._cr_rng
        self.extra = st.collect_generators(extra_rng_roots)
        self.outer: np.random.Generator | None = None
        self.phase = "batch"
        self.last_backup: str | None = None

    # ---- state ----
    def capture(self, phase: str) -> dict[str, Any]:
        m = self.model
        if phase == "batch":
            epoch, batch, in_epoch = self.epoch, self.batch, True
        elif phase == "epoch_end":
            epoch, batch, in_epoch = self.epoch + 1, 0, False
        else:  # "finished": the loop has already moved past the last epoch
            epoch, batch, in_epoch = self.epoch, 0, False
        cbs = {
            k: cb.state_dict()
            for k, cb in self.callbacks.keyed().items()
            if type(cb).__name__ != "BackupAndRestore"
        }
        return {
            "format": st.FORMAT,
            "version": st.VERSION,
            "config": self.config,
            "config_hash": self.config_hash,
            "model": m.state_dict(),
            "optimizer": self.compiled.optimizer.state_dict(),
            "loop": {
                "epoch": epoch,
                "batch": batch,
                "in_epoch": in_epoch,
                "global_step": self.global_step,
                "phase": phase,
                "stop_training": bool(getattr(m, "stop_training", False)),
                "finished": phase == "finished",
            },
            "data": self.stream.state_dict(),
            "rng": {
                "train": self.rng["train"].get_state(),
                "shuffle": self.rng["shuffle"].get_state(),
                "outer": st.jsonable(self.outer.bit_generator.state) if self.outer else None,
                "extra": {k: g.get_state() for k, g in self.extra.items()},
            },
            "metrics": self.heads.state_dict(),
            "callbacks": {k: v for k, v in cbs.items() if v},
        }

    def check_config(self, state: dict[str, Any], where: str) -> None:
        if state["config_hash"] == self.config_hash:
            return
        diffs = st.config_diff(state["config"], self.config)
        raise ValueError(
            f"BackupAndRestore: the backup in {where} was written by a run with a different "
            "configuration, so it cannot be resumed exactly. Differences: "
            + ("; ".join(diffs) if diffs else "(hash only)")
            + f". Restore the original settings, or delete {where} to start a new run."
        )

    def restore(self, state: dict[str, Any]) -> None:
        m = self.model
        m.load_state_dict(state["model"])
        self.compiled.optimizer.load_state_dict(state["optimizer"])
        rng = state["rng"]
        self.rng["train"].set_state(dict(rng["train"]))
        self.rng["shuffle"].set_state(dict(rng["shuffle"]))
        if rng.get("outer") is not None and self.outer is not None:
            self.outer.bit_generator.state = dict(rng["outer"])
        missing = sorted(set(rng.get("extra", {})) ^ set(self.extra))
        if missing:
            raise ValueError(
                f"BackupAndRestore: generators differ between the backup and this run: {missing}"
            )
        for k, g in self.extra.items():
            g.set_state(dict(rng["extra"][k]))
        self.stream.load_state_dict(state["data"])
        self.heads.load_state_dict(state["metrics"])
        keyed = self.callbacks.keyed()
        for k, cb_state in state["callbacks"].items():
            if k not in keyed:
                raise ValueError(
                    f"BackupAndRestore: the backup has state for callback {k} "
                    f"that this run does not have (callbacks: {sorted(keyed)})"
                )
            keyed[k].load_state_dict(cb_state)
        loop = state["loop"]
        self.epoch, self.batch = int(loop["epoch"]), int(loop["batch"])
        self.in_epoch = bool(loop["in_epoch"])
        self.global_step = int(loop["global_step"])
        self.finished = bool(loop["finished"])
        m.stop_training = bool(loop["stop_training"])
        m.global_step = self.global_step

    # ---- running ----
    def train_batch(self) -> dict[str, Any]:
        m, opt, fd = self.model, self.compiled.optimizer, self.fdtype
        xb, yb = self.stream.next()
        if yb is None:
            raise ValueError("fit: no targets; pass y, or a DataLoader yielding (x, y)")
        x = map_struct(lambda a: to_tensor(a, fd), xb)
        opt.zero_grad()
        out = call_model(m, x)
        if not self.heads.matches(out):  # y's structure did not reveal the outputs'
            if self.global_step or self.batch:
                raise ValueError("fit: the model's output structure changed between batches")
            self.heads.build(out if not isinstance(out, Tensor) else None)
            if self.val_heads is not None:
                self.val_heads = self.heads.clone()
        total, parts, pairs = self.heads.loss(out, yb, fd)
        total.backward()
        opt.step()
        self.heads.update(pairs, float(total.data), parts, len(leaves(xb)[0]))
        return self.heads.results()

    def run(self, restored: dict[str, Any] | None, backup_dir: str | None) -> None:
        m, cbs = self.model, self.callbacks
        with training_stream(self.rng["train"]) as outer, _DeferSignals() as sig:
            self.outer = outer
            cbs.on_train_begin()
            if restored is not None:
                self.restore(restored)
                if self.finished:
                    return
            m.train()
            logs: dict[str, Any] = {}
            first = True
            while self.epoch < self.epochs and not m.stop_training:
                m._cr_epoch = self.epoch
                if not (first and self.in_epoch):
                    self.batch = 0
                    self.heads.reset()
                    self.stream.start_epoch()
                    cbs.on_epoch_begin(self.epoch)
                first = False
                self.in_epoch = True
                while self.batch < self.stream.steps and not m.stop_training:
                    cbs.on_train_batch_begin(self.batch)
                    batch_logs = self.train_batch()
                    self.batch += 1
                    self.global_step += 1
                    m.global_step = self.global_step
                    cbs.on_train_batch_end(self.batch - 1, batch_logs)
                    if sig.signum is not None:
                        self._interrupt(sig, "batch", backup_dir)
                logs = self.heads.results()
                if self.val is not None and self.val_heads is not None:  # both or neither
                    self.val.start_epoch()
                    logs.update(
                        {
                            f"val_{k}": v
                            for k, v in eval_pass(
                                m, self.val_heads, self.val, cbs, self.fdtype
                            ).items()
                        }
                    )
                    m.train()
                cbs.on_epoch_end(self.epoch, logs)
                self.in_epoch = False
                if sig.signum is not None:
                    self._interrupt(sig, "epoch_end", backup_dir)
                self.epoch += 1
            self.finished = True
            cbs.on_train_end(logs)

    def _interrupt(self, sig: _DeferSignals, phase: str, backup_dir: str | None) -> None:
        signum = sig.signum
        where = f"epoch {self.epoch + 1}, step {self.global_step}"
        for b in self.backups:
            if phase == "batch":
                b.save_now(self.capture("batch"))
        prev = sig.prev.get(signum)  # type: ignore[arg-type]
        sig.restore()
        name = signal.Signals(signum).name  # type: ignore[arg-type]
        msg = f"fit: stopped by {name} at {where}"
        msg += (
            f"; backup saved in {backup_dir} (run the same fit again to resume)"
            if backup_dir
            else "; no BackupAndRestore callback, so nothing was saved"
        )
        print(msg, file=sys.stderr, flush=True)
        if signum == signal.SIGTERM and prev == signal.SIG_DFL:
            os.kill(os.getpid(), signal.SIGTERM)  # the default action, now that all is saved
        raise TrainingInterrupted(msg)


def steps_for(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)
