"""Atomic file writes: a checkpoint on disk is always either the old one or the new one.

The pattern (RELIABILITY.md, section 0.3): write a temporary file in the *same* folder,
flush and ``fsync`` it, ``os.replace`` it onto the final name, then ``fsync`` the folder so
the rename itself is durable. On any failure the temporary file is removed and the old file
is untouched.

Temporary files are named ``.<name>.tmp-<pid>-<8 hex digits>`` (for example
``.model.safetensors.tmp-4242-9f86d081``). A writer killed with SIGKILL cannot clean up, so
:func:`is_temp_file` recognises such leftovers (resume logic and "latest checkpoint" lookups
must ignore them) and the next :func:`atomic_write` into the same folder deletes the ones
whose writer process is no longer alive.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from pathlib import Path

__all__ = ["atomic_write", "clean_stale_temp_files", "is_temp_file", "temp_path_for"]

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d{1,10})-(?P<rand>[0-9a-f]{8})$", re.S)

PathLike = str | os.PathLike


def temp_path_for(path: PathLike) -> Path:
    """A fresh temporary path next to ``path`` following the documented pattern."""
    p = Path(path)
    return p.with_name(f".{p.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def is_temp_file(path: PathLike) -> bool:
    """Whether ``path`` is named like a temporary file of :func:`atomic_write`.

    Example:
        >>> is_temp_file("runs/.ckpt.safetensors.tmp-4242-9f86d081")
        True
        >>> is_temp_file("runs/ckpt.safetensors")
        False
    """
    return _TEMP_RE.match(os.path.basename(os.fspath(path))) is not None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except (OverflowError, ValueError, OSError):
        return False
    return True


def clean_stale_temp_files(folder: PathLike) -> list[Path]:
    """Delete leftover temporary files of dead writers in ``folder``; return what was removed.

    Only regular files (never links or folders) whose name matches the temporary pattern and
    whose writer process id is no longer running are removed; a concurrent writer's file
    (another live process, or this process) is left alone.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(os.fspath(folder)))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_RE.match(entry.name)
        if m is None:
            continue
        pid = int(m.group("pid"))
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _fsync_dir(folder: str) -> None:
    if os.name == "nt":  # pragma: no cover - folders cannot be opened for fsync on Windows
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def atomic_write(path: PathLike, data: bytes | bytearray | memoryview | str) -> Path:
    """Write ``data`` to ``path`` atomically (temp file, fsync, ``os.replace``, fsync folder).

    Strings are written as UTF-8. The file gets the usual permissions (``0o666`` minus the
    umask, typically ``0o644``). Stale temporary files of dead writers in the same folder are
    removed first.

    Args:
        path: the final file name. Its folder must exist.
        data: the complete new contents.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OSError: naming ``path`` when anything fails (no space, I/O error, permission...);
            the previous file, if any, is then unchanged and no temporary file is left.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> p = atomic_write(os.path.join(d, "note.txt"), "hello")
        >>> p.read_text()
        'hello'
    """
    final = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if final.is_dir():
        raise IsADirectoryError(errno.EISDIR, "cannot write a file over a folder", str(final))
    folder = str(final.parent)
    clean_stale_temp_files(folder)
    tmp = temp_path_for(final)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = -1
    try:
        fd = os.open(tmp, flags, 0o666)
        view = memoryview(data).cast("B")
        while view.nbytes:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, final)
    except BaseException as e:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise OSError(
                e.errno,
                f"could not write {final} ({e.strerror or e}); the previous file, if any, is "
                f"unchanged",
                str(final),
            ) from e
        raise
    try:
        _fsync_dir(folder)
    except OSError as e:
        raise OSError(
            e.errno,
            f"{final} was written, but syncing its folder failed ({e.strerror}); the new file "
            f"may not survive a power loss",
            str(final),
        ) from e
    return final
