"""Tuning with several processes (issue 8, RELIABILITY B6): a worker killed with SIGKILL in
the middle of a trial does not break the study. Its trial ends FAIL, its parameters are
tried again, and the study still reaches exactly N complete trials. Covered: two processes on
one SQLite study (the dead worker found by its pid on this machine, or by Optuna's heartbeat
when it "runs on another machine"), ``--workers K`` under a supervising parent that also pins
each worker's BLAS threads, and killing everything and then ``--resume``.

The workers train an MLP on the digits (``tune_helpers.digits_train``). ``held_train`` is the
same, but it waits at each epoch end while a flag file exists, so a test can kill a worker
while it is surely in the middle of a trial.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import warnings
from pathlib import Path

import pytest

import tune_helpers as th

optuna = pytest.importorskip(
    "optuna", reason="Optuna (pip install 'chainrule[tune]') is not installed"
)

from chainrule.tune.study import open_storage  # noqa: E402
from chainrule.tune.workers import threads_per_worker  # noqa: E402

COMPLETE = optuna.trial.TrialState.COMPLETE
FAIL = optuna.trial.TrialState.FAIL
RUNNING = optuna.trial.TrialState.RUNNING


def load(storage: str, name: str = "s") -> optuna.Study:
    if "://" not in storage:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        if not Path(storage).exists():
            raise KeyError(storage)  # not created yet

        storage = JournalStorage(JournalFileBackend(storage))
    else:  # chainrule's opener retries the schema-creation race with a worker creating it
        storage = open_storage(storage)[0]
    return optuna.load_study(study_name=name, storage=storage)


def retried_from(t: optuna.trial.FrozenTrial) -> int | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t)


def wait_for(what: str, cond, procs=(), timeout: float = 120.0):
    """Poll ``cond()`` until it returns something truthy; fail if a process in ``procs`` exits
    first (with its stderr) or after ``timeout`` seconds."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            got = cond()
        except KeyError:  # the study does not exist yet
            got = None
        if got:
            return got
        for p in procs:
            if p.poll() is not None:
                out, err = p.communicate()
                pytest.fail(f"process exited ({p.returncode}) while waiting for {what}:\n{err}")
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def in_training(threads: Path, t: optuna.trial.FrozenTrial) -> bool:
    """The trial's process got into its training function (held_train wrote its file)."""
    return (threads / str(t.user_attrs.get("pid"))).exists()


def reap(*procs) -> None:
    """Kill what still runs (with the worker processes it started) and close the pipes."""
    for p in procs:
        if p is None:
            continue
        try:
            os.killpg(p.pid, signal.SIGKILL)  # spawn_tune starts a new session
        except ProcessLookupError:
            pass
        p.communicate()


def finish(p, timeout: float = 300.0) -> str:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    return out + err


def check_killed_and_retried(trials, killed_pid: int, n: int) -> tuple:
    killed = [t for t in trials if t.user_attrs.get("pid") == killed_pid]
    assert len(killed) == 1 and killed[0].state == FAIL, [(t.number, t.state) for t in killed]
    retries = [t for t in trials if retried_from(t) == killed[0].number]
    assert len(retries) == 1, [(t.number, t.system_attrs) for t in trials]
    assert retries[0].params == killed[0].params
    assert retries[0].state == COMPLETE
    assert sum(t.state == COMPLETE for t in trials) == n  # exactly N, no more
    return killed[0], retries[0]


