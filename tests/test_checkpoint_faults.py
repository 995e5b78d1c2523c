"""Faults during a checkpoint write (RELIABILITY B2-B4): the previous checkpoint survives.

Each writer runs in a child process. B2 kills it mid-write with RLIMIT_FSIZE + SIGXFSZ (the
kernel stops the process at an exact byte); B3 ignores SIGXFSZ so the write fails with EFBIG
("disk full"); the strace variants inject EIO/ENOSPC into rename, fsync and write. Children
run with PYTHONDONTWRITEBYTECODE=1 and import everything before the limit is set, so the
limit trips inside ``chainrule.io.save`` and not on a stray ``.pyc`` write.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.io import CheckpointError, is_temp_file

ENV = {
    **os.environ,
    "PYTHONDONTWRITEBYTECODE": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
}

PRELUDE = r"""
import os, resource, signal, sys, json, hashlib, secrets
import numpy as np, chainrule as cr, chainrule.io, chainrule.io.checkpoint, safetensors.numpy
path = sys.argv[1]
state = {"w": np.full((512, 512), 2.0, np.float32), "step": 2}  # the NEW checkpoint (1 MiB)
"""

TORN = (
    PRELUDE
    + r"""
limit = int(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)         # die like a crash
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
cr.io.save(state, path)
"""
)

FAILING = (
    PRELUDE
    + r"""
if len(sys.argv) > 2:                                  # disk full: EFBIG instead of a signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]),) * 2)
try:
    cr.io.save(state, path)
except OSError as e:
    ok = e.filename == path and path in str(e) and "unchanged" in str(e)
    os._exit(10 if ok else 11)
