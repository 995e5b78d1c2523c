"""chainrule.tune (issue 8): the search space, settings, each sampler on the digits, pruning,
same seed -> same trials (RELIABILITY E8), continuing a study, dead workers' trials retried,
the report, the command line, and the message when Optuna is missing.

Most tests train with ``tune_helpers.digits_train`` (an MLP on 600 digits with chainrule's
``fit``) or ``curve_train`` (deterministic learning curves, no training) to test the tuner's
own logic quickly; the tests marked ``runner`` go through ``chainrule.cli.runner.train_run``
and the ``chainrule tune`` command, as a user does.
"""

from __future__ import annotations

import copy
import csv
import statistics
import subprocess
import sys
import warnings

import pytest
import tomllib

import tune_helpers as th

optuna = pytest.importorskip(
    "optuna", reason="Optuna (pip install 'chainrule[tune]') is not installed"
)

from chainrule.tune import (  # noqa: E402
    TuneSettings,
    _proc,  # noqa: E402
    apply_params,
    infer_direction,
    metric_value,
    open_study,
    parse_settings,
    parse_space,
    tune,
)
from chainrule.tune.study import is_surplus  # noqa: E402

COMPLETE = optuna.trial.TrialState.COMPLETE


def retried_from(t: optuna.trial.FrozenTrial) -> int | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t)


def complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if t.state == COMPLETE]


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ---- the search space ----
def test_space_forms_and_distributions():
    specs = parse_space(
        {
            "train.lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
            "train": {
                "batch_size": {"low": 16, "high": 128, "step": 16},
                "optimizer": ["adam", "sgd"],
            },
            "model.dropout": {"low": 0.0, "high": 0.5},
            "model.hidden[0]": {"type": "int", "low": 8, "high": 64, "log": True},
        }
    )
    by = {s.name: s for s in specs}
    assert list(by) == [
        "train.lr",
        "train.batch_size",
        "train.optimizer",
        "model.dropout",
        "model.hidden[0]",
    ]
    d = {n: s.distribution() for n, s in by.items()}
    assert d["train.lr"] == optuna.distributions.FloatDistribution(1e-4, 0.1, log=True)
    assert d["train.batch_size"] == optuna.distributions.IntDistribution(16, 128, step=16)
    assert d["train.optimizer"] == optuna.distributions.CategoricalDistribution(["adam", "sgd"])
    assert d["model.dropout"] == optuna.distributions.FloatDistribution(0.0, 0.5)
    assert d["model.hidden[0]"] == optuna.distributions.IntDistribution(8, 64, log=True)


def test_grid_values():
    s = parse_space(
        {
            "train.lr": {"low": 1e-4, "high": 1e-1, "log": True, "points": 4},
            "model.hidden[0]": {"low": 8, "high": 12},
            "model.dropout": {"low": 0.0, "high": 0.5, "points": 3},
            "train.epochs": {"low": 1, "high": 100, "grid": [2, 5]},
            "train.optimizer": ["adam", "sgd"],
        }
    )
    vals = {x.name: x.grid_values() for x in s}
    assert vals["train.lr"] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1], rel=1e-12)
    assert vals["train.lr"][0] >= 1e-4 and vals["train.lr"][-1] <= 1e-1  # inside the range
    assert vals["model.hidden[0]"] == [8, 9, 10, 11, 12]  # a small int range: every value
    assert vals["model.dropout"] == [0.0, 0.25, 0.5]
    assert vals["train.epochs"] == [2, 5]
    assert vals["train.optimizer"] == ["adam", "sgd"]
    with pytest.raises(ValueError, match=r"'train.lr'.*grid search needs.*points"):
        parse_space({"train.lr": {"low": 1e-4, "high": 0.1}})[0].grid_values()
    with pytest.raises(ValueError, match="grid search needs"):
        parse_space({"model.width": {"low": 1, "high": 1000}})[0].grid_values()


