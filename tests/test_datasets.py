"""The bundled digits, the synthetic sets, the real Fashion-MNIST files and packaging."""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.data.datasets.digits import bundled_path

REPO = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")


# ---------------------------------------------------------------- digits


def test_digits_layout_and_split() -> None:
    (x, y), (xt, yt) = cr.data.digits()
    assert x.shape == (1442, 1, 8, 8) and xt.shape == (355, 1, 8, 8)
    assert x.dtype == xt.dtype == np.float32 and y.dtype == yt.dtype == np.int64
    assert 0.0 == x.min() and x.max() == 1.0 and set(np.unique(y)) == set(range(10))
    assert np.all(x * 16 == np.round(x * 16))  # pixels were 0..16
    counts = np.bincount(np.concatenate([y, yt]))
    assert counts.sum() == 1797
    # stratified: each class's test share is floor(0.2 n_c) or one more
    tc = np.bincount(yt, minlength=10)
    assert np.all((tc == np.floor(0.2 * counts)) | (tc == np.floor(0.2 * counts) + 1))


def test_digits_matches_an_independent_parse_of_scikit_learns_copy() -> None:
    import csv
    import gzip
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # located, not imported (slow)
    if spec is None or spec.origin is None:
        pytest.skip("scikit-learn not installed: no reference copy of the digits file")
    ref_file = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(ref_file, "rt") as f:
        theirs = np.array([[float(v) for v in row] for row in csv.reader(f)], dtype=np.float32)
    (x, y), (xt, yt) = cr.data.digits(flatten=True)
    ours = np.concatenate([np.concatenate([x, xt]) * 16, np.concatenate([y, yt])[:, None]], 1)
    order = lambda a: a[np.lexsort(a.T[::-1])]  # noqa: E731
    assert theirs.shape == (1797, 65)
    np.testing.assert_array_equal(order(ours), order(theirs))


def test_digits_split_is_fixed_and_independent_of_global_seeds() -> None:
    cr.manual_seed(1)
    np.random.seed(1)
    (a, ya), _ = cr.data.digits()
    cr.manual_seed(2)
    np.random.seed(2)
    (b, yb), _ = cr.data.digits()
    assert a.tobytes() == b.tobytes() and ya.tobytes() == yb.tobytes()
    (c, _), _ = cr.data.digits(seed=1)
    assert c.tobytes() != a.tobytes()
    (f, _), (ft, _) = cr.data.digits(test_fraction=0.5, flatten=True)
    assert f.shape[1] == 64 and abs(len(ft) - 1797 / 2) < 10
    a[0, 0, 0, 0] = 5.0  # the returned arrays are the caller's to modify
    assert cr.data.digits()[0][0][0, 0, 0, 0] != 5.0


