"""OpInfo table of the losses (``chainrule.nn.functional``), against PyTorch.

Forward and the gradients of the input and, where PyTorch gives one, of the target, in float32
and float64 under a random upstream gradient (every ``reduction``); float64 finite differences.
Losses torch lacks (hinge, Barron's robust loss) use references written in torch ops from the
formulas.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as TF

import chainrule.nn.functional as F
from opinfo import ErrorInput, OpInfo, SampleInput

REDUCTIONS = ("mean", "sum", "none")


# ---- regression ----
def _pair_samples(rng, target_kind="normal"):
    def target(shape):
        if target_kind == "sign":
            return rng.choice([-1.0, 1.0], size=shape)
        return rng.standard_normal(shape) * 2

    for red in REDUCTIONS:
        yield SampleInput(
            f"matrix_{red}", rng.standard_normal((4, 5)) * 2, target((4, 5)), reduction=red
        )
    yield SampleInput("nd", rng.standard_normal((2, 3, 2, 2)) * 2, target((2, 3, 2, 2)))
    yield SampleInput("vector", rng.standard_normal(7) * 2, target(7))
    yield SampleInput("scalar", np.array(1.5), np.asarray(target(())))


def _regression_samples(rng):
    yield from _pair_samples(rng)


def _huber_samples(rng):
    yield from _pair_samples(rng)
    x, t = rng.standard_normal((4, 6)) * 3, rng.standard_normal((4, 6))
    yield SampleInput("delta", x, t, delta=0.5)
    yield SampleInput("delta_sum", x, t, reduction="sum", delta=2.5)


def _smooth_l1_samples(rng):
    yield from _pair_samples(rng)
    x, t = rng.standard_normal((4, 6)) * 3, rng.standard_normal((4, 6))
    yield SampleInput("beta", x, t, beta=0.3)
    yield SampleInput("beta0", x, t, reduction="sum", beta=0.0)


def _hinge_samples(rng):
    for s in _pair_samples(rng, "sign"):
        s.grad_inputs = (0,)  # labels are ±1: not perturbed by the finite differences
        yield s
    yield SampleInput(
        "margin",
        rng.standard_normal((5, 3)) * 2,
        rng.choice([-1.0, 1.0], (5, 3)),
        margin=0.5,
        grad_inputs=(0,),
    )


def _hinge_ref(x, y, reduction="mean", margin=1.0):
    loss = torch.relu(margin - y * x)
    return {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[reduction]()


def _shape_errors(op_name):
    def gen():
        yield ErrorInput(
            SampleInput("shape", np.zeros((4, 1)), np.zeros(4)),
            ValueError,
            rf"{op_name}: target shape \(4,\) does not match input shape \(4, 1\)",
        )
        yield ErrorInput(
            SampleInput("reduction", np.zeros(3), np.zeros(3), reduction="avg"),
            ValueError,
            r"reduction must be one of 'mean', 'sum', 'none', got 'avg'",
        )

    return gen


def _hinge_errors():
    yield from _shape_errors("hinge_loss")()
    yield ErrorInput(
        SampleInput("labels01", np.zeros(3), np.array([1.0, 0.0, 1.0])),
        ValueError,
        r"hinge_loss: target labels must be -1 or \+1, got 0.0 at position \(1,\); convert 0/1",
    )


# ---- classification ----
def _labels(rng, n_cls, shape):
    return rng.integers(0, n_cls, size=shape).astype(np.int64)


def _ce_samples(rng):
    x = rng.standard_normal((6, 5)) * 2
    t = _labels(rng, 5, 6)
    for red in REDUCTIONS:
        yield SampleInput(f"index_{red}", x, t, reduction=red)
    t_ign = t.copy()
    t_ign[[1, 4]] = -100
    yield SampleInput("ignore", x, t_ign)
    yield SampleInput("ignore_custom", x, t, ignore_index=int(t[0]))
    w = rng.uniform(0.2, 2.0, 5)
    for red in REDUCTIONS:
        yield SampleInput(f"weight_{red}", x, t_ign, w, reduction=red, grad_inputs=(0,))
    for red in REDUCTIONS:
        yield SampleInput(f"smooth_{red}", x, t_ign, reduction=red, label_smoothing=0.15)
        yield SampleInput(
            f"smooth_weight_{red}",
            x,
            t_ign,
            w,
            reduction=red,
            label_smoothing=0.3,
            grad_inputs=(0,),
        )
    xn = rng.standard_normal((2, 4, 3, 2))
    tn = _labels(rng, 4, (2, 3, 2))
    yield SampleInput("nd_mean", xn, tn)
    yield SampleInput("nd_none_smooth", xn, tn, reduction="none", label_smoothing=0.2)
    yield SampleInput("unbatched", rng.standard_normal(5), np.array(3, dtype=np.int64))
    yield SampleInput(
        "unbatched_none", rng.standard_normal(5), np.array(1, dtype=np.int64), reduction="none"
    )
    yield SampleInput("extreme", np.array([[1e4, 0.0, -1e4]]), np.array([2]))
    p = rng.uniform(0.1, 1.0, (6, 5))
    p /= p.sum(axis=1, keepdims=True)
    for red in REDUCTIONS:
        yield SampleInput(f"prob_{red}", x, p, reduction=red)
    yield SampleInput("prob_smooth_weight", x, p, w, label_smoothing=0.1, grad_inputs=(0, 1))
    pn = rng.uniform(0.1, 1.0, xn.shape)
    yield SampleInput("prob_nd", xn, pn / pn.sum(axis=1, keepdims=True), reduction="sum")


def _ce_errors():
    yield ErrorInput(
        SampleInput("label_range", np.zeros((4, 10)), np.array([0, 3, 10, 1])),
        IndexError,
        r"cross_entropy: target 10 at batch position \(2,\) is out of range for 10 classes: "
        r"class labels must be in \[0, 9\]",
    )
    yield ErrorInput(
        SampleInput("negative_label", np.zeros((2, 3, 2)), np.array([[0, 1], [-1, 2]])),
        IndexError,
        r"target -1 at batch position \(1, 0\) .* \[0, 2\] \(or ignore_index=-100\)",
    )
    yield ErrorInput(
        SampleInput("float_labels", np.zeros((4, 3)), np.array([0.0, 1.0, 2.0, 1.0])),
        TypeError,
        r"cross_entropy: class-index targets must have an integer dtype \(int64\), got dtype "
        r"float32",
    )
    yield ErrorInput(
        SampleInput("batch_mismatch", np.zeros((3, 4)), np.array([0, 1])),
        ValueError,
        r"cross_entropy: target shape \(2,\) does not match input shape \(3, 4\)",
    )
    yield ErrorInput(
        SampleInput("weight_shape", np.zeros((3, 4)), np.array([0, 1, 2]), np.ones(3)),
        ValueError,
        r"weight must have shape \(4,\)",
    )
    yield ErrorInput(
        SampleInput("smoothing", np.zeros((3, 4)), np.array([0, 1, 2]), label_smoothing=1.5),
        ValueError,
        "label_smoothing",
    )


def _nll_samples(rng):
    x = np.log(rng.dirichlet(np.ones(4), size=5))
    t = _labels(rng, 4, 5)
    for red in REDUCTIONS:
        yield SampleInput(f"basic_{red}", x, t, reduction=red)
    t_ign = t.copy()
    t_ign[2] = -100
    w = rng.uniform(0.5, 2.0, 4)
    for red in REDUCTIONS:
        yield SampleInput(f"weight_ignore_{red}", x, t_ign, w, reduction=red, grad_inputs=(0,))
    xn = rng.standard_normal((2, 3, 4))
    yield SampleInput("nd", xn, _labels(rng, 3, (2, 4)))
    yield SampleInput("unbatched", x[0], np.array(2, dtype=np.int64))


def _nll_errors():
    yield ErrorInput(
        SampleInput("label_range", np.zeros((2, 3)), np.array([3, 0])),
        IndexError,
        r"nll_loss: target 3 at batch position \(0,\) .* \[0, 2\]",
    )


def _bce_samples(rng):
    p = rng.uniform(0.05, 0.95, (4, 5))
    y = rng.uniform(0, 1, (4, 5))
    for red in REDUCTIONS:
        yield SampleInput(f"soft_{red}", p, y, reduction=red)
    yield SampleInput("hard", p, (y > 0.5).astype(np.float64), grad_inputs=(0,))
    yield SampleInput("weight", p, y, rng.uniform(0.5, 2, (4, 5)), grad_inputs=(0, 1))
    yield SampleInput(
        "weight_bcast", p, y, rng.uniform(0.5, 2, 5), reduction="sum", grad_inputs=(0, 1)
    )
    yield SampleInput("vector", rng.uniform(0.05, 0.95, 6), rng.uniform(0, 1, 6))


def _bce_errors():
    yield ErrorInput(
        SampleInput("prob_range", np.array([0.5, 1.2]), np.array([1.0, 0.0])),
        ValueError,
        r"binary_cross_entropy: all elements of input should be probabilities in \[0, 1\], "
        r"got 1 outside \(first: 1.2",
    )
    yield ErrorInput(
        SampleInput("target_range", np.array([0.5, 0.2]), np.array([-1.0, 0.0])),
        ValueError,
        r"all elements of target should be probabilities",
    )
    yield ErrorInput(
        SampleInput("int_target", np.array([0.5, 0.2]), np.array([1, 0])),
        TypeError,
        r"binary_cross_entropy: target must be a floating tensor .* got dtype int64",
    )


def _bcel(x, y, weight=None, pos_weight=None, **kw):
    return F.binary_cross_entropy_with_logits(x, y, weight, pos_weight=pos_weight, **kw)


def _bcel_ref(x, y, weight=None, pos_weight=None, **kw):
    return TF.binary_cross_entropy_with_logits(x, y, weight, pos_weight=pos_weight, **kw)


def _bcel_samples(rng):
    x = rng.standard_normal((4, 5)) * 3
    y = rng.uniform(0, 1, (4, 5))
    for red in REDUCTIONS:
        yield SampleInput(f"soft_{red}", x, y, reduction=red)
    yield SampleInput("weight", x, y, rng.uniform(0.5, 2, (4, 5)), grad_inputs=(0, 1))
    for red in REDUCTIONS:
        yield SampleInput(
            f"pos_weight_{red}",
            x,
            y,
            None,
            rng.uniform(0.5, 3, 5),
            reduction=red,
            grad_inputs=(0, 1),
        )
    yield SampleInput(
        "both", x, y, rng.uniform(0.5, 2, 5), rng.uniform(0.5, 3, 5), grad_inputs=(0, 1)
    )
    yield SampleInput(
        "extreme", np.array([1e4, -1e4, 0.0]), np.array([0.0, 1.0, 0.5]), reduction="none"
    )
    yield SampleInput("torch_stability", np.array([0.0, -120.0]), np.array([0.0, 1.0]))


def _bcel_errors():
    yield ErrorInput(
        SampleInput("int_target", np.zeros(3), np.array([1, 0, 1])),
        TypeError,
        r"binary_cross_entropy_with_logits: target must be a floating tensor .* int64",
    )
    yield ErrorInput(
        SampleInput("shape", np.zeros((3, 1)), np.zeros(3)),
        ValueError,
        r"target shape \(3,\) does not match input shape \(3, 1\)",
    )


def _kl_ref(*args, **kwargs):
    with warnings.catch_warnings():  # torch warns that 'mean' is not the KL (it is documented)
        warnings.simplefilter("ignore", UserWarning)
        return TF.kl_div(*args, **kwargs)


def _kl_samples(rng):
    logq = np.log(rng.dirichlet(np.ones(5), size=4))
    p = rng.dirichlet(np.ones(5), size=4)
    for red in REDUCTIONS + ("batchmean",):
        yield SampleInput(f"prob_{red}", logq, p, reduction=red)
    yield SampleInput("log_target", logq, np.log(p), reduction="batchmean", log_target=True)
    yield SampleInput("log_target_none", logq, np.log(p), reduction="none", log_target=True)
    pz = p.copy()
    pz[0, 1] = 0.0
    yield SampleInput("zero_target", logq, pz, reduction="sum", grad_inputs=(0,))


# ---- Barron's robust loss: reference in torch ops ----
def rho_ref(x, alpha, scale):
    """ρ(x, α, c) straight from the paper, for α not in {0, 2, ±inf}."""
    z = (x / scale) ** 2
    b = torch.abs(alpha - 2)
    return b / alpha * ((z / b + 1) ** (alpha / 2) - 1)


def _robust_ref(x, target=None, alpha=1.0, scale=1.0, reduction="mean"):
    if not torch.is_tensor(alpha):
        alpha = torch.tensor(alpha, dtype=x.dtype)
    if not torch.is_tensor(scale):
        scale = torch.tensor(scale, dtype=x.dtype)
    z = (x / scale) ** 2
    a = float(alpha.detach()) if alpha.numel() == 1 else None
    if a == 0:
        loss = torch.log1p(z / 2)
    elif a == 2:
        loss = z / 2
    elif a == -math.inf:
        loss = -torch.expm1(-z / 2)
    elif a == math.inf:
        loss = torch.expm1(z / 2)
    else:
        loss = rho_ref(x, alpha, scale)
    return {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[reduction]()


def _robust_samples(rng):
    x = rng.standard_normal((5, 3)) * 2
    for a in (1.0, 0.5, -2.0, 3.5, 0.0, 2.0, -math.inf):
        yield SampleInput(f"alpha{a:g}", x, None, a, 1.3)
    yield SampleInput("tensor_params", x, None, np.array(1.3), np.array(0.7), reduction="sum")
    yield SampleInput(
        "per_dim",
        x,
        None,
        rng.uniform(0.2, 1.8, (1, 3)),
        rng.uniform(0.5, 2.0, 3),
        reduction="none",
    )
    yield SampleInput("negative_alpha", x, None, np.array([-3.0, -0.5, 4.0]), np.array(1.0))
    # torch's α = 0 branch drops the α-gradient: α is checked in test_losses.py instead
    yield SampleInput(
        "alpha_zero_tensor", x, None, np.array(0.0), np.array(1.5), grad_inputs=(0, 2)
    )


def _robust_errors():
    yield ErrorInput(SampleInput("scale", np.zeros(3), None, 1.0, 0.0), ValueError, "scale")


def _nll_robust_errors():
    yield ErrorInput(
        SampleInput("alpha_neg", np.zeros(3), None, -1.0, 1.0), ValueError, r"alpha must be in"
    )


LOSS_OPS = [
    OpInfo(
        "l1_loss", F.l1_loss, TF.l1_loss, _regression_samples, error_inputs=_shape_errors("l1_loss")
    ),
    OpInfo(
        "mse_loss",
        F.mse_loss,
        TF.mse_loss,
        _regression_samples,
        error_inputs=_shape_errors("mse_loss"),
    ),
    OpInfo("huber_loss", F.huber_loss, TF.huber_loss, _huber_samples),
    OpInfo("smooth_l1_loss", F.smooth_l1_loss, TF.smooth_l1_loss, _smooth_l1_samples),
    OpInfo(
        "hinge_loss",
        F.hinge_loss,
        _hinge_ref,
        _hinge_samples,
        error_inputs=_hinge_errors,
        nondiff_points=(1.0, -1.0),
    ),
    OpInfo(
        "cross_entropy", F.cross_entropy, TF.cross_entropy, _ce_samples, error_inputs=_ce_errors
    ),
    OpInfo("nll_loss", F.nll_loss, TF.nll_loss, _nll_samples, error_inputs=_nll_errors),
    OpInfo(
        "binary_cross_entropy",
        F.binary_cross_entropy,
        TF.binary_cross_entropy,
        _bce_samples,
        error_inputs=_bce_errors,
    ),
    OpInfo("bce_with_logits", _bcel, _bcel_ref, _bcel_samples, error_inputs=_bcel_errors),
    OpInfo("kl_div", F.kl_div, _kl_ref, _kl_samples),
    OpInfo(
        "robust_loss",
        F.robust_loss,
        _robust_ref,
        _robust_samples,
        error_inputs=_robust_errors,
        grad_rtol={"float32": 2e-4},
    ),
]

# the adaptive (NLL) form: no torch reference for log Z, so gradcheck and errors only (values
# are checked against independent quadrature in test_losses.py)
ROBUST_NLL_SAMPLES = [
    ("fixed", (np.linspace(-3, 3, 7), None, 1.0, 1.0)),
    ("alpha_tensor", (np.linspace(-4, 4, 6), None, np.array(0.7), np.array(1.2))),
    (
        "per_dim",
        (
            np.arange(12.0).reshape(4, 3) / 4 - 1,
            None,
            np.array([0.3, 1.1, 1.9]),
            np.array([0.5, 1.0, 2.0]),
        ),
    ),
    ("near_zero", (np.linspace(-2, 2, 5), None, np.array(0.004), np.array(1.0))),
    ("high", (np.linspace(-2, 2, 5), None, np.array(5.5), np.array(0.8))),
]