@pytest.mark.parametrize(
    "table, fragments",
    [
        ({}, ["empty"]),
        ({"tune.trials": [1, 2]}, ["'tune.trials'", "model, data, train"]),
        ({"trian.lr": [1, 2]}, ["'trian.lr'", "did you mean 'train'"]),
        ({"lr": [0.1]}, ["got table 'lr'", "e.g. 'train.lr'"]),
        ({"train.l r": [0.1]}, ["dotted config path"]),
        ({"train.lr": {"low": 0.1, "hihg": 1.0}}, ["unknown key 'hihg'", "did you mean 'high'"]),
        ({"train.lr": {"type": "flaot", "low": 0, "high": 1}}, ["unknown type", "'float'"]),
        ({"train.lr": {"low": 1.0, "high": 0.1}}, ["low <= high", "low=1.0"]),
        ({"train.lr": {"low": 0.0, "high": 0.1, "log": True}}, ["log range needs low > 0"]),
        ({"train.lr": {"low": 0.1, "high": 1.0, "log": True, "step": 0.1}}, ["both log"]),
        ({"train.epochs": {"type": "int", "low": 1.5, "high": 3}}, ["integer bounds"]),
        ({"train.epochs": {"low": 1, "high": 9, "log": True, "step": 2}}, ["step 2"]),
        ({"train.optimizer": []}, ["non-empty list"]),
        ({"train.optimizer": ["adam", "adam"]}, ["repeated"]),
        ({"model.hidden": [[32], [64]]}, ["numbers, strings, booleans"]),
        ({"train.optimizer": {"choices": ["adam"], "low": 1}}, ["not 'low'"]),
        ({"train.lr": {"low": 0.1, "high": 1.0, "grid": [2.0]}}, ["grid value 2.0"]),
        ({"train.lr": {"low": 0.1, "high": 1.0, "points": 0}}, ["points must be"]),
        ({"train.lr": "fast"}, ["expected a table"]),
    ],
)
def test_space_errors_name_the_entry(table, fragments):
    with pytest.raises(ValueError) as e:
        parse_space(table)
    msg = str(e.value).lower()
    for f in fragments:
        assert f.lower() in msg, (f, msg)


def test_apply_params_sets_dotted_paths_without_touching_the_base():
    base = {"model": {"hidden": [8, 4]}, "train": {"lr": 0.1}}
    out = apply_params(base, {"model.hidden[1]": 16, "train.lr": 0.01, "data.normalize": True})
    assert out == {"model": {"hidden": [8, 16]}, "train": {"lr": 0.01}, "data": {"normalize": True}}
    assert base == {"model": {"hidden": [8, 4]}, "train": {"lr": 0.1}}
    with pytest.raises(ValueError, match=r"model.hidden\[2\].*more than 2 items"):
        apply_params(base, {"model.hidden[2]": 1})
    with pytest.raises(
        ValueError,
        match=r"train.lr is a float \(0.1\), not a table, so it "
        "has no key 'x'",
    ):
        apply_params(base, {"train.lr.x": 1})


# ---- settings ----
def test_direction_from_the_metric_name():
    assert infer_direction("val_loss") == "minimize"
    assert infer_direction("val_mae") == "minimize"
    assert infer_direction("val_accuracy") == "maximize"
    assert infer_direction("f1") == "maximize"
    assert infer_direction("val_accuracy", "minimize") == "minimize"
    with pytest.raises(ValueError, match="cannot tell.*'val_quux'.*direction"):
        infer_direction("val_quux")
    with pytest.raises(ValueError, match="'up'"):
        infer_direction("val_loss", "up")


def test_settings_defaults_overrides_and_errors():
    s = parse_settings(
        {"metric": "val_accuracy", "params": {"train.lr": [0.1, 0.01]}},
        {"trials": 7, "seed": None, "workers": 2},
        default_study="cfg",
    )
    assert (s.direction, s.sampler, s.trials, s.seed, s.workers, s.study) == (
        "maximize",
        "tpe",
        7,
        None,
        2,
        "cfg",
    )
    assert TuneSettings.from_dict(s.to_dict()) == s  # what worker processes receive
    grid = parse_settings({"sampler": "grid", "params": {"train.lr": [0.1, 0.01, 0.001]}})
    assert grid.trials == 3  # the grid's size
    capped = parse_settings({"sampler": "grid", "trials": 50, "params": {"train.lr": [1, 2]}})
    assert capped.trials == 2
    p = {"train.lr": [1]}
    for table, frag in [
        ({"params": p, "sampeler": "tpe"}, "did you mean 'sampler'"),
        ({"params": p, "sampler": "bayes"}, "unknown sampler"),
        ({"params": p, "trials": 0}, "trials must be"),
        ({"params": p, "timeout": -1}, "timeout"),
        ({"metric": "val_loss"}, "no [tune.params]"),
    ]:
        with pytest.raises(ValueError) as e:
            parse_settings(table)
        assert frag.lower() in str(e.value).lower(), (frag, str(e.value))


