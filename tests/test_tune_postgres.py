"""Tuning on PostgreSQL, the storage for several machines (issue 8): a local server started for
the test (Debian's ``postgresql`` package, installed with apt-get when missing and root),
listening on 127.0.0.1 on a free port only, in a temporary folder, stopped at the end.

Two ``chainrule tune`` commands share one study on it, as two machines would. Then a worker
"on another machine" is killed mid-trial: only Optuna's heartbeat can notice, and the
surviving command fails and retries its trial. Skipped, with the reason, when PostgreSQL or
a driver (``psycopg2-binary``) is not available.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import pytest

optuna = pytest.importorskip(
    "optuna", reason="Optuna (pip install 'chainrule[tune]') is not installed"
)

from chainrule.tune.study import open_storage  # noqa: E402

pytestmark = pytest.mark.slow

COMPLETE = optuna.trial.TrialState.COMPLETE
RUNNING = optuna.trial.TrialState.RUNNING
FAIL = optuna.trial.TrialState.FAIL
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "tune_digits_mlp.toml"
SMALL = ["--set", "data.train_samples=300", "--set", "train.epochs=2"]


def _bin_dir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return str(Path(found[-1]).parent) if found else None


def _install() -> str | None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    for cmd in (
        ["apt-get", "install", "-y", "-q", "postgresql"],
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "postgresql"],
    ):
        subprocess.run(
            cmd,
            capture_output=True,
            timeout=600,
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if _bin_dir():
            break
    return _bin_dir()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.skip("no PostgreSQL driver: pip install psycopg2-binary==2.9.10 (the tune extra)")
    bindir = _bin_dir() or _install()
    if bindir is None:
        pytest.skip(
            "PostgreSQL is not installed (Debian package 'postgresql') and could not be "
            "installed here (needs root and apt-get)"
        )
    root = tempfile.mkdtemp(prefix="chainrule-pg-")
    data, sock = os.path.join(root, "data"), os.path.join(root, "sock")
    os.makedirs(sock)
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    pg_ctl = [*as_user, os.path.join(bindir, "pg_ctl"), "-D", data]
    r = subprocess.run(
        [*as_user, os.path.join(bindir, "initdb"), "-D", data, "-A", "trust", "-U", "postgres"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if r.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {r.stderr.strip()[-300:]}")
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=50"
    r = subprocess.run(
        [*pg_ctl, "-o", opts, "-l", os.path.join(root, "log"), "-w", "-t", "60", "start"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if r.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {r.stderr.strip()[-300:]}")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def _load(url: str, name: str) -> optuna.Study:
    # chainrule's opener retries the schema-creation race with a worker creating the tables
    return optuna.load_study(study_name=name, storage=open_storage(url)[0])


def _retried_from(t: optuna.trial.FrozenTrial) -> int | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t)


def _wait(what: str, cond, procs, timeout: float = 180.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            got = cond()
        except KeyError:
            got = None
        if got:
            return got
        for p in procs:
            if p.poll() is not None:
                out, err = p.communicate()
                pytest.fail(f"chainrule tune exited ({p.returncode}) before {what}:\n{err}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _finish(p) -> None:
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, f"exit {p.returncode}\n{out}\n{err}"


def test_two_commands_share_a_postgres_study(postgres_url, tmp_path):
    from cli_helpers import popen

    n = 6
    args = [
        "tune",
        CONFIG,
        "--storage",
        postgres_url,
        "--study",
        "shared",
        "--trials",
        str(n),
        "--sampler",
        "tpe",
        *SMALL,
        "-q",
    ]
    a = popen(*args, "--seed", "0", "--study-dir", tmp_path / "a", cwd=tmp_path)
    b = popen(*args, "--seed", "1", "--study-dir", tmp_path / "b", cwd=tmp_path)
    try:
        _finish(a)
        _finish(b)
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
                p.communicate()
    trials = _load(postgres_url, "shared").trials
    assert sum(t.state == COMPLETE for t in trials) == n
    assert {t.user_attrs["pid"] for t in trials} == {a.pid, b.pid}  # both machines worked
    assert (tmp_path / "a" / "best_config.toml").is_file()


def test_worker_on_another_machine_killed_mid_trial(postgres_url, tmp_path):
    """B6 on PostgreSQL: only the heartbeat (1 s, grace 3 s) shows the trial is dead."""
    from cli_helpers import popen

    n = 3
    args = [
        "tune",
        CONFIG,
        "--storage",
        postgres_url,
        "--study",
        "kill",
        "--trials",
        str(n),
        "--sampler",
        "random",
        "--heartbeat",
        "1",
        "--grace",
        "3",
        *SMALL,
        "-q",
    ]
    b = popen(
        *args,
        "--seed",
        "1",
        "--study-dir",
        tmp_path / "b",
        "--debug-trial-sleep",
        "60",
        cwd=tmp_path,
        CHAINRULE_TUNE_HOST="machine-b",
    )
    a = None
    try:
        _wait(
            "b's trial",
            lambda: [
                t
                for t in _load(postgres_url, "kill").trials
                if t.state == RUNNING and t.user_attrs.get("pid") == b.pid and t.intermediate_values
            ],
            [b],
        )
        a = popen(*args, "--seed", "0", "--study-dir", tmp_path / "a", cwd=tmp_path)
        _wait(
            "a's first trial",
            lambda: [t for t in _load(postgres_url, "kill").trials if t.state == COMPLETE],
            [a],
        )
        os.kill(b.pid, signal.SIGKILL)
        b.communicate()
        _finish(a)
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.kill()
                p.communicate()
    trials = _load(postgres_url, "kill").trials
    killed = [t for t in trials if t.user_attrs.get("pid") == b.pid]
    assert len(killed) == 1 and killed[0].state == FAIL
    retries = [t for t in trials if _retried_from(t) == killed[0].number]
    assert len(retries) == 1 and retries[0].params == killed[0].params
    assert retries[0].state == COMPLETE and retries[0].user_attrs["pid"] == a.pid
    assert sum(t.state == COMPLETE for t in trials) == n
