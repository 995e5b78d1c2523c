"""Initialisers (``chainrule.nn.init``): fans and gains against PyTorch, the statistics of large
draws against the formulas (and against PyTorch's own draws), orthogonality, reproducibility,
and Linear's default initialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.nn import init

SHAPES = [(3, 5), (4, 3, 5, 5), (2, 6, 3), (7, 1, 1, 1), (16, 8, 2, 3, 3)]


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the empirical CDFs."""
    a, b = np.sort(a.ravel()), np.sort(b.ravel())
    grid = np.concatenate([a, b])
    return float(
        np.max(
            np.abs(
                np.searchsorted(a, grid, "right") / a.size
                - np.searchsorted(b, grid, "right") / b.size
            )
        )
    )


def _ks_critical(n: int, m: int) -> float:
    """The KS statistic two samples from one distribution exceed with probability 1e-4."""
    return math.sqrt(-0.5 * math.log(1e-4 / 2)) * math.sqrt((n + m) / (n * m))


# ---- fans and gains ----
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_fans_match_torch(shape):
    ours = init._fans(cr.zeros(*shape), "test")
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    assert ours == theirs


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(shape \(5,\)\)"):
        init.xavier_uniform_(cr.zeros(5))
    with pytest.raises(ValueError, match="fewer than 2"):
        torch.nn.init.xavier_uniform_(torch.zeros(5))


@pytest.mark.parametrize(
    "name, param",
    [
        ("linear", None),
        ("conv1d", None),
        ("conv2d", None),
        ("conv3d", None),
        ("conv_transpose2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", math.sqrt(5)),
        ("selu", None),
    ],
)
def test_calculate_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param), rel=1e-15
    )


def test_calculate_gain_unknown():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)


# ---- distributions ----
def _std_cases():
    # (name, chainrule call, torch call, expected std, uniform bound or None)
    w = (300, 400)
    fan_in, fan_out = 400, 300
    conv = (64, 32, 3, 3)
    cin, cout = 32 * 9, 64 * 9
    g = math.sqrt(2.0 / (1 + 0.2**2))
    return [
        (
            "uniform",
            lambda t: init.uniform_(t, -0.5, 1.5),
            lambda t: torch.nn.init.uniform_(t, -0.5, 1.5),
            w,
            2 / math.sqrt(12),
            (-0.5, 1.5),
        ),
        (
            "normal",
            lambda t: init.normal_(t, 0.3, 2.0),
            lambda t: torch.nn.init.normal_(t, 0.3, 2.0),
            w,
            2.0,
            None,
        ),
        (
            "xavier_uniform",
            lambda t: init.xavier_uniform_(t, gain=1.5),
            lambda t: torch.nn.init.xavier_uniform_(t, gain=1.5),
            w,
            1.5 * math.sqrt(2 / (fan_in + fan_out)),
            None,
        ),
        (
            "xavier_normal",
            lambda t: init.xavier_normal_(t),
            torch.nn.init.xavier_normal_,
            w,
            math.sqrt(2 / (fan_in + fan_out)),
            None,
        ),
        (
            "kaiming_uniform",
            lambda t: init.kaiming_uniform_(t, a=0.2),
            lambda t: torch.nn.init.kaiming_uniform_(t, a=0.2),
            w,
            g / math.sqrt(fan_in),
            None,
        ),
        (
            "kaiming_normal_relu_out",
            lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
            lambda t: torch.nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
            w,
            math.sqrt(2 / fan_out),
            None,
        ),
        (
            "kaiming_normal_conv",
            lambda t: init.kaiming_normal_(t, nonlinearity="relu"),
            lambda t: torch.nn.init.kaiming_normal_(t, nonlinearity="relu"),
            conv,
            math.sqrt(2 / cin),
            None,
        ),
        (
            "kaiming_uniform_conv_fan_out",
            lambda t: init.kaiming_uniform_(t, mode="fan_out"),
            lambda t: torch.nn.init.kaiming_uniform_(t, mode="fan_out"),
            conv,
            math.sqrt(2 / (1 + 0.0)) / math.sqrt(cout),
            None,
        ),
        (
            "trunc_normal",
            lambda t: init.trunc_normal_(t, 0.0, 1.0, -1.0, 2.0),
            lambda t: torch.nn.init.trunc_normal_(t, 0.0, 1.0, -1.0, 2.0),
            w,
            None,
            (-1.0, 2.0),
        ),
    ]