os._exit(12)
"""
)


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def old_checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "ckpt.safetensors"
    cr.io.save({"w": np.ones((512, 512), np.float32), "step": 1}, path)
    return path


def assert_old_intact(path: Path, digest: str) -> None:
    assert sha(path) == digest
    out = cr.io.load(path)
    assert out["step"] == 1 and (out["w"] == 1).all()


@pytest.mark.parametrize("limit", [0, 8, 4096, 500_000, 1_048_000])
def test_crash_mid_save_keeps_old_checkpoint(tmp_path: Path, limit: int) -> None:
    path = old_checkpoint(tmp_path)
    before = sha(path)
    r = subprocess.run(
        [sys.executable, "-c", TORN, str(path), str(limit)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == -signal.SIGXFSZ, r.stderr
    assert_old_intact(path, before)
    leftovers = [p for p in tmp_path.iterdir() if p != path]
    assert leftovers and all(is_temp_file(p) for p in leftovers), leftovers
    if limit:
        assert max(p.stat().st_size for p in leftovers) == limit  # really died mid-write
    cr.io.save({"w": np.zeros(3, np.float32), "step": 3}, path)  # next save works and cleans up
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]
    assert cr.io.load(path)["step"] == 3


def test_disk_full_raises_oserror_naming_path_and_cleans_up(tmp_path: Path) -> None:
    path = old_checkpoint(tmp_path)
    before = sha(path)
    r = subprocess.run(
        [sys.executable, "-c", FAILING, str(path), "4096"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 10, (r.returncode, r.stderr)
    assert_old_intact(path, before)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]  # no temp litter


STRACE = shutil.which("strace")


def _strace_works() -> bool:
    if STRACE is None:
        return False
    r = subprocess.run([STRACE, "-f", "-qq", "-o", "/dev/null", "true"], capture_output=True)
    return r.returncode == 0


@pytest.mark.skipif(
    not _strace_works(),
    reason="strace missing or ptrace not permitted here "
    "(apt-get install strace); syscall fault injection not run",
)
@pytest.mark.parametrize(
    "inject",
    [
        "rename,renameat,renameat2:error=EIO",
        "fsync,fdatasync:error=ENOSPC",
        "write:error=ENOSPC",
    ],
)
def test_syscall_fault_injection(tmp_path: Path, inject: str) -> None:
    path = old_checkpoint(tmp_path)
    before = sha(path)
    r = subprocess.run(
        [
            STRACE,
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            f"inject={inject}",
            sys.executable,
            "-c",
            FAILING,
            str(path),
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 10, (r.returncode, r.stderr[-2000:])
    assert_old_intact(path, before)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]


# ---------------------------------------------------------------- B4: corrupted checkpoint


def test_corrupted_checkpoint_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.safetensors"
    cr.io.save({"w": np.arange(64, dtype=np.float32), "epoch": 2, "opt": {0: {"step": 5}}}, path)
    blob = path.read_bytes()
    hlen = int.from_bytes(blob[:8], "little")
    bad = tmp_path / "bad.safetensors"
    cases = {
        f"truncated to {n}": blob[:n]
        for n in [0, 1, 7, 8, 9, 8 + hlen // 2, 8 + hlen, 8 + hlen + 1, len(blob) - 1]
    }
    cases["zeroed"] = bytes(len(blob))
    cases["header length +1"] = (hlen + 1).to_bytes(8, "little") + blob[8:]
    cases["header length -8"] = (hlen - 8).to_bytes(8, "little") + blob[8:]
    for where in (8, 9, 8 + hlen // 3, 8 + hlen - 2):
        flipped = bytearray(blob)
        flipped[where] ^= 0xFF
        cases[f"byte {where} flipped"] = bytes(flipped)
    for name, data in cases.items():
        bad.write_bytes(data)
        with pytest.raises(CheckpointError) as e:
            cr.io.load(bad)
        assert str(bad) in str(e.value), name


def test_every_single_byte_flip_is_detected_or_harmless(tmp_path: Path) -> None:
    """Flip each byte of a small checkpoint: loading raises CheckpointError or returns
    exactly the saved content (e.g. a flip of JSON padding whitespace into other whitespace)."""
    path = tmp_path / "c.safetensors"
    obj = {"w": np.arange(6, dtype=np.float32), "k": {1: (2, "x")}, "f": 0.5}
    cr.io.save(obj, path)
    blob = path.read_bytes()
    bad = tmp_path / "bad.safetensors"
    harmless = 0
    for i in range(len(blob)):
        for mask in (0x01, 0x80):
            data = bytearray(blob)
            data[i] ^= mask
            bad.write_bytes(data)
            try:
                out = cr.io.load(bad)
            except CheckpointError:
                continue
            harmless += 1
            assert out["w"].tobytes() == obj["w"].tobytes()
            assert out["k"] == {1: (2, "x")} and out["f"] == 0.5
    assert harmless < 0.05 * 2 * len(blob)


LOOP = r"""
import sys, numpy as np, chainrule as cr, chainrule.io
path = sys.argv[1]
w = np.random.default_rng(0).random((5_000_000,), dtype=np.float32)  # 20 MB
version = 0
while True:
    version += 1
    w[0] = version
    cr.io.save({"w": w, "version": version}, path, metadata={"version": version})
    print(version, flush=True)
"""


@pytest.mark.slow
def test_sigkill_at_random_times_always_leaves_a_loadable_version(tmp_path: Path) -> None:
    """B2 (b): kill a writer saving 20 MB checkpoints in a loop at random moments; the file
    on disk is always a complete checkpoint of a version that was being saved."""
    import random
    import time

    path = tmp_path / "loop.safetensors"
    rnd = random.Random(0)
    for _ in range(12):
        proc = subprocess.Popen(
            [sys.executable, "-c", LOOP, str(path)], env=ENV, stdout=subprocess.PIPE, text=True
        )
        time.sleep(1.0 + rnd.uniform(0.0, 2.0))
        proc.kill()
        out, _ = proc.communicate(timeout=60)
        started = len(out.split()) + 1  # completed saves, plus the one in flight
        if not path.exists():
            continue
        got = cr.io.load(path)
        assert 1 <= got["version"] <= started + 1
        assert got["w"][0] == got["version"]
        assert cr.io.read_metadata(path)["metadata"]["version"] == got["version"]
        assert all(is_temp_file(p) for p in tmp_path.iterdir() if p != path)