# ---- each sampler on the digits (the acceptance) ----
@pytest.mark.parametrize("sampler", ["grid", "random", "tpe"])
def test_each_sampler_beats_the_median_and_the_best_config_retrains(sampler, tmp_path):
    cfg = th.config(sampler=sampler, trials=6, seed=0, pruner="none")
    res = tune(cfg, study_dir=tmp_path, train_fn=th.digits_train, quiet=True)
    done = complete(res.study)
    assert len(done) == 6 == len(res.study.trials)
    values = [t.value for t in done]
    assert res.best_value == max(values)
    assert res.best_value > statistics.median(values)
    if sampler == "grid":  # every point of the 3 x 2 grid once
        assert sorted((t.params["train.lr"], t.params["model.hidden[0]"]) for t in done) == sorted(
            (lr, w) for lr in cfg_grid(cfg, "train.lr") for w in cfg_grid(cfg, "model.hidden[0]")
        )
    # The best config, as written, retrains to the same metric (same seed: same run).
    best = tomllib.loads((tmp_path / "best_config.toml").read_text())
    assert "tune" not in best
    assert best["train"]["lr"] == res.best_params["train.lr"]
    assert best["model"]["hidden"] == [res.best_params["model.hidden[0]"]]
    again, _ = metric_value(th.digits_train(best).history, "val_accuracy", "maximize")
    assert again == pytest.approx(res.best_value, abs=1e-12)


def cfg_grid(cfg: dict, name: str) -> list:
    return next(s for s in parse_space(cfg["tune"]["params"]) if s.name == name).grid_values()


# ---- E8: one worker, same seed and sampler -> same trials ----
@pytest.mark.parametrize("sampler", ["random", "tpe", "grid"])
def test_same_seed_same_sequence_of_params(sampler, tmp_path):
    params = {
        "train.lr": {"low": 1e-4, "high": 0.3, "log": True, "points": 3},
        "model.hidden[0]": {"low": 4, "high": 64, "log": True, "points": 2},
    }

    def run(seed: int, where: str) -> list[dict]:
        cfg = th.config(sampler=sampler, trials=6, seed=seed, pruner="none", params=params)
        res = tune(
            cfg, study_dir=tmp_path / where, train_fn=th.curve_train, quiet=True, plots=False
        )
        return [t.params for t in res.study.trials]

    a, b, c = run(3, "a"), run(3, "b"), run(4, "c")
    assert len(a) == 6 and a == b
    assert a != c  # and the seed matters


# ---- pruning ----
def test_median_pruner_stops_a_bad_trial_after_its_first_epoch(tmp_path):
    cfg = th.config(
        sampler="random",
        trials=2,
        seed=0,
        pruner="median",
        pruner_startup_trials=1,
        pruner_warmup_epochs=0,
    )
    cfg["train"]["epochs"] = 4
    settings = parse_settings(cfg["tune"], default_study="p")
    h = open_study(settings, tmp_path)
    for lr in (0.01, 1e-4, 0.01):  # a good trial, a bad one, the good one again
        h.study.enqueue_trial({"train.lr": lr, "model.hidden[0]": 32})
    res = tune(
        cfg, study_dir=tmp_path, default_study="p", train_fn=th.curve_train, quiet=True, plots=False
    )
    good, bad, again = res.study.trials
    assert bad.state == optuna.trial.TrialState.PRUNED
    # curve_train at lr=1e-4, epoch 0: 1 - 0.2 * 2 - 0.1 = 0.5, below the median (0.9)
    assert bad.intermediate_values == {0: pytest.approx(0.5)}
    assert good.state == again.state == COMPLETE  # equal to the median: not pruned
    assert (
        good.intermediate_values
        == again.intermediate_values
        == {e: pytest.approx(1.0 - 0.1 / (e + 1)) for e in range(4)}
    )
    rows = read_csv(tmp_path / "trials.csv")
    assert rows[1]["state"] == "PRUNED" and "pruned after epoch 1" in rows[1]["note"]