@pytest.mark.parametrize("where", ["same machine", "other machine"])
def test_worker_killed_mid_trial_on_sqlite(tmp_path, where):
    """RELIABILITY B6: two processes on one SQLite study; one is SIGKILLed mid-trial."""
    n = 4
    db = f"sqlite:///{tmp_path / 'study.db'}"
    hold, threads = tmp_path / "hold", tmp_path / "threads"
    hold.touch()
    threads.mkdir()
    cfg = th.config(sampler="random", pruner="none")
    # The heartbeat finds dead workers of other machines after `grace` seconds; on this one
    # the dead pid is found at once, so a long grace shows the heartbeat is not what did it.
    grace = 2 if where == "other machine" else 60
    common = {"storage": db, "study": "s", "trials": n, "heartbeat": 1, "grace": grace}
    extra = {"CHAINRULE_TUNE_HOST": "machine-b"} if where == "other machine" else {}
    b = th.spawn_tune(
        cfg,
        "held_train",
        env=th.child_env(TUNE_TEST_HOLD=str(hold), TUNE_TEST_THREADS=str(threads), **extra),
        overrides={**common, "seed": 1},
        study_dir=str(tmp_path / "b"),
    )
    try:
        wait_for(
            "b's trial",
            lambda: [
                t
                for t in load(db).trials
                if t.state == RUNNING
                and t.user_attrs.get("pid") == b.pid
                and in_training(threads, t)
            ],
            [b],
        )
        a = th.spawn_tune(
            cfg, "digits_train", overrides={**common, "seed": 0}, study_dir=str(tmp_path / "a")
        )
        wait_for(
            "a's first complete trial",
            lambda: [t for t in load(db).trials if t.state == COMPLETE],
            [a],
        )
        os.kill(b.pid, signal.SIGKILL)
        reap(b)
        finish(a)
    finally:
        reap(b, locals().get("a"))
    killed, retry = check_killed_and_retried(load(db).trials, b.pid, n)
    assert retry.user_attrs["pid"] == a.pid
    if where == "same machine":  # found at once by its dead pid
        assert f"process {b.pid} died" in killed.user_attrs["fail_reason"]
    else:  # only the heartbeat could tell: failed by Optuna's fail_stale_trials
        assert killed.user_attrs["host"] == "machine-b"
        assert "fail_reason" not in killed.user_attrs


def test_parent_fails_and_retries_a_killed_workers_trial_and_restarts_it(tmp_path):
    """--workers 2 on the default journal storage: the parent notices its dead child."""
    n = 4
    sdir, hold, threads = tmp_path / "study", tmp_path / "hold", tmp_path / "threads"
    hold.touch()
    threads.mkdir()
    journal = str(sdir / "study.journal")
    cfg = th.config(sampler="random", pruner="none")
    env = th.child_env(TUNE_TEST_HOLD=str(hold), TUNE_TEST_THREADS=str(threads))
    p = th.spawn_tune(
        cfg,
        "held_train",
        env=env,
        quiet=False,
        study_dir=str(sdir),
        overrides={"study": "s", "trials": n, "workers": 2, "seed": 0},
    )
    try:
        running = wait_for(
            "both workers' trials",
            lambda: (lambda r: r if len({t.user_attrs.get("pid") for t in r}) == 2 else None)(
                [t for t in load(journal).trials if t.state == RUNNING and in_training(threads, t)]
            ),
            [p],
        )
        victim = next(t for t in running if t.user_attrs["worker"] == 1)
        os.kill(victim.user_attrs["pid"], signal.SIGKILL)
        wait_for(
            "the parent to fail the trial",
            lambda: load(journal).trials[victim.number].state == FAIL,
            [p],
        )
        hold.unlink()
        log = finish(p)
    finally:
        reap(p)
    trials = load(journal).trials
    killed, _ = check_killed_and_retried(trials, victim.user_attrs["pid"], n)
    assert "worker 1" in killed.user_attrs["fail_reason"]
    assert "SIGKILL" in killed.user_attrs["fail_reason"]
    assert f"worker 1 (pid {victim.user_attrs['pid']}) died" in log
    assert "started worker 1 again" in log
    # BLAS threads pinned in every worker: the environment and what OpenBLAS really uses.
    expect = threads_per_worker(2)
    assert {t.user_attrs["blas_threads"] for t in trials if "pid" in t.user_attrs} == {str(expect)}
    seen = {int(f.name): int(f.read_text()) for f in threads.iterdir()}
    assert len(seen) >= 2  # both first workers (the replacement may find no trial left)
    assert set(seen.values()) == {expect}, seen


@pytest.mark.slow
def test_kill_everything_then_resume(tmp_path):
    """RELIABILITY B6 variant: all processes killed; --resume fails the stale trials, retries
    them and finishes the study."""
    n = 4
    sdir, hold, threads = tmp_path / "study", tmp_path / "hold", tmp_path / "threads"
    hold.touch()
    threads.mkdir()
    journal = str(sdir / "study.journal")
    cfg = th.config(sampler="random", pruner="none")
    p = th.spawn_tune(
        cfg,
        "held_train",
        env=th.child_env(TUNE_TEST_HOLD=str(hold), TUNE_TEST_THREADS=str(threads)),
        study_dir=str(sdir),
        overrides={"study": "s", "trials": n, "workers": 2, "seed": 0},
    )
    running = wait_for(
        "two running trials",
        lambda: (lambda r: r if len(r) == 2 else None)(
            [t for t in load(journal).trials if t.state == RUNNING and in_training(threads, t)]
        ),
        [p],
    )
    reap(p)  # the parent and its workers: one process group
    for t in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(t.user_attrs["pid"], signal.SIGKILL)
    hold.unlink()
    dead = {t.user_attrs["pid"] for t in running}
    wait_for("the workers to exit", lambda: not any(Path(f"/proc/{d}").exists() for d in dead))
    r = th.spawn_tune(
        cfg,
        "digits_train",
        study_dir=str(sdir),
        resume=True,
        overrides={"study": "s", "trials": n, "seed": 0},
    )
    finish(r)
    trials = load(journal).trials
    for t in running:
        check_killed_and_retried(trials, t.user_attrs["pid"], n)


