"""Resume bookkeeping: what a training backup holds, how it is named, checked and found.

A backup is one file written atomically by :func:`chainrule.io.save` (safetensors arrays plus
JSON) with::

    format, version, seq          "chainrule.backup", 1, the backup's sequence number
    config, config_hash           the resolved run configuration and its SHA-256 (B5)
    model                         parameters and persistent buffers (state_dict)
    optimizer                     optimizer.state_dict() (Adam's step counts and moments, ...)
    loop                          epoch, batch within the epoch, global step, phase, flags
    data                          the stream position: permutation + offset, or the loader's
    rng                           every generator: the training stream (dropout), the shuffle
                                  stream, the default generator outside fit, any generator
                                  found on the model's modules or the loader's transforms
    metrics                       the partial-epoch accumulators (float64 totals)
    callbacks                     each callback's state_dict (History, EarlyStopping, CSVLogger,
                                  ModelCheckpoint, schedulers ...), keyed ``ClassName_k``

Files are ``backup-<seq>.safetensors`` in the backup folder; the newest two are kept so a
corrupt latest file falls back to the previous one with a warning (B4). If every backup is
unreadable, resuming stops with a message naming each file and its error, never silently
restarting from epoch 0.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.random import Generator, default_generator

__all__ = [
    "BackupFallbackWarning",
    "BackupStore",
    "collect_generators",
    "config_diff",
    "config_hash",
]

FORMAT = "chainrule.backup"
VERSION = 1
_NAME = re.compile(r"^backup-(\d{8,})\.safetensors$")


class BackupFallbackWarning(UserWarning):
    """The latest backup was unreadable; an older one was used."""


# ---- configuration (B5) ----
def jsonable(obj: Any) -> Any:
    """A JSON-safe summary of hyperparameters (numbers, strings, nested containers)."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else repr(obj)
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return {"shape": list(obj.shape), "dtype": str(obj.dtype)}
    return type(obj).__name__


def config_hash(config: dict[str, Any]) -> str:
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out if out or not prefix else {prefix: {}}
    return {prefix: d}


def config_diff(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Human-readable differences ``key: backup X, now Y`` (dotted keys, sorted)."""
    a, b = _flatten(saved), _flatten(now)
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, "<absent>"), b.get(k, "<absent>")
        if va != vb:
            out.append(f"{k}: backup {_short(va)}, now {_short(vb)}")
    return out


def _short(v: Any) -> str:
    s = json.dumps(v) if not isinstance(v, str) else v
    return s if len(s) <= 80 else s[:77] + "..."


# ---- generators ----
def collect_generators(roots: dict[str, Any], max_depth: int = 4) -> dict[str, Generator]:
    """Every :class:`chainrule.Generator` reachable through attributes, lists and dicts of
    ``roots`` (model modules, a loader's dataset and transforms), by attribute path.

    The default generator is excluded (the training loop handles it); each generator is
    listed once, under the first path found, so the same script finds the same paths.
    """
    found: dict[str, Generator] = {}
    seen: set[int] = {id(default_generator)}

    def walk(obj: Any, path: str, depth: int) -> None:
        if isinstance(obj, Generator):
            if id(obj) not in seen:
                seen.add(id(obj))
                found[path] = obj
            return
        if depth > max_depth or id(obj) in seen or obj is None:
            return
        if isinstance(obj, (str, bytes, int, float, bool, np.ndarray, np.generic)):
            return
        seen.add(id(obj))
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{path}.{k}", depth + 1)
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{path}.{i}", depth + 1)
        elif hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] != "numpy":
            for k, v in sorted(vars(obj).items()):
                if k in ("_parameters", "_buffers", "data", "_grad", "_ctx") or k.startswith(
                    "_cr_"  # the training loop's own state (saved separately)
                ):
                    continue
                walk(v, f"{path}.{k}", depth + 1)

    for name, root in roots.items():
        walk(root, name, 0)
    return found


# ---- files ----
class BackupStore:
    """The backup folder: numbered files, atomic saves, newest-first loading with fallback."""

    def __init__(self, directory: str | os.PathLike, keep: int = 2) -> None:
        self.dir = Path(directory)
        self.keep = max(1, int(keep))
        self.seq = 0

    def files(self) -> list[tuple[int, Path]]:
        if not self.dir.is_dir():
            return []
        out = []
        for entry in os.scandir(self.dir):
            m = _NAME.match(entry.name)
            if m and entry.is_file(follow_symlinks=False):
                out.append((int(m.group(1)), Path(entry.path)))
        return sorted(out)

    def save(self, state: dict[str, Any]) -> Path:
        from chainrule.io import save

        self.dir.mkdir(parents=True, exist_ok=True)
        self.seq = max([self.seq] + [s for s, _ in self.files()]) + 1
        state["seq"] = self.seq
        path = self.dir / f"backup-{self.seq:08d}.safetensors"
        save(state, path)  # atomic: the old files stay valid until this one is committed
        for _, old in self.files()[: -self.keep]:
            try:
                old.unlink()
            except FileNotFoundError:
                pass
        return path

    def load_latest(self) -> dict[str, Any] | None:
        """The newest readable backup, or ``None`` when the folder holds none."""
        from chainrule.io import CheckpointError, load

        files = self.files()
        errors: list[str] = []
        for seq, path in reversed(files):
            try:
                state = load(path)
                _check_format(state, path)
            except (CheckpointError, ValueError, OSError) as e:
                errors.append(f"{path}: {e}")
                continue
            if errors:
                warnings.warn(
                    "BackupAndRestore: the latest backup is unreadable; resuming from the "
                    f"older {path.name}. Problems: " + " | ".join(errors),
                    BackupFallbackWarning,
                    stacklevel=4,
                )
            self.seq = seq
            return state
        if files:
            raise RuntimeError(
                f"BackupAndRestore: every backup in {self.dir} is unreadable, so training "
                "cannot resume (and will not silently restart from epoch 0): "
                + " | ".join(errors)
                + f". Delete {self.dir} to start over."
            )
        return None

    def delete_all(self) -> None:
        for _, path in self.files():
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        try:
            from chainrule.io import clean_stale_temp_files

            clean_stale_temp_files(self.dir)
            self.dir.rmdir()
        except OSError:
            pass  # not empty (other files) or already gone: leave it


def _check_format(state: Any, path: Path) -> None:
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a chainrule training backup (format "
            f"{state.get('format') if isinstance(state, dict) else None!r})"
        )
    if state.get("version") != VERSION:
        raise ValueError(
            f"{path}: backup version {state.get('version')!r}, this chainrule "
            f"reads version {VERSION}"
        )
    missing = [
        k
        for k in (
            "config",
            "config_hash",
            "model",
            "optimizer",
            "loop",
            "data",
            "rng",
            "metrics",
            "callbacks",
        )
        if k not in state
    ]
    if missing:
        raise ValueError(f"{path}: backup is missing {missing}")
