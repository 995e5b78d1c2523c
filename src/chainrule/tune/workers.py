"""K worker processes on one machine, each running trials of the same study, and the parent
that supervises them.

Each worker is a fresh ``python -m chainrule.tune.workers SPEC WORKER`` process whose
environment pins the BLAS and OpenMP pools (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
``MKL_NUM_THREADS``, ``VECLIB_MAXIMUM_THREADS``, ``NUMEXPR_NUM_THREADS``) to
``max(1, cores // K)`` threads before NumPy is imported, so K workers do not oversubscribe the
cores. Processes, not threads: NumPy's BLAS must not be called from several threads of one
process at once (numpy#29391), and a process can be killed on its own.

The parent polls its children. When one dies during a trial (killed, out of memory), the
parent marks that trial FAIL and queues its parameters again (:func:`~.study.fail_and_retry`),
then starts a replacement worker (at most ``MAX_RETRY * K`` replacements). A worker that exits
with an error (a bad config, a bug) stops the others: the same error would repeat. Ctrl-C
reaches all processes; each stops its trial (marked FAIL, ``interrupted``), and ``chainrule
tune --resume`` continues the study and retries those parameters.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["BLAS_VARS", "WorkerError", "blas_env", "run_workers", "threads_per_worker"]

BLAS_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


class WorkerError(RuntimeError):
    """A worker process exited with an error."""


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """``max(1, cores // workers)``: the BLAS threads each of ``workers`` processes gets.

    Example:
        >>> threads_per_worker(2, cores=8), threads_per_worker(4, cores=2)
        (4, 1)
    """
    return max(1, (cores or _cores()) // workers)


def blas_env(
    workers: int, base: Mapping[str, str] | None = None, cores: int | None = None
) -> dict[str, str]:
    """A copy of ``base`` (default ``os.environ``) with the BLAS/OpenMP pools pinned for one
    of ``workers`` processes (a smaller count already set in ``base`` is kept).

    Example:
        >>> blas_env(2, {}, cores=8)["OPENBLAS_NUM_THREADS"]
        '4'
    """
    env = dict(os.environ if base is None else base)
    n = threads_per_worker(workers, cores)
    for var in BLAS_VARS:
        try:
            given = int(env.get(var, ""))
        except ValueError:
            given = 0
        env[var] = str(min(n, given) if given > 0 else n)
    return env


def _fn_ref(fn: Callable[..., Any] | None) -> str:
    if fn is None:
        return ""
    ref = f"{fn.__module__}:{fn.__qualname__}"
    if "<" in ref or fn.__module__ == "__main__":
        raise ValueError(
            f"train_fn {ref!r} cannot be imported by a worker process: with "
            "workers > 1 it must be a module-level function of an importable module"
        )
    return ref


def _import_ref(ref: str) -> Callable[..., Any]:
    mod, _, name = ref.partition(":")
    obj: Any = importlib.import_module(mod)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def run_workers(
    spec: Mapping[str, Any],
    study_dir: str | os.PathLike,
    workers: int,
    *,
    train_fn: Callable[..., Any] | None = None,
    poll: float = 0.5,
    on_poll: Callable[[], None] | None = None,
    quiet: bool = False,
) -> int:
    """Start ``workers`` worker processes for ``spec`` and supervise them until all exit.

    Args:
        spec: ``{"config", "settings", "study_dir", "deadline", "epoch_sleep",
            "allow_code"}`` (JSON-able), written to ``<study_dir>/workers.json``.
        study_dir: the study folder.
        workers: how many processes.
        train_fn: a module-level training function (default ``train_run``), passed to the
            workers by its import path.
        poll: seconds between checks.
        on_poll: called after each check (progress printing).
        quiet: no messages about dead workers.

    Returns:
        The number of trials failed and retried because their worker died.

    Raises:
        WorkerError: a worker exited with an error (the others are stopped first).
    """
    from chainrule.tune.study import MAX_RETRY, TuneSettings, fail_and_retry, open_study

    study_dir = Path(study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    spec_path = study_dir / "workers.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    handle = open_study(TuneSettings.from_dict(spec["settings"]), study_dir)
    env = blas_env(workers)
    ref = _fn_ref(train_fn)

    def start(i: int) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "chainrule.tune.workers", str(spec_path), str(i)]
        if ref:
            cmd.append(ref)
        return subprocess.Popen(cmd, env=env)

    def say(msg: str) -> None:
        if not quiet:
            print(f"chainrule tune: {msg}", file=sys.stderr, flush=True)

    procs = {i: start(i) for i in range(workers)}
    restarts, retried = 0, 0
    error: str | None = None
    prev_term = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        raise KeyboardInterrupt

    in_main = _in_main_thread()
    if in_main:
        signal.signal(signal.SIGTERM, on_term)
    try:
        while procs:
            for i, p in list(procs.items()):
                rc = p.poll()
                if rc is None:
                    continue
                del procs[i]
                lost = []
                study = handle.study
                for t in study.get_trials(deepcopy=False):
                    if t.state.name == "RUNNING" and t.user_attrs.get("pid") == p.pid:
                        how = f"signal {signal.Signals(-rc).name}" if rc < 0 else f"exit {rc}"
                        if fail_and_retry(
                            study, t, f"worker {i} (pid {p.pid}) died ({how}) during the trial"
                        ):
                            lost.append(t.number)
                retried += len(lost)
                if rc == 0:
                    continue
                if rc == 130:  # Ctrl-C reached this worker alone
                    say(f"worker {i} (pid {p.pid}) was interrupted")
                    continue
                if rc > 0 and rc not in (128 + signal.SIGKILL, 128 + signal.SIGTERM):
                    error = f"worker {i} (pid {p.pid}) exited with code {rc}"
                    break
                what = (
                    f"trial {', '.join(map(str, lost))} failed and queued again"
                    if lost
                    else "no trial was running"
                )
                done = _study_done(handle)
                if (
                    not done
                    and restarts < MAX_RETRY * workers
                    and (spec.get("deadline") is None or time.time() < spec["deadline"])
                ):
                    procs[i] = start(i)
                    restarts += 1
                    say(
                        f"worker {i} (pid {p.pid}) died (code {rc}); {what}; started worker "
                        f"{i} again (pid {procs[i].pid})"
                    )
                else:
                    say(f"worker {i} (pid {p.pid}) died (code {rc}); {what}")
            if error:
                break
            if on_poll is not None:
                on_poll()
            time.sleep(poll)
    except KeyboardInterrupt:
        _stop(procs.values(), signal.SIGINT, 30.0)
        raise
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, prev_term)
    if error:
        _stop(procs.values(), signal.SIGTERM, 10.0)
        raise WorkerError(f"{error}; stopped the other workers (its error is printed above)")
    return retried


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _study_done(handle: Any) -> bool:
    from chainrule.tune.study import count_states

    return handle.settings.n_done(count_states(handle.study)) >= handle.settings.trials


def _stop(procs: Any, sig: int, wait: float) -> None:
    procs = [p for p in procs if p.poll() is None]
    for p in procs:
        p.send_signal(sig)
    end = time.time() + wait
    for p in procs:
        try:
            p.wait(timeout=max(0.1, end - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def worker_main(argv: list[str] | None = None) -> int:
    """Entry of a worker process: ``python -m chainrule.tune.workers SPEC WORKER [TRAIN_FN]``."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (2, 3):
        print(
            "usage: python -m chainrule.tune.workers SPEC.json WORKER [module:function]",
            file=sys.stderr,
        )
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    worker = int(argv[1])
    train_fn = _import_ref(argv[2]) if len(argv) == 3 else None
    from chainrule.tune._optuna import require_optuna
    from chainrule.tune.objective import TrialObjective
    from chainrule.tune.study import TuneSettings, open_study, run_trials

    optuna = require_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings = TuneSettings.from_dict(spec["settings"])
    handle = open_study(settings, spec["study_dir"], worker=worker)
    objective = TrialObjective(
        spec["config"],
        settings.params,
        settings.metric,
        settings.direction,
        settings.objective,
        study_dir=spec["study_dir"],
        train_fn=train_fn,
        n_trials=settings.trials,
        worker=worker,
        epoch_sleep=spec.get("epoch_sleep", 0.0),
        allow_code=spec.get("allow_code", False),
        done_states=settings.done_states,
    )
    parent = os.getppid()
    try:  # an orphan (its parent was killed) stops after its trial
        run_trials(
            handle,
            objective,
            deadline=spec.get("deadline"),
            should_stop=lambda: os.getppid() != parent,
        )
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001  (one line for the parent's terminal)
        print(f"chainrule tune worker {worker}: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
