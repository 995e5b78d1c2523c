"""The error raised for every unreadable, corrupt or refused checkpoint file."""

from __future__ import annotations

import os

__all__ = ["CheckpointError"]


class CheckpointError(ValueError):
    """A file is not a valid chainrule checkpoint (corrupt, truncated, crafted or foreign).

    A ``ValueError`` subclass, so ``except ValueError`` catches it. ``path`` is the file and
    the message says what was declared and what is there.
    """

    def __init__(self, path: str | os.PathLike, detail: str) -> None:
        self.path = os.fspath(path)
        self.detail = detail
        super().__init__(f"{self.path}: {detail}")
