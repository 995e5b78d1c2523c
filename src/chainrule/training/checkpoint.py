"""Callbacks that write files: ``ModelCheckpoint`` (weights) and ``BackupAndRestore`` (resume).

Both write through :func:`chainrule.io.save`, which is atomic (temp file in the same folder,
fsync, rename): a crash leaves the previous file intact. A failed write (disk full,
permissions) raises ``OSError`` naming the path and stops ``fit``; files are deleted (keep-last-K
rotation) only after the new one is committed, and only files this callback wrote.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from chainrule.training.callbacks import Callback, _monitor_op, check_monitor
from chainrule.training.state import BackupStore

__all__ = ["BackupAndRestore", "ModelCheckpoint"]


def _check_freq(owner: str, save_freq: Any) -> Any:
    if save_freq == "epoch":
        return save_freq
    if isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1:
        raise ValueError(
            f"{owner}: save_freq must be 'epoch' or a positive number of steps, got {save_freq!r}"
        )
    return save_freq


class ModelCheckpoint(Callback):
    """Save the model's weights (``state_dict``) during training.

    Args:
        filepath: a path template formatted with ``epoch`` (1-based, as Keras), ``step``
            (global step), ``batch`` and every log key, e.g.
            ``"ckpt/epoch{epoch:02d}-val_loss{val_loss:.3f}.safetensors"``.
        monitor: the log key compared for ``save_best_only``.
        save_best_only: write only when ``monitor`` improves on the best value so far.
        mode: ``'auto'``, ``'min'`` or ``'max'`` (auto: max for accuracy-like names).
        save_freq: ``'epoch'`` or every N optimizer steps (batch logs: running means).
        keep_last: keep only the K newest files this callback wrote (None: keep all).
        initial_value_threshold: a value the monitor must beat before the first save.
        verbose: print a line for each save.

    The best value, the kept files and the step counter are saved by ``BackupAndRestore``.

    Example:
        >>> import tempfile, os
        >>> cb = ModelCheckpoint(os.path.join(tempfile.mkdtemp(), "w-{epoch}.safetensors"),
        ...                      save_best_only=True, keep_last=2)
        >>> cb.monitor, cb.keep_last
        ('val_loss', 2)
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        mode: str = "auto",
        save_freq: Any = "epoch",
        keep_last: int | None = None,
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_freq = _check_freq("ModelCheckpoint", save_freq)
        if keep_last is not None and (
            isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1
        ):
            raise ValueError(
                f"ModelCheckpoint: keep_last must be a positive int or None, got {keep_last!r}"
            )
        self.keep_last = keep_last
        self._better, sign = _monitor_op("ModelCheckpoint", mode, monitor)
        init = math.inf if sign < 0 else -math.inf
        self.best = init if initial_value_threshold is None else float(initial_value_threshold)
        self.kept: list[str] = []
        self.saved = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.save_best_only and self.save_freq == "epoch":
            check_monitor("ModelCheckpoint", self.monitor, self.params)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.save_freq != "epoch":
            step = int(getattr(self.model, "global_step", batch + 1))
            if step % self.save_freq == 0:
                epoch = int(getattr(self.model, "_cr_epoch", 0))
                self._save(epoch, batch, step, logs or {})

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.save_freq == "epoch":
            step = int(getattr(self.model, "global_step", 0))
            self._save(epoch, None, step, logs or {})

    def _path(self, epoch: int, batch: int | None, step: int, logs: dict[str, Any]) -> str:
        fields = dict(logs)
        fields.update(epoch=epoch + 1, step=step, batch=(batch or 0) + 1)
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError) as e:
            raise ValueError(
                f"ModelCheckpoint: filepath {self.filepath!r} uses the field {e} which is not "
                f"available; fields: {sorted(fields)}"
            ) from None

    def _save(self, epoch: int, batch: int | None, step: int, logs: dict[str, Any]) -> None:
        from chainrule.io import save

        if self.save_best_only:
            if self.monitor not in logs:
                check_monitor("ModelCheckpoint", self.monitor, self.params, logs)
            current = float(logs[self.monitor])
            if math.isnan(current) or not self._better(current, self.best):
                return
            self.best = current
        path = self._path(epoch, batch, step, logs)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        save(self.model.state_dict(), path)
        self.saved += 1
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved the model to {path}", flush=True)
        if path in self.kept:
            self.kept.remove(path)
        self.kept.append(path)
        if self.keep_last is not None:
            while len(self.kept) > self.keep_last:
                old = Path(self.kept.pop(0))
                if old.is_file() and not old.is_symlink():
                    old.unlink()

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "kept": list(self.kept), "saved": self.saved}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.kept = [str(p) for p in state["kept"]]
        self.saved = int(state["saved"])


