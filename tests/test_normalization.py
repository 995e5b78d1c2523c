"""BatchNorm1d/2d and LayerNorm (ops and layers) against PyTorch and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as F
from harness import assert_close, module_gradcheck, module_parity
from op_db_pool import cnhw
from opinfo import (
    ErrorInput,
    OpInfo,
    SampleInput,
    generic_op_tests,
)

DTYPES = [np.float32, np.float64]


def _r(rng, *shape):
    return rng.standard_normal(shape)


def _var(rng, c):
    return np.abs(rng.standard_normal(c)) + 0.5


def batch_norm_samples(rng):
    S = SampleInput
    yield S("train_2d_affine", _r(rng, 6, 3), None, None, _r(rng, 3), _r(rng, 3), True)
    yield S("train_3d", _r(rng, 4, 3, 5), None, None, _r(rng, 3), _r(rng, 3), True)
    yield S("train_4d", _r(rng, 3, 2, 4, 5) * 3 + 1, None, None, _r(rng, 2), _r(rng, 2), True)
    yield S("train_4d_cnhw", cnhw(_r(rng, 3, 4, 3, 3)), None, None, _r(rng, 4), _r(rng, 4), True)
    yield S("train_no_affine", _r(rng, 3, 2, 3, 3), None, None, None, None, True)
    yield S("train_weight_only", _r(rng, 5, 2, 3), None, None, _r(rng, 2), None, True)
    yield S(
        "train_running_stats",
        _r(rng, 4, 3, 2, 2),
        _r(rng, 3),
        _var(rng, 3),
        _r(rng, 3),
        _r(rng, 3),
        True,
        0.3,
        grad_inputs=(0, 3, 4),
    )
    yield S(
        "eval_running_stats",
        _r(rng, 4, 3, 2, 2),
        _r(rng, 3),
        _var(rng, 3),
        _r(rng, 3),
        _r(rng, 3),
        False,
        grad_inputs=(0, 3, 4),
    )
    yield S(
        "eval_cnhw_no_affine",
        cnhw(_r(rng, 3, 2, 3, 2)),
        _r(rng, 2),
        _var(rng, 2),
        None,
        None,
        False,
        grad_inputs=(0,),
    )
    yield S(
        "eval_2d",
        _r(rng, 5, 3),
        _r(rng, 3),
        _var(rng, 3),
        _r(rng, 3),
        _r(rng, 3),
        False,
        eps=1e-3,
        grad_inputs=(0, 3, 4),
    )


def batch_norm_errors():
    S = SampleInput
    z = np.zeros
    yield ErrorInput(
        S("weight_shape", z((2, 3, 4)), None, None, z(4), None, True),
        ValueError,
        r"weight should have shape \(3,\)",
    )
    yield ErrorInput(
        S("one_value", z((1, 3)), None, None, None, None, True),
        ValueError,
        "more than 1 value per channel",
    )
    yield ErrorInput(S("rank1", z(3), None, None), ValueError, "channel axis")
    yield ErrorInput(
        S("eval_without_stats", z((2, 3)), None, None),
        ValueError,
        "must be given in evaluation mode",
    )


def layer_norm_samples(rng):
    S = SampleInput
    yield S("last", _r(rng, 3, 5), (5,), _r(rng, 5), _r(rng, 5))
    yield S("last_two", _r(rng, 2, 3, 4) * 2 + 1, (3, 4), _r(rng, 3, 4), _r(rng, 3, 4))
    yield S("no_affine", _r(rng, 2, 2, 5), (5,), None, None)
    yield S("weight_only_eps", _r(rng, 3, 4), (4,), _r(rng, 4), None, eps=1e-2)
    yield S("noncontiguous", _r(rng, 5, 4).T, (5,), _r(rng, 5), _r(rng, 5))


def layer_norm_errors():
    S = SampleInput
    yield ErrorInput(S("shape", np.zeros((3, 5)), (4,)), ValueError, "normalized_shape")
    yield ErrorInput(
        S("weight", np.zeros((3, 5)), (5,), np.zeros(4)),
        ValueError,
        r"weight should have shape \(5,\)",
    )


OPS = [
    OpInfo("batch_norm", F.batch_norm, TF.batch_norm, batch_norm_samples, batch_norm_errors),
    OpInfo("layer_norm", F.layer_norm, TF.layer_norm, layer_norm_samples, layer_norm_errors),
]


test_forward, test_vjp, test_gradcheck, test_errors = generic_op_tests(OPS)


# ---- layers ----
MODULES = [
    ("BatchNorm1d", (3,), {}, (6, 3), True),
    ("BatchNorm1d", (3,), {"affine": False}, (4, 3, 5), True),
    ("BatchNorm2d", (2,), {}, (3, 2, 4, 4), True),
    ("BatchNorm2d", (2,), {"momentum": None}, (3, 2, 4, 4), True),
    ("BatchNorm2d", (2,), {"track_running_stats": False}, (3, 2, 3, 3), True),
    ("BatchNorm2d", (2,), {"bias": False}, (3, 2, 3, 3), True),
    ("BatchNorm2d", (2,), {}, (3, 2, 4, 4), False),
    ("BatchNorm2d", (2,), {"track_running_stats": False}, (3, 2, 3, 3), False),
    ("LayerNorm", (5,), {}, (3, 5), True),
    ("LayerNorm", ((3, 4),), {"elementwise_affine": False}, (2, 3, 4), True),
    ("LayerNorm", (4,), {"bias": False}, (2, 3, 4), True),
]
IDS = [f"{m[0]}-{i}-{'train' if m[4] else 'eval'}" for i, m in enumerate(MODULES)]


def _randomise(tmod, seed=0):
    """Non-trivial parameters and running statistics in the torch module."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in tmod.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
        if getattr(tmod, "running_mean", None) is not None:
            tmod.running_mean.copy_(torch.randn(tmod.running_mean.shape, generator=g))
            tmod.running_var.copy_(torch.rand(tmod.running_var.shape, generator=g) + 0.5)
            tmod.num_batches_tracked.fill_(3)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name, args, kwargs, shape, train", MODULES, ids=IDS)
