"""OpInfo table for the convolution family: conv1d, conv2d, conv_transpose1d/2d.

PyTorch references: ``torch.nn.functional`` directly where PyTorch has the same option; for the
options PyTorch lacks ('full' padding, 'same' with stride > 1, padding_mode in the functional
form) the reference pads explicitly with ``F.pad`` and convolves with no padding, the padding
amounts computed here from the specification (the TensorFlow/Keras rule for 'same'), not
from chainrule's code.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as F
from opinfo import ErrorInput, OpInfo, SampleInput, noncontiguous

_TORCH_MODE = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "replicate",
    "circular": "circular",
}


def spec_pads(padding, in_sizes, kernel, stride, dilation):
    """(lo, hi) per axis from the specification of the padding argument."""
    nd = len(kernel)
    st = (stride,) * nd if isinstance(stride, int) else tuple(stride)
    dl = (dilation,) * nd if isinstance(dilation, int) else tuple(dilation)
    if padding == "valid":
        return [(0, 0)] * nd
    if padding == "full":
        return [(d * (k - 1),) * 2 for k, d in zip(kernel, dl)]
    if padding == "same":
        out = []
        for i, k, s, d in zip(in_sizes, kernel, st, dl):
            o = math.ceil(i / s)
            total = max((o - 1) * s + d * (k - 1) + 1 - i, 0)
            out.append((total // 2, total - total // 2))  # the odd cell at the end
        return out
    p = (padding,) * nd if isinstance(padding, int) else tuple(padding)
    return [(v, v) for v in p]


def torch_conv(nd):
    conv = TF.conv1d if nd == 1 else TF.conv2d

    def ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
        pads = spec_pads(padding, x.shape[2:], w.shape[2:], stride, dilation)
        flat = [v for lo_hi in reversed(pads) for v in lo_hi]  # F.pad: last axis first
        if any(flat):
            x = TF.pad(x, flat, mode=_TORCH_MODE[padding_mode])
        return conv(x, w, b, stride=stride, padding=0, dilation=dilation, groups=groups)

    return ref


def _r(rng, *shape):
    return rng.standard_normal(shape)


def conv2d_samples(rng):
    S = SampleInput
    yield S("3x3", _r(rng, 2, 3, 5, 5), _r(rng, 4, 3, 3, 3), _r(rng, 4))
    yield S("pad1_odd", _r(rng, 2, 2, 5, 6), _r(rng, 3, 2, 3, 3), _r(rng, 3), padding=1)
    yield S(
        "even_kernel_nonsquare",
        _r(rng, 1, 2, 5, 7),
        _r(rng, 3, 2, 2, 4),
        _r(rng, 3),
        stride=(2, 1),
        padding=(1, 2),
    )
    yield S(
        "stride3_dil2",
        _r(rng, 2, 2, 9, 8),
        _r(rng, 2, 2, 3, 2),
        _r(rng, 2),
        stride=3,
        dilation=2,
        padding=1,
    )
    yield S("stride2_even", _r(rng, 2, 2, 6, 6), _r(rng, 3, 2, 2, 2), None, stride=2)
    yield S(
        "groups2_dil12",
        _r(rng, 2, 4, 6, 7),
        _r(rng, 6, 2, 3, 3),
        _r(rng, 6),
        groups=2,
        dilation=(1, 2),
        padding=(1, 2),
    )
    yield S("depthwise", _r(rng, 2, 3, 5, 5), _r(rng, 3, 1, 3, 3), _r(rng, 3), groups=3, padding=1)
    yield S("1x1", _r(rng, 2, 3, 4, 5), _r(rng, 4, 3, 1, 1), _r(rng, 4))
    yield S("1x1_stride2", _r(rng, 2, 3, 5, 5), _r(rng, 4, 3, 1, 1), _r(rng, 4), stride=2)
    yield S("valid", _r(rng, 1, 2, 6, 5), _r(rng, 2, 2, 3, 3), _r(rng, 2), padding="valid")
    yield S("same_s1_odd", _r(rng, 2, 2, 5, 6), _r(rng, 3, 2, 3, 3), _r(rng, 3), padding="same")
    yield S(
        "same_s1_even_dil2",
        _r(rng, 1, 2, 6, 5),
        _r(rng, 2, 2, 2, 4),
        _r(rng, 2),
        padding="same",
        dilation=2,
    )
    yield S(
        "same_s2", _r(rng, 2, 2, 7, 6), _r(rng, 3, 2, 3, 3), _r(rng, 3), padding="same", stride=2
    )
    yield S(
        "same_s3_dil2",
        _r(rng, 1, 2, 8, 7),
        _r(rng, 2, 2, 3, 2),
        _r(rng, 2),
        padding="same",
        stride=3,
        dilation=(2, 1),
    )
    yield S("full_s1", _r(rng, 2, 2, 4, 5), _r(rng, 3, 2, 3, 2), _r(rng, 3), padding="full")
    yield S(
        "full_s2_dil2",
        _r(rng, 1, 2, 5, 5),
        _r(rng, 2, 2, 3, 3),
        _r(rng, 2),
        padding="full",
        stride=2,
        dilation=2,
    )
    yield S(
        "reflect",
        _r(rng, 2, 2, 5, 6),
        _r(rng, 3, 2, 3, 3),
        _r(rng, 3),
        padding=(2, 1),
        padding_mode="reflect",
    )
    yield S(
        "replicate_s2",
        _r(rng, 1, 2, 5, 6),
        _r(rng, 3, 2, 3, 2),
        _r(rng, 3),
        padding=2,
        stride=2,
        padding_mode="replicate",
    )
    yield S(
        "circular_dil2",
        _r(rng, 2, 2, 5, 5),
        _r(rng, 2, 2, 3, 3),
        _r(rng, 2),
        padding=(2, 3),
        dilation=(1, 2),
        padding_mode="circular",
    )
    yield S(
        "same_reflect",
        _r(rng, 1, 2, 6, 5),
        _r(rng, 2, 2, 4, 3),
        _r(rng, 2),
        padding="same",
        padding_mode="reflect",
    )
    yield S(
        "same_circular_s2",
        _r(rng, 1, 2, 6, 7),
        _r(rng, 2, 2, 3, 3),
        None,
        padding="same",
        stride=2,
        padding_mode="circular",
    )
    yield S("wide_row", _r(rng, 1, 1, 3, 70), _r(rng, 2, 1, 3, 3), _r(rng, 2), padding=1)
    # 16+ input channels per group, no more output channels: ∂C/∂x as a full correlation
    # (Note [input gradient as a full correlation] in chainrule.ops.conv)
    yield S("dx_full_corr", _r(rng, 2, 16, 5, 4), _r(rng, 3, 16, 3, 2), _r(rng, 3), padding=1)
    yield S(
        "dx_full_corr_groups2_dil2",
        _r(rng, 1, 32, 6, 5),
        _r(rng, 4, 16, 2, 3),
        None,
        groups=2,
        dilation=2,
        padding=(1, 2),
    )
    yield S(  # zero padding wider than d(k-1): the padded gradient is computed, then cropped
        "dx_full_corr_pad_beyond_kernel",
        _r(rng, 1, 16, 3, 4),
        _r(rng, 2, 16, 3, 3),
        _r(rng, 2),
        padding=(3, 1),
    )
    yield S(
        "dx_full_corr_reflect",
        _r(rng, 1, 16, 4, 5),
        _r(rng, 2, 16, 3, 3),
        _r(rng, 2),
        padding=1,
        padding_mode="reflect",
    )
    yield S(
        "noncontiguous",
        noncontiguous(_r(rng, 2, 3, 5, 4)),
        _r(rng, 2, 3, 3, 3),
        _r(rng, 2),
        padding=1,
    )


def conv2d_torch_same_samples(rng):
    """PyTorch's own 'same' (stride 1) must equal chainrule's."""
    S = SampleInput
    yield S("torch_same_odd", _r(rng, 2, 2, 5, 6), _r(rng, 3, 2, 3, 3), _r(rng, 3), padding="same")
    yield S(
        "torch_same_even_dil",
        _r(rng, 1, 2, 7, 6),
        _r(rng, 2, 2, 4, 2),
        _r(rng, 2),
        padding="same",
        dilation=(2, 3),
    )


def torch_conv2d_quiet(*args, **kwargs):
    """``F.conv2d``, silencing its note that an even kernel with 'same' pads a copy."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return TF.conv2d(*args, **kwargs)


