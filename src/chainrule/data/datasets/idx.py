"""IDX files (the MNIST / Fashion-MNIST format): a validating reader and the two loaders.

An IDX file is::

    [0x00][0x00][dtype code][ndim]  [ndim big-endian uint32 sizes]  [the data, big-endian]

with dtype codes 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64. Images files have magic ``0x00000803`` (uint8, 3 dims: N x 28 x 28), label
files ``0x00000801`` (uint8, 1 dim: N).

:func:`read_idx` checks everything before it allocates anything sized by the header: the
magic bytes and dtype code, the number of dimensions, the declared sizes against the bytes
present (raw files) or against what the compressed size can possibly hold (gzip), then reads
exactly the declared bytes and refuses missing or extra ones (RELIABILITY A12-A16, D5).
Every problem is a ``ValueError`` naming the file, what was declared and what was found.
Validation is explicit ``raise``, never ``assert`` (which ``python -O`` removes).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FASHION_MNIST_CLASSES", "fashion_mnist", "find_idx_files", "mnist", "read_idx"]

#: Fashion-MNIST's class names, by label (Zalando's ``fashion-mnist`` README).
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

IDX_DTYPES: dict[int, tuple[str, np.dtype]] = {
    0x08: ("unsigned byte", np.dtype(">u1")),
    0x09: ("signed byte", np.dtype(">i1")),
    0x0B: ("short", np.dtype(">i2")),
    0x0C: ("int", np.dtype(">i4")),
    0x0D: ("float", np.dtype(">f4")),
    0x0E: ("double", np.dtype(">f8")),
}
MAX_NDIM = 16
_DEFLATE_MAX_RATIO = 1032  # deflate cannot expand more than ~1032:1
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def _describe_magic(magic: int) -> str:
    code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    kind = IDX_DTYPES.get(code, ("unknown type",))[0]
    role = {IMAGES_MAGIC: " (images)", LABELS_MAGIC: " (labels)"}.get(magic, "")
    return f"{kind} data, {ndim} dimensions{role}"


class _GzipStream:
    """Bounded reads from gzip bytes (multi-member aware); errors become ValueError."""

    def __init__(self, path: str, comp: bytes) -> None:
        self.path = path
        self._d = zlib.decompressobj(31)
        self._tail = comp

    def read(self, k: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        try:
            while got < k:
                if self._d.eof:
                    rest = self._d.unused_data
                    if not rest:
                        break
                    self._d = zlib.decompressobj(31)
                    self._tail = rest
                if not self._tail:
                    break
                chunk = self._d.decompress(self._tail, k - got)
                self._tail = self._d.unconsumed_tail
                if chunk:
                    parts.append(chunk)
                    got += len(chunk)
                elif not self._tail and not self._d.eof:
                    break
        except zlib.error as e:
            raise ValueError(
                f"{self.path}: the gzip data is corrupt ({e}); the file is damaged or truncated"
            ) from None
        return b"".join(parts)

    @property
    def complete(self) -> bool:
        """The stream ended with its end-of-stream marker and no junk after it."""
        return self._d.eof and not self._d.unused_data and not self._tail


def _parse_header(path: str, head: bytes, expected_magic: int | None) -> tuple[int, np.dtype, int]:
    if len(head) < 4:
        raise ValueError(
            f"{path}: truncated: an IDX file starts with a 4-byte magic number, the file has "
            f"only {len(head)} bytes"
        )
    magic = int.from_bytes(head[:4], "big")
    code, ndim = head[2], head[3]
    if head[0] != 0 or head[1] != 0:
        raise ValueError(
            f"{path}: bad magic number 0x{magic:08x}: an IDX file starts with two zero bytes"
            + (f"; expected 0x{expected_magic:08x}" if expected_magic is not None else "")
            + "; this is not an IDX file"
        )
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{path}: bad magic number 0x{magic:08x} ({_describe_magic(magic)}); expected "
            f"0x{expected_magic:08x} ({_describe_magic(expected_magic)})"
        )
    if code not in IDX_DTYPES:
        raise ValueError(
            f"{path}: unknown IDX data type code 0x{code:02x} in magic 0x{magic:08x}; expected "
            f"one of " + ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        )
    if not 1 <= ndim <= MAX_NDIM:
        raise ValueError(
            f"{path}: the magic number 0x{magic:08x} declares {ndim} dimensions; expected "
            f"1 to {MAX_NDIM}"
        )
    return magic, IDX_DTYPES[code][1], ndim


def _dims(path: str, raw: bytes, ndim: int) -> tuple[int, ...]:
    if len(raw) != 4 * ndim:
        raise ValueError(
            f"{path}: truncated: the header declares {ndim} dimension sizes ({4 * ndim} bytes), "
            f"only {len(raw)} bytes are present"
        )
    return tuple(int.from_bytes(raw[4 * i : 4 * i + 4], "big") for i in range(ndim))


def _declared(dims: tuple[int, ...], dtype: np.dtype) -> tuple[int, str]:
    count = 1
    for d in dims:
        count *= d
    kind = next(k for k, dt in IDX_DTYPES.values() if dt == dtype)
    return count * dtype.itemsize, f"{' x '.join(map(str, dims))} {kind}s"


def read_idx(
    path: str | os.PathLike, expected_magic: int | None = None, *, writable: bool = True
) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed, detected from its first bytes).

    Args:
        path: the file.
        expected_magic: when given, the exact magic number required (``0x00000803`` for
            image files, ``0x00000801`` for label files).
        writable: ``False`` may return a read-only array (saves one copy of gzip data).

    Returns:
        An array of the declared shape in native byte order (``uint8`` for MNIST).

    Raises:
        ValueError: naming the file: bad magic or data type code, bad number of dimensions,
            sizes that disagree with the bytes present (truncated or trailing data), corrupt
            gzip data. Never a ``MemoryError`` for a lying header: sizes are checked before
            allocating.
        OSError: the file cannot be opened.

    Example:
        >>> import struct, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
        >>> with open(p, "wb") as f:
        ...     _ = f.write(struct.pack(">II", 0x801, 3) + bytes([1, 2, 3]))
        >>> read_idx(p)
        array([1, 2, 3], dtype=uint8)
    """
    from chainrule.io._errors import CheckpointError
    from chainrule.io._format import open_regular_file

    p = os.fspath(path)
    try:
        f = open_regular_file(p)
    except CheckpointError as e:
        raise ValueError(f"{p}: {e.detail}") from None
    with f:
        size = os.fstat(f.fileno()).st_size
        start = f.read(2)
        f.seek(0)
        if start == b"\x1f\x8b":
            comp = f.read()
            gz = _GzipStream(p, comp)
            magic, dtype, ndim = _parse_header(p, gz.read(4), expected_magic)
            dims = _dims(p, gz.read(4 * ndim), ndim)
            nbytes, what = _declared(dims, dtype)
            bound = _DEFLATE_MAX_RATIO * len(comp) + 1024
            if nbytes > bound:
                raise ValueError(
                    f"{p}: the header declares {what} = {nbytes} data bytes, but a gzip file of "
                    f"{len(comp)} bytes cannot hold more than about {bound}; the header is "
                    f"corrupt or the file is truncated"
                )
            data = gz.read(nbytes)
            if len(data) < nbytes:
                raise ValueError(
                    f"{p}: truncated: the header declares {what} = {nbytes} data bytes, but the "
                    f"compressed stream holds only {len(data)}"
                    + ("" if gz.complete else " and ends before its end-of-stream marker")
                )
            extra = gz.read(1)
            if extra:
                raise ValueError(
                    f"{p}: the file holds more data than the header declares ({what} = "
                    f"{nbytes} bytes); it is corrupt or not an IDX file"
                )
            if not gz.complete:
                raise ValueError(
                    f"{p}: truncated gzip stream: all {nbytes} declared bytes are present but "
                    f"the compressed data ends before its end-of-stream marker (or has junk "
                    f"after it)"
                )
            buf: bytes | bytearray = bytearray(data) if writable else data
            del data
        else:
            magic, dtype, ndim = _parse_header(p, f.read(4), expected_magic)
            dims = _dims(p, f.read(4 * ndim), ndim)
            nbytes, what = _declared(dims, dtype)
            present = size - 4 - 4 * ndim
            if nbytes != present:
                problem = "truncated" if nbytes > present else "trailing data"
                raise ValueError(
                    f"{p}: {problem}: the header declares {what} = {nbytes} data bytes, but "
                    f"{present} bytes are present"
                )
            buf = bytearray(nbytes)
            if f.readinto(buf) != nbytes:
                raise ValueError(f"{p}: truncated while reading (the file changed size)")
    arr = np.frombuffer(buf, dtype=dtype).reshape(dims)
    if dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


