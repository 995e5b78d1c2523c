"""Exact resume (RELIABILITY B1, B4, B5, B7, B8): a run killed at any point and resumed with
``BackupAndRestore`` ends bit-identical to an uninterrupted run.

The subprocess tests run tests/_resume_child.py (MLP + dropout on the bundled digits, Adam,
per-step StepLR, EarlyStopping, ModelCheckpoint, CSVLogger, backups every 7 steps; 41 steps
per epoch, so epoch 2 is global steps 42-82) and compare final weights, optimizer state and
the default generator bit for bit, the History, the metrics.csv bytes and the checkpoint
files. The in-process tests crash ``fit`` with an exception instead of a signal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

CHILD = Path(__file__).with_name("_resume_child.py")
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "2",
    "OPENBLAS_NUM_THREADS": "2",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def child(run_dir: Path, *kills: str, env: dict | None = None) -> subprocess.CompletedProcess:
    run_dir.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, str(CHILD), str(run_dir), *kills],
        env={**ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_same_run(a: Path, b: Path) -> None:
    sa, sb = cr.io.load(a / "final.safetensors"), cr.io.load(b / "final.safetensors")
    for part in ("model",):
        assert sa[part].keys() == sb[part].keys()
        for k in sa[part]:
            assert sa[part][k].tobytes() == sb[part][k].tobytes(), k
    oa, ob = sa["optimizer"], sb["optimizer"]
    assert oa["param_groups"] == ob["param_groups"]
    for i in oa["state"]:
        for k, v in oa["state"][i].items():
            w = ob["state"][i][k]
            assert (v.tobytes() == w.tobytes()) if isinstance(v, np.ndarray) else v == w, (i, k)
    assert sa["rng"] == sb["rng"]
    assert json.loads((a / "history.json").read_text()) == json.loads(
        (b / "history.json").read_text()
    )
    assert (a / "metrics.csv").read_bytes() == (b / "metrics.csv").read_bytes()
    assert (a / "ckpts.json").read_text() == (b / "ckpts.json").read_text()
    for name in json.loads((a / "ckpts.json").read_text()):
        ca, cb = cr.io.load(a / "ckpt" / name), cr.io.load(b / "ckpt" / name)
        assert all(ca[k].tobytes() == cb[k].tobytes() for k in ca), name
    assert not (b / "backup").exists()  # delete_checkpoint=True cleans up at the end


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("straight")
    r = child(d)
    assert r.returncode == 0, r.stderr
    return d


def kill_and_resume(tmp_path: Path, *kill_sets: tuple[str, ...]) -> Path:
    d = tmp_path / "killed"
    for kills in kill_sets:
        r = child(d, *kills)
        assert r.returncode == -signal.SIGKILL, (kills, r.returncode, r.stderr)
        assert not (d / "final.safetensors").exists()
    r = child(d)
    assert r.returncode == 0, r.stderr
    return d


# ---- B1: the fast variant runs in `make test` ----
@pytest.mark.parametrize("kill", ["step_end:56", "val:1"])
def test_kill9_resume_bit_identical(straight: Path, tmp_path: Path, kill: str) -> None:
    """Killed right before the backup of step 56 / during epoch 2's validation."""
    assert_same_run(straight, kill_and_resume(tmp_path, (kill,)))


@pytest.mark.slow
@pytest.mark.parametrize(
    "kills",
    [
        ("step_begin:50",),  # just after the backup of step 49
        ("step_end:44",),  # early in epoch 2, 2 steps after the epoch-1 backup
        ("step_end:61",),  # between backups
        ("epoch_end:1",),  # CSV row and checkpoint of epoch 2 written, backup not yet
        ("in_save:9",),  # inside a backup write: a torn temporary file is left
        ("step_end:45", "step_end:70"),  # killed twice in one run
        ("step_end:20", "val:1"),  # once in epoch 1, once in epoch 2's validation
    ],
)
def test_kill9_matrix(straight: Path, tmp_path: Path, kills: tuple[str, ...]) -> None:
    assert_same_run(straight, kill_and_resume(tmp_path, *[(k,) for k in kills]))


