"""Who runs a trial: process id, host and start time, and whether that process still lives.

Every trial records them in its ``user_attrs`` (``pid``, ``host``, ``pid_start``). A RUNNING
trial whose process is gone from this machine is stale for certain (a dead process cannot
finish it), so any process on the same machine may fail and retry it at once, without waiting
for a heartbeat's grace period. The start time guards against a recycled pid.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache


@lru_cache(maxsize=1)
def host_id() -> str:
    """This machine: the host name plus the kernel's boot id (two boots are two machines).

    ``CHAINRULE_TUNE_HOST`` replaces it (tests use it to play a worker on another machine,
    whose dead trials only the heartbeat can detect).
    """
    if os.environ.get("CHAINRULE_TUNE_HOST"):
        return os.environ["CHAINRULE_TUNE_HOST"]
    boot = ""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()[:8]
    except OSError:
        pass
    return f"{socket.gethostname()}/{boot}" if boot else socket.gethostname()


def _stat(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis, so
    # fields[0] is field 3 (the state) and fields[19] field 22 (the start time).
    return stat[stat.rfind(b")") + 2 :].split()


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), else None."""
    fields = _stat(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def is_alive(pid: int, start: int | None = None) -> bool:
    """Whether process ``pid`` (started at ``start``, when known) runs on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat(pid)
    if fields is None:
        return not os.path.exists("/proc/self/stat")  # no /proc: trust os.kill
    if fields[0] in (b"Z", b"X"):
        return False  # exited, not yet reaped by its parent
    if start is not None and len(fields) > 19 and fields[19].isdigit() and int(fields[19]) != start:
        return False  # the pid was recycled
    return True


def identity() -> dict[str, object]:
    """``{"pid", "host", "pid_start"}`` of this process (``pid_start`` only where known)."""
    out: dict[str, object] = {"pid": os.getpid(), "host": host_id()}
    start = process_start(os.getpid())
    if start is not None:
        out["pid_start"] = start
    return out


def owner_is_dead(user_attrs: dict) -> bool:
    """True when the attrs name a process of this machine that is no longer running."""
    pid, host = user_attrs.get("pid"), user_attrs.get("host")
    if not isinstance(pid, int) or host != host_id():
        return False
    return not is_alive(pid, user_attrs.get("pid_start"))
