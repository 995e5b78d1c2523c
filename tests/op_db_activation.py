"""OpInfo table of the activation functions (``chainrule.nn.functional``), against PyTorch.

Every entry: forward and input gradient (and the slope gradient of prelu / swish) vs torch in
float32 and float64 under a random upstream gradient, plus float64 finite differences away
from the kinks. Activations torch lacks (swish, step, maxout) use a reference built from torch
ops, the formula of the notes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as F
from opinfo import ErrorInput, OpInfo, SampleInput


def _unary(*extra_kwargs: dict[str, Any], scale: float = 2.0):
    """Samples for a pointwise activation: shapes 0-d to 4-d, a wide range, extra kwargs."""

    def gen(rng: np.random.Generator):
        yield SampleInput("scalar", np.array(rng.standard_normal() * scale))
        yield SampleInput("vector", rng.standard_normal(7) * scale)
        yield SampleInput("matrix", rng.standard_normal((4, 5)) * scale)
        yield SampleInput("nchw", rng.standard_normal((2, 3, 2, 3)) * scale)
        yield SampleInput("wide", np.linspace(-30, 30, 13) + 0.123)
        for k, kw in enumerate(extra_kwargs):
            yield SampleInput(f"kw{k}", rng.standard_normal((3, 4)) * scale, **kw)

    return gen


def _none_errors():
    return []


def _leaky_errors():
    yield ErrorInput(
        SampleInput("slope_str", np.zeros(3), negative_slope="0.1"), TypeError, "leaky_relu"
    )


def _prelu_samples(rng):
    yield SampleInput("shared", rng.standard_normal((4, 3)), np.array([0.25]))
    yield SampleInput("per_channel", rng.standard_normal((2, 3, 4)), rng.uniform(0, 1, 3))
    yield SampleInput("nchw", rng.standard_normal((2, 3, 2, 2)), rng.uniform(-1, 1, 3))
    yield SampleInput("vector", rng.standard_normal(5), np.array([0.1]))


def _prelu_errors():
    yield ErrorInput(
        SampleInput("wrong_channels", np.zeros((2, 4)), np.zeros(3)),
        ValueError,
        r"prelu: weight of shape \(3,\) has 3 slopes but the input of shape \(2, 4\) has 4",
    )


def _swish_samples(rng):
    x = rng.standard_normal((3, 4)) * 2
    yield SampleInput("beta1", x)
    yield SampleInput("beta_float", x, beta=1.7)
    yield SampleInput("beta_tensor", x, np.array([0.6]))
    yield SampleInput("beta_scalar_tensor", rng.standard_normal(6), np.array(2.5))


def _swish_ref(x, beta=1.0):
    return x * torch.sigmoid(beta * x)


def _gelu_errors():
    yield ErrorInput(SampleInput("approx", np.zeros(2), approximate="fast"), ValueError, "tanh")


def _softplus_kink(sample: SampleInput):
    beta = sample.kwargs.get("beta", 1.0)
    return (sample.kwargs.get("threshold", 20.0) / beta,)


def _softplus_errors():
    yield ErrorInput(SampleInput("beta0", np.zeros(2), beta=0.0), ValueError, "beta")


def _hardtanh_kinks(sample: SampleInput):
    return (sample.kwargs.get("min_val", -1.0), sample.kwargs.get("max_val", 1.0))


def _hardtanh_errors():
    yield ErrorInput(
        SampleInput("bounds", np.zeros(2), min_val=1.0, max_val=-1.0), ValueError, "min_val"
    )


def _threshold_samples(rng):
    yield SampleInput("basic", rng.standard_normal((4, 5)), 0.1, 20.0)
    yield SampleInput("negative", rng.standard_normal(9) * 3, -1.0, -5.0)


def _step_samples(rng):
    yield SampleInput("theta0", rng.standard_normal((4, 5)))
    yield SampleInput("theta", rng.standard_normal(9), theta=0.3)
    yield SampleInput("edge", np.array([-1.0, 0.0, 1e-300, 1.0]))


def _step_ref(x, theta=0.0):
    # the McCulloch-Pitts rule y = 1 if h > θ else 0; "+ 0 * x" keeps torch's graph, with a
    # zero gradient, so the VJP check verifies that chainrule's backward gives zeros too
    return (x > theta).to(x.dtype) + 0 * x


def _maxout_samples(rng):
    yield SampleInput("features", rng.standard_normal((4, 6)), 2)
    yield SampleInput("three", rng.standard_normal((3, 9)), 3)
    yield SampleInput("channels", rng.standard_normal((2, 4, 3, 3)), 2, dim=1)
    yield SampleInput("last", rng.standard_normal((2, 3, 4)), 4, dim=-1)
    yield SampleInput("one_piece", rng.standard_normal((2, 3)), 1)


def _maxout_ref(x, pieces, dim=1):
    d = dim % x.ndim
    return x.unflatten(d, (x.shape[d] // pieces, pieces)).max(d + 1).values


def _maxout_errors():
    yield ErrorInput(SampleInput("divisible", np.zeros((2, 5)), 2), ValueError, "multiple")
    yield ErrorInput(SampleInput("pieces0", np.zeros((2, 4)), 0), ValueError, "positive")


def _softmax_samples(rng):
    yield SampleInput("rows", rng.standard_normal((4, 5)) * 3, dim=-1)
    yield SampleInput("cols", rng.standard_normal((4, 5)) * 3, dim=0)
    yield SampleInput("nchw", rng.standard_normal((2, 3, 2, 2)), dim=1)
    yield SampleInput("vector", rng.standard_normal(6), dim=0)
    yield SampleInput("large", np.array([[1e3, 0.0, -1e3], [50.0, 49.0, 48.0]]), dim=1)


def _softmax_errors():
    yield ErrorInput(SampleInput("dim", np.zeros((2, 3)), dim=2), IndexError, "out of range")


def _argmax_samples(rng):
    yield SampleInput("rows", rng.standard_normal((4, 5)), dim=1)
    yield SampleInput("flat", rng.standard_normal((3, 4)))
    yield SampleInput("keepdim", rng.standard_normal((3, 4)), dim=0, keepdim=True)


ACTIVATION_OPS = [
    OpInfo(
        "leaky_relu",
        F.leaky_relu,
        TF.leaky_relu,
        _unary({"negative_slope": 0.2}, {"negative_slope": -0.5}),
        error_inputs=_leaky_errors,
        nondiff_points=(0.0,),
    ),
    OpInfo(
        "prelu",
        F.prelu,
        TF.prelu,
        _prelu_samples,
        error_inputs=_prelu_errors,
        nondiff_points=(0.0,),
    ),
    OpInfo("elu", F.elu, TF.elu, _unary({"alpha": 0.5}, {"alpha": 2.0}), nondiff_points=(0.0,)),
    OpInfo("celu", F.celu, TF.celu, _unary({"alpha": 0.5}, {"alpha": 2.0}), nondiff_points=(0.0,)),
    OpInfo("selu", F.selu, TF.selu, _unary(), nondiff_points=(0.0,)),
    OpInfo("silu", F.silu, TF.silu, _unary()),
    OpInfo("swish", F.swish, _swish_ref, _swish_samples),
    OpInfo(
        "gelu",
        F.gelu,
        TF.gelu,
        _unary({"approximate": "tanh"}, {"approximate": "none"}, scale=3.0),
        error_inputs=_gelu_errors,
    ),
    OpInfo(
        "softplus",
        F.softplus,
        TF.softplus,
        _unary({"beta": 2.0}, {"beta": 0.5, "threshold": 1.0}, {"threshold": 2.0}),
        error_inputs=_softplus_errors,
        nondiff_points=_softplus_kink,
    ),
    OpInfo("log_sigmoid", F.log_sigmoid, TF.logsigmoid, _unary()),
    OpInfo(
        "hardtanh",
        F.hardtanh,
        TF.hardtanh,
        _unary({"min_val": -0.5, "max_val": 2.0}),
        error_inputs=_hardtanh_errors,
        nondiff_points=_hardtanh_kinks,
    ),
    OpInfo("relu6", F.relu6, TF.relu6, _unary(scale=5.0), nondiff_points=(0.0, 6.0)),
    OpInfo("softsign", F.softsign, TF.softsign, _unary()),
    OpInfo(
        "threshold",
        F.threshold,
        TF.threshold,
        _threshold_samples,
        nondiff_points=lambda s: (s.args[1],),
    ),
    OpInfo("step", F.step, _step_ref, _step_samples, nondiff_points=(0.0, 0.3)),
    OpInfo("maxout", F.maxout, _maxout_ref, _maxout_samples, error_inputs=_maxout_errors),
    OpInfo(
        "softmax",
        F.softmax,
        torch.softmax,
        _softmax_samples,
        error_inputs=_softmax_errors,
    ),
    OpInfo("log_softmax", F.log_softmax, torch.log_softmax, _softmax_samples),
    OpInfo("argmax", F.argmax, torch.argmax, _argmax_samples, grad=False),
]


# ---- modules: (chainrule module, torch module or reference, input shape) ----
def _torch_formula(fn):
    class _Ref(torch.nn.Module):
        def forward(self, x):
            return fn(x)

    return _Ref()


ACTIVATION_MODULES = [
    ("Sigmoid", lambda: cr.nn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    (
        "Sigmoid_beta",
        lambda: cr.nn.Sigmoid(beta=2.5),
        lambda: _torch_formula(lambda x: torch.sigmoid(2.5 * x)),
    ),
    ("Tanh", lambda: cr.nn.Tanh(), lambda: torch.nn.Tanh()),
    ("ReLU", lambda: cr.nn.ReLU(), lambda: torch.nn.ReLU()),
    ("ReLU6", lambda: cr.nn.ReLU6(), lambda: torch.nn.ReLU6()),
    ("LeakyReLU", lambda: cr.nn.LeakyReLU(0.1), lambda: torch.nn.LeakyReLU(0.1)),
    ("PReLU", lambda: cr.nn.PReLU(), lambda: torch.nn.PReLU()),
    ("PReLU_channels", lambda: cr.nn.PReLU(3, init=0.1), lambda: torch.nn.PReLU(3, init=0.1)),
    ("ELU", lambda: cr.nn.ELU(0.7), lambda: torch.nn.ELU(0.7)),
    ("CELU", lambda: cr.nn.CELU(1.5), lambda: torch.nn.CELU(1.5)),
    ("SELU", lambda: cr.nn.SELU(), lambda: torch.nn.SELU()),
    ("SiLU", lambda: cr.nn.SiLU(), lambda: torch.nn.SiLU()),
    (
        "Swish",
        lambda: cr.nn.Swish(beta=0.8),
        lambda: _torch_formula(lambda x: x * torch.sigmoid(0.8 * x)),
    ),
    ("GELU", lambda: cr.nn.GELU(), lambda: torch.nn.GELU()),
    ("GELU_tanh", lambda: cr.nn.GELU("tanh"), lambda: torch.nn.GELU("tanh")),
    ("Softplus", lambda: cr.nn.Softplus(2.0, 5.0), lambda: torch.nn.Softplus(2.0, 5.0)),
    ("LogSigmoid", lambda: cr.nn.LogSigmoid(), lambda: torch.nn.LogSigmoid()),
    ("Hardtanh", lambda: cr.nn.Hardtanh(-0.5, 0.5), lambda: torch.nn.Hardtanh(-0.5, 0.5)),
    ("Softsign", lambda: cr.nn.Softsign(), lambda: torch.nn.Softsign()),
    ("Threshold", lambda: cr.nn.Threshold(0.1, 20.0), lambda: torch.nn.Threshold(0.1, 20.0)),
    ("Softmax", lambda: cr.nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
    ("LogSoftmax", lambda: cr.nn.LogSoftmax(dim=1), lambda: torch.nn.LogSoftmax(dim=1)),
]


class TorchSwish(torch.nn.Module):
    """Swish with a learnable β, the formula x·σ(βx) in torch ops."""

    def __init__(self, beta: float) -> None:
        super().__init__()
        self.beta = torch.nn.Parameter(torch.full((1,), beta))

    def forward(self, x):
        return x * torch.sigmoid(self.beta * x)


class TorchMaxout(torch.nn.Module):
    """Maxout: Linear(in, out·k), then the max over each group of k consecutive units."""

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        lin = torch.nn.Linear(in_features, out_features * pieces)
        self.weight, self.bias, self.pieces = lin.weight, lin.bias, pieces

    def forward(self, x):
        return _maxout_ref(TF.linear(x, self.weight, self.bias), self.pieces, dim=-1)


ACTIVATION_MODULES += [
    ("Swish_learnable", lambda: cr.nn.Swish(1.3, learnable=True), lambda: TorchSwish(1.3)),
    ("Maxout", lambda: cr.nn.Maxout(4, 3, pieces=2), lambda: TorchMaxout(4, 3, 2)),
]