@pytest.mark.slow
def test_sqlite_contention_many_quick_trials(tmp_path):
    """RELIABILITY B6 variant: 2 processes, 40 trivial trials on SQLite: no "database is
    locked" escapes, and exactly 40 complete trials."""
    db = f"sqlite:///{tmp_path / 'study.db'}"
    cfg = th.config(sampler="random", pruner="median")
    common = {"storage": db, "study": "s", "trials": 40}
    procs = [
        th.spawn_tune(
            cfg, "instant_train", overrides={**common, "seed": i}, study_dir=str(tmp_path / f"w{i}")
        )
        for i in range(2)
    ]
    logs = [finish(p) for p in procs]
    assert not any("locked" in log for log in logs), logs
    trials = load(db).trials
    assert sum(t.state == COMPLETE for t in trials) == 40
    assert len({t.user_attrs["pid"] for t in trials}) == 2  # both did work


# ---- the same through the ``chainrule tune`` command ----
CONFIG = th.ROOT / "configs" / "tune_digits_mlp.toml"
SMALL = ["--set", "data.train_samples=300", "--set", "train.epochs=2", "-q"]


@pytest.mark.slow
def test_command_line_worker_killed_mid_trial_on_sqlite(tmp_path):
    """RELIABILITY B6 as sketched: two ``chainrule tune`` commands on one SQLite study,
    ``--heartbeat 1 --grace 3``, the second one slowed by ``--debug-trial-sleep`` and killed."""
    from cli_helpers import popen

    n = 4
    db = f"sqlite:///{tmp_path / 'study.db'}"
    args = [
        "tune",
        CONFIG,
        "--storage",
        db,
        "--study",
        "s",
        "--trials",
        str(n),
        "--sampler",
        "random",
        "--heartbeat",
        "1",
        "--grace",
        "3",
        *SMALL,
    ]
    b = popen(
        *args,
        "--seed",
        "1",
        "--study-dir",
        tmp_path / "b",
        "--debug-trial-sleep",
        "30",
        cwd=tmp_path,
    )
    a = None
    try:
        wait_for(
            "b's trial",
            lambda: [
                t
                for t in load(db).trials
                if t.state == RUNNING
                and t.user_attrs.get("pid") == b.pid
                and t.intermediate_values  # in training: epoch 1 reported, now asleep
            ],
            [b],
        )
        a = popen(*args, "--seed", "0", "--study-dir", tmp_path / "a", cwd=tmp_path)
        wait_for(
            "a's first trial", lambda: [t for t in load(db).trials if t.state == COMPLETE], [a]
        )
        os.kill(b.pid, signal.SIGKILL)
        b.communicate()
        finish(a)
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.kill()
                p.communicate()
    check_killed_and_retried(load(db).trials, b.pid, n)


@pytest.mark.slow
def test_command_line_workers(tmp_path):
    """``chainrule tune --workers 2``: two processes with pinned BLAS threads share the work."""
    from cli_helpers import cli

    r = cli(
        "tune",
        CONFIG,
        "--workers",
        "2",
        "--trials",
        "6",
        "--seed",
        "0",
        "--study",
        "w",
        "--study-dir",
        tmp_path / "s",
        *SMALL,
        cwd=tmp_path,
    )
    assert r.rc == 0, r.err
    trials = load(str(tmp_path / "s" / "study.journal"), "w").trials
    assert sum(t.state == COMPLETE for t in trials) == 6
    assert {t.user_attrs["worker"] for t in trials} == {0, 1}
    assert {t.user_attrs["blas_threads"] for t in trials} == {str(threads_per_worker(2))}
    assert (tmp_path / "s" / "best_config.toml").is_file()
