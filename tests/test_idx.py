"""IDX reading and the MNIST-style loaders: corrupt files (RELIABILITY A12-A17), raw and gz,
round trips of every IDX dtype, the search order, and a short fuzz (D8)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.data import read_idx

IMAGES, LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def idx_bytes(magic: int, dims: list[int], payload: bytes) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload


def write_idx(p: Path, magic: int, dims: list[int], payload: bytes, gz: bool = False) -> Path:
    raw = idx_bytes(magic, dims, payload)
    p.write_bytes(gzip.compress(raw) if gz else raw)
    return p


def write_set(
    root: Path,
    n: int = 3,
    gz: bool = False,
    labels: bytes | None = None,
    n_labels: int | None = None,
    image_magic: int = 0x803,
) -> dict[str, Path]:
    """A complete, valid (unless told otherwise) 4-file MNIST-style set in ``root``."""
    rng = np.random.default_rng(0)
    sfx = ".gz" if gz else ""
    nl = n if n_labels is None else n_labels
    lab = labels if labels is not None else bytes(rng.integers(0, 10, nl, dtype=np.uint8))
    out = {}
    for img, lbl in ((IMAGES, LABELS), (TEST_IMAGES, TEST_LABELS)):
        pix = rng.integers(0, 256, n * 784, dtype=np.uint8).tobytes()
        out[img] = write_idx(root / (img + sfx), image_magic, [n, 28, 28], pix, gz)
        out[lbl] = write_idx(root / (lbl + sfx), 0x801, [len(lab)], lab, gz)
    return out


def raises_clearly(exc, *fragments):
    class _Ctx:
        def __enter__(self):
            self.cm = pytest.raises(exc)
            self.info = self.cm.__enter__()
            return self.info

        def __exit__(self, *a):
            r = self.cm.__exit__(*a)
            msg = str(self.info.value).lower()
            for frag in fragments:
                assert str(frag).lower() in msg, (frag, msg)
            return r

    return _Ctx()


@pytest.fixture(autouse=True)
def _isolated_search(monkeypatch, tmp_path) -> None:
    """No $CHAINRULE_DATA and a fake home, so only the folders a test builds are found."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


# ---------------------------------------------------------------- valid files


