"""Learning-rate schedules against torch.optim.lr_scheduler: the same float sequences.

Each schedule runs on a chainrule optimizer and a torch optimizer with two parameter groups
(different base lrs); after every epoch the learning rates (and OneCycleLR's momentum or β1)
must be equal to torch's, bit for bit (both compute them with Python floats in the same
order). ReduceLROnPlateau is driven by fixed metric sequences.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import chainrule as cr
from chainrule.optim import lr_scheduler as S
from optim_harness import roundtrip

TS = torch.optim.lr_scheduler


def make_optimizers(kind: str = "SGD", **kw):
    """A chainrule and a torch optimizer, each with two groups (lr 0.1 and 0.02)."""
    cp = [cr.nn.Parameter(cr.zeros(2)), cr.nn.Parameter(cr.zeros(3))]
    tp = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    kw.setdefault("lr", 0.1)
    co = getattr(cr.optim, kind)([{"params": [cp[0]]}, {"params": [cp[1]], "lr": 0.02}], **kw)
    to = getattr(torch.optim, kind)([{"params": [tp[0]]}, {"params": [tp[1]], "lr": 0.02}], **kw)
    return co, to


def record(opt, key="lr"):
    return [g.get(key) for g in opt.param_groups]


# (id, optimizer kind, optimizer kwargs, chainrule factory, torch factory, epochs)
SCHEDULES = [
    ("StepLR", "SGD", {}, lambda o: S.StepLR(o, 7, gamma=0.3), lambda o: TS.StepLR(o, 7, 0.3), 60),
    (
        "MultiStepLR",
        "SGD",
        {},
        lambda o: S.MultiStepLR(o, [5, 12, 12, 30], gamma=0.5),
        lambda o: TS.MultiStepLR(o, [5, 12, 12, 30], gamma=0.5),
        50,
    ),
    (
        "ExponentialLR",
        "SGD",
        {},
        lambda o: S.ExponentialLR(o, gamma=0.93),
        lambda o: TS.ExponentialLR(o, gamma=0.93),
        80,
    ),
    (
        "CosineAnnealingLR",
        "SGD",
        {},
        lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
        lambda o: TS.CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
        65,  # past T_max: the lr rises again, period 2 T_max
    ),
    (
        "LinearLR",
        "SGD",
        {},
        lambda o: S.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=8),
        lambda o: TS.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=8),
        20,
    ),
    (
        "LambdaLR",
        "SGD",
        {},
        lambda o: S.LambdaLR(o, lambda e: 1.0 / (1.0 + 0.3 * e)),
        lambda o: TS.LambdaLR(o, lambda e: 1.0 / (1.0 + 0.3 * e)),
        30,
    ),
    (
        "LambdaLR-per-group",
        "SGD",
        {},
        lambda o: S.LambdaLR(o, [lambda e: 0.9**e, lambda e: e // 4 + 1]),
        lambda o: TS.LambdaLR(o, [lambda e: 0.9**e, lambda e: e // 4 + 1]),
        30,
    ),
    (
        "OneCycleLR-cos-sgd",
        "SGD",
        {"momentum": 0.9},
        lambda o: S.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=50),
        lambda o: TS.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=50),
        49,
    ),
    (
        "OneCycleLR-linear-three-phase",
        "SGD",
        {"momentum": 0.9},
        lambda o: S.OneCycleLR(
            o,
            2.0,
            epochs=4,
            steps_per_epoch=10,
            anneal_strategy="linear",
            three_phase=True,
            pct_start=0.25,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
        lambda o: TS.OneCycleLR(
            o,
            2.0,
            epochs=4,
            steps_per_epoch=10,
            anneal_strategy="linear",
            three_phase=True,
            pct_start=0.25,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
        40,
    ),
    (
        "OneCycleLR-adam-betas",
        "Adam",
        {},
        lambda o: S.OneCycleLR(o, 0.01, total_steps=30, base_momentum=0.8, max_momentum=0.9),
        lambda o: TS.OneCycleLR(o, 0.01, total_steps=30, base_momentum=0.8, max_momentum=0.9),
        30,
    ),
    (
        "OneCycleLR-no-momentum",
        "Adagrad",
        {},
        lambda o: S.OneCycleLR(o, 0.3, total_steps=20, cycle_momentum=False),
        lambda o: TS.OneCycleLR(o, 0.3, total_steps=20, cycle_momentum=False),
        20,
    ),
]


def _sequential(mod, o):
    warm = mod.LinearLR(o, start_factor=0.2, total_iters=5)
    cos = mod.CosineAnnealingLR(o, T_max=20, eta_min=1e-4)
    step = mod.StepLR(o, step_size=4, gamma=0.5)
    return mod.SequentialLR(o, [warm, cos, step], milestones=[5, 25])


SCHEDULES.append(
    ("SequentialLR", "SGD", {}, lambda o: _sequential(S, o), lambda o: _sequential(TS, o), 45)
)


def run_sequences(kind, okw, make_cr, make_torch, epochs):
    co, to = make_optimizers(kind, **okw)
    cs, ts = make_cr(co), make_torch(to)
    momentum_key = "betas" if kind == "Adam" else "momentum"
    c_seq, t_seq = [], []
    for _ in range(epochs + 1):
        c_seq.append((cs.get_last_lr(), record(co), record(co, momentum_key)))
        t_seq.append((ts.get_last_lr(), record(to), record(to, momentum_key)))
        co.step()
        to.step()
        cs.step()
        ts.step()
    return c_seq, t_seq, cs


@pytest.mark.parametrize(
    "kind, okw, make_cr, make_torch, epochs",
    [s[1:] for s in SCHEDULES],
    ids=[s[0] for s in SCHEDULES],
)
def test_lr_sequence_matches_torch(kind, okw, make_cr, make_torch, epochs):
    c_seq, t_seq, _ = run_sequences(kind, okw, make_cr, make_torch, epochs - 1)
    for epoch, (c, t) in enumerate(zip(c_seq, t_seq)):
        assert c[0] == t[0], f"epoch {epoch}: get_last_lr {c[0]} != torch {t[0]}"
        assert c[1] == t[1], f"epoch {epoch}: group lrs {c[1]} != torch {t[1]}"
        assert [tuple(m) if isinstance(m, (list, tuple)) else m for m in c[2]] == [
            tuple(m) if isinstance(m, (list, tuple)) else m for m in t[2]
        ], f"epoch {epoch}: momentum"
    assert len({tuple(c[0]) for c in c_seq}) > 2  # the schedule actually moved


@pytest.mark.parametrize(
    "kind, okw, make_cr, make_torch, epochs",
    [s[1:] for s in SCHEDULES],
    ids=[s[0] for s in SCHEDULES],
)
def test_resume_from_state_dict(kind, okw, make_cr, make_torch, epochs):
    """Half the schedule, state dicts through JSON/safetensors into fresh objects, the rest:
    the same sequence as uninterrupted (torch's order: build the scheduler, then load the
    optimizer state, then the scheduler state)."""
    straight, _, _ = run_sequences(kind, okw, make_cr, make_torch, epochs - 1)
    half = epochs // 2
    co, _ = make_optimizers(kind, **okw)
    cs = make_cr(co)
    seq = []
    for _ in range(half):
        seq.append((cs.get_last_lr(), record(co)))
        co.step()
        cs.step()
    opt_sd, sched_sd = roundtrip(co.state_dict()), roundtrip(cs.state_dict())
    co2, _ = make_optimizers(kind, **{**okw, "lr": 0.7})
    cs2 = make_cr(co2)
    co2.load_state_dict(opt_sd)
    cs2.load_state_dict(sched_sd)
    for _ in range(half, epochs):
        seq.append((cs2.get_last_lr(), record(co2)))
        co2.step()
        cs2.step()
    assert seq == [(c[0], c[1]) for c in straight[:epochs]]


# ---- ReduceLROnPlateau ----
PLATEAU_METRICS = [
    1.0,
    0.9,
    0.95,
    0.91,
    0.9,
    0.9,
    0.89999,
    0.85,
    0.86,
    0.87,
    0.88,
    0.84,
    0.84,
    0.84,
    0.84,
    0.84,
    0.7,
    0.71,
    0.72,
    0.73,
    0.74,
    0.75,
    0.76,
    0.77,
]
PLATEAU = [
    ("min-rel", dict(patience=2)),
    ("min-abs-cooldown", dict(patience=1, threshold=0.02, threshold_mode="abs", cooldown=2)),
    ("max-rel", dict(mode="max", patience=0, factor=0.5)),
    ("max-abs", dict(mode="max", patience=1, threshold=0.01, threshold_mode="abs")),
    ("min_lr-list-eps", dict(patience=0, factor=0.5, min_lr=[0.02, 0.011], eps=1e-3)),
    ("patience-0-threshold-0", dict(patience=0, threshold=0.0)),
]


@pytest.mark.parametrize("kw", [p[1] for p in PLATEAU], ids=[p[0] for p in PLATEAU])
def test_reduce_lr_on_plateau_matches_torch(kw):
    co, to = make_optimizers()
    cs, ts = S.ReduceLROnPlateau(co, **kw), TS.ReduceLROnPlateau(to, **kw)
    seen = set()
    for epoch, metric in enumerate(PLATEAU_METRICS * 2):
        cs.step(metric)
        ts.step(metric)
        assert cs.get_last_lr() == ts.get_last_lr() == record(to), f"epoch {epoch}"
        assert (cs.num_bad_epochs, cs.cooldown_counter, cs.best) == (
            ts.num_bad_epochs,
            ts.cooldown_counter,
            ts.best,
        ), f"epoch {epoch}"
        seen.add(tuple(cs.get_last_lr()))
    assert len(seen) > 1  # it reduced at least once


def test_reduce_lr_on_plateau_resume_and_tensor_metric():
    co, _ = make_optimizers()
    cs = S.ReduceLROnPlateau(co, patience=1, factor=0.5)
    straight = []
    for m in PLATEAU_METRICS:
        cs.step(cr.tensor(m))  # a 0-d tensor works as a metric, as in torch
        straight.append(cs.get_last_lr())
    co, _ = make_optimizers()
    cs = S.ReduceLROnPlateau(co, patience=1, factor=0.5)
    assert cs.state_dict()["best"] == math.inf
    resumed = []
    for m in PLATEAU_METRICS[:9]:
        cs.step(m)
        resumed.append(cs.get_last_lr())
    osd, ssd = roundtrip(co.state_dict()), roundtrip(cs.state_dict())
    co2, _ = make_optimizers()
    cs2 = S.ReduceLROnPlateau(co2, patience=1, factor=0.5)
    co2.load_state_dict(osd)
    cs2.load_state_dict(ssd)
    for m in PLATEAU_METRICS[9:]:
        cs2.step(m)
        resumed.append(cs2.get_last_lr())
    assert resumed == straight


# ---- behaviour details ----
def test_closed_form_step_epoch_warns_like_torch():
    co, to = make_optimizers()
    cs, ts = S.CosineAnnealingLR(co, T_max=10), TS.CosineAnnealingLR(to, T_max=10)
    co.step()
    to.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        cs.step(7)
    with pytest.warns(UserWarning, match="epoch parameter"):
        ts.step(7)
    assert cs.get_last_lr() == ts.get_last_lr()


def test_scheduler_before_optimizer_warns():
    co, _ = make_optimizers()
    cs = S.StepLR(co, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        cs.step()
    co2, _ = make_optimizers()
    cs2 = S.StepLR(co2, 2)
    co2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cs2.step()


def test_two_schedulers_chain_on_one_optimizer():
    """The recursive forms compose: two schedulers on one optimizer, as torch chains them."""
    co, to = make_optimizers()
    c1, c2 = S.ExponentialLR(co, 0.9), S.StepLR(co, 3, gamma=0.5)
    t1, t2 = TS.ExponentialLR(to, 0.9), TS.StepLR(to, 3, gamma=0.5)
    for _ in range(12):
        co.step()
        to.step()
        c1.step()
        c2.step()
        t1.step()
        t2.step()
        assert record(co) == record(to)


def test_last_epoch_resume_requires_initial_lr():
    co, to = make_optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(co, 3, last_epoch=5)
    co.param_groups[0]["initial_lr"] = 0.1
    co.param_groups[1]["initial_lr"] = 0.02
    for g in to.param_groups:
        g["initial_lr"] = g["lr"]
    cs, ts = S.ExponentialLR(co, 0.5, last_epoch=4), TS.ExponentialLR(to, 0.5, last_epoch=4)
    co.step()
    to.step()
    cs.step()
    ts.step()
    assert cs.get_last_lr() == ts.get_last_lr()


def test_onecycle_past_total_steps_and_lambda_state():
    co, _ = make_optimizers()
    cs = S.OneCycleLR(co, 1.0, total_steps=3)
    for _ in range(3):
        co.step()
        cs.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total"):
        cs.step()

    class Warmup:  # a callable object: its __dict__ is saved, as torch does
        def __init__(self, n):
            self.n = n

        def __call__(self, e):
            return min(1.0, (e + 1) / self.n)

    co, _ = make_optimizers()
    f = Warmup(4)
    cs = S.LambdaLR(co, [lambda e: 1.0, f])
    sd = roundtrip(cs.state_dict())
    assert sd["lr_lambdas"] == [None, {"n": 4}]
    f.n = 99
    cs.load_state_dict(sd)
    assert f.n == 4


BAD = [
    ("not an optimizer", lambda o: S.StepLR(object(), 3), TypeError, "Optimizer"),
    ("step_size 0", lambda o: S.StepLR(o, 0), ValueError, "positive integer step_size"),
    ("T_max 0", lambda o: S.CosineAnnealingLR(o, 0), ValueError, "T_max > 0"),
    ("start_factor 0", lambda o: S.LinearLR(o, start_factor=0), ValueError, "Starting"),
    ("end_factor 2", lambda o: S.LinearLR(o, end_factor=2.0), ValueError, "Ending"),
    (
        "lambdas count",
        lambda o: S.LambdaLR(o, [lambda e: 1.0]),
        ValueError,
        "Expected 2 lr_lambdas",
    ),
    ("lambda not callable", lambda o: S.LambdaLR(o, 0.5), TypeError, "callable"),
    ("onecycle no steps", lambda o: S.OneCycleLR(o, 1.0), ValueError, "total_steps OR"),
    ("onecycle pct", lambda o: S.OneCycleLR(o, 1.0, 10, pct_start=1.5), ValueError, "pct_start"),
    (
        "onecycle anneal",
        lambda o: S.OneCycleLR(o, 1.0, 10, anneal_strategy="exp"),
        ValueError,
        "anneal_strategy",
    ),
    (
        "onecycle max_lr list",
        lambda o: S.OneCycleLR(o, [1.0], 10),
        ValueError,
        "max_lr must have the same length",
    ),
    ("plateau factor", lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor"),
    ("plateau mode", lambda o: S.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode avg"),
    (
        "plateau threshold mode",
        lambda o: S.ReduceLROnPlateau(o, threshold_mode="pct"),
        ValueError,
        "threshold mode pct",
    ),
    (
        "plateau min_lr list",
        lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1]),
        ValueError,
        "expected 2 min_lrs",
    ),
    (
        "sequential milestones",
        lambda o: S.SequentialLR(o, [S.StepLR(o, 2)], [3]),
        ValueError,
        "one more",
    ),
    ("sequential empty", lambda o: S.SequentialLR(o, [], []), ValueError, "at least one"),
    (
        "sequential plateau",
        lambda o: S.SequentialLR(o, [S.StepLR(o, 2), S.ReduceLROnPlateau(o)], [2]),
        ValueError,
        "ReduceLROnPlateau",
    ),
]


@pytest.mark.parametrize("make, exc, match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input(make, exc, match):
    co, _ = make_optimizers()
    with pytest.raises(exc, match=match):
        make(co)


def test_onecycle_needs_momentum():
    co, _ = make_optimizers("Adagrad")
    with pytest.raises(ValueError, match="momentum or beta1"):
        S.OneCycleLR(co, 1.0, total_steps=10)
    other, _ = make_optimizers()
    with pytest.raises(ValueError, match="same optimizer"):
        S.SequentialLR(co, [S.StepLR(other, 2)], [])