def test_objective_best_or_last_epoch():
    h = {"val_loss": [0.9, 0.4, 0.6], "val_accuracy": [0.5, float("nan"), 0.7]}
    assert metric_value(h, "val_loss", "minimize") == (0.4, 1)
    assert metric_value(h, "val_loss", "minimize", "last") == (0.6, 2)
    assert metric_value(h, "val_accuracy", "maximize") == (0.7, 2)  # NaN epochs skipped
    with pytest.raises(ValueError, match=r"'val_f1' is not in the training history.*val_loss"):
        metric_value(h, "val_f1", "maximize")


def test_unknown_metric_is_a_clear_error(tmp_path):
    cfg = th.config(sampler="random", trials=2, seed=0, metric="val_f1", direction="maximize")
    with pytest.raises(ValueError, match=r"'val_f1' is not in the epoch 0 logs.*val_accuracy"):
        tune(cfg, study_dir=tmp_path, train_fn=th.curve_train, quiet=True, plots=False)


# ---- stopping and continuing a study ----
def test_a_stopped_study_continues_to_the_requested_count(tmp_path):
    cfg = th.config(sampler="random", seed=1, pruner="none")
    r1 = tune(
        cfg,
        overrides={"trials": 3},
        study_dir=tmp_path,
        train_fn=th.curve_train,
        quiet=True,
        plots=False,
    )
    first = [(t.number, t.params, t.value) for t in r1.study.trials]
    r2 = tune(
        cfg,
        overrides={"trials": 5},
        study_dir=tmp_path,
        train_fn=th.curve_train,
        quiet=True,
        resume=True,
        plots=False,
    )
    trials = r2.study.trials
    assert [(t.number, t.params, t.value) for t in trials[:3]] == first
    assert len(trials) == 5 and len(complete(r2.study)) == 5
    r3 = tune(
        cfg,
        overrides={"trials": 5},
        study_dir=tmp_path,
        train_fn=th.curve_train,
        quiet=True,
        plots=False,
    )
    assert len(r3.study.trials) == 5  # already complete: nothing more ran
    with pytest.raises(ValueError, match="--resume: no study 'other'"):
        tune(
            cfg,
            overrides={"study": "other"},
            study_dir=tmp_path,
            resume=True,
            train_fn=th.curve_train,
            quiet=True,
            plots=False,
        )
    with pytest.raises(ValueError, match="optimizes 'val_accuracy'.*asks for 'accuracy'"):
        tune(
            th.config(sampler="random", metric="accuracy"),
            study_dir=tmp_path,
            train_fn=th.curve_train,
            quiet=True,
            plots=False,
        )
    with pytest.raises(ValueError, match="created to maximize.*asks to minimize"):
        tune(
            th.config(sampler="random", metric="val_loss"),
            study_dir=tmp_path,
            train_fn=th.curve_train,
            quiet=True,
            plots=False,
        )


@pytest.mark.parametrize("resume", [True, False])
def test_trial_of_a_dead_process_is_failed_and_its_params_retried(tmp_path, resume):
    cfg = th.config(sampler="random", trials=2, seed=0, pruner="none")
    settings = parse_settings(cfg["tune"], default_study="s")
    study = open_study(settings, tmp_path).study
    trial = study.ask()  # RUNNING, as a worker that was then killed would leave it
    for s in settings.params:
        s.suggest(trial)
    trial.set_user_attr("pid", dead_pid())
    trial.set_user_attr("host", _proc.host_id())
    res = tune(
        cfg,
        study_dir=tmp_path,
        default_study="s",
        train_fn=th.curve_train,
        quiet=True,
        resume=resume,
        plots=False,
    )
    trials = res.study.trials
    killed = trials[0]
    assert killed.state == optuna.trial.TrialState.FAIL
    assert "died" in killed.user_attrs["fail_reason"]
    retries = [t for t in trials if retried_from(t) == 0]
    assert len(retries) == 1
    assert retries[0].params == killed.params and retries[0].state == COMPLETE
    assert "fail_reason" not in retries[0].user_attrs  # the attempt's attrs stay with it
    assert retries[0].user_attrs["pid"] != killed.user_attrs["pid"]
    assert len(complete(res.study)) == 2