def test_module_parity(name, args, kwargs, shape, train, dtype):
    tmod = getattr(torch.nn, name)(*args, **kwargs)
    _randomise(tmod)
    x = np.random.default_rng(0).standard_normal(shape) * 2 + 0.5
    module_parity(getattr(cr.nn, name)(*args, **kwargs), tmod, [x], dtype=dtype, train=train)


@pytest.mark.parametrize("name, args, kwargs, shape, train", MODULES, ids=IDS)
def test_module_gradcheck(name, args, kwargs, shape, train):
    mod = getattr(cr.nn, name)(*args, **kwargs)
    tmod = getattr(torch.nn, name)(*args, **kwargs)
    _randomise(tmod)
    mod.load_state_dict({k: v.numpy() for k, v in tmod.state_dict().items()})
    mod.train(train)
    if train and getattr(mod, "momentum", 0) is not None:
        mod.momentum = 0.0  # finite differences call forward many times: freeze the stats
    x = np.random.default_rng(1).standard_normal(shape)
    module_gradcheck(mod, [x])


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_running_statistics_follow_pytorch_over_steps(momentum):
    """Running mean/var (unbiased) and num_batches_tracked after several training steps, then
    the eval output, agree with PyTorch; momentum=None is the cumulative average."""
    rng = np.random.default_rng(0)
    bn = cr.nn.BatchNorm2d(3, momentum=momentum)
    tbn = torch.nn.BatchNorm2d(3, momentum=momentum)
    for step in range(5):
        x = (rng.standard_normal((4, 3, 5, 5)) * (step + 1) + step).astype(np.float32)
        y = bn(cr.tensor(x, requires_grad=True))
        ty = tbn(torch.tensor(x, requires_grad=True))
        assert_close(y, ty, what=f"train output, step {step}")
        assert_close(bn.running_mean, tbn.running_mean, what=f"running_mean, step {step}")
        assert_close(bn.running_var, tbn.running_var, what=f"running_var, step {step}")
        assert int(bn.num_batches_tracked.item()) == int(tbn.num_batches_tracked) == step + 1
    bn.eval()
    tbn.eval()
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    assert_close(bn(cr.tensor(x)), tbn(torch.tensor(x)), what="eval output")
    before = bn.running_mean.numpy().copy()
    bn(cr.tensor(x))
    np.testing.assert_array_equal(bn.running_mean.numpy(), before)  # eval never updates


