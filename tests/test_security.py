"""Hostile files (RELIABILITY D1, D4, D5, D8): loading never runs code, never follows a planted
link, never lets a lying header allocate, and fuzzed files only raise documented errors.

D1 and D5 run in fresh child processes: D1 under a Python audit hook with a canary file (a
pickle that would ``touch`` it), D5 under a 1 GiB address-space limit (so a too-late size
check shows up as MemoryError instead of passing by luck).
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy as stnp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.io import CheckpointError

ENV = {
    **os.environ,
    "PYTHONDONTWRITEBYTECODE": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
}


class _Evil:
    def __init__(self, canary: str) -> None:
        self.canary = canary

    def __reduce__(self):  # runs os.system on unpickling
        return (os.system, (f"touch {self.canary}",))


AUDIT_CHILD = textwrap.dedent(r"""
    import json, os, sys
    import numpy, chainrule as cr, chainrule.io, chainrule.data          # pre-import the legit
    canary, files = sys.argv[1], sys.argv[2:]
    BAD = {"os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn",
           "pickle.find_class", "ctypes.dlopen", "socket.connect", "urllib.Request"}
    seen = []
    def hook(ev, args):
        if ev in BAD or (ev == "import" and not str(args[0]).startswith(
                ("chainrule", "numpy", "safetensors", "json", "encodings"))):
            seen.append((ev, repr(args)[:120]))
    sys.addaudithook(hook)
    results = {}
    for f in files:
        try:
            cr.io.load(f)
            results[f] = "LOADED"
        except (ValueError, OSError, TypeError) as e:
            results[f] = f"REFUSED {type(e).__name__}: {e}"
        try:
            cr.io.load_array(f)
            results[f + "#array"] = "LOADED"
        except (ValueError, OSError, TypeError) as e:
            results[f + "#array"] = f"REFUSED {type(e).__name__}: {e}"
    print(json.dumps({"results": results, "seen": seen, "canary": os.path.exists(canary)}))
""")


def test_crafted_pickles_are_never_executed(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    canary = tmp_path / "CANARY"
    evil = _Evil(str(canary))
    payload = pickle.dumps(evil, protocol=4)
    files = {}
    for ext in (".safetensors", ".ckpt", ".json", ".bin"):
        files[ext] = tmp_path / f"evil{ext}"
        files[ext].write_bytes(payload)
    files["proto0"] = tmp_path / "evil0.safetensors"
    files["proto0"].write_bytes(pickle.dumps(evil, protocol=0))
    files[".npy"] = tmp_path / "evil.npy"
    np.save(files[".npy"], np.array([evil], dtype=object), allow_pickle=True)
    files[".npz"] = tmp_path / "evil.npz"
    np.savez(files[".npz"], a=np.array([evil], dtype=object))
    files[".pt"] = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(2), "x": evil}, files[".pt"])
    assert not canary.exists()
    r = subprocess.run(
        [sys.executable, "-c", AUDIT_CHILD, str(canary), *map(str, files.values())],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert not out["canary"] and not canary.exists()
    assert out["seen"] == []
    for key, f in files.items():
        msg = out["results"][str(f)]
        assert msg.startswith("REFUSED CheckpointError"), (key, msg)
        assert str(f) in msg and "not a chainrule checkpoint" in msg, (key, msg)
    assert "pickle" in out["results"][str(files[".safetensors"])]
    assert "safetensors.torch.save_file" in out["results"][str(files[".pt"])]
    assert "load_array" in out["results"][str(files[".npz"])]
    assert "object array" in out["results"][str(files[".npy"]) + "#array"]
    assert "object array" in out["results"][str(files[".npz"]) + "#array"]


# ---------------------------------------------------------------- D4: links and names


def test_symlinked_checkpoint_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "outside.safetensors"
    cr.io.save({"secret": np.ones(2)}, secret)
    run = tmp_path / "run"
    run.mkdir()
    link = run / "weights.safetensors"
    link.symlink_to(secret)
    with pytest.raises(CheckpointError) as e:
        cr.io.load(link)
    assert str(link) in str(e.value) and "symbolic link" in str(e.value)
    assert str(secret) in str(e.value)
    with pytest.raises(CheckpointError, match="symbolic link"):
        cr.io.read_metadata(link)
    assert cr.io.load(link, follow_symlinks=True)["secret"].tolist() == [1.0, 1.0]
    passwd = run / "passwd.safetensors"
    passwd.symlink_to("/etc/passwd")
    with pytest.raises(CheckpointError, match="symbolic link"):
        cr.io.load(passwd)


def test_traversal_names_never_touch_the_filesystem(tmp_path: Path) -> None:
    names = ["../../evil", "/abs/evil", "sub/../../evil", "..", ""]
    p = tmp_path / "c.safetensors"
    cr.io.save({n: np.full(1, i, np.float32) for i, n in enumerate(names)}, p)
    out = cr.io.load(p)
    assert [float(out[n][0]) for n in names] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert sorted(q.name for q in tmp_path.iterdir()) == ["c.safetensors"]
    assert not (tmp_path.parent / "evil").exists()


# ---------------------------------------------------------------- D5: size bombs

BOMB_CHILD = textwrap.dedent(r"""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    import chainrule as cr, chainrule.io, chainrule.data
    kind, path = sys.argv[1], sys.argv[2]
    try:
        if kind == "idx":
            cr.data.read_idx(path)
        else:
            cr.io.load(path)
    except MemoryError:
        print("MEMORYERROR"); sys.exit(3)
    except RecursionError:
        print("RECURSIONERROR"); sys.exit(5)
    except ValueError as e:
        print("OK", type(e).__name__, e); sys.exit(0)
    print("LOADED"); sys.exit(4)