# ---------------------------------------------------------------- MNIST-style datasets

_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
DEBIAN_FASHION_DIR = "/usr/share/datasets/fashion-mnist"
_HOWTO = {
    "fashion-mnist": (
        "install the Debian package (`apt-get install dataset-fashion-mnist`, which puts them "
        f"in {DEBIAN_FASHION_DIR}), or put the four IDX files "
        "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
        "t10k-labels-idx1-ubyte, each optionally .gz) in one folder and pass root=<folder> "
        "or set CHAINRULE_DATA=<folder>; chainrule never downloads"
    ),
    "mnist": (
        "put the four MNIST IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally .gz) in one folder and "
        "pass root=<folder>, set CHAINRULE_DATA=<folder>, or use ~/.cache/chainrule/mnist; "
        "chainrule never downloads"
    ),
}


def _search_dirs(name: str, root: str | os.PathLike | None) -> list[Path]:
    dirs: list[Path] = []
    if root is not None:
        dirs += [Path(root).expanduser(), Path(root).expanduser() / name]
    env = os.environ.get("CHAINRULE_DATA")
    if env:
        dirs += [Path(env).expanduser(), Path(env).expanduser() / name]
    dirs.append(Path.home() / ".cache" / "chainrule" / name)
    if name == "fashion-mnist":
        dirs.append(Path(DEBIAN_FASHION_DIR))
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def find_idx_files(
    name: str, root: str | os.PathLike | None = None
) -> tuple[dict[str, Path] | None, list[str]]:
    """Locate the four IDX files of ``name`` (``"mnist"`` or ``"fashion-mnist"``).

    Returns ``(files, tried)``: ``files`` maps train_images/train_labels/test_images/
    test_labels to paths (``None`` when no folder has all four), ``tried`` describes every
    folder looked at, in search order: ``root``, ``root/<name>``, ``$CHAINRULE_DATA``,
    ``$CHAINRULE_DATA/<name>``, ``~/.cache/chainrule/<name>`` and, for Fashion-MNIST,
    ``/usr/share/datasets/fashion-mnist``. Uncompressed files are preferred over ``.gz``.
    """
    tried: list[str] = []
    for d in _search_dirs(name, root):
        found: dict[str, Path] = {}
        for key, base in _FILES.items():
            for cand in (d / base, d / f"{base}.gz"):
                if cand.is_file():
                    found[key] = cand
                    break
        if len(found) == len(_FILES):
            return found, tried
        if not d.is_dir():
            tried.append(f"{d} (no such folder)")
        elif found:
            missing = [_FILES[k] for k in _FILES if k not in found]
            tried.append(f"{d} (incomplete: missing {', '.join(missing)})")
        else:
            tried.append(f"{d} (no IDX files)")
    return None, tried