def test_interrupted_trial_is_retried_on_resume(tmp_path):
    calls: list[int] = []

    def interrupted_once(config, run_dir=None, *, callbacks=(), quiet=False):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt  # Ctrl-C during the first trial
        return th.curve_train(config, run_dir, callbacks=callbacks)

    cfg = th.config(sampler="random", trials=2, seed=0, pruner="none")
    with pytest.raises(KeyboardInterrupt):
        tune(cfg, study_dir=tmp_path, train_fn=interrupted_once, quiet=True, plots=False)
    res = tune(
        cfg, study_dir=tmp_path, train_fn=interrupted_once, quiet=True, plots=False, resume=True
    )
    first, *rest = res.study.trials
    assert first.state == optuna.trial.TrialState.FAIL and first.user_attrs["interrupted"]
    retry = next(t for t in rest if retried_from(t) == 0)
    assert retry.params == first.params and retry.state == COMPLETE
    assert "interrupted" not in retry.user_attrs
    assert len(complete(res.study)) == 2
    assert res.recovered == [0]


def test_running_trials_of_live_processes_are_left_alone(tmp_path):
    cfg = th.config(sampler="random", trials=1, seed=0)
    settings = parse_settings(cfg["tune"], default_study="s")
    study = open_study(settings, tmp_path).study
    trial = study.ask()
    for k, v in _proc.identity().items():  # this very process: alive
        trial.set_user_attr(k, v)
    from chainrule.tune import recover_stale

    assert recover_stale(study) == []
    assert study.trials[0].state == optuna.trial.TrialState.RUNNING
    other_host = study.ask()
    other_host.set_user_attr("pid", dead_pid())
    other_host.set_user_attr("host", "another-machine")  # cannot be checked from here
    assert recover_stale(study) == []


def test_surplus_trial_steps_back():
    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(value=1.0))
    running = study.ask()
    for k, v in _proc.identity().items():
        running.set_user_attr(k, v)
    late = study.ask()
    assert is_surplus(study, late.number, 2)  # 1 complete + 1 live running ahead of it
    assert not is_surplus(study, late.number, 3)
    running.set_user_attr("pid", dead_pid())  # its process died: it no longer counts
    assert not is_surplus(study, late.number, 2)