def test_digits_loads_without_sklearn_and_matches_attribution() -> None:
    code = (
        "import sys; import chainrule.data as d; (x, y), _ = d.digits(); "
        "assert 'sklearn' not in sys.modules, 'sklearn imported'; print(len(x))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "1442", r.stderr
    digest = hashlib.sha256(bundled_path().read_bytes()).hexdigest()
    attribution = (bundled_path().parent / "ATTRIBUTION.md").read_text()
    assert digest in attribution
    for frag in ["CC BY 4.0", "10.24432/C50P49", "Alpaydin", "Kaynak"]:
        assert frag in attribution


@pytest.mark.slow
def test_wheel_ships_the_bundled_data(tmp_path: Path) -> None:
    import shutil

    src = tmp_path / "src-copy"  # build from a copy: never write build/ into the shared tree
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src", src / "src", ignore=skip)
    for f in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / f).exists():
            shutil.copy(REPO / f, src / f)
    out = tmp_path / "wheels"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "-w",
            str(out),
            "--no-deps",
            "--no-build-isolation",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = out.glob("chainrule-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for f in ["digits.csv.gz", "ATTRIBUTION.md"]:
        assert f"chainrule/data/datasets/_bundled/{f}" in names, names


# ---------------------------------------------------------------- synthetic


GATES = {
    "and": lambda a, b: a and b,
    "or": lambda a, b: a or b,
    "xor": lambda a, b: a != b,
    "nand": lambda a, b: not (a and b),
    "nor": lambda a, b: not (a or b),
    "xnor": lambda a, b: a == b,
}


@pytest.mark.parametrize("kind", ["and", "or", "xor", "nand", "nor", "XNOR"])
def test_logic_gates(kind) -> None:
    x, y = cr.data.logic_gates(kind)
    assert x.dtype == y.dtype == np.float32 and x.shape == (4, 2) and y.shape == (4, 1)
    assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    truth = [float(GATES[kind.lower()](bool(a), bool(b))) for a, b in x]
    assert y.ravel().tolist() == truth
    with pytest.raises(ValueError, match="unknown gate 'xand'"):
        cr.data.logic_gates("xand")


def test_two_spirals_geometry_and_determinism() -> None:
    x, y = cr.data.two_spirals(200, noise=0.0, seed=0)
    assert x.shape == (200, 2) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100, 100]
    r = np.hypot(x[:, 0], x[:, 1]).astype(np.float64)
    theta = 2 * math.pi * 1.5 * r + math.pi * y
    np.testing.assert_allclose(x[:, 0], r * np.cos(theta), atol=1e-5)
    np.testing.assert_allclose(x[:, 1], r * np.sin(theta), atol=1e-5)
    a = cr.data.two_spirals(50, noise=0.1, seed=3)
    b = cr.data.two_spirals(50, noise=0.1, seed=3)
    c = cr.data.two_spirals(50, noise=0.1, seed=4)
    assert a[0].tobytes() == b[0].tobytes() and a[0].tobytes() != c[0].tobytes()
    cr.manual_seed(5)
    d = cr.data.two_spirals(50, seed=None)
    cr.manual_seed(5)
    assert cr.data.two_spirals(50, seed=None)[0].tobytes() == d[0].tobytes()
    with pytest.raises(ValueError, match="noise must be a number >= 0"):
        cr.data.two_spirals(10, noise=-1)


def test_noisy_sine_and_regression() -> None:
    x, y = cr.data.noisy_sine(64, noise=0.0, seed=0)
    assert x.shape == y.shape == (64, 1) and np.all(np.diff(x[:, 0]) >= 0)
    np.testing.assert_allclose(y, np.sin(x.astype(np.float64)), atol=1e-6)
    xn, yn = cr.data.noisy_sine(4000, noise=0.1, seed=0)
    resid = yn[:, 0] - np.sin(xn[:, 0].astype(np.float64))
    assert abs(resid.std() - 0.1) < 0.01 and abs(resid.mean()) < 0.01
    x, y, w = cr.data.make_regression(300, 4, noise=0.0, bias=1.5, seed=2, coef=True)
    assert x.shape == (300, 4) and y.shape == (300, 1) and w.shape == (4, 1)
    np.testing.assert_allclose(x.astype(np.float64) @ w + 1.5, y, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="low < high"):
        cr.data.noisy_sine(5, low=1.0, high=0.0)


# ---------------------------------------------------------------- the real Fashion-MNIST

needs_fashion = pytest.mark.skipif(
    not (FASHION / "train-images-idx3-ubyte.gz").exists(),
    reason=f"Fashion-MNIST not installed in {FASHION} (apt-get install dataset-fashion-mnist)",
)


@needs_fashion
def test_real_fashion_mnist(monkeypatch) -> None:
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    t = time.perf_counter()
    (x, y), (xt, yt) = cr.data.fashion_mnist()
    seconds = time.perf_counter() - t
    print(f"\nfashion_mnist() loaded in {seconds:.2f} s")
    assert x.shape == (60000, 1, 28, 28) and xt.shape == (10000, 1, 28, 28)
    assert x.dtype == np.float32 and y.dtype == yt.dtype == np.int64
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(yt).tolist() == [1000] * 10
    assert x.min() == 0.0 and x.max() == 1.0
    assert seconds < 30  # generous: the shared 2-core machine is noisy; typically ~0.5-1 s
    if os.environ.get("CHAINRULE_DATA") is None:
        rows = {r.name: r for r in cr.data.available()}
        assert rows["fashion_mnist"].available


def test_fashion_mnist_class_names_are_defined_once():
    from chainrule.cli.config import DATASETS

    names = cr.data.FASHION_MNIST_CLASSES
    assert len(set(names)) == 10 and names[0] == "T-shirt/top" and names[9] == "Ankle boot"
    assert DATASETS["fashion-mnist"].classes is names
