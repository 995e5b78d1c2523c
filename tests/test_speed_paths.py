"""The fast paths of the speed issue keep the plain formulas' results.

Each fast path lives next to its plain formula in ``src/``; these tests pin down the cases
where the two could differ (non-finite upstream gradients, buffer ownership of gradients,
in-place optimizer updates) and the process-wide allocator setting of ``chainrule.backend``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import chainrule as cr


def _glibc_linux() -> bool:
    try:
        return sys.platform.startswith("linux") and "glibc" in os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError, TypeError):
        return False


_GLIBC_LINUX = _glibc_linux()


def _malloc_tuning(env: dict[str, str]) -> dict:
    code = "import json, chainrule.backend as b; print(json.dumps(b.malloc_tuning))"
    full = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    full.pop("GLIBC_TUNABLES", None)
    full.pop("CHAINRULE_MALLOC_TUNING", None)
    full.update(env)
    out = subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


# ---- Note [malloc tuning] ----
@pytest.mark.skipif(not _GLIBC_LINUX, reason="mallopt tuning applies to Linux with glibc only")
def test_malloc_tuning_applied_on_glibc():
    info = _malloc_tuning({})
    assert info["applied"] is True
    assert info["mmap_threshold"] >= 32 << 20
    assert info["trim_threshold"] == cr.backend.MALLOC_TRIM_THRESHOLD


@pytest.mark.parametrize("value", ["0", "off", "false"])
def test_malloc_tuning_can_be_turned_off(value):
    info = _malloc_tuning({"CHAINRULE_MALLOC_TUNING": value})
    assert info == {"applied": False, "reason": "CHAINRULE_MALLOC_TUNING=0"}


@pytest.mark.skipif(not _GLIBC_LINUX, reason="mallopt tuning applies to Linux with glibc only")
def test_malloc_tuning_leaves_user_settings_alone():
    info = _malloc_tuning({"MALLOC_TRIM_THRESHOLD_": str(1 << 20)})
    assert info["applied"] is False
    assert "MALLOC_TRIM_THRESHOLD_" in info["reason"]


# ---- ReLU backward: a product with the mask, `where` for non-finite upstream gradients ----
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "upstream",
    [
        [0.5, -2.0, 3.0, 1.5, 4.0],
        [np.inf, np.nan, -np.inf, np.nan, 2.0],  # blocked positions must give exact zeros
    ],
)
def test_relu_backward_matches_torch_bitwise(dtype, upstream):
    x = np.array([-1.0, 0.0, 2.0, np.nan, -0.0], dtype)
    g = np.array(upstream, dtype)
    cx = cr.tensor(x, requires_grad=True)
    cr.relu(cx).backward(g)
    tx = torch.tensor(x, requires_grad=True)
    torch.relu(tx).backward(torch.tensor(g))
    np.testing.assert_array_equal(cx.grad.data, tx.grad.numpy())
    assert cx.grad.data.dtype == dtype
