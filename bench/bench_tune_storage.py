"""Optuna storages for several local worker processes: journal file vs SQLite.

Why: ``chainrule tune --workers K`` needs an embedded default storage that K processes on one
machine can share. Optuna offers two: the journal file (``JournalStorage(JournalFileBackend)``,
an append-only log under a lock file) and SQLite through ``RDBStorage`` (which Optuna's docs
advise against for parallel work). This script measures both the way the tuner uses them.

Method: P worker processes (``--procs``, default 1 2 4) share one study; each runs M trials
(``--trials``) of a trivial objective that does what a chainrule trial does to the storage:
suggest 3 parameters, set 3 user attributes (pid, host, threads), report 5 intermediate values
(one per epoch) and ask the pruner after each. The objective computes nothing, so the time is
the storage's (the worst case: a real trial trains for seconds between these calls). Reported:
wall time, trials per second over all processes, and the errors that escaped (e.g. SQLite's
"database is locked"; SQLite is given a 30 s busy timeout as chainrule's tuner does). Random
sampler, so the sampler's own cost does not grow with the study.

Run::

    .venv/bin/python bench/bench_tune_storage.py               # both storages, 1/2/4 procs
    .venv/bin/python bench/bench_tune_storage.py --procs 2 --trials 100

No timing asserts: a measurement to read.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _storage(kind: str, path: str):  # noqa: ANN202
    import optuna

    if kind == "journal":
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(path))
    return optuna.storages.RDBStorage(
        f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 30}}
    )


def _worker(kind: str, path: str, n_trials: int, seed: int) -> int:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(
        study_name="bench",
        storage=_storage(kind, path),
        sampler=optuna.samplers.RandomSampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5),
    )

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        width = trial.suggest_int("width", 16, 256, log=True)
        trial.suggest_categorical("optimizer", ["adam", "sgd"])
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("host", "bench")
        trial.set_user_attr("blas_threads", 1)
        value = 0.0
        for epoch in range(5):
            value = lr * width / (epoch + 1)
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    errors = 0
    for _ in range(n_trials):
        try:
            study.optimize(objective, n_trials=1)
        except Exception as e:  # noqa: BLE001  (count what escapes)
            errors += 1
            print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
    return errors


def _measure(kind: str, procs: int, trials: int) -> tuple[float, int]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "study.journal" if kind == "journal" else "study.db")
        optuna.create_study(study_name="bench", storage=_storage(kind, path))
        t0 = time.perf_counter()
        children = [
            subprocess.Popen(
                [sys.executable, __file__, "--worker", kind, path, str(trials), str(i)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(procs)
        ]
        errors = 0
        for c in children:
            _, err = c.communicate()
            errors += err.count("error: ")
            if c.returncode not in (0,):
                errors += 1
        wall = time.perf_counter() - t0
        n = len(optuna.load_study(study_name="bench", storage=_storage(kind, path)).trials)
        if n != procs * trials:
            errors += abs(procs * trials - n)
    return wall, errors


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, path, n, seed = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        errors = _worker(kind, path, n, seed)
        sys.exit(0 if errors == 0 else 1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--trials", type=int, default=60, help="trials per process")
    ap.add_argument("--storages", nargs="+", default=["journal", "sqlite"])
    args = ap.parse_args()
    print(f"{'storage':8} {'procs':>5} {'trials':>6} {'wall s':>7} {'trials/s':>9} {'errors':>6}")
    for procs in args.procs:
        for kind in args.storages:
            wall, errors = _measure(kind, procs, args.trials)
            total = procs * args.trials
            print(
                f"{kind:8} {procs:5d} {total:6d} {wall:7.2f} {total / wall:9.1f} {errors:6d}",
                flush=True,
            )


if __name__ == "__main__":
    main()
