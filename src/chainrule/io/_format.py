"""A validating reader for safetensors files, written for untrusted input.

The safetensors layout::

    [8 bytes: N, little-endian u64][N bytes: JSON header][data section]

The header maps tensor names to ``{"dtype", "shape", "data_offsets": [begin, end]}``
(offsets relative to the data section) plus an optional ``"__metadata__"`` of strings.
:func:`read_safetensors` checks every number against the file before it allocates anything
sized by the file: the header length against the file size and a 100 MB cap, the header's
UTF-8 and JSON (depth, duplicate keys), each dtype, each shape times the item size against
its offsets, offsets inside the data section, no overlaps, no gaps and no trailing bytes.
It never unpickles and never imports anything. Problems raise :class:`CheckpointError`.
Foreign formats (pickle, ``torch.save`` zips, ``.npz``/``.npy``, gzip) are recognised from
their first bytes and refused with a message saying what they are.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import sys
from typing import Any

import numpy as np

from chainrule.io._errors import CheckpointError
from chainrule.io._json import JSONLimitError, loads

__all__ = ["DTYPES", "MAX_HEADER_BYTES", "open_regular_file", "read_safetensors"]

MAX_HEADER_BYTES = 100_000_000
MAX_NDIM = 64

DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
    "C64": np.dtype("<c8"),
}

_TORCH_HINT = (
    "to convert a PyTorch checkpoint, in a trusted environment run "
    "`safetensors.torch.save_file(torch.load(path, weights_only=True), 'model.safetensors')` "
    "and load the .safetensors file"
)


def open_regular_file(path: str | os.PathLike, follow_symlinks: bool = True) -> io.BufferedReader:
    """Open ``path`` for reading only if it is a regular file (not a folder, FIFO, device).

    With ``follow_symlinks=False`` a symbolic link is refused (``O_NOFOLLOW``), so a link
    planted in a checkpoint folder cannot make chainrule read a file elsewhere.

    Raises:
        OSError: the file is missing or unreadable (``FileNotFoundError``, ...).
        CheckpointError: ``path`` is a link (when refused) or not a regular file.
    """
    p = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the open
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(p, flags)
    except OSError as e:
        if e.errno == errno.ELOOP and not follow_symlinks:
            target = os.readlink(p) if os.path.islink(p) else "?"
            raise CheckpointError(
                p,
                f"is a symbolic link (to {target!r}); chainrule does not follow links when "
                f"loading checkpoints; load the target itself, or pass follow_symlinks=True "
                f"if you trust it",
            ) from None
        raise
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "expected a file, got a folder", p)
        if not stat.S_ISREG(st.st_mode):
            raise CheckpointError(p, "is not a regular file (a FIFO, socket or device)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def sniff_foreign(path: str, head: bytes) -> str | None:
    """Describe a known non-safetensors format from its first bytes, or ``None``."""
    name = os.path.basename(path).lower()
    if not head:
        return "the file is empty (0 bytes), not a chainrule checkpoint"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return (
            f"is a Python pickle (protocol {head[1]}), not a chainrule checkpoint; chainrule "
            f"never unpickles files because loading a pickle can run arbitrary code; " + _TORCH_HINT
        )
    if head[:4] == b"PK\x03\x04":
        if name.endswith(".npz"):
            return (
                "is a NumPy .npz archive, not a chainrule checkpoint; read plain arrays with "
                "chainrule.io.load_array(path) (which refuses object arrays)"
            )
        return (
            "is a ZIP archive (the format of torch.save and of NumPy .npz), not a chainrule "
            "checkpoint; chainrule never unpickles the pickle inside a torch.save file; "
            + _TORCH_HINT
        )
    if head[:6] == b"\x93NUMPY":
        return (
            "is a NumPy .npy file, not a chainrule checkpoint; read it with "
            "chainrule.io.load_array(path) (which refuses object arrays)"
        )
    if head[:2] == b"\x1f\x8b":
        return (
            "is gzip-compressed, not a chainrule checkpoint (safetensors files are not compressed)"
        )
    return None


def _header_problem(text: str) -> str:
    return f"the safetensors header is invalid: {text}; the file is corrupt or not a checkpoint"


def _check_entry(
    path: str, name: str, entry: Any, data_len: int
) -> tuple[np.dtype, tuple, int, int]:
    shown = name if len(name) <= 80 else name[:77] + "..."
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        got = sorted(entry)[:5] if isinstance(entry, dict) else type(entry).__name__
        raise CheckpointError(
            path,
            _header_problem(
                f"tensor {shown!r} must have exactly the fields dtype, shape, data_offsets; "
                f"got {got}"
            ),
        )
    dt = entry["dtype"]
    if not isinstance(dt, str) or dt not in DTYPES:
        raise CheckpointError(
            path,
            _header_problem(
                f"tensor {shown!r} has dtype {str(dt)[:40]!r}; supported: {', '.join(DTYPES)}"
            ),
        )
    shape = entry["shape"]
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise CheckpointError(
            path,
            _header_problem(
                f"tensor {shown!r} has shape {str(shape)[:80]}; expected a list of at most "
                f"{MAX_NDIM} non-negative integers"
            ),
        )
    offs = entry["data_offsets"]
    if (
        not isinstance(offs, list)
        or len(offs) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)
        or not 0 <= offs[0] <= offs[1]
    ):
        raise CheckpointError(
            path,
            _header_problem(
                f"tensor {shown!r} has data_offsets {str(offs)[:80]}; expected [begin, end] "
                f"with 0 <= begin <= end"
            ),
        )
    dtype = DTYPES[dt]
    count = 1
    for d in shape:
        count *= d
    nbytes = count * dtype.itemsize
    begin, end = offs
    if nbytes != end - begin:
        raise CheckpointError(
            path,
            f"tensor {shown!r} declares dtype {dt} and shape {shape} = {nbytes} bytes, but its "
            f"data_offsets [{begin}, {end}] span {end - begin} bytes; the file is corrupt",
        )
    if end > data_len:
        raise CheckpointError(
            path,
            f"tensor {shown!r} declares bytes [{begin}, {end}) of the data section, but the "
            f"file holds only {data_len} data bytes; the file is truncated or corrupt",
        )
    return dtype, tuple(shape), begin, end


def read_safetensors(
    path: str | os.PathLike, *, read_data: bool = True, follow_symlinks: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, str] | None]:
    """Read and fully validate a safetensors file.

    Args:
        path: the file.
        read_data: ``False`` reads and validates only the header (the returned tensors dict
            is then empty).
        follow_symlinks: refuse symbolic links unless ``True``.

    Returns:
        ``(tensors, metadata)``: the arrays by name in header order (native byte order,
        writable), and the ``__metadata__`` dict (``None`` when absent).

    Raises:
        CheckpointError: anything inconsistent, with the file name, what was declared and
            what is there.
        OSError: the file cannot be opened or read.
    """
    p = os.fspath(path)
    with open_regular_file(p, follow_symlinks=follow_symlinks) as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(9)
        n = int.from_bytes(head[:8], "little")
        plausible = len(head) == 9 and n <= size - 8 and head[8:9] == b"{"
        # (a real header length can start with a pickle's or gzip's magic bytes, so foreign
        # formats are only considered when the file cannot be a safetensors file)
        foreign = None if plausible else sniff_foreign(p, head)
        if foreign is not None:
            raise CheckpointError(p, foreign)
        f.seek(8)
        if len(head) < 8:
            raise CheckpointError(
                p,
                f"the file has {size} bytes; a safetensors checkpoint starts with an 8-byte "
                f"header length; it is truncated or not a chainrule checkpoint",
            )
        if n > size - 8:
            raise CheckpointError(
                p,
                f"the header length field declares {n} bytes, but only {size - 8} bytes follow "
                f"it; the file is truncated or not a chainrule checkpoint",
            )
        if n > MAX_HEADER_BYTES:
            raise CheckpointError(
                p,
                f"the header length field declares {n} bytes, more than the limit of "
                f"{MAX_HEADER_BYTES}; the file is corrupt or crafted",
            )
        if n < 2:
            raise CheckpointError(p, _header_problem(f"declared header length {n} is too short"))
        raw = f.read(n)
        if len(raw) != n:
            raise CheckpointError(p, f"the header is cut short: {len(raw)} of {n} bytes read")
        if raw[:1] != b"{":
            raise CheckpointError(
                p, _header_problem(f"it starts with {raw[:8]!r}; expected a JSON object '{{'")
            )
        try:
            header = loads(raw)
        except JSONLimitError as e:
            raise CheckpointError(p, _header_problem(str(e))) from None
        if not isinstance(header, dict):
            raise CheckpointError(p, _header_problem("the JSON is not an object"))
        meta = header.pop("__metadata__", None)
        if meta is not None and (
            not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values())
        ):
            raise CheckpointError(p, _header_problem("__metadata__ must map strings to strings"))
        data_len = size - 8 - n
        entries = {name: _check_entry(p, name, entry, data_len) for name, entry in header.items()}
        spans = sorted((b, end, name) for name, (_, _, b, end) in entries.items())
        pos, prev = 0, None
        for b, end, name in spans:
            if b < pos:
                raise CheckpointError(
                    p,
                    f"tensors {prev!r} and {name!r} overlap (bytes [{b}, {pos}) are claimed "
                    f"twice); the file is corrupt or crafted",
                )
            if b > pos:
                raise CheckpointError(
                    p,
                    f"{b - pos} unused bytes before tensor {name!r} (at data offset {pos}); "
                    f"the file is corrupt",
                )
            pos, prev = end, name
        if pos != data_len:
            raise CheckpointError(
                p,
                f"{data_len - pos} trailing bytes after the last tensor (the header accounts "
                f"for {pos} data bytes, the file has {data_len}); the file was appended to or "
                f"is not a chainrule checkpoint",
            )
        if not read_data:
            return {}, meta
        buf = bytearray(data_len)
        view = memoryview(buf)
        got = 0
        while got < data_len:
            k = f.readinto(view[got:])
            if not k:
                raise CheckpointError(
                    p, f"the file shrank while reading: {got} of {data_len} data bytes read"
                )
            got += k
    tensors: dict[str, np.ndarray] = {}
    for name, (dtype, shape, b, end) in entries.items():
        count = (end - b) // dtype.itemsize
        if count == 0:
            arr = np.zeros(shape, dtype=dtype.newbyteorder("="))
        else:
            arr = np.frombuffer(buf, dtype=dtype, count=count, offset=b).reshape(shape)
            if b % dtype.alignment:
                arr = arr.copy()
            if dtype.kind == "b" and np.any(arr.view(np.uint8) > 1):
                raise CheckpointError(
                    p, f"tensor {name[:80]!r} has dtype BOOL but holds bytes other than 0 and 1"
                )
            if sys.byteorder == "big" and dtype.byteorder == "<":  # pragma: no cover
                arr = arr.astype(dtype.newbyteorder("="))
        tensors[name] = arr
    return tensors, meta