def _load_split(name: str, images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    x = read_idx(images, IMAGES_MAGIC, writable=False)
    y = read_idx(labels, LABELS_MAGIC, writable=False)
    if x.shape[1:] != (28, 28):
        raise ValueError(
            f"{images}: expected {name} images of 28 x 28 pixels, got {x.shape[1]} x {x.shape[2]}"
        )
    if len(x) != len(y):
        raise ValueError(
            f"{images} holds {len(x)} images but {labels} holds {len(y)} labels; the files do "
            f"not belong together or one of them is truncated"
        )
    bad = np.flatnonzero(y > 9)
    if bad.size:
        raise ValueError(
            f"{labels}: label {int(y[bad[0]])} at index {int(bad[0])} is outside the allowed "
            f"range 0..9 ({bad.size} labels out of range); the labels file is corrupt"
        )
    xf = np.divide(x, np.float32(255.0), dtype=np.float32)  # one pass, == astype then / 255
    return xf.reshape(len(x), 1, 28, 28), y.astype(np.int64)


def _load_mnist_like(name: str, root: str | os.PathLike | None) -> Any:
    files, tried = find_idx_files(name, root)
    if files is None:
        raise FileNotFoundError(
            f"{name} not found. Looked in:\n  "
            + "\n  ".join(tried)
            + f"\nTo get it: {_HOWTO[name]}."
        )
    train = _load_split(name, files["train_images"], files["train_labels"])
    test = _load_split(name, files["test_images"], files["test_labels"])
    return train, test


def fashion_mnist(
    root: str | os.PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Fashion-MNIST (Zalando; 10 clothing classes, named by :data:`FASHION_MNIST_CLASSES`)
    from local IDX files; never downloads.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images float32 ``N x 1 x 28 x 28`` scaled
        to [0, 1] (60,000 train, 10,000 test), labels int64 in 0..9.

    Raises:
        FileNotFoundError: no folder holds the four files; the message lists every path
            tried and how to get them (``apt-get install dataset-fashion-mnist``).
        ValueError: a file is corrupt (see :func:`read_idx`), image and label counts differ,
            or a label is outside 0..9.

    Example:
        >>> (x, y), (xt, yt) = fashion_mnist()  # doctest: +SKIP
        >>> x.shape, x.dtype, y.dtype  # doctest: +SKIP
        ((60000, 1, 28, 28), dtype('float32'), dtype('int64'))
    """
    return _load_mnist_like("fashion-mnist", root)


def mnist(
    root: str | os.PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST handwritten digits from local IDX files; never downloads.

    Same layout, dtypes, search order (without the Debian folder) and errors as
    :func:`fashion_mnist`; looks for ``~/.cache/chainrule/mnist``.

    Example:
        >>> (x, y), _ = mnist(root="/my/mnist")  # doctest: +SKIP
    """
    return _load_mnist_like("mnist", root)
