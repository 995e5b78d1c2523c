"""``state_dict`` round trips with PyTorch for whole networks.

The same LeNet-5, a small VGG-style CNN (conv-bn-relu blocks, max pooling, dropout, a linear
head) and an MLP are defined here in both frameworks, with the same layer names. PyTorch's
trained-looking weights (random, with non-trivial batch-norm statistics) load strictly into
chainrule and give the same eval outputs to 1e-5 (float32); chainrule's ``state_dict`` loads
strictly back into PyTorch and gives the same outputs again.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from harness import assert_close


def _lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def _vgg_small(nn):
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(3, 8),
        *block(8, 8),
        nn.MaxPool2d(2),
        *block(8, 16),
        *block(16, 16),
        nn.MaxPool2d(2),
        nn.Dropout2d(0.1),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 32),
        nn.BatchNorm1d(32),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(32, 10),
    )


def _mlp(nn):
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 256),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(256, 128),
        nn.LayerNorm(128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


NETS = {
    "lenet5": (_lenet, (8, 1, 28, 28)),
    "vgg_small": (_vgg_small, (4, 3, 16, 16)),
    "mlp": (_mlp, (8, 1, 28, 28)),
}


def _trained_looking(tnet: torch.nn.Module) -> None:
    """Give torch's net non-default batch-norm statistics and affine parameters."""
    tnet.train()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in tnet.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.num_batches_tracked.fill_(17)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


@pytest.mark.parametrize("name", list(NETS))
def test_pytorch_weights_load_into_chainrule_and_back(name):
    build, shape = NETS[name]
    torch.manual_seed(0)
    tnet = build(torch.nn)
    _trained_looking(tnet)
    net = build(cr.nn)
    assert list(net.state_dict()) == list(tnet.state_dict())

    result = net.load_state_dict({k: v.detach().numpy() for k, v in tnet.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys  # strict

    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    tnet.eval()
    net.eval()
    with torch.no_grad():
        ty = tnet(torch.tensor(x))
    with cr.no_grad():
        y = net(cr.tensor(x))
    assert y.dtype == np.float32
    assert_close(y, ty, np.float32, f"{name} eval output", atol=1e-5, rtol=1e-5)

    # and back: chainrule's state_dict into a fresh torch net, strictly
    tnet2 = build(torch.nn)
    tnet2.load_state_dict(
        {k: torch.from_numpy(np.array(v.numpy())) for k, v in net.state_dict().items()},
        strict=True,
    )
    tnet2.eval()
    with torch.no_grad():
        ty2 = tnet2(torch.tensor(x))
    assert_close(
        y, ty2, np.float32, f"{name} eval output after the round trip", atol=1e-5, rtol=1e-5
    )
    for k, v in tnet2.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), tnet.state_dict()[k].numpy(), err_msg=k)


def test_training_mode_batch_norm_updates_agree_after_loading():
    """After loading, one training-mode forward moves the running statistics identically."""
    torch.manual_seed(0)
    tnet = _vgg_small(torch.nn)
    _trained_looking(tnet)
    net = _vgg_small(cr.nn)
    net.load_state_dict({k: v.detach().numpy() for k, v in tnet.state_dict().items()})
    tnet.train()
    net.train()
    for m, tm in zip(net.modules(), tnet.modules()):
        if isinstance(tm, (torch.nn.Dropout, torch.nn.Dropout2d)):
            m.p = tm.p = 0.0  # no random masks to compare
    x = np.random.default_rng(2).standard_normal((4, 3, 16, 16)).astype(np.float32)
    y = net(cr.tensor(x))
    ty = tnet(torch.tensor(x))
    assert_close(y, ty, np.float32, "train output", atol=1e-4, rtol=1e-4)
    tsd = tnet.state_dict()
    for k, v in net.state_dict().items():
        if "running" in k:
            assert_close(v, tsd[k], np.float32, k)
        if "num_batches_tracked" in k:
            assert int(v.item()) == int(tsd[k]) == 18


def test_mismatched_architecture_is_refused_with_every_problem_listed():
    tnet = _lenet(torch.nn)
    net = _mlp(cr.nn)
    with pytest.raises(RuntimeError, match="Missing key"):
        net.load_state_dict({k: v.numpy() for k, v in tnet.state_dict().items()})