class BackupAndRestore(Callback):
    """Back up the whole training state and resume from it after a crash (exact resume).

    Every ``save_freq`` optimizer steps, and at every epoch end, one file is written
    atomically into ``backup_dir`` holding everything the run depends on: weights and
    buffers, optimizer state, every RNG state, the data order and position, epoch and step,
    the History, the partial-epoch metric totals and every callback's state (see
    :mod:`chainrule.training.state`). Calling the same ``fit`` again with the same
    ``backup_dir`` after a crash (SIGKILL included) continues from the newest backup and ends
    with bit-identical weights, History and CSV log compared with an uninterrupted run.

    - A backup written by a run with another configuration (batch size, model shapes,
      epochs, data, optimizer, callbacks...) is refused with the list of differences.
    - A corrupt newest backup falls back to the previous one with a
      ``BackupFallbackWarning``; if none is readable ``fit`` stops with the files and errors.
    - SIGTERM / Ctrl-C during ``fit`` stop at the next step boundary after writing a backup.
    - At the end of training the backups are deleted (``delete_checkpoint=True``, Keras's
      default: the next ``fit`` starts fresh), or a final backup is kept
      (``delete_checkpoint=False``: a later identical ``fit`` restores the final state and
      runs no more epochs).

    Args:
        backup_dir: the folder for the backup files (created if needed).
        save_freq: ``'epoch'`` or a number of optimizer steps.
        delete_checkpoint: delete the backups when training completes.
        keep: how many backups to keep (at least 2 for the corrupt-file fallback).

    Example:
        >>> import tempfile
        >>> cb = BackupAndRestore(tempfile.mkdtemp(), save_freq=50)
        >>> cb.save_freq
        50
    """

    def __init__(
        self,
        backup_dir: str | os.PathLike,
        save_freq: Any = "epoch",
        delete_checkpoint: bool = True,
        keep: int = 2,
    ) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir is required")
        self.backup_dir = Path(backup_dir)
        if self.backup_dir.exists() and not self.backup_dir.is_dir():
            raise ValueError(f"BackupAndRestore: backup_dir {self.backup_dir} is not a folder")
        self.save_freq = _check_freq("BackupAndRestore", save_freq)
        self.delete_checkpoint = bool(delete_checkpoint)
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"BackupAndRestore: keep must be a positive int, got {keep!r}")
        self.store = BackupStore(self.backup_dir, keep)
        self._loop: Any = None
        self.last_path: Path | None = None

    def _attach(self, loop: Any) -> None:
        self._loop = loop

    def load_backup(self) -> dict[str, Any] | None:
        """The newest readable backup (with fallback), or None for a fresh run."""
        return self.store.load_latest()

    def save_now(self, state: dict[str, Any]) -> Path:
        self.last_path = self.store.save(state)
        return self.last_path

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.save_freq != "epoch" and self._loop is not None:
            if self._loop.global_step % self.save_freq == 0:
                self.save_now(self._loop.capture("batch"))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._loop is not None:
            self.save_now(self._loop.capture("epoch_end"))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._loop is None:
            return
        if self.delete_checkpoint:
            self.store.delete_all()
        else:
            self.save_now(self._loop.capture("finished"))