def _signal_when(d: Path, sig: int, at_step: int) -> subprocess.Popen:
    d.mkdir(exist_ok=True)
    p = subprocess.Popen(
        [sys.executable, str(CHILD), str(d)],
        env={**ENV, "CHILD_SLEEP": "0.02"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while p.poll() is None and time.monotonic() < deadline:
        s = (d / "step").read_text() if (d / "step").exists() else ""
        if s and int(s) >= at_step:
            os.kill(p.pid, sig)
            break
        time.sleep(0.002)
    return p


@pytest.mark.slow
def test_async_sigkill_random_step(straight: Path, tmp_path: Path) -> None:
    """SIGKILL from outside at a random moment of epoch 2 (it may land inside a write)."""
    at = int(np.random.default_rng(int(time.time())).integers(43, 82))
    d = tmp_path / "killed"
    p = _signal_when(d, signal.SIGKILL, at)
    p.communicate(timeout=120)
    assert p.returncode == -signal.SIGKILL
    r = child(d)
    assert r.returncode == 0, (at, r.stderr)
    assert_same_run(straight, d)


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_resumes(straight: Path, tmp_path: Path) -> None:
    """B7: SIGTERM is deferred to the step boundary, a backup is written, the process then
    terminates by SIGTERM with a one-line message; the resumed run is exact."""
    d = tmp_path / "termed"
    p = _signal_when(d, signal.SIGTERM, 60)
    _, err = p.communicate(timeout=120)
    assert p.returncode == -signal.SIGTERM, err
    assert "stopped by SIGTERM" in err and "backup saved in" in err
    saved = [int(f.name[7:15]) for f in (d / "backup").iterdir() if f.name.startswith("backup-")]
    assert saved, "no backup written on SIGTERM"
    r = child(d)
    assert r.returncode == 0, r.stderr
    assert_same_run(straight, d)


@pytest.mark.parametrize("sig", ["sigint", "sigterm"])
def test_signal_stops_at_step_boundary_then_resumes(
    straight: Path, tmp_path: Path, sig: str
) -> None:
    """B7, deterministic: the signal arrives during step 60; fit finishes the step, writes a
    backup of it, prints one line and ends (SIGINT: KeyboardInterrupt; SIGTERM: the default
    action, death by SIGTERM). The resumed run is exact."""
    d = tmp_path / "sig"
    r = child(d, f"{sig}:60")
    if sig == "sigterm":
        assert r.returncode == -signal.SIGTERM, r.stderr
    else:
        assert r.returncode != 0 and "TrainingInterrupted" in r.stderr, r.stderr
    line = [x for x in r.stderr.splitlines() if x.startswith("fit: stopped by")]
    assert line == [
        f"fit: stopped by {sig.upper()} at epoch 2, step 60; backup saved in "
        f"{d / 'backup'} (run the same fit again to resume)"
    ]
    newest = sorted((d / "backup").iterdir())[-1]
    assert cr.io.load(newest)["loop"]["global_step"] == 60
    r = child(d)
    assert r.returncode == 0, r.stderr
    assert_same_run(straight, d)


def test_disk_full_stops_with_clear_error_and_keeps_backup(straight: Path, tmp_path: Path) -> None:
    """B3: a backup write fails (EFBIG, as on a full disk): fit stops with an OSError naming
    the file, the previous backup stays loadable and no temporary file is left; once there
    is space again the run resumes exactly."""
    d = tmp_path / "full"
    r = child(d, "fsize:10")  # backups at 7 (ok) and 14 (fails)
    assert r.returncode == 1
    assert "File too large" in r.stderr and "backup-00000002.safetensors" in r.stderr, r.stderr
    files = sorted(p.name for p in (d / "backup").iterdir())
    assert files == ["backup-00000001.safetensors"]
    assert cr.io.load(d / "backup" / files[0])["loop"]["global_step"] == 7
    r = child(d)
    assert r.returncode == 0, r.stderr
    assert_same_run(straight, d)


# ---- in-process: crash by exception ----
class Crash(Exception):
    pass


class CrashAt(cr.callbacks.Callback):
    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if self.model.global_step == self.step:
            raise Crash(self.step)


class Counter(cr.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def _data():
    (x, y), _ = cr.data.digits()
    return x.reshape(len(x), -1)[:400], y[:400]


def train(
    backup: Path,
    crash_at: int | None = None,
    width: int = 32,
    batch_size: int = 32,
    epochs: int = 2,
    delete: bool = True,
    loader: bool = False,
    extra=(),
    steps_per_epoch: int | None = None,
):
    """One 'process': seed, build, fit. Returns (model, history) or None after a crash."""
    cr.manual_seed(0)
    x, y = _data()
    # a dropout drawing from the default generator and one with its own generator: both
    # streams must be saved and restored
    model = cr.nn.Sequential(
        cr.nn.Linear(64, width),
        cr.nn.ReLU(),
        cr.nn.Dropout(0.2),
        cr.nn.Linear(width, width),
        cr.nn.Dropout(0.1, generator=cr.Generator(5)),
        cr.nn.Linear(width, 10),
    )
    model.compile(
        optimizer=cr.optim.Adam(model.parameters(), lr=1e-2),
        loss="cross_entropy",
        metrics=["accuracy"],
    )
    cbs = [*extra, cr.callbacks.BackupAndRestore(backup, save_freq=5, delete_checkpoint=delete)]
    if crash_at is not None:
        cbs.insert(0, CrashAt(crash_at))
    kw = {}
    if loader:
        ds = cr.data.TensorDataset(x, y)
        data = (cr.data.DataLoader(ds, batch_size=batch_size, shuffle=True),)
    else:
        data = (x, y)
        kw = {"batch_size": batch_size, "validation_split": 0.2}
    try:
        h = model.fit(
            *data, epochs=epochs, callbacks=cbs, verbose=0, steps_per_epoch=steps_per_epoch, **kw
        )
    except Crash:
        return None
    return model, h


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(sa[k].data.tobytes() == sb[k].data.tobytes() for k in sa)


@pytest.mark.parametrize("opts", [{}, {"loader": True}, {"steps_per_epoch": 7, "epochs": 3}])
def test_in_process_crash_resume(tmp_path: Path, opts: dict) -> None:
    """Arrays with validation_split, a shuffling DataLoader, and a stream continuing across
    epochs (steps_per_epoch) all resume exactly."""
    ref_model, ref_h = train(tmp_path / "a", **opts)
    assert train(tmp_path / "b", crash_at=12, **opts) is None
    model, h = train(tmp_path / "b", **opts)
    assert same_weights(ref_model, model)
    assert h.history == ref_h.history and h.epoch == ref_h.epoch


def test_changed_config_is_refused(tmp_path: Path) -> None:
    """B5: the backup's configuration differs; every difference is listed."""
    assert train(tmp_path, crash_at=12) is None
    with pytest.raises(ValueError, match="different configuration") as e:
        train(tmp_path, batch_size=16)
    assert "fit.batch_size: backup 32, now 16" in str(e.value)
    with pytest.raises(ValueError) as e:
        train(tmp_path, width=48)
    msg = str(e.value)
    assert "model.state.0.weight: backup [[32, 64]" in msg and "now [[48, 64]" in msg
    assert "delete" in msg
    with pytest.raises(ValueError, match="fit.epochs: backup 2, now 3"):
        train(tmp_path, epochs=3)


def test_corrupt_latest_backup_falls_back(tmp_path: Path) -> None:
    """B4: the newest backup is damaged -> a warning, resume from the previous one, and the
    result is still exact."""
    ref_model, ref_h = train(tmp_path / "a")
    d = tmp_path / "b"
    assert train(d, crash_at=12) is None
    files = sorted(d.iterdir())  # steps 5, 10 and the end of epoch 1; the newest two kept
    assert [f.name for f in files] == ["backup-00000002.safetensors", "backup-00000003.safetensors"]
    raw = bytearray(files[-1].read_bytes())
    raw[20:40] = b"\xff" * 20  # garbage in the header
    files[-1].write_bytes(bytes(raw))
    with pytest.warns(cr.callbacks.BackupFallbackWarning, match="backup-00000003"):
        model, h = train(d)
    assert same_weights(ref_model, model) and h.history == ref_h.history


def test_all_backups_corrupt_stops(tmp_path: Path) -> None:
    """B4: no readable backup -> a clear error naming the files, never a silent restart."""
    assert train(tmp_path, crash_at=12) is None
    for f in tmp_path.iterdir():
        f.write_bytes(f.read_bytes()[:50])
    with pytest.raises(RuntimeError, match="cannot resume") as e:
        train(tmp_path)
    assert "backup-00000002" in str(e.value) and "backup-00000003" in str(e.value)


def test_resume_finished_run_runs_nothing(tmp_path: Path) -> None:
    """B8: with delete_checkpoint=False a finished run resumes to its end state: no extra
    epochs, the same weights and History; twice."""
    model, h = train(tmp_path, delete=False)
    for _ in range(2):
        counter = Counter()
        model2, h2 = train(tmp_path, delete=False, extra=[counter])
        assert counter.batches == 0
        assert same_weights(model, model2) and h2.history == h.history


def test_delete_checkpoint_cleans_up(tmp_path: Path) -> None:
    d = tmp_path / "bk"
    train(d)
    assert not d.exists()


def test_backup_holds_every_state(tmp_path: Path) -> None:
    """The backup file holds what B1 lists (spot checks on a mid-epoch backup)."""
    es = cr.callbacks.EarlyStopping(monitor="val_loss", patience=3)
    assert train(tmp_path, crash_at=8, extra=[es]) is None
    state = cr.io.load(sorted(tmp_path.iterdir())[-1])
    assert state["loop"]["global_step"] == 5 and state["loop"]["in_epoch"]
    assert state["optimizer"]["state"][0]["step"] == 5  # Adam's t
    assert state["data"]["perm"].shape == (320,)  # the epoch's permutation
    assert set(state["rng"]) == {"train", "shuffle", "outer", "extra"}
    assert list(state["rng"]["extra"]) == ["model._modules.4.generator"]  # Dropout's own
    assert state["metrics"]["0"]["count"] > 0  # partial-epoch loss totals
    assert "EarlyStopping_0" in state["callbacks"] and "History_0" in state["callbacks"]
    assert len(state["config_hash"]) == 64