@pytest.mark.parametrize("gz", [False, True])
def test_valid_set_loads_with_documented_layout(tmp_path: Path, gz: bool) -> None:
    files = write_set(tmp_path, n=3, gz=gz, labels=bytes([0, 9, 4]))
    (x, y), (xt, yt) = cr.data.fashion_mnist(root=tmp_path)
    assert x.shape == (3, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert xt.shape == (3, 1, 28, 28) and y.tolist() == [0, 9, 4]
    pixels = read_idx(files[IMAGES])
    assert pixels.dtype == np.uint8 and pixels.shape == (3, 28, 28)
    assert np.array_equal(x[:, 0], pixels.astype(np.float32) / np.float32(255))
    assert x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize(
    "code,dtype",
    [(0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")],
)
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_every_dtype(tmp_path: Path, code: int, dtype: str, gz: bool) -> None:
    a = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    p = write_idx(tmp_path / "a-idx3", (code << 8) + 3, [2, 3, 4], a.tobytes(), gz)
    out = read_idx(p)
    assert out.dtype == np.dtype(dtype).newbyteorder("=") and out.flags.writeable
    assert np.array_equal(out, a)


def test_read_idx_multi_member_gzip(tmp_path: Path) -> None:
    raw = idx_bytes(0x801, [5], bytes([1, 2, 3, 4, 5]))
    p = tmp_path / "l-idx1.gz"
    p.write_bytes(gzip.compress(raw[:6]) + gzip.compress(raw[6:]))
    assert read_idx(p).tolist() == [1, 2, 3, 4, 5]


def test_uncompressed_preferred_and_search_order(tmp_path: Path, monkeypatch) -> None:
    env = tmp_path / "env"
    (env / "fashion-mnist").mkdir(parents=True)
    write_set(env / "fashion-mnist", n=2)
    monkeypatch.setenv("CHAINRULE_DATA", str(env))
    (x, y), _ = cr.data.fashion_mnist(root=tmp_path / "missing")
    assert len(x) == 2  # found in $CHAINRULE_DATA/fashion-mnist after root failed
    mine = tmp_path / "mine"
    mine.mkdir()
    write_set(mine, n=4)
    (x, y), _ = cr.data.fashion_mnist(root=mine)
    assert len(x) == 4  # root comes first
    home = tmp_path / "home" / ".cache" / "chainrule" / "mnist"
    home.mkdir(parents=True)
    write_set(home, n=5, gz=True)
    monkeypatch.delenv("CHAINRULE_DATA")
    (x, y), _ = cr.data.mnist()
    assert len(x) == 5
    both = tmp_path / "both"
    both.mkdir()
    write_set(both, n=2)
    write_set(both, n=3, gz=True)
    (x, y), _ = cr.data.mnist(root=both)
    assert len(x) == 2  # the uncompressed files win


# ---------------------------------------------------------------- A12-A16


@pytest.mark.parametrize("gz", [False, True])
def test_a12_bad_magic(tmp_path: Path, gz: bool) -> None:
    write_set(tmp_path, gz=gz, image_magic=0x804)
    name = IMAGES + (".gz" if gz else "")
    with raises_clearly(ValueError, name, "magic", "0x00000804", "0x00000803", "images"):
        cr.data.fashion_mnist(root=tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_a12_first_byte_not_zero(tmp_path: Path, gz: bool) -> None:
    files = write_set(tmp_path, gz=gz)
    write_idx(files[IMAGES], 0x01000803, [3, 28, 28], bytes(3 * 784), gz)
    with raises_clearly(ValueError, files[IMAGES].name, "magic", "0x01000803", "two zero bytes"):
        cr.data.fashion_mnist(root=tmp_path)


def test_a12_unknown_dtype_and_ndim(tmp_path: Path) -> None:
    p = write_idx(tmp_path / "x-idx", 0x00000A01, [1], b"\x00")
    with raises_clearly(ValueError, "x-idx", "data type code 0x0a"):
        read_idx(p)
    p = write_idx(tmp_path / "y-idx", 0x00000800, [], b"")
    with raises_clearly(ValueError, "y-idx", "0 dimensions"):
        read_idx(p)
    p = tmp_path / "z-idx"
    p.write_bytes(b"\x00\x00")
    with raises_clearly(ValueError, "z-idx", "truncated", "2 bytes"):
        read_idx(p)
    p.write_bytes(struct.pack(">I", 0x803) + b"\x00\x00\x00\x03")
    with raises_clearly(ValueError, "z-idx", "truncated", "3 dimension sizes"):
        read_idx(p)


def test_a13_raw_truncated_by_one_byte(tmp_path: Path) -> None:
    files = write_set(tmp_path)
    p = files[IMAGES]
    p.write_bytes(p.read_bytes()[:-1])
    with raises_clearly(ValueError, p.name, "truncated", "3 x 28 x 28", "2352", "2351"):
        cr.data.fashion_mnist(root=tmp_path)


def test_a13_raw_trailing_bytes(tmp_path: Path) -> None:
    files = write_set(tmp_path)
    p = files[LABELS]
    p.write_bytes(p.read_bytes() + b"\x00")
    with raises_clearly(ValueError, p.name, "trailing", "3 data bytes", "4 bytes are present"):
        cr.data.fashion_mnist(root=tmp_path)


@pytest.mark.parametrize("cut", [1, 4, 8, 9, 20, 200])
def test_a13_gz_truncated(tmp_path: Path, cut: int) -> None:
    files = write_set(tmp_path, gz=True)
    p = files[IMAGES]
    p.write_bytes(p.read_bytes()[:-cut])
    with raises_clearly(ValueError, p.name, "truncated"):
        cr.data.fashion_mnist(root=tmp_path)


def test_a13_gz_corrupt_stream_and_crc(tmp_path: Path) -> None:
    files = write_set(tmp_path, gz=True)
    p = files[IMAGES]
    blob = bytearray(p.read_bytes())
    blob[-8] ^= 0xFF  # the CRC32 of the trailer
    p.write_bytes(blob)
    with raises_clearly(ValueError, p.name, "gzip", "corrupt"):
        cr.data.fashion_mnist(root=tmp_path)


def test_a14_count_mismatch_names_both_files(tmp_path: Path) -> None:
    write_set(tmp_path, n=3, n_labels=2)
    with raises_clearly(ValueError, IMAGES, LABELS, "3 images", "2 labels"):
        cr.data.fashion_mnist(root=tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_a15_label_out_of_range(tmp_path: Path, gz: bool) -> None:
    write_set(tmp_path, n=3, gz=gz, labels=bytes([0, 12, 3]))
    with raises_clearly(ValueError, "labels", "label 12", "index 1", "0..9"):
        cr.data.fashion_mnist(root=tmp_path)


def test_a15_wrong_image_size(tmp_path: Path) -> None:
    files = write_set(tmp_path)
    write_idx(files[IMAGES], 0x803, [3, 14, 56], bytes(3 * 784))
    with raises_clearly(ValueError, IMAGES, "28 x 28", "14 x 56"):
        cr.data.fashion_mnist(root=tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_a16_huge_dims_small_file(tmp_path: Path, gz: bool) -> None:
    p = write_idx(tmp_path / "bomb-idx3-ubyte", 0x803, [2**31, 2**31, 1], bytes(84), gz)
    with raises_clearly(ValueError, p.name, "declares", "2147483648 x 2147483648 x 1"):
        read_idx(p)


# ---------------------------------------------------------------- A17 and other faults


def test_a17_missing_everywhere_lists_every_path(tmp_path: Path, monkeypatch) -> None:
    import chainrule.data.datasets.idx as idx

    monkeypatch.setattr(idx, "DEBIAN_FASHION_DIR", str(tmp_path / "debian-fashion"))
    env = tmp_path / "envdata"
    env.mkdir()
    (env / TEST_LABELS).write_bytes(b"")  # an incomplete folder is reported as such
    monkeypatch.setenv("CHAINRULE_DATA", str(env))
    with pytest.raises(FileNotFoundError) as e:
        cr.data.fashion_mnist(root="/nonexistent")
    msg = str(e.value)
    for frag in [
        "/nonexistent",
        "/nonexistent/fashion-mnist",
        str(env),
        "incomplete",
        str(env / "fashion-mnist"),
        str(tmp_path / "home" / ".cache" / "chainrule"),
        str(tmp_path / "debian-fashion"),
        "apt-get install dataset-fashion-mnist",
        "train-images-idx3-ubyte",
    ]:
        assert frag in msg, (frag, msg)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        cr.data.mnist(root="/nonexistent")


def test_not_a_regular_file(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "fifo-idx")
    with raises_clearly(ValueError, "fifo-idx", "not a regular file"):
        read_idx(tmp_path / "fifo-idx")
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "absent")


def test_available_reports_where(tmp_path: Path, monkeypatch) -> None:
    write_set(tmp_path, n=2)
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    rows = {r.name: r for r in cr.data.available()}
    assert rows["mnist"].available and rows["mnist"].location == str(tmp_path)
    assert rows["digits"].available and "digits.csv.gz" in rows["digits"].location


# ---------------------------------------------------------------- D8: fuzz

SEED_RAW = idx_bytes(0x803, [2, 3, 4], bytes(range(24)))
SEED_GZ = gzip.compress(SEED_RAW)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    which=st.sampled_from(["raw", "gz"]),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=3),
    cut=st.integers(0, 64),
    extra=st.binary(max_size=8),
)
def test_fuzz_idx_only_documented_errors(tmp_path_factory, which, flips, cut, extra) -> None:
    data = bytearray(SEED_RAW if which == "raw" else SEED_GZ)
    for i, v in flips:
        data[i % len(data)] ^= v
    data = data[: max(0, len(data) - cut)] + extra
    p = tmp_path_factory.mktemp("idx") / "f-idx3-ubyte"
    p.write_bytes(bytes(data))
    try:
        out = read_idx(p)
    except ValueError as e:
        assert str(p) in str(e)
        return
    assert isinstance(out, np.ndarray) and out.size * out.itemsize == out.nbytes
