"""The public API imports, and every ``>>>`` example in ``src/chainrule`` runs (doctest).

The doctests are collected here, one test per module, rather than with
``--doctest-modules``, so ``make test`` needs no extra option and a failing example is
reported under the module that holds it.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
from pathlib import Path

import pytest

import chainrule as cr

SRC = Path(cr.__file__).resolve().parent


def _module_names() -> list[str]:
    names = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__main__":  # importing it would run the CLI
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


MODULES = _module_names()


def test_all_names_import():
    missing = [n for n in cr.__all__ if not hasattr(cr, n)]
    assert not missing, f"chainrule.__all__ names that do not resolve: {missing}"
    assert len(set(cr.__all__)) == len(cr.__all__), "duplicates in chainrule.__all__"


LAZY = [pytest.param(n, f"chainrule.{n}", id=n) for n in sorted(cr._LAZY_MODULES)]
LAZY += [pytest.param(n, m, id=n) for n, (m, _) in sorted(cr._LAZY_NAMES.items())]


@pytest.mark.parametrize("name, module", LAZY)
def test_lazy_names_and_subpackages_resolve(name, module):
    obj = getattr(cr, name)
    assert inspect.ismodule(obj) if name in cr._LAZY_MODULES else obj is not None


def test_all_lists_the_lazy_names_and_dir_shows_them():
    """``from chainrule import *`` and ``dir(chainrule)`` give every public name, the
    lazily loaded sub-packages (``optim``, ``data``...) and functions (``save``, ``Model``)
    included."""
    lazy = set(cr._LAZY_MODULES) | set(cr._LAZY_NAMES)
    assert lazy | {"summary", "nn"} <= set(cr.__all__)
    assert lazy | {"summary", "Tensor"} <= set(dir(cr))
    namespace: dict = {}
    exec("from chainrule import *", namespace)
    assert namespace["save"] is cr.io.save and namespace["Model"] is cr.models.Model
    assert namespace["summary"] is cr.summary and namespace["optim"] is cr.optim


def test_unknown_attribute_errors():
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        cr.no_such_name  # noqa: B018


def test_nn_names_import():
    for mod in (cr.nn, cr.nn.functional, cr.nn.init):
        names = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
        missing = [n for n in names if not hasattr(mod, n)]
        assert not missing, f"{mod.__name__}: {missing}"
    for name in ("Module", "Parameter", "Linear", "Sequential", "ModuleList", "Flatten"):
        assert inspect.isclass(getattr(cr.nn, name)), name
    for name in ("softmax", "log_softmax", "relu", "sigmoid", "tanh", "linear", "pad"):
        assert callable(getattr(cr.nn.functional, name)), name


def test_nn_all_lists_every_layer_and_function():
    """``chainrule.nn.__all__`` and ``chainrule.nn.functional.__all__`` are built from the family
    files' lists; a family star-imported without being added there would be missed."""
    import types

    for mod in (cr.nn, cr.nn.functional):
        public = {
            n
            for n in dir(mod)
            if not n.startswith("_") and not isinstance(getattr(mod, n), types.ModuleType)
        }
        assert public <= set(mod.__all__), (mod.__name__, sorted(public - set(mod.__all__)))
        assert len(set(mod.__all__)) == len(mod.__all__)


def test_engine_functions_exist_as_function_and_method():
    """Names the issue lists as both ``chainrule.<name>`` and a Tensor method."""
    both = ["exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "clip", "clamp"]
    both += ["maximum", "minimum", "sign", "sum", "mean", "max", "min", "var", "std"]
    both += ["logsumexp", "argmax", "argmin", "reshape", "transpose", "permute", "flatten"]
    both += ["squeeze", "unsqueeze", "expand", "broadcast_to", "split", "chunk", "matmul"]
    both += ["softmax", "log_softmax", "add", "sub", "mul", "div", "pow", "neg"]
    for name in both:
        assert callable(getattr(cr, name)), f"chainrule.{name}"
        assert callable(getattr(cr.Tensor, name)), f"Tensor.{name}"
    for name in ("concat", "cat", "stack", "where", "narrow", "gradcheck", "no_grad", "tensor"):
        assert callable(getattr(cr, name)), f"chainrule.{name}"


def test_every_module_imports():
    failed = {}
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception as e:  # report them all at once
            failed[name] = repr(e)
    assert not failed, failed


def test_modules_define_valid_all():
    bad = {}
    for name in MODULES:
        mod = importlib.import_module(name)
        for n in getattr(mod, "__all__", []):
            if not hasattr(mod, n):
                bad.setdefault(name, []).append(n)
    assert not bad, f"__all__ names missing from their module: {bad}"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    mod = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    tests = [t for t in finder.find(mod, name) if t.examples]  # globals: the module's own
    out: list[str] = []
    for t in tests:
        if t.name.split(".")[0] != "chainrule":
            continue
        cr.manual_seed(0)
        runner.run(t, out=out.append)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, "".join(out)
