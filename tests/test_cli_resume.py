"""``chainrule train`` -> kill -9 mid-epoch -> ``chainrule resume`` -> ``chainrule evaluate``,
all through real subprocesses: the resumed run ends with the same weights, bit for bit, the
same metrics.csv and history as a run that was never interrupted (issue 7 acceptance,
RELIABILITY B1, B5, B7, B8).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from cli_helpers import assert_one_line_error, cli, popen, weights

# 300 digits: 270 training images = 9 steps of 32 per epoch; a backup every 3 steps
ARGS = [
    "--set",
    "data.train_samples=300",
    "--set",
    "data.test_samples=60",
    "--epochs",
    "3",
    "--backup-every",
    "3",
    "--set",
    "model.dropout=0.3",
    "--quiet",
]
STEPS = 9


def _newest_backup(folder: Path) -> dict | None:
    files = sorted(folder.glob("backup-*.safetensors"))
    for path in reversed(files):
        try:
            return cr.io.load(path)
        except (OSError, ValueError):  # replaced while we read it
            continue
    return None


def _kill_in_epoch(
    cwd: Path, name: str, epoch: int, sig: int = signal.SIGKILL, extra: tuple[str, ...] = ()
) -> tuple[int, str, dict]:
    """Start a run that sleeps after each step, and send ``sig`` once a mid-epoch backup of
    ``epoch`` (0-based) exists; returns (exit status, stderr, that backup's loop state)."""
    p = popen("train", *ARGS, *extra, "--run-dir", name, "--debug-step-sleep", "0.12", cwd=cwd)
    backups = cwd / name / "checkpoints" / "backup"
    deadline = time.time() + 240
    state = None
    while time.time() < deadline and p.poll() is None:
        state = _newest_backup(backups)
        if state is not None and state["loop"]["epoch"] == epoch and state["loop"]["in_epoch"]:
            break
        time.sleep(0.02)
    assert p.poll() is None, "the run finished before it could be killed"
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    return p.returncode, err, state["loop"]


def _same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert sorted(wa) == sorted(wb)
    for k in wa:
        assert wa[k].dtype == wb[k].dtype and wa[k].shape == wb[k].shape, k
        assert wa[k].tobytes() == wb[k].tobytes(), f"{k} differs"


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("straight")
    r = cli("train", *ARGS, "--run-dir", "run", cwd=cwd)
    assert r.rc == 0, r.err
    return cwd / "run"


def test_kill9_resume_evaluate_is_bit_identical(straight: Path, tmp_path: Path) -> None:
    rc, _, loop = _kill_in_epoch(tmp_path, "run", epoch=1)
    assert rc == -signal.SIGKILL
    assert 0 < loop["batch"] < STEPS  # the backup it resumes from is mid-epoch 2
    run = tmp_path / "run"
    assert not (run / "checkpoints" / "model.safetensors").exists()
    assert not (run / "results.json").exists()
    # an interrupted run is evaluated with its best weights so far (epoch 1's)
    early = cli("evaluate", run, cwd=tmp_path)
    assert early.rc == 0 and "checkpoints/best.safetensors" in early.out.splitlines()[0]

    r = cli("resume", run, cwd=tmp_path)
    assert r.rc == 0, r.err
    assert "Test accuracy" in r.out
    _same_weights(
        straight / "checkpoints" / "model.safetensors", run / "checkpoints" / "model.safetensors"
    )
    _same_weights(
        straight / "checkpoints" / "best.safetensors", run / "checkpoints" / "best.safetensors"
    )
    assert (run / "metrics.csv").read_bytes() == (straight / "metrics.csv").read_bytes()
    a = json.loads((straight / "results.json").read_text())
    b = json.loads((run / "results.json").read_text())
    assert a["final"] == b["final"] and a["best"] == b["best"] and a["epochs"] == 3
    assert a["confusion_matrix"] == b["confusion_matrix"]

    ev_a = cli("evaluate", straight, cwd=tmp_path)
    ev_b = cli("evaluate", run, cwd=tmp_path)
    assert ev_a.rc == ev_b.rc == 0, ev_b.err
    assert ev_a.out.splitlines()[1:] == ev_b.out.splitlines()[1:]
    assert f"accuracy: {b['final']['test_accuracy']:.4f}" in ev_b.out

    # B8: resuming a finished run trains nothing and changes nothing
    csv = (run / "metrics.csv").read_bytes()
    final = run / "checkpoints" / "model.safetensors"
    kept = tmp_path / "final-before.safetensors"
    kept.write_bytes(final.read_bytes())
    again = cli("resume", run, "--set", "train.epochs=3", cwd=tmp_path)
    assert again.rc == 0, again.err
    assert "already finished (3 epochs)" in again.out
    assert (run / "metrics.csv").read_bytes() == csv
    _same_weights(kept, final)  # (the file is rewritten: safetensors orders its header freely)
    assert cr.io.read_metadata(kept) == cr.io.read_metadata(final)
    assert json.loads((run / "results.json").read_text())["final"] == b["final"]


def test_resume_refuses_a_changed_config(straight: Path, tmp_path: Path) -> None:
    """B5: the differences are listed; nothing is trained."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(straight, run)
    line = assert_one_line_error(
        cli("resume", run, "--set", "train.batch_size=16", "--set", "seed=4", cwd=tmp_path),
        "started with another configuration",
        "seed: 0 -> 4",
        "train.batch_size: 32 -> 16",
    )
    assert "epochs" not in line
    text = (run / "config.toml").read_text().replace("epochs = 3", "epochs = 5")
    (run / "config.toml").write_text(text)
    assert_one_line_error(cli("resume", run, cwd=tmp_path), "train.epochs: 3 -> 5")
    # the same refusal when train is pointed at the folder with other flags
    assert_one_line_error(
        cli("train", *ARGS, "--lr", "0.1", "--run-dir", run, cwd=tmp_path), "train.lr: 0.001 -> 0.1"
    )
    assert (run / "metrics.csv").read_bytes() == (straight / "metrics.csv").read_bytes()


def test_corrupt_latest_backup_falls_back_and_stays_exact(straight: Path, tmp_path: Path) -> None:
    """B4: the newest backup is truncated: resume warns (one line), falls back to the older
    one, trains from there and still ends bit-identical."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(straight, run)
    for name in ("model.safetensors", "best.safetensors"):
        (run / "checkpoints" / name).unlink()
    newest = sorted((run / "checkpoints" / "backup").glob("backup-*.safetensors"))[-1]
    newest.write_bytes(newest.read_bytes()[:100])
    r = cli("resume", run, cwd=tmp_path)
    assert r.rc == 0, r.err
    warns = [ln for ln in r.err.splitlines() if ln.startswith("chainrule: warning:")]
    assert len(warns) == 1 and "unreadable" in warns[0] and newest.name in warns[0], r.err
    _same_weights(
        straight / "checkpoints" / "model.safetensors", run / "checkpoints" / "model.safetensors"
    )
    assert (run / "metrics.csv").read_bytes() == (straight / "metrics.csv").read_bytes()


@pytest.mark.slow
def test_sigterm_then_resume_is_bit_identical(straight: Path, tmp_path: Path) -> None:
    """B7: SIGTERM saves a backup, prints one line naming the resume command and ends the
    process by the signal; the resumed run is exact."""
    rc, err, _ = _kill_in_epoch(tmp_path, "run", epoch=1, sig=signal.SIGTERM)
    assert rc == -signal.SIGTERM
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("chainrule: training stopped by SIGTERM at epoch 2")
    assert lines[0].endswith("continue with: chainrule resume run")
    r = cli("resume", "run", cwd=tmp_path)
    assert r.rc == 0, r.err
    _same_weights(
        straight / "checkpoints" / "model.safetensors",
        tmp_path / "run" / "checkpoints" / "model.safetensors",
    )


@pytest.mark.slow
def test_two_kills_in_a_row_still_bit_identical(straight: Path, tmp_path: Path) -> None:
    rc, _, _ = _kill_in_epoch(tmp_path, "run", epoch=0)
    assert rc == -signal.SIGKILL
    p = popen("resume", "run", "--debug-step-sleep", "0.12", cwd=tmp_path)
    backups = tmp_path / "run" / "checkpoints" / "backup"
    deadline = time.time() + 240
    while time.time() < deadline and p.poll() is None:
        state = _newest_backup(backups)
        if state is not None and state["loop"]["epoch"] == 2 and state["loop"]["in_epoch"]:
            break
        time.sleep(0.02)
    p.kill()
    p.communicate(timeout=60)
    r = cli("resume", "run", cwd=tmp_path)
    assert r.rc == 0, r.err
    _same_weights(
        straight / "checkpoints" / "model.safetensors",
        tmp_path / "run" / "checkpoints" / "model.safetensors",
    )
    assert np.array_equal(
        np.loadtxt(straight / "metrics.csv", delimiter=",", skiprows=1),
        np.loadtxt(tmp_path / "run" / "metrics.csv", delimiter=",", skiprows=1),
    )
