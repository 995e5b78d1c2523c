"""OpInfo table for pooling: max, average, Lp and adaptive pooling, 1-D and 2-D."""

from __future__ import annotations

import numpy as np
import torch.nn.functional as TF

import chainrule.nn.functional as F
from opinfo import ErrorInput, OpInfo, SampleInput, noncontiguous


def cnhw(a: np.ndarray) -> np.ndarray:
    """The same values in the (C, N, H, W) memory layout a convolution produces."""
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


def _r(rng, *shape):
    return rng.standard_normal(shape)


def _pos(rng, *shape):
    return np.abs(rng.standard_normal(shape)) + 0.2


def max_pool2d_samples(rng):
    S = SampleInput
    yield S("2x2_tiled", _r(rng, 2, 3, 6, 4), 2)
    yield S("2x2_tiled_crop", _r(rng, 2, 2, 5, 7), 2)
    yield S("2x2_tiled_cnhw", cnhw(_r(rng, 3, 2, 4, 6)), 2)
    yield S("3x3_tiled", _r(rng, 1, 2, 6, 6), 3)
    yield S("3x3_s2_overlap", _r(rng, 2, 2, 7, 7), 3, 2)
    yield S("3x3_s1_pad1", _r(rng, 1, 2, 5, 6), 3, 1, 1)
    yield S("nonsquare_pad", _r(rng, 2, 2, 5, 7), (2, 3), (1, 2), (1, 1))
    yield S("dilation2", _r(rng, 1, 2, 7, 8), 2, 1, 0, 2)
    yield S("ceil_mode", _r(rng, 2, 2, 7, 6), 3, 2, ceil_mode=True)
    yield S("ceil_mode_pad", _r(rng, 1, 2, 6, 7), 2, 2, 1, ceil_mode=True)
    yield S("unbatched", _r(rng, 2, 5, 5), 2, 1)
    yield S("noncontiguous", noncontiguous(_r(rng, 2, 3, 4, 6)), 2)
    yield S("cnhw_overlap", cnhw(_r(rng, 2, 3, 5, 5)), 3, 1, 1)
    yield S("return_indices", _r(rng, 2, 2, 5, 6), 3, 2, 1, return_indices=True)
    yield S("return_indices_tiled", _r(rng, 1, 2, 4, 4), 2, return_indices=True)
    ties = rng.integers(0, 3, size=(2, 2, 6, 6)).astype(np.float64)
    yield S("ties_tiled", ties, 2, gradcheck=False)
    yield S("ties_overlap", ties.copy(), 3, 1, 1, gradcheck=False)


def max_pool1d_samples(rng):
    S = SampleInput
    yield S("k2", _r(rng, 2, 3, 8), 2)
    yield S("k3_s2_pad1", _r(rng, 2, 2, 9), 3, 2, 1)
    yield S("dil2_ceil", _r(rng, 1, 2, 10), 2, 3, 0, 2, ceil_mode=True)
    yield S("unbatched", _r(rng, 3, 7), 3)
    yield S("indices", _r(rng, 2, 2, 9), 3, 2, return_indices=True)


def pool_errors(fn_name):
    S = SampleInput
    z = np.zeros

    def gen():
        if fn_name.endswith("2d"):
            yield ErrorInput(S("too_big", z((1, 1, 4, 4)), 5), ValueError, "output size would be")
            yield ErrorInput(S("rank5", z((1, 1, 1, 4, 4)), 2), ValueError, "4-D input")
            yield ErrorInput(S("pad_gt_half", z((1, 1, 8, 8)), 2, 2, 2), ValueError, "at most half")
            yield ErrorInput(S("stride0", z((1, 1, 8, 8)), 2, 0), ValueError, "stride")
        else:
            yield ErrorInput(S("too_big", z((1, 1, 4)), 5), ValueError, "output size would be")
            yield ErrorInput(S("rank4", z((1, 1, 4, 4)), 2), ValueError, "3-D input")

    return gen


def avg_pool2d_samples(rng):
    S = SampleInput
    yield S("2x2", _r(rng, 2, 3, 6, 4), 2)
    yield S("2x2_cnhw", cnhw(_r(rng, 3, 2, 4, 6)), 2)
    yield S("3x3_s2_pad1", _r(rng, 2, 2, 7, 7), 3, 2, 1)
    yield S("3x3_s2_pad1_nopad_count", _r(rng, 2, 2, 7, 7), 3, 2, 1, count_include_pad=False)
    yield S("ceil", _r(rng, 1, 2, 7, 6), 3, 2, ceil_mode=True)
    yield S("ceil_pad", _r(rng, 1, 2, 6, 7), 2, 2, 1, ceil_mode=True)
    yield S(
        "ceil_pad_nocount", _r(rng, 1, 2, 6, 7), 3, 2, 1, ceil_mode=True, count_include_pad=False
    )
    yield S("nonsquare", _r(rng, 2, 2, 5, 7), (2, 3), (1, 2), (1, 1))
    yield S("divisor_override", _r(rng, 1, 2, 6, 6), 3, 2, 1, divisor_override=5)
    yield S("unbatched", _r(rng, 2, 5, 5), 2, 1)