@pytest.mark.parametrize(
    "name, ours, theirs, shape, std, bounds", _std_cases(), ids=[c[0] for c in _std_cases()]
)
def test_distribution_matches_formula_and_torch(name, ours, theirs, shape, std, bounds):
    t = cr.zeros(*shape)
    out = ours(t)
    assert out is t and t.dtype == np.float32
    a = t.data.astype(np.float64).ravel()
    torch.manual_seed(0)
    b = theirs(torch.zeros(shape, dtype=torch.float64)).numpy().ravel()
    if std is not None:  # the formula; sample std's standard error is ~std/sqrt(2n) < 0.2%
        assert a.std() == pytest.approx(std, rel=0.01)
    if bounds is not None:
        assert bounds[0] <= a.min() and a.max() <= bounds[1]
    assert _ks(a, b) < _ks_critical(a.size, b.size), "not torch's distribution"


def test_trunc_normal_tail_interval_does_not_hang():
    # [5σ, 6σ] holds 3e-7 of the mass: redrawing would loop for ever; the inverse CDF does not
    t = cr.zeros(200, 50, dtype="float64")
    init.trunc_normal_(t, 1.0, 2.0, 11.0, 13.0)
    assert 11.0 <= t.data.min() and t.data.max() <= 13.0
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="more than 2 std"):
        ref = torch.nn.init.trunc_normal_(torch.zeros(200, 50, dtype=torch.float64), 1, 2, 11, 13)
    assert _ks(t.data, ref.numpy()) < _ks_critical(t.data.size, ref.numel())
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(t, a=2.0, b=-2.0)


def test_trunc_normal_and_lecun_normal_variance():
    t = cr.zeros(200, 1000)
    init.lecun_normal_(t)
    std = math.sqrt(1 / 1000)
    assert np.abs(t.data).max() <= 2 * std / 0.87962566103423978 + 1e-7  # truncated at 2σ
    assert t.data.std() == pytest.approx(std, rel=0.01)  # variance 1/fan_in, as Keras


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (8, 2, 3, 3), (5, 5)], ids=str)
def test_orthogonal(shape):
    t = cr.zeros(*shape, dtype="float64")
    init.orthogonal_(t, gain=2.0)
    q = t.data.reshape(shape[0], -1) / 2.0
    rows, cols = q.shape
    gram = q.T @ q if rows >= cols else q @ q.T
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-12)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(cr.zeros(4))


def test_orthogonal_matches_torch_distribution():
    # many 3x3 orthogonal draws: torch's and ours follow the same (Haar, sign-fixed) law
    ours = np.stack([init.orthogonal_(cr.zeros(3, 3, dtype="float64")).data for _ in range(400)])
    torch.manual_seed(0)
    theirs = np.stack(
        [
            torch.nn.init.orthogonal_(torch.zeros(3, 3, dtype=torch.float64)).numpy()
            for _ in range(400)
        ]
    )
    assert _ks(ours, theirs) < _ks_critical(ours.size, theirs.size)


def test_constant_zeros_ones():
    t = cr.zeros(2, 3)
    np.testing.assert_array_equal(init.constant_(t, 0.5).data, np.full((2, 3), 0.5))
    np.testing.assert_array_equal(init.ones_(t).data, np.ones((2, 3)))
    np.testing.assert_array_equal(init.zeros_(t).data, np.zeros((2, 3)))


