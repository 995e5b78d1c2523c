"""Every code block of README.md runs (issue 7), and its links resolve.

Blocks are run in order, in one scratch folder holding a copy of ``configs/`` (so a block can
use what an earlier one made, as a reader would), with the virtual environment's ``bin`` first
on ``PATH`` so ``chainrule`` is the installed console script:

- ``python`` blocks run with this interpreter, for real;
- ``sh``/``bash``/``console`` blocks run with ``bash -e -o pipefail``;
- ``toml`` blocks are run configurations: they must resolve (``chainrule.cli.config``).

A block can carry a marker on the line just before its opening fence:
``<!-- readme-test: skip (reason) -->``: never run, for commands that install system
packages, run the test suite itself or train for minutes; the reason is required.

Any other language is an error, so a new block cannot go untested by accident.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from chainrule.cli.config import _toml_module, resolve_config

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_FENCE = re.compile(r"^```([\w-]*)\s*$")
_MARKER = re.compile(r"^<!--\s*readme-test:\s*(skip)\s*(\((.+)\))?\s*-->\s*$")
SHELL = {"sh", "bash", "shell", "console"}


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: str | None  # None or "skip"
    reason: str | None

    @property
    def name(self) -> str:
        return f"README.md:{self.line} ({self.lang})"


def blocks(text: str | None = None) -> list[Block]:
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1).lower()
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if j == len(lines):
            raise ValueError(f"README.md:{start + 1}: unclosed code block")
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mk = _MARKER.match(lines[k]) if k >= 0 else None
        out.append(
            Block(
                start + 1,
                lang,
                "\n".join(lines[start + 1 : j]) + "\n",
                mk.group(1) if mk else None,
                mk.group(3) if mk else None,
            )
        )
        i = j + 1
    return out


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
    return env


def _workdir(tmp_path: Path) -> Path:
    work = tmp_path / "readme"
    work.mkdir()
    shutil.copytree(ROOT / "configs", work / "configs")
    return work


def run_block(block: Block, cwd: Path, timeout: float = 600) -> None:
    if block.lang == "python":
        cmd = [sys.executable, "-c", block.code]
    elif block.lang in SHELL:
        cmd = ["bash", "-e", "-o", "pipefail", "-c", block.code]
    elif block.lang == "toml":
        resolve_config(_toml_module().loads(block.code))
        return
    else:
        raise AssertionError(
            f"{block.name}: no runner for {block.lang!r} blocks; use python, "
            "sh or toml, or mark the block (see tests/test_readme.py)"
        )
    p = subprocess.run(
        cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert p.returncode == 0, (
        f"{block.name} failed with exit code {p.returncode}\n"
        f"--- code\n{block.code}--- stdout\n{p.stdout[-3000:]}"
        f"--- stderr\n{p.stderr[-3000:]}"
    )


# ---- the README's shape ----
def test_quickstart_is_make_demo_and_make_test() -> None:
    first = blocks()[0]
    assert first.lang == "sh" and first.code == "make demo\nmake test\n"
    assert first.marker == "skip" and first.reason


def test_markers_are_explicit_and_languages_known() -> None:
    for b in blocks():
        assert b.lang in SHELL | {"python", "toml"}, f"{b.name}: unknown language"
        if b.marker == "skip":
            assert b.reason and len(b.reason) > 10, f"{b.name}: a skip needs its reason"
    assert sum(b.lang == "python" and b.marker is None for b in blocks()) >= 2


def test_relative_links_resolve() -> None:
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [u for u in links if not re.match(r"[a-z]+://", u)]
    assert local, "no links found"
    missing = [u for u in local if not (ROOT / u).exists()]
    assert not missing, f"README links to missing files: {missing}"
    anchors = re.findall(r"\]\(#([^)]+)\)", text)
    heads = {
        re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", text, re.M)
    }
    assert set(anchors) <= heads, set(anchors) - heads


def test_parser_sees_markers() -> None:
    text = (
        "x\n<!-- readme-test: skip (because of reasons) -->\n```sh\nmake x\n```\n\n```python\n"
        "print(1)\n```\n"
    )
    b = blocks(text)
    assert [(x.lang, x.marker, x.reason, x.code) for x in b] == [
        ("sh", "skip", "because of reasons", "make x\n"),
        ("python", None, None, "print(1)\n"),
    ]


# ---- running them ----
def test_readme_code_blocks_run(tmp_path: Path) -> None:
    """Every unmarked block, in order, in one scratch folder."""
    work = _workdir(tmp_path)
    ran = 0
    for b in blocks():
        if b.marker is None:
            run_block(b, work)
            ran += 1
    assert ran >= 6
    assert (work / "history.png").is_file()  # the Keras example's plot
    assert (work / "runs" / "sgd" / "plots" / "confusion_matrix.png").is_file()


@pytest.mark.slow
def test_make_demo(tmp_path: Path) -> None:
    """The quickstart's ``make demo``, as a newcomer runs it (in the repository: it leaves a
    run folder there, which this test removes again, and only that one)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    p = subprocess.run(
        ["make", "-s", "demo"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    m = re.search(r"^Run folder: (runs/digits-cnn-[\w-]+)$", p.stdout, re.M)
    assert m, p.stdout
    run = ROOT / m.group(1)
    try:
        acc = re.search(r"^Test accuracy: ([\d.]+)%", p.stdout, re.M)
        assert acc and float(acc.group(1)) >= 97.0, p.stdout
        for name in ("loss.png", "accuracy.png", "confusion_matrix.png", "samples.png"):
            assert (run / "plots" / name).stat().st_size > 10_000, name
    finally:
        if run.parent == ROOT / "runs" and run.name.startswith("digits-cnn-"):
            shutil.rmtree(run)
