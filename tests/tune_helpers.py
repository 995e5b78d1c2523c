"""Helpers for the tuner tests (tests/test_tune*.py): configs and a small training function.

``digits_train`` trains the config's MLP on the bundled digits with chainrule's ``fit`` and
returns ``{"history": ...}``: the signature of ``chainrule.cli.runner.train_run`` for the
tests that check the tuner's own logic without the CLI's run folders.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from chainrule.training.callbacks import Callback

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

_DATA: Any = None


def _digits() -> Any:
    global _DATA
    if _DATA is None:
        import chainrule as cr

        (x, y), (xt, yt) = cr.data.datasets.digits(flatten=True)
        _DATA = (x[:600], y[:600]), (xt[:200], yt[:200])
    return _DATA


def digits_train(
    config: dict,
    run_dir: Any = None,
    *,
    callbacks: Any = (),
    quiet: bool = False,
    allow_code: bool = False,
) -> SimpleNamespace:
    """Train ``config`` (seed, model.hidden, train.lr/optimizer/epochs/batch_size) on 600 digits
    with 200 held out for validation."""
    import chainrule as cr

    (x, y), (xt, yt) = _digits()
    m, t = config["model"], config["train"]
    seed = int(config.get("seed", 0))
    cr.manual_seed(seed)
    model = cr.models.get_model(
        "mlp",
        in_features=64,
        hidden=tuple(m.get("hidden", (32,))),
        out_features=10,
        dropout=float(m.get("dropout", 0.0)),
    )
    model.compile(
        optimizer=t.get("optimizer", "adam"),
        lr=float(t["lr"]),
        loss="cross_entropy",
        metrics=["accuracy"],
    )
    h = model.fit(
        x,
        y,
        batch_size=int(t.get("batch_size", 64)),
        epochs=int(t["epochs"]),
        validation_data=(xt, yt),
        callbacks=list(callbacks),
        verbose=0,
        seed=seed,
    )
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(history=dict(h.history))


BASE = {
    "seed": 0,
    "model": {"name": "mlp", "hidden": [32]},
    "data": {"name": "digits"},
    "train": {"epochs": 2, "lr": 0.01, "optimizer": "adam", "batch_size": 64},
}


def config(**tune: Any) -> dict:
    """BASE plus a [tune] table tuning train.lr (log) and model.hidden[0] (the MLP's width)."""
    cfg = copy.deepcopy(BASE)
    table = {
        "metric": "val_accuracy",
        "params": {
            "train.lr": {"type": "float", "low": 1e-4, "high": 0.3, "log": True, "points": 3},
            "model.hidden[0]": {"type": "int", "low": 4, "high": 64, "log": True, "points": 2},
        },
    }
    table.update(tune)
    cfg["tune"] = table
    return cfg


def child_env(**extra: str) -> dict:
    """The environment for chainrule subprocesses: tests/ importable, 1 BLAS thread."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(TESTS), str(ROOT / "src"), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = "1"
    env["PYTHONHASHSEED"] = "0"
    env.update(extra)
    return env


PYTHON = sys.executable


def curve_train(
    config: dict,
    run_dir: Any = None,
    *,
    callbacks: Any = (),
    quiet: bool = False,
    allow_code: bool = False,
) -> SimpleNamespace:
    """A stand-in run without training: ``val_accuracy`` climbs with the epochs and is highest
    for ``train.lr`` near 1e-2 (deterministic), reported to the callbacks like ``fit`` does."""
    import math

    lr, width = float(config["train"]["lr"]), int(config["model"]["hidden"][0])
    top = 1.0 - 0.2 * abs(math.log10(lr) + 2.0) - 0.001 * abs(width - 32)
    epochs = int(config["train"]["epochs"])
    hist: dict[str, list[float]] = {"val_accuracy": [], "val_loss": []}
    for e in range(epochs):
        acc = top - 0.1 / (e + 1)
        logs = {"val_accuracy": acc, "val_loss": 1.0 - acc}
        for k, v in logs.items():
            hist[k].append(v)
        for cb in callbacks:
            cb.on_epoch_end(e, dict(logs))
    return SimpleNamespace(history=hist)


def instant_train(
    config: dict,
    run_dir: Any = None,
    *,
    callbacks: Any = (),
    quiet: bool = False,
    allow_code: bool = False,
) -> SimpleNamespace:
    """curve_train with one epoch: for storage stress tests (many trivial trials)."""
    cfg = copy.deepcopy(config)
    cfg["train"]["epochs"] = 1
    return curve_train(cfg, run_dir, callbacks=callbacks)


class _WaitWhileFlag(Callback):
    """A callback that blocks at each epoch end while the file ``$TUNE_TEST_HOLD`` exists
    (at most 120 s), so a test can kill a worker in the middle of a trial."""

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        import time

        flag = os.environ.get("TUNE_TEST_HOLD", "")
        end = time.time() + 120
        while flag and os.path.exists(flag) and time.time() < end:
            time.sleep(0.05)


def _record_threads() -> None:
    """Write this process's BLAS thread count to ``$TUNE_TEST_THREADS/<pid>``."""
    where = os.environ.get("TUNE_TEST_THREADS")
    if not where:
        return
    from threadpoolctl import threadpool_info

    n = max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=-1)
    Path(where, str(os.getpid())).write_text(str(n))


def held_train(
    config: dict,
    run_dir: Any = None,
    *,
    callbacks: Any = (),
    quiet: bool = False,
    allow_code: bool = False,
) -> SimpleNamespace:
    """digits_train that waits at each epoch end while ``$TUNE_TEST_HOLD`` exists."""
    _record_threads()
    return digits_train(config, run_dir, callbacks=[*callbacks, _WaitWhileFlag()])


def run_tune(spec_json: str) -> None:
    """Entry for test subprocesses: ``tune(**spec)`` with ``train_fn`` named in the spec."""
    import json

    import chainrule.tune as ct

    spec = json.loads(spec_json)
    fn = globals()[spec.pop("train_fn")]
    cfg = spec.pop("config")
    spec.setdefault("quiet", True)
    ct.tune(cfg, train_fn=fn, plots=False, **spec)


def spawn_tune(config: dict, train_fn: str, env: dict | None = None, **kwargs: Any) -> Any:
    """Start ``tune(config, train_fn=<helper>, **kwargs)`` in a new process (Popen)."""
    import json
    import subprocess

    spec = json.dumps({"config": config, "train_fn": train_fn, **kwargs})
    code = f"import tune_helpers as th; th.run_tune({spec!r})"
    return subprocess.Popen(
        [PYTHON, "-c", code],
        env=env or child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # its workers too can be killed at once