""")


def _bombs(tmp_path: Path) -> list[tuple[str, Path, list[str]]]:
    out = []
    p = tmp_path / "len40.safetensors"
    p.write_bytes(struct.pack("<Q", 1 << 40) + b'{"a":1}' + bytes(100))
    out.append(("ckpt", p, ["1099511627776"]))
    p = tmp_path / "shape.safetensors"
    h = json.dumps({"w": {"dtype": "F32", "shape": [2**31, 2**31], "data_offsets": [0, 64]}})
    p.write_bytes(struct.pack("<Q", len(h)) + h.encode() + bytes(64))
    out.append(("ckpt", p, ["2147483648", "span 64"]))
    p = tmp_path / "offsets.safetensors"
    h = json.dumps({"w": {"dtype": "U8", "shape": [2**40], "data_offsets": [0, 2**40]}})
    p.write_bytes(struct.pack("<Q", len(h)) + h.encode() + bytes(64))
    out.append(("ckpt", p, ["only 64 data bytes"]))
    for name, text in [
        ("bigint", '{"format":"chainrule","format_version":1,"root":' + "9" * 10**6 + "}"),
        (
            "nested",
            '{"format":"chainrule","format_version":1,"root":' + "[" * 10**5 + "]" * 10**5 + "}",
        ),
    ]:
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(stnp.save({}, metadata={"chainrule": text, "chainrule_sha256": "0" * 64}))
        out.append(("ckpt", p, ["digits" if name == "bigint" else "nested too deeply"]))
    p = tmp_path / "bomb-images-idx3-ubyte"
    p.write_bytes(struct.pack(">IIII", 0x803, 2**31, 2**31, 1) + bytes(84))
    out.append(("idx", p, ["declares", "84 bytes are present"]))
    p = tmp_path / "bomb-images-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(struct.pack(">IIII", 0x803, 2**31, 2**31, 1) + bytes(84)))
    out.append(("idx", p, ["cannot hold more than"]))
    p = tmp_path / "huge-idx1-ubyte.gz"  # plausible-size claim; real data runs out
    p.write_bytes(gzip.compress(struct.pack(">II", 0x801, 900_000_000) + bytes(10**6)))
    out.append(("idx", p, ["truncated", "900000000"]))
    return out


def test_size_bombs_fail_cleanly_under_address_space_limit(tmp_path: Path) -> None:
    for kind, path, fragments in _bombs(tmp_path):
        r = subprocess.run(
            [sys.executable, "-c", BOMB_CHILD, kind, str(path)],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, (path.name, r.returncode, r.stdout, r.stderr[-1500:])
        assert path.name in r.stdout, r.stdout
        for frag in fragments:
            assert frag in r.stdout, (path.name, frag, r.stdout)


# ---------------------------------------------------------------- D8: fuzzing


def _valid_checkpoint() -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "seed.safetensors"
        cr.io.save(
            {
                "w": np.arange(6, dtype=np.float32).reshape(2, 3),
                "b": np.zeros(2),
                "opt": {0: {"step": 3}},
                "t": (1.5, "s", None),
                "nan": float("nan"),
            },
            p,
        )
        return p.read_bytes()


SEED = _valid_checkpoint()

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(SEED) - 1), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, len(SEED) - 1), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, len(SEED)), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, len(SEED) - 1), st.integers(1, 16)),
)


def mutate(blob: bytes, muts: list[tuple[str, int, int]]) -> bytes:
    data = bytearray(blob)
    for op, i, v in muts:
        i = min(i, len(data))
        if op == "flip" and i < len(data):
            data[i] ^= v
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = bytes([v])
        elif op == "delete":
            del data[i : i + v]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(muts=st.lists(mutation, min_size=1, max_size=4), raw=st.binary(max_size=64))
def test_fuzz_checkpoint_only_documented_errors(tmp_path_factory, muts, raw) -> None:
    d = tmp_path_factory.mktemp("fuzz")
    for blob in (mutate(SEED, muts), raw, SEED[:8] + raw):
        p = d / "f.safetensors"
        p.write_bytes(blob)
        try:
            out = cr.io.load(p)
        except CheckpointError as e:
            assert str(p) in str(e)
            continue
        if blob is not raw and isinstance(out, dict) and "w" in out:  # loaded => unchanged
            assert out["w"].tobytes() == np.arange(6, dtype=np.float32).tobytes()


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
@given(muts=st.lists(mutation, min_size=1, max_size=8))
def test_fuzz_checkpoint_long(tmp_path_factory, muts) -> None:
    p = tmp_path_factory.mktemp("fuzzl") / "f.safetensors"
    p.write_bytes(mutate(SEED, muts))
    try:
        cr.io.load(p)
    except CheckpointError:
        pass
