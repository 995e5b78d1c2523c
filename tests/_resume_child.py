"""Child process for tests/test_resume.py: a small training run that can be killed and resumed.

Usage: python tests/_resume_child.py RUN_DIR [KILL ...]

Trains an MLP with dropout on the bundled digits for 3 epochs with Adam, a per-step StepLR
schedule, EarlyStopping, ModelCheckpoint (best 2 kept), CSVLogger and BackupAndRestore
(every 7 steps), then writes RUN_DIR/final.safetensors (weights + optimizer state),
RUN_DIR/history.json and RUN_DIR/metrics.csv. Each KILL makes the process SIGKILL itself at
one point (deterministic kill points):

    step_begin:N   before global step N starts (so just after step N-1 and its backup)
    step_end:N     after step N's update, before its backup is written
    val:E          during the validation pass of epoch E (0-based)
    epoch_end:E    after the CSV row of epoch E is written, before the epoch's backup
    in_save:K      inside the K-th backup write, leaving a half-written temporary file
    sigint:N       send itself SIGINT (Ctrl-C) during step N
    sigterm:N      send itself SIGTERM during step N
    fsize:N        after step N, files can no longer grow past 2000 bytes (a full disk)

The environment variable CHILD_SLEEP (seconds per step) slows the run for asynchronous kills
by the parent; the child then also reports each finished step in RUN_DIR/step.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import numpy as np

import chainrule as cr

run = sys.argv[1]
kills = dict(k.split(":") for k in sys.argv[2:])
if "sigint" in kills:
    # A shell starts background jobs (`make test &`, nohup) with SIGINT ignored, and Python
    # then installs no KeyboardInterrupt handler; fit rightly leaves an ignored SIGINT alone.
    signal.signal(signal.SIGINT, signal.default_int_handler)
sleep = float(os.environ.get("CHILD_SLEEP", "0"))
epochs = int(os.environ.get("CHILD_EPOCHS", "3"))


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Beacon(cr.callbacks.Callback):
    """Reports progress and kills the process at the requested point."""

    def on_train_batch_begin(self, batch, logs=None):
        if int(kills.get("step_begin", -1)) == self.model.global_step + 1:
            die()

    def on_train_batch_end(self, batch, logs=None):
        step = self.model.global_step
        if sleep:
            with open(f"{run}/step.tmp", "w") as f:
                f.write(str(step))
            os.replace(f"{run}/step.tmp", f"{run}/step")
            time.sleep(sleep)
        if int(kills.get("step_end", -1)) == step:
            die()
        for name, sig in (("sigint", signal.SIGINT), ("sigterm", signal.SIGTERM)):
            if int(kills.get(name, -1)) == step:
                os.kill(os.getpid(), sig)  # handled at the step boundary, after this hook
        if int(kills.get("fsize", -1)) == step:  # the disk is "full" from now on
            import resource

            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead
            resource.setrlimit(resource.RLIMIT_FSIZE, (2000, resource.RLIM_INFINITY))

    def on_test_batch_end(self, batch, logs=None):
        if int(kills.get("val", -1)) == self.model._cr_epoch and batch == 1:
            die()

    def on_epoch_end(self, epoch, logs=None):
        if int(kills.get("epoch_end", -1)) == epoch:
            die()


if "in_save" in kills:
    import chainrule.io

    real_save = chainrule.io.save
    calls = [0]

    def torn_save(obj, path, metadata=None):
        if "backup" in str(path):
            calls[0] += 1
            if calls[0] == int(kills["in_save"]):
                from chainrule.io._atomic import temp_path_for

                scratch = temp_path_for(path).with_name("scratch.safetensors")
                real_save(obj, scratch)
                data = scratch.read_bytes()
                scratch.unlink()
                temp_path_for(path).write_bytes(data[: len(data) // 2])  # killed mid-write
                die()
        return real_save(obj, path, metadata)

    chainrule.io.save = torn_save


cr.manual_seed(0)
(x, y), _ = cr.data.digits()
x = x.reshape(len(x), -1)
model = cr.nn.Sequential(
    cr.nn.Linear(64, 64), cr.nn.ReLU(), cr.nn.Dropout(0.2), cr.nn.Linear(64, 10)
)
opt = cr.optim.Adam(model.parameters(), lr=3e-3)
sched = cr.optim.lr_scheduler.StepLR(opt, step_size=20, gamma=0.9)
model.compile(optimizer=opt, loss="cross_entropy", metrics=["accuracy", "f1"])
callbacks = [
    cr.callbacks.LearningRateScheduler(sched, interval="step"),
    cr.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True),
    cr.callbacks.ModelCheckpoint(
        f"{run}/ckpt/e{{epoch}}-{{val_loss:.4f}}.safetensors", save_best_only=True, keep_last=2
    ),
    cr.callbacks.CSVLogger(f"{run}/metrics.csv"),
    Beacon(),
    cr.callbacks.BackupAndRestore(f"{run}/backup", save_freq=7),
]
hist = model.fit(
    x, y, batch_size=32, epochs=epochs, validation_split=0.1, callbacks=callbacks, verbose=0
)
state = {
    "model": model.state_dict(),
    "optimizer": opt.state_dict(),
    "rng": cr.default_generator.get_state(),
}
cr.io.save(state, f"{run}/final.safetensors")
with open(f"{run}/history.json", "w") as f:
    json.dump({"history": hist.history, "epoch": hist.epoch}, f)
with open(f"{run}/ckpts.json", "w") as f:
    json.dump(sorted(os.listdir(f"{run}/ckpt")), f)
print("DONE", np.float64(hist.history["val_loss"][-1]))