def avg_pool1d_samples(rng):
    S = SampleInput
    yield S("k2", _r(rng, 2, 3, 8), 2)
    yield S("k3_s2_pad1_nocount", _r(rng, 2, 2, 9), 3, 2, 1, count_include_pad=False)
    yield S("ceil", _r(rng, 1, 2, 10), 3, 2, ceil_mode=True)
    yield S("unbatched", _r(rng, 3, 7), 3)


def lp_pool2d_samples(rng):
    S = SampleInput
    yield S("p2_k2", _pos(rng, 2, 2, 4, 6), 2, 2)
    yield S("p3_k3_s2", _pos(rng, 1, 2, 7, 7), 3, 3, 2)
    yield S("p1_nonsquare", _pos(rng, 1, 2, 5, 6), 1, (2, 3), (1, 2))
    yield S("p2_ceil", _pos(rng, 1, 2, 5, 5), 2.0, 2, 2, ceil_mode=True)


def lp_pool1d_samples(rng):
    S = SampleInput
    yield S("p2_k2", _pos(rng, 2, 2, 6), 2, 2)
    yield S("p3_k3_s1", _pos(rng, 1, 2, 7), 3, 3, 1)


def adaptive_avg2d_samples(rng):
    S = SampleInput
    yield S("global", _r(rng, 2, 3, 5, 6), 1)
    yield S("global_cnhw", cnhw(_r(rng, 3, 2, 4, 4)), (1, 1))
    yield S("overlapping_bins", _r(rng, 2, 2, 5, 7), (2, 3))
    yield S("divisible", _r(rng, 1, 2, 6, 6), 3)
    yield S("none_entry", _r(rng, 1, 2, 5, 4), (2, None))
    yield S("upsample", _r(rng, 1, 2, 3, 2), (5, 3))
    yield S("unbatched", _r(rng, 2, 5, 5), 2)


def adaptive_avg1d_samples(rng):
    S = SampleInput
    yield S("overlap", _r(rng, 2, 3, 7), 3)
    yield S("global", _r(rng, 2, 3, 7), 1)


def adaptive_max2d_samples(rng):
    S = SampleInput
    yield S("global", _r(rng, 2, 3, 5, 6), 1)
    yield S("overlapping_bins", _r(rng, 2, 2, 5, 7), (2, 3))
    yield S("divisible_cnhw", cnhw(_r(rng, 2, 2, 6, 6)), 3)
    yield S("upsample", _r(rng, 1, 2, 3, 2), (5, 3))
    yield S("indices", _r(rng, 1, 2, 5, 7), (3, 4), return_indices=True)
    yield S("unbatched", _r(rng, 2, 5, 5), (2, None))


def adaptive_max1d_samples(rng):
    S = SampleInput
    yield S("overlap", _r(rng, 2, 3, 7), 3)
    yield S("indices", _r(rng, 2, 3, 7), 4, return_indices=True)


def adaptive_errors():
    S = SampleInput
    yield ErrorInput(S("zero_size", np.zeros((1, 1, 4, 4)), 0), ValueError, "positive")
    yield ErrorInput(
        S("bad_size", np.zeros((1, 1, 4, 4)), (1, 2, 3)), ValueError, "output_size must be"
    )


def lp_errors():
    S = SampleInput
    yield ErrorInput(S("norm0", np.ones((1, 1, 4, 4)), 0, 2), ValueError, "norm_type")


OPS = [
    OpInfo(
        "max_pool2d", F.max_pool2d, TF.max_pool2d, max_pool2d_samples, pool_errors("max_pool2d")
    ),
    OpInfo(
        "max_pool1d", F.max_pool1d, TF.max_pool1d, max_pool1d_samples, pool_errors("max_pool1d")
    ),
    OpInfo(
        "avg_pool2d", F.avg_pool2d, TF.avg_pool2d, avg_pool2d_samples, pool_errors("avg_pool2d")
    ),
    OpInfo(
        "avg_pool1d", F.avg_pool1d, TF.avg_pool1d, avg_pool1d_samples, pool_errors("avg_pool1d")
    ),
    OpInfo("lp_pool2d", F.lp_pool2d, TF.lp_pool2d, lp_pool2d_samples, lp_errors),
    OpInfo("lp_pool1d", F.lp_pool1d, TF.lp_pool1d, lp_pool1d_samples),
    OpInfo(
        "adaptive_avg_pool2d",
        F.adaptive_avg_pool2d,
        TF.adaptive_avg_pool2d,
        adaptive_avg2d_samples,
        adaptive_errors,
    ),
    OpInfo(
        "adaptive_avg_pool1d", F.adaptive_avg_pool1d, TF.adaptive_avg_pool1d, adaptive_avg1d_samples
    ),
    OpInfo(
        "adaptive_max_pool2d",
        F.adaptive_max_pool2d,
        TF.adaptive_max_pool2d,
        adaptive_max2d_samples,
        adaptive_errors,
    ),
    OpInfo(
        "adaptive_max_pool1d", F.adaptive_max_pool1d, TF.adaptive_max_pool1d, adaptive_max1d_samples
    ),
]
