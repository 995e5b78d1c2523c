"""Callbacks: hook order, EarlyStopping (Keras's algorithm), ModelCheckpoint, CSVLogger,
TerminateOnNaN, LearningRateScheduler (vs torch.optim.lr_scheduler), ProgressBar."""

from __future__ import annotations

import csv
import io
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import callbacks as C


def blobs(n: int = 60, seed: int = 0):
    g = np.random.default_rng(seed)
    y = g.integers(0, 3, n)
    x = (g.normal(size=(3, 4))[y] * 2 + g.normal(size=(n, 4))).astype(np.float32)
    return x, y


def model(lr: float = 0.05) -> cr.nn.Module:
    m = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 3))
    m.compile(
        optimizer=cr.optim.SGD(m.parameters(), lr=lr), loss="cross_entropy", metrics=["accuracy"]
    )
    return m


class Recorder(C.Callback):
    """Records every hook call as 'name' or 'name:index'."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []


def _recording(name: str):
    def hook(self, *args, **kwargs):
        idx = args[0] if args and not isinstance(args[0], (dict, type(None))) else None
        self.calls.append(name if idx is None else f"{name}:{idx}")

    return hook


for _hook in [h for h in dir(C.Callback) if h.startswith("on_")]:
    setattr(Recorder, _hook, _recording(_hook))


def test_hook_order() -> None:
    x, y = blobs(30)
    rec = Recorder()
    model().fit(
        x, y, batch_size=10, epochs=1, validation_data=(x[:12], y[:12]), callbacks=[rec], verbose=0
    )
    assert rec.calls == [
        "on_train_begin",
        "on_epoch_begin:0",
        "on_train_batch_begin:0",
        "on_train_batch_end:0",
        "on_train_batch_begin:1",
        "on_train_batch_end:1",
        "on_train_batch_begin:2",
        "on_train_batch_end:2",
        "on_test_begin",
        "on_test_batch_begin:0",
        "on_test_batch_end:0",
        "on_test_batch_begin:1",
        "on_test_batch_end:1",
        "on_test_end",
        "on_epoch_end:0",
        "on_train_end",
    ]
    rec.calls.clear()
    m = model()
    m.evaluate(x, y, batch_size=30, callbacks=[rec], verbose=0)
    m.predict(x, batch_size=30, callbacks=[rec], verbose=0)
    assert rec.calls == [
        "on_test_begin",
        "on_test_batch_begin:0",
        "on_test_batch_end:0",
        "on_test_end",
        "on_predict_begin",
        "on_predict_batch_begin:0",
        "on_predict_batch_end:0",
        "on_predict_end",
    ]


def test_callback_type_and_lambda_errors() -> None:
    x, y = blobs(10)
    with pytest.raises(TypeError, match="Callback instances, got object"):
        model().fit(x, y, callbacks=[object()], verbose=0)
    with pytest.raises(ValueError, match="Did you mean 'on_epoch_end'"):
        C.LambdaCallback(on_epoch_ends=print)


# ---- EarlyStopping: Keras's algorithm on scripted logs ----
class FakeModel(SimpleNamespace):
    def state_dict(self):
        return {"w": cr.tensor([float(self.version)])}

    def load_state_dict(self, sd):
        self.loaded = float(sd["w"][0])


def drive(es: C.EarlyStopping, values, key: str = "val_loss"):
    m = FakeModel(stop_training=False, version=0)
    es.set_model(m)
    es.set_params({"metrics": [key, "loss"]})
    es.on_train_begin()
    stopped_at = None
    for epoch, v in enumerate(values):
        m.version = epoch
        es.on_epoch_end(epoch, {key: v, "loss": 0.0})
        if m.stop_training:
            stopped_at = epoch
            break
    es.on_train_end()
    return stopped_at, m


@pytest.mark.parametrize(
    "kw, values, stop, best",
    [
        ({"patience": 2}, [1.0, 0.9, 0.95, 0.94, 0.96], 3, 0.9),
        ({"patience": 0}, [1.0, 1.1], 1, 1.0),
        ({"patience": 2, "min_delta": 0.02}, [1.0, 0.99, 0.985, 0.5], 2, 1.0),
        ({"patience": 1, "mode": "max"}, [0.5, 0.6, 0.55, 0.7], 2, 0.6),
        ({"patience": 2, "baseline": 0.5}, [0.9, 0.8, 0.85, 0.86], 2, 0.8),  # wait not reset
        ({"patience": 2}, [0.9, 0.8, 0.85, 0.86], 3, 0.8),  # (vs no baseline)
        ({"patience": 1, "start_from_epoch": 2}, [1.0, 2.0, 3.0, 4.0, 5.0], 3, 3.0),
        ({"patience": 3}, [1.0, 0.9, 0.8], None, 0.8),
    ],
)
def test_early_stopping_semantics(kw, values, stop, best) -> None:
    es = C.EarlyStopping(monitor="val_loss", **kw)
    stopped_at, _ = drive(es, values)
    assert stopped_at == stop
    assert es.best == best
    assert es.stopped_epoch == (stop or 0)


def test_early_stopping_auto_mode_restore_and_state() -> None:
    es = C.EarlyStopping(monitor="val_accuracy", patience=1, restore_best_weights=True)
    stopped_at, m = drive(es, [0.5, 0.8, 0.7, 0.6], key="val_accuracy")  # auto -> max
    assert stopped_at == 2 and es.best_epoch == 1 and m.loaded == 1.0
    # resume: a fresh callback loading the state continues identically
    a = C.EarlyStopping(monitor="val_loss", patience=3)
    drive(a, [1.0, 0.9, 0.95])
    b = C.EarlyStopping(monitor="val_loss", patience=3)
    b.load_state_dict(a.state_dict())
    assert (b.wait, b.best, b.best_epoch) == (1, 0.9, 1)


def test_early_stopping_in_fit_restores_best_weights() -> None:
    x, y = blobs(60)
    snaps: dict[int, dict[str, np.ndarray]] = {}

    class Snap(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snaps[epoch] = {k: v.data.copy() for k, v in self.model.state_dict().items()}

    m = model(lr=0.5)
    es = C.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    h = m.fit(
        x, y, batch_size=6, epochs=40, validation_split=0.3, callbacks=[Snap(), es], verbose=0
    )
    best = int(np.argmin(h.history["val_loss"]))
    assert len(h.epoch) < 40 and es.best_epoch == best
    for k, v in m.state_dict().items():
        assert v.data.tobytes() == snaps[best][k].tobytes()


# ---- ModelCheckpoint ----
def test_model_checkpoint_best_only_keep_last(tmp_path) -> None:
    x, y = blobs(60)
    m = model(lr=0.2)
    (tmp_path / "foreign.safetensors").write_bytes(b"not ours")
    cb = C.ModelCheckpoint(
        tmp_path / "e{epoch:02d}-{val_accuracy:.3f}.safetensors",
        monitor="val_accuracy",
        save_best_only=True,
        keep_last=2,
    )
    h = m.fit(x, y, batch_size=6, epochs=6, validation_split=0.3, callbacks=[cb], verbose=0)
    acc = h.history["val_accuracy"]
    improved = [e for e in range(6) if acc[e] > max(acc[:e], default=-1)]
    names = [f"e{e + 1:02d}-{acc[e]:.3f}.safetensors" for e in improved]
    on_disk = sorted(p.name for p in tmp_path.iterdir())
    assert on_disk == sorted(names[-2:] + ["foreign.safetensors"])
    assert cb.best == max(acc) and cb.saved == len(improved)
    last = cr.io.load(tmp_path / names[-1])
    assert last.keys() == m.state_dict().keys()


def test_model_checkpoint_every_n_steps_and_errors(tmp_path) -> None:
    x, y = blobs(40)
    m = model()
    cb = C.ModelCheckpoint(tmp_path / "s{step}.safetensors", save_freq=3)
    m.fit(x, y, batch_size=10, epochs=2, callbacks=[cb], verbose=0)  # 8 steps
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s3.safetensors", "s6.safetensors"]
    final = cr.io.load(tmp_path / "s6.safetensors")
    m2 = model()
    m2.load_state_dict(final)
    bad = C.ModelCheckpoint(tmp_path / "{val_los}.safetensors")
    with pytest.raises(ValueError, match=r"uses the field 'val_los'.*fields: \["):
        m.fit(x, y, epochs=1, validation_split=0.2, callbacks=[bad], verbose=0)
    with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive"):
        C.ModelCheckpoint(tmp_path / "x", save_freq=0)
    with pytest.raises(ValueError, match="monitor='val_loss' is not among"):
        m.fit(
            x,
            y,
            epochs=1,
            callbacks=[C.ModelCheckpoint(tmp_path / "b", save_best_only=True)],
            verbose=0,
        )


# ---- CSVLogger ----
def test_csv_logger_matches_history_and_appends(tmp_path) -> None:
    x, y = blobs(40)
    m = model()
    path = tmp_path / "log" / "metrics.csv"
    h = m.fit(x, y, epochs=3, validation_split=0.25, callbacks=[C.CSVLogger(path)], verbose=0)
    rows = list(csv.reader(path.read_text().splitlines()))
    assert rows[0] == ["epoch", *sorted(h.history)]
    for e, row in enumerate(rows[1:]):
        assert int(row[0]) == e
        assert [float(v) for v in row[1:]] == [h.history[k][e] for k in sorted(h.history)]
    h2 = m.fit(
        x, y, epochs=1, validation_split=0.25, callbacks=[C.CSVLogger(path, append=True)], verbose=0
    )
    rows = list(csv.reader(path.read_text().splitlines()))
    assert len(rows) == 5 and rows[4][0] == "0"
    assert float(rows[4][1]) == h2.history["accuracy"][0]
    m.fit(x, y, epochs=1, callbacks=[C.CSVLogger(path, separator=";")], verbose=0)
    assert path.read_text().splitlines()[0] == "epoch;accuracy;loss"


# ---- TerminateOnNaN ----
@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_terminate_on_nan_names_the_step(capsys, bad: float) -> None:
    x, y = blobs(40)
    calls = [0]

    def loss(out, t):
        calls[0] += 1
        value = F.cross_entropy(out, t)
        return value + cr.tensor(bad) if calls[0] == 3 else value

    m = cr.nn.Sequential(cr.nn.Linear(4, 3))
    m.compile(optimizer="sgd", loss=loss)
    cb = C.TerminateOnNaN()
    h = m.fit(x, y, batch_size=10, epochs=5, callbacks=[cb], verbose=0)
    assert h.epoch == [0] and calls[0] == 3
    err = capsys.readouterr().err
    assert f"step 3 (epoch 1, batch 3): loss is {bad}" in err and "stopping" in err
    assert cb.message in err


# ---- LearningRateScheduler ----
def _torch_lrs(make, steps: int) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_lr_scheduler_per_epoch_and_per_step() -> None:
    x, y = blobs(40)
    m = model(lr=0.1)
    sched = cr.optim.lr_scheduler.StepLR(m.optimizer, step_size=2, gamma=0.5)
    h = m.fit(x, y, batch_size=10, epochs=5, callbacks=[C.LearningRateScheduler(sched)], verbose=0)
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, 2, 0.5), 6)
    # logs['lr'] is the rate the epoch trained with (read before the epoch's step())
    np.testing.assert_allclose(h.history["lr"], ref[:5], rtol=1e-15)

    seen = []

    class LR(C.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(self.model.optimizer.param_groups[0]["lr"])

    m = model(lr=0.1)
    sched = cr.optim.lr_scheduler.ExponentialLR(m.optimizer, gamma=0.9)
    m.fit(
        x,
        y,
        batch_size=10,
        epochs=2,
        verbose=0,
        callbacks=[C.LearningRateScheduler(sched, interval="step"), LR()],
    )
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9), 8)
    np.testing.assert_allclose(seen, ref, rtol=1e-12)


def test_lr_schedule_function_and_plateau() -> None:
    x, y = blobs(40)
    m = model(lr=0.1)
    seen = []

    class LR(C.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(self.model.optimizer.param_groups[0]["lr"])

    m.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        callbacks=[C.LearningRateScheduler(lambda e, lr: 0.1 / (e + 1)), LR()],
    )
    np.testing.assert_allclose(seen, [0.1, 0.05, 0.1 / 3])

    # ReduceLROnPlateau on a scripted metric, against torch
    vals = [1.0, 0.9, 0.9, 0.9, 0.9, 0.85, 0.85, 0.85, 0.85]
    w = cr.nn.Parameter(cr.zeros(1))
    opt = cr.optim.SGD([w], lr=0.1)
    cb = C.ReduceLROnPlateau(opt, monitor="val_loss", patience=1, factor=0.5)
    cb.set_model(SimpleNamespace(optimizer=opt))
    cb.set_params({"metrics": ["loss", "val_loss"]})
    cb.on_train_begin()
    tp = torch.nn.Parameter(torch.zeros(1))
    topt = torch.optim.SGD([tp], lr=0.1)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, patience=1, factor=0.5)
    for e, v in enumerate(vals):
        logs = {"val_loss": v}
        cb.on_epoch_end(e, logs)
        assert logs["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-15)
        tsched.step(v)
        assert opt.param_groups[0]["lr"] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-15)
    state = cb.state_dict()
    assert "scheduler" in state
    with pytest.raises(ValueError, match="monitor='val_loss' is not among"):
        model().fit(x, y, epochs=1, verbose=0, callbacks=[C.ReduceLROnPlateau()])


# ---- ProgressBar ----
def test_progress_bar_verbosity(capsys) -> None:
    x, y = blobs(40)
    model().fit(x, y, epochs=2, verbose=0)
    model().fit(x, y, epochs=2)  # 'auto' and pytest's captured (non-tty) stderr -> quiet
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    model().fit(x, y, epochs=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2") and "loss: " in lines[0]
    buf = io.StringIO()
    model().fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[C.ProgressBar(1, buf)])
    text = buf.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and "4/4" in text and "accuracy" in text


def test_progress_bar_times_an_epoch_resumed_mid_way() -> None:
    """A resumed epoch gets no on_epoch_begin: its one-line time counts from the resume, not
    from the clock's origin."""
    import re

    buf = io.StringIO()
    bar = C.ProgressBar(2, buf)
    bar.set_params({"epochs": 3, "steps": 4})
    bar.on_train_begin()
    bar.on_train_batch_end(2, {"loss": 1.0})
    bar.on_epoch_end(1, {"loss": 1.0})
    seconds = float(re.search(r"- ([0-9.]+)s -", buf.getvalue()).group(1))
    assert seconds < 60, buf.getvalue()