def conv2d_errors():
    S = SampleInput
    z = np.zeros
    yield ErrorInput(S("rank3", z((3, 8, 8)), z((8, 3, 3, 3))), ValueError, "NCHW rank 4")
    yield ErrorInput(S("rank5", z((1, 3, 8, 8, 1)), z((8, 3, 3, 3))), ValueError, "NCHW rank 4")
    yield ErrorInput(
        S("channels", z((1, 1, 8, 8)), z((8, 3, 3, 3))),
        ValueError,
        "expected input with 3 channels.*got 1 channels",
    )
    yield ErrorInput(
        S("bad_padding", z((1, 3, 8, 8)), z((8, 3, 3, 3)), padding="sane"),
        ValueError,
        "'valid', 'same', 'full'",
    )
    yield ErrorInput(
        S("too_small", z((1, 3, 2, 2)), z((8, 3, 3, 3))), ValueError, "output size would be"
    )
    yield ErrorInput(
        S("bad_mode", z((1, 3, 8, 8)), z((8, 3, 3, 3)), padding=1, padding_mode="mirror"),
        ValueError,
        "'zeros', 'reflect'",
    )
    yield ErrorInput(
        S("reflect_too_wide", z((1, 3, 3, 3)), z((8, 3, 3, 3)), padding=3, padding_mode="reflect"),
        ValueError,
        "reflect padding",
    )
    yield ErrorInput(
        S("bias_shape", z((1, 3, 8, 8)), z((8, 3, 3, 3)), z((7,))),
        ValueError,
        r"bias of shape \(8,\)",
    )
    yield ErrorInput(
        S("groups", z((1, 4, 8, 8)), z((6, 2, 3, 3)), groups=4), ValueError, "divisible by groups"
    )
    yield ErrorInput(
        S("stride0", z((1, 3, 8, 8)), z((8, 3, 3, 3)), stride=0), ValueError, "stride must be >= 1"
    )
    yield ErrorInput(
        S("int_input", z((1, 3, 8, 8), dtype=np.int64), z((8, 3, 3, 3))),
        TypeError,
        "floating input",
    )