# ---- the report ----
def test_report_files(tmp_path):
    cfg = th.config(sampler="random", trials=4, seed=2, pruner="none")
    res = tune(cfg, study_dir=tmp_path, train_fn=th.curve_train, quiet=True)
    rows = read_csv(tmp_path / "trials.csv")
    assert [int(r["number"]) for r in rows] == [0, 1, 2, 3]
    assert {
        "state",
        "value",
        "train.lr",
        "model.hidden[0]",
        "duration_s",
        "worker",
        "pid",
        "note",
    } <= set(rows[0])
    for r, t in zip(rows, res.study.trials):
        assert float(r["value"]) == pytest.approx(t.value)
        assert float(r["train.lr"]) == pytest.approx(t.params["train.lr"])
        assert float(r["duration_s"]) >= 0
    for name in ("optimization_history", "param_importances", "parallel_coordinate"):
        data = (tmp_path / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name
    best = tomllib.loads((tmp_path / "best_config.toml").read_text())
    expect = copy.deepcopy(th.BASE)
    expect["train"]["lr"] = res.best_params["train.lr"]
    expect["model"]["hidden"] = [res.best_params["model.hidden[0]"]]
    assert best == expect
    assert res.report["best_config"] == tmp_path / "best_config.toml"


# ---- Optuna missing ----
def test_without_optuna_the_command_says_how_to_install_it(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[tune.params]\n"train.lr" = [0.1, 0.01]\n')
    code = (
        "import sys; sys.modules['optuna'] = None\n"
        "import chainrule.tune as t\n"  # importing the package works without Optuna
        "try:\n    t.tune({'tune': {}})\n"
        "except ModuleNotFoundError as e:\n    print('API:', e)\n"
        "from chainrule.cli.main import main\n"
        f"sys.exit(main(['tune', {str(path)!r}]))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=th.child_env(),
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert "chainrule tune needs Optuna" in r.stderr
    assert "pip install 'chainrule[tune]'" in r.stderr
    assert "Traceback" not in r.stderr
    assert "API: chainrule tune needs Optuna" in r.stdout
    assert "pip install 'chainrule[tune]'" in r.stdout


def test_nothing_else_imports_optuna():
    code = (
        "import sys, chainrule, chainrule.training, chainrule.models, chainrule.io, "
        "chainrule.data, chainrule.cli.main as m, chainrule.tune\n"
        "m.build_parser()\n"
        "print('optuna' in sys.modules)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=th.child_env(),
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


# ---- the command line, on the real runner ----
def test_command_line_runs_continues_and_the_best_config_retrains(tmp_path):
    """``chainrule tune`` as a user runs it: trials are real ``chainrule train`` runs (run
    folders), ``--resume`` continues the study, and ``chainrule train best_config.toml``
    reproduces the best trial's metric (same seed, same thread count: the same run)."""
    from cli_helpers import cli

    config = th.ROOT / "configs" / "tune_digits_mlp.toml"
    sdir = tmp_path / "study"
    small = ["--set", "data.train_samples=300", "--set", "train.epochs=2"]
    r = cli(
        "tune",
        config,
        "--sampler",
        "random",
        "--trials",
        "3",
        "--seed",
        "0",
        "--study-dir",
        sdir,
        *small,
        cwd=tmp_path,
    )
    assert r.rc == 0, r.err
    assert "best: trial" in r.out and "3 complete" in r.out
    journal = str(sdir / "study.journal")
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    def load() -> optuna.Study:
        return optuna.load_study(
            study_name="tune_digits_mlp", storage=JournalStorage(JournalFileBackend(journal))
        )

    first = [(t.params, t.value) for t in load().trials]
    assert len(first) == 3
    run0 = sdir / "trials" / "0000"
    assert (run0 / "config.toml").is_file() and (run0 / "metrics.csv").is_file()
    assert not (run0 / "plots").exists()  # trials skip the per-run plots
    r = cli(
        "tune",
        config,
        "--sampler",
        "random",
        "--trials",
        "4",
        "--seed",
        "0",
        "--study-dir",
        sdir,
        "--resume",
        *small,
        cwd=tmp_path,
    )
    assert r.rc == 0, r.err
    study = load()
    assert [(t.params, t.value) for t in study.trials[:3]] == first
    assert len(complete(study)) == 4 and len(study.trials) == 4
    best = sdir / "best_config.toml"
    assert "[tune]" not in best.read_text()
    r = cli("train", best, "--run-dir", tmp_path / "retrain", "-q", cwd=tmp_path)
    assert r.rc == 0, r.err
    import json

    again = json.loads((tmp_path / "retrain" / "results.json").read_text())["best"]
    assert again["val_accuracy"] == pytest.approx(study.best_value, abs=1e-12)


def test_command_line_errors_are_one_line(tmp_path):
    from cli_helpers import assert_one_line_error, cli

    plain = tmp_path / "plain.toml"
    plain.write_text("[train]\nepochs = 1\n")
    assert_one_line_error(cli("tune", plain, cwd=tmp_path), "chainrule tune", "no [tune] table")
    typo = tmp_path / "typo.toml"
    typo.write_text("[tune]\nsampeler = 'tpe'\n[tune.params]\n\"train.lr\" = [0.1, 0.01]\n")
    assert_one_line_error(
        cli("tune", typo, cwd=tmp_path), "unknown key 'sampeler'", "Did you mean 'sampler'?"
    )
    bad = tmp_path / "bad.toml"
    bad.write_text('[tune.params]\n"train.lr" = {low = 0.0, high = 0.1, log = true}\n')
    assert_one_line_error(cli("tune", bad, cwd=tmp_path), "'train.lr'", "low > 0")


def test_timeout_stops_starting_trials(tmp_path):
    import time

    def slow(config, run_dir=None, *, callbacks=(), quiet=False):
        time.sleep(0.3)
        return th.curve_train(config, run_dir, callbacks=callbacks)

    cfg = th.config(sampler="random", trials=100, seed=0, pruner="none", timeout=1.0)
    t0 = time.perf_counter()
    res = tune(cfg, study_dir=tmp_path, train_fn=slow, quiet=True, plots=False)
    n = len(complete(res.study))
    assert 1 <= n < 100 and len(res.study.trials) == n
    assert time.perf_counter() - t0 < 30  # the last trial started before 1 s is let finish


def test_a_tuned_path_the_runner_does_not_know_fails_before_any_trial(tmp_path):
    cfg = th.config(sampler="random", trials=2, params={"train.learnig_rate": [0.1, 0.01]})
    with pytest.raises(ValueError, match="unknown key 'learnig_rate'.*'lr'"):
        tune(cfg, study_dir=tmp_path, train_fn=th.curve_train, quiet=True, plots=False)
    assert not (tmp_path / "study.journal").exists()


def test_grid_search_with_pruning_evaluates_each_point_once(tmp_path):
    """A pruned grid point counts as evaluated: the study ends after the grid, no re-runs."""
    cfg = th.config(
        sampler="grid", seed=0, pruner="median", pruner_startup_trials=1, pruner_warmup_epochs=0
    )
    cfg["train"]["epochs"] = 3
    res = tune(cfg, study_dir=tmp_path, train_fn=th.curve_train, quiet=True, plots=False)
    trials = res.study.trials
    assert len(trials) == 6  # 3 x 2 points
    assert len({(t.params["train.lr"], t.params["model.hidden[0]"]) for t in trials}) == 6
    states = {t.state.name for t in trials}
    assert states == {"COMPLETE", "PRUNED"}


def test_grid_workers_share_the_grid_order(tmp_path):
    """Trials of two workers, interleaved, cover the grid once (each worker's GridSampler must
    shuffle the grid the same way: trial n takes point n)."""
    cfg = th.config(sampler="grid", seed=5, pruner="none")
    settings = parse_settings(cfg["tune"], default_study="g")
    handles = [open_study(settings, tmp_path, worker=w) for w in (0, 1)]
    from chainrule.tune import TrialObjective

    objective = TrialObjective(
        th.BASE, settings.params, "val_accuracy", "maximize", train_fn=th.curve_train
    )
    for i in range(6):
        handles[i % 2].study.optimize(objective, n_trials=1)
    trials = handles[0].study.trials
    points = {(t.params["train.lr"], t.params["model.hidden[0]"]) for t in trials}
    assert len(trials) == 6 and len(points) == 6


def test_a_live_trial_failed_by_another_process_does_not_stop_the_worker(tmp_path):
    """A trial declared dead by another process while it still runs (a late heartbeat): this
    worker drops its result and goes on; the retry completes."""
    from chainrule.tune import PruningCallback, fail_and_retry

    failed: list[int] = []

    def failed_meanwhile(config, run_dir=None, *, callbacks=(), quiet=False):
        trial = next(c.trial for c in callbacks if isinstance(c, PruningCallback))
        if not failed:  # the first trial: "another process" fails it after epoch 1
            failed.append(trial.number)
            cb = callbacks[0]
            cb.on_epoch_end(0, {"val_accuracy": 0.5, "val_loss": 0.5})
            assert fail_and_retry(trial.study, trial, "late heartbeat")
        return th.curve_train(config, run_dir, callbacks=callbacks)

    cfg = th.config(sampler="random", trials=2, seed=0, pruner="none")
    res = tune(cfg, study_dir=tmp_path, train_fn=failed_meanwhile, quiet=True, plots=False)
    first = res.study.trials[0]
    assert first.state == optuna.trial.TrialState.FAIL
    retry = next(t for t in res.study.trials if retried_from(t) == 0)
    assert retry.state == COMPLETE and retry.params == first.params
    assert len(complete(res.study)) == 2
