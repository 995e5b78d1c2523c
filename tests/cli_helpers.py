"""Running the real ``chainrule`` console script in subprocesses (tests/test_cli*.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import chainrule as cr

_SCRIPT = Path(sys.executable).parent / "chainrule"
#: the installed console script (pyproject's [project.scripts]); ``python -m chainrule``
#: only where the package was installed without scripts
COMMAND = (
    [str(_SCRIPT)]
    if _SCRIPT.exists()
    else (
        [shutil.which("chainrule")]
        if shutil.which("chainrule")
        else [sys.executable, "-m", "chainrule"]
    )
)

#: a tiny run: 180 training, 20 validation, 60 test digits, 1 epoch of 6 steps
TINY = ["--set", "data.train_samples=200", "--set", "data.test_samples=60", "--epochs", "1"]


def env(**extra: str) -> dict[str, str]:
    e = dict(os.environ)
    e.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "COLUMNS": "120"})
    e.pop("PYTHONWARNINGS", None)
    e.update(extra)
    return e


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def cli(
    *args: str | os.PathLike, cwd: str | os.PathLike, timeout: float = 300, **extra_env: str
) -> Result:
    """Run ``chainrule *args`` and return its exit code, stdout and stderr."""
    p = subprocess.run(
        [*COMMAND, *map(str, args)],
        cwd=cwd,
        env=env(**extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(p.returncode, p.stdout, p.stderr)


def _default_sigint() -> None:
    """In the child before exec: Ctrl-C's default action. A shell starts background jobs
    (`make test &`, nohup) with SIGINT ignored, which children inherit; Python then installs
    no KeyboardInterrupt handler, and the CLI rightly leaves an ignored SIGINT alone."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen(*args: str | os.PathLike, cwd: str | os.PathLike, **extra_env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*COMMAND, *map(str, args)],
        cwd=cwd,
        env=env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def assert_one_line_error(r: Result, *fragments: str) -> str:
    """Exit code 2, exactly one line on stderr containing every fragment, no traceback."""
    assert r.rc == 2, (r.rc, r.out, r.err)
    assert len(r.err_lines) == 1, r.err
    line = r.err_lines[0]
    assert "Traceback" not in r.err and line.startswith("chainrule"), line
    for f in fragments:
        assert f in line, (f, line)
    return line


def weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    return cr.io.load(path)