def conv1d_samples(rng):
    S = SampleInput
    yield S("k3", _r(rng, 2, 3, 7), _r(rng, 4, 3, 3), _r(rng, 4))
    yield S("even_stride2_pad", _r(rng, 2, 2, 9), _r(rng, 3, 2, 4), _r(rng, 3), stride=2, padding=1)
    yield S(
        "stride3_dil2_groups",
        _r(rng, 1, 4, 12),
        _r(rng, 2, 2, 3),
        _r(rng, 2),
        stride=3,
        dilation=2,
        groups=2,
    )
    yield S("same_s2", _r(rng, 2, 2, 9), _r(rng, 2, 2, 3), None, padding="same", stride=2)
    yield S("full_dil2", _r(rng, 1, 2, 5), _r(rng, 2, 2, 3), _r(rng, 2), padding="full", dilation=2)
    yield S("valid", _r(rng, 1, 2, 5), _r(rng, 2, 2, 2), _r(rng, 2), padding="valid")
    yield S(
        "reflect", _r(rng, 2, 2, 6), _r(rng, 2, 2, 3), _r(rng, 2), padding=2, padding_mode="reflect"
    )
    yield S(
        "replicate",
        _r(rng, 1, 2, 6),
        _r(rng, 2, 2, 3),
        _r(rng, 2),
        padding=(3,),
        padding_mode="replicate",
    )
    yield S(
        "circular_same",
        _r(rng, 1, 2, 6),
        _r(rng, 2, 2, 4),
        _r(rng, 2),
        padding="same",
        padding_mode="circular",
    )