def test_cumulative_average_is_the_mean_of_batch_means():
    bn = cr.nn.BatchNorm1d(2, momentum=None)
    rng = np.random.default_rng(1)
    means = []
    for _ in range(4):
        x = rng.standard_normal((8, 2)).astype(np.float32) + 3
        means.append(x.mean(axis=0))
        bn(cr.tensor(x))
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean(means, axis=0), rtol=1e-5)


def test_batch_norm_normalises_each_channel():
    x = cr.randn(16, 4, 3, 3) * 5 + 2
    y = cr.nn.BatchNorm2d(4)(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-3)


def test_state_dict_loads_strictly_from_pytorch_and_back():
    tbn = torch.nn.BatchNorm2d(3)
    _randomise(tbn)
    bn = cr.nn.BatchNorm2d(3)
    bn.load_state_dict({k: v.numpy() for k, v in tbn.state_dict().items()})  # strict
    assert int(bn.num_batches_tracked.item()) == 3
    assert bn.num_batches_tracked.dtype == np.int64
    t2 = torch.nn.BatchNorm2d(3)
    t2.load_state_dict(
        {k: torch.from_numpy(np.array(v.numpy())) for k, v in bn.state_dict().items()}
    )
    assert list(bn.state_dict()) == list(tbn.state_dict())


def test_layer_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\).*3 channels.*got 4"):
        cr.nn.BatchNorm2d(3)(cr.zeros(2, 4, 3, 3))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\).*4-D input"):
        cr.nn.BatchNorm2d(3)(cr.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="2-D or 3-D"):
        cr.nn.BatchNorm1d(3)(cr.zeros(2, 3, 3, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        cr.nn.BatchNorm1d(3)(cr.zeros(1, 3))
    with pytest.raises(ValueError, match=r"LayerNorm\(\(4,\)\).*\(4,\)"):
        cr.nn.LayerNorm(4)(cr.zeros(2, 5))


@pytest.mark.parametrize(
    "name, args, kwargs",
    [
        ("BatchNorm2d", (3,), {}),
        ("BatchNorm1d", (3,), {"affine": False, "momentum": None}),
        ("LayerNorm", ((2, 3),), {"bias": False}),
        ("BatchNorm2d", (4,), {"bias": False}),
    ],
)
def test_repr_matches_pytorch(name, args, kwargs):
    assert repr(getattr(cr.nn, name)(*args, **kwargs)) == repr(
        getattr(torch.nn, name)(*args, **kwargs)
    )


def test_float32_stays_float32_and_keeps_layout():
    x = cr.Tensor(
        cnhw(np.random.default_rng(0).standard_normal((4, 3, 5, 5)).astype(np.float32)),
        requires_grad=True,
    )
    y = cr.nn.BatchNorm2d(3)(x)
    assert y.dtype == np.float32
    assert y.data.transpose(1, 0, 2, 3).flags.c_contiguous
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 5), (0, 3, 4, 4)])
def test_eval_on_an_empty_batch_gives_an_empty_output(shape):
    """As in PyTorch: a batch of 0 samples in eval mode is normalised to 0 samples (and its
    gradient is empty); training on it is an error (no statistics to take)."""
    layer = (cr.nn.BatchNorm2d if len(shape) == 4 else cr.nn.BatchNorm1d)(3)
    layer.eval()
    x = cr.zeros(*shape, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert y.shape == shape and x.grad.shape == shape
    layer.train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        layer(cr.zeros(*shape))
