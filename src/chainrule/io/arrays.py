"""``load_array``: read user data arrays (``.npy``, ``.npz``, ``.safetensors``) safely.

``np.load`` with its defaults is safe against pickles only because ``allow_pickle=False``;
it still trusts the header's shape. :func:`load_array` checks the header first (object
dtypes refused, shape times item size against the bytes present) so a crafted file gets a
clear ``ValueError`` naming it, never code execution or a giant allocation (RELIABILITY
A21, D1, D5).
"""

from __future__ import annotations

import os
import zipfile
from typing import Any, BinaryIO

import numpy as np

from chainrule.io._errors import CheckpointError
from chainrule.io._format import open_regular_file, read_safetensors

__all__ = ["load_array"]

_MAX_NPZ_MEMBERS = 10_000


def _read_npy(f: BinaryIO, available: int, where: str) -> np.ndarray:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as e:
        raise CheckpointError(where, f"is not a valid .npy file: {e}") from None
    if dtype.hasobject:
        raise CheckpointError(
            where,
            f"holds an object array (dtype {dtype}); chainrule refuses it because reading it "
            f"would unpickle Python objects, which can run code; save plain numeric arrays",
        )
    count = 1
    for d in shape:
        count *= d
    nbytes = count * dtype.itemsize
    header_end = f.tell()
    if nbytes != available - header_end:
        raise CheckpointError(
            where,
            f"the .npy header declares shape {shape} of {dtype} = {nbytes} bytes, but "
            f"{available - header_end} data bytes are present; the file is truncated or corrupt",
        )
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise CheckpointError(where, f"cut short: {len(data)} of {nbytes} data bytes read")
    arr = np.frombuffer(bytearray(data), dtype=dtype, count=count)
    if fortran:
        return arr.reshape(shape[::-1]).transpose()
    return arr.reshape(shape)


def load_array(path: str | os.PathLike, *, follow_symlinks: bool = True) -> Any:
    """Load a ``.npy`` array, a ``.npz`` archive (as a dict) or a ``.safetensors`` file.

    Args:
        path: the file; the format is chosen from its suffix.
        follow_symlinks: refuse symbolic links when ``False``.

    Returns:
        An ``np.ndarray`` for ``.npy``; ``{name: array}`` for ``.npz`` and ``.safetensors``.

    Raises:
        CheckpointError: (a ``ValueError``) object arrays, a header that disagrees with the
            file size, a corrupt archive or an unknown suffix, naming the file.

    Example:
        >>> import numpy as np, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x.npy")
        >>> np.save(p, np.arange(3))
        >>> load_array(p)
        array([0, 1, 2])
    """
    p = os.fspath(path)
    low = p.lower()
    if low.endswith(".safetensors"):
        return read_safetensors(p, follow_symlinks=follow_symlinks)[0]
    if low.endswith(".npy"):
        with open_regular_file(p, follow_symlinks=follow_symlinks) as f:
            return _read_npy(f, os.fstat(f.fileno()).st_size, p)
    if low.endswith(".npz"):
        with open_regular_file(p, follow_symlinks=follow_symlinks) as f:
            try:
                zf = zipfile.ZipFile(f)
            except (zipfile.BadZipFile, ValueError, OSError) as e:
                raise CheckpointError(p, f"is not a valid .npz (zip) archive: {e}") from None
            with zf:
                infos = zf.infolist()
                if len(infos) > _MAX_NPZ_MEMBERS:
                    raise CheckpointError(p, f"has {len(infos)} members (limit {_MAX_NPZ_MEMBERS})")
                out: dict[str, np.ndarray] = {}
                for info in infos:
                    name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                    where = f"{p}[{info.filename}]"
                    try:
                        with zf.open(info) as member:
                            out[name] = _read_npy(member, info.file_size, where)  # type: ignore[arg-type]
                    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as e:
                        raise CheckpointError(where, f"cannot be read: {e}") from None
                return out
    raise CheckpointError(
        p, "unknown array file type; expected a .npy, .npz or .safetensors suffix"
    )