def test_kaiming_errors():
    with pytest.raises(ValueError, match="kaiming_uniform_: mode 'fan_avg' not supported"):
        init.kaiming_uniform_(cr.zeros(3, 4), mode="fan_avg")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: init.kaiming_normal_(cr.zeros(3)), r"kaiming_normal_: fan in .*\(shape \(3,\)\)"),
        (lambda: init.xavier_uniform_(cr.zeros(3)), r"xavier_uniform_: fan in .* 2 dimensions"),
        (lambda: init.xavier_normal_(cr.zeros(3)), "xavier_normal_: fan in"),
        (lambda: init.lecun_normal_(cr.zeros(3)), "lecun_normal_: fan in"),
        (lambda: init.orthogonal_(cr.zeros(3)), r"orthogonal_: .* got shape \(3,\)"),
        (lambda: init.kaiming_uniform_(cr.zeros(3, 0)), "kaiming_uniform_: .*zero elements"),
        (lambda: init.uniform_(cr.zeros(2), 1.0, 0.0), "uniform_: expected a <= b, got a=1.0"),
        (lambda: init.normal_(cr.zeros(2), std=-1.0), "normal_: std must be >= 0, got -1.0"),
    ],
)
def test_errors_name_the_initialiser(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---- reproducibility ----
def test_manual_seed_reproduces_and_differs():
    cr.manual_seed(7)
    a = init.kaiming_uniform_(cr.zeros(20, 30)).data.copy()
    b = init.normal_(cr.zeros(5)).data.copy()
    cr.manual_seed(7)
    np.testing.assert_array_equal(init.kaiming_uniform_(cr.zeros(20, 30)).data, a)
    np.testing.assert_array_equal(init.normal_(cr.zeros(5)).data, b)
    cr.manual_seed(8)
    assert not np.array_equal(init.kaiming_uniform_(cr.zeros(20, 30)).data, a)


def test_explicit_generator_is_independent_of_the_default():
    g_vals = init.xavier_normal_(cr.zeros(4, 4), generator=cr.Generator(5)).data.copy()
    cr.manual_seed(123)
    state = cr.random.get_rng_state()
    again = init.xavier_normal_(cr.zeros(4, 4), generator=cr.Generator(5)).data
    np.testing.assert_array_equal(again, g_vals)
    assert cr.random.get_rng_state() == state  # the default generator did not move
    g = cr.Generator(5)
    first = init.uniform_(cr.zeros(3), generator=g).data.copy()
    assert not np.array_equal(init.uniform_(cr.zeros(3), generator=g).data, first)


def test_models_are_reproducible_with_manual_seed():
    def build():
        return cr.nn.Sequential(cr.nn.Linear(8, 16), cr.nn.ReLU(), cr.nn.Linear(16, 3))

    cr.manual_seed(0)
    s1 = {k: v.data.copy() for k, v in build().state_dict().items()}
    cr.manual_seed(0)
    s2 = build().state_dict()
    for k in s1:
        np.testing.assert_array_equal(s1[k], s2[k].data)


# ---- Linear's default initialisation ----
def test_linear_default_init_matches_torch():
    fan_in = 300
    ours = cr.nn.Linear(fan_in, 2000)
    torch.manual_seed(0)
    theirs = torch.nn.Linear(fan_in, 2000)
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=√5) = U(−1/√in, 1/√in)
    w = ours.weight.data
    assert ours.weight.dtype == np.float32
    assert -bound <= w.min() and w.max() <= bound
    assert w.max() > 0.999 * bound and w.min() < -0.999 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    tw = theirs.weight.detach().numpy()
    assert _ks(w, tw) < _ks_critical(w.size, tw.size)
    b, tb = ours.bias.data, theirs.bias.detach().numpy()
    assert -bound <= b.min() and b.max() <= bound
    assert _ks(b, tb) < _ks_critical(b.size, tb.size)
