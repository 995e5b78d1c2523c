"""chainrule.io: round trips, safetensors interop, atomic-write details, malformed files (D6).

Fault injection (crashes, full disks, syscall errors) is in test_checkpoint_faults.py, crafted
and hostile files (pickles, links, header bombs, fuzzing) in test_security.py.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy as stnp

import chainrule as cr
from chainrule.io import CheckpointError, is_temp_file
from chainrule.io.checkpoint import _digest

DTYPES = [
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
]


def bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def raw_safetensors(header: dict, data: bytes = b"", pad: bool = True) -> bytes:
    """Build a safetensors file by hand (to write malformed ones)."""
    h = json.dumps(header).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("dtype", DTYPES)
def test_array_round_trip_bit_exact(tmp_path: Path, rng: np.random.Generator, dtype: str) -> None:
    if dtype == "bool":
        a = rng.random((3, 5)) > 0.5
    elif np.dtype(dtype).kind == "f":
        a = (rng.standard_normal((3, 5)) * 100).astype(dtype)
        a[0, :4] = [-0.0, np.inf, -np.inf, np.nan]
    else:
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, (3, 5), dtype=dtype, endpoint=True)
        a[0, :2] = [info.min, info.max]
    p = tmp_path / "a.safetensors"
    cr.io.save({"a": a}, p)
    assert bits_equal(cr.io.load(p)["a"], a)


def test_nan_payloads_and_negative_zero_survive(tmp_path: Path) -> None:
    raw32 = np.array([0x7FC00001, 0xFFC12345, 0x7F800001, 0x80000000], dtype=np.uint32)
    raw64 = np.array([0x7FF8000000000ABC, 0xFFF0000000000001, 0x8000000000000000], np.uint64)
    obj = {"f32": raw32.view(np.float32), "f64": raw64.view(np.float64)}
    p = tmp_path / "nan.safetensors"
    cr.io.save(obj, p)
    out = cr.io.load(p)
    assert out["f32"].view(np.uint32).tolist() == raw32.tolist()
    assert out["f64"].view(np.uint64).tolist() == raw64.tolist()


def test_nested_structure_round_trip(tmp_path: Path) -> None:
    g = cr.Generator(123)
    g.normal((5,))
    obj = {
        "model": {"fc.weight": cr.randn(3, 2), "fc.bias": np.zeros(3, np.float32)},
        "optimizer": {
            "state": {0: {"step": 7, "exp_avg": np.full(3, 0.5)}, 1: {"step": 7}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1]}],
        },
        "rng": g.get_state(),
        "epoch": 3,
        "big": 2**200 + 1,
        "neg": -(2**70),
        "floats": [0.1, -0.0, math.inf, -math.inf, 1e-310, 1.7976931348623157e308],
        "nan": math.nan,
        "flags": (True, False, None),
        "text": 'héllo ✓ \ud800 "quoted" $not-a-tag',
        "$weird": {"$array": "not an array"},
        "empty": {},
        "empty_list": [],
        "scalar_arr": np.array(2.5),
        "np_scalars": [np.float32(1.5), np.int64(4), np.bool_(True)],
        "zero_size": np.zeros((0, 4), np.float32),
        "strided": np.arange(12.0).reshape(3, 4)[:, ::2],
        "big_endian": np.arange(3, dtype=">i4"),
    }
    p = tmp_path / "ckpt.safetensors"
    cr.io.save(obj, p)
    out = cr.io.load(p)
    assert out["model"]["fc.weight"].tobytes() == obj["model"]["fc.weight"].data.tobytes()
    assert out["optimizer"]["state"][0]["step"] == 7 and 0 in out["optimizer"]["state"]
    assert list(out["optimizer"]["state"]) == [0, 1]
    assert out["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert out["rng"] == g.get_state()
    assert out["big"] == 2**200 + 1 and out["neg"] == -(2**70)
    f = out["floats"]
    assert f[0] == 0.1 and math.copysign(1, f[1]) == -1 and f[2:4] == [math.inf, -math.inf]
    assert f[4] == 1e-310 and f[5] == 1.7976931348623157e308
    assert math.isnan(out["nan"])
    assert out["flags"] == (True, False, None) and type(out["flags"][0]) is bool
    assert out["text"] == obj["text"]
    assert out["$weird"] == {"$array": "not an array"}
    assert out["empty"] == {} and out["empty_list"] == []
    assert out["scalar_arr"].shape == () and out["scalar_arr"] == 2.5
    assert out["np_scalars"] == [1.5, 4, True] and type(out["np_scalars"][1]) is int
    assert out["zero_size"].shape == (0, 4) and out["zero_size"].dtype == np.float32
    assert np.array_equal(out["strided"], obj["strided"])
    assert out["big_endian"].dtype == np.dtype("int32") and out["big_endian"].tolist() == [0, 1, 2]
    # the restored generator continues exactly (E7)
    g2 = cr.Generator(0)
    g2.set_state(out["rng"])
    assert np.array_equal(g2.normal((4,)), g.normal((4,)))


def test_root_values_of_every_kind(tmp_path: Path) -> None:
    p = tmp_path / "r.safetensors"
    for value in [None, 3, 2.5, "s", True, [1, [2, (3,)]], (1, 2), np.arange(4)]:
        cr.io.save(value, p)
        out = cr.io.load(p)
        if isinstance(value, np.ndarray):
            assert bits_equal(out, value)
        else:
            assert out == value and type(out) is type(value)


def test_model_state_dict_round_trip_into_module(tmp_path: Path) -> None:
    m = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.Linear(3, 2))
    p = tmp_path / "m.safetensors"
    cr.save(m.state_dict(), p)
    m2 = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.Linear(3, 2))
    m2.load_state_dict(cr.load(p))
    for (k, a), (k2, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert k == k2 and a.data.tobytes() == b.data.tobytes()


def test_returned_arrays_are_writable_and_independent(tmp_path: Path) -> None:
    p = tmp_path / "w.safetensors"
    cr.io.save({"a": np.zeros(3), "b": np.ones(3)}, p)
    out = cr.io.load(p)
    out["a"][0] = 5.0
    assert out["b"].tolist() == [1.0, 1.0, 1.0]


def test_metadata(tmp_path: Path) -> None:
    p = tmp_path / "m.safetensors"
    cr.io.save({"w": np.zeros(2)}, p, metadata={"run": "abc", "step": 10, "loss": math.nan})
    meta = cr.io.read_metadata(p)
    assert meta["chainrule_version"] == cr.__version__ and meta["format_version"] == 1
    assert meta["metadata"]["run"] == "abc" and meta["metadata"]["step"] == 10
    assert math.isnan(meta["metadata"]["loss"])
    with pytest.raises(TypeError, match="metadata"):
        cr.io.save({}, p, metadata={"arr": np.zeros(2)})


# ---------------------------------------------------------------- interop


def test_flat_state_dict_is_a_plain_safetensors_file(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    sd = {"fc.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "fc.bias": np.ones(2)}
    p = tmp_path / "sd.safetensors"
    cr.io.save(sd, p)
    assert sorted(stnp.load_file(str(p))) == sorted(sd)
    t = load_file(str(p))
    assert isinstance(t["fc.weight"], torch.Tensor)
    assert t["fc.weight"].numpy().tobytes() == sd["fc.weight"].tobytes()
    assert t["fc.bias"].dtype == torch.float64


def test_nested_names_follow_the_structure(tmp_path: Path) -> None:
    obj = {
        "model": {"w": np.zeros(1)},
        "opt": {"state": {3: {"exp_avg": np.ones(1)}}},
        "hist": [np.zeros(1), np.ones(1)],
        "a.b": np.zeros(1),
        "a": {"b": np.ones(1)},
    }
    p = tmp_path / "n.safetensors"
    cr.io.save(obj, p)
    names = set(stnp.load_file(str(p)))
    assert {"model.w", "opt.state.3.exp_avg", "hist.0", "hist.1", "a.b", "a.b#1"} == names
    out = cr.io.load(p)
    assert out["a.b"].tolist() == [0.0] and out["a"]["b"].tolist() == [1.0]


def test_foreign_safetensors_file_loads_as_flat_dict(tmp_path: Path) -> None:
    arrays = {"x": np.arange(5, dtype=np.int16), "y": np.eye(2, dtype=np.float16)}
    p = tmp_path / "foreign.safetensors"
    stnp.save_file(arrays, str(p), metadata={"format": "np"})
    out = cr.io.load(p)
    assert set(out) == {"x", "y"} and all(bits_equal(out[k], arrays[k]) for k in arrays)
    assert cr.io.read_metadata(p) == {}


def test_file_mode_is_not_0600(tmp_path: Path) -> None:
    p = tmp_path / "perm.safetensors"
    old = os.umask(0o022)
    try:
        cr.io.save({"a": np.zeros(1)}, p)
    finally:
        os.umask(old)
    assert os.stat(p).st_mode & 0o777 == 0o644


# ---------------------------------------------------------------- save-side errors


@pytest.mark.parametrize(
    ("obj", "fragments"),
    [
        ({"a": {1.5: 2}}, ["a", "1.5", "str or int"]),
        ({"a": {True: 2}}, ["key", "True"]),
        ({"x": [object()]}, ["x.0", "object", "supported"]),
        ({"c": np.zeros(2, np.complex128)}, ["c", "complex128", "supported dtypes"]),
        ({"s": np.array(["a"])}, ["s", "<U1"]),
        ({"o": np.array([None], dtype=object)}, ["o", "object"]),
        ({"set": {1, 2}}, ["set"]),
        (cr.nn.Linear(2, 2), ["<root>", "Linear", "save its state_dict()"]),
    ],
)
def test_save_rejects_unsupported_values(tmp_path: Path, obj, fragments) -> None:
    with pytest.raises(TypeError) as e:
        cr.io.save(obj, tmp_path / "bad.safetensors")
    for frag in fragments:
        assert frag in str(e.value), (frag, str(e.value))
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_absurd_nesting_and_ints(tmp_path: Path) -> None:
    deep: list = []
    cur = deep
    for _ in range(100):
        cur.append([])
        cur = cur[0]
    with pytest.raises(ValueError, match="deeper than"):
        cr.io.save(deep, tmp_path / "d.safetensors")
    with pytest.raises(ValueError, match="digits"):
        cr.io.save({"i": 10**2000}, tmp_path / "i.safetensors")


def test_save_into_missing_folder_and_over_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as e:
        cr.io.save({}, tmp_path / "nope" / "c.safetensors")
    assert "nope" in str(e.value)
    (tmp_path / "dir.safetensors").mkdir()
    with pytest.raises(IsADirectoryError):
        cr.io.save({}, tmp_path / "dir.safetensors")


# ---------------------------------------------------------------- temp files


def test_is_temp_file_pattern() -> None:
    assert is_temp_file("/x/.ckpt.safetensors.tmp-123-0a1b2c3d")
    assert is_temp_file(Path(".a.tmp-1-ffffffff"))
    for name in [
        "ckpt.safetensors",
        ".ckpt.safetensors",
        ".c.tmp-12-xyz",
        "c.tmp-1-0a1b2c3d",
        ".c.tmp--0a1b2c3d",
        ".c.tmp-1-0A1B2C3D",
    ]:
        assert not is_temp_file(name), name


def test_next_save_removes_stale_temp_files_of_dead_writers(tmp_path: Path) -> None:
    dead_pid = 2**22 + 12345  # above the default pid_max: never a live process
    stale = tmp_path / f".ckpt.safetensors.tmp-{dead_pid}-0123abcd"
    stale.write_bytes(b"partial")
    live = tmp_path / f".other.tmp-{os.getpid()}-0123abcd"  # this process: maybe in flight
    live.write_bytes(b"in flight")
    unrelated = tmp_path / "notes.tmp"
    unrelated.write_bytes(b"keep")
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / f".l.tmp-{dead_pid}-0123abcd"
    link.symlink_to(target)
    cr.io.save({"a": np.zeros(1)}, tmp_path / "ckpt.safetensors")
    assert not stale.exists()
    assert live.exists() and unrelated.exists() and link.is_symlink() and target.is_dir()


def test_overwrite_replaces_atomically(tmp_path: Path) -> None:
    p = tmp_path / "c.safetensors"
    cr.io.save({"v": np.zeros(3)}, p)
    ino = os.stat(p).st_ino
    cr.io.save({"v": np.ones(3)}, p)
    assert os.stat(p).st_ino != ino  # a new file renamed over the old one, not rewritten
    assert cr.io.load(p)["v"].tolist() == [1.0, 1.0, 1.0]
    assert [q.name for q in tmp_path.iterdir()] == ["c.safetensors"]


def test_atomic_write_text(tmp_path: Path) -> None:
    p = cr.io.atomic_write(tmp_path / "m.json", '{"a": 1}')
    assert json.loads(p.read_text()) == {"a": 1}


# ---------------------------------------------------------------- D6 malformed headers

GOOD_ENTRY = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


def _write(tmp_path: Path, blob: bytes, name: str = "bad.safetensors") -> Path:
    p = tmp_path / name
    p.write_bytes(blob)
    return p


@pytest.mark.parametrize(
    ("blob", "fragments"),
    [
        (b"", ["empty"]),
        (b"\x05\x00\x00", ["3 bytes", "truncated"]),
        (struct.pack("<Q", 1 << 40) + b"{}", ["1099511627776", "only 2 bytes follow"]),
        (struct.pack("<Q", 1), ["declares 1 bytes", "only 0"]),
        (struct.pack("<Q", 4) + b"\xff\xfe{}", ["expected a json object"]),
        (struct.pack("<Q", 4) + b"{\xff\xfe}", ["utf-8"]),
        (struct.pack("<Q", 4) + b"{abc", ["invalid json"]),
        (struct.pack("<Q", 2) + b"[]", ["expected a json object"]),
        (raw_safetensors({"w": {**GOOD_ENTRY, "dtype": "O"}}, bytes(8)), ["'O'", "supported"]),
        (raw_safetensors({"w": {**GOOD_ENTRY, "shape": [-2]}}, bytes(8)), ["shape [-2]"]),
        (raw_safetensors({"w": {**GOOD_ENTRY, "shape": [2.0]}}, bytes(8)), ["shape"]),
        (
            raw_safetensors({"w": {**GOOD_ENTRY, "shape": [2, 2]}}, bytes(8)),
            ["16 bytes", "span 8 bytes"],
        ),
        (
            raw_safetensors({"w": {**GOOD_ENTRY, "shape": [2**31, 2**31]}}, bytes(8)),
            ["2147483648", "span 8"],
        ),
        (
            raw_safetensors({"w": {**GOOD_ENTRY, "data_offsets": [8, 16]}}, bytes(8)),
            ["[8, 16)", "only 8 data bytes", "truncated"],
        ),
        (
            raw_safetensors({"w": {**GOOD_ENTRY, "data_offsets": [4, 0]}}, bytes(8)),
            ["data_offsets"],
        ),
        (raw_safetensors({"w": GOOD_ENTRY, "v": GOOD_ENTRY}, bytes(8)), ["overlap"]),
        (
            raw_safetensors({"w": {**GOOD_ENTRY, "data_offsets": [4, 12]}}, bytes(12)),
            ["4 unused bytes"],
        ),
        (raw_safetensors({"w": GOOD_ENTRY}, bytes(16)), ["8 trailing bytes"]),
        (raw_safetensors({"w": {**GOOD_ENTRY, "extra": 1}}, bytes(8)), ["exactly the fields"]),
        (raw_safetensors({"w": [1]}, bytes(8)), ["exactly the fields"]),
        (raw_safetensors({"__metadata__": {"a": 1}}), ["__metadata__"]),
        (
            raw_safetensors(
                {"b": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x07"
            ),
            ["bool", "0 and 1"],
        ),
    ],
)
def test_malformed_header_is_refused(tmp_path: Path, blob: bytes, fragments: list[str]) -> None:
    p = _write(tmp_path, blob)
    with pytest.raises(CheckpointError) as e:
        cr.io.load(p)
    msg = str(e.value).lower()
    assert str(p).lower() in msg
    for frag in fragments:
        assert frag.lower() in msg, (frag, msg)
    assert isinstance(e.value, ValueError)


def test_duplicate_key_with_different_offsets(tmp_path: Path) -> None:
    h = (
        b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
        b'"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'
    )
    p = _write(tmp_path, struct.pack("<Q", len(h)) + h + bytes(8))
    with pytest.raises(CheckpointError, match="duplicate key 'w'"):
        cr.io.load(p)


def test_polyglot_appended_junk(tmp_path: Path) -> None:
    p = tmp_path / "c.safetensors"
    cr.io.save({"w": np.ones(4, np.float32)}, p)
    with open(p, "ab") as f:
        f.write(b"JUNKJUNK")
    with pytest.raises(CheckpointError, match="8 trailing bytes"):
        cr.io.load(p)


def _chainrule_file(tmp_path: Path, doc: object, tensors: dict | None = None) -> Path:
    """A file with a hand-written chainrule document and a valid checksum."""
    p = tmp_path / "meta.safetensors"
    text = doc if isinstance(doc, str) else json.dumps(doc)
    tensors = tensors or {}
    meta = {"chainrule": text, "chainrule_sha256": _digest(text, tensors)}
    p.write_bytes(stnp.save(tensors, metadata=meta))
    return p


def _doc(root: object, **kw: object) -> dict:
    return {
        "format": "chainrule",
        "format_version": 1,
        "chainrule_version": "0",
        "metadata": None,
        "root": root,
        **kw,
    }


@pytest.mark.parametrize(
    ("doc", "tensors", "fragments"),
    [
        ("{not json", None, ["invalid json"]),
        ("[1, 2]", None, ["format='chainrule'"]),
        (_doc({"$array": "missing"}), None, ["'missing'", "not stored"]),
        (_doc({"a": 1}), {"orphan": np.zeros(1)}, ["not referenced", "orphan"]),
        (_doc({"$float": "nanx"}), None, ["$float"]),
        (_doc({"$tuple": 3}), None, ["$tuple"]),
        (_doc({"$dict": [[1.5, 2]]}), None, ["key"]),
        (_doc({"$dict": [[1, 2], [1, 3]]}), None, ["duplicate"]),
        (_doc({"$dict": [[1]]}), None, ["pairs"]),
        (_doc({"$evil": "os.system"}), None, ["unknown tag"]),
        (_doc({"$array": "a", "x": 1}), {"a": np.zeros(1)}, ["one key"]),
        (_doc(1, format_version=99), None, ["format 99", "upgrade"]),
        (_doc(1, format_version="1"), None, ["format_version"]),
        ('{"root": NaN, "format": "chainrule", "format_version": 1}', None, ["nan"]),
    ],
)
def test_bad_chainrule_metadata(tmp_path: Path, doc, tensors, fragments) -> None:
    p = _chainrule_file(tmp_path, doc, tensors)
    with pytest.raises(CheckpointError) as e:
        cr.io.load(p)
    msg = str(e.value)
    assert str(p) in msg
    for frag in fragments:
        assert frag.lower() in msg.lower(), (frag, msg)


def test_load_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        cr.io.load(tmp_path / "none.safetensors")
    with pytest.raises(IsADirectoryError):
        cr.io.load(tmp_path)


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    p = tmp_path / "fifo.safetensors"
    os.mkfifo(p)
    with pytest.raises(CheckpointError, match="not a regular file"):
        cr.io.load(p)


# ---------------------------------------------------------------- A21: user arrays


def test_load_array_npy_npz_and_refusals(tmp_path: Path) -> None:
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "x.npy", a)
    np.save(tmp_path / "f.npy", np.asfortranarray(a))
    np.savez(tmp_path / "z.npz", a=a, b=np.arange(3))
    assert bits_equal(cr.io.load_array(tmp_path / "x.npy"), a)
    assert np.array_equal(cr.io.load_array(tmp_path / "f.npy"), a)
    z = cr.io.load_array(tmp_path / "z.npz")
    assert set(z) == {"a", "b"} and bits_equal(z["a"], a)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError, match="object array"):
        cr.io.load_array(tmp_path / "obj.npy")
    np.savez(tmp_path / "objz.npz", o=np.array([None], dtype=object))
    with pytest.raises(CheckpointError, match="object array"):
        cr.io.load_array(tmp_path / "objz.npz")
    # a header that lies about the shape: refused before reading
    blob = (tmp_path / "x.npy").read_bytes().replace(b"(3, 4)", b"(9, 4)")
    (tmp_path / "lie.npy").write_bytes(blob)
    with pytest.raises(CheckpointError, match="144 bytes, but 48"):
        cr.io.load_array(tmp_path / "lie.npy")
    with pytest.raises(CheckpointError, match="suffix"):
        cr.io.load_array(tmp_path / "x.txt")


def test_checksum_catches_corruption_that_still_parses(tmp_path: Path) -> None:
    p = tmp_path / "c.safetensors"
    cr.io.save({"w": np.arange(4, dtype=np.float32), "epoch": 3}, p)
    blob = bytearray(p.read_bytes())
    data = bytearray(blob)
    data[-1] ^= 0x01  # a bit of the last float's payload
    (tmp_path / "d.safetensors").write_bytes(data)
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        cr.io.load(tmp_path / "d.safetensors")
    i = blob.index(b'\\"epoch\\":3')  # inside the JSON string, escaped
    hdr = bytearray(blob)
    hdr[i + len(b'\\"epoch\\":')] = ord("7")  # still valid JSON, different epoch
    (tmp_path / "e.safetensors").write_bytes(hdr)
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        cr.io.load(tmp_path / "e.safetensors")


def test_missing_checksum_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "nosum.safetensors"
    p.write_bytes(stnp.save({}, metadata={"chainrule": json.dumps(_doc(1))}))
    with pytest.raises(CheckpointError, match="checksum"):
        cr.io.load(p)
    q = tmp_path / "noroot.safetensors"
    q.write_bytes(stnp.save({}, metadata={"chainrule_sha256": "0" * 64}))
    with pytest.raises(CheckpointError, match="corrupt"):
        cr.io.load(q)


def test_header_lengths_that_look_like_foreign_magic(tmp_path: Path) -> None:
    """A header length of 0x0280 starts with the bytes of a protocol-2 pickle (80 02):
    such files are still loaded as safetensors, not refused as pickles."""
    p = tmp_path / "c.safetensors"
    magics = {b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"}
    seen = set()

    def header_len(pad: int) -> int:
        cr.io.save({"w": np.ones(2)}, p, metadata={"pad": "x" * pad})
        return int.from_bytes(p.read_bytes()[:8], "little")

    base = header_len(0)
    for target in (0x280, 0x380, 0x480, 0x580):
        for pad in range(max(0, target - base - 8), target - base + 9):
            if header_len(pad) == target:
                assert p.read_bytes()[:2] in magics
                seen.add(p.read_bytes()[:2])
                assert cr.io.load(p)["w"].tolist() == [1.0, 1.0]
                break
    assert seen == magics
