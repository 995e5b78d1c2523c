"""The backend contract (``chainrule.backend``): the helpers ops use instead of importing the
array library. The NumPy half runs everywhere; the CuPy half is ``gpu``-marked and runs
where CuPy and a GPU are present (Thinc's ``test_ops_consistency`` idea)."""

from __future__ import annotations

import ast
import inspect
import warnings
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import backend

HELPERS = ["get_array_module", "to_numpy", "scatter_add", "as_strided", "errstate"]
HELPERS += ["sliding_window_view"]


def test_helpers_exist_with_their_signatures():
    expected = {
        "get_array_module": "(*arrays: 'Any') -> 'Any'",
        "to_numpy": "(a: 'Any') -> 'numpy.ndarray'",
        "scatter_add": "(target: 'Any', indices: 'Any', values: 'Any') -> 'None'",
        "as_strided": "(x: 'Any', shape: 'tuple[int, ...]', strides: 'tuple[int, ...]') -> 'Any'",
        "errstate": "(**kwargs: 'Any') -> 'Any'",
        "sliding_window_view": (
            "(x: 'Any', window_shape: 'tuple[int, ...]', axis: 'tuple[int, ...]') -> 'Any'"
        ),
    }
    for name in HELPERS:
        assert name in backend.__all__
        assert str(inspect.signature(getattr(backend, name))) == expected[name], name


def test_get_array_module_is_numpy_on_cpu():
    assert backend.get_array_module(np.ones(2)) is np
    assert backend.get_array_module() is np
    assert backend.get_array_module(1.0, [1, 2], None) is np
    assert backend.get_array_module(cr.ones(2).data) is np


def test_to_numpy_does_not_copy_numpy_arrays():
    a = np.arange(3.0)
    assert backend.to_numpy(a) is a
    assert backend.to_numpy([1, 2]).tolist() == [1, 2]


@pytest.mark.parametrize(
    "shape, index",
    [
        ((5,), np.array([0, 0, 3, 0])),
        ((4, 3), (np.array([0, 1, 1]), np.array([2, 2, 0]))),
        ((4, 3), (slice(None), np.array([1, 1, 0]))),
        ((4, 3), np.array([[0, 1], [1, 1]])),
        ((4, 3), np.array([True, False, True, True])),
    ],
    ids=["repeat", "pair", "slice_array", "array_2d", "bool_mask"],
)
def test_scatter_add_accumulates_repeated_indices(shape, index):
    rng = np.random.default_rng(0)
    target = rng.standard_normal(shape)
    values = rng.standard_normal(target[index].shape)
    expected = target.copy()
    # the reference: add one picked element at a time, through an index table
    ids = np.arange(target.size).reshape(shape)[index]
    for i, v in zip(ids.reshape(-1), values.reshape(-1)):
        expected.reshape(-1)[i] += v
    backend.scatter_add(target, index, values)
    np.testing.assert_allclose(target, expected, rtol=1e-12)


def test_as_strided_is_a_read_only_view():
    x = np.arange(6.0)
    w = backend.as_strided(x, (4, 3), (8, 8))  # overlapping windows of 3
    assert np.shares_memory(w, x)
    np.testing.assert_array_equal(w[1], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="read-only"):
        w[0, 0] = 1.0


def test_sliding_window_view():
    x = np.arange(12.0).reshape(3, 4)
    w = backend.sliding_window_view(x, (2, 2), axis=(0, 1))
    assert w.shape == (2, 3, 2, 2)
    np.testing.assert_array_equal(w[1, 2], x[1:3, 2:4])
    assert not w.flags.writeable


def test_errstate_silences_exactly_what_it_names():
    with backend.errstate(divide="ignore"):
        assert np.log(np.zeros(1))[0] == -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="divide by zero"):
            np.log(np.zeros(1))
        with backend.errstate(divide="ignore"), pytest.raises(RuntimeWarning, match="invalid"):
            np.zeros(1) / np.zeros(1)


def test_forward_and_backward_receive_backend_arrays():
    seen = []

    class Probe(cr.Function):
        @staticmethod
        def forward(ctx, x, k):
            seen.append((type(x), type(k)))
            return x * k

        @staticmethod
        def backward(ctx, g):
            seen.append((type(g),))
            return g * 2, None

    x = cr.tensor([1.0], requires_grad=True)
    Probe.apply(x, 2).sum().backward()
    assert seen == [(np.ndarray, int), (np.ndarray,)]
    assert isinstance(x.data, np.ndarray) and isinstance(x.grad.data, np.ndarray)


ENGINE_OPS = ["arithmetic", "elementwise", "reduction", "shape", "indexing", "linalg"]
ENGINE_OPS += ["_broadcast"]


@pytest.mark.parametrize("name", ENGINE_OPS)
def test_engine_ops_reach_numpy_only_through_the_backend(name):
    """Op code never imports NumPy itself (so CuPy can be dropped in via backend.py)."""
    path = Path(cr.__file__).parent / "ops" / f"{name}.py"
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] in ("numpy", "cupy") for a in node.names), name
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in ("numpy", "cupy"), f"{name}: {node.module}"


# ---- the CuPy half ----
@pytest.mark.gpu
@pytest.mark.skipif(not backend.cupy_available, reason="CuPy is not installed (CPU machine)")
def test_cupy_helpers_match_numpy():  # pragma: no cover - needs a GPU
    cp = backend.cupy
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3))
    g = cp.asarray(a)
    assert backend.get_array_module(g) is cp and backend.get_array_module(a, g) is cp
    np.testing.assert_array_equal(backend.to_numpy(g), a)
    idx = (np.array([0, 1, 1]), np.array([2, 2, 0]))
    vals = rng.standard_normal(3)
    t_np, t_cp = a.copy(), g.copy()
    backend.scatter_add(t_np, idx, vals)
    backend.scatter_add(t_cp, tuple(cp.asarray(i) for i in idx), cp.asarray(vals))
    np.testing.assert_allclose(backend.to_numpy(t_cp), t_np, rtol=1e-12)
    w = backend.sliding_window_view(g, (2, 2), axis=(0, 1))
    np.testing.assert_array_equal(
        backend.to_numpy(w), np.lib.stride_tricks.sliding_window_view(a, (2, 2))
    )