def conv1d_errors():
    S = SampleInput
    z = np.zeros
    yield ErrorInput(S("rank4", z((1, 3, 8, 8)), z((8, 3, 3))), ValueError, "NCL rank 3")
    yield ErrorInput(
        S("channels", z((1, 2, 8)), z((8, 3, 3))), ValueError, "expected input with 3 channels"
    )


def conv_transpose2d_samples(rng):
    S = SampleInput
    yield S("s1", _r(rng, 2, 3, 4, 4), _r(rng, 3, 2, 3, 3), _r(rng, 2))
    yield S("s2_p1", _r(rng, 2, 2, 3, 4), _r(rng, 2, 3, 4, 4), _r(rng, 3), stride=2, padding=1)
    yield S(
        "s2_outpad",
        _r(rng, 1, 2, 3, 3),
        _r(rng, 2, 2, 3, 3),
        _r(rng, 2),
        stride=2,
        padding=1,
        output_padding=1,
    )
    yield S(
        "s3_nonsquare",
        _r(rng, 1, 2, 3, 2),
        _r(rng, 2, 2, 2, 3),
        None,
        stride=(3, 2),
        padding=(1, 0),
        output_padding=(2, 1),
    )
    yield S("dil2", _r(rng, 2, 2, 3, 3), _r(rng, 2, 2, 3, 2), _r(rng, 2), dilation=2, padding=1)
    yield S(
        "groups2",
        _r(rng, 1, 4, 3, 3),
        _r(rng, 4, 3, 3, 3),
        _r(rng, 6),
        groups=2,
        stride=2,
        output_padding=1,
    )
    yield S(
        "dil2_outpad",
        _r(rng, 1, 2, 3, 3),
        _r(rng, 2, 1, 2, 2),
        _r(rng, 1),
        dilation=2,
        stride=1,
        output_padding=1,
    )


def conv_transpose2d_errors():
    S = SampleInput
    z = np.zeros
    yield ErrorInput(S("rank3", z((2, 3, 3)), z((2, 2, 3, 3))), ValueError, "NCHW rank 4")
    yield ErrorInput(
        S("channels", z((1, 3, 3, 3)), z((2, 2, 3, 3))),
        ValueError,
        "expected input with 2 channels",
    )
    yield ErrorInput(
        S("outpad", z((1, 2, 3, 3)), z((2, 2, 3, 3)), stride=2, output_padding=2),
        ValueError,
        "output_padding must be smaller",
    )
    yield ErrorInput(
        S("string_pad", z((1, 2, 3, 3)), z((2, 2, 3, 3)), padding="same"),
        ValueError,
        "padding strings",
    )
    yield ErrorInput(
        S("crop_all", z((1, 2, 1, 1)), z((2, 2, 1, 1)), padding=1),
        ValueError,
        "output size would be",
    )


def conv_transpose1d_samples(rng):
    S = SampleInput
    yield S(
        "s2_outpad",
        _r(rng, 2, 2, 4),
        _r(rng, 2, 3, 3),
        _r(rng, 3),
        stride=2,
        padding=1,
        output_padding=1,
    )
    yield S("dil2_groups", _r(rng, 1, 4, 3), _r(rng, 4, 1, 2), _r(rng, 2), dilation=2, groups=2)


OPS = [
    OpInfo("conv2d", F.conv2d, torch_conv(2), conv2d_samples, conv2d_errors),
    OpInfo("conv2d_torch_same", F.conv2d, torch_conv2d_quiet, conv2d_torch_same_samples),
    OpInfo("conv1d", F.conv1d, torch_conv(1), conv1d_samples, conv1d_errors),
    OpInfo(
        "conv_transpose2d",
        F.conv_transpose2d,
        TF.conv_transpose2d,
        conv_transpose2d_samples,
        conv_transpose2d_errors,
    ),
    OpInfo("conv_transpose1d", F.conv_transpose1d, TF.conv_transpose1d, conv_transpose1d_samples),
]

# keep the names used above importable for the module tests
__all__ = ["OPS", "cr", "spec_pads", "torch", "torch_conv"]
